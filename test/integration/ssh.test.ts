/**
 * The SSH front door end to end: a real SSH target (OpenSSH sshd when installed, else the
 * ssh2 stand-in; the test prints which), the dev OIDC issuer, the gateway, and agents driving
 * it with ssh2's client and the OpenSSH `ssh` client.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuleConfig, ShellCondition } from '../../src/config/types.js';
import type { Identity } from '../../src/identity/identity.js';
import { main } from '../../src/cli/dispatch.js';
import { maskingProfile } from '../support/masking-profile.js';
import { pollUntil } from '../support/poll.js';
import { execOn, sshConnection, startSshStack, type SshStack } from '../support/ssh-stack.js';
import { OUTSIDER } from '../support/stack.js';

function shellRule(name: string, effect: RuleConfig['effect'], shell: Partial<ShellCondition>, extra: Partial<RuleConfig> = {}): RuleConfig {
  return {
    name,
    effect,
    reason: effect === 'allow' ? undefined : `${name}: not for agents.`,
    review:
      effect === 'review' ? { approvers: ['approvers'], minApprovals: 1, timeoutMs: 20_000, grant: { kind: 'once', ttlMs: 60_000 } } : undefined,
    when: {
      identity: undefined,
      sql: undefined,
      shell: { programs: undefined, args: undefined, writes: undefined, flags: undefined, unparseable: false, ...shell },
    },
    ...extra,
  };
}

const RULES: RuleConfig[] = [
  shellRule('reads-ok', 'allow', { programs: ['echo', 'printf', 'cat', 'ls', 'true', 'sleep', 'test', 'seq', 'head', 'exit'] }),
  shellRule('no-deletes', 'deny', { programs: ['rm', 'shred', 'unlink'] }),
  shellRule('touch-needs-approval', 'review', { programs: ['touch'] }),
  {
    name: 'shells-ok',
    effect: 'allow',
    reason: undefined,
    review: undefined,
    when: { identity: undefined, sql: undefined, ssh: { actions: ['shell'] } },
  },
];

const MASKING = maskingProfile('secrets');

/** The OpenSSH client drives the gateway where it is installed (.ci/run installs it). */
const HAVE_OPENSSH_CLIENT = spawnSync('ssh', ['-V']).status === 0;

const GATED = { approvers: ['approvers'], minApprovals: 1, timeoutMs: 60_000, maxDurationMs: 3_600_000 };

function approver(subject: string): Identity {
  return { subject, clientId: subject, groups: ['approvers'], scopes: [], issuer: 'https://idp.example', expiresAt: Date.now() + 3_600_000 };
}

let stack: SshStack;
let scratch: string;

beforeAll(async () => {
  stack = await startSshStack({
    rules: RULES,
    masking: [MASKING],
    extraConnections: (target) => [
      sshConnection(target, {
        name: 'wrong-key',
        rules: RULES,
        target: { ...sshConnection(target).target, hostKeys: ['SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'] },
      }),
      sshConnection(target, {
        name: 'unreachable',
        rules: RULES,
        target: { ...sshConnection(target).target, port: 1, connectTimeoutMs: 2_000 },
      }),
      sshConnection(target, {
        name: 'gated',
        rules: RULES,
        access: { groups: ['agents'], subjects: [], clients: [], requireApproval: GATED },
      }),
      sshConnection(target, {
        name: 'fwd',
        rules: [
          { name: 'tunnels-ok', effect: 'allow', reason: undefined, review: undefined, when: { identity: undefined, sql: undefined, ssh: { actions: ['port_forward', 'agent_forward'] } } },
          shellRule('agent-tools', 'allow', { programs: ['ssh-add', 'echo'] }),
        ],
      }),
    ],
  });
  console.log(`ssh target: ${stack.target.kind === 'openssh' ? 'OpenSSH sshd' : 'ssh2-based stand-in (sshd not installed)'}`);
  scratch = mkdtempSync(path.join(os.tmpdir(), 'portcullis-ssh-scratch-'));
}, 60_000);

