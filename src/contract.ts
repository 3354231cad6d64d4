// The wire contract of a coding session: names other services and the `temporal` CLI rely on,
// and the zod schemas of every tool input and result, in the seed's snake_case JSON.
// Imported by the workflow (so: zod only, no I/O), the activities, the client, the CLI and the MCP server.
// One file on purpose (over 400 lines): the whole contract other languages implement, read in one place.
import { z } from 'zod';

export const WORKFLOW_TYPE = 'codingSession';
export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_TASK_QUEUE = 'station-coding';

export const UPDATES = {
  open: 'open',
  code: 'code',
  branch: 'branch',
  commit: 'commit',
  push: 'push',
  diff: 'diff',
  pr: 'pr',
  check: 'check',
  review: 'review',
  close: 'close',
} as const;
export const QUERY_STATUS = 'status';
export const SIGNAL_CANCEL = 'cancel';
/** The review decision also comes as a signal of this name (the Temporal UI's "send signal"). */
export const SIGNAL_REVIEW = 'review';

/**
 * The `type` of every failure a session reports (an ApplicationFailure's type: `err.cause.type` in TypeScript,
 * `err.cause.type` of `WorkflowUpdateFailedError` in Python, `failure.applicationFailureInfo.type` on the wire).
 * Callers branch on these, never on message text.
 */
export const FAILURE_TYPES = {
  invalid_input: 'A field of the input is wrong; the message names it and says what is accepted. Nothing ran.',
  session_closed: 'The session is closing or closed; open a new one.',
  open_failed: 'The session could not be opened (clone, workspace, credentials); the session workflow failed with this message.',
  budget_exhausted: 'The session spent its max_cost_usd or max_tokens; no further task runs.',
  conflict: 'The request contradicts the session or the repository (another repo_url for a running scope, a branch that exists, a rejected push).',
  not_found: 'Something named does not exist: a branch, a remote, the repository.',
  auth: 'The git host or the model provider refused the credentials.',
  git: 'git failed; the message is its one-line reason.',
  timeout: 'The operation ran past its time limit and was stopped.',
  cancelled: 'The task was cancelled (cancel signal or workflow cancel).',
  binary_missing: 'The backend CLI is not installed on the worker; the message says how to install it.',
  provider: 'The model provider failed (rate limit, overload, bad model name).',
  unavailable: 'An infrastructure failure that was retried max_attempts times (a worker, a server, the network).',
} as const;
export type FailureType = keyof typeof FAILURE_TYPES;

export const BACKENDS = ['claudecode', 'opencode', 'opencode-cli', 'opencode-nats', 'codex', 'gemini', 'qwen', 'copilot', 'nats'] as const;
/** The most attempts one task may have (best-of-N). */
export const MAX_ATTEMPTS = 8;
/** The backends that code on this worker (every one but the NATS backend): what a best-of-N attempt may use. */
export const LOCAL_BACKENDS = ['claudecode', 'opencode', 'opencode-cli', 'codex', 'gemini', 'qwen', 'copilot'] as const;
export const LocalBackend = z.enum(LOCAL_BACKENDS);
export type LocalBackend = z.infer<typeof LocalBackend>;
export const Backend = z.enum(BACKENDS).describe('Coding backend: claudecode, opencode, opencode-cli, codex, gemini, qwen or copilot (on this worker), or nats (coding agents on other machines, each with its own local backend; opencode-nats is the same, by its first name).');
export type Backend = z.infer<typeof Backend>;

export const CleanupPolicy = z
  .enum(['on_session_end', 'on_success', 'manual'])
  .describe(
    'When a managed workspace is deleted: on_session_end (always, when the session ends), ' +
      'on_success (only when the session is closed with success and its last task succeeded), manual (never).',
  );
export type CleanupPolicy = z.infer<typeof CleanupPolicy>;

// ---- validators shared by several schemas ----

/** Why `name` is not a safe git branch name (git check-ref-format rules, plus no leading '-'), or undefined. */
export function invalidBranchReason(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 200) return 'must be at most 200 characters';
  if (name.startsWith('-')) return "must not start with '-' (git would read it as an option)";
  if (name === '@' || name === 'HEAD') return `'${name}' is reserved by git`;
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return 'must not contain spaces, control characters or any of ~ ^ : ? * [ \\';
  if (name.includes('..')) return "must not contain '..'";
  if (name.includes('@{')) return "must not contain '@{'";
  if (name.includes('//')) return "must not contain '//'";
  if (name.startsWith('/') || name.endsWith('/')) return "must not start or end with '/'";
  if (name.endsWith('.') || name.endsWith('.lock')) return "must not end with '.' or '.lock'";
  if (name.split('/').some((part) => part.startsWith('.'))) return "no path component may start with '.'";
  return undefined;
}

