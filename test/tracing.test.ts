// One trace per task: from the client call through the workflow and the activity into the backend, with a
// span per tool call, exported to an in-memory exporter. Real Temporal, real claude, fake model.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { getWorld, startVariantWorker, type VariantWorker, type World } from './support/world.js';
import { waitFor } from './support/helpers.js';
import { defaultScript } from './support/fake-anthropic.js';

describe('tracing', function () {
  let w: World;
  let variant: VariantWorker;
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  const provider = new BasicTracerProvider();
  provider.addSpanProcessor(processor);

  before(async () => {
    w = await getWorld();
    provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
    variant = await startVariantWorker(w, {}, { tracing: { spanProcessor: processor, resource: new Resource({ 'service.name': 'station-coding-test' }) } });
  });
  after(async () => {
    await variant.stop();
    await provider.shutdown();
    trace.disable();
    context.disable();
  });

  it('a task is one trace: client, workflow, activity, backend task and tool spans, with figures', async () => {
    const url = await w.git.createRepo('traced');
    w.claude.setScript(defaultScript({ file: 'traced.txt', content: 't\n', command: 'echo "$TRACEPARENT" > traceparent.txt', finalText: 'Traced.' }));
    const tracer = trace.getTracer('test');
    let traceId = '';
    let workspace = '';
    await tracer.startActiveSpan('test.run', async (root) => {
      traceId = root.spanContext().traceId;
      const opened = await variant.client.open({ repo_url: url, cleanup_policy: 'manual', checks: [{ name: 'probe', run: 'test -f traced.txt' }] });
      workspace = opened.workspace_path;
      const result = await variant.client.code({ session_id: opened.session_id, instruction: 'Trace me', checks: true });
      assert.equal(result.success, true, result.error);
      await variant.client.close({ session_id: opened.session_id });
      root.end();
    });

    const spans = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    await waitFor('the task span and its ancestors', () => chainOf(spans(), 'claudecode.task').at(-1)?.name === 'test.run', 15_000);
    const all = spans();
    const task = all.find((s) => s.name === 'claudecode.task')!;
    const chain = chainOf(all, 'claudecode.task').map((s) => s.name);
    assert.deepEqual(chain, ['claudecode.task', 'RunActivity:runCode', 'StartActivity:runCode', 'HandleUpdate:code', 'StartWorkflowUpdate:code', 'test.run']);
    // coding_open is one update-with-start: the start and the open update share its span.
    assert.ok(all.some((s) => s.name === 'UpdateWithStartWorkflow:open') && all.some((s) => s.name === 'RunWorkflow:codingSession'));

    const a = task.attributes;
    assert.equal(a.session_id !== undefined && a.workspace, workspace);
    assert.ok(typeof a.backend_session_id === 'string' && a.backend_session_id.length > 0);
    assert.ok((a.cost as number) > 0 && (a['tokens.input'] as number) > 0 && (a['tokens.output'] as number) > 0);
    assert.ok((a['tokens.cache_read'] as number) > 0 && (a['tokens.cache_write'] as number) > 0);
    assert.equal(a.tool_calls, 2);
    const tools = all.filter((s) => s.parentSpanId === task.spanContext().spanId);
    assert.deepEqual(tools.map((s) => s.name).sort(), ['claudecode.tool.Bash', 'claudecode.tool.Write']);
    assert.deepEqual(tools.map((s) => s.attributes['tool.name']).sort(), ['Bash', 'Write']);
    const serialized = JSON.stringify(all.map((s) => s.attributes));
    assert.ok(!serialized.includes(w.token), 'no secret in span attributes');

    // The task's checks: their own span under the checks activity, a child per check that says how it ended.
    assert.deepEqual(chainOf(all, 'checks.run').map((s) => s.name).slice(0, 3), ['checks.run', 'RunActivity:runChecks', 'StartActivity:runChecks']);
    const checks = all.find((s) => s.name === 'checks.run')!;
    assert.deepEqual([checks.attributes['checks.passed'], checks.attributes['checks.failed']], [1, 0]);
    const probe = all.find((s) => s.name === 'check.probe')!;
    assert.equal(probe.parentSpanId, checks.spanContext().spanId);
    assert.deepEqual([probe.attributes['check.passed'], probe.attributes['check.exit_code']], [true, 0]);

    const traceparent = readFileSync(join(workspace, 'traceparent.txt'), 'utf8').trim();
    assert.equal(traceparent, `00-${traceId}-${task.spanContext().spanId}-01`, 'the backend process got the task span as TRACEPARENT');
  });
});

/** The span named `name` and its ancestors, nearest first. */
function chainOf(spans: ReadableSpan[], name: string): ReadableSpan[] {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const chain: ReadableSpan[] = [];
  let current = spans.find((s) => s.name === name);
  while (current) {
    chain.push(current);
    current = current.parentSpanId ? byId.get(current.parentSpanId) : undefined;
  }
  return chain;
}
