/**
 * A local SSH target for the demo and the integration tests of the SSH front door.
 *
 * The preferred target is OpenSSH's own sshd, run as the current user from a temp dir with its
 * own config, a generated host key and a generated client key (the system's sshd is untouched).
 * Where sshd is not installed (or PORTCULLIS_TEST_SSHD=ssh2), a small built-in `ssh2`-based
 * server stands in: a stand-in, good enough to drive exec, a pipe-backed shell and SFTP against
 * the real filesystem, used only where sshd can't run. Behaviour the gateway relies on is
 * proven against OpenSSH. Either runs commands as the current user on this machine: only the
 * gateway's policy stands between an agent and them.
 */
import { fingerprintOf } from '../protocols/ssh/host-key.js';
import { SftpStatus } from '../protocols/ssh/sftp-status.js';
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, constants as fsConstants, type Stats } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, open, readdir, readFile, realpath, rename, rm, rmdir, stat, truncate, unlink, utimes, writeFile, chown, type FileHandle } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { Attributes, Connection, FileEntry, ParsedKey, ServerChannel, Session, SFTPWrapper } from 'ssh2';

export interface SshTarget {
  /** Which implementation is running (tests print it). */
  readonly kind: 'openssh' | 'ssh2';
  readonly host: string;
  readonly port: number;
  /** The user to log in as: the current OS user. */
  readonly user: string;
  /** OpenSSH-format ed25519 private key authorized for `user`. */
  readonly privateKey: string;
  /** The same key on disk (mode 0600), for `ssh -i`. */
  readonly privateKeyPath: string;
  /** Only the ssh2 fallback accepts a password; OpenSSH mode is key-only. */
  readonly password?: string;
  /** "SHA256:<base64 without padding>" of the host key, as `ssh-keygen -lf` prints it. */
  readonly hostKeyFingerprint: string;
  /** Temp dir holding the target's config and keys; removed by close(). */
  readonly dir: string;
  close(): Promise<void>;
}

export interface StartSshTargetOptions {
  readonly prefer?: 'openssh' | 'ssh2';
  /** Listen on this port (default: a free one). */
  readonly port?: number;
}

export class SshTargetError extends Error {
  override readonly name = 'SshTargetError';
}

const SSHD_PATH = '/usr/sbin/sshd';
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 10_000;
const KILL_GRACE_MS = 2_000;
const STDERR_KEEP_BYTES = 8 * 1024;
const BIND_ATTEMPTS = 4;

/**
 * Starts OpenSSH sshd when /usr/sbin/sshd exists (unless PORTCULLIS_TEST_SSHD=ssh2), else the ssh2
 * fallback. An explicit `prefer` wins over the variable; 'openssh' still falls back where sshd is
 * missing. An sshd that exists but fails to start is an error, not a reason to fall back.
 */
export async function startSshTarget(options: StartSshTargetOptions = {}): Promise<SshTarget> {
  const prefer = options.prefer ?? (process.env.PORTCULLIS_TEST_SSHD === 'ssh2' ? 'ssh2' : 'openssh');
  if (prefer === 'openssh' && existsSync(SSHD_PATH)) return startOpenSsh(options.port);
  return startSsh2Target(options.port);
}

export { fingerprintOf };

/** The wire-format blob of an `authorized_keys`-style line ("ssh-ed25519 AAAA… comment"). */
function blobOfPublicKeyLine(line: string): Buffer {
  const base64 = line.trim().split(/\s+/)[1];
  if (base64 === undefined) throw new SshTargetError(`not an SSH public key line: ${JSON.stringify(line)}`);
  return Buffer.from(base64, 'base64');
}

function currentUser(): { name: string; home: string } {
  const info = os.userInfo();
  // sshd falls back to / when the home directory is missing; do the same so commands still run.
  const home = info.homedir && existsSync(info.homedir) ? info.homedir : '/';
  return { name: info.username, home };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(file: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new SshTargetError(`${file} ${args.join(' ')} exited ${code}: ${stderr.trim()}`))));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ───────────────────────────── OpenSSH sshd ─────────────────────────────