afterAll(async () => {
  await stack?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('exec through the SSH front door', () => {
  it('runs an allowed command on the target with the injected credentials', async () => {
    const result = await stack.exec('echo hello; printf "%s" "$USER" >&2');
    expect(result).toEqual({ stdout: 'hello\n', stderr: stack.target.user, code: 0 });
  });

  it('passes the exit status and stdin through', async () => {
    expect((await stack.exec('test -e /nonexistent-portcullis')).code).toBe(1);
    expect(await stack.exec('cat', { stdin: 'piped input\n' })).toMatchObject({ stdout: 'piped input\n', code: 0 });
  });

  it('refuses a denied command with exit 126 and a reason naming the rule, and does not run it', async () => {
    const victim = path.join(scratch, 'denied');
    mkdirSync(victim);
    const result = await stack.exec(`rm -rf ${victim}`);
    expect(result.code).toBe(126);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^portcullis: Refused command "rm -rf .*" by rule "no-deletes": no-deletes: not for agents\. \[rule: no-deletes\]\n$/);
    expect(existsSync(victim)).toBe(true);
  });

  it('refuses a command no rule allows (default deny), saying what to do', async () => {
    const result = await stack.exec('id');
    expect(result.code).toBe(126);
    expect(result.stderr).toContain('no rule of connection "box" allows running program "id"');
  });

  const bypasses: Array<[string, (dir: string) => string]> = [
    ['sh -c wrapper', (d) => `sh -c 'rm -rf ${d}'`],
    ['bash -lc wrapper', (d) => `bash -lc "rm -rf ${d}"`],
    ['command substitution', (d) => `echo $(rm -rf ${d})`],
    ['backticks', (d) => `echo \`rm -rf ${d}\``],
    ['; chain', (d) => `true; rm -rf ${d}`],
    ['&& chain', (d) => `true && rm -rf ${d}`],
    ['|| chain', (d) => `false || rm -rf ${d}`],
    ['pipeline into xargs', (d) => `echo ${d} | xargs rm -rf`],
    ['absolute path', (d) => `/bin/rm -rf ${d}`],
    ['backslash', (d) => `\\rm -rf ${d}`],
    ['split quotes', (d) => `'r''m' -rf ${d}`],
    ['double quotes', (d) => `"rm" -rf ${d}`],
    ['ANSI-C quoting', (d) => `$'\\x72m' -rf ${d}`],
    ['subshell', (d) => `(rm -rf ${d})`],
    ['sudo-free env wrapper', (d) => `env rm -rf ${d}`],
    ['find -exec', (d) => `find ${d} -maxdepth 0 -exec rm -rf {} \\;`],
    ['eval', (d) => `eval "rm -rf ${d}"`],
    ['variable as command', (d) => `X=rm; $X -rf ${d}`],
    ['glob as command', (d) => `/bin/r? -rf ${d}`],
    ['script piped into a shell', (d) => `echo "rm -rf ${d}" | sh`],
    ['line continuation', (d) => `r\\\nm -rf ${d}`],
  ];
  it.each(bypasses)('bypass attempt: %s is refused and nothing is deleted', async (_name, command) => {
    const victim = mkdtempSync(path.join(scratch, 'victim-'));
    const result = await stack.exec(command(victim));
    expect(result.code, result.stderr).toBe(126);
    expect(result.stderr).toMatch(/^portcullis: /);
    expect(existsSync(victim)).toBe(true);
  });

  it.skipIf(!HAVE_OPENSSH_CLIENT)('works with the OpenSSH client too: allowed, denied, and the gateway\'s host key pinned', async () => {
    const ok = await stack.openssh(['echo', 'via-openssh']);
    expect(ok).toMatchObject({ stdout: 'via-openssh\n', code: 0 });
    const victim = mkdtempSync(path.join(scratch, 'openssh-'));
    const denied = await stack.openssh([`rm -rf ${victim}`]);
    expect(denied.code).toBe(126);
    expect(denied.stderr).toContain('by rule "no-deletes"');
    expect(existsSync(victim)).toBe(true);
  });
});

describe('authentication', () => {
  it('refuses a forged or garbage token', async () => {
    await expect(stack.connect({ token: 'not-a-token' })).rejects.toThrow(/authentication methods failed/);
    const token = await stack.token();
    const [h, p] = token.split('.');
    await expect(stack.connect({ token: `${h}.${p}.${'A'.repeat(40)}` })).rejects.toThrow(/authentication methods failed/);
    if (HAVE_OPENSSH_CLIENT) {
      const openssh = await stack.openssh(['echo', 'x'], { token: 'garbage' });
      expect(openssh.code).toBe(255);
      expect(openssh.stdout).toBe('');
    }
  });

  it('refuses an identity outside the connection\'s access list, and an unknown connection', async () => {
    await expect(stack.connect({ token: await stack.token(OUTSIDER) })).rejects.toThrow(/authentication methods failed/);
    await expect(stack.connect({ connection: 'no-such-box' })).rejects.toThrow(/authentication methods failed/);
  });
});

describe('access requests', () => {
  it('admits an identity to a connection with require_approval only once its access request is approved, and ends the session on revocation', async () => {
    await expect(stack.connect({ connection: 'gated' })).rejects.toThrow(/authentication methods failed/);
    const approvals = stack.gateway.approvals;
    const request = approvals.requestAccess({
      subject: 'agent',
      clientId: 'agent',
      groups: ['agents'],
      connection: 'gated',
      durationMs: 600_000,
      reason: 'incident 7: look at the box',
      config: GATED,
    });
    approvals.decide(request.id, approver('approver-1'), 'approve', 'go ahead');
    const client = await stack.connect({ connection: 'gated' });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    expect(await execOn(client, 'echo admitted')).toMatchObject({ stdout: 'admitted\n', code: 0 });
    approvals.revoke(request.id, approver('approver-1'), 'incident over', false);
    await closed;
    await expect(stack.connect({ connection: 'gated' })).rejects.toThrow(/authentication methods failed/);
  });
});

describe('bad input and failures', () => {
  it('survives garbage, truncated handshakes and clients vanishing mid-authentication, and keeps serving others', async () => {
    const send = (bytes: Buffer, end: 'end' | 'destroy'): Promise<void> =>
      new Promise((resolve) => {
        const socket = net.connect(stack.port, '127.0.0.1');
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.on('connect', () => {
          socket.write(bytes);
          if (end === 'end') socket.end();
          else setTimeout(() => socket.destroy(), 50);
        });
        socket.setTimeout(5_000, () => socket.destroy());
      });
    let seed = 7;
    const random = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff));
    await Promise.all([
      send(random(4096), 'end'),
      send(Buffer.concat([Buffer.from('SSH-2.0-fuzz\r\n'), random(2048)]), 'end'),
      send(Buffer.from('SSH-2.0-fuzz\r\n\x00\x00\xff\xff'), 'destroy'),
      send(Buffer.from('GET / HTTP/1.1\r\n\r\n'), 'end'),
      send(Buffer.alloc(0), 'destroy'),
    ]);
    // A client that disappears right after sending its token.
    const token = await stack.token();
    await new Promise<void>((resolve) => {
      const client = new ssh2.Client();
      client.on('error', () => resolve());
      client.on('close', () => resolve());
      client.on('handshake', () => setTimeout(() => (client as unknown as { _sock: net.Socket })._sock.destroy(), 5));
      client.connect({ host: '127.0.0.1', port: stack.port, username: 'box', password: token, hostVerifier: () => true });
    });
    expect(await stack.exec('echo still-serving')).toMatchObject({ stdout: 'still-serving\n', code: 0 });
  });

  it('tells the agent when the target cannot be reached (exit 255, retry later)', async () => {
    const result = await stack.exec('echo x', { connection: 'unreachable' });
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^portcullis: could not connect to the target of connection "unreachable": .*; retry later\n$/);
  });
});

