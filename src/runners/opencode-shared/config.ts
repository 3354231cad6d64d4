// The OpenCode configuration every child runs with (both OpenCode runners), passed whole in
// OPENCODE_CONFIG_CONTENT: non-interactive permissions, nothing shared or updated, the model, the user's
// own config on top.
import { CodingError } from '../../core/errors.js';
import type { Sandbox } from '../../process/sandbox.js';
import { deepMerge } from '../deep-merge.js';

export interface OpenCodeModelSettings {
  /** provider/model, e.g. "fake/m" or "anthropic/claude-sonnet-4" */
  model?: string;
  /** extra OpenCode config merged into OPENCODE_CONFIG_CONTENT (providers, etc.) */
  config?: Record<string, unknown>;
  /** extra environment for the child (provider API keys) */
  env?: Record<string, string>;
  /** base dir for the isolated home/config/data/cache dirs */
  state_dir: string;
  /** walls around the OpenCode process (none when unset) */
  sandbox?: Sandbox;
}

export interface OpenCodeModelRef {
  providerID: string;
  modelID: string;
}

/** Split "provider/model" (the model id may itself contain slashes: "openrouter/anthropic/claude"). */
export function parseModel(model: string): OpenCodeModelRef {
  const slash = model.indexOf('/');
  if (slash <= 0 || slash === model.length - 1) {
    throw new CodingError(
      `invalid OpenCode model '${model}': expected provider/model, e.g. anthropic/claude-sonnet-4`,
      'invalid_input',
    );
  }
  return { providerID: model.slice(0, slash), modelID: model.slice(slash + 1) };
}

/** The settings every OpenCode child runs with: non-interactive permissions, nothing shared or updated. */
export function baseOpenCodeConfig(): Record<string, unknown> {
  return {
    autoupdate: false,
    share: 'disabled',
    // Edits and commands must not wait for (or be auto-rejected by) an approval nobody can give;
    // fetching from the web is not part of a coding task here.
    permission: { edit: 'allow', bash: 'allow', webfetch: 'deny' },
  };
}

/** OPENCODE_CONFIG_CONTENT for these settings: the base config, the model, then settings.config on top. */
export function openCodeConfig(settings: OpenCodeModelSettings): Record<string, unknown> {
  const config: Record<string, unknown> = baseOpenCodeConfig();
  if (settings.model) config.model = settings.model;
  return deepMerge(config, settings.config ?? {});
}
