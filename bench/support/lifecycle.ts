/**
 * What every benchmark entry point needs around its measurements: the repository root (they
 * run from bench/out/build/bench/), clean-up steps run in reverse on exit or interruption
 * (servers stopped, temp dirs removed), and progress lines on stderr.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The first ancestor of the module at `moduleUrl` with a package.json. */
export function repoRoot(moduleUrl: string): string {
  for (let dir = path.dirname(fileURLToPath(moduleUrl)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (dir === path.dirname(dir)) return process.cwd();
  }
}

export type CleanupStep = () => Promise<unknown> | unknown;

/**
 * Steps registered with `push` run newest first by `run()` — and on SIGINT/SIGTERM, after
 * which the process exits 130 (a second signal exits at once); `interrupted()` says a signal came.
 */
export function cleanupOnExit(): { push(step: CleanupStep): void; run(): Promise<void>; interrupted(): boolean } {
  const steps: CleanupStep[] = [];
  const run = async (): Promise<void> => {
    while (steps.length > 0) {
      const step = steps.pop()!;
      try {
        await step();
      } catch (error) {
        console.error(`cleanup step failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      console.error(`\n${sig}: cleaning up…`);
      void run().finally(() => process.exit(130));
    });
  }
  return { push: (step) => void steps.push(step), run, interrupted: () => interrupted };
}

/** A progress printer: `[tag] message` on stderr. */
export function progress(tag: string): (message: string) => void {
  return (message) => void process.stderr.write(`[${tag}] ${message}\n`);
}
