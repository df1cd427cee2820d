import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { ConnectConfig, SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintOf, startSshTarget, type SshTarget } from '../../src/demo/ssh-target.js';

const HAVE_SSHD = existsSync('/usr/sbin/sshd');
const KINDS: ReadonlyArray<'openssh' | 'ssh2'> = HAVE_SSHD ? ['openssh', 'ssh2'] : ['ssh2'];

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runCommand(file: string, args: readonly string[], input?: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) child.stdin?.end(input);
  });
}

function sshArgs(target: SshTarget, keyPath: string, command: string): string[] {
  return [
    '-F', '/dev/null',
    '-i', keyPath,
    '-p', String(target.port),
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'LogLevel=ERROR',
    `${target.user}@${target.host}`,
    command,
  ];
}

/** Connects with ssh2's client; resolves with the client and the host key fingerprint it was shown. */
function connect(target: SshTarget, auth: Pick<ConnectConfig, 'privateKey' | 'password'>): Promise<{ client: ssh2.Client; seen: string }> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let seen = '';
    client.once('ready', () => resolve({ client, seen }));
    client.once('error', reject);
    client.connect({
      host: target.host,
      port: target.port,
      username: target.user,
      ...auth,
      hostVerifier: (key: Buffer) => {
        seen = fingerprintOf(key);
        return seen === target.hostKeyFingerprint;
      },
      readyTimeout: 10_000,
    });
  });
}

function exec(client: ssh2.Client, command: string): Promise<{ code: number | undefined; stdout: string }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) return reject(err);
      let stdout = '';
      let code: number | undefined;
      channel.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      channel.on('exit', (c: number | null) => (code = c ?? undefined));
      channel.once('close', () => resolve({ code, stdout }));
    });
  });
}

function openSftp(client: ssh2.Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
}

/** Adapts an SFTP client method with a (err, result) callback to a promise. */
function call<T>(fn: (cb: (err: Error | null | undefined, result: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, result) => (err ? reject(err) : resolve(result))));
}

