/**
 * SFTP through the SSH front door, end to end: a real SSH target (OpenSSH sshd when
 * installed), the dev OIDC issuer and the gateway, driven by ssh2's SFTP client and by the
 * OpenSSH `sftp` and `scp` clients. Every request is decided on its absolute, normalized path
 * before it reaches the target (src/protocols/ssh/sftp-bridge.ts).
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileAction, RuleConfig } from '../../src/config/types.js';
import type { Identity } from '../../src/identity/identity.js';
import { main } from '../../src/cli/dispatch.js';
import { pollUntil } from '../support/poll.js';
import { sshConnection, startSshStack, type ExecResult, type SshStack } from '../support/ssh-stack.js';

/** SFTP status codes the tests look for (SSH_FX_*). */
const EOF = 1;
const PERMISSION_DENIED = 3;
const FAILURE = 4;

const HAVE_OPENSSH_SFTP = spawnSync('sftp', ['-h']).error === undefined && spawnSync('scp', ['-h']).error === undefined;

function fileRule(name: string, effect: RuleConfig['effect'], actions: FileAction[] | undefined, paths: string[] | undefined): RuleConfig {
  return {
    name,
    effect,
    reason: effect === 'allow' ? undefined : `${name}: not for agents.`,
    review:
      effect === 'review' ? { approvers: ['approvers'], minApprovals: 1, timeoutMs: 30_000, grant: { kind: 'once', ttlMs: 60_000 } } : undefined,
    when: { identity: undefined, sql: undefined, files: { actions, paths } },
  };
}

const SFTP_OK: RuleConfig = { name: 'sftp-ok', effect: 'allow', reason: undefined, review: undefined, when: { identity: undefined, sql: undefined, ssh: { actions: ['sftp'] } } };

/** The target user's home, as sshd resolves it (where relative paths start). */
function targetHome(): string {
  const home = os.userInfo().homedir;
  return home && existsSync(home) ? realpathSync(home) : '/';
}

let stack: SshStack;
/** realpath'd: the gateway matches the paths the target resolves, and /tmp may be a link. */
let scratch: string;
let local: string;
let home: string;

function rules(): RuleConfig[] {
  return [
    SFTP_OK,
    // OpenSSH's sftp asks where it is (REALPATH ".") before anything else.
    fileRule('home-stat', 'allow', ['stat'], [home]),
    fileRule('readable', 'allow', ['read', 'list', 'stat'], [scratch, `${scratch}/readable`, `${scratch}/readable/*`]),
    fileRule('writable', 'allow', ['read', 'write', 'list', 'stat', 'mkdir', 'rename', 'remove', 'rmdir', 'setstat', 'symlink'], [`${scratch}/writable`, `${scratch}/writable/*`]),
    fileRule('held', 'review', ['read'], [`${scratch}/readable/held-*`]),
    fileRule('no-system-files', 'deny', undefined, ['/etc/*']),
  ];
}

beforeAll(async () => {
  scratch = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'portcullis-sftp-')));
  local = mkdtempSync(path.join(os.tmpdir(), 'portcullis-sftp-local-'));
  home = targetHome();
  mkdirSync(path.join(scratch, 'readable'));
  mkdirSync(path.join(scratch, 'writable'));
  writeFileSync(path.join(scratch, 'readable', 'hello.txt'), 'hello through sftp\n');
  writeFileSync(path.join(scratch, 'readable', 'held-report.txt'), 'held until approved\n');
  writeFileSync(path.join(scratch, 'secret.txt'), 'top secret\n');
  const all = rules();
  stack = await startSshStack({
    rules: all,
    extraConnections: (target) => [sshConnection(target, { name: 'no-sftp', rules: all.filter((r) => r !== SFTP_OK) })],
  });
  console.log(`ssh target: ${stack.target.kind === 'openssh' ? 'OpenSSH sshd' : 'ssh2-based stand-in (sshd not installed)'}`);
}, 60_000);