/** Why `url` is not an acceptable repository location, or undefined. */
export function invalidRepoUrlReason(url: string): string | undefined {
  if (url.startsWith('-')) return "must not start with '-' (git would read it as an option)";
  if (/[\x00-\x1f\x7f]/.test(url)) return 'must not contain control characters';
  if (url.includes('::')) return "transport syntax '<transport>::<address>' (e.g. ext::) is refused: git would run it as a command";
  if (url.startsWith('/')) return undefined; // a local repository path
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme) {
    if (!['https', 'http', 'ssh', 'git', 'file'].includes(scheme)) {
      return `scheme '${scheme}://' is not supported: use https://, http://, ssh://, git://, file:// or an absolute path`;
    }
    if (scheme === 'http' || scheme === 'https') {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return 'is not a valid URL';
      }
      if (parsed.password || (parsed.username && parsed.username !== 'git')) {
        return 'must not carry credentials: give the token by name in credentials.token_env (or coding.git.token_env in the config)';
      }
    }
    return undefined;
  }
  if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$/.test(url)) return undefined; // scp-like git@host:org/repo.git
  return 'must be an https://, http://, ssh://, git://, file:// URL, git@host:path, or an absolute path';
}

/** Why `p` is not a path relative to the workspace root, or undefined. Symlinks are checked again on the worker. */
export function invalidWorkspaceRelativePathReason(p: string): string | undefined {
  if (p.length === 0) return 'must not be empty';
  if (p.includes('\0')) return 'must not contain NUL';
  if (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p)) return 'must be relative to the workspace root, not absolute';
  if (p.split(/[\\/]/).includes('..')) return "must stay inside the workspace (no '..')";
  return undefined;
}

const refine = (reasonOf: (v: string) => string | undefined) => (value: string, ctx: z.core.$RefinementCtx<string>) => {
  const reason = reasonOf(value);
  if (reason) ctx.addIssue({ code: 'custom', message: reason });
};

export const SessionId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1-128 characters of letters, digits, . _ : - (starting with a letter or digit)')
  .describe('The coding session id, as returned by coding_open.');

export const BranchName = z.string().superRefine(refine(invalidBranchReason));
export const RemoteName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "must be a git remote name (letters, digits, . _ -), not starting with '-'");
const EnvVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name');

// ---- inputs ----

/** The operations a session can make wait for a reviewer's yes (coding_open require_approval). */
export const GatedOperation = z.enum(['push', 'pr']);
export type GatedOperation = z.infer<typeof GatedOperation>;

/** A command that says whether the workspace is good (npm test, pytest -q, go vet ./...). */
export const Check = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,99}$/, 'must be 1-100 letters, digits, spaces or . _ : -')
      .describe('What the check is called in results (e.g. "tests").'),
    run: z.string().min(1).max(4000).describe('The shell command (sh -c) run in the workspace root, inside the agent sandbox, without the worker\'s secrets; exit 0 means passed.'),
    timeout_sec: z.number().int().positive().max(7200).default(600).describe('Seconds before the check is stopped and counted as failed.'),
  })
  .strict();
export type Check = z.output<typeof Check>;

export const Credentials = z
  .object({
    token_env: EnvVarName.optional().describe(
      'Name of an environment variable of the worker that holds the git token for this session. The token itself never travels.',
    ),
  })
  .passthrough()
  .superRefine((value, ctx) => {
    for (const key of Object.keys(value)) {
      if (key === 'token_env') continue;
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message:
          key === 'token'
            ? 'a raw token is not accepted here: set credentials.token_env to the name of an environment variable of the worker'
            : `unknown key '${key}': only token_env is accepted`,
      });
    }
  })
  .transform((value) => ({ token_env: value.token_env as string | undefined }))
  .describe('Git credentials for this session, by reference only.');

