/**
 * Pure PostgreSQL wire-protocol (v3.0) parsing and serialization: no sockets here.
 * Only the messages the gateway must understand are decoded; everything else is
 * relayed as raw frames.
 */
import { ProtocolError } from './errors.js';

/** Frontend (client → server) message type bytes. */
export const Fe = {
  Bind: 0x42, // B
  Close: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  Describe: 0x44, // D
  Execute: 0x45, // E
  Flush: 0x48, // H
  FunctionCall: 0x46, // F
  Parse: 0x50, // P
  Password: 0x70, // p (also SASL and GSS responses)
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
} as const;

/** Backend (server → client) message type bytes. */
export const Be = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  BindComplete: 0x32, // 2
  CommandComplete: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  CopyBothResponse: 0x57, // W
  DataRow: 0x44, // D
  ErrorResponse: 0x45, // E
  NegotiateProtocolVersion: 0x76, // v
  NoData: 0x6e, // n
  NoticeResponse: 0x4e, // N
  NotificationResponse: 0x41, // A
  ParameterStatus: 0x53, // S
  EmptyQueryResponse: 0x49, // I
  PortalSuspended: 0x73, // s
  ReadyForQuery: 0x5a, // Z
  RowDescription: 0x54, // T
} as const;

export const PROTOCOL_3_0 = 196608;
const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;
const CANCEL_REQUEST_CODE = 80877102;

// ---------------------------------------------------------------- startup phase

export type StartupPacket =
  | { readonly kind: 'ssl' }
  | { readonly kind: 'gssenc' }
  | { readonly kind: 'cancel'; readonly processId: number; readonly secretKey: Buffer }
  | {
      readonly kind: 'startup';
      readonly majorVersion: number;
      readonly minorVersion: number;
      /** Ordinary parameters (user, database, options, application_name, …). */
      readonly parameters: ReadonlyMap<string, string>;
      /** Protocol options (`_pq_.*`) the client asked for; we support none. */
      readonly protocolOptions: readonly string[];
    };

/** Decode the body (after the length word) of an untyped startup-phase packet. */
export function parseStartupPacket(body: Buffer): StartupPacket {
  if (body.length < 4) throw new ProtocolError('startup packet too short');
  const code = body.readInt32BE(0);
  if (code === SSL_REQUEST_CODE) return { kind: 'ssl' };
  if (code === GSSENC_REQUEST_CODE) return { kind: 'gssenc' };
  if (code === CANCEL_REQUEST_CODE) {
    // 3.0 keys are 4 bytes; 3.2 allows up to 256.
    if (body.length < 12 || body.length > 4 + 4 + 256) throw new ProtocolError('malformed CancelRequest');
    return { kind: 'cancel', processId: body.readInt32BE(4), secretKey: Buffer.from(body.subarray(8)) };
  }
  const majorVersion = code >>> 16;
  const minorVersion = code & 0xffff;
  if (majorVersion !== 3) {
    throw new ProtocolError(`unsupported frontend protocol ${majorVersion}.${minorVersion}: server supports 3.0`, '0A000');
  }
  const parameters = new Map<string, string>();
  const protocolOptions: string[] = [];
  const reader = new BodyReader(body, 4);
  for (;;) {
    const name = reader.cstring();
    if (name === '') break;
    const value = reader.cstring();
    if (name.startsWith('_pq_.')) protocolOptions.push(name);
    else parameters.set(name, value);
  }
  if (!reader.done()) throw new ProtocolError('trailing bytes after startup parameters');
  return { kind: 'startup', majorVersion, minorVersion, parameters, protocolOptions };
}

export function serializeStartupMessage(parameters: Readonly<Record<string, string>>): Buffer {
  const w = new Writer();
  w.int32(PROTOCOL_3_0);
  for (const [k, v] of Object.entries(parameters)) w.cstring(k).cstring(v);
  w.byte(0);
  return w.untypedFrame();
}

export function serializeSslRequest(): Buffer {
  return new Writer().int32(SSL_REQUEST_CODE).untypedFrame();
}

export function serializeCancelRequest(processId: number, secretKey: Buffer): Buffer {
  return new Writer().int32(CANCEL_REQUEST_CODE).int32(processId).bytes(secretKey).untypedFrame();
}

