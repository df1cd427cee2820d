/**
 * `verifyAudit` recomputes every hash chain from the stored rows and reports exactly which
 * session, event or global entry is wrong. Pure over an `AuditSource` (rows in, result
 * out); memory grows with the number of sessions, not events.
 *
 * What is checked:
 *   - each session's chain: seqs 1…n without gaps, each event's hash recomputed from its
 *     contents, each `prevHash` equal to the previous event's hash (the first one's to the
 *     session genesis, which commits to the session id), a session-start first and nothing
 *     after a session-end; terminal events (an SSH operation's terminal I/O) well-formed and
 *     naming an earlier event as their operation;
 *   - the global chain the same way, and each `session-seal` against its session's last
 *     event (so a deleted, truncated, extended or rewritten session shows), and every ended
 *     session has a seal (so deleting global entries shows while their sessions remain);
 *   - every checkpoint: the head it signs is the entry just before it, its Ed25519 signature
 *     is valid under the given public key, and each session it lists as open still has that
 *     event with that hash;
 *   - the sessions index (what listing shows) agrees with the hashed events;
 *   - approval steps (`approval` entries) are chained and covered like every global entry, and
 *     each is well-formed: a request id, a step kind, no session id;
 *   - sessions removed by retention: a sealed session without events is accepted only when a
 *     `prune` entry after its seal names that seal (global seq, last seq and hash), says the
 *     retention had passed, and is itself covered by a valid checkpoint — the gateway writes
 *     one in the same transaction, so an unsigned prune entry appended by someone without the
 *     key cannot excuse a deletion;
 *   - optional anchors: global entries recorded elsewhere (the gateway logs each checkpoint
 *     as `anchor: SEQ:HASH`) must still be there with the same hash.
 *
 * What it protects, and the window it cannot:
 *   A checkpoint signs the global head (and so, through the chaining, every earlier entry,
 *   every sealed session's events, and the events so far of the sessions still open). Anything
 *   a valid checkpoint covers cannot be modified, deleted, inserted, reordered or truncated
 *   without this reporting it — by someone who does not hold the signing key.
 *
 *   NOT covered, reported as `unprotectedTail`: global entries after the last valid
 *   checkpoint (at most `checkpointEvery` − 1 of them while the gateway runs; none after a
 *   clean shutdown, which signs a final checkpoint) and events written since then (those of
 *   sessions sealed after it or still open). Those can be removed without a trace, and so
 *   can the newest checkpoints themselves together with everything after them: a suffix of
 *   the chain cut off cleanly looks like a shorter history. Only an anchor kept outside the
 *   data directory (a shipped log line, a previous verify's `head`) detects that.
 *
 *   The signing key lives in the data directory. Someone who can replace the key file can
 *   re-sign a rewritten history: verify with a public key exported earlier
 *   (`portcullis audit pubkey`) and stored elsewhere, never only with the data directory's.
 *   Someone who can READ the key (root on the gateway host) can forge checkpoints under the
 *   real key too; against them only external anchors help.
 */
import type { KeyObject } from 'node:crypto';
import {
  AUDIT_GENESIS,
  auditEntryHash,
  checkpointSignatureValid,
  eventHash,
  keyId,
  sessionGenesis,
  type ApprovalEntryPayload,
  type CheckpointPayload,
  type PrunedSession,
  type SealPayload,
} from './chain.js';
import { AUDIT_ENTRY_TYPES, EVENT_TYPES, type AuditSource, type EventRow, type SessionRow } from './store.js';
import { terminalPayloadProblem } from './terminal-event.js';

export type ProblemCode =
  | 'event-missing'
  | 'event-link-broken'
  | 'event-modified'
  | 'event-invalid'
  | 'event-after-end'
  | 'event-after-seal'
  | 'session-truncated'
  | 'session-seal-mismatch'
  | 'session-checkpoint-mismatch'
  | 'session-missing'
  | 'session-not-sealed'
  | 'session-sealed-twice'
  | 'session-index-missing'
  | 'session-index-mismatch'
  | 'session-events-missing'
  | 'audit-entry-missing'
  | 'audit-link-broken'
  | 'audit-entry-modified'
  | 'audit-entry-invalid'
  | 'checkpoint-mismatch'
  | 'checkpoint-wrong-key'
  | 'checkpoint-signature-invalid'
  | 'anchor-missing'
  | 'anchor-mismatch'
  | 'prune-invalid'
  | 'prune-unsigned';