describe('target host key verification', () => {
  it('refuses to reach a target whose host key is not the configured one, and says so', async () => {
    const result = await stack.exec('echo should-not-run', { connection: 'wrong-key' });
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('presented host key');
    expect(result.stderr).toContain('gateway configuration problem');
  });
});

describe('approvals for held commands', () => {
  async function heldRequestId(client: ssh2.Client, command: string): Promise<{ id: string; result: Promise<{ stdout: string; stderr: string; code: number | null }> }> {
    let stderr = '';
    const result = new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve, reject) => {
      client.exec(command, (err, channel) => {
        if (err) return reject(err);
        let stdout = '';
        let code: number | null = null;
        channel.on('data', (d: Buffer) => (stdout += d.toString()));
        channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        channel.on('exit', (c: number | null) => (code = c));
        channel.on('close', () => resolve({ stdout, stderr, code }));
      });
    });
    const id = await pollUntil(async () => /request ([A-Za-z0-9_-]+)\)/.exec(stderr)?.[1], (found) => found !== undefined, { what: 'the held notice', intervalMs: 10 });
    return { id: id!, result };
  }

  it('holds a command under review, then runs it once approved', async () => {
    const file = path.join(scratch, 'approved-file');
    const client = await stack.connect();
    try {
      const { id, result } = await heldRequestId(client, `touch ${file}`);
      expect(existsSync(file)).toBe(false);
      expect(stack.gateway.approvals.get(id)).toMatchObject({ status: 'pending', rule: 'touch-needs-approval', text: `touch ${file}` });
      stack.gateway.approvals.decide(id, approver('approver-1'), 'approve', 'fine');
      const done = await result;
      expect(done.code).toBe(0);
      expect(done.stderr).toContain('held for approval');
      expect(existsSync(file)).toBe(true);
    } finally {
      client.end();
    }
  });

  it('refuses a held command an approver denies, with the approver\'s words', async () => {
    const file = path.join(scratch, 'denied-file');
    const client = await stack.connect();
    try {
      const { id, result } = await heldRequestId(client, `touch ${file}`);
      stack.gateway.approvals.decide(id, approver('approver-1'), 'deny', 'not today');
      const done = await result;
      expect(done.code).toBe(126);
      expect(done.stderr).toContain('was denied by approver-1: not today');
      expect(existsSync(file)).toBe(false);
    } finally {
      client.end();
    }
  });
});

