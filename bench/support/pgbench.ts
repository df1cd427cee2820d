/** Runs pgbench against one endpoint and parses what it reports. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { mergeTransactionLogs, parseTransactionLog, type TransactionLog } from './latency.js';
import { pgEnv, run } from './process.js';

export const PGBENCH = process.env.PGBENCH ?? 'pgbench';

/** pgbench's -M: simple Query messages, unnamed Parse/Bind/Execute each time, or named statements parsed once per connection. */
export const QUERY_MODES = ['simple', 'extended', 'prepared'] as const;
export type QueryMode = (typeof QUERY_MODES)[number];

/** pgbench's built-in scripts the benches run: -S, or the default TPC-B-like one (writes). */
export type Script = 'select-only' | 'tpcb-like';

/** A comma-separated list of query modes (e.g. an env setting); `fallback` when empty. Throws on an unknown or repeated mode. */
export function parseQueryModes(raw: string | undefined, fallback: readonly QueryMode[] = QUERY_MODES): QueryMode[] {
  if (raw === undefined || raw.trim() === '') return [...fallback];
  const modes = raw.split(',').map((m) => m.trim());
  for (const [i, m] of modes.entries()) {
    if (!(QUERY_MODES as readonly string[]).includes(m)) throw new Error(`unknown query mode ${JSON.stringify(m)}: use ${QUERY_MODES.join(', ')}`);
    if (modes.indexOf(m) !== i) throw new Error(`query mode ${m} is listed twice`);
  }
  return modes as QueryMode[];
}

export interface Endpoint {
  /** Label in reports, e.g. "direct". */
  readonly name: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string;
  /** How the password is shown in printed commands. */
  readonly passwordLabel: string;
  /** The proxy process behind this endpoint, whose CPU time is measured. */
  readonly pid?: number;
}

export interface LoadSpec {
  readonly mode: QueryMode;
  readonly clients: number;
  readonly threads: number;
  readonly seconds: number;
  /** Default select-only (-S). */
  readonly script?: Script;
  /** Write a per-transaction log (-l) to files named `<logPrefix>.<pid>[.<thread>]`. */
  readonly logPrefix?: string;
}

export interface PgbenchResult {
  readonly tps: number;
  readonly latencyMs: number;
  readonly transactions: number;
  readonly failed: number;
}

export function pgbenchArgs(endpoint: Endpoint, load: LoadSpec): string[] {
  return [
    '-h', '127.0.0.1', '-p', String(endpoint.port), '-U', endpoint.user,
    ...((load.script ?? 'select-only') === 'select-only' ? ['-S'] : []),
    '-c', String(load.clients), '-j', String(load.threads), '-T', String(load.seconds), '-n',
    ...(load.mode === 'simple' ? [] : ['-M', load.mode]),
    ...(load.logPrefix === undefined ? [] : ['-l', `--log-prefix=${load.logPrefix}`]),
    endpoint.database,
  ];
}

/** The command as a person would type it, with the secret replaced by its label. */
export function pgbenchCommand(endpoint: Endpoint, load: LoadSpec): string {
  return `PGPASSWORD=${endpoint.passwordLabel} ${PGBENCH} ${pgbenchArgs(endpoint, load).join(' ')}`;
}

export async function runPgbench(endpoint: Endpoint, load: LoadSpec): Promise<PgbenchResult> {
  const result = await run(PGBENCH, pgbenchArgs(endpoint, load), { env: pgEnv({ PGPASSWORD: endpoint.password }) });
  if (result.code !== 0) {
    throw new Error(`pgbench against ${endpoint.name} (${load.script ?? 'select-only'}, ${load.mode}) exited with ${result.code ?? result.signal}:\n${tail(result.stderr || result.stdout)}`);
  }
  return parsePgbenchOutput(result.stdout);
}

export function parsePgbenchOutput(text: string): PgbenchResult {
  const number = (re: RegExp): number | undefined => {
    const m = re.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const tps = number(/^tps = ([\d.]+) \(without initial connection time\)/m) ?? number(/^tps = ([\d.]+)/m);
  const latencyMs = number(/^latency average = ([\d.]+) ms/m);
  const transactions = number(/^number of transactions actually processed: (\d+)/m);
  if (tps === undefined || latencyMs === undefined || transactions === undefined) {
    throw new Error(`cannot parse pgbench output:\n${tail(text)}`);
  }
  return { tps, latencyMs, transactions, failed: number(/^number of failed transactions: (\d+)/m) ?? 0 };
}

/**
 * The per-transaction logs a run with `logPrefix` wrote (one file per worker thread), parsed
 * and merged. Throws when there are none: a latency figure must not come from nothing.
 */
export function readTransactionLogs(logPrefix: string): TransactionLog {
  const dir = path.dirname(logPrefix);
  const base = `${path.basename(logPrefix)}.`;
  const files = readdirSync(dir).filter((f) => f.startsWith(base) && /^\d+(\.\d+)?$/.test(f.slice(base.length)));
  if (files.length === 0) throw new Error(`pgbench wrote no per-transaction log ${logPrefix}.<pid> in ${dir}`);
  return mergeTransactionLogs(files.map((f) => parseTransactionLog(readFileSync(path.join(dir, f), 'utf8'))));
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-15).join('\n');
}