export interface VerifyProblem {
  readonly code: ProblemCode;
  readonly sessionId?: string;
  /** Event seq within the session. */
  readonly seq?: number;
  /** Seq in the global audit chain. */
  readonly globalSeq?: number;
  /** What is wrong and what it means, for a human. */
  readonly problem: string;
}

/** A global entry known from outside the data directory: it must still be there, unchanged. */
export interface Anchor {
  readonly globalSeq: number;
  readonly hash: string;
}

export interface VerifyOptions {
  readonly anchors?: readonly Anchor[];
  /** Problems beyond this many are counted, not listed (default 1000). */
  readonly maxProblems?: number;
}

export interface VerifyResult {
  /** No problems. */
  readonly ok: boolean;
  readonly checkedEvents: number;
  readonly checkedSessions: number;
  readonly checkedAuditEntries: number;
  /** Checkpoints whose signature verified. */
  readonly validCheckpoints: number;
  /** The newest global entry (record it elsewhere to use as an anchor later). */
  readonly head: { readonly globalSeq: number; readonly hash: string } | undefined;
  readonly lastCheckpoint: { readonly globalSeq: number; readonly hash: string; readonly time: number } | undefined;
  /** Sessions with no end yet (live ones, if the gateway is running). */
  readonly openSessions: number;
  /** Sessions removed by retention, each covered by a valid, signed prune entry. */
  readonly prunedSessions: number;
  /**
   * What no valid checkpoint covers yet — the window in which removal is undetectable without
   * an anchor: global entries after the last valid checkpoint (`fromGlobalSeq` on), and events
   * (in `sessions` sessions) written after it.
   */
  readonly unprotectedTail: {
    readonly auditEntries: number;
    readonly fromGlobalSeq: number | undefined;
    readonly events: number;
    readonly sessions: number;
  };
  readonly problems: readonly VerifyProblem[];
  /** Problems found beyond `maxProblems`. */
  readonly omittedProblems: number;
}

interface Seal extends SealPayload {
  readonly globalSeq: number;
  /** The seal entry's time (when the session was sealed, right after its end). */
  readonly time: number;
}

/** A session a prune entry removed. */
interface Pruned {
  readonly globalSeq: number;
}

interface Claim {
  readonly seq: number;
  readonly hash: string;
  readonly globalSeq: number;
}

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);
const AUDIT_TYPE_SET: ReadonlySet<string> = new Set(AUDIT_ENTRY_TYPES);
const HEX_HASH = /^[0-9a-f]{64}$/;

export function verifyAudit(source: AuditSource, publicKey: KeyObject, options: VerifyOptions = {}): VerifyResult {
  const problems: VerifyProblem[] = [];
  const maxProblems = options.maxProblems ?? 1000;
  let omittedProblems = 0;
  const report = (problem: VerifyProblem): void => {
    if (problems.length < maxProblems) problems.push(problem);
    else omittedProblems++;
  };

  const global = verifyGlobalChain(source, publicKey, options.anchors ?? [], report);
  const sessions = verifySessions(source, global, report);

  const lastValid = global.lastValidCheckpoint;
  const head = global.head;
  const unprotectedAudit = head === undefined ? 0 : head.seq - (lastValid?.seq ?? 0);
  return {
    ok: problems.length === 0,
    checkedEvents: sessions.checkedEvents,
    checkedSessions: sessions.checkedSessions,
    checkedAuditEntries: global.checked,
    validCheckpoints: global.validCheckpoints,
    head: head === undefined ? undefined : { globalSeq: head.seq, hash: head.hash },
    lastCheckpoint: lastValid === undefined ? undefined : { globalSeq: lastValid.seq, hash: lastValid.hash, time: lastValid.time },
    openSessions: sessions.open,
    prunedSessions: sessions.pruned,
    unprotectedTail: {
      auditEntries: unprotectedAudit,
      fromGlobalSeq: unprotectedAudit === 0 ? undefined : (lastValid?.seq ?? 0) + 1,
      events: sessions.unprotectedEvents,
      sessions: sessions.unprotectedSessions,
    },
    problems,
    omittedProblems,
  };
}

type Report = (problem: VerifyProblem) => void;

