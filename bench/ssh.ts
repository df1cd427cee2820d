/**
 * `npm run bench:ssh` — the SSH front door's cost (issue 7, point 10), measured with the
 * OpenSSH client against a local target (OpenSSH sshd where installed, else the built-in
 * one), directly and through the gateway, interleaved in the same run:
 *
 * 1. Throughput: `cat` of a BENCH_SSH_MB (200) MB text file (mostly clean log lines, one
 *    in 50 with an e-mail address), directly, through the gateway without masking and with
 *    masking (the default detectors) on — BENCH_SSH_RUNS (3) rounds, medians. Target:
 *    masked ≥ 0.5× direct throughput.
 * 2. Short commands: BENCH_SSH_EXECS (30) one-shot `ssh HOST true`, each a new connection
 *    (handshake, token check, policy, recording), directly and through the gateway:
 *    commands per second.
 *
 * The gateway runs in this process with recording on; the clients are separate processes.
 */
import { spawn } from 'node:child_process';
import { chmodSync, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config, MaskingProfileConfig, RuleConfig, SshConnectionConfig } from '../src/config/types.js';
import { startSshTarget, type SshTarget } from '../src/demo/ssh-target.js';
import { startDevIdp } from '../src/identity/dev-idp.js';
import { fetchAccessToken } from '../src/identity/token-client.js';
import { silentLogger } from '../src/log.js';
import { loadHostKey } from '../src/protocols/ssh/host-key.js';
import { startGateway } from '../src/server/gateway.js';
import { maskingProfile } from '../test/support/masking-profile.js';
import { sshConnection } from '../test/support/ssh-stack.js';
import { issuerConfig } from '../test/support/stack.js';
import { intEnv } from './support/env.js';
import { commandOf, reportFigures } from './support/report.js';
import { fmt, markdownTable, median } from './support/table.js';

const settings = {
  megabytes: intEnv('BENCH_SSH_MB', 200, 1),
  runs: intEnv('BENCH_SSH_RUNS', 3, 1),
  execs: intEnv('BENCH_SSH_EXECS', 30, 1),
};
const TARGET_RATIO = 0.5;

const RULES: RuleConfig[] = [
  {
    name: 'bench-commands',
    effect: 'allow',
    reason: undefined,
    review: undefined,
    when: { identity: undefined, sql: undefined, shell: { programs: ['cat', 'true'], args: undefined, writes: undefined, flags: undefined, unparseable: false } },
  },
];

const MASKING = maskingProfile('bench-detectors');

function connection(name: string, target: SshTarget, masking: readonly MaskingProfileConfig[]): SshConnectionConfig {
  return sshConnection(target, { name, rules: RULES, masking, target: { ...sshConnection(target).target, connectTimeoutMs: 10_000 } });
}

