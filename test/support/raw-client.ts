/**
 * The one raw PostgreSQL wire client for integration tests: it speaks the protocol
 * frame by frame with the project's own codec, so tests can pipeline messages in one
 * write, split them across TCP segments, send messages ordinary drivers never send
 * (FunctionCall, CopyFail, malformed frames, raw garbage), read raw bytes before
 * startup (the one-byte SSLRequest answer), switch to TLS, and see every backend
 * message exactly as the gateway relayed it.
 */
import net from 'node:net';
import tls from 'node:tls';
import {
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parseParameterStatus,
  PROTOCOL_3_0,
  serializeCancelRequest,
  serializePassword,
  serializeQuery,
  serializeSslRequest,
  serializeStartupMessage,
  serializeTerminate,
} from '../../src/protocols/postgres/codec.js';

export { PROTOCOL_3_0 };

/** One decoded backend message: `type` is its one-character type ('T', 'D', 'Z', …). */
export interface BackendMessage {
  readonly type: string;
  /** The body after the length word (a copy, safe to keep). */
  readonly body: Buffer;
}

/** What a startup exchange needs: the access token is the cleartext password. */
export interface RawStartupOptions {
  readonly database: string;
  readonly user?: string;
  /** Sent in answer to the cleartext password request: the access token. */
  readonly password: string;
  /** Extra startup parameters (application_name, …). */
  readonly parameters?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export interface RawConnectOptions extends RawStartupOptions {
  readonly port: number;
  readonly host?: string;
}

/** Thrown by a read when the connection closed first; carries what was read before it. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
  constructor(readonly messages: readonly BackendMessage[]) {
    super(`connection closed after ${messages.length} message(s): ${messages.map((m) => m.type).join('')}`);
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_MESSAGE_BYTES = 64 << 20;

export class RawClient {
  /** The connection; after `startTls`, the TLS socket over it. */
  socket: net.Socket;
  processId = 0;
  secretKey: Buffer = Buffer.alloc(0);
  readonly parameters = new Map<string, string>();
  /** Messages received during startup (after the password), including ReadyForQuery. */
  startupMessages: BackendMessage[] = [];
  /** Total bytes received over the whole connection. */
  received = 0;
  /** Received and not yet read: messages are cut from it lazily, so raw bytes can be read too. */
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended = false;
  private socketError: Error | undefined;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.listen(socket);
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** Opens a TCP connection without sending anything (for CancelRequests, SSLRequests and garbage). */
  static async open(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Connects, authenticates with the token and reads up to the first ReadyForQuery. */
  static async connect(options: RawConnectOptions): Promise<RawClient> {
    const client = await RawClient.open(options.port, options.host);
    try {
      await client.authenticate(options);
      return client;
    } catch (err) {
      client.socket.destroy();
      throw err;
    }
  }

  /**
   * Runs the startup exchange on this open session (plaintext, or after `startTls`):
   * startup packet, cleartext password, up to ReadyForQuery. Records the backend key,
   * the parameter statuses and `startupMessages`, and returns the latter.
   */
  async authenticate(options: RawStartupOptions): Promise<BackendMessage[]> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.sendRaw(fe.startup({ user: options.user ?? 'agent', database: options.database, ...options.parameters }));
    const auth = await this.readMessage(timeoutMs);
    if (auth.type === 'E') throw new Error(`startup refused: ${errorFields(auth).get('M')}`);
    if (auth.type !== 'R' || parseAuthentication(auth.body).kind !== 'cleartext') {
      throw new Error(`expected a cleartext password request, got '${auth.type}'`);
    }
    this.sendRaw(fe.password(options.password));
    const messages = await this.readUntil((m) => m.type === 'Z' || m.type === 'E', timeoutMs);
    const last = messages[messages.length - 1]!;
    if (last.type === 'E') throw new Error(`authentication failed: ${errorFields(last).get('M')}`);
    for (const m of messages) {
      if (m.type === 'K') Object.assign(this, parseBackendKeyData(m.body));
      if (m.type === 'S') {
        const { name, value } = parseParameterStatus(m.body);
        this.parameters.set(name, value);
      }
    }
    this.startupMessages = messages;
    return messages;
  }