// ---------------------------------------------------------------- frontend messages

export function parseQuery(body: Buffer): string {
  const r = new BodyReader(body, 0);
  const sql = r.cstring();
  if (!r.done()) throw new ProtocolError('trailing bytes after Query string');
  return sql;
}

export interface ParseMessage {
  readonly statement: string;
  readonly sql: string;
  readonly parameterTypes: readonly number[];
}

export function parseParse(body: Buffer): ParseMessage {
  const r = new BodyReader(body, 0);
  const statement = r.cstring();
  const sql = r.cstring();
  const count = r.int16();
  const parameterTypes: number[] = [];
  for (let i = 0; i < count; i++) parameterTypes.push(r.int32());
  if (!r.done()) throw new ProtocolError('trailing bytes in Parse');
  return { statement, sql, parameterTypes };
}

/** A Bind parameter: its bytes as sent, or null for SQL NULL. */
export interface BindMessage {
  readonly portal: string;
  readonly statement: string;
  /** Format code per parameter (0 text, 1 binary), expanded from the message's 0/1/n codes. */
  readonly parameterFormats: readonly number[];
  /** Views into the message body (not copies). */
  readonly parameters: readonly (Buffer | null)[];
}

export function parseBind(body: Buffer): BindMessage {
  const r = new BodyReader(body, 0);
  const portal = r.cstring();
  const statement = r.cstring();
  const formatCodes = r.int16Array();
  const count = r.int16();
  if (formatCodes.length > 1 && formatCodes.length !== count) {
    throw new ProtocolError(`Bind has ${formatCodes.length} parameter format codes for ${count} parameters`);
  }
  const parameters: (Buffer | null)[] = [];
  const parameterFormats: number[] = [];
  for (let i = 0; i < count; i++) {
    const length = r.int32();
    parameters.push(length === -1 ? null : r.bytes(length));
    parameterFormats.push(formatCodes.length === 0 ? 0 : formatCodes.length === 1 ? formatCodes[0]! : formatCodes[i]!);
  }
  // Result-column format codes follow; they do not change what runs.
  r.int16Array();
  if (!r.done()) throw new ProtocolError('trailing bytes in Bind');
  return { portal, statement, parameterFormats, parameters };
}

/** The portal an Execute runs (the row limit does not change what runs). */
export function parseExecutePortal(body: Buffer): string {
  return new BodyReader(body, 0).cstring();
}

export function serializePassword(password: string): Buffer {
  return new Writer().cstring(password).frame(Fe.Password);
}

export function serializeSaslInitialResponse(mechanism: string, data: Buffer): Buffer {
  return new Writer().cstring(mechanism).int32(data.length).bytes(data).frame(Fe.Password);
}

export function serializeSaslResponse(data: Buffer): Buffer {
  return new Writer().bytes(data).frame(Fe.Password);
}

export function serializeParse(statement: string, sql: string, parameterTypes: readonly number[]): Buffer {
  const w = new Writer().cstring(statement).cstring(sql);
  w.int16(parameterTypes.length);
  for (const t of parameterTypes) w.int32(t);
  return w.frame(Fe.Parse);
}

export function serializeTerminate(): Buffer {
  return new Writer().frame(Fe.Terminate);
}

/** A Bind of `statement` to `portal` without parameters. */
export function serializeBind(portal: string, statement: string): Buffer {
  return new Writer().cstring(portal).cstring(statement).int16(0).int16(0).int16(0).frame(Fe.Bind);
}

/** What a Close message closes: a prepared statement (`S`) or a portal (`P`), by name. */
export function parseClose(body: Buffer): { readonly kind: 'statement' | 'portal'; readonly name: string } {
  const r = new BodyReader(body, 0);
  const kind = r.byte();
  if (kind !== 0x53 && kind !== 0x50) throw new ProtocolError(`invalid Close target byte 0x${kind.toString(16)}: expected 'S' or 'P'`);
  return { kind: kind === 0x53 ? 'statement' : 'portal', name: r.cstring() };
}

export function serializeQuery(sql: string): Buffer {
  return new Writer().cstring(sql).frame(Fe.Query);
}

// ---------------------------------------------------------------- backend messages

