// The environment of a Qwen Code child (nothing of the worker's beyond the basics and what configures Qwen Code),
// and the secrets in it that are cut out of every message we pass on.
import { baseChildEnv } from '../../process/spawn.js';
import { cutSecrets } from '../child-secrets.js';

export function childEnv(home: string, model: string | undefined, extra: Record<string, string> | undefined): Record<string, string> {
  const env = baseChildEnv({ HOME: home });
  // The worker's own provider settings (OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL, DASHSCOPE_API_KEY, ...).
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && /^(OPENAI|QWEN|DASHSCOPE)_/.test(key)) env[key] = value;
  }
  Object.assign(env, extra ?? {});
  // Headless, the CLI picks its auth type from the environment, and takes the OpenAI-compatible one only when
  // OPENAI_MODEL (or QWEN_MODEL) is set too: coding.qwen.model is that model.
  if (model && !env.OPENAI_MODEL && !env.QWEN_MODEL) env.OPENAI_MODEL = model;
  // QWEN_HOME would move the CLI's state out of the session's own HOME, where another session could read it.
  delete env.QWEN_HOME;
  // The yolo warning on every run says what our walls already answer (arguments.ts).
  env.QWEN_CODE_SUPPRESS_YOLO_WARNING = '1';
  return env;
}

// OpenAI-style and DashScope keys: cut wherever an error message repeats one.
export const sanitize = (text: string, secrets: string[]): string => cutSecrets(text, secrets, /\bsk-[A-Za-z0-9_-]{16,}/g);
