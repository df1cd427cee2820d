/**
 * BENCHMARK ONLY — a Portcullis gateway with recording switched off.
 *
 * It exists for one reason: `npm run bench:pg` measures what recording costs by running
 * this next to the real gateway (`portcullis serve`) under the same pgbench load. It is
 * NOT a product feature and must never be shipped or run in front of a real database:
 * DESIGN.md's invariant is that nothing reaches the target unrecorded, which is why the
 * product has no config switch for it and this composition lives under bench/, is compiled
 * only by bench/tsconfig.json (into bench/out/, which is git- and npm-ignored, so no
 * runnable copy is ever packed), and refuses to listen anywhere but loopback. Note: while
 * package.json has no `files` list, `npm pack` still includes this .ts source (all of
 * bench/ is packed) — inert without the bench build, but a `files` list should drop it.
 *
 * Usage (from the bench, as its own process so its CPU and RSS are its own):
 *   node bench/out/build/bench/support/unrecorded-gateway.js --config FILE
 *
 * It loads FILE with the real `loadConfig` and composes the PostgreSQL front door exactly
 * as src/server/gateway.ts does — TokenVerifier, createGate, createSqlInspector,
 * PrometheusMetrics, PostgresFrontDoor, the config's logger — except that the recorder is
 * `NullRecorder`, so the difference to the real gateway is the recorder alone. Keep it in
 * step with startGateway when that composition changes, or the measured cost drifts.
 * Masking is composed as in the real gateway (a catalog cache per masked connection).
 * No admin API and no retention (the bench config has neither). The front door logs the
 * same "postgres front door listening" line as the real gateway (at info, so only when
 * log.level allows); the bench waits for the port either way. SIGINT/SIGTERM close it
 * cleanly.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { TokenVerifier } from '../../src/identity/verifier.js';
import { createSqlInspector } from '../../src/inspect/sql-inspector.js';
import { createLogger } from '../../src/log.js';
import { PrometheusMetrics } from '../../src/metrics/prometheus.js';
import { createGate } from '../../src/policy/gate.js';
import { catalogCacheFor, type CatalogCache } from '../../src/protocols/postgres/catalog-cache.js';
import { PostgresFrontDoor } from '../../src/protocols/postgres/front-door.js';
import type { Recorder } from '../../src/recording/recorder.js';
import { maskingDeps } from '../../src/server/gateway.js';

/**
 * Records nothing. `operation` still hands out increasing sequence numbers (the session
 * pairs outcomes with them) and `whenDurable` answers "durable" at once, as the real
 * recorder does when nothing is pending, so forwarding is never held back.
 */
class NullRecorder implements Recorder {
  private seq = 0;
  sessionStarted(): void {}
  operation(): number {
    return ++this.seq;
  }
  outcome(): void {}
  sessionEnded(): void {}
  authFailure(): void {}
  approvalEvent(): void {}
  terminal(): void {}
  whenDurable(callback: (durable: boolean) => void): void {
    callback(true);
  }
  close(): void {}
}

/** An unrecorded listener is tolerable on this machine only (the bench's own pgbench). */
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1)$/;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } }, strict: true });
  if (!values.config) throw new UsageError('--config FILE is required (the gateway config the bench generated)');
  const config: Config = await loadConfig(values.config);
  if (!config.postgres) throw new UsageError(`${values.config} has no listen.postgres: nothing to benchmark`);
  if (!LOOPBACK.test(config.postgres.host)) {
    throw new UsageError(
      `listen.postgres is ${config.postgres.host}: this unrecorded gateway only listens on loopback (127.0.0.1); ` +
        'it is for the benchmark alone — run `portcullis serve` for anything else',
    );
  }

  const logger = createLogger(config.log.level, { gateway: 'unrecorded-bench' });
  logger.warn('BENCHMARK-ONLY gateway: recording is OFF, operations are forwarded unrecorded; never use it for real traffic');
  // Masking as the real gateway does it: one catalog cache per masked connection.
  const catalogs = new Map<string, CatalogCache>();
  for (const c of config.connections) {
    if (c.type === 'postgres' && c.masking.length > 0) catalogs.set(c.name, catalogCacheFor(c, { maxFrameBytes: config.postgres.maxMessageBytes }));
  }
  const frontDoor = new PostgresFrontDoor({
    masking: maskingDeps(catalogs),
    listener: config.postgres,
    connections: config.connections.filter((c) => c.type === 'postgres'),
    verifier: new TokenVerifier(config.identity.issuers, { logger: logger.child({ component: 'identity' }) }),
    gate: createGate(config.connections),
    inspect: await createSqlInspector(config.sql.extraDangerousFunctions),
    recorder: new NullRecorder(),
    metrics: new PrometheusMetrics({ connections: config.connections.map((c) => ({ protocol: c.type, name: c.name })) }),
    logger: logger.child({ component: 'postgres' }),
  });
  await frontDoor.listen();

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await frontDoor.close();
  for (const cache of catalogs.values()) cache.close();
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError || error instanceof UsageError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`unrecorded-gateway: ${message}\n`);
  process.exitCode = 1;
});
