// A session's budget: what it may still spend (handed to each task, which is stopped when it crosses it) and
// whether it is spent (a task that would start is refused). Pure and workflow-safe.
import { countedTokens, type Budget, type SessionStatus } from '../contract.js';

type Spent = Pick<SessionStatus, 'cost' | 'tokens'>;

/** What the session may still spend, when it has a budget. */
export function remainingBudget(budget: Budget | undefined, spent: Spent): Budget | undefined {
  if (!budget || (budget.max_cost_usd === undefined && budget.max_tokens === undefined)) return undefined;
  return {
    ...(budget.max_cost_usd !== undefined ? { max_cost_usd: budget.max_cost_usd - spent.cost } : {}),
    ...(budget.max_tokens !== undefined ? { max_tokens: budget.max_tokens - countedTokens(spent.tokens) } : {}),
  };
}

/** Why no task may start any more, or undefined while the budget lasts. */
export function budgetExhausted(budget: Budget | undefined, spent: Spent): string | undefined {
  const left = remainingBudget(budget, spent);
  if (left?.max_cost_usd !== undefined && left.max_cost_usd <= 0) {
    return `budget exhausted: the session spent $${spent.cost.toFixed(4)} of its $${budget!.max_cost_usd} (max_cost_usd)`;
  }
  if (left?.max_tokens !== undefined && left.max_tokens <= 0) {
    return `budget exhausted: the session used ${countedTokens(spent.tokens)} of its ${budget!.max_tokens} tokens (max_tokens)`;
  }
  return undefined;
}
