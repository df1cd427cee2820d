/**
 * Builds a connection's `access.require_approval`: time-boxed access, granted per identity by
 * an approved access request (src/approvals, `POST /api/access-requests`).
 */
import type { ConfigPath, IssueList } from './issues.js';
import { DEFAULTS, type RawAccessApproval } from './schema.js';
import type { AccessApprovalConfig } from './types.js';

/**
 * Longest an access request may wait for a decision, and the longest access it may ask for:
 * time-boxed access is not standing access, so even the configurable ceiling is a week.
 */
export const MAX_ACCESS_MS = 7 * 24 * 3_600_000;

export interface AccessApprovalBuildContext {
  readonly issues: IssueList;
  duration(value: string | number, path: ConfigPath, bounds: { positive?: boolean; max?: number }): number;
  /** Access requests arrive through the admin API: without an `admin:` section nobody could ask. */
  readonly hasAdmin: boolean;
  /** The connection's name, for messages. */
  readonly connection: string;
}

export function buildAccessApproval(raw: RawAccessApproval, path: ConfigPath, ctx: AccessApprovalBuildContext): AccessApprovalConfig {
  if (!ctx.hasAdmin) {
    ctx.issues.add(
      path,
      `connection "${ctx.connection}" requires an approved access request, but access requests are made through the admin API ` +
        '(POST /api/access-requests, "portcullis access request") and there is no admin: section: add one, or nobody could ever open this connection',
    );
  }
  const bounds = { positive: true, max: MAX_ACCESS_MS };
  return {
    approvers: raw.approvers,
    minApprovals: raw.min_approvals ?? DEFAULTS.minApprovals,
    timeoutMs: ctx.duration(raw.timeout ?? DEFAULTS.accessRequestTimeout, [...path, 'timeout'], bounds),
    maxDurationMs: ctx.duration(raw.max_duration ?? DEFAULTS.accessMaxDuration, [...path, 'max_duration'], bounds),
  };
}
