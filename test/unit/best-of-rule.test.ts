// Best-of-N's rules (src/workflows/best-of.ts), pure: which backend each attempt gets, the budget share, and the
// stated choice: checks passed, then the agent finished, then fewer failed checks, a change before none, smaller
// diff, lower cost, earlier attempt.
import assert from 'node:assert/strict';
import { CodeInput, zeroTokens, type CodeResult } from '../../src/contract.js';
import { attemptBudget, attemptsRefusal, chooseAttempt, plannedAttempts, type FinishedAttempt } from '../../src/workflows/best-of.js';

function attempt(n: number, o: { success?: boolean; agent?: boolean; failed?: number; lines?: number; cost?: number } = {}): FinishedAttempt {
  const checks = Array.from({ length: 2 }, (_, i) => ({ name: `c${i}`, passed: i >= (o.failed ?? 0), exit_code: 0, duration_ms: 1, output_tail: '' }));
  const result: CodeResult = {
    success: o.success ?? true,
    summary: `attempt ${n}`,
    files_changed: [],
    trace: { backend: 'claudecode', tokens: zeroTokens(), cost: o.cost ?? 0.01, duration_ms: 10, tool_calls: [] },
    checks,
  };
  const lines = o.lines ?? 1;
  return { planned: { n, backend: 'claudecode' }, result, agent_finished: o.agent ?? true, stat: { n, tree: 't', files: lines > 0 ? 1 : 0, insertions: lines, deletions: 0 } };
}

describe('best-of-N rules', () => {
  it('plans the attempts with their backends in turn, or none for an ordinary task', () => {
    const req = (input: Record<string, unknown>) => CodeInput.parse({ instruction: 'x', ...input });
    assert.equal(plannedAttempts(req({}), 'codex'), undefined);
    assert.equal(plannedAttempts(req({ attempts: 1 }), 'codex'), undefined);
    assert.deepEqual(plannedAttempts(req({ attempts: 2 }), 'codex'), [{ n: 1, backend: 'codex' }, { n: 2, backend: 'codex' }]);
    assert.deepEqual(plannedAttempts(req({ backends: ['claudecode', 'gemini'] }), 'codex')!.map((p) => p.backend), ['claudecode', 'gemini']);
    assert.deepEqual(plannedAttempts(req({ attempts: 3, backends: ['claudecode', 'gemini'] }), 'codex')!.map((p) => p.backend), ['claudecode', 'gemini', 'claudecode']);
    assert.match(attemptsRefusal(req({ attempts: 1, backends: ['claudecode', 'gemini'] }), 'claudecode') ?? '', /^attempts: 1 is fewer than the 2 backends/);
    assert.match(attemptsRefusal(req({ attempts: 2 }), 'nats') ?? '', /nats session/);
    assert.equal(attemptsRefusal(req({}), 'nats'), undefined);
    assert.throws(() => CodeInput.parse({ instruction: 'x', attempts: 9 }), /attempts/);
  });

  it('gives each attempt an even share of the budget', () => {
    assert.deepEqual(attemptBudget({ max_cost_usd: 0.9, max_tokens: 1000 }, 3), { max_cost_usd: 0.3, max_tokens: 333 });
    assert.equal(attemptBudget(undefined, 3), undefined);
  });

  it('chooses by the stated rule, in its order', () => {
    const pick = (...finished: FinishedAttempt[]) => chooseAttempt(finished).planned.n;
    assert.equal(pick(attempt(1, { success: false, failed: 1, lines: 1 }), attempt(2, { lines: 50 })), 2, 'checks passed first');
    assert.equal(pick(attempt(1, { success: false, agent: false, failed: 0 }), attempt(2, { success: false, failed: 2 })), 2, 'an agent that finished before one that failed');
    assert.equal(pick(attempt(1, { success: false, failed: 2 }), attempt(2, { success: false, failed: 1, lines: 90 })), 2, 'fewer failed checks');
    assert.equal(pick(attempt(1, { lines: 0 }), attempt(2, { lines: 40 })), 2, 'a change before no change');
    assert.equal(pick(attempt(1, { lines: 9 }), attempt(2, { lines: 3 })), 2, 'smaller diff');
    assert.equal(pick(attempt(1, { cost: 0.5 }), attempt(2, { cost: 0.2 })), 2, 'lower cost');
    assert.equal(pick(attempt(1), attempt(2)), 1, 'the earlier attempt');
  });
});
