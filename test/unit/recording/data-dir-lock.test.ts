import { spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../../src/recording/data-dir-lock.js';
import { caught as refusal, captureLogs, fullSession, open, removeTempDirs, tempDataDir, verify, withDatabase } from './support.js';

afterAll(removeTempDirs);

const OWNER_SQL = 'INSERT INTO owner (pid, hostname, started_at) VALUES (?, ?, ?)';
const STARTED = Date.UTC(2025, 0, 1);

/** Writes the lock file's owner row as gateway `pid` would have left it (without holding the lock). */
function leaveOwner(dataDir: string, pid: number): void {
  withDatabase(join(dataDir, LOCK_FILE), (db) => {
    db.prepare('DELETE FROM owner').run();
    db.prepare(OWNER_SQL).run(pid, hostname(), STARTED);
  });
}

describe('one gateway per data directory', () => {
  it('a second recorder on the same directory is refused, naming the directory and the holder; close() releases it', () => {
    const dir = tempDataDir();
    const first = open(dir);
    expect(statSync(join(dir, LOCK_FILE)).mode & 0o777).toBe(0o600);
    const error = refusal(() => open(dir));
    expect(error.message).toContain(`another Portcullis gateway is using the data directory ${dir}: process ${process.pid} on this host`);
    expect(error.message).toMatch(/stop that one first, or give this one its own data_dir/);
    // Read-only tools do not take the lock: they work while the gateway runs.
    fullSession(first, 's-1');
    expect(verify(dir).ok).toBe(true);
    first.close();
    const logs = captureLogs();
    const second = open(dir, { logger: logs.logger });
    expect(logs.lines.filter((line) => line['level'] === 'warn')).toEqual([]);
    second.close();
  });

  it('a lock held by another process: refused with its pid; once that process is killed (-9), taken over with a warning', async () => {
    const dir = tempDataDir();
    open(dir).close();
    // Another process names itself in the lock file and holds the lock (an open write transaction on it).
    const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
    const script = `
      const db = new (require(${JSON.stringify(betterSqlite3)}))(${JSON.stringify(join(dir, LOCK_FILE))});
      db.prepare('DELETE FROM owner').run();
      db.prepare(${JSON.stringify(OWNER_SQL)}).run(process.pid, require('os').hostname(), ${STARTED});
      db.exec('BEGIN IMMEDIATE');
      console.log('locked');
      setInterval(() => {}, 1000);`;
    const holder = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => holder.stdout?.once('data', resolve));
    const pid = holder.pid as number;
    try {
      expect(refusal(() => open(dir)).message).toContain(`process ${pid} on this host, running since 2025-01-01T00:00:00.000Z holds its lock`);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    const logs = captureLogs();
    const recorder = open(dir, { logger: logs.logger });
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'warn', previousPid: pid, msg: expect.stringMatching(/did not release it/) }));
    recorder.close();
  });

  it('a row left by a gateway that died (its pid gone) is taken over with a warning naming it', () => {
    const dir = tempDataDir();
    open(dir).close();
    const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
    leaveOwner(dir, dead);
    const logs = captureLogs();
    const recorder = open(dir, { logger: logs.logger });
    expect(logs.lines).toContainEqual(expect.objectContaining({ level: 'warn', previousPid: dead, lockFile: join(dir, LOCK_FILE) }));
    recorder.close();
  });

  it('a lock file that is not a lock says so, and that it can be deleted', () => {
    const dir = tempDataDir();
    open(dir).close();
    // Overwritten from another process: opening it here with fs would drop this process's fcntl locks on it.
    spawnSync(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(join(dir, LOCK_FILE))}, 'x'.repeat(4096))`]);
    expect(refusal(() => open(dir)).message).toMatch(/cannot lock the data directory with .*gateway\.lock: .*It holds no recordings: if no gateway is running, delete it/);
  });
});