interface GlobalFindings {
  readonly checked: number;
  readonly head: { seq: number; hash: string } | undefined;
  readonly lastValidCheckpoint: { seq: number; hash: string; time: number } | undefined;
  readonly validCheckpoints: number;
  /** Seals by session id (removed as sessions are matched; what remains is missing). */
  readonly seals: Map<string, Seal>;
  /** The highest event each session was signed at while open, by a valid checkpoint. */
  readonly claims: Map<string, Claim>;
  /** Sessions pruned by a valid prune entry that a valid checkpoint covers. */
  readonly pruned: Map<string, Pruned>;
}

function verifyGlobalChain(source: AuditSource, publicKey: KeyObject, anchors: readonly Anchor[], report: Report): GlobalFindings {
  const verifyingKeyId = keyId(publicKey);
  const anchorsBySeq = new Map(anchors.map((anchor) => [anchor.globalSeq, anchor]));
  const seals = new Map<string, Seal>();
  const claims = new Map<string, Claim>();
  // Prune entries not yet covered by a valid checkpoint (the gateway signs one right after each).
  let unsignedPrunes: { globalSeq: number; sessions: string[] }[] = [];
  const pruned = new Map<string, Pruned>();
  let checked = 0;
  let validCheckpoints = 0;
  let expected = 1;
  let previousHash = AUDIT_GENESIS;
  let head: { seq: number; hash: string } | undefined;
  let lastValidCheckpoint: { seq: number; hash: string; time: number } | undefined;

  for (const entry of source.auditEntries()) {
    checked++;
    const globalSeq = entry.seq;
    if (globalSeq !== expected) {
      const range = globalSeq - 1 === expected ? `global entry ${expected} is` : `global entries ${expected}–${globalSeq - 1} are`;
      report({ code: 'audit-entry-missing', globalSeq: expected, problem: `${range} missing (deleted)` });
    } else if (entry.prevHash !== previousHash) {
      report({
        code: 'audit-link-broken',
        globalSeq,
        problem:
          globalSeq === 1
            ? 'the first global entry does not start from the genesis hash: entries before it were removed, or it was forged'
            : `does not link to global entry ${globalSeq - 1}: an entry was inserted, removed or rewritten before it`,
      });
    }
    if (auditEntryHash(entry) !== entry.hash) {
      report({ code: 'audit-entry-modified', globalSeq, problem: `${entry.type} entry: its contents do not match its hash (modified)` });
    }
    const anchor = anchorsBySeq.get(globalSeq);
    if (anchor !== undefined) {
      anchorsBySeq.delete(globalSeq);
      if (anchor.hash !== entry.hash) {
        report({
          code: 'anchor-mismatch',
          globalSeq,
          problem: `has hash ${entry.hash}, not the anchored ${anchor.hash}: the history up to it was rewritten`,
        });
      }
    }

    const invalid = (why: string): void => report({ code: 'audit-entry-invalid', globalSeq, problem: why });
    if (!AUDIT_TYPE_SET.has(entry.type)) {
      invalid(`unknown entry type ${JSON.stringify(entry.type)}`);
    } else if (entry.type === 'session-seal') {
      const seal = parseSeal(entry.payload);
      if (seal === undefined || entry.sessionId === null) {
        invalid('session-seal entry with a malformed payload or no session id');
      } else if (seals.has(entry.sessionId)) {
        const first = seals.get(entry.sessionId) as Seal;
        report({
          code: 'session-sealed-twice',
          sessionId: entry.sessionId,
          globalSeq,
          problem: `sealed again (first sealed at global entry ${first.globalSeq}): a seal was inserted`,
        });
      } else {
        seals.set(entry.sessionId, { ...seal, globalSeq, time: entry.time });
      }
    } else if (entry.type === 'approval') {
      if (entry.sessionId !== null || parseApproval(entry.payload) === undefined) {
        invalid('approval entry with a malformed payload (it needs a request id, a step kind and details) or a session id');
      }
    } else if (entry.type === 'prune') {
      const sessions = parsePrune(entry.payload);
      if (sessions === undefined) invalid('prune entry with a malformed payload');
      else unsignedPrunes.push({ globalSeq, sessions: checkPrune(sessions, globalSeq, entry.time, seals, pruned, report) });
    } else if (entry.type === 'checkpoint') {
      const checkpoint = parseCheckpoint(entry.payload);
      if (checkpoint === undefined) {
        invalid('checkpoint entry with a malformed payload');
      } else {
        const coversSeq = globalSeq - 1;
        const coversHash = head === undefined || head.seq !== coversSeq ? (coversSeq === 0 ? AUDIT_GENESIS : undefined) : head.hash;
        const body = { covers: checkpoint.covers, open: checkpoint.open, keyId: checkpoint.keyId, time: entry.time };
        if (checkpoint.covers.seq !== coversSeq || (coversHash !== undefined && checkpoint.covers.hash !== coversHash)) {
          report({
            code: 'checkpoint-mismatch',
            globalSeq,
            problem:
              `signs global entry ${checkpoint.covers.seq} with hash ${checkpoint.covers.hash.slice(0, 16)}…, ` +
              `but the chain before it ${coversHash === undefined ? `does not end at entry ${coversSeq}` : `has ${coversHash.slice(0, 16)}… at ${coversSeq}`}: ` +
              'entries it covered were rewritten, removed or inserted',
          });
        } else if (checkpoint.keyId !== verifyingKeyId) {
          report({
            code: 'checkpoint-wrong-key',
            globalSeq,
            problem: `signed by key ${checkpoint.keyId}, not by the key being verified with (${verifyingKeyId}): the log was re-signed, or the wrong public key was given`,
          });
        } else if (!checkpointSignatureValid(body, checkpoint.signature, publicKey)) {
          report({ code: 'checkpoint-signature-invalid', globalSeq, problem: 'its signature is invalid: the checkpoint was forged or modified' });
        } else {
          validCheckpoints++;
          lastValidCheckpoint = { seq: globalSeq, hash: entry.hash, time: entry.time };
          for (const prune of unsignedPrunes) for (const id of prune.sessions) pruned.set(id, { globalSeq: prune.globalSeq });
          unsignedPrunes = [];
          for (const [sessionId, seq, hash] of checkpoint.open) {
            const known = claims.get(sessionId);
            if (known === undefined || seq >= known.seq) claims.set(sessionId, { seq, hash, globalSeq });
          }
        }
      }
    }
    previousHash = entry.hash;
    expected = globalSeq + 1;
    head = { seq: globalSeq, hash: entry.hash };
  }

  for (const prune of unsignedPrunes) {
    report({
      code: 'prune-unsigned',
      globalSeq: prune.globalSeq,
      problem:
        `prunes ${prune.sessions.length === 1 ? 'a session' : `${prune.sessions.length} sessions`}, but no valid checkpoint follows it ` +
        '(the gateway signs one in the same transaction): it was appended by someone without the signing key, and does not excuse their deletion',
    });
  }
  for (const anchor of anchorsBySeq.values()) {
    report({
      code: 'anchor-missing',
      globalSeq: anchor.globalSeq,
      problem: `the anchored global entry is missing: the chain ends at ${head === undefined ? 'nothing (it is empty)' : `entry ${head.seq}`}, so it was truncated`,
    });
  }
  return { checked, head, lastValidCheckpoint, validCheckpoints, seals, claims, pruned };
}