export const OpenInput = z
  .object({
    session_id: SessionId.optional().describe(
      'Optional id for the new session; generated when absent. It is the workflow id: a workflow started directly must have none, or this same id.',
    ),
    repo_url: z
      .string()
      .superRefine(refine(invalidRepoUrlReason))
      .optional()
      .describe('Git repository to clone (https, ssh, file URL or absolute path). Without it the workspace starts empty.'),
    branch: BranchName.optional().describe('Branch to check out after cloning (default: the remote default branch).'),
    workspace_path: z
      .string()
      .refine((p) => p.startsWith('/'), 'must be an absolute path')
      .optional()
      .describe(
        'Use this existing git repository as the workspace instead of a managed one. It must be under coding.allowed_workspace_roots (default: the workspace base path) and is never deleted.',
      ),
    init: z.boolean().optional().describe('With workspace_path: run `git init` there if it is not a git repository yet (otherwise such a directory is refused).'),
    title: z.string().max(200).optional().describe('Human-readable title of the session.'),
    scope: z
      .enum(['agent', 'workflow'])
      .default('agent')
      .describe('agent: the session ends when closed or idle; workflow: it persists and is re-attached by scope_id.'),
    scope_id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, 'must be 1-100 characters of letters, digits, . _ : -')
      .optional()
      .describe('Identifier of the workflow scope; coding_open with the same scope_id attaches to the running session.'),
    backend: Backend.optional().describe('Backend for this session (default: coding.backend from the config).'),
    credentials: Credentials.optional(),
    cleanup_policy: CleanupPolicy.optional().describe('Overrides coding.cleanup_policy for this session.'),
    max_cost_usd: z.number().positive().optional().describe('Budget of this session in USD (overrides coding.max_cost_usd).'),
    max_tokens: z.number().int().positive().optional().describe('Token budget of this session (overrides coding.max_tokens).'),
    checks: z.array(Check).max(20).optional().describe('This session\'s checks, instead of the worker\'s (coding.checks).'),
    run_checks: z.boolean().optional().describe('Run the checks after every task unless a task says otherwise (code checks).'),
    require_approval: z
      .array(GatedOperation)
      .optional()
      .describe(
        'Operations that need a reviewer\'s yes first. A gated push answers at once with awaiting_approval: true, the session waits (state awaiting_approval) for a review decision (update or signal review), and the push runs when approved.',
      ),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.scope === 'workflow' && !value.scope_id) {
      ctx.addIssue({ code: 'custom', path: ['scope_id'], message: 'is required when scope is "workflow"' });
    }
    if (value.init && !value.workspace_path) {
      ctx.addIssue({ code: 'custom', path: ['init'], message: 'only applies to workspace_path (a managed workspace is always a repository)' });
    }
    if (value.repo_url && value.workspace_path) {
      ctx.addIssue({ code: 'custom', path: ['workspace_path'], message: 'give either repo_url or workspace_path, not both' });
    }
  });
export type OpenInput = z.input<typeof OpenInput>;
export type OpenRequest = z.output<typeof OpenInput>;

/** What the workflow is started with: the validated open request plus the session id it was given. */
export type SessionStart = OpenRequest & { session_id: string };

export const CodeInput = z
  .object({
    session_id: SessionId.optional(),
    instruction: z.string().trim().min(1, 'must not be empty').max(100_000).describe('What to do, in plain words.'),
    context: z.string().max(100_000).optional().describe('Background the coding agent should know.'),
    files: z
      .array(z.string().superRefine(refine(invalidWorkspaceRelativePathReason)))
      .max(200)
      .optional()
      .describe('Files to focus on, relative to the workspace root.'),
    checks: z.boolean().optional().describe('Run the session\'s checks after the task (default: the session\'s run_checks). A failed check makes the task fail.'),
    fix_rounds: z
      .number()
      .int()
      .min(0)
      .max(10)
      .optional()
      .describe('When a check fails, give the failing output back to the agent, in the same conversation, up to this many times (implies checks). Every round counts against the budget.'),
    attempts: z
      .number()
      .int()
      .min(1)
      .max(MAX_ATTEMPTS)
      .optional()
      .describe(
        'Best-of-N: try the task this many times side by side, each attempt in its own copy of the workspace with a new conversation and the checks after it; the best attempt (checks passed, then fewer failed, then smaller diff, then lower cost) is applied to the workspace, the others are saved as patches. Default: the number of backends, else 1.',
      ),
    backends: z
      .array(LocalBackend)
      .min(1)
      .max(MAX_ATTEMPTS)
      .optional()
      .describe('The local backends of the attempts, in turn (attempt n uses backends[(n-1) % length]); default: the session\'s backend for every attempt.'),
  })
  .strict();
