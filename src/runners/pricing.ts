// The cost of a task whose CLI reports tokens but no price (codex, gemini, qwen, copilot): from the worker's
// per-model price table (coding.pricing), so budgets hold for every backend. Where a cost came from goes into
// the task span (cost.source), because a 0 from an unpriced model and a 0 from a free one look alike otherwise.
import type { Tokens } from '../contract.js';
import type { CodingConfig } from '../config.js';
import type { CostSource } from '../core/runner.js';

export type Pricing = CodingConfig['pricing'];

export interface PricedCost {
  cost: number;
  source: CostSource;
}

const PER_TOKEN = 1 / 1_000_000;

export function priceTokens(tokens: Tokens, model: string | undefined, pricing: Pricing | undefined): PricedCost {
  const price = model === undefined ? undefined : pricing?.[model];
  if (!price) return { cost: 0, source: 'unpriced' };
  const cost =
    tokens.input * price.input +
    (tokens.output + tokens.reasoning) * price.output +
    tokens.cache_read * (price.cache_read ?? price.input) +
    tokens.cache_write * (price.cache_write ?? price.input);
  return { cost: cost * PER_TOKEN, source: 'pricing' };
}