/**
 * Checks each session a prune entry names against its seal; returns the ids it validly
 * prunes (their events may be gone once a checkpoint signs the entry).
 */
function checkPrune(
  sessions: readonly PrunedSession[],
  globalSeq: number,
  time: number,
  seals: ReadonlyMap<string, Seal>,
  pruned: ReadonlyMap<string, Pruned>,
  report: Report,
): string[] {
  const valid: string[] = [];
  for (const session of sessions) {
    const seal = seals.get(session.id);
    const wrong = (why: string): void => report({ code: 'prune-invalid', sessionId: session.id, globalSeq, problem: `prunes this session, but ${why}` });
    if (pruned.has(session.id)) wrong(`global entry ${(pruned.get(session.id) as Pruned).globalSeq} already pruned it`);
    else if (seal === undefined) wrong('no earlier seal ended it: only sealed sessions are pruned');
    else if (seal.globalSeq !== session.sealSeq || seal.lastSeq !== session.lastSeq || seal.lastHash !== session.lastHash) {
      wrong(`it names a seal (global entry ${session.sealSeq}, ${session.lastSeq} events) that differs from the session's seal at global entry ${seal.globalSeq}`);
    } else if (session.endedAt > seal.time || time - session.endedAt < session.retentionMs) {
      wrong(`its retention (${session.retentionMs} ms after the end at ${new Date(session.endedAt).toISOString()}) had not passed`);
    } else valid.push(session.id);
  }
  return valid;
}

