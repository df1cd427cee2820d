/**
 * Masking end to end: a large SELECT (default 1,000,000 rows × 5 text columns) read with
 * psql directly from PostgreSQL, through the gateway on a connection without masking, and
 * through the gateway with masking on (a column rule on one column, the default content
 * detectors on every column), in the same run. The gateway is its own process
 * (`portcullis serve`), so its peak RSS, sampled every 100 ms during each read, is its own.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedPostgres } from '../../src/demo/embedded-postgres.js';
import { startDevIdp } from '../../src/identity/dev-idp.js';
import { fetchAccessToken } from '../../src/identity/token-client.js';
import { summariseCpuProfile, type ProfileSummary } from '../support/cpuprofile.js';
import { startGatewayProcess, writeGatewayConfig } from '../support/gateway.js';
import { freePort, pgEnv, rssBytes, run } from '../support/process.js';

export interface EndToEndSettings {
  readonly rows: number;
  readonly runs: number;
  /** Run the gateway under --cpu-prof and summarise where its time went during the masked reads. */
  readonly profile: boolean;
}

export interface EndToEndRun {
  readonly path: 'direct' | 'gateway, no masking' | 'gateway, masking';
  readonly seconds: number;
  /** Peak RSS of the gateway process during the read; undefined for direct reads. */
  readonly gatewayPeakRss: number | undefined;
  /** Bytes psql printed (same query, so equal sizes mean equal rows). */
  readonly outputBytes: number;
  /** Output lines still holding an e-mail address (0 expected through masking). */
  readonly leakedEmails: number;
}

export interface EndToEndResult {
  readonly runs: readonly EndToEndRun[];
  readonly profile: ProfileSummary | undefined;
  readonly query: string;
  readonly tableBytes: number;
}

const AGENT = { clientId: 'agent', clientSecret: 'agent-secret', groups: ['agents'] };
const DB_PASSWORD = 'bench-mask-password';
const QUERY = 'SELECT a, b, c, d, e FROM wide';

/** 5 text columns of 30–60 characters; one row in 50 carries an e-mail address in `c`. */
const CREATE = `
CREATE TABLE wide AS
SELECT 'customer ' || g || ' ' || md5(g::text) AS a,
       'ticket note ' || substr(md5((g * 7)::text), 1, 20) || ' resolved' AS b,
       CASE WHEN g % 50 = 0 THEN 'contact user' || g || '@example.com please' ELSE 'status ok ' || md5((g * 3)::text) END AS c,
       'order ' || (g * 13) || ' shipped to warehouse ' || (g % 97) AS d,
       repeat('x', 20) || ' ' || substr(md5((g * 11)::text), 1, 16) AS e
FROM generate_series(1, $1::int) g`;

const MASKING = [
  {
    name: 'bench',
    detectors: ['default'],
    columns: { 'public.wide.a': 'redact' },
  },
];

async function timedRead(
  env: NodeJS.ProcessEnv,
  conninfo: string,
  gatewayPid: number | undefined,
): Promise<{ seconds: number; peak: number | undefined; bytes: number; leaked: number }> {
  let peak = gatewayPid === undefined ? undefined : rssBytes(gatewayPid);
  const sampler =
    gatewayPid === undefined
      ? undefined
      : setInterval(() => {
          peak = Math.max(peak ?? 0, rssBytes(gatewayPid));
        }, 100);
  const started = performance.now();
  const result = await run('psql', [conninfo, '-X', '-At', '-c', QUERY], { env });
  const seconds = (performance.now() - started) / 1000;
  if (sampler !== undefined) clearInterval(sampler);
  if (result.code !== 0) throw new Error(`psql failed (${result.code}): ${result.stderr.slice(0, 500)}`);
  const leaked = (result.stdout.match(/@example\.com/g) ?? []).length;
  return { seconds, peak, bytes: Buffer.byteLength(result.stdout), leaked };
}

