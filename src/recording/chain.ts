/**
 * The hash chains and checkpoint signatures, as pure functions shared by the recorder (which
 * writes them) and the verifier (which recomputes them).
 *
 * Encoding, so another implementation can reproduce it: every hash is the lowercase hex
 * SHA-256 of UTF-8 bytes. A row's input is a header — a JSON array serialized without
 * whitespace exactly as ECMAScript's `JSON.stringify` does (strings escape only `"`, `\`,
 * control characters and lone surrogates; numbers are integers) — then a line feed, then
 * the stored payload text verbatim. The header cannot contain a line feed, so the first one
 * ends it. Its first element names what is hashed and the format version, so a hash of one
 * kind can never stand for another.
 *
 *   event         ["portcullis/event/v1",sessionId,seq,time,type,prevHash] LF payload
 *   audit entry   ["portcullis/audit/v1",seq,time,type,sessionId|null,prevHash] LF payload
 *   session genesis (prevHash of seq 1)  ["portcullis/session-genesis/v1",sessionId] (no LF)
 *   audit genesis (prevHash of seq 1)    ["portcullis/audit-genesis/v1"] (no LF)
 *   checkpoint signature (Ed25519) over the bytes of
 *                 ["portcullis/checkpoint/v1",coveredSeq,coveredHash,time,keyId,open]
 *
 * The payload is hashed as the stored JSON text, not re-serialized, so verification never
 * depends on how a JSON library orders keys (and is not slowed by re-escaping it).
 */
import { createHash, createPublicKey, hash, sign, verify, type KeyObject } from 'node:crypto';
import type { AuditEntryRow, EventRow } from './store.js';

function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

/** The first event's `prevHash`: it commits the chain to its session id. */
export function sessionGenesis(sessionId: string): string {
  return sha256Hex(JSON.stringify(['portcullis/session-genesis/v1', sessionId]));
}

/** The first audit entry's `prevHash`. */
export const AUDIT_GENESIS = sha256Hex(JSON.stringify(['portcullis/audit-genesis/v1']));

export function eventHash(event: Omit<EventRow, 'hash'>): string {
  const header = JSON.stringify(['portcullis/event/v1', event.sessionId, event.seq, event.time, event.type, event.prevHash]);
  return sha256Hex(`${header}\n${event.payload}`);
}

export function auditEntryHash(entry: Omit<AuditEntryRow, 'hash'>): string {
  const header = JSON.stringify(['portcullis/audit/v1', entry.seq, entry.time, entry.type, entry.sessionId, entry.prevHash]);
  return sha256Hex(`${header}\n${entry.payload}`);
}

/** Payload of a `session-seal` audit entry: the session's chain head when it ended. */
export interface SealPayload {
  readonly lastSeq: number;
  readonly lastHash: string;
  readonly endedBy: string;
}

/**
 * Payload of a `prune` audit entry: the sessions retention removed (their events and index
 * rows are deleted in the same transaction, and a signed checkpoint follows at once). Each
 * names its seal, so the verifier can tell a pruned session from a deleted one.
 */
export interface PrunePayload {
  readonly sessions: readonly PrunedSession[];
}

export interface PrunedSession {
  readonly id: string;
  readonly connection: string;
  /** Global seq of the session's `session-seal` entry. */
  readonly sealSeq: number;
  /** The seal's `lastSeq` and `lastHash`: what was removed. */
  readonly lastSeq: number;
  readonly lastHash: string;
  /** When the session ended (epoch ms). */
  readonly endedAt: number;
  /** The retention that applied (ms): the session had ended at least this long before the prune entry's time. */
  readonly retentionMs: number;
}

/**
 * Payload of an `approval` audit entry: one step of a just-in-time approval request
 * (`kind`: requested, approved, denied, …), with what the approvals service recorded about it
 * in `details`. The entry's sessionId is null (the held session is named in `details`), so
 * only seals ever name a session there.
 */
export interface ApprovalEntryPayload {
  readonly requestId: string;
  readonly kind: string;
  readonly details: unknown;
}

/** [session id, seq, hash]: the head of a session that was still open at a checkpoint. */
export type OpenSessionHead = readonly [string, number, string];

/**
 * Payload of a `checkpoint` audit entry. It signs the global head just before it (whose hash
 * commits to every earlier entry, and through the seals to every sealed session's events),
 * the number of entries that head closes (`covers.seq`, since seqs have no gaps), and the
 * heads of the sessions still open, so their events so far are covered as well.
 */
export interface CheckpointPayload {
  readonly covers: { readonly seq: number; readonly hash: string };
  readonly open: readonly OpenSessionHead[];
  readonly keyId: string;
  /** Base64 Ed25519 signature over `checkpointMessage`. */
  readonly signature: string;
}

export type CheckpointBody = Omit<CheckpointPayload, 'signature'> & { readonly time: number };

export function checkpointMessage(body: CheckpointBody): Buffer {
  return Buffer.from(
    JSON.stringify(['portcullis/checkpoint/v1', body.covers.seq, body.covers.hash, body.time, body.keyId, body.open]),
    'utf8',
  );
}

export function signCheckpoint(body: CheckpointBody, privateKey: KeyObject): string {
  return sign(null, checkpointMessage(body), privateKey).toString('base64');
}

export function checkpointSignatureValid(body: CheckpointBody, signature: string, publicKey: KeyObject): boolean {
  try {
    return verify(null, checkpointMessage(body), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** Short fingerprint of a public key (hex SHA-256 of its SPKI DER, first 16 characters) to name it in messages. */
export function keyId(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}
