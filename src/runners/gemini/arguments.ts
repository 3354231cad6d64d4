// The command line of one headless `gemini` run. The prompt goes on stdin (`-p ''` switches to headless mode and
// the CLI appends stdin to it): no argv length limit, and the prompt is not in the process list.
//
// Approval: `--approval-mode yolo` approves every tool call, because in headless mode nobody could answer a prompt.
// That is safe only because the process runs inside our bubblewrap walls (PID namespace, read-only root, only the
// workspace and the session's own HOME writable, the worker's secrets hidden): yolo lets the agent do what its
// walls allow, no more. `--skip-trust` trusts the workspace for this run: an untrusted folder silently downgrades
// yolo to the default mode (0.61.0: "Approval mode overridden to default because the current folder is not
// trusted"), and the settings file turns folder trust off too, but a user's `coding.gemini.config` may turn it on.
import type { SessionMode } from './session-store.js';

export function geminiArgs(model: string | undefined, session: SessionMode): string[] {
  const args = ['-p', '', '--output-format', 'stream-json', '--approval-mode', 'yolo', '--skip-trust'];
  if (model) args.push('--model', model);
  args.push(session.flag, session.id);
  return args;
}