export type AuthenticationRequest =
  | { readonly kind: 'ok' }
  | { readonly kind: 'cleartext' }
  | { readonly kind: 'md5'; readonly salt: Buffer }
  | { readonly kind: 'sasl'; readonly mechanisms: readonly string[] }
  | { readonly kind: 'sasl-continue'; readonly data: Buffer }
  | { readonly kind: 'sasl-final'; readonly data: Buffer }
  | { readonly kind: 'unsupported'; readonly code: number };

export function parseAuthentication(body: Buffer): AuthenticationRequest {
  const r = new BodyReader(body, 0);
  const code = r.int32();
  switch (code) {
    case 0:
      return { kind: 'ok' };
    case 3:
      return { kind: 'cleartext' };
    case 5:
      return { kind: 'md5', salt: Buffer.from(r.bytes(4)) };
    case 10: {
      const mechanisms: string[] = [];
      for (let m = r.cstring(); m !== ''; m = r.cstring()) mechanisms.push(m);
      return { kind: 'sasl', mechanisms };
    }
    case 11:
      return { kind: 'sasl-continue', data: Buffer.from(r.rest()) };
    case 12:
      return { kind: 'sasl-final', data: Buffer.from(r.rest()) };
    default:
      return { kind: 'unsupported', code };
  }
}

export function parseParameterStatus(body: Buffer): { name: string; value: string } {
  const r = new BodyReader(body, 0);
  return { name: r.cstring(), value: r.cstring() };
}

export function parseBackendKeyData(body: Buffer): { processId: number; secretKey: Buffer } {
  if (body.length < 8) throw new ProtocolError('malformed BackendKeyData');
  return { processId: body.readInt32BE(0), secretKey: Buffer.from(body.subarray(4)) };
}

/** The command tag of a CommandComplete, e.g. `SELECT 5`, `INSERT 0 1`. */
export function parseCommandComplete(body: Buffer): string {
  return new BodyReader(body, 0).cstring();
}

/** Column names of a RowDescription. */
export function parseRowDescriptionNames(body: Buffer): string[] {
  const r = new BodyReader(body, 0);
  const count = r.int16();
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    names.push(r.cstring());
    r.bytes(18); // table OID, attribute number, type OID, type size, type modifier, format
  }
  return names;
}

/** One column of a RowDescription. */
export interface RowField {
  readonly name: string;
  /** The source table's OID when the column is a plain column reference, else 0. */
  readonly tableOid: number;
  /** The source column's attnum when tableOid is set, else 0. */
  readonly attnum: number;
  readonly typeOid: number;
  /** 0 text, 1 binary (always 0 in the reply to a Describe of a statement). */
  readonly format: number;
}

export function parseRowDescription(body: Buffer): RowField[] {
  const r = new BodyReader(body, 0);
  const count = r.int16();
  const fields: RowField[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.cstring();
    const tableOid = r.int32() >>> 0;
    const attnum = r.int16();
    const typeOid = r.int32() >>> 0;
    r.bytes(6); // type size, type modifier
    fields.push({ name, tableOid, attnum, typeOid, format: r.int16() });
  }
  return fields;
}

/** A DataRow's values: views into the body (not copies), null for SQL NULL. */
export function parseDataRow(body: Buffer): (Buffer | null)[] {
  const r = new BodyReader(body, 0);
  const count = r.int16();
  const values: (Buffer | null)[] = [];
  for (let i = 0; i < count; i++) {
    const length = r.int32();
    values.push(length === -1 ? null : r.bytes(length));
  }
  if (!r.done()) throw new ProtocolError('trailing bytes in DataRow');
  return values;
}

/** Describe of a portal (`P`) or prepared statement (`S`). */
export function serializeDescribe(kind: 'portal' | 'statement', name: string): Buffer {
  return new Writer().byte(kind === 'portal' ? 0x50 : 0x53).cstring(name).frame(Fe.Describe);
}

/** Transaction status from ReadyForQuery: I (idle), T (in transaction), E (failed transaction). */
export function parseReadyForQuery(body: Buffer): 'I' | 'T' | 'E' {
  const s = body.length === 1 ? String.fromCharCode(body[0]!) : '';
  if (s === 'I' || s === 'T' || s === 'E') return s;
  throw new ProtocolError('malformed ReadyForQuery');
}

