import type { ParseArgsConfig } from 'node:util';

/** Exit codes that mean something (documented in the README). */
export const ExitCode = {
  ok: 0,
  /** The operation ran and found a problem (invalid config, verification failed). */
  failure: 1,
  /** Bad command line. */
  usage: 2,
  /** A dependency (issuer, database, port) could not be reached. */
  unavailable: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type CliOptions = NonNullable<ParseArgsConfig['options']>;

export interface CliArgs {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

export interface CliIo {
  /** Normal output (results, tokens, JSON). */
  out(text: string): void;
  /** Diagnostics for humans. */
  err(text: string): void;
}

/**
 * One CLI command. `name` may have two words (`config check`). `--help` is handled by
 * the dispatcher, which prints `usage`.
 */
export interface CliCommand {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: CliOptions;
  /** Resolves to the process exit code. Long-running commands resolve when stopped. */
  run(args: CliArgs, io: CliIo, signal: AbortSignal): Promise<ExitCode>;
}

/** Resolves when the signal aborts (immediately if it already has). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
