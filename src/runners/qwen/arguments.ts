// The command line of one headless `qwen` run (Qwen Code 0.24.4). The prompt goes on stdin (`-p ''` switches to
// headless mode and the CLI appends stdin to it): no argv length limit, and the prompt is not in the process list.
//
// Approval: `--approval-mode yolo` approves every tool call, because in headless mode nobody could answer a prompt.
// Qwen warns that yolo runs tools "at this process's privilege level": that is why the process runs inside our
// bubblewrap walls (PID namespace, read-only root, only the workspace and the session's own HOME writable, the
// worker's secrets hidden); yolo lets the agent do what its walls allow, no more.
import type { Conversation } from './home.js';

export function qwenArgs(model: string | undefined, conversation: Conversation): string[] {
  const args = ['-p', '', '--output-format', 'stream-json', '--approval-mode', 'yolo'];
  if (model) args.push('--model', model);
  args.push(conversation.flag, conversation.id);
  return args;
}