/** Fields of an ErrorResponse / NoticeResponse keyed by their one-letter codes (S, V, C, M, D, H…). */
export function parseErrorFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  const r = new BodyReader(body, 0);
  while (!r.done()) {
    const code = r.byte();
    if (code === 0) break;
    fields.set(String.fromCharCode(code), r.cstring());
  }
  return fields;
}

export interface ErrorFields {
  readonly severity: 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

function serializeFields(type: number, f: ErrorFields): Buffer {
  const w = new Writer();
  w.byte(0x53).cstring(f.severity); // S
  w.byte(0x56).cstring(f.severity); // V (non-localized)
  w.byte(0x43).cstring(f.code); // C
  w.byte(0x4d).cstring(f.message); // M
  if (f.detail !== undefined) w.byte(0x44).cstring(f.detail); // D
  if (f.hint !== undefined) w.byte(0x48).cstring(f.hint); // H
  w.byte(0);
  return w.frame(type);
}

export function serializeErrorResponse(f: ErrorFields): Buffer {
  return serializeFields(Be.ErrorResponse, f);
}

export function serializeNoticeResponse(f: ErrorFields): Buffer {
  return serializeFields(Be.NoticeResponse, f);
}

export function serializeAuthenticationCleartext(): Buffer {
  return new Writer().int32(3).frame(Be.Authentication);
}

export function serializeAuthenticationOk(): Buffer {
  return new Writer().int32(0).frame(Be.Authentication);
}

export function serializeParameterStatus(name: string, value: string): Buffer {
  return new Writer().cstring(name).cstring(value).frame(Be.ParameterStatus);
}

export function serializeBackendKeyData(processId: number, secretKey: Buffer): Buffer {
  return new Writer().int32(processId).bytes(secretKey).frame(Be.BackendKeyData);
}

export function serializeReadyForQuery(status: 'I' | 'T' | 'E'): Buffer {
  return new Writer().byte(status.charCodeAt(0)).frame(Be.ReadyForQuery);
}

/** Tell a newer client we speak 3.0 and which `_pq_.` options we did not recognize. */
export function serializeNegotiateProtocolVersion(newestMinor: number, unrecognized: readonly string[]): Buffer {
  const w = new Writer().int32(newestMinor).int32(unrecognized.length);
  for (const o of unrecognized) w.cstring(o);
  return w.frame(Be.NegotiateProtocolVersion);
}

// ---------------------------------------------------------------- primitives

/** Bounds-checked cursor over a message body: every read that would overrun throws ProtocolError. */
class BodyReader {
  constructor(
    private readonly buf: Buffer,
    private pos: number,
  ) {}

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    if (v < 0) throw new ProtocolError(`negative count ${v}`);
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int16Array(): number[] {
    const n = this.int16();
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      this.need(2);
      out.push(this.buf.readInt16BE(this.pos));
      this.pos += 2;
    }
    return out;
  }

  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end === -1) throw new ProtocolError('unterminated string in message');
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }

  bytes(n: number): Buffer {
    if (n < 0) throw new ProtocolError(`negative length ${n}`);
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  rest(): Buffer {
    const b = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return b;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new ProtocolError('message truncated');
  }
}

/** Small growable serializer; `frame(type)` prepends the type byte and length. */
class Writer {
  private parts: Buffer[] = [];
  private size = 0;

  byte(v: number): this {
    return this.push(Buffer.from([v]));
  }

  int16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16BE(v, 0);
    return this.push(b);
  }

  int32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v, 0);
    return this.push(b);
  }

  cstring(s: string): this {
    if (s.includes('\0')) throw new ProtocolError('string contains a NUL byte');
    return this.push(Buffer.from(s + '\0', 'utf8'));
  }

  bytes(b: Buffer): this {
    return this.push(b);
  }

  frame(type: number): Buffer {
    const out = Buffer.allocUnsafe(5 + this.size);
    out[0] = type;
    out.writeInt32BE(4 + this.size, 1);
    let off = 5;
    for (const p of this.parts) off += p.copy(out, off);
    return out;
  }

  untypedFrame(): Buffer {
    const out = Buffer.allocUnsafe(4 + this.size);
    out.writeInt32BE(4 + this.size, 0);
    let off = 4;
    for (const p of this.parts) off += p.copy(out, off);
    return out;
  }

  private push(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
}