/** Log-like lines; one in 50 carries an e-mail address for the masker to find. */
async function writeTextFile(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  let written = 0;
  let i = 0;
  while (written < bytes) {
    let chunk = '';
    for (let j = 0; j < 1000; j++, i++) {
      chunk +=
        i % 50 === 0
          ? `2026-11-30T10:${String(i % 60).padStart(2, '0')}:00Z INFO  user${i}@example.com signed in from 10.0.${i % 255}.${i % 7}\n`
          : `2026-11-30T10:${String(i % 60).padStart(2, '0')}:00Z DEBUG request ${i} served in ${i % 97} ms, cache hit ratio ${(i % 100) / 100}\n`;
    }
    written += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

interface Timed {
  readonly seconds: number;
  readonly bytes: number;
  readonly code: number | null;
  readonly stderr: string;
}

/** Runs ssh, counting stdout bytes (discarded) and timing it. */
function timedSsh(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('ssh', [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (bytes += d.length));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, bytes, code, stderr }));
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-ssh-'));
  const target = await startSshTarget();
  const idp = await startDevIdp({ port: 0, clients: [{ clientId: 'agent', clientSecret: 'agent-secret', groups: ['agents'] }], audience: 'portcullis' });
  const config: Config = {
    file: '<bench>',
    dataDir: path.join(dir, 'data'),
    log: { level: 'warn' },
    identity: { issuers: [issuerConfig(idp.issuer, { maxTokenAgeMs: 86_400_000 })] },
    postgres: undefined,
    ssh: { host: '127.0.0.1', port: 0, hostKeyFile: undefined, tokenExpiryGraceMs: 0, authTimeoutMs: 30_000, outputFlushMs: 50 },
    sql: { extraDangerousFunctions: [] },
    recording: { durability: 'process', writer: 'thread' },
    rules: RULES,
    masking: [MASKING],
    connections: [connection('masked', target, [MASKING]), connection('plain', target, [])],
  };
  const gateway = await startGateway(config, silentLogger);
  try {
    const file = path.join(dir, 'big.log');
    await writeTextFile(file, settings.megabytes * 1e6);
    const token = (await fetchAccessToken({ issuer: idp.issuer, clientId: 'agent', clientSecret: 'agent-secret' })).accessToken;
    const askpass = path.join(dir, 'askpass.sh');
    writeFileSync(askpass, '#!/bin/sh\nprintf "%s\\n" "$BENCH_TOKEN"\n');
    chmodSync(askpass, 0o755);
    const knownHosts = path.join(dir, 'known_hosts');
    writeFileSync(knownHosts, `[127.0.0.1]:${gateway.ssh!.port} ${loadHostKey(config.dataDir, undefined).publicKey}\n`);
    const common = ['-F', '/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=no'];
    const direct = [...common, '-i', target.privateKeyPath, '-p', String(target.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes', `${target.user}@127.0.0.1`];
    const viaGateway = (name: string): string[] => [
      ...common, '-p', String(gateway.ssh!.port), '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'PubkeyAuthentication=no',
      '-o', 'PreferredAuthentications=password', `${name}@127.0.0.1`,
    ];
    const env = { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', BENCH_TOKEN: token };

    console.log(`bench:ssh — target ${target.kind === 'openssh' ? 'OpenSSH sshd' : 'built-in ssh2 target'}, ${settings.megabytes} MB file, ${settings.runs} rounds, ${settings.execs} short commands; ${os.cpus().length} cores, Node ${process.version}\n`);
    const paths = { direct, 'gateway, no masking': viaGateway('plain'), 'gateway, masking': viaGateway('masked') } as const;
    const seconds: Record<keyof typeof paths, number[]> = { direct: [], 'gateway, no masking': [], 'gateway, masking': [] };
    let maskedLeak = false;
    for (let round = 0; round < settings.runs; round++) {
      for (const [name, args] of Object.entries(paths) as Array<[keyof typeof paths, string[]]>) {
        const result = await timedSsh([...args, `cat ${file}`], env);
        if (result.code !== 0) throw new Error(`${name}: ssh exited ${result.code}: ${result.stderr}`);
        if (result.bytes < settings.megabytes * 1e6 * 0.9) throw new Error(`${name}: only ${result.bytes} bytes arrived`);
        seconds[name].push(result.seconds);
      }
    }
    // The masked path must really mask: a separate, short check.
    const sample = await new Promise<string>((resolve) => {
      const child = spawn('ssh', [...paths['gateway, masking'], `cat ${file}`], { env, stdio: ['ignore', 'pipe', 'ignore'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.length > 1_000_000) child.kill();
      });
      child.once('close', () => resolve(text));
    });
    maskedLeak = /@example\.com/.test(sample);
    const mbps = (name: keyof typeof paths): number => settings.megabytes / median(seconds[name]);
    const rows = (Object.keys(paths) as Array<keyof typeof paths>).map((name) => [
      name,
      seconds[name].map((s) => fmt(s, 2)).join(', '),
      fmt(median(seconds[name]), 2),
      fmt(mbps(name), 1),
      fmt(mbps(name) / mbps('direct'), 2),
    ]);
    console.log(markdownTable(['path', 'seconds per round', 'median s', 'MB/s', '× direct'], rows, ['left', 'left', 'right', 'right', 'right']));
    const ratio = mbps('gateway, masking') / mbps('direct');
    console.log(`\nmasked throughput ${fmt(ratio, 2)}× direct (target ≥ ${TARGET_RATIO}×): ${ratio >= TARGET_RATIO ? 'met' : 'MISSED'}; e-mails in masked output: ${maskedLeak ? 'LEAKED' : 'none'}\n`);

    const execSeconds: Record<'direct' | 'gateway', number[]> = { direct: [], gateway: [] };
    for (let i = 0; i < settings.execs; i++) {
      for (const [name, args] of [['direct', direct], ['gateway', viaGateway('masked')]] as const) {
        const result = await timedSsh([...args, 'true'], env);
        if (result.code !== 0) throw new Error(`${name}: ssh true exited ${result.code}: ${result.stderr}`);
        execSeconds[name].push(result.seconds);
      }
    }
    console.log(
      markdownTable(
        ['path', 'median s per command', 'commands/s (sequential)'],
        (['direct', 'gateway'] as const).map((name) => [name, fmt(median(execSeconds[name]), 3), fmt(1 / median(execSeconds[name]), 1)]),
        ['left', 'right', 'right'],
      ),
    );
    console.log(`\nEach short command is a new ssh connection (handshake, authentication, one exec); through the gateway also a token check, a policy decision and a recorded operation.`);
    reportFigures({
      bench: 'bench:ssh',
      command: commandOf('bench:ssh', 'BENCH_SSH_'),
      figures: [
        { name: `${settings.megabytes} MB cat with masking, throughput ÷ direct`, value: ratio, unit: '×', target: { op: '>=', value: TARGET_RATIO }, issue: '7' },
        { name: `${settings.megabytes} MB cat without masking, throughput ÷ direct`, value: mbps('gateway, no masking') / mbps('direct'), unit: '×' },
        { name: 'short commands (new connection each), gateway ÷ direct commands/s', value: median(execSeconds.direct) / median(execSeconds.gateway), unit: '×' },
      ],
    });
    if (ratio < TARGET_RATIO || maskedLeak) process.exitCode = 1;
  } finally {
    await gateway.close();
    await idp.close();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
