import type { CliIo } from '../../../src/cli/command.js';
import { main } from '../../../src/cli/dispatch.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `portcullis <args…>` in-process through the real dispatcher, capturing its output. */
export async function runCli(...args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: (t) => void err.push(t) };
  const code = await main(args, io, new AbortController().signal);
  return { code, stdout: out.join(''), stderr: err.join('') };
}