/** Keeps the tail of a stream, so a failure can quote what sshd said last. */
class Tail {
  private text = '';
  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > STDERR_KEEP_BYTES * 2) this.text = this.text.slice(-STDERR_KEEP_BYTES);
  }
  toString(): string {
    return this.text.slice(-STDERR_KEEP_BYTES);
  }
}

function sshdConfig(dir: string, port: number): string {
  return [
    `ListenAddress ${HOST}`,
    `Port ${port}`,
    `HostKey ${path.join(dir, 'host_ed25519')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    // The temp dir lives under /tmp (world-writable): StrictModes would reject the key file.
    'StrictModes no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    // internal-sftp: no dependency on where the distribution put sftp-server.
    'Subsystem sftp internal-sftp',
    'AllowTcpForwarding yes',
    'AllowAgentForwarding yes',
    'PermitTTY yes',
    // Keep session output to what the command printed.
    'PrintMotd no',
    'PrintLastLog no',
    // A login shell's rc files may run `pyenv rehash`, which waits up to 60 s for a lock left
    // by a session that was cut off (as tests do): wait 1 s at most.
    'SetEnv PYENV_REHASH_TIMEOUT=1',
    'LogLevel VERBOSE',
    '',
  ].join('\n');
}

async function startOpenSsh(fixedPort: number | undefined): Promise<SshTarget> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-sshd-'));
  try {
    const hostKeyPath = path.join(dir, 'host_ed25519');
    const privateKeyPath = path.join(dir, 'client_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'portcullis-target-host', '-f', hostKeyPath]);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'portcullis-target-client', '-f', privateKeyPath]);
    await writeFile(path.join(dir, 'authorized_keys'), await readFile(`${privateKeyPath}.pub`, 'utf8'), { mode: 0o600 });
    const hostKeyFingerprint = fingerprintOf(blobOfPublicKeyLine(await readFile(`${hostKeyPath}.pub`, 'utf8')));
    const privateKey = await readFile(privateKeyPath, 'utf8');
    // As root, sshd refuses to start without its privilege-separation directory.
    if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

    const configPath = path.join(dir, 'sshd_config');
    for (let attempt = 1; ; attempt++) {
      const port = fixedPort ?? (await freePort());
      await writeFile(configPath, sshdConfig(dir, port), { mode: 0o600 });
      const started = await launchSshd(configPath, port);
      if (started.ok) {
        return {
          kind: 'openssh',
          host: HOST,
          port,
          user: currentUser().name,
          privateKey,
          privateKeyPath,
          hostKeyFingerprint,
          dir,
          close: once(async () => {
            await stopProcessTree(started.proc);
            await rm(dir, { recursive: true, force: true });
          }),
        };
      }
      // Someone took the port between our probe and sshd's bind: pick another.
      if (!started.bindFailed || fixedPort !== undefined || attempt >= BIND_ATTEMPTS) throw new SshTargetError(started.message);
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

type Launch = { ok: true; proc: ChildProcess } | { ok: false; bindFailed: boolean; message: string };

async function launchSshd(configPath: string, port: number): Promise<Launch> {
  const proc = spawn(SSHD_PATH, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr = new Tail();
  let listening = false;
  let exited = false;
  let spawnError: Error | undefined;
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr.append(d);
    if (d.includes(`Server listening on ${HOST} port ${port}`)) listening = true;
  });
  proc.once('exit', () => (exited = true));
  proc.once('error', (err) => {
    spawnError = err;
    exited = true;
  });
  const unhook = killOnExit(proc);

  const deadline = Date.now() + START_TIMEOUT_MS;
  const fail = async (why: string): Promise<Launch> => {
    unhook();
    await stopProcessTree(proc);
    const said = stderr.toString();
    return {
      ok: false,
      bindFailed: /Address already in use|Cannot bind any address/.test(said),
      message: `sshd did not start on ${HOST}:${port}: ${why}${spawnError ? ` (${spawnError.message})` : ''}\n--- sshd stderr ---\n${said}`,
    };
  };
  // "Server listening" proves that *this* sshd owns the port; the banner proves it serves it.
  while (!listening) {
    if (exited) return fail(`it exited (code ${proc.exitCode ?? proc.signalCode})`);
    if (Date.now() > deadline) return fail(`no "Server listening" line within ${START_TIMEOUT_MS} ms`);
    await sleep(20);
  }
  while (!(await answersSshBanner(port))) {
    if (exited) return fail(`it exited (code ${proc.exitCode ?? proc.signalCode})`);
    if (Date.now() > deadline) return fail(`no SSH banner within ${START_TIMEOUT_MS} ms`);
    await sleep(50);
  }
  proc.once('exit', unhook);
  return { ok: true, proc };
}

function answersSshBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    let seen = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      seen += d;
      if (seen.includes('SSH-2.0-')) done(true);
      else if (seen.length > 4096) done(false);
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/** If the test process dies without close(), don't leave sshd listening behind it. */
function killOnExit(proc: ChildProcess): () => void {
  const kill = (): void => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.once('exit', kill);
  return () => process.removeListener('exit', kill);
}

/**
 * Stops sshd and everything it forked. sshd's per-connection children call setsid() and
 * outlive the listener by design (a restart must not cut sessions), so they are found by
 * parentage before the listener goes away and signalled by pid.
 */
async function stopProcessTree(proc: ChildProcess): Promise<void> {
  const pid = proc.pid;
  if (pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const table = await processTable();
  await terminate([pid, ...descendantsOf(pid, table)]);
  await exited;
}

/**
 * SIGTERM, a grace period, then SIGKILL for whatever still runs. Not SIGKILL at once: shells
 * run their EXIT traps on SIGTERM, and root's ~/.bashrc here starts pyenv's rehash, whose lock
 * file, left behind by a SIGKILL, makes every later login wait 60 s for it.
 */
async function terminate(pids: readonly number[]): Promise<void> {
  for (const p of pids) signal(p, 'SIGTERM');
  const deadline = Date.now() + KILL_GRACE_MS;
  let alive = pids;
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(25);
    alive = (await Promise.all(alive.map(async (p) => ((await isRunning(p)) ? [p] : [])))).flat();
  }
  for (const p of alive) signal(p, 'SIGKILL');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly pgrp: number;
  readonly zombie: boolean;
}

function parseProcStat(pid: number, statLine: string): ProcessEntry {
  // "pid (comm) state ppid pgrp …": comm may hold spaces and parens, so split after the last ')'.
  const [state, ppid, pgrp] = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(ppid), pgrp: Number(pgrp), zombie: state === 'Z' };
}

/** Every process, from /proc (empty where there is none: then only direct children are stopped). */
async function processTable(): Promise<ProcessEntry[]> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return [];
  }
  const entries = await Promise.all(
    names
      .filter((n) => /^\d+$/.test(n))
      .map((n) =>
        readFile(`/proc/${n}/stat`, 'utf8').then(
          (line) => parseProcStat(Number(n), line),
          () => undefined, // It ended while we looked.
        ),
      ),
  );
  return entries.filter((e) => e !== undefined && !e.zombie) as ProcessEntry[];
}

/** False once the process has exited, zombies included (PID 1 here does not always reap orphans). */
async function isRunning(pid: number): Promise<boolean> {
  if (!existsSync('/proc/self')) {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
  try {
    return !parseProcStat(pid, await readFile(`/proc/${pid}/stat`, 'utf8')).zombie;
  } catch {
    return false;
  }
}

function descendantsOf(root: number, table: readonly ProcessEntry[]): number[] {
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const e of table) {
      if (e.ppid === parent) {
        found.push(e.pid);
        queue.push(e.pid);
      }
    }
  }
  return found;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

// ───────────────────────────── ssh2 fallback (test double) ─────────────────────────────

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function parsedKey(data: string): ParsedKey {
  const key = ssh2.utils.parseKey(data);
  if (key instanceof Error) throw new SshTargetError(`ssh2 could not parse a generated key: ${key.message}`);
  return key;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

async function startSsh2Target(fixedPort: number | undefined): Promise<SshTarget> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-ssh2-'));
  try {
    const user = currentUser();
    const host = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'portcullis-target-host' });
    const client = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'portcullis-target-client' });
    const privateKeyPath = path.join(dir, 'client_ed25519');
    await writeFile(privateKeyPath, client.private, { mode: 0o600 });
    await writeFile(`${privateKeyPath}.pub`, `${client.public}\n`, { mode: 0o644 });
    await writeFile(path.join(dir, 'host_ed25519.pub'), `${host.public}\n`, { mode: 0o644 });
    const hostKey = parsedKey(host.private);
    const clientKey = parsedKey(client.public);
    const password = randomBytes(18).toString('base64url');

    const connections = new Set<Connection>();
    // Each command leads its own process group, so close() can find what it started in turn.
    const groups = new Set<number>();
    const server = new ssh2.Server({ hostKeys: [host.private], ident: 'portcullis-builtin-target' }, (conn) => {
      connections.add(conn);
      conn.on('close', () => connections.delete(conn));
      conn.on('error', () => {
        // A client that drops mid-handshake is routine in tests.
      });
      conn.on('authentication', (ctx) => {
        if (ctx.username !== user.name) return ctx.reject();
        if (ctx.method === 'publickey') {
          if (ctx.key.algo !== clientKey.type || !sameBytes(ctx.key.data, clientKey.getPublicSSH())) return ctx.reject();
          // Without a signature the client only asks whether the key would do.
          if (ctx.signature !== undefined && (ctx.blob === undefined || clientKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true)) return ctx.reject();
          return ctx.accept();
        }
        if (ctx.method === 'password') {
          return sameBytes(Buffer.from(ctx.password), Buffer.from(password)) ? ctx.accept() : ctx.reject();
        }
        return ctx.reject(['publickey', 'password']);
      });
      conn.on('ready', () => {
        conn.on('session', (acceptSession) => serveSession(acceptSession(), user.home, groups));
        conn.on('tcpip', (accept, reject, info) => forwardTcp(accept, reject, info.destIP, info.destPort));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(fixedPort ?? 0, HOST, () => resolve());
    });
    const { port } = server.address() as net.AddressInfo;

    return {
      kind: 'ssh2',
      host: HOST,
      port,
      user: user.name,
      privateKey: client.private,
      privateKeyPath,
      password,
      hostKeyFingerprint: fingerprintOf(hostKey.getPublicSSH()),
      dir,
      close: once(async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const conn of connections) conn.end();
        const table = await processTable();
        await terminate(table.filter((e) => groups.has(e.pgrp)).map((e) => e.pid));
        await closed;
        await rm(dir, { recursive: true, force: true });
      }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function serveSession(session: Session, home: string, groups: Set<number>): void {
  let term: string | undefined;
  let child: ChildProcessWithoutNullStreams | undefined;
  // Like sshd without AcceptEnv: the client's variables are not applied.
  session.on('env', (_accept, reject) => reject?.());
  session.on('pty', (accept, _reject, info) => {
    term = info.term;
    accept?.();
  });
  session.on('window-change', (accept) => accept?.());
  session.on('signal', (accept, reject, info) => {
    try {
      child?.kill(`SIG${info.name}` as NodeJS.Signals);
      accept?.();
    } catch {
      // A signal name this platform doesn't know: refuse it rather than crash the test process.
      reject?.();
    }
  });
  const start = (channel: ServerChannel, args: string[]): void => {
    child = runInChannel(channel, args, home, term, groups);
  };
  session.on('exec', (accept, _reject, info) => start(accept(), ['-c', info.command]));
  // No real PTY here (that would need a native module): an interactive sh over pipes, which
  // prints its prompt to stderr and does no line editing. Good enough to type commands into.
  session.on('shell', (accept) => start(accept(), ['-i']));
  session.on('sftp', (accept) => serveSftp(accept(), home));
}

function runInChannel(channel: ServerChannel, args: string[], home: string, term: string | undefined, groups: Set<number>): ChildProcessWithoutNullStreams {
  const { name } = currentUser();
  const env: NodeJS.ProcessEnv = { HOME: home, USER: name, LOGNAME: name, SHELL: '/bin/sh', PATH: process.env.PATH ?? DEFAULT_PATH };
  if (term !== undefined) env.TERM = term;
  const child = spawn('/bin/sh', args, { cwd: home, env, stdio: 'pipe', detached: true });
  if (child.pid !== undefined) groups.add(child.pid);
  child.stdin.on('error', () => {
    // The command may exit without reading its input.
  });
  channel.pipe(child.stdin);
  child.stdout.pipe(channel, { end: false });
  child.stderr.pipe(channel.stderr, { end: false });
  child.once('error', (err) => channel.stderr.write(`${err.message}\n`));
  child.once('close', (code, sig) => {
    void Promise.all([drained(channel), drained(channel.stderr)]).then(() => {
      if (code !== null) channel.exit(code);
      else if (sig !== null) exitBySignal(channel, sig);
      else channel.exit(255);
      channel.end();
    });
  });
  // The client went away: end the command the way a closed session ends it.
  channel.once('close', () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) signal(-child.pid, 'SIGHUP');
  });
  return child;
}

function exitBySignal(channel: ServerChannel, sig: NodeJS.Signals): void {
  try {
    channel.exit(sig.replace(/^SIG/, ''), false, '');
  } catch {
    // The SSH protocol names only a few signals; report the others the way a shell would.
    channel.exit(128 + (os.constants.signals[sig] ?? 0));
  }
}

function drained(stream: NodeJS.WritableStream & { writableLength: number }): Promise<void> {
  return stream.writableLength === 0 ? Promise.resolve() : new Promise((resolve) => stream.once('drain', () => resolve()));
}

function forwardTcp(accept: () => ServerChannel, reject: () => void, host: string, port: number): void {
  const socket = net.connect({ host, port });
  socket.once('error', () => reject());
  socket.once('connect', () => {
    socket.removeAllListeners('error');
    const channel = accept();
    socket.on('error', () => channel.destroy());
    channel.on('error', () => socket.destroy());
    socket.pipe(channel).pipe(socket);
  });
}

// ── SFTP against the real filesystem ──

type OpenHandle = { kind: 'file'; file: FileHandle } | { kind: 'dir'; path: string; pending: FileEntry[] | undefined };

const { STATUS_CODE, OPEN_MODE } = ssh2.utils.sftp;
const READ_CHUNK_MAX = 256 * 1024;
const READDIR_BATCH = 100;


function statusOf(err: unknown): { code: number; message: string } {
  if (err instanceof SftpStatus) return { code: err.code, message: err.message };
  const code = (err as NodeJS.ErrnoException).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') return { code: STATUS_CODE.NO_SUCH_FILE, message };
  if (code === 'EACCES' || code === 'EPERM') return { code: STATUS_CODE.PERMISSION_DENIED, message };
  return { code: STATUS_CODE.FAILURE, message };
}

function attrsOf(s: Stats): Attributes {
  return { mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, atime: Math.floor(s.atimeMs / 1000), mtime: Math.floor(s.mtimeMs / 1000) };
}

/** An `ls -l`-like line: OpenSSH's sftp client shows it for `ls -l`. */
function longnameOf(name: string, s: Stats): string {
  const type = s.isDirectory() ? 'd' : s.isSymbolicLink() ? 'l' : '-';
  const bits = 'rwxrwxrwx'.replace(/./g, (ch, i: number) => (s.mode & (0o400 >> i) ? ch : '-'));
  const when = s.mtime.toISOString().slice(0, 16).replace('T', ' ');
  return `${type}${bits} ${s.nlink} ${s.uid} ${s.gid} ${s.size} ${when} ${name}`;
}

function openFlagsOf(pflags: number): number {
  const read = (pflags & OPEN_MODE.READ) !== 0;
  const write = (pflags & OPEN_MODE.WRITE) !== 0;
  let flags = read && write ? fsConstants.O_RDWR : write ? fsConstants.O_WRONLY : fsConstants.O_RDONLY;
  if (pflags & OPEN_MODE.APPEND) flags |= fsConstants.O_APPEND;
  if (pflags & OPEN_MODE.CREAT) flags |= fsConstants.O_CREAT;
  if (pflags & OPEN_MODE.TRUNC) flags |= fsConstants.O_TRUNC;
  if (pflags & OPEN_MODE.EXCL) flags |= fsConstants.O_EXCL;
  return flags;
}

async function applyAttrs(target: string | FileHandle, attrs: Partial<Attributes>): Promise<void> {
  const isHandle = typeof target !== 'string';
  if (typeof attrs.size === 'number') await (isHandle ? target.truncate(attrs.size) : truncate(target, attrs.size));
  if (typeof attrs.mode === 'number') await (isHandle ? target.chmod(attrs.mode & 0o7777) : chmod(target, attrs.mode & 0o7777));
  if (typeof attrs.uid === 'number' && typeof attrs.gid === 'number') await (isHandle ? target.chown(attrs.uid, attrs.gid) : chown(target, attrs.uid, attrs.gid));
  if (typeof attrs.atime === 'number' && typeof attrs.mtime === 'number') await (isHandle ? target.utimes(attrs.atime, attrs.mtime) : utimes(target, attrs.atime, attrs.mtime));
}

/** The parts of ssh2's server-side SFTP object that its typings leave out. */
interface SftpInternals {
  readonly _protocol?: { exitStatus?: (channelId: number, status: number) => void };
  readonly outgoing?: { id: number; state: string };
}

/**
 * sshd reports sftp-server's exit status 0 when the session ends; OpenSSH's scp and sftp exit 1
 * without one. ssh2's SFTP server has no public way to send it, hence its internals (guarded).
 */
function sendExitStatusZero(sftp: SFTPWrapper): void {
  const internals = sftp as unknown as SftpInternals;
  const outgoing = internals.outgoing;
  if (outgoing?.state === 'open') internals._protocol?.exitStatus?.(outgoing.id, 0);
}

function serveSftp(sftp: SFTPWrapper, home: string): void {
  const handles = new Map<string, OpenHandle>();
  let nextHandle = 0;
  // Requests are served one at a time, as OpenSSH's sftp-server does: a CLOSE can never
  // overtake the WRITEs the client pipelined before it.
  let queue: Promise<void> = Promise.resolve();
  const resolvePath = (p: string): string => path.resolve(home, p === '' ? '.' : p);

  const newHandle = (h: OpenHandle): Buffer => {
    const id = Buffer.alloc(4);
    id.writeUInt32BE(nextHandle++);
    handles.set(id.toString('hex'), h);
    return id;
  };
  const handleOf = (id: Buffer): OpenHandle => {
    const h = handles.get(id.toString('hex'));
    if (h === undefined) throw new SftpStatus(STATUS_CODE.FAILURE, 'invalid handle');
    return h;
  };
  const fileOf = (id: Buffer): FileHandle => {
    const h = handleOf(id);
    if (h.kind !== 'file') throw new SftpStatus(STATUS_CODE.FAILURE, 'not a file handle');
    return h.file;
  };
  const serve = <A extends unknown[]>(work: (reqId: number, ...args: A) => Promise<void>) => {
    return (reqId: number, ...args: A): void => {
      queue = queue.then(() =>
        work(reqId, ...args).catch((err: unknown) => {
          const { code, message } = statusOf(err);
          sftp.status(reqId, code, message);
        }),
      );
    };
  };
  const ok = (reqId: number): void => sftp.status(reqId, STATUS_CODE.OK);

  sftp.on('OPEN', serve(async (reqId, filename: string, flags: number, attrs: Attributes) => {
    const mode = typeof attrs?.mode === 'number' ? attrs.mode & 0o7777 : 0o666;
    const file = await open(resolvePath(filename), openFlagsOf(flags), mode);
    sftp.handle(reqId, newHandle({ kind: 'file', file }));
  }));
  sftp.on('READ', serve(async (reqId, id: Buffer, offset: number, length: number) => {
    const buf = Buffer.alloc(Math.min(length, READ_CHUNK_MAX));
    const { bytesRead } = await fileOf(id).read(buf, 0, buf.length, offset);
    if (bytesRead === 0) sftp.status(reqId, STATUS_CODE.EOF);
    else sftp.data(reqId, buf.subarray(0, bytesRead));
  }));
  sftp.on('WRITE', serve(async (reqId, id: Buffer, offset: number, data: Buffer) => {
    await fileOf(id).write(data, 0, data.length, offset);
    ok(reqId);
  }));
  sftp.on('FSTAT', serve(async (reqId, id: Buffer) => {
    sftp.attrs(reqId, attrsOf(await fileOf(id).stat()));
  }));
  sftp.on('FSETSTAT', serve(async (reqId, id: Buffer, attrs: Attributes) => {
    await applyAttrs(fileOf(id), attrs);
    ok(reqId);
  }));
  sftp.on('SETSTAT', serve(async (reqId, p: string, attrs: Attributes) => {
    await applyAttrs(resolvePath(p), attrs);
    ok(reqId);
  }));
  sftp.on('CLOSE', serve(async (reqId, id: Buffer) => {
    const h = handleOf(id);
    handles.delete(id.toString('hex'));
    if (h.kind === 'file') await h.file.close();
    ok(reqId);
  }));
  sftp.on('OPENDIR', serve(async (reqId, p: string) => {
    const dirPath = resolvePath(p);
    if (!(await stat(dirPath)).isDirectory()) throw new SftpStatus(STATUS_CODE.FAILURE, `${p} is not a directory`);
    sftp.handle(reqId, newHandle({ kind: 'dir', path: dirPath, pending: undefined }));
  }));
  sftp.on('READDIR', serve(async (reqId, id: Buffer) => {
    const h = handleOf(id);
    if (h.kind !== 'dir') throw new SftpStatus(STATUS_CODE.FAILURE, 'not a directory handle');
    if (h.pending === undefined) {
      const names = ['.', '..', ...(await readdir(h.path))];
      const entries = await Promise.all(
        names.map(async (filename) => {
          const s = await lstat(path.join(h.path, filename)).catch(() => undefined);
          return s && { filename, longname: longnameOf(filename, s), attrs: attrsOf(s) };
        }),
      );
      h.pending = entries.filter((e) => e !== undefined);
    }
    const batch = h.pending.splice(0, READDIR_BATCH);
    if (batch.length === 0) sftp.status(reqId, STATUS_CODE.EOF);
    else sftp.name(reqId, batch);
  }));
  sftp.on('STAT', serve(async (reqId, p: string) => {
    sftp.attrs(reqId, attrsOf(await stat(resolvePath(p))));
  }));
  sftp.on('LSTAT', serve(async (reqId, p: string) => {
    sftp.attrs(reqId, attrsOf(await lstat(resolvePath(p))));
  }));
  sftp.on('REMOVE', serve(async (reqId, p: string) => {
    await unlink(resolvePath(p));
    ok(reqId);
  }));
  sftp.on('RMDIR', serve(async (reqId, p: string) => {
    await rmdir(resolvePath(p));
    ok(reqId);
  }));
  sftp.on('MKDIR', serve(async (reqId, p: string, attrs: Attributes) => {
    await mkdir(resolvePath(p), { mode: typeof attrs?.mode === 'number' ? attrs.mode & 0o7777 : 0o777 });
    ok(reqId);
  }));
  sftp.on('RENAME', serve(async (reqId, from: string, to: string) => {
    const target = resolvePath(to);
    // SFTP v3 RENAME must not replace an existing file (OpenSSH's sftp-server refuses too).
    if (await lstat(target).then(() => true, () => false)) throw new SftpStatus(STATUS_CODE.FAILURE, `${to} already exists`);
    await rename(resolvePath(from), target);
    ok(reqId);
  }));
  sftp.on('REALPATH', serve(async (reqId, p: string) => {
    const lexical = resolvePath(p);
    const resolved = await realpath(lexical).catch(() => lexical);
    sftp.name(reqId, [{ filename: resolved, longname: resolved, attrs: {} as Attributes }]);
  }));
  // EOF from the client means it is done, as sftp-server exits on EOF: close the channel, or
  // OpenSSH's sftp and scp wait for that forever.
  sftp.on('end', () => {
    queue = queue.then(() => {
      sendExitStatusZero(sftp);
      sftp.end();
    });
  });
  sftp.on('close', () => {
    for (const h of handles.values()) if (h.kind === 'file') void h.file.close().catch(() => undefined);
    handles.clear();
  });
}
