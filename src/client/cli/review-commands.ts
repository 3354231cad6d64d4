// The approval gate at the command line: `approve` and `reject` send the review decision (update `review`) and
// print what it caused; `wait` is the bounded wait for a session to settle (or to reach a state), so that nobody
// holds a call open for the days a review may take.
import type { Command } from 'commander';
import { ReviewInput, SessionId, SessionState, type SessionStatus } from '../../contract.js';
import { resultLine } from '../views/result-lines.js';
import { statusView } from '../views/status-view.js';
import { Terminal } from '../views/terminal.js';
import { prepare, withConnection, type Finish } from './context.js';
import { UsageError } from './errors.js';
import { described, positiveInteger } from './options.js';

/** A session is settled when nothing runs or waits in its line. */
const settled = (s: SessionStatus, ended: boolean) => ended || (!s.busy && !s.running_task && s.queued_tasks.length === 0 && s.state !== 'opening' && s.state !== 'closing');

export function addReviewCommands(program: Command, finish: Finish): void {
  for (const decision of ['approve', 'reject'] as const) {
    const command = program
      .command(decision)
      .description(
        decision === 'approve'
          ? 'Approve the operation the session awaits approval for (update review); prints what ran (the push).'
          : 'Reject the operation the session awaits approval for (update review); with --feedback the agent works on it, the fix is committed and the operation waits again.',
      )
      .argument('<session_id>', described(SessionId));
    if (decision === 'reject') command.option('--feedback <text>', described(ReviewInput.shape.feedback));
    command
      .option('--reviewer <name>', described(ReviewInput.shape.reviewer))
      .action(async (sessionId: string, options: { feedback?: string; reviewer?: string }, command: Command) => {
        const prepared = await prepare(command);
        const input = { session_id: sessionId, decision, feedback: options.feedback, reviewer: options.reviewer };
        const result = await withConnection(prepared, ({ client }) => client.review(input));
        const term = prepared.globals.json ? undefined : Terminal.of(process.stdout);
        console.log(term ? resultLine.review(result, term) : JSON.stringify(result, null, 2));
        finish(0);
      });
  }

  program
    .command('wait')
    .description('Wait until the session settles (nothing running or queued), or with --for until it is in that state; prints its status. Exit 1 at --timeout.')
    .argument('<session_id>', described(SessionId))
    .option('--for <state>', `A state to wait for: ${SessionState.options.join(', ')}.`)
    .option('--timeout <sec>', 'Give up after this many seconds (default 600).')
    .action(async (sessionId: string, options: { for?: string; timeout?: string }, command: Command) => {
      const target = options.for;
      if (target !== undefined && !SessionState.options.includes(target as never)) throw new UsageError(`--for must be one of ${SessionState.options.join(', ')} (got ${JSON.stringify(target)})`);
      const timeoutSec = positiveInteger(options.timeout, '--timeout', 'a number of seconds') ?? 600;
      const prepared = await prepare(command);
      const reached = target ? (s: SessionStatus) => s.state === target : settled;
      const status = await withConnection(prepared, ({ client }) => client.waitFor(sessionId, reached, timeoutSec * 1000));
      if (!status) {
        console.error(`station-coding: session ${sessionId} did not ${target ? `reach ${target}` : 'settle'} within ${timeoutSec}s (--timeout)`);
        finish(1);
        return;
      }
      const term = prepared.globals.json ? undefined : Terminal.of(process.stdout);
      console.log(term ? statusView(status, term) : JSON.stringify(status, null, 2));
      finish(0);
    });
}
