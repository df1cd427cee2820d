/**
 * Linux readings bench:sessions needs beyond bench/support/process.ts: the kernel's
 * listen-queue drop counters and a listener's backlog (did a connection storm overflow an
 * accept queue?), a process's peak RSS and open-files limit, and PostgreSQL backends'
 * proportional memory. Parsers are pure; the readers are one file read or one `ss` each.
 */
import { readFileSync } from 'node:fs';
import { run } from '../support/process.js';

/**
 * /proc/net/netstat as "Group:Name" → value. The file pairs a header line of names with a
 * line of values under the same group prefix ("TcpExt: A B …" then "TcpExt: 1 2 …").
 */
export function parseNetstat(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [group, ...names] = lines[i]!.trim().split(/\s+/);
    const [valueGroup, ...values] = lines[i + 1]!.trim().split(/\s+/);
    if (group === undefined || group !== valueGroup || names.length !== values.length) {
      throw new Error(`unexpected /proc/net/netstat layout near "${lines[i]!.slice(0, 40)}"`);
    }
    names.forEach((name, j) => out.set(`${group.replace(/:$/, '')}:${name}`, Number(values[j])));
  }
  return out;
}

export interface ListenCounters {
  /** Completed connections dropped because an accept queue (listen backlog) was full. */
  readonly overflows: number;
  /** Every SYN or ACK dropped at a listening socket, overflows included. */
  readonly drops: number;
}

/** Machine-wide (this network namespace) listen-queue drop counters, or undefined if the kernel has none. */
export function listenCounters(): ListenCounters | undefined {
  let stats: Map<string, number>;
  try {
    stats = parseNetstat(readFileSync('/proc/net/netstat', 'utf8'));
  } catch {
    return undefined;
  }
  const overflows = stats.get('TcpExt:ListenOverflows');
  const drops = stats.get('TcpExt:ListenDrops');
  return overflows === undefined || drops === undefined ? undefined : { overflows, drops };
}

/** A "Key:   123 kB" field of /proc/<pid>/status or smaps_rollup, in bytes. */
export function kbField(text: string, key: string): number | undefined {
  const match = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** Peak resident set size of a process so far (VmHWM), in bytes. */
export function peakRssBytes(pid: number): number {
  const value = kbField(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmHWM');
  if (value === undefined) throw new Error(`no VmHWM for pid ${pid}`);
  return value;
}

export interface ProcessesMemory {
  /** Processes read (a backend that exited meanwhile is skipped). */
  readonly count: number;
  /** Sum of proportional set sizes: shared pages divided among the processes sharing them. */
  readonly pssBytes: number;
}

/**
 * Summed PSS of some processes (e.g. PostgreSQL backends). PSS, not RSS: every backend maps
 * the same shared buffers, which RSS would count once per backend.
 */
export function processesMemory(pids: readonly number[]): ProcessesMemory {
  let count = 0;
  let pssBytes = 0;
  for (const pid of pids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    } catch {
      continue;
    }
    const pss = kbField(text, 'Pss');
    if (pss === undefined) continue;
    count += 1;
    pssBytes += pss;
  }
  return { count, pssBytes };
}

/** The soft limit named `name` (e.g. "Max open files") in /proc/<pid>/limits text; undefined if absent, Infinity if unlimited. */
export function parseLimit(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(name));
  if (line === undefined) return undefined;
  const soft = line.slice(name.length).trim().split(/\s+/)[0];
  if (soft === 'unlimited') return Infinity;
  const value = Number(soft);
  return Number.isFinite(value) ? value : undefined;
}

/** This process's soft limit on open files (children inherit it), or undefined if unreadable. */
export function openFilesLimit(): number | undefined {
  try {
    return parseLimit(readFileSync('/proc/self/limits', 'utf8'), 'Max open files');
  } catch {
    return undefined;
  }
}

export interface ListenQueue {
  /** Connections waiting to be accepted right now. */
  readonly queued: number;
  /** The accept queue's length limit (the listen backlog, capped by net.core.somaxconn). */
  readonly backlog: number;
}

/** The LISTEN line for `port` in `ss -Hltn` output: Recv-Q is the accept queue, Send-Q its limit. */
export function parseSsListen(output: string, port: number): ListenQueue | undefined {
  for (const line of output.split('\n')) {
    const [state, recvQ, sendQ, local] = line.trim().split(/\s+/);
    if (state !== 'LISTEN' || local === undefined || !local.endsWith(`:${port}`)) continue;
    const queued = Number(recvQ);
    const backlog = Number(sendQ);
    if (Number.isInteger(queued) && Number.isInteger(backlog)) return { queued, backlog };
  }
  return undefined;
}

/** The listen queue of a local TCP port, from `ss` (iproute2); undefined where ss is missing. */
export async function listenQueue(port: number): Promise<ListenQueue | undefined> {
  const result = await run('ss', ['-Hltn']).catch(() => undefined);
  return result?.code === 0 ? parseSsListen(result.stdout, port) : undefined;
}

/**
 * A listening socket's accept queue length in /proc/net/tcp text: for a LISTEN socket
 * (state 0A) the kernel shows the connections waiting for accept() as rx_queue. Undefined
 * when nothing listens on `port`.
 */
export function acceptQueueLength(procNetTcp: string, port: number): number | undefined {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of procNetTcp.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const [, local, , state, queues] = fields;
    if (state !== '0A' || local === undefined || queues === undefined || !local.endsWith(`:${portHex}`)) continue;
    return parseInt(queues.split(':')[1] ?? '', 16);
  }
  return undefined;
}

/**
 * Samples a local listener's accept queue (IPv4) every `intervalMs` until stopped, keeping
 * the deepest it saw: a queue at its backlog means the listener itself dropped connections.
 */
export function sampleAcceptQueue(port: number, intervalMs = 25): { stop(): { readonly deepest: number; readonly samples: number } } {
  let deepest = 0;
  let samples = 0;
  const timer = setInterval(() => {
    try {
      const length = acceptQueueLength(readFileSync('/proc/net/tcp', 'utf8'), port);
      if (length === undefined) return;
      samples += 1;
      deepest = Math.max(deepest, length);
    } catch {
      // No /proc/net/tcp: no samples, reported as such.
    }
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return { deepest, samples };
    },
  };
}
