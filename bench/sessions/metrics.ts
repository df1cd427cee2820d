/**
 * The gateway's own account of its sessions, read from its Prometheus /metrics (admin
 * listener): how many sessions it is relaying and how many connections it refused. The
 * bench checks these against what its clients saw.
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

export interface GatewayCounts {
  /** portcullis_sessions_active, PostgreSQL front door. */
  readonly sessionsActive: number;
  /** portcullis_auth_failures_total, every reason. */
  readonly authFailures: number;
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
  return {
    sessionsActive: need('portcullis_sessions_active', { protocol: 'postgres' }),
    authFailures: need('portcullis_auth_failures_total', { protocol: 'postgres' }),
  };
}