describe('masking command output', () => {
  it('masks secrets in stdout and stderr, including values split across chunks', async () => {
    const card = '4111 1111 1111 1111';
    const result = await stack.exec(
      `printf 'mail alice@example.com now\\n'; printf 'card ${card.slice(0, 7)}' ; sleep 0.01; printf '${card.slice(7)} end\\n'; printf 'bob@example.org\\n' >&2`,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('alice@example.com');
    expect(result.stdout).not.toContain('1111 1111 1111');
    expect(result.stdout).toContain('[EMAIL]');
    expect(result.stdout).toMatch(/card \[[A-Z_]+\] end/);
    expect(result.stderr).toBe('[EMAIL]\n');
  });

  it('streams a large output through with every value masked', async () => {
    const lines = await stack.exec(`for i in $(seq 1 3000); do echo "row $i user$i@example.com"; done`);
    expect(lines.code).toBe(0);
    const rows = lines.stdout.trimEnd().split('\n');
    expect(rows).toHaveLength(3000);
    expect(lines.stdout).not.toMatch(/@example\.com/);
    expect(rows[2999]).toBe('row 3000 [EMAIL]');
  });
});

describe('interactive shells and forwarding', () => {
  it('opens an allowed shell, runs typed lines, and refuses a denied line without running it', async () => {
    const victim = mkdtempSync(path.join(scratch, 'shell-'));
    const client = await stack.connect();
    try {
      const output = await new Promise<string>((resolve, reject) => {
        client.shell({ term: 'dumb', rows: 24, cols: 200 }, (err, channel) => {
          if (err) return reject(err);
          let out = '';
          channel.on('data', (d: Buffer) => (out += d.toString()));
          channel.on('close', () => resolve(out));
          channel.write('echo shell-$((40+2))\n');
          setTimeout(() => channel.write(`rm -rf ${victim}\n`), 300);
          setTimeout(() => channel.write('exit\n'), 900);
        });
      });
      expect(output).toContain('shell-42');
      expect(output).toContain('portcullis: Refused command');
      expect(existsSync(victim)).toBe(true);
    } finally {
      client.end();
    }
  });

  it('relays local port forwarding through the target where a rule allows it', async () => {
    const client = await stack.connect({ connection: 'fwd' });
    try {
      const banner = await new Promise<string>((resolve, reject) =>
        client.forwardOut('127.0.0.1', 1234, '127.0.0.1', stack.target.port, (err, channel) => {
          if (err) return reject(err);
          channel.once('data', (d: Buffer) => {
            resolve(d.toString('latin1'));
            channel.close();
          });
        }),
      );
      expect(banner).toMatch(/^SSH-2\.0-/);
    } finally {
      client.end();
    }
  });

  it('relays remote port forwarding (ssh -R) where a rule allows it, and refuses it elsewhere', async () => {
    const client = await stack.connect({ connection: 'fwd' });
    try {
      client.on('tcp connection', (_info, accept) => {
        const channel = accept();
        channel.end('pong from the agent side');
      });
      const port = await new Promise<number>((resolve, reject) => client.forwardIn('127.0.0.1', 0, (err, bound) => (err ? reject(err) : resolve(bound))));
      expect(port).toBeGreaterThan(0);
      // The target listens on that port (the target runs on this machine): connect as the target's side would.
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(reply).toBe('pong from the agent side');
    } finally {
      client.end();
    }
    const box = await stack.connect();
    try {
      await expect(new Promise((resolve, reject) => box.forwardIn('127.0.0.1', 0, (err, bound) => (err ? reject(err) : resolve(bound))))).rejects.toThrow();
    } finally {
      box.end();
    }
  });

  it.skipIf(spawnSync('ssh-agent', ['-h']).error !== undefined)('forwards the agent\'s SSH agent where a rule allows it, and not elsewhere', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-agent-'));
    const socket = path.join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      await pollUntil(async () => existsSync(socket), (ok) => ok, { what: 'ssh-agent socket' });
      spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'agent-forwarding-key', '-f', path.join(dir, 'key')]);
      expect(spawnSync('ssh-add', [path.join(dir, 'key')], { env: { ...process.env, SSH_AUTH_SOCK: socket } }).status).toBe(0);
      const run = async (connection: string, command: string): Promise<{ stdout: string; code: number | null }> => {
        const password = await stack.token();
        return new Promise((resolve, reject) => {
          const client = new ssh2.Client();
          client.once('error', reject);
          client.once('ready', () =>
            client.exec(command, { agentForward: true } as ssh2.ExecOptions, (err, channel) => {
              if (err) {
                client.end();
                return reject(err);
              }
              let stdout = '';
              let code: number | null = null;
              channel.on('data', (d: Buffer) => (stdout += d.toString()));
              channel.stderr.on('data', () => undefined);
              channel.on('exit', (c: number | null) => (code = c));
              channel.on('close', () => {
                client.end();
                resolve({ stdout, code });
              });
            }),
          );
          client.connect({ host: '127.0.0.1', port: stack.port, username: connection, password, agent: socket, agentForward: true, hostVerifier: () => true });
        });
      };
      const listed = await run('fwd', 'ssh-add -l');
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain('agent-forwarding-key');
      // Where no rule allows it the request is refused (ssh2's client then gives up the command; OpenSSH's warns and goes on).
      await expect(run('box', 'echo "sock=$SSH_AUTH_SOCK"')).rejects.toThrow(/agent forwarding/);
    } finally {
      agent.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses local port forwarding that no rule allows', async () => {
    const client = await stack.connect();
    try {
      await expect(
        new Promise((resolve, reject) => client.forwardOut('127.0.0.1', 1234, '127.0.0.1', stack.target.port, (err, ch) => (err ? reject(err) : resolve(ch)))),
      ).rejects.toThrow();
    } finally {
      client.end();
    }
  });
});