interface SessionFindings {
  readonly checkedEvents: number;
  readonly checkedSessions: number;
  readonly open: number;
  readonly pruned: number;
  readonly unprotectedEvents: number;
  readonly unprotectedSessions: number;
}

/** One session's chain as it streams by. */
interface SessionWalk {
  readonly id: string;
  expected: number;
  previousHash: string;
  last: EventRow | undefined;
  start: EventRow | undefined;
  end: EventRow | undefined;
  claimSeen: boolean;
}

function verifySessions(source: AuditSource, global: GlobalFindings, report: Report): SessionFindings {
  const index = new Map<string, SessionRow>();
  for (const row of source.sessions()) index.set(row.id, row);
  const protectedUpTo = global.lastValidCheckpoint?.seq ?? 0;
  let checkedEvents = 0;
  let checkedSessions = 0;
  let open = 0;
  let unprotectedEvents = 0;
  let unprotectedSessions = 0;
  const missingReported = new Set<string>();

  const finish = (walk: SessionWalk): void => {
    checkedSessions++;
    const { id } = walk;
    const lastSeq = walk.last?.seq ?? 0;
    checkIndex(walk, index.get(id), report);
    index.delete(id);
    const prune = global.pruned.get(id);
    if (prune !== undefined) {
      global.pruned.delete(id);
      report({
        code: 'prune-invalid',
        sessionId: id,
        globalSeq: prune.globalSeq,
        problem: `pruned at global entry ${prune.globalSeq}, yet its events are present: they were put back, or the prune entry was forged`,
      });
    }

    const seal = global.seals.get(id);
    global.seals.delete(id);
    if (seal !== undefined) {
      if (lastSeq < seal.lastSeq) {
        report({
          code: 'session-truncated',
          sessionId: id,
          seq: lastSeq + 1,
          globalSeq: seal.globalSeq,
          problem: `sealed with ${seal.lastSeq} events at global entry ${seal.globalSeq}, but only ${lastSeq} remain: its last events were deleted`,
        });
      } else if (lastSeq > seal.lastSeq) {
        report({
          code: 'event-after-seal',
          sessionId: id,
          seq: seal.lastSeq + 1,
          globalSeq: seal.globalSeq,
          problem: `sealed with ${seal.lastSeq} events at global entry ${seal.globalSeq}, but has ${lastSeq}: events were added after the seal`,
        });
      } else if (walk.last?.hash !== seal.lastHash) {
        report({
          code: 'session-seal-mismatch',
          sessionId: id,
          seq: lastSeq,
          globalSeq: seal.globalSeq,
          problem: `its last event's hash differs from its seal at global entry ${seal.globalSeq}: the session's events were rewritten`,
        });
      }
    } else if (walk.end !== undefined) {
      report({
        code: 'session-not-sealed',
        sessionId: id,
        problem: 'ended, but the global chain holds no seal for it: global entries were deleted (the chain was truncated)',
      });
    } else {
      open++;
    }

    const claim = global.claims.get(id);
    global.claims.delete(id);
    if (claim !== undefined && !walk.claimSeen) {
      report({
        code: 'session-truncated',
        sessionId: id,
        seq: lastSeq + 1,
        globalSeq: claim.globalSeq,
        problem: `the checkpoint at global entry ${claim.globalSeq} signed it up to event ${claim.seq}, but only ${lastSeq} events remain: events were deleted`,
      });
    }

    const sealProtects = seal !== undefined && seal.globalSeq < protectedUpTo;
    const covered = Math.max(sealProtects ? seal.lastSeq : 0, claim?.seq ?? 0);
    if (lastSeq > covered) {
      unprotectedEvents += lastSeq - covered;
      unprotectedSessions++;
    }
  };

  let walk: SessionWalk | undefined;
  let claim: Claim | undefined;
  for (const event of source.events()) {
    checkedEvents++;
    if (walk === undefined || walk.id !== event.sessionId) {
      if (walk !== undefined) finish(walk);
      walk = { id: event.sessionId, expected: 1, previousHash: sessionGenesis(event.sessionId), last: undefined, start: undefined, end: undefined, claimSeen: false };
      claim = global.claims.get(event.sessionId);
    }
    checkEvent(walk, event, report);
    if (claim !== undefined && event.seq === claim.seq) {
      walk.claimSeen = true;
      if (event.hash !== claim.hash) {
        report({
          code: 'session-checkpoint-mismatch',
          sessionId: walk.id,
          seq: event.seq,
          globalSeq: claim.globalSeq,
          problem: `differs from the event the checkpoint at global entry ${claim.globalSeq} signed: the session's events were rewritten`,
        });
      }
    }
  }
  if (walk !== undefined) finish(walk);

  let pruned = 0;
  for (const [id, seal] of global.seals) {
    missingReported.add(id);
    if (global.pruned.has(id)) {
      pruned++;
      continue;
    }
    index.delete(id);
    report({
      code: 'session-missing',
      sessionId: id,
      globalSeq: seal.globalSeq,
      problem: `sealed at global entry ${seal.globalSeq} with ${seal.lastSeq} events, but none of its events remain: the session was deleted`,
    });
  }
  for (const [id, signed] of global.claims) {
    if (missingReported.has(id)) continue;
    index.delete(id);
    report({
      code: 'session-missing',
      sessionId: id,
      globalSeq: signed.globalSeq,
      problem: `the checkpoint at global entry ${signed.globalSeq} signed it as open with ${signed.seq} events, but none remain: the session was deleted`,
    });
  }
  for (const id of index.keys()) {
    report({ code: 'session-events-missing', sessionId: id, problem: 'listed in the sessions index, but none of its events remain: they were deleted' });
  }
  return { checkedEvents, checkedSessions, open, pruned, unprotectedEvents, unprotectedSessions };
}

