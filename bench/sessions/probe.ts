/**
 * The reading side of heap-probe.ts: the `node` flags that load it into a gateway, and its
 * snapshots (the gateway's live heap after a full GC the bench asked for), validated.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The gateway's memory right after a full garbage collection the bench asked for (SIGUSR2). */
export interface ProbeHeap {
  /** Increments with each collection asked for, so a reader knows the answer is fresh. */
  readonly seq: number;
  /** False when the gateway runs without --expose-gc: then nothing was collected first. */
  readonly collected: boolean;
  /** Live JS objects, bytes. */
  readonly heapUsed: number;
  readonly heapTotal: number;
  /** Memory held outside the JS heap by JS objects (Buffers, sockets' buffers…), bytes. */
  readonly external: number;
  readonly arrayBuffers: number;
  readonly rss: number;
}

export interface ProbeSnapshot {
  readonly pid: number;
  /** The latest collection's result, once one was asked for. */
  readonly heap?: ProbeHeap;
}

const HEAP_KEYS = ['seq', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers', 'rss'] as const satisfies readonly (keyof ProbeHeap)[];

/** Compiled next to this module by bench/tsconfig.json. */
export function probeEntry(): string {
  const entry = fileURLToPath(new URL('./heap-probe.js', import.meta.url));
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`tsc -p bench/tsconfig.json\` (npm run bench:sessions does)`);
  return entry;
}

export function probeNodeFlags(): string[] {
  return ['--expose-gc', '--import', pathToFileURL(probeEntry()).href];
}

/** Where the probe in a gateway started with `--config configFile` writes. */
export function probeFile(configFile: string): string {
  return `${path.resolve(configFile)}.probe.json`;
}

/** Validates a snapshot's JSON; throws naming what is wrong. */
export function parseProbeSnapshot(text: string): ProbeSnapshot {
  const value = JSON.parse(text) as Partial<ProbeSnapshot> | null;
  if (value === null || typeof value !== 'object' || typeof value.pid !== 'number') throw new Error('not a heap-probe snapshot');
  if (value.heap !== undefined) {
    const heap = value.heap as unknown as Record<string, unknown> | null;
    if (heap === null || typeof heap !== 'object' || typeof heap['collected'] !== 'boolean') throw new Error('heap-probe snapshot has no heap.collected');
    for (const key of HEAP_KEYS) {
      if (typeof heap[key] !== 'number') throw new Error(`heap-probe snapshot has no numeric heap.${key}`);
    }
  }
  return value as ProbeSnapshot;
}

function readSnapshot(configFile: string, pid: number): ProbeSnapshot | undefined {
  try {
    const snapshot = parseProbeSnapshot(readFileSync(probeFile(configFile), 'utf8'));
    return snapshot.pid === pid ? snapshot : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Asks the probe in gateway `pid` for a full garbage collection and returns the live heap
 * after it; undefined when the probe is not there or does not answer within `timeoutMs`
 * (the signal is only sent once the probe's snapshot shows it is loaded: SIGUSR2 would
 * otherwise end the gateway).
 */
export async function collectedHeap(configFile: string, pid: number, timeoutMs = 10_000): Promise<ProbeHeap | undefined> {
  const before = readSnapshot(configFile, pid);
  if (before === undefined) return undefined;
  const seq = before.heap?.seq ?? 0;
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const heap = readSnapshot(configFile, pid)?.heap;
    if (heap !== undefined && heap.seq > seq) return heap;
  }
  return undefined;
}
