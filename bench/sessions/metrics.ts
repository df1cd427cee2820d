/**
 * The gateway's own account, read from its Prometheus /metrics (admin listener): how many
 * sessions it is relaying, how many connections it refused, and what its token verifier did
 * (verifications, cache hits, issuer key loads). The bench checks these against what its
 * clients saw.
 */

/** Sum of every sample of metric `name` whose labels include all of `labels`; undefined when the metric is absent. */
export function sumMetric(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    let labelText = '';
    let valueText: string;
    if (rest.startsWith('{')) {
      const end = closingBrace(rest);
      if (end < 0) continue;
      labelText = rest.slice(1, end);
      valueText = rest.slice(end + 1);
    } else if (rest.startsWith(' ')) {
      valueText = rest;
    } else {
      continue; // another metric sharing the prefix, e.g. name_total vs name
    }
    const found = parseLabels(labelText);
    if (!Object.entries(labels).every(([k, v]) => found.get(k) === v)) continue;
    const value = Number(valueText.trim().split(/\s+/)[0]);
    if (!Number.isFinite(value)) continue;
    total = (total ?? 0) + value;
  }
  return total;
}

/** Index of the `}` closing the label set, skipping quoted values (which may contain braces). */
function closingBrace(text: string): number {
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '}') return i;
  }
  return -1;
}

function parseLabels(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    out.set(m[1]!, m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)));
  }
  return out;
}

/** The token verifier, from portcullis_token_verifications_total and portcullis_issuer_key_loads_total. */
export interface TokenCounts {
  /** Tokens presented (verify calls): the sum of cached, shared, verified and refused. */
  readonly presented: number;
  /** Answered from the verifier's cache of verified tokens. */
  readonly cached: number;
  /** Joined a verification of the same token already in flight. */
  readonly shared: number;
  /** Fully verified (signature and claims) and accepted. */
  readonly verified: number;
  /** Refused, every reason. */
  readonly refused: number;
  /** Issuer key-set loads (discovery when needed, then JWKS), every issuer, ok or failed. */
  readonly keyLoads: number;
  readonly keyLoadsFailed: number;
  /** What the accepted full verifications took, in all (portcullis_token_verification_duration_seconds_sum). */
  readonly verifiedSeconds: number;
}

const TOKEN_KEYS = ['presented', 'cached', 'shared', 'verified', 'refused', 'keyLoads', 'keyLoadsFailed', 'verifiedSeconds'] as const satisfies readonly (keyof TokenCounts)[];

export interface GatewayCounts {
  /** portcullis_sessions_active, PostgreSQL front door. */
  readonly sessionsActive: number;
  /** portcullis_auth_failures_total, every reason. */
  readonly authFailures: number;
  readonly tokens: TokenCounts;
}

/** Reads the gateway's /metrics; throws (naming the metric) when a series the bench relies on is gone. */
export async function gatewayCounts(adminPort: number): Promise<GatewayCounts> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics on the gateway's admin port returned HTTP ${res.status}`);
  return countsFromMetrics(await res.text());
}

export function countsFromMetrics(text: string): GatewayCounts {
  const need = (name: string, labels: Record<string, string>): number => {
    const value = sumMetric(text, name, labels);
    if (value === undefined) throw new Error(`the gateway's /metrics has no ${name}: bench/sessions/metrics.ts needs updating`);
    return value;
  };
  const verifications = (result: string): number => need('portcullis_token_verifications_total', { result });
  const tokens = {
    cached: verifications('cached'),
    shared: verifications('shared'),
    verified: verifications('verified'),
    refused: verifications('refused'),
    keyLoads: need('portcullis_issuer_key_loads_total', {}),
    keyLoadsFailed: need('portcullis_issuer_key_loads_total', { result: 'failed' }),
    verifiedSeconds: need('portcullis_token_verification_duration_seconds_sum', {}),
  };
  return {
    sessionsActive: need('portcullis_sessions_active', { protocol: 'postgres' }),
    authFailures: need('portcullis_auth_failures_total', { protocol: 'postgres' }),
    tokens: { presented: tokens.cached + tokens.shared + tokens.verified + tokens.refused, ...tokens },
  };
}

/** What the token verifier did between two scrapes. */
export function tokensBetween(before: TokenCounts, after: TokenCounts): TokenCounts {
  return Object.fromEntries(TOKEN_KEYS.map((k) => [k, after[k] - before[k]])) as unknown as TokenCounts;
}