function checkEvent(walk: SessionWalk, event: EventRow, report: Report): void {
  const { id } = walk;
  const { seq } = event;
  if (seq !== walk.expected) {
    const range = seq - 1 === walk.expected ? `event ${walk.expected} is` : `events ${walk.expected}–${seq - 1} are`;
    report(
      seq < walk.expected
        ? { code: 'event-invalid', sessionId: id, seq, problem: `invalid seq ${seq}` }
        : { code: 'event-missing', sessionId: id, seq: walk.expected, problem: `${range} missing (deleted)` },
    );
  } else if (event.prevHash !== walk.previousHash) {
    report({
      code: 'event-link-broken',
      sessionId: id,
      seq,
      problem:
        seq === 1
          ? 'does not commit to its session id: it was moved from another session or forged'
          : `does not link to event ${seq - 1}: an event was inserted, removed, reordered or rewritten before it`,
    });
  }
  if (eventHash(event) !== event.hash) {
    report({ code: 'event-modified', sessionId: id, seq, problem: `${event.type} event: its contents do not match its hash (modified or moved)` });
  }
  if (!EVENT_TYPE_SET.has(event.type)) {
    report({ code: 'event-invalid', sessionId: id, seq, problem: `unknown event type ${JSON.stringify(event.type)}` });
  } else if ((seq === 1) !== (event.type === 'session-start')) {
    report({
      code: 'event-invalid',
      sessionId: id,
      seq,
      problem: seq === 1 ? `the first event is ${event.type}, not session-start` : 'a second session-start: it was inserted',
    });
  }
  if (event.type === 'terminal') {
    const problem = terminalProblem(event);
    if (problem !== undefined) report({ code: 'event-invalid', sessionId: id, seq, problem: `terminal event: ${problem}` });
  }
  if (walk.end !== undefined) {
    report({ code: 'event-after-end', sessionId: id, seq, problem: `follows the session's end (event ${walk.end.seq}): it was inserted` });
  }
  if (event.type === 'session-start' && walk.start === undefined) walk.start = event;
  if (event.type === 'session-end' && walk.end === undefined) walk.end = event;
  walk.previousHash = event.hash;
  walk.expected = Math.max(walk.expected, seq + 1);
  walk.last = event;
}

/** Why a terminal event cannot be read back (replay and export rely on its shape), or undefined. */
function terminalProblem(event: EventRow): string | undefined {
  let payload: unknown;
  try {
    payload = JSON.parse(event.payload);
  } catch {
    return 'its payload is not JSON';
  }
  const problem = terminalPayloadProblem(payload);
  if (problem !== undefined) return problem;
  const operationSeq = (payload as { operationSeq: number }).operationSeq;
  return operationSeq < event.seq ? undefined : `operationSeq ${operationSeq} does not name an earlier event`;
}

