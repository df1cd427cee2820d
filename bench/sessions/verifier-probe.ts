/**
 * Bench-only instrument, preloaded into the gateway process with `node --import` (never
 * shipped): counts what the gateway's TokenVerifier does — calls, answers from its cache,
 * cryptographic verifications — and how often an issuer's key set is loaded, because the
 * gateway exposes no counter for any of these (bench/sessions.ts names the metrics that
 * should replace this probe).
 *
 * It wraps methods on the prototypes of the very module instances the gateway imports
 * (ES modules are shared by URL), so the gateway's behaviour is unchanged; if those
 * internals were renamed the snapshot says so, and the bench reports the counts as
 * unmeasured instead of as zero.
 *
 * The counts go to `<config file>.probe.json` (the `--config` the gateway was started
 * with) at most every 100 ms and at exit; see probe.ts for the reading side.
 *
 * On SIGUSR2 (which the gateway does not use) it also runs a full garbage collection
 * (the gateway runs with --expose-gc, which only exposes the function) and writes the live
 * heap right after it: memory figures then count what sessions keep, not garbage that
 * awaits collection.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { ProbeCounts, ProbeHeap, ProbeSnapshot } from './probe.js';

const counts: { -readonly [K in keyof ProbeCounts]: ProbeCounts[K] } = {
  verifyCalls: 0,
  cacheHits: 0,
  verifications: 0,
  refused: 0,
  keyLoads: 0,
  maxVerificationMs: 0,
};
const problems: string[] = [];
let heap: ProbeHeap | undefined;
let dirty = true;
const NO_CACHE = 'TokenVerifier has no cache field';

type AnyMethod = (this: unknown, ...args: unknown[]) => unknown;

function wrap(proto: Record<string, unknown> | undefined, name: string, owner: string, around: (original: AnyMethod) => AnyMethod): void {
  const original = proto?.[name];
  if (typeof original !== 'function') {
    problems.push(`${owner}.prototype.${name} is not a function`);
    return;
  }
  proto![name] = around(original as AnyMethod);
}

const configIndex = process.argv.indexOf('--config');
const configFile = configIndex >= 0 ? process.argv[configIndex + 1] : undefined;
const entry = process.argv[1];
const out = configFile === undefined ? undefined : `${path.resolve(configFile)}.probe.json`;

if (out !== undefined && entry !== undefined) {
  // The gateway's entry is dist/cli/main.js: its identity modules are next door.
  const identityDir = path.join(path.dirname(path.resolve(entry)), '..', 'identity');
  try {
    const verifier = (await import(pathToFileURL(path.join(identityDir, 'verifier.js')).href)) as { TokenVerifier?: { prototype: Record<string, unknown> } };
    const jwks = (await import(pathToFileURL(path.join(identityDir, 'jwks.js')).href)) as { IssuerKeySource?: { prototype: Record<string, unknown> } };
    const patchedCaches = new WeakSet<object>();
    wrap(verifier.TokenVerifier?.prototype, 'verify', 'TokenVerifier', (original) =>
      function (this: unknown, ...args: unknown[]) {
        counts.verifyCalls += 1;
        dirty = true;
        countCacheHits(this, patchedCaches);
        return original.apply(this, args);
      },
    );
    wrap(verifier.TokenVerifier?.prototype, 'verifyUncached', 'TokenVerifier', (original) =>
      async function (this: unknown, ...args: unknown[]) {
        counts.verifications += 1;
        dirty = true;
        const started = performance.now();
        try {
          return await original.apply(this, args);
        } catch (error) {
          counts.refused += 1;
          throw error;
        } finally {
          counts.maxVerificationMs = Math.max(counts.maxVerificationMs, performance.now() - started);
          dirty = true;
        }
      },
    );
    wrap(jwks.IssuerKeySource?.prototype, 'load', 'IssuerKeySource', (original) =>
      function (this: unknown, ...args: unknown[]) {
        counts.keyLoads += 1;
        dirty = true;
        return original.apply(this, args);
      },
    );
  } catch (error) {
    problems.push(`loading the gateway's identity modules failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  const write = (): void => {
    if (!dirty) return;
    dirty = false;
    const snapshot: ProbeSnapshot = { pid: process.pid, problems, counts: { ...counts }, ...(heap === undefined ? {} : { heap }) };
    try {
      writeFileSync(out, JSON.stringify(snapshot));
    } catch {
      // The bench reads a missing or stale file as "unmeasured": nothing to do here.
    }
  };
  write();
  setInterval(write, 100).unref();
  process.on('exit', write);
  process.on('SIGUSR2', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (typeof gc === 'function') gc();
    const m = process.memoryUsage();
    heap = {
      seq: (heap?.seq ?? 0) + 1,
      collected: typeof gc === 'function',
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      rss: m.rss,
    };
    dirty = true;
    write();
  });
}

/** The verifier's LRU answers a cached token from `cache.get`; a defined answer is a cache hit. */
function countCacheHits(verifier: unknown, patched: WeakSet<object>): void {
  const cache = (verifier as { cache?: { get?: unknown } } | null)?.cache;
  if (cache === undefined || cache === null) {
    if (!problems.includes(NO_CACHE)) problems.push(NO_CACHE);
    dirty = true;
    return;
  }
  if (patched.has(cache)) return;
  patched.add(cache);
  const get = cache.get;
  if (typeof get !== 'function') {
    problems.push('TokenVerifier.cache.get is not a function');
    dirty = true;
    return;
  }
  cache.get = function (this: unknown, ...args: unknown[]) {
    const hit = (get as AnyMethod).apply(this, args);
    if (hit !== undefined) counts.cacheHits += 1;
    return hit;
  };
}
