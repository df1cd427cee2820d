/**
 * The shell-command inspector the live gateway uses: the pure inspector behind a bounded
 * cache, so the command lines agents repeat (health checks, the same `ls`) are parsed once.
 */
import { BoundedCache } from './bounded-cache.js';
import type { ShellInspection } from './shell/facts.js';
import { inspectShell } from './shell/inspect.js';

export type ShellInspector = (commandLine: string) => ShellInspection;

/** Command lines above this length are inspected every time rather than cached. */
const MAX_CACHED_TEXT = 4 * 1024;

export function createShellInspector(cacheEntries = 2_000): ShellInspector {
  const cache = new BoundedCache<string, ShellInspection>(cacheEntries);
  return (commandLine) => {
    if (commandLine.length > MAX_CACHED_TEXT) return inspectShell(commandLine);
    let inspection = cache.get(commandLine);
    if (inspection === undefined) {
      inspection = inspectShell(commandLine);
      cache.set(commandLine, inspection);
    }
    return inspection;
  };
}
