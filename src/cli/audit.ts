/**
 * `portcullis audit verify` checks the recordings and the audit log offline, from the data
 * directory alone (plus, for real tamper evidence, a public key kept elsewhere);
 * `portcullis audit pubkey` prints the public key to keep.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { keyId } from '../recording/chain.js';
import { journalDir, unappliedJournalBytes } from '../recording/journal-segments.js';
import { FileKeyStore, parsePublicKey, publicKeyPem, SIGNING_KEY_FILE } from '../recording/key-store.js';
import { RecorderError } from '../recording/recorder.js';
import { DATABASE_FILE, SqliteStore } from '../recording/sqlite-store.js';
import { verifyAudit, type Anchor, type VerifyProblem, type VerifyResult } from '../recording/verify.js';
import { ExitCode, type CliArgs, type CliCommand, type CliIo } from './command.js';
import { DATA_DIR_FLAGS, DATA_DIR_OPTIONS, resolveDataDir, usageError } from './data-dir.js';

const VERIFY_USAGE = `Usage: portcullis audit verify [--config FILE | --data-dir DIR]
                              [--public-key FILE] [--anchor SEQ:HASH]... [--json]

Checks every recording and the audit log in the data directory, offline: recomputes
each session's hash chain (every event commits to the one before it), the global
chain that seals each ended session, the Ed25519 signature of every checkpoint, and
that the sessions index agrees with the recorded events. Reports exactly which
session, event (seq) or global entry is wrong and what that means: modified,
deleted, inserted or reordered events, deleted sessions, a truncated chain.
Sessions removed by retention are accepted only where a signed prune entry of the
audit log names them; the output counts them.

Tamper evidence needs a key the tamperer cannot replace. Export the public key once
("portcullis audit pubkey"), keep it away from the gateway host, and pass it with
--public-key: without it the key in the data directory is used, and whoever can
rewrite the database there can replace that key and re-sign.

What no checkpoint covers yet (the gateway signs one every 100 global entries, at
start and at clean shutdown) can be removed without a trace: the output names that
window. So can a whole tail of the chain, newest checkpoints included — unless you
keep anchors: the gateway logs every checkpoint as "anchor: SEQ:HASH", and this
command prints the current head; pass such values back with --anchor to prove the
chain still holds them.

Options:
${DATA_DIR_OPTIONS}
  -k, --public-key FILE  PEM Ed25519 public key to verify checkpoints with (from
                         "portcullis audit pubkey"); default: the data directory's key
  -a, --anchor SEQ:HASH  a global entry recorded elsewhere that must still be there,
                         unchanged; repeat for several
      --json             print the result as JSON
  -h, --help             show this help

Exit status: 0 verified, no problems; 1 problems found (each printed), or nothing
to verify (no database, no key); 2 bad command line or invalid config.

Examples:
  portcullis audit pubkey --config /etc/portcullis/portcullis.yaml > audit.pub.pem
  portcullis audit verify --config /etc/portcullis/portcullis.yaml --public-key audit.pub.pem
  portcullis audit verify --data-dir /var/lib/portcullis -k audit.pub.pem --json | jq .problems
  portcullis audit verify -d /var/lib/portcullis -k audit.pub.pem --anchor 1200:9f86d08…
`;

const PUBKEY_USAGE = `Usage: portcullis audit pubkey [--config FILE | --data-dir DIR]

Prints the public half of the audit signing key (PEM, Ed25519) that the gateway
signs audit checkpoints with. The key pair is created in the data directory
(${SIGNING_KEY_FILE}) at the gateway's first start.

Save the output somewhere the gateway host cannot write to, and verify with it
("portcullis audit verify --public-key FILE"): that is what makes the audit log
tamper-evident against someone who can change the data directory.

Options:
${DATA_DIR_OPTIONS}
  -h, --help             show this help

Exit status: 0 printed; 1 no key in the data directory (or unreadable); 2 bad
command line or invalid config.

Examples:
  portcullis audit pubkey --config portcullis.yaml > audit.pub.pem
  portcullis audit pubkey --data-dir /var/lib/portcullis | ssh audit@vault 'cat > portcullis.pub.pem'
`;

export const auditVerifyCommand: CliCommand = {
  name: 'audit verify',
  summary: 'Check recordings and the audit log for tampering, offline',
  usage: VERIFY_USAGE,
  options: {
    ...DATA_DIR_FLAGS,
    'public-key': { type: 'string', short: 'k' },
    anchor: { type: 'string', short: 'a', multiple: true },
    json: { type: 'boolean' },
  },
  async run(args: CliArgs, io: CliIo): Promise<ExitCode> {
    const command = 'audit verify';
    if (args.positionals.length > 0) return usageError(io, command, `unexpected argument "${args.positionals[0]}"`);
    const anchors: Anchor[] = [];
    for (const value of stringsOf(args.values['anchor'])) {
      const match = /^(\d{1,15}):([0-9a-fA-F]{64})$/.exec(value);
      if (match === null) return usageError(io, command, `--anchor ${JSON.stringify(value)}: expected SEQ:HASH (a global entry number, ":", its 64-digit hex hash)`);
      anchors.push({ globalSeq: Number(match[1]), hash: (match[2] as string).toLowerCase() });
    }
    const dataDir = await resolveDataDir(args, io, command);
    if (typeof dataDir !== 'string') return dataDir;

    const keyFile = stringOf(args.values['public-key']);
    let publicKey: KeyObject;
    try {
      publicKey = keyFile === undefined ? FileKeyStore.open(dataDir).publicKey() : parsePublicKey(readKeyFile(keyFile), keyFile);
    } catch (error) {
      return failure(io, command, error);
    }
    const database = join(dataDir, DATABASE_FILE);
    if (!existsSync(database)) {
      io.err(`portcullis ${command}: no recordings in ${dataDir} (no ${DATABASE_FILE}): is the data directory right? The gateway creates it at its first start.\n`);
      return ExitCode.failure;
    }
    let result: VerifyResult;
    let unapplied: number;
    let journal: string;
    try {
      const store = SqliteStore.open(dataDir, { readonly: true });
      try {
        result = store.snapshot(() => verifyAudit(store, publicKey, { anchors }));
        journal = journalDir(dataDir, store.journalId());
        unapplied = unappliedJournalBytes(journal, store.journalPosition());
      } finally {
        store.close();
      }
    } catch (error) {
      return failure(io, command, error);
    }

    if (args.values['json'] === true) {
      const output = { database, publicKey: { id: keyId(publicKey), from: keyFile ?? join(dataDir, SIGNING_KEY_FILE) }, ...result, unappliedJournalBytes: unapplied };
      io.out(`${JSON.stringify(output, null, 2)}\n`);
    } else {
      io.out(describe(result, database, keyId(publicKey), keyFile));
    }
    if (unapplied > 0) {
      io.err(
        `note: ${plural(unapplied, 'byte')} of recordings in ${journal} are not in the database yet, and were not verified: ` +
          `a running gateway applies them within milliseconds; after a crash, its next start does. Verify again then.\n`,
      );
    }
    if (keyFile === undefined) {
      io.err(
        `note: verified with the public key in the data directory. Whoever can rewrite the database can replace that key too:\n` +
          `for tamper evidence, export it once ("portcullis audit pubkey > audit.pub.pem"), keep it elsewhere, and pass --public-key.\n`,
      );
    }
    return result.ok ? ExitCode.ok : ExitCode.failure;
  },
};

export const auditPubkeyCommand: CliCommand = {
  name: 'audit pubkey',
  summary: 'Print the public key that audit checkpoints are signed with',
  usage: PUBKEY_USAGE,
  options: { ...DATA_DIR_FLAGS },
  async run(args: CliArgs, io: CliIo): Promise<ExitCode> {
    const command = 'audit pubkey';
    if (args.positionals.length > 0) return usageError(io, command, `unexpected argument "${args.positionals[0]}"`);
    const dataDir = await resolveDataDir(args, io, command);
    if (typeof dataDir !== 'string') return dataDir;
    try {
      io.out(publicKeyPem(FileKeyStore.open(dataDir).publicKey()));
      return ExitCode.ok;
    } catch (error) {
      return failure(io, command, error);
    }
  },
};

/** The readable report: problems first (one per line), then what was checked and what is not yet covered. */
function describe(result: VerifyResult, database: string, signer: string, keyFile: string | undefined): string {
  const lines: string[] = result.problems.map((problem) => `${location(problem)}: ${problem.problem}`);
  if (result.omittedProblems > 0) lines.push(`… and ${result.omittedProblems} more problems`);
  const tail = result.unprotectedTail;
  lines.push(
    `${database}: ${result.ok ? 'OK' : `FAILED — ${plural(result.problems.length + result.omittedProblems, 'problem')}`}`,
    `  checked: ${plural(result.checkedSessions, 'session')}, ${plural(result.checkedEvents, 'event')}, ` +
      `${plural(result.checkedAuditEntries, 'global entry', 'global entries')} (${plural(result.validCheckpoints, 'valid checkpoint')})`,
    `  public key: ${signer} (${keyFile === undefined ? 'from the data directory' : `from ${keyFile}`})`,
  );
  if (result.head !== undefined) lines.push(`  head: ${result.head.globalSeq}:${result.head.hash}  (keep it; pass it later as --anchor)`);
  if (result.lastCheckpoint !== undefined) {
    lines.push(`  last checkpoint: global entry ${result.lastCheckpoint.globalSeq}, ${new Date(result.lastCheckpoint.time).toISOString()}`);
  }
  lines.push(
    tail.auditEntries === 0 && tail.events === 0
      ? '  not yet covered by a checkpoint: nothing'
      : `  not yet covered by a checkpoint (removable without a trace): ${plural(tail.auditEntries, 'global entry', 'global entries')}` +
          `${tail.fromGlobalSeq === undefined ? '' : ` (from ${tail.fromGlobalSeq})`}, ${plural(tail.events, 'event')} in ${plural(tail.sessions, 'session')}`,
  );
  if (result.prunedSessions > 0) {
    lines.push(`  pruned by retention: ${plural(result.prunedSessions, 'session')} (their seals and the signed prune entries remain, and verify)`);
  }
  if (result.openSessions > 0) lines.push(`  open sessions: ${result.openSessions} (not ended yet, or the gateway has not restarted since a crash)`);
  return `${lines.join('\n')}\n`;
}

function location(problem: VerifyProblem): string {
  const parts: string[] = [];
  if (problem.sessionId !== undefined) parts.push(`session ${problem.sessionId}`);
  if (problem.seq !== undefined) parts.push(`event ${problem.seq}`);
  if (problem.globalSeq !== undefined) parts.push(`global entry ${problem.globalSeq}`);
  return parts.length === 0 ? problem.code : parts.join(', ');
}

function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new RecorderError(`cannot read public key file ${file}: ${(error as Error).message}`, { cause: error });
  }
}

function failure(io: CliIo, command: string, error: unknown): ExitCode {
  if (!(error instanceof RecorderError)) throw error;
  io.err(`portcullis ${command}: ${error.message}\n`);
  return ExitCode.failure;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}
