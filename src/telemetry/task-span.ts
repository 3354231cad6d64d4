// The backend's span of one coding task (`claudecode.task`, `opencode.task`, `opencode.cli.task`, `gemini.task`, `qwen.task`, `copilot.task`) with a child
// span per tool call (`claudecode.tool.Write`), timed from the backend's own event stream. With tracing off the
// tracer is a no-op and none of this costs anything measurable.
import { SpanStatusCode, context, isSpanContextValid, trace, type Span } from '@opentelemetry/api';
import type { Backend as BackendName, ProgressEvent, Tokens, ToolCall } from '../contract.js';
import type { ProgressSink } from '../core/runner.js';

const tracer = trace.getTracer('station-coding');

const SPAN_PREFIX: Record<BackendName, string> = {
  claudecode: 'claudecode',
  opencode: 'opencode',
  'opencode-cli': 'opencode.cli',
  'opencode-nats': 'opencode.nats',
  nats: 'nats',
  codex: 'codex',
  gemini: 'gemini',
  qwen: 'qwen',
  copilot: 'copilot',
};

interface ToolTiming {
  tool: string;
  start: number;
  end?: number;
}

export interface TaskSpan {
  /** Wraps the progress sink to time tool calls as the backend reports them. */
  progress(sink: ProgressSink): ProgressSink;
  /** W3C traceparent of the task span, for the backend's child process (TRACEPARENT), when tracing is on. */
  traceparent?: string;
}

export interface TaskFigures {
  success: boolean;
  error?: string;
  backend_session_id?: string;
  tokens: Tokens;
  cost: number;
  /** backend, pricing (computed from coding.pricing) or unpriced; unset means backend. */
  cost_source?: string;
  tool_calls: ToolCall[];
}

export async function traced<T extends TaskFigures>(
  backend: BackendName,
  attributes: { session_id: string; workspace: string },
  run: (span: TaskSpan) => Promise<T>,
): Promise<T> {
  const prefix = SPAN_PREFIX[backend];
  return inSpan(`${prefix}.task`, attributes, async (span) => {
    const timings: ToolTiming[] = [];
    const taskSpan: TaskSpan = {
      progress: (sink) => (event: ProgressEvent) => {
        recordTiming(timings, event);
        sink(event);
      },
      traceparent: traceparentOf(span),
    };
    const outcome = await run(taskSpan);
    finish(span, prefix, outcome, timings);
    return outcome;
  });
}

/** Run `run` in a new active span, ended when it settles; an exception is recorded on it as its error. */
export function inSpan<T>(name: string, attributes: Record<string, string>, run: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await run(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message.slice(0, 500) });
      throw err;
    } finally {
      span.end();
    }
  });
}

function recordTiming(timings: ToolTiming[], event: ProgressEvent): void {
  if (event.kind === 'tool_call') timings.push({ tool: event.tool ?? 'unknown', start: Date.now() });
  if (event.kind === 'tool_result') {
    const open = timings.find((t) => t.end === undefined && t.tool === (event.tool ?? 'unknown'));
    if (open) open.end = Date.now();
  }
}

function finish(span: Span, prefix: string, outcome: TaskFigures, timings: ToolTiming[]): void {
  if (!span.isRecording()) return;
  span.setAttributes({
    backend_session_id: outcome.backend_session_id ?? '',
    cost: outcome.cost,
    'cost.source': outcome.cost_source ?? 'backend',
    'tokens.input': outcome.tokens.input,
    'tokens.output': outcome.tokens.output,
    'tokens.reasoning': outcome.tokens.reasoning,
    'tokens.cache_read': outcome.tokens.cache_read,
    'tokens.cache_write': outcome.tokens.cache_write,
    tool_calls: outcome.tool_calls.length,
    success: outcome.success,
  });
  if (!outcome.success) span.setStatus({ code: SpanStatusCode.ERROR, message: (outcome.error ?? 'failed').slice(0, 500) });
  const parent = trace.setSpan(context.active(), span);
  const now = Date.now();
  const unused = [...timings];
  for (const call of outcome.tool_calls) {
    const index = unused.findIndex((t) => t.tool === call.tool);
    const timing = index >= 0 ? unused.splice(index, 1)[0] : undefined;
    const child = tracer.startSpan(`${prefix}.tool.${call.tool}`, { startTime: timing?.start ?? now, attributes: { 'tool.name': call.tool } }, parent);
    if (call.error !== undefined) child.setStatus({ code: SpanStatusCode.ERROR, message: call.error.slice(0, 500) });
    child.end(timing?.end ?? timing?.start ?? now);
  }
}

function traceparentOf(span: Span): string | undefined {
  const ctx = span.spanContext();
  if (!isSpanContextValid(ctx)) return undefined;
  return `00-${ctx.traceId}-${ctx.spanId}-0${(ctx.traceFlags & 1).toString(16)}`;
}
