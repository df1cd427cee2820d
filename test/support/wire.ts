/**
 * Raw-socket PostgreSQL wire helpers for adversarial tests: build exactly the bytes a
 * test wants (malformed ones included) and read back whole backend messages.
 */
import net from 'node:net';
import tls from 'node:tls';
import { parseErrorFields } from '../../src/protocols/postgres/codec.js';

export const PROTOCOL_3_0 = 196608;

export interface BackendMessage {
  readonly type: string;
  readonly body: Buffer;
}

export interface ErrorInfo {
  readonly severity: string;
  readonly code: string;
  readonly message: string;
}

// ---------------------------------------------------------------- builders

export function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

export function cstr(s: string): Buffer {
  return Buffer.from(s + '\0', 'utf8');
}

/** An untyped startup-phase packet: length word + body. */
export function untyped(body: Buffer): Buffer {
  return Buffer.concat([int32(body.length + 4), body]);
}

/** A typed message: type byte, length word, body. */
export function typed(type: string | number, body: Buffer = Buffer.alloc(0)): Buffer {
  const t = typeof type === 'string' ? type.charCodeAt(0) : type;
  return Buffer.concat([Buffer.from([t]), int32(body.length + 4), body]);
}

export function startupPacket(params: Record<string, string>, version = PROTOCOL_3_0): Buffer {
  const parts = [int32(version)];
  for (const [k, v] of Object.entries(params)) parts.push(cstr(k), cstr(v));
  parts.push(Buffer.from([0]));
  return untyped(Buffer.concat(parts));
}

export const sslRequest = (): Buffer => untyped(int32(80877103));
export const gssencRequest = (): Buffer => untyped(int32(80877104));
export const passwordMessage = (password: string): Buffer => typed('p', cstr(password));
export const queryMessage = (sql: string): Buffer => typed('Q', cstr(sql));
export const terminateMessage = (): Buffer => typed('X');

export function errorInfo(msg: BackendMessage): ErrorInfo {
  const f = parseErrorFields(msg.body);
  return { severity: f.get('S') ?? '', code: f.get('C') ?? '', message: f.get('M') ?? '' };
}

// ---------------------------------------------------------------- client

/**
 * A raw PostgreSQL client socket. Everything received is kept; readers consume from the
 * front. `ended` resolves when the gateway closed the connection (or it errored).
 */
export class WireClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closedFlag = false;
  readonly ended: Promise<void>;
  /** Total bytes received over the whole connection. */
  received = 0;

  private constructor(public socket: net.Socket) {
    this.ended = new Promise((resolve) => {
      this.attach(socket, resolve);
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new WireClient(socket));
      });
    });
  }

  private attach(socket: net.Socket, onEnd: () => void): void {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedFlag = true;
      this.wake();
      onEnd();
    });
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Upgrade to TLS after the gateway answered 'S'. */
  async startTls(options: tls.ConnectionOptions = {}): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false, ...options });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    secure.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.wake();
    });
    secure.on('error', () => undefined);
  }

  write(b: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(b);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async waitFor<T>(take: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = take();
      if (v !== undefined) return v;
      if (this.closedFlag) throw new Error(`connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  readBytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    return this.waitFor(
      () => {
        if (this.buf.length < n) return undefined;
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return out;
      },
      timeoutMs,
      `${n} byte(s)`,
    );
  }

  /** The next whole backend message. */
  readMessage(timeoutMs = 5000): Promise<BackendMessage> {
    return this.waitFor(
      () => {
        if (this.buf.length < 5) return undefined;
        const len = this.buf.readInt32BE(1);
        if (this.buf.length < 1 + len) return undefined;
        const msg = { type: String.fromCharCode(this.buf[0]!), body: Buffer.from(this.buf.subarray(5, 1 + len)) };
        this.buf = this.buf.subarray(1 + len);
        return msg;
      },
      timeoutMs,
      'a backend message',
    );
  }

  /** Messages up to and including the first of type `type`. */
  async readUntil(type: string, timeoutMs = 5000): Promise<BackendMessage[]> {
    const out: BackendMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.readMessage(Math.max(1, deadline - Date.now()));
      out.push(m);
      if (m.type === type) return out;
    }
  }

  /** The next ErrorResponse (skipping other messages). */
  async readError(timeoutMs = 5000): Promise<ErrorInfo> {
    const msgs = await this.readUntil('E', timeoutMs);
    return errorInfo(msgs[msgs.length - 1]!);
  }

  /** Resolves true once the gateway closed the connection, false after timeoutMs. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    if (this.closedFlag) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const r = await Promise.race([this.ended.then(() => true), timeout]);
    clearTimeout(timer);
    return r;
  }

  /** Whole messages still buffered (after the connection ended, what the gateway last said). */
  drainMessages(): BackendMessage[] {
    const out: BackendMessage[] = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readInt32BE(1);
      if (len < 4 || this.buf.length < 1 + len) break;
      out.push({ type: String.fromCharCode(this.buf[0]!), body: Buffer.from(this.buf.subarray(5, 1 + len)) });
      this.buf = this.buf.subarray(1 + len);
    }
    return out;
  }

  get bufferedBytes(): number {
    return this.buf.length;
  }

  /** Everything received and not yet read, consumed. */
  takeBuffered(): Buffer {
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }
}

/**
 * Authenticates an open raw session (plaintext, or after `startTls`) as the agent with
 * `token`: returns every message of the startup exchange, up to ReadyForQuery.
 */
export async function authenticate(
  client: WireClient,
  token: string,
  database = 'demo',
  extra: Record<string, string> = {},
): Promise<BackendMessage[]> {
  client.write(startupPacket({ user: 'agent', database, ...extra }));
  const auth = await client.readMessage();
  if (auth.type !== 'R' || auth.body.readInt32BE(0) !== 3) throw new Error(`expected AuthenticationCleartextPassword, got ${auth.type}`);
  client.write(passwordMessage(token));
  return client.readUntil('Z', 10_000);
}

/**
 * Opens a raw session and authenticates with `token`: returns once the gateway sent
 * ReadyForQuery, along with every message of the startup exchange.
 */
export async function authenticatedClient(
  port: number,
  token: string,
  database = 'demo',
  extra: Record<string, string> = {},
): Promise<{ client: WireClient; startup: BackendMessage[] }> {
  const client = await WireClient.connect(port);
  try {
    return { client, startup: await authenticate(client, token, database, extra) };
  } catch (e) {
    client.destroy();
    throw e;
  }
}
