/**
 * Composes a running gateway from a validated Config: identity, gate and the protocol
 * front doors. The only place that knows about all of them.
 */
import type net from 'node:net';
import type { Config } from '../config/types.js';
import { TokenVerifier } from '../identity/verifier.js';
import { createSqlInspector } from '../inspect/sql-inspector.js';
import { openRecorder } from '../recording/sqlite-recorder.js';
import type { Logger } from '../log.js';
import { createGate } from '../policy/gate.js';
import { PostgresFrontDoor } from '../protocols/postgres/front-door.js';

export interface Gateway {
  /** Bound address of the PostgreSQL front door, when configured. */
  readonly postgres: net.AddressInfo | undefined;
  close(): Promise<void>;
}

export async function startGateway(config: Config, logger: Logger): Promise<Gateway> {
  const verifier = new TokenVerifier(config.identity.issuers, { logger: logger.child({ component: 'identity' }) });
  const gate = createGate(config.connections);
  const inspect = await createSqlInspector(config.sql.extraDangerousFunctions);
  // Opened before listening: sessions the previous process left open are ended as crashed.
  const recorder = openRecorder(config.dataDir, {
    durability: config.recording.durability,
    groupCommit: true,
    logger: logger.child({ component: 'recorder' }),
  });
  let postgres: PostgresFrontDoor | undefined;
  let postgresAddress: net.AddressInfo | undefined;
  if (config.postgres) {
    postgres = new PostgresFrontDoor({
      listener: config.postgres,
      connections: config.connections.filter((c) => c.type === 'postgres'),
      verifier,
      gate,
      inspect,
      recorder,
      logger: logger.child({ component: 'postgres' }),
    });
    try {
      postgresAddress = await postgres.listen();
    } catch (err) {
      recorder.close();
      throw err;
    }
  }
  return {
    postgres: postgresAddress,
    async close() {
      await postgres?.close();
      recorder.close();
      logger.info('gateway stopped');
    },
  };
}