/** The index row must say what the hashed events say (listing trusts the index). */
function checkIndex(walk: SessionWalk, row: SessionRow | undefined, report: Report): void {
  if (row === undefined) {
    report({ code: 'session-index-missing', sessionId: walk.id, problem: 'has events but no row in the sessions index: the row was deleted' });
    return;
  }
  const start = parseObject(walk.start?.payload);
  const endPayload = parseObject(walk.end?.payload);
  const identity = parseObject(start?.['identity']);
  const expected: Record<string, unknown> = {
    protocol: start?.['protocol'],
    connection: start?.['connection'],
    subject: identity?.['subject'],
    startedAt: walk.start?.time,
    endedAt: walk.end?.time ?? null,
    endedBy: walk.end === undefined ? null : endPayload?.['endedBy'],
    lastSeq: walk.end?.seq ?? null,
  };
  const differ = Object.keys(expected).filter((key) => row[key as keyof SessionRow] !== expected[key]);
  if (differ.length > 0) {
    report({
      code: 'session-index-mismatch',
      sessionId: walk.id,
      problem: `the sessions index disagrees with the recorded events on ${differ
        .map((key) => `${key} (index ${JSON.stringify(row[key as keyof SessionRow])}, events ${JSON.stringify(expected[key] ?? null)})`)
        .join(', ')}: the index was edited`,
    });
  }
}

function parseObject(value: unknown): Record<string, unknown> | undefined {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
}

/** A seal entry's payload, or undefined when it is malformed. */
export function parseSeal(payload: string): SealPayload | undefined {
  const value = parseObject(payload);
  if (value === undefined) return undefined;
  const { lastSeq, lastHash, endedBy } = value;
  if (!Number.isSafeInteger(lastSeq) || typeof lastHash !== 'string' || !HEX_HASH.test(lastHash) || typeof endedBy !== 'string') return undefined;
  return { lastSeq: lastSeq as number, lastHash, endedBy };
}

function parseApproval(payload: string): ApprovalEntryPayload | undefined {
  const value = parseObject(payload);
  if (value === undefined || !('details' in value)) return undefined;
  const { requestId, kind, details } = value;
  if (typeof requestId !== 'string' || requestId === '' || typeof kind !== 'string' || kind === '') return undefined;
  return { requestId, kind, details };
}

function parsePrune(payload: string): PrunedSession[] | undefined {
  const sessions = parseObject(payload)?.['sessions'];
  if (!Array.isArray(sessions)) return undefined;
  const parsed: PrunedSession[] = [];
  for (const item of sessions) {
    const value = parseObject(item);
    if (value === undefined) return undefined;
    const { id, connection, sealSeq, lastSeq, lastHash, endedAt, retentionMs } = value;
    if (typeof id !== 'string' || typeof connection !== 'string' || typeof lastHash !== 'string' || !HEX_HASH.test(lastHash)) return undefined;
    if (![sealSeq, lastSeq, endedAt, retentionMs].every((n) => Number.isSafeInteger(n))) return undefined;
    parsed.push({ id, connection, lastHash, sealSeq: sealSeq as number, lastSeq: lastSeq as number, endedAt: endedAt as number, retentionMs: retentionMs as number });
  }
  return parsed;
}

function parseCheckpoint(payload: string): CheckpointPayload | undefined {
  const value = parseObject(payload);
  const covers = parseObject(value?.['covers']);
  if (value === undefined || covers === undefined) return undefined;
  const { open, keyId: signer, signature } = value;
  if (!Number.isSafeInteger(covers['seq']) || typeof covers['hash'] !== 'string') return undefined;
  if (typeof signer !== 'string' || typeof signature !== 'string' || !Array.isArray(open)) return undefined;
  const heads = open.filter(
    (head): head is [string, number, string] =>
      Array.isArray(head) && head.length === 3 && typeof head[0] === 'string' && Number.isSafeInteger(head[1]) && typeof head[2] === 'string',
  );
  if (heads.length !== open.length) return undefined;
  return { covers: { seq: covers['seq'] as number, hash: covers['hash'] }, open: heads, keyId: signer, signature };
}
