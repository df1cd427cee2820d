/** Finding the data directory for offline commands (`audit …`, `sessions …`): --data-dir, or --config's data_dir. */
import { ConfigError, formatIssue } from '../config/issues.js';
import { loadConfig } from '../config/load.js';
import { ExitCode, type CliArgs, type CliIo } from './command.js';

export const CONFIG_ENV = 'PORTCULLIS_CONFIG';

/** The --config / --data-dir lines of a command's usage text. */
export const DATA_DIR_OPTIONS = `  -c, --config FILE      configuration file: its data_dir is used (default:
                         $${CONFIG_ENV}); secrets need not be available
  -d, --data-dir DIR     the data directory itself (instead of --config)`;

export const DATA_DIR_FLAGS = {
  config: { type: 'string', short: 'c' },
  'data-dir': { type: 'string', short: 'd' },
} as const;

/** --data-dir, or the data_dir of --config / $PORTCULLIS_CONFIG; an exit code (after printing why) when neither works. */
export async function resolveDataDir(args: CliArgs, io: CliIo, command: string): Promise<string | ExitCode> {
  const dataDir = stringOf(args.values['data-dir']);
  const configFlag = stringOf(args.values['config']);
  if (dataDir !== undefined && configFlag !== undefined) return usageError(io, command, 'give --config or --data-dir, not both');
  if (dataDir !== undefined) return dataDir;
  const file = configFlag ?? (process.env[CONFIG_ENV] || undefined);
  if (file === undefined) return usageError(io, command, `no data directory: give --data-dir DIR, --config FILE or set ${CONFIG_ENV}`);
  try {
    // Only data_dir is needed: unavailable secrets must not stop an offline command.
    return (await loadConfig(file, { unavailableSecrets: 'placeholder' })).dataDir;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const count = error.issues.length;
    io.err(`${error.issues.map((issue) => formatIssue(error.file, issue)).join('\n')}\n${file}: ${count} ${count === 1 ? 'problem' : 'problems'}\n`);
    return ExitCode.usage;
  }
}

/** Prints a command-line mistake and the hint to run --help; exit 2. */
export function usageError(io: CliIo, command: string, message: string): ExitCode {
  io.err(`portcullis ${command}: ${message}\nRun "portcullis ${command} --help" for usage.\n`);
  return ExitCode.usage;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
