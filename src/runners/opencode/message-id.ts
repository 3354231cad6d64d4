// Message ids as OpenCode makes them (Identifier.ascending): "msg_" + 12 hex digits of
// (ms timestamp * 0x1000 + counter) mod 2^48 + 14 random base62 characters. Messages sort by id, so the id
// we choose for a prompt ourselves (to send it exactly once) must follow the same scheme.
import { randomBytes } from 'node:crypto';

let lastIdTime = 0;
let idCounter = 0;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export function newMessageId(now = Date.now()): string {
  if (now !== lastIdTime) {
    lastIdTime = now;
    idCounter = 0;
  }
  idCounter += 1;
  const value = (BigInt(now) * 0x1000n + BigInt(idCounter)) & ((1n << 48n) - 1n);
  let random = '';
  for (const byte of randomBytes(14)) random += BASE62[byte % 62];
  return `msg_${value.toString(16).padStart(12, '0')}${random}`;
}
