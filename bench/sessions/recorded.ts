/**
 * What a stopped gateway recorded, read back with `portcullis sessions list --json`: the
 * run counts as "recording on" only if every served session (and every pgbench
 * transaction's statement) is in its data directory.
 */
import { gatewayEntry } from '../support/gateway.js';
import { run } from '../support/process.js';
import type { RecordedCount } from './results.js';

/**
 * Sessions, statements and what ended the sessions (client, upstream, shutdown… — "open"
 * for none yet) in `portcullis sessions list --json` output. Pure; throws on an unexpected shape.
 */
export function countRecordedSessions(json: string): { sessions: number; statements: number; endedBy: Record<string, number> } {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) throw new Error('portcullis sessions list --json did not print an array');
  let statements = 0;
  const endedBy: Record<string, number> = {};
  for (const session of parsed) {
    const s = session as { statements?: unknown; endedBy?: unknown } | null;
    if (typeof s?.statements !== 'number') throw new Error(`a session summary without a numeric "statements": ${JSON.stringify(session).slice(0, 200)}`);
    statements += s.statements;
    const by = typeof s.endedBy === 'string' ? s.endedBy : 'open';
    endedBy[by] = (endedBy[by] ?? 0) + 1;
  }
  return { sessions: parsed.length, statements, endedBy };
}

export async function recordedCount(root: string, dataDir: string): Promise<RecordedCount> {
  const list = await run(process.execPath, [gatewayEntry(root), 'sessions', 'list', '--data-dir', dataDir, '--json'], { cwd: root });
  if (list.code !== 0) return { ok: false, problem: `portcullis sessions list failed (${list.code ?? list.signal}) on ${dataDir}: ${list.stderr.trim()}` };
  try {
    return { ok: true, ...countRecordedSessions(list.stdout) };
  } catch (error) {
    return { ok: false, problem: error instanceof Error ? error.message : String(error) };
  }
}