afterAll(async () => {
  await stack?.close();
  rmSync(scratch, { recursive: true, force: true });
  rmSync(local, { recursive: true, force: true });
});

// ------------------------------------------------------------------ helpers

type SftpError = Error & { code?: number };

function openSftp(client: ssh2.Client): Promise<ssh2.SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
}

/** Runs `fn` on an SFTP session through the gateway, then disconnects. */
async function withSftp<T>(fn: (sftp: ssh2.SFTPWrapper) => Promise<T>, connection = 'box'): Promise<T> {
  const client = await stack.connect({ connection });
  try {
    return await fn(await openSftp(client));
  } finally {
    client.end();
  }
}

/** Promise form of an ssh2 SFTP call. */
function call<T = undefined>(send: (done: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => send((err, value) => (err ? reject(err) : resolve(value as T))));
}

/** The error an SFTP call failed with (fails the test when it succeeded). */
async function refusal(promise: Promise<unknown>): Promise<SftpError> {
  try {
    await promise;
  } catch (err) {
    return err as SftpError;
  }
  throw new Error('expected the request to be refused');
}

const readRemote = (sftp: ssh2.SFTPWrapper, file: string): Promise<Buffer> => call<Buffer>((done) => sftp.readFile(file, done));
const writeRemote = (sftp: ssh2.SFTPWrapper, file: string, data: string | Buffer): Promise<undefined> => call((done) => sftp.writeFile(file, data, done));
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(file, [...args], { env, timeout: 20_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error === null ? 0 : typeof error.code === 'number' ? error.code : null });
    });
  });
}

/**
 * Runs an OpenSSH client (`sftp`, `scp`) against the gateway: the token as the password
 * through SSH_ASKPASS, the gateway's host key pinned.
 */
