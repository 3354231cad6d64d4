// The failures a session reports: ApplicationFailures whose type is one of the contract's FAILURE_TYPES, so every
// client (any language) can branch on the type. Workflow-safe.
import { ActivityFailure, ApplicationFailure, CancelledFailure, TimeoutFailure } from '@temporalio/workflow';
import { describeZodError, type FailureType, type TaskCheckpoint, type TaskProgress } from '../contract.js';
import type { z } from 'zod';

/** A failure every client can branch on: an ApplicationFailure with one of the contract's types. */
export function failure(message: string, type: FailureType): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}

/** Parse with a contract schema, or fail with invalid_input naming every bad field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw failure(`invalid ${what}: ${describeZodError(parsed.error)}`, 'invalid_input');
  return parsed.data;
}

/** Update handlers fail with an ApplicationFailure carrying the real cause and its type, never the workflow. */
export function operationFailure(err: unknown): ApplicationFailure {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return ApplicationFailure.nonRetryable(cause.message, cause.type ?? 'unavailable');
  if (cause instanceof Error && cause.name === 'TimeoutFailure') return failure(`${cause.message}: the worker holding the workspace did not answer`, 'timeout');
  const message = cause instanceof Error ? cause.message : String(cause);
  return failure(message, 'unavailable');
}

/** What a failed or cancelled code task spent: the checkpoint its activity sent with the failure or last heartbeat. */
export function spentBy(err: unknown): TaskCheckpoint | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof TimeoutFailure) return (cause.lastHeartbeatDetails as TaskProgress | undefined)?.checkpoint;
  if (cause instanceof ApplicationFailure || cause instanceof CancelledFailure) return cause.details?.[0] as TaskCheckpoint | undefined;
  return undefined;
}
