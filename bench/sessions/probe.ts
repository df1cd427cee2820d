/**
 * The reading side of verifier-probe.ts: the `node` flags that load it into a gateway, and
 * its snapshots (what the gateway's token verifier did so far), validated.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface ProbeCounts {
  /** TokenVerifier.verify calls: one per connection that presented a token. */
  readonly verifyCalls: number;
  /** Calls answered from the verifier's cache of verified tokens. */
  readonly cacheHits: number;
  /** Full verifications (signature and claims); concurrent calls for one token share one. */
  readonly verifications: number;
  /** Verifications that refused the token. */
  readonly refused: number;
  /** Times an issuer's key set was (re)loaded from the network: discovery and/or JWKS. */
  readonly keyLoads: number;
  /**
   * The longest single verification so far, ms (in a fresh gateway the first one, which
   * waits for the issuer's keys). Not a count: a window keeps the later snapshot's value.
   */
  readonly maxVerificationMs: number;
}

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
  /** Non-empty when the probe could not hook what it counts: the counts then mean nothing. */
  readonly problems: readonly string[];
  readonly counts: ProbeCounts;
  /** The latest collection's result, once one was asked for. */
  readonly heap?: ProbeHeap;
}

/** Counts over a window, or why they cannot be had. */
export type ProbeReading = { readonly ok: true; readonly counts: ProbeCounts } | { readonly ok: false; readonly problem: string };

const COUNT_KEYS = ['verifyCalls', 'cacheHits', 'verifications', 'refused', 'keyLoads'] as const satisfies readonly (keyof ProbeCounts)[];
const KEYS = [...COUNT_KEYS, 'maxVerificationMs'] as const satisfies readonly (keyof ProbeCounts)[];

/** Compiled next to this module by bench/tsconfig.json. */
export function probeEntry(): string {
  const entry = fileURLToPath(new URL('./verifier-probe.js', import.meta.url));
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
  if (value === null || typeof value !== 'object' || typeof value.pid !== 'number' || !Array.isArray(value.problems) || typeof value.counts !== 'object' || value.counts === null) {
    throw new Error('not a verifier-probe snapshot');
  }
  for (const key of KEYS) {
    if (typeof (value.counts as unknown as Record<string, unknown>)[key] !== 'number') throw new Error(`verifier-probe snapshot has no numeric counts.${key}`);
  }
  return value as ProbeSnapshot;
}

/** The latest snapshot the probe in gateway `pid` wrote, as a reading (never throws). */
export function readProbe(configFile: string, pid: number): ProbeReading {
  const file = probeFile(configFile);
  let snapshot: ProbeSnapshot;
  try {
    snapshot = parseProbeSnapshot(readFileSync(file, 'utf8'));
  } catch (error) {
    return { ok: false, problem: `no verifier-probe snapshot in ${file}: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (snapshot.pid !== pid) return { ok: false, problem: `the verifier-probe snapshot is from pid ${snapshot.pid}, not the gateway's ${pid}` };
  if (snapshot.problems.length > 0) return { ok: false, problem: `the verifier probe could not hook the gateway: ${snapshot.problems.join('; ')}` };
  return { ok: true, counts: snapshot.counts };
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

/** `after − before`; unmeasured if either is. */
export function probeBetween(before: ProbeReading, after: ProbeReading): ProbeReading {
  if (!before.ok) return before;
  if (!after.ok) return after;
  const deltas = Object.fromEntries(COUNT_KEYS.map((k) => [k, after.counts[k] - before.counts[k]])) as Omit<ProbeCounts, 'maxVerificationMs'>;
  return { ok: true, counts: { ...deltas, maxVerificationMs: after.counts.maxVerificationMs } };
}

/**
 * Calls that joined a verification already in flight for the same token (the verifier
 * shares one verification among concurrent arrivals): neither a cache hit nor a
 * verification of their own.
 */
export function sharedInFlight(counts: ProbeCounts): number {
  return counts.verifyCalls - counts.cacheHits - counts.verifications;
}
