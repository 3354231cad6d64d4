// The command line of one headless `copilot` run (GitHub Copilot CLI 1.0.102). The prompt goes on stdin (the CLI
// reads a piped prompt in non-interactive mode): no argv length limit, and the prompt is not in the process list.
//
// `--allow-all-tools` is required headless (nobody could answer a permission prompt) and `--no-ask-user` keeps the
// agent from stopping to ask a question. Both are safe only because the process runs inside our bubblewrap walls
// (own PID namespace, read-only root, only the workspace and the session's own HOME writable, the worker's secrets
// hidden): the agent can do what its walls allow, no more. `--secret-env-vars` names the child's own keys, which
// the CLI strips from its shell tool's environment and redacts from its output, so the agent's shell does not see
// even the key the CLI itself needs.
export function copilotArgs(model: string | undefined, conversationId: string, secretNames: string[]): string[] {
  const args = ['--output-format', 'json', '--allow-all-tools', '--no-ask-user', '--session-id', conversationId];
  if (model) args.push('--model', model);
  if (secretNames.length > 0) args.push(`--secret-env-vars=${secretNames.join(',')}`);
  return args;
}