/** Processes whose command line mentions `text` (pgrep exits 1 when there are none). */
async function processesMentioning(text: string): Promise<string[]> {
  const { code, stdout } = await runCommand('pgrep', ['-f', text]);
  expect([0, 1]).toContain(code);
  return stdout.split('\n').filter((l) => l.trim() !== '');
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe.each(KINDS)('SSH target fixture (%s)', (kind) => {
  let target: SshTarget;
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-ssh-test-'));
    const t0 = performance.now();
    target = await startSshTarget({ prefer: kind });
    console.log(`ssh target kind=${target.kind} port=${target.port} user=${target.user} started in ${Math.round(performance.now() - t0)} ms`);
  });

  afterAll(async () => {
    await target?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it('is the kind that was asked for, with its key on disk', async () => {
    expect(target.kind).toBe(kind);
    expect(target.host).toBe('127.0.0.1');
    expect(target.privateKey).toContain('BEGIN OPENSSH PRIVATE KEY');
    expect(await readFile(target.privateKeyPath, 'utf8')).toBe(target.privateKey);
    expect(statSync(target.privateKeyPath).mode & 0o777).toBe(0o600);
    expect(target.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const publicKeyLine = await readFile(`${target.privateKeyPath}.pub`, 'utf8');
    const printed = await runCommand('ssh-keygen', ['-lf', `${target.privateKeyPath}.pub`]);
    expect(printed.stdout.split(/\s+/)[1]).toBe(fingerprintOf(Buffer.from(publicKeyLine.split(/\s+/)[1] ?? '', 'base64')));
    if (kind === 'ssh2') expect(target.password).toBeTruthy();
    else expect(target.password).toBeUndefined();
  });

  it('presents the host key whose fingerprint it reports, as OpenSSH computes it', async () => {
    const scan = await runCommand('ssh-keyscan', ['-p', String(target.port), '-t', 'ed25519', target.host]);
    expect(scan.stdout).toContain('ssh-ed25519');
    const printed = await runCommand('ssh-keygen', ['-lf', '-'], scan.stdout);
    expect(printed.code).toBe(0);
    expect(printed.stdout.split(/\s+/)[1]).toBe(target.hostKeyFingerprint);
  });

  it('runs a command for the OpenSSH client with separate stdout, stderr and exit status', async () => {
    const ran = await runCommand('ssh', sshArgs(target, target.privateKeyPath, 'echo hello; echo err >&2; exit 3'));
    expect(ran.stdout).toBe('hello\n');
    expect(ran.stderr).toContain('err');
    expect(ran.code).toBe(3);
  });

  it('refuses a key it was not given', async () => {
    const otherKey = path.join(scratch, 'other_ed25519');
    expect((await runCommand('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey])).code).toBe(0);
    const ran = await runCommand('ssh', sshArgs(target, otherKey, 'echo should-not-run'));
    expect(ran.code).toBe(255);
    expect(ran.stdout).not.toContain('should-not-run');
    expect(ran.stderr).toContain('Permission denied');
  });

  it('serves exec and SFTP to ssh2 clients that verify its host key', async () => {
    const { client, seen } = await connect(target, { privateKey: target.privateKey });
    try {
      expect(seen).toBe(target.hostKeyFingerprint);
      expect(await exec(client, 'printf abc')).toEqual({ code: 0, stdout: 'abc' });

      const sftp = await openSftp(client);
      const remote = path.join(scratch, 'round-trip.bin');
      const payload = Buffer.concat([Buffer.from('portcullis\n'), Buffer.alloc(300_000, 7)]);
      await call<void>((cb) => sftp.writeFile(remote, payload, (err) => cb(err, undefined)));
      expect((await call<Buffer>((cb) => sftp.readFile(remote, cb))).equals(payload)).toBe(true);
      expect((await readFile(remote)).equals(payload)).toBe(true);
      const listed = await call<Array<{ filename: string }>>((cb) => sftp.readdir(scratch, cb));
      expect(listed.map((e) => e.filename)).toContain('round-trip.bin');
      const moved = path.join(scratch, 'moved.bin');
      await call<void>((cb) => sftp.rename(remote, moved, (err) => cb(err, undefined)));
      expect((await call<{ size: number }>((cb) => sftp.stat(moved, cb))).size).toBe(payload.length);
      await call<void>((cb) => sftp.unlink(moved, (err) => cb(err, undefined)));
      expect(existsSync(moved)).toBe(false);
      sftp.end();
    } finally {
      client.end();
    }
  });

  it('copies files with scp (SFTP underneath)', async () => {
    const local = path.join(scratch, 'scp-source.txt');
    const remote = path.join(scratch, 'scp-target.txt');
    await writeFile(local, 'over scp\n');
    const ran = await runCommand('scp', [
      '-F', '/dev/null', '-i', target.privateKeyPath, '-P', String(target.port),
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR',
      local, `${target.user}@${target.host}:${remote}`,
    ]);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(await readFile(remote, 'utf8')).toBe('over scp\n');
  });

  it('gives an interactive shell that runs what is typed and reports its exit status', async () => {
    const { client } = await connect(target, { privateKey: target.privateKey });
    try {
      const result = await new Promise<{ code: number | undefined; output: string }>((resolve, reject) => {
        client.shell((err, channel) => {
          if (err) return reject(err);
          let output = '';
          let code: number | undefined;
          channel.on('data', (d: Buffer) => (output += d.toString()));
          channel.stderr.on('data', (d: Buffer) => (output += d.toString()));
          channel.on('exit', (c: number | null) => (code = c ?? undefined));
          channel.once('close', () => resolve({ code, output }));
          // Quotes split the word so the echoed input can't pass for the output.
          channel.end('echo shell""-ok; exit 5\n');
        });
      });
      expect(result.output).toContain('shell-ok');
      expect(result.code).toBe(5);
    } finally {
      client.end();
    }
  });

  it.runIf(kind === 'ssh2')('accepts its password and refuses a wrong one (ssh2 fallback only)', async () => {
    const { client } = await connect(target, { password: target.password ?? '' });
    try {
      expect((await exec(client, 'echo $HOME')).stdout.trim()).not.toBe('');
    } finally {
      client.end();
    }
    await expect(connect(target, { password: 'wrong' })).rejects.toThrow(/authentication/i);
  });

  it('close() stops the server and every session, and removes its dir', async () => {
    const { client } = await connect(target, { privateKey: target.privateKey });
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.on('error', () => {
      // The connection is cut by close(), which is the point.
    });
    // A sleep with a duration no other process uses, so it is findable by command line; "started"
    // says the user's shell startup files are done, so close() cuts a running command.
    const sleeper = `sleep 30.${target.port}`;
    const started = new Promise<void>((resolve, reject) => {
      client.exec(`echo started; ${sleeper}; true ${target.dir}`, (err, channel) => {
        if (err) return reject(err);
        channel.on('data', (d: Buffer) => d.toString().includes('started') && resolve());
      });
    });
    await started;
    const deadline = Date.now() + 5_000;
    while ((await processesMentioning(`^${sleeper}$`)).length === 0) {
      expect(Date.now(), `${sleeper} never showed up`).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 25));
    }
    const configPath = path.join(target.dir, 'sshd_config');
    if (kind === 'openssh') expect((await processesMentioning(configPath)).length).toBeGreaterThan(0);

    await target.close();

    await clientClosed;
    expect(await processesMentioning(configPath)).toEqual([]);
    expect(await processesMentioning(target.dir)).toEqual([]);
    expect(await processesMentioning(`^${sleeper}$`)).toEqual([]);
    expect(existsSync(target.dir)).toBe(false);
    expect(await portAccepts(target.port)).toBe(false);
  });
});

describe('startSshTarget without a preference', () => {
  it('runs sshd where installed, unless PORTCULLIS_TEST_SSHD=ssh2 asks for the fallback', async () => {
    const saved = process.env.PORTCULLIS_TEST_SSHD;
    try {
      process.env.PORTCULLIS_TEST_SSHD = 'ssh2';
      const fallback = await startSshTarget();
      await fallback.close();
      expect(fallback.kind).toBe('ssh2');
      delete process.env.PORTCULLIS_TEST_SSHD;
      const preferred = await startSshTarget();
      await preferred.close();
      expect(preferred.kind).toBe(HAVE_SSHD ? 'openssh' : 'ssh2');
    } finally {
      if (saved === undefined) delete process.env.PORTCULLIS_TEST_SSHD;
      else process.env.PORTCULLIS_TEST_SSHD = saved;
    }
  });
});
