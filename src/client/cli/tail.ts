// --tail: the backend's progress while a task runs, on stderr (stdout keeps the result). One line per event for a
// person, or one JSON object per line with --json.
import type { ProgressEvent } from '../../contract.js';

export function tailPrinter(human: boolean): (event: ProgressEvent) => void {
  return (event) => {
    if (!human) return console.error(JSON.stringify({ progress: event }));
    // The event text already names the tool ("Write: src/app.ts").
    const label = event.kind === 'tool_call' ? '→' : event.kind === 'tool_result' ? '←' : '·';
    console.error(`  ${label} ${event.text}`);
  };
}