export type CodeInput = z.input<typeof CodeInput>;
export type CodeRequest = z.output<typeof CodeInput>;

export const BranchInput = z
  .object({
    session_id: SessionId.optional(),
    branch: BranchName.describe('Branch to create or switch to.'),
    create: z.boolean().default(false).describe('Create the branch from the current HEAD (fails if it exists).'),
  })
  .strict();
export type BranchInput = z.input<typeof BranchInput>;
export type BranchRequest = z.output<typeof BranchInput>;

export const CommitInput = z
  .object({
    session_id: SessionId.optional(),
    message: z.string().trim().min(1, 'must not be empty').max(20_000).describe('Commit message.'),
    add_all: z.boolean().default(true).describe('Stage every change (new, modified, deleted files) before committing.'),
  })
  .strict();
export type CommitInput = z.input<typeof CommitInput>;
export type CommitRequest = z.output<typeof CommitInput>;

export const PushInput = z
  .object({
    session_id: SessionId.optional(),
    remote: RemoteName.default('origin').describe('Remote to push to.'),
    branch: BranchName.optional().describe('Branch to push (default: the current branch).'),
    set_upstream: z.boolean().default(true).describe('Record the remote branch as upstream (git push -u).'),
  })
  .strict();
export type PushInput = z.input<typeof PushInput>;
export type PushRequest = z.output<typeof PushInput>;

export const ReviewInput = z
  .object({
    session_id: SessionId.optional(),
    decision: z.enum(['approve', 'reject']).describe('approve: the waiting operation runs. reject: it does not; with feedback, the agent works on the feedback, its changes are committed and the operation waits for approval again.'),
    feedback: z.string().min(1).max(20_000).optional().describe('What to change: the agent\'s next task, in the same conversation (with reject).'),
    reviewer: z.string().min(1).max(200).optional().describe('Who decided (a person or a reviewer agent), kept in the review history.'),
  })
  .strict();
export type ReviewInput = z.input<typeof ReviewInput>;
export type ReviewRequest = z.output<typeof ReviewInput>;

export const CheckInput = z
  .object({
    session_id: SessionId.optional(),
    names: z.array(z.string().min(1).max(100)).max(20).optional().describe('Run only these checks (by name); default all.'),
  })
  .strict();
export type CheckInput = z.input<typeof CheckInput>;
export type CheckRequest = z.output<typeof CheckInput>;

/** Largest patch a diff returns (DiffInput.max_bytes): beyond it the patch is cut, with a mark saying so. */
export const DIFF_MAX_BYTES = 1_000_000; // results travel in workflow history, whose payloads stay under 2 MB

export const DiffInput = z
  .object({
    session_id: SessionId.optional(),
    base: z
      .string()
      .superRefine(refine(invalidBranchReason))
      .optional()
      .describe(
        'What to compare with: a branch, tag, remote branch (origin/main) or commit id in the workspace; the diff starts where it and HEAD meet (as git diff base...HEAD). Default: the commit HEAD was at when the session opened.',
      ),
    uncommitted: z.boolean().default(true).describe('Include the changes not committed yet, new files too (.gitignore respected). false: committed changes only.'),
    max_bytes: z
      .number()
      .int()
      .min(1000)
      .max(DIFF_MAX_BYTES)
      .default(200_000)
      .describe('Cap on the patch, in bytes; a longer patch is cut at a line end and ends with a line saying how much was left out.'),
  })
  .strict();
export type DiffInput = z.input<typeof DiffInput>;
export type DiffRequest = z.output<typeof DiffInput>;

export const PrInput = z
  .object({
    session_id: SessionId.optional(),
    title: z.string().trim().min(1).max(250).optional().describe('Title of the pull request (default: the session title, else its first task).'),
    body: z
      .string()
      .max(60_000)
      .optional()
      .describe('Its description (default: written from the session: its tasks, files changed, check results and cost). Every configured secret is cut out either way.'),
    base: z.string().superRefine(refine(invalidBranchReason)).optional().describe('The branch to merge into (default: the branch the session opened on, else the repository’s default branch).'),
    draft: z.boolean().default(false).describe('Open it as a draft (GitHub draft; "Draft:" / "WIP:" title on GitLab and Gitea).'),
  })
  .strict();
