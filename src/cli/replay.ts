/**
 * `portcullis replay ID`: plays a recorded session back, psql-like (an SSH session as its
 * terminal), with its original pacing. The transcript and its delays come from the pure
 * timelines (src/recording/replay-timeline.ts, terminal-replay.ts); this file reads the
 * recording, then sleeps and prints.
 */
import { replayTimeline } from '../recording/replay-timeline.js';
import { terminalReplayTimeline } from '../recording/terminal-replay.js';
import { decodeEvent, findSession, type DecodedEvent } from '../recording/session-query.js';
import { ExitCode, type CliArgs, type CliCommand, type CliIo } from './command.js';
import { DATA_DIR_FLAGS, DATA_DIR_OPTIONS, usageError } from './data-dir.js';
import { reportMissing, withStore } from './sessions.js';

const COMMAND = 'replay';
const DEFAULT_MAX_IDLE_SECONDS = 2;

const USAGE = `Usage: portcullis replay ID [--config FILE | --data-dir DIR] [--speed N]
                         [--max-idle SECONDS] [--no-wait] [--json]

Plays a recorded session back like a psql session (an SSH session like a terminal,
see below), with its original pacing: who connected, to which connection, from where,
with or without TLS, and when; then each statement at a "connection=>" prompt (further lines at "connection->"), its bind
parameters, the decision when it was not allowed (DENIED or HELD FOR REVIEW, by which
rule and why), its outcome as psql shows it (the first result rows when the connection
records them, "(N rows)", the command tag or "ERROR:  code: message", then
"Time: N ms"), and how the session ended. An open session plays what has been
recorded so far. Ctrl-C stops.

Recorded result rows are what the agent received (masked), as a psql table: NULL is
shown as NULL, binary values as \\x and hex, values longer than 40 characters (or cut
when recorded) end in "…", and "(first N of M rows recorded)" says when only the first
rows were recorded. Control characters and bidirectional overrides in recorded text are
shown escaped (\\x1b, \\u202e), never sent to your terminal.

An SSH session plays like a terminal: each command at a "connection$" prompt (a shell
as "(interactive shell)"), the decision when it was not allowed, then the output the
agent saw (masked) with its original pacing, and how it ended ("(exit 0, N bytes,
N ms)", or the refusal); lines typed in a shell appear as the terminal echoed them, and
refused ones with their refusal. Colours and cursor movement in the output reach your
terminal; other escape sequences (titles, clipboard, queries, modes) are shown escaped
or, for window titles and a few harmless mode switches, left out: export the session
("sessions export --format asciicast") for the exact output. A marker says when output
went over the recording's per-command limit and was not recorded.

Reads the data directory read-only: safe while the gateway runs.

Options:
${DATA_DIR_OPTIONS}
      --speed N          play N times as fast (default 1; 2 is twice as fast, 0.5 half
                         speed); N > 0
      --max-idle SECONDS never wait longer than SECONDS between two steps (default
                         ${DEFAULT_MAX_IDLE_SECONDS}, like asciinema's idle limit); SECONDS > 0
      --no-wait          print the whole transcript at once
      --json             print the steps at once as JSON lines {delayMs, seq, text}:
                         the wait before each (after --speed and --max-idle), the
                         event it shows (null for the closing note) and its text;
                         SSH terminal output has "terminal": true (its text is
                         printed as is, without a newline)
  -h, --help             show this help

Exit status: 0 replayed (also when stopped with Ctrl-C); 1 the session is not
recorded, no recordings, or an unreadable database; 2 bad command line or invalid
config.

Examples:
  portcullis replay 3f2a9c… --config /etc/portcullis/portcullis.yaml
  portcullis replay 3f2a9c… -d /var/lib/portcullis --speed 4 --max-idle 0.5
  portcullis replay 3f2a9c… -d /var/lib/portcullis --no-wait | less
  portcullis replay 3f2a9c… -d /var/lib/portcullis --json | jq -r .text
`;

/** Waits `ms`, or less when `signal` aborts. Never rejects. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/** The command, sleeping with `sleep` (tests inject one that records the waits). */
export function createReplayCommand(sleep: Sleep = realSleep): CliCommand {
  return {
    name: COMMAND,
    summary: 'Play a recorded session back, psql-like, with its original pacing',
    usage: USAGE,
    options: {
      ...DATA_DIR_FLAGS,
      speed: { type: 'string' },
      'max-idle': { type: 'string' },
      'no-wait': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    async run(args: CliArgs, io: CliIo, signal: AbortSignal): Promise<ExitCode> {
      const [id, extra] = args.positionals;
      if (id === undefined) return usageError(io, COMMAND, 'give the id of the session to replay (see "portcullis sessions list")');
      if (extra !== undefined) return usageError(io, COMMAND, `unexpected argument "${extra}": replay plays one session at a time`);
      const speed = positiveNumber(args.values['speed'], 1);
      if (speed === undefined) {
        return usageError(io, COMMAND, `--speed ${JSON.stringify(args.values['speed'])}: expected a number greater than 0 (2 plays twice as fast, 0.5 at half speed); to print everything at once use --no-wait`);
      }
      const maxIdle = positiveNumber(args.values['max-idle'], DEFAULT_MAX_IDLE_SECONDS);
      if (maxIdle === undefined) {
        return usageError(io, COMMAND, `--max-idle ${JSON.stringify(args.values['max-idle'])}: expected a number of seconds greater than 0 (e.g. 0.5 or 5); to print everything at once use --no-wait`);
      }

      const events: DecodedEvent[] = [];
      const read = await withStore(args, io, COMMAND, (store, database) => {
        const found = findSession(store, id);
        for (const row of found?.events ?? []) events.push(decodeEvent(row));
        return reportMissing(io, COMMAND, database, found === undefined ? [id] : []);
      });
      if (read !== ExitCode.ok) return read;

      const pacing = { speed, maxIdleMs: maxIdle * 1000 };
      const first = events[0];
      const ssh = first?.type === 'session-start' && first.data.protocol === 'ssh';
      const steps = ssh ? terminalReplayTimeline(events, pacing) : replayTimeline(events, pacing);
      if (args.values['json'] === true) {
        io.out(steps.map((step) => `${JSON.stringify(step)}\n`).join(''));
        return ExitCode.ok;
      }
      const wait = args.values['no-wait'] !== true;
      for (const step of steps) {
        if (wait && step.delayMs > 0) await sleep(step.delayMs, signal);
        if (signal.aborted) {
          io.err(`portcullis ${COMMAND}: stopped\n`);
          return ExitCode.ok;
        }
        io.out(step.terminal === true ? step.text : `${step.text}\n`);
      }
      return ExitCode.ok;
    },
  };
}

export const replayCommand = createReplayCommand();

/** A decimal number > 0 ("2", "0.5", ".25"), `fallback` when absent, undefined when invalid. */
function positiveNumber(value: unknown, fallback: number): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^(\d+(\.\d*)?|\.\d+)$/.test(value)) return undefined;
  const number = Number(value);
  return number > 0 && Number.isFinite(number) ? number : undefined;
}
