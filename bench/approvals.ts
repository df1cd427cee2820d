/**
 * `npm run bench:approvals` — how long a held statement takes to run once it is approved:
 * from the approver's decision (ApprovalService.decide, what the REST endpoint and the CLI
 * call) to the agent's query resolving, through a real gateway (in-process, configured by a
 * YAML file written and loaded like the other benchmarks'), a real node-postgres agent and an
 * embedded PostgreSQL. Target: under 50 ms on one gateway.
 *
 * Env: BENCH_APPROVALS_ITERATIONS (50).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config/load.js';
import { startEmbeddedPostgres } from '../src/demo/embedded-postgres.js';
import { seedDemoDatabase } from '../src/demo/seed.js';
import { startDevIdp } from '../src/identity/dev-idp.js';
import type { Identity } from '../src/identity/identity.js';
import { fetchAccessToken } from '../src/identity/token-client.js';
import { silentLogger } from '../src/log.js';
import { startGateway } from '../src/server/gateway.js';
import { intEnv } from './support/env.js';
import { PASSWORD_ENV, writeGatewayConfig } from './support/gateway.js';
import type { PolicyRule } from './support/policy.js';
import { freePort } from './support/process.js';
import { fmt, markdownTable } from './support/table.js';

const ITERATIONS = intEnv('BENCH_APPROVALS_ITERATIONS', 50, 1);
const TARGET_MS = 50;
const AGENT = { clientId: 'agent', clientSecret: 'agent-secret', groups: ['agents'] };
const APPROVER: Identity = { subject: 'approver', clientId: 'approver', groups: ['approvers'], scopes: [], issuer: 'bench', expiresAt: Date.now() + 86_400_000 };

/** The rule under test, in config-file syntax: written to a YAML config and loaded like any gateway's. */
const REVIEW_ORDER_WRITES: PolicyRule = {
  name: 'order-writes-need-approval',
  when: { sql: { class: ['write'], tables: ['public.orders'] } },
  effect: 'review',
  reason: 'Writes to orders need a human approver.',
  review: { approvers: ['approvers'], timeout: '1m' },
};

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-approvals-'));
  chmodSync(work, 0o755); // PostgreSQL runs as its own OS user when we are root
  const dbPassword = 'bench-agent-password';
  const postgres = await startEmbeddedPostgres({ dataDir: path.join(work, 'pg'), port: 0, persistent: false });
  const idp = await startDevIdp({ port: 0, clients: [AGENT], audience: 'portcullis' });
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  try {
    await seedDemoDatabase(postgres, { database: 'app', agentRole: 'agent_rw', agentPassword: dbPassword });
    const configFile = path.join(work, 'gateway.yaml');
    writeGatewayConfig({
      file: configFile,
      dataDir: path.join(work, 'data'),
      issuer: idp.issuer,
      audience: 'portcullis',
      port: await freePort(),
      connection: 'demo',
      target: { port: postgres.port, database: 'app', user: 'agent_rw' },
      group: 'agents',
      policy: { source: 'bench/approvals.ts', rules: [REVIEW_ORDER_WRITES], defaultEffect: 'allow', tables: [], sql: undefined },
    });
    process.env[PASSWORD_ENV] = dbPassword;
    const config = await loadConfig(configFile);
    gateway = await startGateway(config, silentLogger);
    const approvals = gateway.approvals;
    const token = (await fetchAccessToken({ issuer: idp.issuer, clientId: AGENT.clientId, clientSecret: AGENT.clientSecret })).accessToken;
    const client = new pg.Client({ host: '127.0.0.1', port: gateway.postgres!.port, database: 'demo', user: 'agent', password: token });
    let notice: (id: string) => void = () => undefined;
    client.on('notice', (n) => {
      const id = /request ([A-Za-z0-9_-]+)\)/.exec(n.message ?? '')?.[1];
      if (id !== undefined) notice(id);
    });
    client.on('error', () => undefined); // ended by the gateway's shutdown if a step below fails
    await client.connect();
    await postgres.query("INSERT INTO orders (id, status) VALUES (900001, 'new')", [], { database: 'app' });
    const latencies: number[] = [];
    for (let i = 0; i < ITERATIONS + 5; i++) {
      const held = new Promise<string>((resolve) => (notice = resolve));
      const query = client.query(`UPDATE orders SET status = 'run-${i}' WHERE id = 900001`);
      const id = await held;
      const started = performance.now();
      approvals.decide(id, APPROVER, 'approve', 'bench');
      await query;
      if (i >= 5) latencies.push(performance.now() - started); // the first few warm up
    }
    await client.end();
    latencies.sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    const report = [
      '# Approval to execution',
      '',
      `From the approver's decision to the held UPDATE's result at the agent, ${ITERATIONS} held statements, one at a time (${os.cpus().length} cores, Node ${process.version}).`,
      '',
      markdownTable(
        ['figure', 'ms', 'target', 'verdict'],
        [
          ['p50', fmt(p50, 2), `< ${TARGET_MS}`, p50 < TARGET_MS ? 'PASS' : 'FAIL'],
          ['p95', fmt(p95, 2), '', ''],
          ['max', fmt(latencies.at(-1)!, 2), '', ''],
        ],
      ),
      '',
      'Reproduce: `npm run bench:approvals`',
    ].join('\n');
    process.stdout.write(`${report}\n`);
  } finally {
    await gateway?.close();
    await idp.close();
    await postgres.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:approvals failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