  /** Upgrades to TLS after the gateway answered 'S' to an SSLRequest. */
  async startTls(options: tls.ConnectionOptions = {}): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false, ...options });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => {
        secure.off('error', reject);
        resolve();
      });
      secure.once('error', reject);
    });
    this.socket = secure;
    this.listen(secure);
  }

  /** Writes all frames in ONE write, so they are truly pipelined. */
  send(...frames: Buffer[]): void {
    this.sendRaw(Buffer.concat(frames));
  }

  /** Writes arbitrary bytes as they are (nothing once the socket is destroyed). */
  sendRaw(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Writes `bytes` one byte per write, pausing between them so each lands in its own TCP segment. */
  async sendByteByByte(bytes: Buffer, pauseMs = 1): Promise<void> {
    for (let i = 0; i < bytes.length; i++) {
      await new Promise<void>((resolve, reject) => this.socket.write(bytes.subarray(i, i + 1), (e) => (e ? reject(e) : resolve())));
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  /** Simple-protocol query; returns every message up to and including ReadyForQuery. */
  async query(sql: string, timeoutMs?: number): Promise<BackendMessage[]> {
    this.send(fe.query(sql));
    return this.readUntilReadyForQuery(timeoutMs);
  }

  /** The next `n` raw bytes (e.g. the one-byte answer to an SSLRequest). */
  async readBytes(n: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
    await this.waitUntil(() => this.buf.length >= n, timeoutMs, () => `${n} byte(s)`);
    const out = Buffer.from(this.buf.subarray(0, n));
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** The next whole backend message; rejects with ConnectionClosedError if the connection closes first. */
  async readMessage(timeoutMs?: number): Promise<BackendMessage> {
    return (await this.readUntil(() => true, timeoutMs))[0]!;
  }

  /**
   * Reads messages until one satisfies `predicate`; returns them all, the matching one
   * last. Rejects with ConnectionClosedError if the connection closes first.
   */
  async readUntil(predicate: (m: BackendMessage) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<BackendMessage[]> {
    const out: BackendMessage[] = [];
    let done = false;
    await this.waitUntil(
      () => {
        for (let m = this.takeMessage(); m; m = this.takeMessage()) {
          out.push(m);
          if (predicate(m)) return (done = true);
        }
        if (this.ended || this.socketError) throw new ConnectionClosedError(out);
        return false;
      },
      timeoutMs,
      () => `a message; read so far: ${types(out)}`,
    );
    if (!done) throw new Error('unreachable');
    return out;
  }

  readUntilReadyForQuery(timeoutMs?: number): Promise<BackendMessage[]> {
    return this.readUntil((m) => m.type === 'Z', timeoutMs);
  }

  /** Reads until `count` ReadyForQuery messages have arrived. */
  async readUntilReadyForQueryCount(count: number, timeoutMs?: number): Promise<BackendMessage[]> {
    let seen = 0;
    return this.readUntil((m) => m.type === 'Z' && ++seen === count, timeoutMs);
  }

  /** The next ErrorResponse (skipping other messages), decoded. */
  async readError(timeoutMs?: number): Promise<ErrorInfo> {
    const messages = await this.readUntil((m) => m.type === 'E', timeoutMs);
    return errorInfo(messages[messages.length - 1]!);
  }

  /** Reads everything until the server closes the connection. */
  async readUntilClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<BackendMessage[]> {
    try {
      await this.readUntil(() => false, timeoutMs);
    } catch (err) {
      if (err instanceof ConnectionClosedError) return [...err.messages];
      throw err;
    }
    throw new Error('unreachable');
  }

  /** Resolves true once the server closed the connection, false after timeoutMs. */
  async waitClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<boolean> {
    if (this.ended) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const closed = await Promise.race([this.closed.then(() => true), timeout]);
    clearTimeout(timer);
    return closed;
  }

  /** Whole messages already received but not read (not consumed). */
  get pending(): readonly BackendMessage[] {
    const out: BackendMessage[] = [];
    for (let at = 0, m = messageAt(this.buf, at); m; m = messageAt(this.buf, at)) {
      out.push(m.message);
      at = m.next;
    }
    return out;
  }

  /** Everything received and not yet read, consumed, as raw bytes. */
  takeBuffered(): Buffer {
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Sends Terminate and waits for the socket to close. */
  async close(): Promise<void> {
    if (!this.ended && this.socket.writable) this.socket.end(fe.terminate());
    const timer = setTimeout(() => this.socket.destroy(), 2_000);
    await this.closed;
    clearTimeout(timer);
  }

  /** Drops the connection without a Terminate. */
  destroy(): void {
    this.socket.destroy();
  }

  private listen(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.wake();
    });
    socket.on('error', (err) => {
      this.socketError = err;
      this.wake();
    });
  }

  private takeMessage(): BackendMessage | undefined {
    const m = messageAt(this.buf, 0);
    if (!m) return undefined;
    this.buf = this.buf.subarray(m.next);
    return m.message;
  }

  /** Waits until `ready()` is true (it may throw), re-checking whenever something arrives. */
  private async waitUntil(ready: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (ready()) return;
      if (this.ended || this.socketError) throw new ConnectionClosedError([]);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

/** The whole backend message starting at `at` in `buf`, if all of it is there. */
function messageAt(buf: Buffer, at: number): { message: BackendMessage; next: number } | undefined {
  if (buf.length - at < 5) return undefined;
  const len = buf.readInt32BE(at + 1);
  if (len < 4 || len > MAX_MESSAGE_BYTES) throw new Error(`invalid backend message length ${len}`);
  if (buf.length - at < 1 + len) return undefined;
  const message = { type: String.fromCharCode(buf[at]!), body: Buffer.from(buf.subarray(at + 5, at + 1 + len)) };
  return { message, next: at + 1 + len };
}

/** Sends a CancelRequest on a fresh connection and waits for the server to close it. */
export async function sendCancelRequest(port: number, processId: number, secretKey: Buffer): Promise<void> {
  const c = await RawClient.open(port);
  c.sendRaw(serializeCancelRequest(processId, secretKey));
  await c.closed;
}

// ---------------------------------------------------------------- decoding helpers

/** ErrorResponse / NoticeResponse fields keyed by one-letter code (S, C, M, D, H, …). */
export function errorFields(m: BackendMessage): Map<string, string> {
  if (m.type !== 'E' && m.type !== 'N') throw new Error(`not an error or notice: '${m.type}'`);
  return parseErrorFields(m.body);
}

/** The severity, SQLSTATE and message of an ErrorResponse / NoticeResponse. */
export interface ErrorInfo {
  readonly severity: string;
  readonly code: string;
  readonly message: string;
}

export function errorInfo(m: BackendMessage): ErrorInfo {
  const f = errorFields(m);
  return { severity: f.get('S') ?? '', code: f.get('C') ?? '', message: f.get('M') ?? '' };
}

/** DataRow column values as text (null for SQL NULL). */
export function dataRowValues(m: BackendMessage): (string | null)[] {
  if (m.type !== 'D') throw new Error(`not a DataRow: '${m.type}'`);
  const n = m.body.readInt16BE(0);
  const out: (string | null)[] = [];
  let pos = 2;
  for (let i = 0; i < n; i++) {
    const len = m.body.readInt32BE(pos);
    pos += 4;
    if (len === -1) out.push(null);
    else {
      out.push(m.body.toString('utf8', pos, pos + len));
      pos += len;
    }
  }
  return out;
}

export function commandTag(m: BackendMessage): string {
  if (m.type !== 'C') throw new Error(`not a CommandComplete: '${m.type}'`);
  return m.body.toString('utf8', 0, m.body.length - 1);
}

/** Transaction status of a ReadyForQuery: I, T or E. */
export function readyStatus(m: BackendMessage): string {
  if (m.type !== 'Z') throw new Error(`not a ReadyForQuery: '${m.type}'`);
  return String.fromCharCode(m.body[0]!);
}

/** Column names of a RowDescription. */
export function rowDescriptionNames(m: BackendMessage): string[] {
  if (m.type !== 'T') throw new Error(`not a RowDescription: '${m.type}'`);
  const n = m.body.readInt16BE(0);
  const names: string[] = [];
  let pos = 2;
  for (let i = 0; i < n; i++) {
    const end = m.body.indexOf(0, pos);
    names.push(m.body.toString('utf8', pos, end));
    pos = end + 1 + 18;
  }
  return names;
}

/** Body of a CopyData message. */
export function copyDataPayload(m: BackendMessage): Buffer {
  if (m.type !== 'd') throw new Error(`not a CopyData: '${m.type}'`);
  return m.body;
}

/** The type letters of a message list, e.g. "TDDCZ": compact to assert on. */
export function types(messages: readonly BackendMessage[]): string {
  return messages.map((m) => m.type).join('');
}

/** The one message of type `type` in a message list; throws unless there is exactly one. */
export function only(messages: readonly BackendMessage[], type: string): BackendMessage {
  const found = messages.filter((m) => m.type === type);
  if (found.length !== 1) throw new Error(`expected exactly one '${type}' in ${types(messages)}`);
  return found[0]!;
}

/** Rows of all DataRows in a message list. */
export function rows(messages: readonly BackendMessage[]): (string | null)[][] {
  return messages.filter((m) => m.type === 'D').map(dataRowValues);
}

// ---------------------------------------------------------------- frontend serializers

/** Low-level pieces for hand-built (possibly malformed) messages. */
export function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

export function cstr(s: string): Buffer {
  return Buffer.from(s + '\0', 'utf8');
}

/** An untyped startup-phase packet: length word + body (the body is taken as given). */
export function untyped(body: Buffer): Buffer {
  return Buffer.concat([int32(body.length + 4), body]);
}

/** A typed message: type byte, length word, body (the body is taken as given). */
export function typed(type: string | number, body: Buffer = Buffer.alloc(0)): Buffer {
  const t = typeof type === 'string' ? type.charCodeAt(0) : type;
  return Buffer.concat([Buffer.from([t]), int32(body.length + 4), body]);
}

class Writer {
  private readonly parts: Buffer[] = [];

  byte(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }

  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }

  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }

  cstring(s: string): this {
    this.parts.push(Buffer.from(s + '\0', 'utf8'));
    return this;
  }

  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }

  frame(type: string): Buffer {
    return typed(type, Buffer.concat(this.parts));
  }
}

export type Param = string | Buffer | null;

/** Frontend message builders (the ones the gateway itself never needs to build). */
export const fe = {
  /** StartupMessage; `version` other than 3.0 builds the ones the gateway must refuse. */
  startup(params: Readonly<Record<string, string>>, version = PROTOCOL_3_0): Buffer {
    if (version === PROTOCOL_3_0) return serializeStartupMessage(params);
    const parts = [int32(version)];
    for (const [k, v] of Object.entries(params)) parts.push(cstr(k), cstr(v));
    parts.push(Buffer.from([0]));
    return untyped(Buffer.concat(parts));
  },
  sslRequest: (): Buffer => serializeSslRequest(),
  gssencRequest: (): Buffer => untyped(int32(80877104)),
  password: (password: string): Buffer => serializePassword(password),
  query: (sql: string): Buffer => serializeQuery(sql),

  parse(statement: string, sql: string, parameterTypes: readonly number[] = []): Buffer {
    const w = new Writer().cstring(statement).cstring(sql).int16(parameterTypes.length);
    for (const t of parameterTypes) w.int32(t);
    return w.frame('P');
  },

  /** Parameters: string → text format, Buffer → binary format, null → NULL. */
  bind(portal: string, statement: string, params: readonly Param[] = [], resultFormats: readonly number[] = []): Buffer {
    const w = new Writer().cstring(portal).cstring(statement);
    w.int16(params.length);
    for (const p of params) w.int16(Buffer.isBuffer(p) ? 1 : 0);
    w.int16(params.length);
    for (const p of params) {
      if (p === null) w.int32(-1);
      else {
        const b = Buffer.isBuffer(p) ? p : Buffer.from(p, 'utf8');
        w.int32(b.length).bytes(b);
      }
    }
    w.int16(resultFormats.length);
    for (const f of resultFormats) w.int16(f);
    return w.frame('B');
  },

  describe: (kind: 'S' | 'P', name: string): Buffer => new Writer().byte(kind.charCodeAt(0)).cstring(name).frame('D'),
  execute: (portal: string, maxRows = 0): Buffer => new Writer().cstring(portal).int32(maxRows).frame('E'),
  sync: (): Buffer => new Writer().frame('S'),
  flush: (): Buffer => new Writer().frame('H'),
  close: (kind: 'S' | 'P', name: string): Buffer => new Writer().byte(kind.charCodeAt(0)).cstring(name).frame('C'),
  copyData: (data: Buffer | string): Buffer => new Writer().bytes(Buffer.from(data)).frame('d'),
  copyDone: (): Buffer => new Writer().frame('c'),
  copyFail: (reason: string): Buffer => new Writer().cstring(reason).frame('f'),
  terminate: (): Buffer => serializeTerminate(),

  /** FunctionCall with text-format arguments and a text result. */
  functionCall(functionOid: number, args: readonly Param[] = []): Buffer {
    const w = new Writer().int32(functionOid);
    w.int16(args.length);
    for (const a of args) w.int16(Buffer.isBuffer(a) ? 1 : 0);
    w.int16(args.length);
    for (const a of args) {
      if (a === null) w.int32(-1);
      else {
        const b = Buffer.isBuffer(a) ? a : Buffer.from(a, 'utf8');
        w.int32(b.length).bytes(b);
      }
    }
    w.int16(0);
    return w.frame('F');
  },

  /** Parse + Bind + Execute (unnamed statement and portal), without Sync. */
  run(sql: string, params: readonly Param[] = []): Buffer {
    return Buffer.concat([fe.parse('', sql), fe.bind('', '', params), fe.execute('')]);
  },
};
