/**
 * A real SSH stack for integration tests: an SSH target (OpenSSH sshd where installed, else
 * the ssh2-based stand-in — see ssh-target.ts), the dev OIDC issuer and the gateway with its
 * SSH front door, each on an ephemeral loopback port. Agents are driven with ssh2's client
 * and with the OpenSSH `ssh` client (token as the password, through SSH_ASKPASS).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { Config, MaskingProfileConfig, RuleConfig, SshConnectionConfig, SshListenerConfig } from '../../src/config/types.js';
import { startDevIdp, type DevClient, type DevIdp } from '../../src/identity/dev-idp.js';
import { fetchAccessToken } from '../../src/identity/token-client.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { fingerprintOf } from '../../src/protocols/ssh/host-key.js';
import { startGateway, type Gateway } from '../../src/server/gateway.js';
import { startSshTarget, type SshTarget } from '../../src/demo/ssh-target.js';
import { AGENT, APPROVER, AUDITOR, issuerConfig, OUTSIDER } from './stack.js';

export interface SshStackOptions {
  readonly rules?: readonly RuleConfig[];
  readonly defaultEffect?: 'allow' | 'deny';
  readonly masking?: readonly MaskingProfileConfig[];
  /** More SSH connections to the same target (e.g. one with a wrong host key). */
  readonly extraConnections?: (target: SshTarget) => SshConnectionConfig[];
  readonly listener?: Partial<SshListenerConfig>;
  readonly debugLogs?: boolean;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit status, or null when the command ended by a signal or no status came. */
  readonly code: number | null;
}

export interface SshStack {
  readonly target: SshTarget;
  readonly idp: DevIdp;
  readonly gateway: Gateway;
  readonly port: number;
  readonly dataDir: string;
  token(client?: DevClient): Promise<string>;
  /** An authenticated ssh2 client on connection `connection` (default `box`). */
  connect(options?: { connection?: string; token?: string }): Promise<ssh2.Client>;
  /** Runs one command through the gateway with ssh2's client. */
  exec(command: string, options?: { connection?: string; token?: string; stdin?: string }): Promise<ExecResult>;
  /** Runs one command through the gateway with the OpenSSH client, pinning the gateway's host key. */
  openssh(args: readonly string[], options?: { connection?: string; token?: string }): Promise<ExecResult>;
  close(): Promise<void>;
}

export function sshConnection(target: SshTarget, overrides: Partial<SshConnectionConfig> = {}): SshConnectionConfig {
  return {
    name: 'box',
    type: 'ssh',
    target: {
      host: target.host,
      port: target.port,
      user: target.user,
      privateKey: target.privateKey,
      passphrase: undefined,
      password: target.privateKey === undefined ? target.password : undefined,
      hostKeys: [target.hostKeyFingerprint],
      connectTimeoutMs: 5_000,
    },
    access: { groups: ['agents'], subjects: [], clients: [] },
    rules: [],
    defaultEffect: 'deny',
    masking: [],
    recordResultRows: 0,
    ...overrides,
  };
}

export async function startSshStack(options: SshStackOptions = {}): Promise<SshStack> {
  const target = await startSshTarget();
  const idp = await startDevIdp({ port: 0, clients: [AGENT, OUTSIDER, APPROVER, AUDITOR], audience: 'portcullis' });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-ssh-it-'));
  const rules = options.rules ?? [];
  const config: Config = {
    file: '<test>',
    dataDir,
    log: { level: 'debug' },
    identity: { issuers: [issuerConfig(idp.issuer)] },
    postgres: undefined,
    ssh: { host: '127.0.0.1', port: 0, hostKeyFile: undefined, tokenExpiryGraceMs: 0, authTimeoutMs: 10_000, outputFlushMs: 50, ...options.listener },
    sql: { extraDangerousFunctions: [] },
    recording: { durability: 'process', writer: 'thread' },
    rules,
    masking: options.masking ?? [],
    connections: [
      sshConnection(target, { rules, defaultEffect: options.defaultEffect ?? 'deny', masking: options.masking ?? [] }),
      ...(options.extraConnections?.(target) ?? []),
    ],
  };
  const gateway = await startGateway(config, options.debugLogs ? createLogger('debug') : silentLogger);
  const port = gateway.ssh!.port;
  const token = async (client: DevClient = AGENT): Promise<string> =>
    (await fetchAccessToken({ issuer: idp.issuer, clientId: client.clientId, clientSecret: client.clientSecret })).accessToken;
  const connect = async (o: { connection?: string; token?: string } = {}): Promise<ssh2.Client> => {
    const password = o.token ?? (await token());
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      client.once('ready', () => resolve(client));
      client.once('error', reject);
      client.connect({
        host: '127.0.0.1',
        port,
        username: o.connection ?? 'box',
        password,
        readyTimeout: 10_000,
        hostVerifier: (key: Buffer) => fingerprintOf(key) === gateway.sshHostKey,
      });
    });
  };
  const askpass = path.join(dataDir, 'askpass.sh');
  writeFileSync(askpass, '#!/bin/sh\nprintf "%s\\n" "$PORTCULLIS_TEST_TOKEN"\n');
  chmodSync(askpass, 0o755);
  const knownHosts = path.join(dataDir, 'known_hosts');
  return {
    target,
    idp,
    gateway,
    port,
    dataDir,
    token,
    connect,
    async exec(command, o = {}) {
      const client = await connect(o);
      try {
        return await execOn(client, command, o.stdin);
      } finally {
        client.end();
      }
    },
    async openssh(args, o = {}) {
      const password = o.token ?? (await token());
      writeFileSync(knownHosts, `[127.0.0.1]:${port} ${gatewayPublicKey(dataDir)}\n`);
      return run(
        'ssh',
        [
          '-p', String(port),
          '-o', `UserKnownHostsFile=${knownHosts}`,
          '-o', 'StrictHostKeyChecking=yes',
          '-o', 'PubkeyAuthentication=no',
          '-o', 'PreferredAuthentications=password,keyboard-interactive',
          '-o', 'NumberOfPasswordPrompts=1',
          '-o', 'LogLevel=ERROR',
          '-F', '/dev/null',
          `${o.connection ?? 'box'}@127.0.0.1`,
          ...args,
        ],
        { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', PORTCULLIS_TEST_TOKEN: password },
      );
    },
    async close() {
      await gateway.close();
      await idp.close();
      await target.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `ssh-ed25519 AAAA…` of the host key the gateway generated in its data directory. */
function gatewayPublicKey(dataDir: string): string {
  return readFileSync(path.join(dataDir, 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

export function execOn(client: ssh2.Client, command: string, stdin?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      channel.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      channel.on('exit', (c: number | null) => (code = c));
      channel.on('close', () => resolve({ stdout, stderr, code }));
      if (stdin !== undefined) channel.end(stdin);
      else channel.end();
    });
  });
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(file, [...args], { env, timeout: 30_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ stdout, stderr, code });
    });
  });
}
