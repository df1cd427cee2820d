/** A statement the masking policy refuses becomes a deny decision, the same way everywhere (gateway and `policy check`). */
import type { Decision } from '../policy/operation.js';
import type { StatementMaskPlan } from './plan.js';

/** `decision`, unless it lets the statement run and one of its plans refuses it. */
export function withMaskingRefusal(decision: Decision, plans: readonly StatementMaskPlan[]): Decision {
  if (decision.effect === 'deny') return decision;
  const index = plans.findIndex((p) => p.refusal !== undefined);
  if (index === -1) return decision;
  const refusal = plans[index]!.refusal!;
  return { effect: 'deny', rule: refusal.rule, reason: refusal.reason, statementIndex: index };
}
