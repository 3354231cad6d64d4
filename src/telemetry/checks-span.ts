// The span of one run of a session's checks (`checks.run`), with a child span per check (`check.<name>`) that
// says whether it passed: a trace shows what a task's fix rounds and a best-of-N attempt's checks cost. With
// tracing off the tracer is a no-op.
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { CheckResult } from '../contract.js';
import { inSpan } from './task-span.js';

const tracer = trace.getTracer('station-coding');

export async function tracedChecks(attributes: { session_id: string; workspace: string }, run: () => Promise<CheckResult[]>): Promise<CheckResult[]> {
  return inSpan('checks.run', attributes, async (span) => {
    const started = Date.now();
    const results = await run();
    if (!span.isRecording()) return results;
    const failed = results.filter((c) => !c.passed).length;
    span.setAttributes({ 'checks.passed': results.length - failed, 'checks.failed': failed });
    if (failed > 0) span.setStatus({ code: SpanStatusCode.ERROR, message: `${failed} of ${results.length} checks failed` });
    // The checks ran one after the other: each starts where the one before ended.
    const parent = trace.setSpan(context.active(), span);
    let at = started;
    for (const check of results) {
      const attributes = { 'check.name': check.name, 'check.passed': check.passed, 'check.exit_code': check.exit_code ?? -1, 'check.timed_out': check.timed_out ?? false };
      const child = tracer.startSpan(`check.${check.name}`, { startTime: at, attributes }, parent);
      if (!check.passed) child.setStatus({ code: SpanStatusCode.ERROR, message: check.timed_out ? 'timed out' : `exit ${check.exit_code ?? 'none'}` });
      at += check.duration_ms;
      child.end(at);
    }
    return results;
  });
}