async function opensshClient(program: 'sftp' | 'scp', args: readonly string[]): Promise<ExecResult> {
  const dir = mkdtempSync(path.join(local, 'openssh-'));
  const askpass = path.join(dir, 'askpass.sh');
  writeFileSync(askpass, '#!/bin/sh\nprintf "%s\\n" "$PORTCULLIS_TEST_TOKEN"\n');
  chmodSync(askpass, 0o755);
  const hostKey = readFileSync(path.join(stack.dataDir, 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const knownHosts = path.join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${stack.port} ${hostKey}\n`);
  const options = [
    '-P', String(stack.port),
    '-F', '/dev/null',
    '-o', `UserKnownHostsFile=${knownHosts}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'PubkeyAuthentication=no',
    '-o', 'PreferredAuthentications=password,keyboard-interactive',
    '-o', 'NumberOfPasswordPrompts=1',
    // sftp -b turns BatchMode on, which would forbid asking for the token; the first value wins.
    '-o', 'BatchMode=no',
    '-o', 'LogLevel=ERROR',
  ];
  const env = { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', PORTCULLIS_TEST_TOKEN: await stack.token() };
  return run(program, [...options, ...args], env);
}

function approver(subject: string): Identity {
  return { subject, clientId: subject, groups: ['approvers'], scopes: [], issuer: 'https://idp.example', expiresAt: Date.now() + 3_600_000 };
}

// ------------------------------------------------------------------ tests

describe('reading through SFTP', () => {
  it('reads an allowed file, its content intact', async () => {
    const content = await withSftp((sftp) => readRemote(sftp, `${scratch}/readable/hello.txt`));
    expect(content.toString('utf8')).toBe('hello through sftp\n');
  });

  it('refuses a file no rule allows with PERMISSION_DENIED, the message naming the rule', async () => {
    const err = await withSftp((sftp) => refusal(readRemote(sftp, `${scratch}/secret.txt`)));
    expect(err.code).toBe(PERMISSION_DENIED);
    expect(err.message).toContain(`${scratch}/secret.txt`);
    expect(err.message).toContain('[rule: default]');
  });

  it('refuses what a deny rule names, with its reason', async () => {
    const err = await withSftp((sftp) => refusal(readRemote(sftp, '/etc/passwd')));
    expect(err.code).toBe(PERMISSION_DENIED);
    expect(err.message).toContain('no-system-files: not for agents.');
    expect(err.message).toContain('[rule: no-system-files]');
  });

  it('resolves `..` before deciding: traversal out of an allowed directory is refused as the real path', async () => {
    const relativeFromHome = path.posix.relative(home, `${scratch}/readable`);
    const attempts = [
      `${scratch}/readable/../secret.txt`,
      `${scratch}/readable/./../readable/../secret.txt`,
      `${relativeFromHome}/../secret.txt`,
      `${scratch}/readable/../../../../../../../../etc/passwd`,
      '/var/log/../../etc/passwd',
    ];
    await withSftp(async (sftp) => {
      for (const attempt of attempts) {
        const err = await refusal(readRemote(sftp, attempt));
        expect(err.code, attempt).toBe(PERMISSION_DENIED);
        expect(err.message, attempt).not.toContain('..');
        expect(err.message, attempt).toMatch(new RegExp(`(${scratch}/secret\\.txt|/etc/passwd)`));
      }
      // The same traversal that stays inside an allowed directory is fine.
      expect((await readRemote(sftp, `${scratch}/writable/../readable/hello.txt`)).toString()).toBe('hello through sftp\n');
    });
  });

  it('lists an allowed directory, and refuses listing one no rule allows', async () => {
    await withSftp(async (sftp) => {
      const entries = await call<ssh2.FileEntryWithStats[]>((done) => sftp.readdir(`${scratch}/readable`, done));
      expect(entries.map((e) => e.filename).sort()).toEqual(['held-report.txt', 'hello.txt']);
      expect(entries.find((e) => e.filename === 'hello.txt')?.attrs.size).toBe('hello through sftp\n'.length);
      const top = await call<ssh2.FileEntryWithStats[]>((done) => sftp.readdir(scratch, done));
      expect(top.map((e) => e.filename).sort()).toEqual(['readable', 'secret.txt', 'writable']);
      const err = await refusal(call((done) => sftp.readdir(path.dirname(scratch), done)));
      expect(err.code).toBe(PERMISSION_DENIED);
    });
  });

  it('stats and resolves paths as `stat`: home and allowed paths answer, others are refused', async () => {
    await withSftp(async (sftp) => {
      expect(await call<string>((done) => sftp.realpath('.', done))).toBe(home);
      expect(await call<string>((done) => sftp.realpath(`${scratch}/readable/../readable`, done))).toBe(`${scratch}/readable`);
      const stats = await call<ssh2.Stats>((done) => sftp.stat(`${scratch}/readable/hello.txt`, done));
      expect(stats.isFile()).toBe(true);
      expect(stats.size).toBe('hello through sftp\n'.length);
      expect((await refusal(call((done) => sftp.stat(`${scratch}/secret.txt`, done)))).code).toBe(PERMISSION_DENIED);
      expect((await refusal(call((done) => sftp.lstat('/etc/hostname', done)))).code).toBe(PERMISSION_DENIED);
      // A missing file that may be stated: the target's own answer comes back.
      expect((await refusal(call((done) => sftp.stat(`${scratch}/readable/missing`, done)))).code).toBe(2);
    });
  });
});

describe('writing through SFTP', () => {
  it('writes an allowed file, which reads back the same', async () => {
    const file = `${scratch}/writable/notes.txt`;
    await withSftp(async (sftp) => {
      await writeRemote(sftp, file, 'written via the gateway\n');
      expect((await readRemote(sftp, file)).toString()).toBe('written via the gateway\n');
    });
    expect(readFileSync(file, 'utf8')).toBe('written via the gateway\n');
  });

  it('refuses writing where only reading is allowed, and nothing is created or changed', async () => {
    await withSftp(async (sftp) => {
      const err = await refusal(writeRemote(sftp, `${scratch}/readable/new.txt`, 'nope'));
      expect(err.code).toBe(PERMISSION_DENIED);
      expect(err.message).toContain('[rule: default]');
      expect((await refusal(writeRemote(sftp, `${scratch}/readable/hello.txt`, 'overwritten'))).code).toBe(PERMISSION_DENIED);
    });
    expect(existsSync(`${scratch}/readable/new.txt`)).toBe(false);
    expect(readFileSync(`${scratch}/readable/hello.txt`, 'utf8')).toBe('hello through sftp\n');
  });

  it('refuses a WRITE on a handle opened for reading, without asking again', async () => {
    await withSftp(async (sftp) => {
      const handle = await call<Buffer>((done) => sftp.open(`${scratch}/readable/hello.txt`, 'r', done));
      const err = await refusal(call((done) => sftp.write(handle, Buffer.from('XX'), 0, 2, 0, (e) => done(e))));
      expect(err.code).toBe(PERMISSION_DENIED);
      expect(err.message).toContain('opened for reading only');
      // The handle still works for what was granted.
      const buffer = Buffer.alloc(5);
      const read = await call<number>((done) => sftp.read(handle, buffer, 0, 5, 0, (e, n) => done(e, n)));
      expect(buffer.subarray(0, read).toString()).toBe('hello');
      await call((done) => sftp.close(handle, (e) => done(e)));
    });
    expect(readFileSync(`${scratch}/readable/hello.txt`, 'utf8')).toBe('hello through sftp\n');
  });

  it('removes where allowed, refuses elsewhere', async () => {
    writeFileSync(`${scratch}/writable/doomed.txt`, 'x');
    writeFileSync(`${scratch}/readable/keep.txt`, 'x');
    try {
      await withSftp(async (sftp) => {
        await call((done) => sftp.unlink(`${scratch}/writable/doomed.txt`, done));
        const err = await refusal(call((done) => sftp.unlink(`${scratch}/readable/keep.txt`, done)));
        expect(err.code).toBe(PERMISSION_DENIED);
        expect((await refusal(call((done) => sftp.unlink(`${scratch}/writable/../readable/keep.txt`, done)))).code).toBe(PERMISSION_DENIED);
      });
      expect(existsSync(`${scratch}/writable/doomed.txt`)).toBe(false);
      expect(existsSync(`${scratch}/readable/keep.txt`)).toBe(true);
    } finally {
      rmSync(`${scratch}/readable/keep.txt`, { force: true });
    }
  });

  it('renames within an allowed directory, refuses a rename whose destination is outside it', async () => {
    writeFileSync(`${scratch}/writable/move-me.txt`, 'moving');
    await withSftp(async (sftp) => {
      const err = await refusal(call((done) => sftp.rename(`${scratch}/writable/move-me.txt`, `${scratch}/readable/moved.txt`, done)));
      expect(err.code).toBe(PERMISSION_DENIED);
      expect(err.message).toContain(`${scratch}/readable/moved.txt`);
      await call((done) => sftp.rename(`${scratch}/writable/move-me.txt`, `${scratch}/writable/moved.txt`, done));
    });
    expect(existsSync(`${scratch}/readable/moved.txt`)).toBe(false);
    expect(readFileSync(`${scratch}/writable/moved.txt`, 'utf8')).toBe('moving');
  });

  it('makes and removes directories where allowed only', async () => {
    await withSftp(async (sftp) => {
      await call((done) => sftp.mkdir(`${scratch}/writable/sub`, done));
      expect(statSync(`${scratch}/writable/sub`).isDirectory()).toBe(true);
      expect((await refusal(call((done) => sftp.mkdir(`${scratch}/readable/sub`, done)))).code).toBe(PERMISSION_DENIED);
      expect((await refusal(call((done) => sftp.mkdir(`${scratch}/writable/../elsewhere`, done)))).code).toBe(PERMISSION_DENIED);
      await call((done) => sftp.rmdir(`${scratch}/writable/sub`, done));
    });
    expect(existsSync(`${scratch}/writable/sub`)).toBe(false);
    expect(existsSync(`${scratch}/readable/sub`)).toBe(false);
    expect(existsSync(`${scratch}/elsewhere`)).toBe(false);
  });

  it('changes attributes where allowed only (by path and by handle)', async () => {
    writeFileSync(`${scratch}/writable/mode.txt`, 'x');
    chmodSync(`${scratch}/writable/mode.txt`, 0o644);
    await withSftp(async (sftp) => {
      await call((done) => sftp.chmod(`${scratch}/writable/mode.txt`, 0o600, done));
      expect((await refusal(call((done) => sftp.chmod(`${scratch}/readable/hello.txt`, 0o600, done)))).code).toBe(PERMISSION_DENIED);
      // Opened for reading (allowed), but changing its mode is a separate decision.
      const handle = await call<Buffer>((done) => sftp.open(`${scratch}/readable/hello.txt`, 'r', done));
      expect((await refusal(call((done) => sftp.fchmod(handle, 0o600, done)))).code).toBe(PERMISSION_DENIED);
      await call((done) => sftp.close(handle, done));
    });
    expect(statSync(`${scratch}/writable/mode.txt`).mode & 0o777).toBe(0o600);
    expect(statSync(`${scratch}/readable/hello.txt`).mode & 0o777).not.toBe(0o600);
  });

  it('creates a symbolic link only when the link and where it points are both allowed', async (ctx) => {
    // The ssh2 stand-in target (where sshd is missing) has no SYMLINK.
    if (stack.target.kind !== 'openssh') ctx.skip();
    await withSftp(async (sftp) => {
      await call((done) => sftp.symlink('notes-target.txt', `${scratch}/writable/link`, done));
      // The link was created pointing at the absolute path that was decided.
      expect(await call<string>((done) => sftp.readlink(`${scratch}/writable/link`, done))).toBe(`${scratch}/writable/notes-target.txt`);
      const err = await refusal(call((done) => sftp.symlink('../../../../../../etc/shadow', `${scratch}/writable/evil`, done)));
      expect(err.code).toBe(PERMISSION_DENIED);
      expect(err.message).toContain('/etc/shadow');
    });
    expect(existsSync(`${scratch}/writable/evil`)).toBe(false);
  });

  it('moves large files intact both ways, with pipelined requests', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const source = path.join(local, 'big-upload.bin');
    writeFileSync(source, data);
    writeFileSync(`${scratch}/readable/big.bin`, data);
    const downloaded = path.join(local, 'big-download.bin');
    await withSftp(async (sftp) => {
      await call((done) => sftp.fastPut(source, `${scratch}/writable/big.bin`, { concurrency: 64 }, done));
      await call((done) => sftp.fastGet(`${scratch}/readable/big.bin`, downloaded, { concurrency: 64 }, done));
      // Sequential reads too (readFile), with its own read sizes.
      expect(sha256(await readRemote(sftp, `${scratch}/writable/big.bin`))).toBe(sha256(data));
    });
    expect(sha256(readFileSync(`${scratch}/writable/big.bin`))).toBe(sha256(data));
    expect(sha256(readFileSync(downloaded))).toBe(sha256(data));
  }, 60_000);
});

describe('handles and malformed requests', () => {
  it('answers FAILURE for a handle the gateway never gave, and EOF past the end', async () => {
    await withSftp(async (sftp) => {
      const bogus = [Buffer.from([0, 0, 0, 99]), Buffer.from('not-a-handle')];
      for (const handle of bogus) {
        const err = await refusal(call((done) => sftp.read(handle, Buffer.alloc(4), 0, 4, 0, (e, n) => done(e, n))));
        expect(err.code).toBe(FAILURE);
        expect(err.message).toBe('unknown handle');
        expect((await refusal(call((done) => sftp.close(handle, done)))).code).toBe(FAILURE);
      }
      const handle = await call<Buffer>((done) => sftp.open(`${scratch}/readable/hello.txt`, 'r', done));
      await call((done) => sftp.close(handle, done));
      // Closed: the handle is gone.
      expect((await refusal(call((done) => sftp.fstat(handle, done)))).code).toBe(FAILURE);
      const again = await call<Buffer>((done) => sftp.open(`${scratch}/readable/hello.txt`, 'r', done));
      const eof = await new Promise<Error | undefined>((resolve) => {
        const read = (err: Error | undefined): void => resolve(err);
        (read as unknown as { _wantEOFError: boolean })._wantEOFError = true;
        sftp.read(again, Buffer.alloc(4), 0, 4, 1_000, read);
      });
      expect((eof as SftpError | undefined)?.code).toBe(EOF);
      await call((done) => sftp.close(again, done));
    });
  });

  it('refuses a path with a NUL byte', async () => {
    const err = await withSftp((sftp) => refusal(call((done) => sftp.stat(`${scratch}/readable/hello.txt\0/../../secret.txt`, done))));
    expect(err.code).toBe(FAILURE);
    expect(err.message).toContain('NUL');
  });

  it('bounds the number of open handles', async () => {
    await withSftp(async (sftp) => {
      const handles: Buffer[] = [];
      // In batches: the bridge also bounds how many requests may wait for replies at once.
      for (let batch = 0; batch < 1024 / 128; batch++) {
        handles.push(...(await Promise.all(Array.from({ length: 128 }, () => call<Buffer>((done) => sftp.opendir(`${scratch}/readable`, done))))));
      }
      expect(new Set(handles.map((h) => h.toString('hex'))).size).toBe(1024);
      const err = await refusal(call((done) => sftp.opendir(`${scratch}/readable`, done)));
      expect(err.code).toBe(FAILURE);
      expect(err.message).toContain('too many open handles');
      await call((done) => sftp.close(handles[0]!, done));
      const reopened = await call<Buffer>((done) => sftp.opendir(`${scratch}/readable`, done));
      expect(Buffer.isBuffer(reopened)).toBe(true);
    });
  }, 60_000);
});

describe('held requests', () => {
  it('holds a request under review without blocking others, then serves it once approved', async () => {
    await withSftp(async (sftp) => {
      const held = readRemote(sftp, `${scratch}/readable/held-report.txt`);
      let settled = false;
      void held.then(() => (settled = true), () => (settled = true));
      const request = await pollUntil(
        async () => stack.gateway.approvals.list({ status: 'pending' }).find((r) => r.text === `read ${scratch}/readable/held-report.txt`),
        (found) => found !== undefined,
        { what: 'the held SFTP read', intervalMs: 10 },
      );
      // Meanwhile the same session still works.
      expect((await readRemote(sftp, `${scratch}/readable/hello.txt`)).toString()).toBe('hello through sftp\n');
      expect(settled).toBe(false);
      stack.gateway.approvals.decide(request!.id, approver('approver-1'), 'approve', 'fine');
      expect((await held).toString()).toBe('held until approved\n');
    });
  });

  it('refuses a held request an approver denies, with the approver\'s words', async () => {
    const err = await withSftp(async (sftp) => {
      const held = refusal(readRemote(sftp, `${scratch}/readable/held-report.txt`));
      const request = await pollUntil(
        async () => stack.gateway.approvals.list({ status: 'pending' }).find((r) => r.text === `read ${scratch}/readable/held-report.txt`),
        (found) => found !== undefined,
        { what: 'the held SFTP read', intervalMs: 10 },
      );
      stack.gateway.approvals.decide(request!.id, approver('approver-1'), 'deny', 'not today');
      return held;
    });
    expect(err.code).toBe(PERMISSION_DENIED);
    expect(err.message).toContain('not today');
  });
});

describe('the SFTP subsystem itself', () => {
  it('is refused on a connection with no rule allowing sftp', async () => {
    const client = await stack.connect({ connection: 'no-sftp' });
    try {
      await expect(openSftp(client)).rejects.toThrow();
    } finally {
      client.end();
    }
  });

  it('records each request with its decision', async () => {
    await withSftp(async (sftp) => {
      await readRemote(sftp, `${scratch}/readable/hello.txt`);
      await refusal(readRemote(sftp, `${scratch}/readable/../secret.txt`));
    });
    let shown = '';
    await pollUntil(
      async () => {
        let listed = '';
        await main(['sessions', 'list', '-d', stack.dataDir, '--json'], { out: (t) => (listed += t), err: () => undefined }, new AbortController().signal);
        shown = '';
        for (const session of (JSON.parse(listed) as Array<{ id: string; protocol: string }>).filter((s) => s.protocol === 'ssh')) {
          await main(['sessions', 'show', session.id, '-d', stack.dataDir], { out: (t) => (shown += t), err: () => undefined }, new AbortController().signal);
        }
        return shown.includes(`read ${scratch}/secret.txt`);
      },
      (found) => found,
      { what: 'the recorded SFTP requests' },
    );
    expect(shown).toContain(`read ${scratch}/readable/hello.txt`);
    expect(shown).toContain(`read ${scratch}/secret.txt`);
  });
});

describe.skipIf(!HAVE_OPENSSH_SFTP)('OpenSSH sftp and scp through the gateway', () => {
  it('sftp -b: uploads, downloads and lists where allowed', async () => {
    const upload = path.join(local, 'from-sftp.txt');
    writeFileSync(upload, 'uploaded by sftp -b\n');
    const got = path.join(local, 'got.txt');
    const batch = path.join(local, 'ok.batch');
    writeFileSync(
      batch,
      [
        `put ${upload} ${scratch}/writable/from-sftp.txt`,
        `get ${scratch}/readable/hello.txt ${got}`,
        `ls ${scratch}/readable`,
        // OpenSSH sends SYMLINK's paths in the opposite order to the draft; the link must still be the link.
        ...(stack.target.kind === 'openssh' ? [`ln -s from-sftp.txt ${scratch}/writable/sftp-link`] : []),
        '',
      ].join('\n'),
    );
    const result = await opensshClient('sftp', ['-b', batch, 'box@127.0.0.1']);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(`${scratch}/writable/from-sftp.txt`, 'utf8')).toBe('uploaded by sftp -b\n');
    expect(readFileSync(got, 'utf8')).toBe('hello through sftp\n');
    expect(result.stdout).toContain('hello.txt');
    if (stack.target.kind === 'openssh') expect(readlinkSync(`${scratch}/writable/sftp-link`)).toBe(`${scratch}/writable/from-sftp.txt`);
  });

  it('sftp -b: a denied upload fails the batch and leaves nothing behind', async () => {
    const upload = path.join(local, 'denied-sftp.txt');
    writeFileSync(upload, 'should not arrive\n');
    const batch = path.join(local, 'denied.batch');
    writeFileSync(batch, `put ${upload} ${scratch}/readable/denied-sftp.txt\n`);
    const result = await opensshClient('sftp', ['-b', batch, 'box@127.0.0.1']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/denied|Permission/i);
    expect(existsSync(`${scratch}/readable/denied-sftp.txt`)).toBe(false);
  });

  it('scp (over SFTP) uploads to an allowed path and fails for a denied one', async () => {
    const upload = path.join(local, 'from-scp.txt');
    writeFileSync(upload, 'uploaded by scp\n');
    const ok = await opensshClient('scp', [upload, `box@127.0.0.1:${scratch}/writable/from-scp.txt`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(`${scratch}/writable/from-scp.txt`, 'utf8')).toBe('uploaded by scp\n');
    const denied = await opensshClient('scp', [upload, `box@127.0.0.1:${scratch}/readable/from-scp.txt`]);
    expect(denied.code).not.toBe(0);
    expect(existsSync(`${scratch}/readable/from-scp.txt`)).toBe(false);
    const back = path.join(local, 'scp-back.txt');
    const download = await opensshClient('scp', [`box@127.0.0.1:${scratch}/readable/hello.txt`, back]);
    expect(download.code, download.stderr).toBe(0);
    expect(readFileSync(back, 'utf8')).toBe('hello through sftp\n');
  });
});
