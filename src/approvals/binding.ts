/**
 * The hash that binds an approval to one exact operation (invariant 4): the statement text
 * and every bind parameter's value and format. Pure.
 *
 * Encoding, so another implementation can reproduce it: lowercase hex SHA-256 of the UTF-8
 * bytes of a JSON array serialized exactly as ECMAScript's `JSON.stringify` does (no
 * whitespace; strings escape only `"`, `\`, control characters and lone surrogates, so every
 * distinct string has a distinct encoding):
 *
 *   ["portcullis/operation/v1", text, parameters]
 *
 * where `parameters` is `null` when the operation carries no parameter list (a simple query,
 * or a Parse), and otherwise an array with one element per parameter, in order:
 *   SQL NULL                      null
 *   text-format value             ["text", value]
 *   binary (base64) value         ["base64", base64]
 *
 * So a text `'1'` and binary bytes differ (tagged), NULL differs from `''` (null vs a tagged
 * string), order matters (an array), and no parameter list differs from an empty one: a
 * simple query (which may carry several statements) and an extended-protocol execution with
 * zero parameters are different wire operations, and an approval of one does not release the
 * other. The first element names the format version, so a hash of this kind can never stand
 * for another of the gateway's hashes.
 *
 * Limitation inherited from `RecordedParameter`: a text-format value that is not valid UTF-8
 * is recorded as base64, like a binary-format one, so those two are not told apart.
 */
import { hash } from 'node:crypto';
import type { RecordedParameter } from '../recording/recorder.js';

type EncodedParameter = null | readonly ['text', string] | readonly ['base64', string];

function encodeParameter(parameter: RecordedParameter): EncodedParameter {
  if (parameter === null) return null;
  if (typeof parameter === 'string') return ['text', parameter];
  return ['base64', parameter.base64];
}

/** What `operationHash` hashes (exported for tests and for reproducing a hash by hand). */
export function operationHashInput(text: string, parameters: readonly RecordedParameter[] | undefined): string {
  return JSON.stringify(['portcullis/operation/v1', text, parameters === undefined ? null : parameters.map(encodeParameter)]);
}

/** Hex SHA-256 identifying exactly this statement text with exactly these parameters. */
export function operationHash(text: string, parameters: readonly RecordedParameter[] | undefined): string {
  return hash('sha256', operationHashInput(text, parameters), 'hex');
}

/**
 * What an access request's `operationHash` holds: hex SHA-256 of the JSON array
 * `["portcullis/access/v1", connection, durationMs, reason]`, encoded as above. Its own first
 * element, so it can never equal an operation's hash; it identifies what was asked for in the
 * audit log (access grants are found by identity and connection, never by this hash).
 */
export function accessHash(connection: string, durationMs: number, reason: string): string {
  return hash('sha256', JSON.stringify(['portcullis/access/v1', connection, durationMs, reason]), 'hex');
}
