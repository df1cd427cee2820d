/**
 * The real executable: `portcullis demo` (what `npm start` runs) and `portcullis serve`,
 * as child processes, driven by the commands the demo prints.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { pollUntil } from '../support/poll.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'dist/cli/main.js');

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; stdout: ${out}; stderr: ${err}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`exited with ${code} before ${pattern}; stderr: ${err}`)));
  });
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

describe('portcullis demo (npm start)', () => {
  let dir: string;
  let demo: ChildProcess;
  let printed: string;
  const ports = { idp: 0, pg: 0, gateway: 0, ssh: 0, sshTarget: 0 };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-demo-'));
    chmodSync(dir, 0o755); // embedded PostgreSQL runs as the postgres user when we are root
    ports.idp = await freePort();
    ports.pg = await freePort();
    ports.gateway = await freePort();
    ports.ssh = await freePort();
    ports.sshTarget = await freePort();
    const example = readFileSync(path.join(ROOT, 'examples/portcullis.yaml'), 'utf8');
    const config = example
      .replace('data_dir: ../.portcullis', `data_dir: ${dir}/state`)
      .replace('http://127.0.0.1:9000', `http://127.0.0.1:${ports.idp}`)
      .replaceAll('port: 54329', `port: ${ports.pg}`)
      .replace('address: 127.0.0.1:6432', `address: 127.0.0.1:${ports.gateway}`)
      .replace('listen: 127.0.0.1:6480', 'listen: 127.0.0.1:0')
      .replace('address: 127.0.0.1:2222', `address: 127.0.0.1:${ports.ssh}`)
      .replace('port: 52222', `port: ${ports.sshTarget}`);
    expect(config).not.toBe(example);
    writeFileSync(path.join(dir, 'portcullis.yaml'), config);
    demo = spawn(process.execPath, [BIN, 'demo', '--config', path.join(dir, 'portcullis.yaml')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    printed = await waitForOutput(demo, /Press Ctrl-C to stop/, 90_000);
  }, 120_000);

  afterAll(async () => {
    if (demo && demo.exitCode === null) {
      demo.kill('SIGKILL');
      await exitCode(demo);
    }
  });

  it('prints a query that shows agents the customers\' emails, cards and phones masked', async () => {
    const tokenLine = printed.split('\n').find((l) => l.includes('export PGPASSWORD='))!;
    const tokenCommand = /\$\((.*)\)/.exec(tokenLine)![1]!;
    const token = (await exec('sh', ['-c', tokenCommand], { cwd: ROOT })).stdout.trim();
    const psqlLine = printed.split('\n').find((l) => l.includes('dbname=demo ') && l.includes('lower(email)'))!.trim();
    const { stdout } = await exec('sh', ['-c', psqlLine], { cwd: ROOT, env: { ...process.env, PGPASSWORD: token } });
    expect(stdout).toContain('[EMAIL]');
    expect(stdout).toContain('[PHONE]');
    expect(stdout).toMatch(/\*\*\*\* \*\*\*\* \*\*\*\* \d{4}/);
    expect(stdout).not.toContain('@example.com');
    expect(stdout).not.toMatch(/202-555/);
  });

  it('prints commands that work: get a token, connect, query the seeded data', async () => {
    const tokenLine = printed.split('\n').find((l) => l.includes('export PGPASSWORD='))!;
    const tokenCommand = /\$\((.*)\)/.exec(tokenLine)![1]!;
    const { stdout } = await exec('sh', ['-c', tokenCommand], { cwd: ROOT });
    const token = stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    expect(printed).toContain(`port=${ports.gateway} dbname=demo`);
    const client = new pg.Client({ host: '127.0.0.1', port: ports.gateway, database: 'demo', user: 'agent', password: token });
    await client.connect();
    const r = await client.query('SELECT count(*)::int AS n FROM customers WHERE email LIKE $1', ['%@example.com']);
    expect(r.rows[0].n).toBeGreaterThanOrEqual(10);
    // The example policy it advertises: writes are refused with the rule and what to do.
    const refused = await client.query('DELETE FROM orders').then(
      () => undefined,
      (e: { code: string; message: string }) => e,
    );
    expect(refused?.code).toBe('42501');
    expect(refused?.message).toContain('rule "no-writes"');
    const after = await client.query('SELECT count(*)::int AS n FROM orders');
    expect(after.rows[0].n).toBeGreaterThan(0);
    await client.end();
  });

  it('prints how a held change to orders is approved from a second terminal, and it then runs', async () => {
    const tokenLine = printed.split('\n').find((l) => l.includes('export PGPASSWORD='))!;
    const { stdout: agentToken } = await exec('sh', ['-c', /\$\((.*)\)/.exec(tokenLine)![1]!], { cwd: ROOT });
    const psqlLine = printed.split('\n').find((l) => l.includes('dbname=demo-ops'))!;
    expect(psqlLine).toContain(`port=${ports.gateway} dbname=demo-ops`);
    const client = new pg.Client({ host: '127.0.0.1', port: ports.gateway, database: 'demo-ops', user: 'agent', password: agentToken.trim() });
    const notices: string[] = [];
    client.on('notice', (n) => notices.push(n.message ?? ''));
    await client.connect();
    try {
      const held = client.query("UPDATE orders SET status = 'shipped' WHERE id = 1");
      await pollUntil(async () => notices.length, (n) => n > 0, { what: 'the held-for-approval notice' });
      const id = /request ([A-Za-z0-9_-]+)\)/.exec(notices[0]!)![1]!;
      // The approver's two printed lines, as printed, with the request id filled in.
      const exportLine = printed.split('\n').find((l) => l.includes('export PORTCULLIS_URL='))!.trim();
      const approveLine = printed.split('\n').find((l) => l.includes('approvals approve'))!.trim().replace('REQUEST_ID', id);
      const { stdout } = await exec('sh', ['-c', `${exportLine} && ${approveLine}`], { cwd: ROOT });
      expect(stdout).toContain(id);
      expect((await held).rowCount).toBe(1);
      expect((await client.query('SELECT status FROM orders WHERE id = 1')).rows).toEqual([{ status: 'shipped' }]);
    } finally {
      await client.end();
    }
  });

  it.skipIf(spawnSync('ssh', ['-V']).status !== 0)('prints ssh commands that work: output masked, a delete refused with exit status 126', async () => {
    const line = (marker: string): string => printed.split('\n').find((l) => l.includes('ssh -p') && l.includes(marker))!.trim().replace(/\s+#.*$/, '');
    expect(printed).toContain(`connection "demo-ssh" reaches a local`);
    const cat = await exec('sh', ['-c', line('app.log')], { cwd: ROOT });
    expect(cat.stdout).toContain('paid by [EMAIL] with card');
    expect(cat.stdout).not.toContain('alice@example.com');
    expect(cat.stdout).not.toContain('4111 1111 1111 1111');
    expect(cat.stdout).not.toContain('wJalrXUtnFEMI');
    const rm = await exec('sh', ['-c', line('rm -rf')], { cwd: ROOT }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(rm.code).toBe(126);
    expect(rm.stderr).toContain('rule "shell-no-deletes"');
    expect(existsSync('/tmp/portcullis-demo/app.log')).toBe(true);
  });

  it('prints a policy check command that decides offline like the gateway', async () => {
    const line = printed.split('\n').find((l) => l.includes('policy check'))!.trim();
    const result = await exec('sh', ['-c', line], { cwd: ROOT }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number; stdout: string }) => e,
    );
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ effect: 'deny', rule: 'no-writes' });
  });

  it('refuses the outsider it advertises', async () => {
    const line = printed.split('\n').find((l) => l.includes('--client-id outsider'))!;
    const { stdout } = await exec('sh', ['-c', /\$\((.*)\)/.exec(line)![1]!], { cwd: ROOT });
    const client = new pg.Client({ host: '127.0.0.1', port: ports.gateway, database: 'demo', user: 'x', password: stdout.trim() });
    await expect(client.connect()).rejects.toThrow(/refused/);
  });

  it('prints an audit verify command that checks the recording of those sessions', async () => {
    const line = printed.split('\n').find((l) => l.includes('audit verify'))!.trim();
    const { stdout } = await exec('sh', ['-c', line], { cwd: ROOT });
    expect(stdout).toMatch(/ok/i);
  });

  it('stops everything on Ctrl-C and exits 0', async () => {
    demo.kill('SIGINT');
    expect(await exitCode(demo)).toBe(0);
    const pidFile = path.join(dir, 'state/demo-postgres/postmaster.pid');
    expect(existsSync(pidFile)).toBe(false);
    await expect(
      new Promise((resolve, reject) => {
        const s = net.connect(ports.gateway, '127.0.0.1');
        s.on('connect', () => (s.destroy(), resolve('connected')));
        s.on('error', reject);
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('portcullis serve', () => {
  it('exits 1 with file, line and path for an invalid config', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-serve-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'connections:\n  - name: x\n    type: postgres\n    target: { host: h, database: d, user: u, port: "abc" }\n');
    const result = await exec(process.execPath, [BIN, 'serve', '--config', file]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}:4:`);
    expect(result.stderr).toContain('connections[0].target.port');
  });
});
