/** Runs pgbench against one endpoint and parses what it reports. */
import { pgEnv, run } from './process.js';

export const PGBENCH = process.env.PGBENCH ?? 'pgbench';

export type QueryMode = 'simple' | 'extended';

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
    '-S', '-c', String(load.clients), '-j', String(load.threads), '-T', String(load.seconds), '-n',
    ...(load.mode === 'extended' ? ['-M', 'extended'] : []),
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
    throw new Error(`pgbench against ${endpoint.name} (${load.mode}) exited with ${result.code ?? result.signal}:\n${tail(result.stderr || result.stdout)}`);
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

function tail(text: string): string {
  return text.trim().split('\n').slice(-15).join('\n');
}
