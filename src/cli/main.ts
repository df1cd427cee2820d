#!/usr/bin/env -S node --max-semi-space-size=4
/** The `portcullis` executable: wires process signals and stdio to the dispatcher. */
import type { CliIo } from './command.js';
import { main } from './dispatch.js';

const controller = new AbortController();
let signals = 0;
const onSignal = (): void => {
  signals += 1;
  if (signals > 1) process.exit(130);
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
const io: CliIo = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
};
main(process.argv.slice(2), io, controller.signal).then(
  (code) => {
    process.exitCode = code;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  },
  (err: unknown) => {
    process.stderr.write(`portcullis: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 70;
  },
);