export type PrInput = z.input<typeof PrInput>;
export type PrRequest = z.output<typeof PrInput>;

export const CloseInput = z
  .object({
    session_id: SessionId.optional(),
    success: z.boolean().default(true).describe('Whether the work of the session succeeded (drives cleanup_policy on_success).'),
  })
  .strict();
export type CloseInput = z.input<typeof CloseInput>;
export type CloseRequest = z.output<typeof CloseInput>;

// ---- results ----

export const Tokens = z.object({
  input: z.number().int().nonnegative(),
  output: z.number().int().nonnegative(),
  reasoning: z.number().int().nonnegative().describe('Reasoning tokens, where the backend reports them separately (else 0).'),
  cache_read: z.number().int().nonnegative(),
  cache_write: z.number().int().nonnegative(),
});
export type Tokens = z.infer<typeof Tokens>;
export const zeroTokens = (): Tokens => ({ input: 0, output: 0, reasoning: 0, cache_read: 0, cache_write: 0 });
export const addTokens = (a: Tokens, b: Tokens): Tokens => ({
  input: a.input + b.input,
  output: a.output + b.output,
  reasoning: a.reasoning + b.reasoning,
  cache_read: a.cache_read + b.cache_read,
  cache_write: a.cache_write + b.cache_write,
});

export const FileChange = z.object({
  path: z.string(),
  status: z.enum(['added', 'modified', 'deleted', 'renamed']),
  old_path: z.string().optional(),
});
export type FileChange = z.infer<typeof FileChange>;

export const ToolCall = z.object({
  tool: z.string(),
  input: z.unknown().optional(),
  output: z.string().optional(),
  error: z.string().optional().describe('Present when the tool failed: its error output.'),
});
export type ToolCall = z.infer<typeof ToolCall>;

export const OpenResult = z.object({
  session_id: z.string(),
  workspace_path: z.string(),
  repo_cloned: z.boolean(),
  managed: z.boolean(),
  attached: z.boolean().describe('True when coding_open attached to an already running workflow-scope session.'),
  backend: Backend,
  agent_backend: Backend.optional().describe('nats / opencode-nats: the local backend the coding agent holding the workspace codes with (its coding.nats.agent.backend).'),
  branch: z.string().optional(),
});
export type OpenResult = z.infer<typeof OpenResult>;

export const CheckResult = z.object({
  name: z.string(),
  passed: z.boolean(),
  exit_code: z.number().int().nullable().describe('null when it was stopped (timeout, cancel) or could not start.'),
  duration_ms: z.number().int().nonnegative(),
  timed_out: z.boolean().optional(),
  output_tail: z.string().describe('The end of its output (stdout and stderr), secrets redacted.'),
});
export type CheckResult = z.infer<typeof CheckResult>;

export const ChecksResult = z.object({
  passed: z.boolean().describe('Every check passed.'),
  checks: z.array(CheckResult),
});
export type ChecksResult = z.infer<typeof ChecksResult>;

export const AttemptRecord = z.object({
  n: z.number().int().positive(),
  backend: Backend,
  success: z.boolean().describe('The agent finished and every check passed.'),
  error: z.string().optional(),
  checks: z.object({ passed: z.number().int().nonnegative(), failed: z.number().int().nonnegative() }).optional(),
  fix_rounds: z.number().int().nonnegative().optional(),
  files_changed: z.number().int().nonnegative(),
  diff_stat: z.object({ insertions: z.number().int().nonnegative(), deletions: z.number().int().nonnegative() }),
  tokens: Tokens,
  cost: z.number().nonnegative(),
  duration_ms: z.number().int().nonnegative(),
});
export type AttemptRecord = z.infer<typeof AttemptRecord>;

