/**
 * The gateway bench:sessions runs: bench/support/gateway.ts's generated config (the bench
 * policy, recording on, TLS "allow" with the bench's certificate) plus an admin listener
 * for /metrics, started as its own process with the heap probe preloaded.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { startGatewayProcess, writeGatewayConfig, type GatewayConfigOptions, type GatewayProcess } from '../support/gateway.js';
import { freePort } from '../support/process.js';
import { probeNodeFlags } from './probe.js';

export interface SessionsGateway {
  readonly process: GatewayProcess;
  readonly configFile: string;
  readonly configText: string;
  readonly dataDir: string;
  readonly adminPort: number;
}

export interface LaunchOptions extends Omit<GatewayConfigOptions, 'file' | 'dataDir' | 'port'> {
  readonly root: string;
  readonly work: string;
  /** Names the config file and data directory. */
  readonly name: string;
  readonly targetPassword: string;
}

/**
 * Adds `admin:` (loopback, the agents' group as auditors: /metrics itself needs no token)
 * to a generated config's text. Pure.
 */
export function withAdminListener(configText: string, adminPort: number, auditorsGroup: string): string {
  const doc = parse(configText) as Record<string, unknown>;
  if (doc['admin'] !== undefined) throw new Error('the generated gateway config already has an admin section');
  return stringify({ ...doc, admin: { listen: `127.0.0.1:${adminPort}`, auditors: [auditorsGroup] } });
}

export async function launchSessionsGateway(options: LaunchOptions): Promise<SessionsGateway> {
  const { root, work, name, targetPassword, ...config } = options;
  const port = await freePort();
  const adminPort = await freePort();
  const configFile = path.join(work, `${name}.yaml`);
  const dataDir = path.join(work, `${name}-data`);
  const base = writeGatewayConfig({ ...config, file: configFile, dataDir, port });
  const configText = withAdminListener(base, adminPort, config.group);
  writeFileSync(configFile, configText, { mode: 0o600 });
  const gatewayProcess = await startGatewayProcess({ root, configFile, port, targetPassword, nodeFlags: probeNodeFlags() });
  return { process: gatewayProcess, configFile, configText, dataDir, adminPort };
}
