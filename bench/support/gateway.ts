/**
 * The gateway as its own process — `node dist/cli/main.js serve --config FILE` with a
 * generated YAML config — so its CPU and RSS are its own and can be measured. With
 * `unrecorded`, the bench-only gateway without recording (unrecorded-gateway.ts) instead,
 * from the same config, to measure what recording costs.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { BenchPolicy, PolicyRule } from './policy.js';
import { Service, waitForPort } from './process.js';
import { GATEWAY_NODE_FLAGS } from '../../src/cli/node-flags.js';

/** Env var the generated config reads the target password from (a `${env:…}` reference). */
export const PASSWORD_ENV = 'PORTCULLIS_BENCH_DB_PASSWORD';

export interface GatewayConfigOptions {
  readonly file: string;
  readonly dataDir: string;
  readonly issuer: string;
  readonly audience: string;
  readonly port: number;
  readonly connection: string;
  readonly target: { readonly port: number; readonly database: string; readonly user: string };
  readonly group: string;
  /** Statement rules for the connection (see policy.ts): the example's read-only policy. */
  readonly policy: BenchPolicy;
  /** Masking profiles in config-file syntax, all applied to the connection. */
  readonly masking?: readonly Record<string, unknown>[];
  /** A second connection to the same target, named so, without masking. */
  readonly unmaskedConnection?: string;
  /** Further connections to the same target, each with its own rules (also under the top-level `rules:`) and masking. */
  readonly extraConnections?: readonly ExtraConnection[];
  /** `recording.writer` (default: the product's default); BENCH_WRITER sets it for every bench gateway. */
  readonly recordingWriter?: 'thread' | 'inline';
  /** TLS on the PostgreSQL listener (mode "allow": the client chooses). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
}

export interface ExtraConnection {
  readonly name: string;
  readonly rules: readonly PolicyRule[];
  readonly masking?: readonly string[];
}

/** Writes the YAML config and returns its text (secret-free: the password is an env reference). */
export function writeGatewayConfig(options: GatewayConfigOptions): string {
  const { policy } = options;
  const writer = options.recordingWriter ?? recordingWriterFromEnv();
  const doc = {
    data_dir: options.dataDir,
    ...(writer === undefined ? {} : { recording: { writer } }),
    log: { level: 'warn' },
    identity: {
      issuers: [{ issuer: options.issuer, audience: options.audience, groups_claim: 'groups', max_token_age: '24h' }],
    },
    listen: {
      postgres: {
        address: `127.0.0.1:${options.port}`,
        tls: options.tls === undefined ? { mode: 'disable' } : { mode: 'allow', cert_file: options.tls.certFile, key_file: options.tls.keyFile },
        auth_timeout: '60s',
      },
    },
    connections: [
      ...[options.connection, ...(options.unmaskedConnection === undefined ? [] : [options.unmaskedConnection])].map((name) =>
        connection(name, policy.rules, options.masking === undefined || name !== options.connection ? undefined : options.masking.map((m) => String(m['name']))),
      ),
      ...(options.extraConnections ?? []).map((c) => connection(c.name, c.rules, c.masking)),
    ],
    ...(options.masking === undefined ? {} : { masking: options.masking }),
    ...(policy.sql ? { sql: policy.sql } : {}),
    rules: [...policy.rules, ...(options.extraConnections ?? []).flatMap((c) => c.rules)],
  };
  function connection(name: string, rules: readonly PolicyRule[], masking: readonly string[] | undefined): Record<string, unknown> {
    return {
      name,
      type: 'postgres',
      target: {
        host: '127.0.0.1',
        port: options.target.port,
        database: options.target.database,
        user: options.target.user,
        password: `\${env:${PASSWORD_ENV}}`,
        tls: 'disable',
        connect_timeout: '10s',
      },
      access: { groups: [options.group] },
      rules: rules.map((r) => r.name),
      default: policy.defaultEffect,
      ...(masking === undefined ? {} : { masking }),
    };
  }
  const text = stringify(doc);
  writeFileSync(options.file, text, { mode: 0o600 });
  return text;
}

function recordingWriterFromEnv(): 'thread' | 'inline' | undefined {
  const value = process.env['BENCH_WRITER'];
  if (value === undefined || value === '') return undefined;
  if (value !== 'thread' && value !== 'inline') throw new Error(`BENCH_WRITER must be "thread" or "inline", not ${JSON.stringify(value)}`);
  return value;
}

export interface GatewayProcess {
  readonly port: number;
  readonly service: Service;
  readonly command: string;
}

export interface StartGatewayOptions {
  readonly root: string;
  readonly configFile: string;
  readonly port: number;
  readonly targetPassword: string;
  /** Extra `node` flags, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  /** Run the bench-only gateway with recording off instead of `portcullis serve`. */
  readonly unrecorded?: boolean;
}

export function gatewayEntry(root: string): string {
  const entry = path.join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  return entry;
}

/** Compiled next to this module by bench/tsconfig.json (never into dist/). */
function unrecordedGatewayEntry(): string {
  const entry = fileURLToPath(new URL('./unrecorded-gateway.js', import.meta.url));
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`tsc -p bench/tsconfig.json\` (npm run bench:pg does)`);
  return entry;
}

export async function startGatewayProcess(options: StartGatewayOptions): Promise<GatewayProcess> {
  const entry = options.unrecorded ? unrecordedGatewayEntry() : gatewayEntry(options.root);
  // The flags the `portcullis` executable runs with (its shebang), so the bench measures what users run.
  const flags = [...GATEWAY_NODE_FLAGS, ...(options.nodeFlags ?? [])];
  const entryArgs = (file: string): string[] => [...flags, file, ...(options.unrecorded ? [] : ['serve']), '--config', options.configFile];
  const service = new Service(options.unrecorded ? 'portcullis (unrecorded)' : 'portcullis', process.execPath, entryArgs(entry), {
    cwd: options.root,
    env: { ...process.env, [PASSWORD_ENV]: options.targetPassword },
  });
  await waitForPort(options.port, service);
  const command = `${PASSWORD_ENV}=<bench_user password> node ${entryArgs(path.relative(options.root, entry)).join(' ')}`;
  return { port: options.port, service, command };
}