export const CodeResult = z.object({
  success: z.boolean(),
  summary: z.string(),
  error: z.string().optional(),
  files_changed: z.array(FileChange),
  trace: z.object({
    backend: Backend,
    session_id: z.string().optional().describe('The backend’s own session id (Claude Code / OpenCode session).'),
    tokens: Tokens,
    cost: z.number().nonnegative(),
    duration_ms: z.number().int().nonnegative(),
    num_turns: z.number().int().nonnegative().optional(),
    tool_calls: z.array(ToolCall),
  }),
  checks: z.array(CheckResult).optional().describe('The checks after the task (and after the last fix round), when asked for.'),
  fix_rounds: z.number().int().nonnegative().optional().describe('How many times the failing checks went back to the agent.'),
  attempts: z.array(AttemptRecord).optional().describe('Best-of-N: every attempt, in order (the tokens and cost of the task are their sum).'),
  chosen: z.number().int().positive().optional().describe('Best-of-N: the attempt whose changes were applied to the workspace (none when the task was cancelled).'),
  attempts_saved_to: z.string().optional().describe('Best-of-N: the directory on the worker holding every attempt\'s changes as a patch (attempt-<n>.patch).'),
});
export type CodeResult = z.infer<typeof CodeResult>;

export const BranchResult = z.object({
  success: z.boolean(),
  branch: z.string(),
  created: z.boolean(),
  previous_branch: z.string().optional(),
});
export type BranchResult = z.infer<typeof BranchResult>;

export const CommitResult = z.object({
  success: z.boolean(),
  commit_hash: z.string(),
  branch: z.string().optional(),
  files_changed: z.number().int().nonnegative(),
  insertions: z.number().int().nonnegative(),
  deletions: z.number().int().nonnegative(),
});
export type CommitResult = z.infer<typeof CommitResult>;

export const PushResult = z.object({
  success: z.boolean(),
  remote: z.string(),
  branch: z.string(),
  commit_hash: z.string(),
  set_upstream: z.boolean(),
  awaiting_approval: z
    .boolean()
    .optional()
    .describe('Set (with success false) when the session requires approval for push: nothing was pushed yet; commit_hash is what will be pushed once approved (status.awaiting_approval).'),
});
export type PushResult = z.infer<typeof PushResult>;

export const PrResult = z.object({
  url: z.string().optional().describe('The pull request (merge request) page on the forge (absent while awaiting approval).'),
  number: z.number().int().positive().optional().describe('Its number (GitLab: the merge request iid; absent while awaiting approval).'),
  forge: z.enum(['github', 'gitlab', 'gitea']).optional().describe('The forge it is on (absent while awaiting approval).'),
  head: z.string().describe('The session’s branch it merges.'),
  base: z.string().optional().describe('The branch it merges into (absent while awaiting approval with no base given: decided when it is opened).'),
  created: z.boolean().describe('true: opened by this call; false: an open one for the same branches was found and updated (a retry or a second call never opens a second).'),
  awaiting_approval: z
    .boolean()
    .optional()
    .describe('Set (with created false, no url) when the session requires approval for pr: nothing was sent to the forge yet; it is opened once approved (status.awaiting_approval).'),
});
export type PrResult = z.infer<typeof PrResult>;

const SavedTo = z
  .string()
  .describe(
    'Set when the deleted workspace held work no remote had (uncommitted changes, unpushed commits): the directory on the worker host where it was saved, as workspace.bundle (every branch; refs/station/uncommitted for uncommitted changes) and uncommitted.patch.',
  );

export const DiffFile = FileChange.extend({
  insertions: z.number().int().nonnegative(),
  deletions: z.number().int().nonnegative(),
  binary: z.boolean().optional().describe('A binary file: changed, without line counts or patch text.'),
});
export type DiffFile = z.infer<typeof DiffFile>;

export const DiffResult = z.object({
  base: z.string().describe('The commit the diff starts from (where base and HEAD meet), or the empty tree for a repository with no commit before the session.'),
  head: z.string().optional().describe('The commit HEAD is at (absent in a repository with no commit yet).'),
  uncommitted: z.boolean().describe('The working tree was compared (uncommitted changes included), not HEAD.'),
  files: z.array(DiffFile),
  files_changed: z.number().int().nonnegative(),
  insertions: z.number().int().nonnegative(),
  deletions: z.number().int().nonnegative(),
  patch: z.string().describe('The unified diff (git diff), cut at max_bytes; secrets the worker knows are redacted.'),
  truncated: z.boolean().describe('The patch was cut at max_bytes (its last line says so).'),
  patch_bytes: z.number().int().nonnegative().describe('The size of the whole patch, before any cut.'),
});
export type DiffResult = z.infer<typeof DiffResult>;