describe('recording', () => {
  it('replays a recorded shell and exports it as asciicast v3, masked as the agent saw it', { timeout: 60_000 }, async () => {
    const client = await stack.connect();
    await new Promise<void>((resolve, reject) => {
      client.shell({ term: 'xterm', rows: 30, cols: 100 }, (err, channel) => {
        if (err) return reject(err);
        let seen = '';
        channel.on('data', (d: Buffer) => (seen += d.toString()));
        channel.on('close', () => resolve());
        // Each line once the previous one's output arrived: a login shell may take a while to start.
        const type = async (line: string, after: RegExp): Promise<void> => {
          await pollUntil(async () => after.test(seen), (ok) => ok, { what: `${after} before typing ${line}`, timeoutMs: 20_000 });
          channel.write(`${line}\n`);
        };
        void (async () => {
          await type('echo replay-$((6*7)) carol@example.com', /[#$] $/m);
          await type('rm -rf /nonexistent-replay', /replay-42/);
          await type('exit', /portcullis: Refused/);
        })().catch(reject);
      });
    });
    client.end();
    const cli = async (...args: string[]): Promise<string> => {
      let out = '';
      await main(args, { out: (t) => (out += t), err: () => undefined }, new AbortController().signal);
      return out;
    };
    const id = await pollUntil(
      async () => {
        const sessions = JSON.parse(await cli('sessions', 'list', '-d', stack.dataDir, '--json')) as Array<{ id: string; protocol: string; endedAt: unknown }>;
        for (const s of sessions.filter((x) => x.protocol === 'ssh' && x.endedAt !== null)) {
          if ((await cli('sessions', 'show', s.id, '-d', stack.dataDir)).includes('replay-')) return s.id;
        }
        return undefined;
      },
      (found) => found !== undefined,
      { what: 'the recorded shell session' },
    );
    const replayed = await cli('replay', id!, '-d', stack.dataDir, '--no-wait');
    expect(replayed).toContain('replay-42');
    expect(replayed).toContain('[EMAIL]');
    expect(replayed).not.toContain('carol@example.com');
    expect(replayed).toContain('portcullis: Refused command "rm -rf /nonexistent-replay"');
    const cast = (await cli('sessions', 'export', id!, '-d', stack.dataDir, '--format', 'asciicast')).trimEnd().split('\n');
    expect(JSON.parse(cast[0]!)).toMatchObject({ version: 3, term: { cols: 100, rows: 30 } });
    const events = cast.slice(1).map((line) => JSON.parse(line) as [number, string, string]);
    expect(events.every(([interval, code]) => interval >= 0 && ['o', 'i', 'r', 'm', 'x'].includes(code))).toBe(true);
    const output = events.filter(([, code]) => code === 'o').map(([, , data]) => data).join('');
    expect(output).toContain('replay-42');
    expect(output).not.toContain('carol@example.com');
  });

  it('records SSH sessions with every command, its decision and its exit status', async () => {
    const client = await stack.connect();
    await execOn(client, 'echo recorded-command');
    await execOn(client, 'rm -rf /nonexistent-recorded');
    client.end();
    let listed = '';
    await pollUntil(
      async () => {
        let out = '';
        await main(['sessions', 'list', '-d', stack.dataDir, '--json'], { out: (t) => (out += t), err: () => undefined }, new AbortController().signal);
        listed = out;
        return (JSON.parse(out) as Array<{ protocol: string; endedAt: unknown }>).filter((s) => s.protocol === 'ssh' && s.endedAt !== null).length;
      },
      (n) => n > 0,
      { what: 'an ended ssh session in the recording' },
    );
    const sessions = JSON.parse(listed) as Array<{ id: string; protocol: string }>;
    let shown = '';
    for (const session of sessions.filter((s) => s.protocol === 'ssh')) {
      await main(['sessions', 'show', session.id, '-d', stack.dataDir], { out: (t) => (shown += t), err: () => undefined }, new AbortController().signal);
    }
    expect(shown).toContain('echo recorded-command');
    expect(shown).toContain('rm -rf /nonexistent-recorded');
    expect(shown).toContain('no-deletes');
    expect(shown).toContain('exit 0');
  });
});
