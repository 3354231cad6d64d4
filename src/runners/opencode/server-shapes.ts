// Minimal shapes of what we read from an OpenCode server (the SDK's unions are large and change between
// versions), and the session an event is about.
import type { OpenCodeError } from '../opencode-shared/errors.js';
import type { OpenCodeTokenInfo, OpenCodeToolState } from '../opencode-shared/parts.js';

export interface OcEvent {
  type: string;
  properties?: any;
}
export interface OcMessageInfo {
  id: string;
  sessionID?: string;
  role: 'user' | 'assistant' | string;
  parentID?: string;
  time?: { created?: number; completed?: number };
  error?: OpenCodeError;
  tokens?: OpenCodeTokenInfo;
  cost?: number;
  finish?: string;
}
export interface OcPart {
  id: string;
  sessionID?: string;
  messageID?: string;
  type: string;
  text?: string;
  synthetic?: boolean;
  ignored?: boolean;
  time?: { start?: number; end?: number };
  tool?: string;
  state?: OpenCodeToolState;
  tokens?: OpenCodeTokenInfo;
  cost?: number;
}
export interface OcMessage {
  info: OcMessageInfo;
  parts: OcPart[];
}

/** The session an event is about, if any. */
export function sessionOf(event: OcEvent): string | undefined {
  const p = event.properties;
  if (!p || typeof p !== 'object') return undefined;
  if (typeof p.sessionID === 'string') return p.sessionID;
  if (p.part && typeof p.part.sessionID === 'string') return p.part.sessionID;
  if (p.info && typeof p.info.sessionID === 'string') return p.info.sessionID;
  return undefined;
}