export const CloseResult = z.object({
  session_id: z.string(),
  success: z.boolean(),
  reason: z
    .enum(['closed', 'idle_timeout', 'cancelled', 'approval_timeout'])
    .describe(
      'closed: by coding_close; idle_timeout: an agent-scope session had no operation for idle_timeout_min; cancelled: the workflow was cancelled; approval_timeout: no review decision came within coding.approval_timeout_hours.',
    ),
  workspace_path: z.string().optional(),
  workspace_deleted: z.boolean(),
  saved_to: SavedTo.optional(),
});
export type CloseResult = z.infer<typeof CloseResult>;

export const ReviewResult = z.object({
  decision: z.enum(['approve', 'reject']),
  push: PushResult.optional().describe('approve: the push that ran.'),
  pr: PrResult.optional().describe('approve: the pull request that was opened or updated.'),
  fix: CodeResult.optional().describe('reject with feedback: the agent\'s task on the feedback.'),
  commit: CommitResult.optional().describe('reject with feedback: the commit of the fix, when it changed files.'),
  awaiting_approval: z.boolean().describe('The operation waits for a decision again (after a fix).'),
});
export type ReviewResult = z.infer<typeof ReviewResult>;

export const AwaitingApproval = z.object({
  operation: GatedOperation,
  requested_at: z.string().describe('When it was asked for (ISO time); coding.approval_timeout_hours counts from here.'),
  round: z.number().int().positive().describe('1 for the first request, +1 after each fix on a rejection.'),
  remote: z.string(),
  branch: z.string().optional(),
  set_upstream: z.boolean(),
  commit_hash: z.string().optional().describe('HEAD when it was asked for: what the push will send.'),
  pr: PrInput.omit({ session_id: true }).optional().describe('For a pull request: what it asked for (title, body, base, draft).'),
  files_changed: z.number().int().nonnegative(),
  insertions: z.number().int().nonnegative(),
  deletions: z.number().int().nonnegative(),
});
export type AwaitingApproval = z.infer<typeof AwaitingApproval>;

export const Review = z.object({
  operation: GatedOperation,
  decision: z.enum(['approve', 'reject']),
  feedback: z.string().optional(),
  reviewer: z.string().optional(),
  at: z.string(),
  round: z.number().int().positive(),
});
export type Review = z.infer<typeof Review>;

export const SessionState = z.enum(['opening', 'open', 'awaiting_approval', 'closing', 'closed', 'failed']);
export type SessionState = z.infer<typeof SessionState>;

export const TaskRef = z.object({
  task: z.number().int().positive().describe('The task number in this session (1, 2, ...): what the cancel signal names.'),
  update_id: z.string().optional().describe('The id of the code update that runs the task.'),
  instruction: z.string(),
});
export type TaskRef = z.infer<typeof TaskRef>;

export const AttemptProgress = z.object({
  n: z.number().int().positive(),
  backend: Backend,
  state: z.enum(['coding', 'checking', 'fixing', 'done', 'failed']),
  checks: z.object({ passed: z.number().int().nonnegative(), failed: z.number().int().nonnegative() }).optional().describe('How its checks last ended.'),
});
export type AttemptProgress = z.infer<typeof AttemptProgress>;

export const TaskRecord = TaskRef.extend({
  success: z.boolean(),
  files_changed: z.number().int().nonnegative(),
  duration_ms: z.number().int().nonnegative(),
  tokens: Tokens,
  cost: z.number().nonnegative(),
  error: z.string().optional(),
  checks: z.object({ passed: z.number().int().nonnegative(), failed: z.number().int().nonnegative() }).optional().describe('How its checks ended.'),
  fix_rounds: z.number().int().nonnegative().optional(),
  attempts: z.number().int().positive().optional().describe('Best-of-N: how many attempts the task had.'),
  chosen: z.number().int().positive().optional().describe('Best-of-N: the attempt applied.'),
});
export type TaskRecord = z.infer<typeof TaskRecord>;