export async function measureEndToEnd(settings: EndToEndSettings): Promise<EndToEndResult> {
  // Compiled to bench/out/build/bench/mask/: the repository is five levels up.
  const root = fileURLToPath(new URL('../../../../..', import.meta.url));
  const work = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-mask-'));
  chmodSync(work, 0o755); // PostgreSQL runs as its own OS user when we are root
  const postgres = await startEmbeddedPostgres({ dataDir: path.join(work, 'pg'), port: 0, persistent: false });
  const idp = await startDevIdp({ port: 0, clients: [AGENT], audience: 'portcullis' });
  let gateway: Awaited<ReturnType<typeof startGatewayProcess>> | undefined;
  try {
    await postgres.query('CREATE DATABASE app');
    await postgres.createRole('bench_user', DB_PASSWORD, 'scram-sha-256');
    await postgres.query(CREATE, [settings.rows], { database: 'app' });
    await postgres.query('GRANT SELECT ON wide TO bench_user', [], { database: 'app' });
    const [size] = await postgres.query("SELECT pg_table_size('wide') AS bytes", [], { database: 'app' });
    const port = await freePort();
    const configFile = path.join(work, 'gateway.yaml');
    writeGatewayConfig({
      file: configFile,
      dataDir: path.join(work, 'data'),
      issuer: idp.issuer,
      audience: 'portcullis',
      port,
      connection: 'masked',
      unmaskedConnection: 'plain',
      target: { port: postgres.port, database: 'app', user: 'bench_user' },
      group: 'agents',
      policy: { source: 'bench/mask/end-to-end.ts', rules: [], defaultEffect: 'allow', tables: [], sql: undefined },
      masking: MASKING,
    });
    const profileDir = path.join(work, 'profile');
    const nodeFlags = settings.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-name=gateway.cpuprofile'] : [];
    const extra = process.env['BENCH_MASK_NODE_FLAGS']?.split(' ').filter((f) => f !== '') ?? [];
    gateway = await startGatewayProcess({ root, configFile, port, targetPassword: DB_PASSWORD, nodeFlags: [...nodeFlags, ...extra] });
    const token = (await fetchAccessToken({ issuer: idp.issuer, clientId: AGENT.clientId, clientSecret: AGENT.clientSecret })).accessToken;
    const direct = { env: pgEnv({ PGPASSWORD: DB_PASSWORD }), conninfo: `host=127.0.0.1 port=${postgres.port} dbname=app user=bench_user` };
    const through = (db: string): { env: NodeJS.ProcessEnv; conninfo: string } => ({
      env: pgEnv({ PGPASSWORD: token }),
      conninfo: `host=127.0.0.1 port=${port} dbname=${db} user=agent`,
    });
    const paths = [
      { path: 'direct', ...direct, pid: undefined },
      { path: 'gateway, no masking', ...through('plain'), pid: gateway.service.pid },
      { path: 'gateway, masking', ...through('masked'), pid: gateway.service.pid },
    ] as const;
    // One untimed read each warms the caches (shared buffers, the gateway's JIT).
    for (const p of paths) await timedRead(p.env, p.conninfo, undefined);
    const runs: EndToEndRun[] = [];
    const maskedWindows: Array<{ fromUs: number; toUs: number }> = [];
    const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
    for (let i = 0; i < settings.runs; i++) {
      // Interleaved, so drift in machine load affects every path alike.
      for (const p of paths) {
        const fromUs = nowUs();
        const r = await timedRead(p.env, p.conninfo, p.pid);
        if (p.path === 'gateway, masking') maskedWindows.push({ fromUs, toUs: nowUs() });
        runs.push({ path: p.path, seconds: r.seconds, gatewayPeakRss: r.peak, outputBytes: r.bytes, leakedEmails: r.leaked });
      }
    }
    let profile: ProfileSummary | undefined;
    if (settings.profile) {
      await gateway.service.stop(30_000);
      // The first masked read's window: the profile's summary counts one contiguous span.
      profile = summariseCpuProfile(path.join(profileDir, 'gateway.cpuprofile'), root, maskedWindows[0]);
    }
    return { runs, profile, query: QUERY, tableBytes: Number((size as { bytes: string | number }).bytes) };
  } finally {
    await gateway?.service.stop();
    await idp.close();
    await postgres.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
