// The agent's text as runners pass it on: the final answer of a run, and terminal colour codes cut out.

/** The text of the last message that said something (the agent's final answer), its blocks joined. */
export function lastMessageText(texts: { messageId: string; text: string }[]): string {
  if (texts.length === 0) return '';
  const lastId = texts[texts.length - 1]!.messageId;
  return texts
    .filter((t) => t.messageId === lastId)
    .map((t) => t.text.trim())
    .join('\n\n');
}

export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}
