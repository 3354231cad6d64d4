// What the fake model servers (fake-anthropic.ts, fake-openai.ts) have in common: a script decides each
// turn of the agent conversation, and every request is recorded.

export interface FakeTurn {
  /** Assistant text (sent before the tool call when both are given). */
  text?: string;
  /** A tool call the model makes this turn. */
  tool?: { name: string; input: Record<string, unknown> };
  /** Hold the response open this long (for cancel / timeout tests); close() still ends it. */
  stallMs?: number;
  /** Answer with this HTTP status and the provider's error body instead of a message (e.g. 401). */
  status?: number;
  errorMessage?: string;
}

export interface RecordedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** True for the agent conversation itself (requests that offer tools). */
  isMain: boolean;
}

export type FakeScript = (ctx: { request: any; cwd?: string; turnIndex: number }) => FakeTurn;

export interface FakeModelServer {
  /** Base URL for the provider setting (ANTHROPIC_BASE_URL, or the OpenAI-compatible baseURL with /v1). */
  url: string;
  requests: RecordedRequest[];
  mainRequests(): RecordedRequest[];
  setScript(script: FakeScript): void;
  close(): Promise<void>;
}