export const SessionStatus = z.object({
  session_id: z.string(),
  title: z.string().optional(),
  backend: Backend.optional(),
  agent_backend: Backend.optional().describe('nats / opencode-nats: the local backend the coding agent holding the workspace codes with.'),
  repo_url: z.string().optional(),
  branch: z.string().optional(),
  workspace_path: z.string().optional(),
  managed: z.boolean().optional(),
  scope: z.enum(['agent', 'workflow']),
  scope_id: z.string().optional(),
  state: SessionState,
  busy: z.string().optional().describe('The operation running now, if any.'),
  running_task: TaskRef.optional().describe('The code task running now, if any.'),
  running_attempts: z.array(AttemptProgress).optional().describe('Best-of-N: the attempts of the running task and where each stands.'),
  waiting_for_slot: z
    .object({ ahead: z.number().int().nonnegative(), limit: z.number().int().positive() })
    .optional()
    .describe(
      'Set while the running task waits for a free task slot on its worker (coding.max_concurrent_tasks): tasks ahead of it there, and the limit. Read from the task’s heartbeat by the station-coding client; the workflow query itself does not carry it.',
    ),
  queued_tasks: z.array(TaskRef).describe('Code tasks waiting for their turn, oldest first.'),
  backend_session_id: z.string().optional(),
  tasks_run: z.number().int().nonnegative(),
  tokens: Tokens,
  cost: z.number().nonnegative(),
  last_error: z.string().optional(),
  saved_to: SavedTo.optional(),
  tasks: z.array(TaskRecord).describe('The most recent tasks, oldest first.'),
  last_checks: z.array(CheckResult).optional().describe('The checks as they last ran (after a task or by check).'),
  awaiting_approval: AwaitingApproval.optional().describe('Set while an operation waits for a review decision (state awaiting_approval), with the stat of what it would send.'),
  reviews: z.array(Review).optional().describe('The review decisions so far, oldest first.'),
  pull_request: PrResult.optional().describe('The pull request coding_pr opened or updated last.'),
  failovers: z
    .array(z.object({ from: z.string(), to: z.string(), at: z.string() }))
    .optional()
    .describe('Times the session moved to another worker because the one holding its workspace was lost (worker ids, ISO time).'),
});
export type SessionStatus = z.infer<typeof SessionStatus>;

export const CancelInput = z
  .object({
    session_id: SessionId.optional(),
    task: z.number().int().positive().optional().describe('The task number to cancel (status: running_task.task, queued_tasks[].task).'),
    update_id: z.string().min(1).max(200).optional().describe('The update id of the code call to cancel.'),
  })
  .strict()
  .describe(
    'Input of the cancel signal. With task or update_id: that task, if it is running or queued (a finished one is left alone). ' +
      'With neither: the task running when the signal arrives, else the oldest queued one; never a task that starts later.',
  );
export type CancelInput = z.input<typeof CancelInput>;

/** What a session may still spend; a task is stopped when it crosses it. */
export interface Budget {
  max_cost_usd?: number;
  max_tokens?: number;
}

/** Tokens that count against max_tokens: everything the model read and wrote. */
export const countedTokens = (t: Tokens): number => t.input + t.output + t.reasoning + t.cache_read + t.cache_write;

/** Heartbeat details of a running `code` activity; the client reads them for --tail. */
export interface TaskProgress {
  /** Count of events seen so far; `events` holds the latest few, ending with event number `seq`. */
  seq: number;
  events: ProgressEvent[];
  /** Where the task stands, so that a retried attempt continues it instead of starting over. */
  checkpoint?: TaskCheckpoint;
  /** Set while the task waits for a free task slot on its worker (coding.max_concurrent_tasks). */
  waiting?: { ahead: number; limit: number };
  /** Best-of-N: the attempt this task is. */
  attempt?: number;
}

/** A running task's baseline and spending, carried in its heartbeat to the next attempt. */
export interface TaskCheckpoint {
  /** The working tree before the task (a git tree id): what files_changed is counted against. */
  baseline?: string;
  /** What the earlier attempts of this task spent. */
  tokens?: Tokens;
  cost?: number;
  /** The backend's conversation the attempt ran in: the retry continues it instead of starting a new one. */
  backend_session_id?: string;
}
export interface ProgressEvent {
  kind: 'tool_call' | 'tool_result' | 'text';
  tool?: string;
  text: string;
}

/** One line naming every problem of a zod error, each with its field path: for update validators and the CLI. */
export function describeZodError(error: z.ZodError, root = ''): string {
  return error.issues
    .map((issue) => {
      const path = [root, ...issue.path.map(String)].filter(Boolean).join('.');
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => `${[path, k].filter(Boolean).join('.')}: unknown field`).join('; ');
      }
      return `${path || '(input)'}: ${issue.message}`;
    })
    .join('; ');
}

/** Parse `value` with `schema` or throw an Error whose message names each bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidInputError(`invalid ${what}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
}
