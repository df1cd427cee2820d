/**
 * Bench-only instrument, preloaded into the gateway process with `node --import` (never
 * shipped): on SIGUSR2 (which the gateway does not use) it runs a full garbage collection
 * (the gateway runs with --expose-gc, which only exposes the function) and writes the live
 * heap right after it, so memory figures count what sessions keep, not garbage that awaits
 * collection. Everything else the bench reads from the gateway comes from its /metrics.
 *
 * Snapshots go to `<config file>.probe.json` (the `--config` the gateway was started with):
 * one at load, so the bench knows the signal is handled (SIGUSR2 would otherwise end the
 * gateway), then one per collection. See probe.ts for the reading side.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ProbeHeap, ProbeSnapshot } from './probe.js';

const configIndex = process.argv.indexOf('--config');
const configFile = configIndex >= 0 ? process.argv[configIndex + 1] : undefined;

if (configFile !== undefined) {
  const out = `${path.resolve(configFile)}.probe.json`;
  let heap: ProbeHeap | undefined;
  const write = (): void => {
    const snapshot: ProbeSnapshot = { pid: process.pid, ...(heap === undefined ? {} : { heap }) };
    try {
      writeFileSync(out, JSON.stringify(snapshot));
    } catch {
      // The bench reads a missing or stale file as "unmeasured": nothing to do here.
    }
  };
  write();
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
    write();
  });
}
