// The calls one task makes on its OpenCode session: sending the prompt exactly once (if sending fails, the
// session's messages are listed to see whether our message id was taken before sending again), looking
// at the turn, reading its messages, aborting it and rejecting permission asks nobody can answer.
import { setTimeout as sleep } from 'node:timers/promises';
import type { OpencodeClient } from '@opencode-ai/sdk/v2';
import type { OpenCodeModelRef } from '../opencode-shared/config.js';
import { CALL_TIMEOUT_MS, call, errorText, httpError, recentMessages, unavailable } from './http.js';
import type { OcMessage } from './server-shapes.js';

const SEND_ATTEMPTS = 3;

export class OpenCodeSession {
  constructor(
    private readonly client: OpencodeClient,
    private readonly url: string,
    private readonly directory: string,
    readonly id: string,
  ) {}

  /** Send the prompt under `messageId`, exactly once. */
  async send(messageId: string, prompt: string, model: OpenCodeModelRef | undefined): Promise<void> {
    const { client, url, directory } = this;
    let lastFailure = '';
    for (let attempt = 1; attempt <= SEND_ATTEMPTS; attempt++) {
      if (attempt > 1) {
        // Did the server take it after all (the response was lost, or a 5xx after accepting)?
        if (await this.promptTaken(messageId)) return;
        await sleep(500 * 2 ** (attempt - 2));
        if (await this.promptTaken(messageId)) return;
      }
      const response = await client.session
        .promptAsync(
          { sessionID: this.id, directory, messageID: messageId, ...(model ? { model } : {}), parts: [{ type: 'text', text: prompt }] },
          { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
        )
        .catch((error: unknown) => ({ error, response: undefined, data: undefined }));
      const status = response.response?.status;
      if (status !== undefined && status >= 200 && status < 300) return;
      if (status === undefined) {
        lastFailure = `network error: ${errorText(response.error)}`;
        continue;
      }
      if (status >= 500) {
        lastFailure = `HTTP ${status}: ${errorText(response.error)}`;
        continue;
      }
      throw httpError(url, `send prompt to session ${this.id}`, status, response.error);
    }
    // One last look before giving up: an accepted prompt must not be reported as not sent.
    if (await this.promptTaken(messageId)) return;
    throw unavailable(url, `sending the prompt failed ${SEND_ATTEMPTS} times (${lastFailure}); it was not taken`);
  }

  private async promptTaken(messageId: string): Promise<boolean> {
    const messages = await recentMessages(this.client, this.url, this.directory, this.id, messageId, CALL_TIMEOUT_MS);
    return messages.some((m) => m.info?.id === messageId);
  }

  /** Polled check: the session is not busy and our turn has a completed reply (or an error). */
  async turnIsOver(messageId: string): Promise<boolean> {
    const { client, url, directory } = this;
    if (await this.busy()) return false;
    // Only the newest messages matter: once the session is idle, the last reply of our turn is the last one.
    const messages = await recentMessages(client, url, directory, this.id, undefined, CALL_TIMEOUT_MS, 5);
    const replies = messages.filter((m) => m.info?.role === 'assistant' && m.info.parentID === messageId);
    const last = replies[replies.length - 1];
    return Boolean(last && (last.info.time?.completed || last.info.error));
  }

  /** The messages of the turn; after a stop, whatever can be read quickly (or none). */
  async turnMessages(messageId: string, bestEffort: boolean): Promise<OcMessage[]> {
    try {
      return await recentMessages(this.client, this.url, this.directory, this.id, messageId, bestEffort ? 5_000 : CALL_TIMEOUT_MS);
    } catch (error) {
      if (bestEffort) return [];
      throw error;
    }
  }

  /**
   * A turn still running when a task starts was left by an attempt whose worker died (a coding session runs one
   * task at a time): it is stopped first, so the new prompt is not queued behind it or mistaken for it.
   */
  async stopLeftoverTurn(): Promise<void> {
    if (!(await this.busy())) return;
    await this.abort();
    for (let i = 0; i < 100 && (await this.busy()); i++) await sleep(100);
  }

  /** Whether the server says the session is running a turn (busy or retrying). */
  private async busy(): Promise<boolean> {
    const statuses = (await call(this.url, 'session status', () =>
      this.client.session.status({ directory: this.directory }, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) }),
    )) as Record<string, { type?: string }> | undefined;
    return (statuses?.[this.id]?.type ?? 'idle') !== 'idle';
  }

  async abort(): Promise<void> {
    try {
      await this.client.session.abort({ sessionID: this.id, directory: this.directory }, { signal: AbortSignal.timeout(5_000) });
    } catch {
      // best effort: the task ends anyway
    }
  }

  rejectPermission(requestID: string): void {
    void this.client.permission
      .reply(
        {
          requestID,
          directory: this.directory,
          reply: 'reject',
          message: 'permission asks cannot be answered in a non-interactive coding session',
        },
        { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
      )
      .catch(() => undefined);
  }
}
