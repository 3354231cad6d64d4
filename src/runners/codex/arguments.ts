// The command line of one `codex exec` run: JSONL output, the headless flags, and the thread to resume. The
// prompt goes on stdin (the `-` argument), so it is never in the process list and has no length limit.
//
// Headless: Codex must never stop to ask, and its own sandbox must not silently stop the model's commands.
// --dangerously-bypass-approvals-and-sandbox does both ("intended solely for running in environments that are
// externally sandboxed"): our bubblewrap walls (coding.sandbox auto/bwrap) are that environment — the agent
// writes only its workspace and its own CODEX_HOME, and sees no other session, workspace or worker secret.
// Codex's own sandbox does not work here anyway (0.169.0, checked): it runs commands under its own bwrap with a
// `codex-linux-sandbox` helper it links into CODEX_HOME, which it refuses to do under a temporary directory and
// which cannot nest inside our walls; the commands then fail with "bwrap: execvp codex-linux-sandbox" and the
// JSONL shows no command_execution item at all. Without our walls (coding.sandbox none, which the worker
// warns about at start) Codex runs unconfined, as Claude Code and OpenCode then do.

export interface CodexRun {
  /** The thread to continue (`codex exec resume <id>`), or none for a new conversation. */
  threadId?: string;
}

export function codexArgs(run: CodexRun): string[] {
  const args = ['exec'];
  if (run.threadId) args.push('resume', run.threadId);
  // --skip-git-repo-check: the workspace is usually a repository, but an opened plain directory must work too.
  // The model is in the session's config.toml (codex-home.ts), not here: the same for a new thread and a resume.
  args.push('--json', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '-');
  return args;
}
