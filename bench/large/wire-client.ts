/**
 * A minimal PostgreSQL client for reading very large results without holding them: it logs
 * in (cleartext — what the gateway asks for, the token being the password —, MD5 or
 * SCRAM-SHA-256 — what PostgreSQL asks for), sends simple Query messages and feeds what
 * comes back to a BackendStream, which counts rows, bytes and markers and keeps nothing.
 *
 * The same code reads from PostgreSQL directly and through the gateway, so both paths are
 * timed and counted the same way. Reading can be paused (socket.pause(): the kernel
 * buffers fill and TCP stops the sender) to play a slow client, and a running query can be
 * cancelled with a CancelRequest, as libpq does.
 */
import net from 'node:net';
import {
  Be,
  parseAuthentication,
  parseBackendKeyData,
  parseCommandComplete,
  parseErrorFields,
  serializeCancelRequest,
  serializePassword,
  serializeQuery,
  serializeSaslInitialResponse,
  serializeSaslResponse,
  serializeStartupMessage,
  serializeTerminate,
} from '../../src/protocols/postgres/codec.js';
import { createScramClient, md5Password, type ScramClient } from '../../src/protocols/postgres/scram.js';
import { BackendStream, type StreamTally } from './stream-tally.js';

export interface WireEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string;
}

/** The server refused the login or the statement; `code` is the SQLSTATE. */
export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export interface QueryOutcome {
  readonly tally: StreamTally;
  /** From writing the Query to reading ReadyForQuery. */
  readonly seconds: number;
  /** From writing the Query to the first byte of the reply. */
  readonly firstByteSeconds: number;
  /** CommandComplete tags, in order (e.g. `SELECT 10000000`, `COPY 10000000`). */
  readonly tags: readonly string[];
  /** The first ErrorResponse, if the statement failed. */
  readonly error: WireError | undefined;
}

export interface RunningQuery {
  /** Counts so far (live). */
  tally(): StreamTally;
  readonly done: Promise<QueryOutcome>;
}

interface Pending {
  readonly stream: BackendStream;
  readonly startedAt: number;
  firstByteAt: number | undefined;
  readonly tags: string[];
  error: WireError | undefined;
  resolve(outcome: QueryOutcome): void;
  reject(error: Error): void;
}

export class WireClient {
  private pending: Pending | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly endpoint: WireEndpoint,
    /** What the server gave us to cancel with (the gateway's own key, never the target's). */
    readonly backendKey: { readonly processId: number; readonly secretKey: Buffer },
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('the server closed the connection')));
  }

  static async connect(endpoint: WireEndpoint, timeoutMs = 60_000): Promise<WireClient> {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port });
    socket.setNoDelay(true);
    let scram: ScramClient | undefined;
    let key: { processId: number; secretKey: Buffer } | undefined;
    return new Promise<WireClient>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`no login within ${timeoutMs} ms to ${endpoint.host}:${endpoint.port}`)), timeoutMs);
      const finish = (error: Error | undefined): void => {
        clearTimeout(timer);
        socket.removeListener('data', onData);
        socket.removeListener('error', finish);
        socket.removeListener('close', onClose);
        if (error !== undefined) {
          socket.destroy();
          reject(error);
          return;
        }
        if (key === undefined) {
          socket.destroy();
          reject(new Error('the server sent no BackendKeyData: cannot cancel on it'));
          return;
        }
        resolve(new WireClient(socket, endpoint, key));
      };
      const onClose = (): void => finish(new Error(`the server closed the connection during login to ${endpoint.host}:${endpoint.port}`));
      const stream = new BackendStream([], (type, body) => {
        try {
          if (type === Be.Authentication) scram = authenticate(socket, endpoint, body, scram);
          else if (type === Be.BackendKeyData) key = parseBackendKeyData(body);
          else if (type === Be.ErrorResponse) finish(errorOf(body));
          else if (type === Be.ReadyForQuery) {
            if (scram !== undefined && !scram.isVerified()) throw new Error('the server did not prove it knows the SCRAM verifier');
            finish(undefined);
          }
        } catch (error) {
          finish(error instanceof Error ? error : new Error(String(error)));
        }
      });
      const onData = (chunk: Buffer): void => {
        try {
          stream.push(chunk);
        } catch (error) {
          finish(error instanceof Error ? error : new Error(String(error)));
        }
      };
      socket.on('data', onData);
      socket.once('error', finish);
      socket.once('close', onClose);
      socket.once('connect', () =>
        socket.write(serializeStartupMessage({ user: endpoint.user, database: endpoint.database, application_name: 'bench-large', client_encoding: 'UTF8' })),
      );
    });
  }

  /**
   * Sends `sql` as a simple Query and counts the reply until ReadyForQuery. `markers` are
   * counted in the reply's bytes (see BackendStream). One query at a time.
   */
  start(sql: string, markers: readonly string[] = []): RunningQuery {
    if (this.pending !== undefined) throw new Error('a query is already running on this connection');
    if (this.failure !== undefined) throw this.failure;
    let resolve!: (o: QueryOutcome) => void;
    let reject!: (e: Error) => void;
    const done = new Promise<QueryOutcome>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const pending: Pending = {
      stream: new BackendStream(markers, (type, body) => this.onMessage(pending, type, body)),
      startedAt: performance.now(),
      firstByteAt: undefined,
      tags: [],
      error: undefined,
      resolve,
      reject,
    };
    this.pending = pending;
    this.socket.write(serializeQuery(sql));
    return { tally: () => pending.stream.tally, done };
  }

  async query(sql: string, markers: readonly string[] = []): Promise<QueryOutcome> {
    return this.start(sql, markers).done;
  }

  /** Stop reading: the kernel's receive buffer fills, then TCP makes the sender wait. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** A CancelRequest on a new connection, as libpq's PQcancel sends it; resolves when the server closed it. */
  async cancel(): Promise<void> {
    const socket = net.connect({ host: this.endpoint.host, port: this.endpoint.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('close', () => resolve());
      socket.once('connect', () => socket.end(serializeCancelRequest(this.backendKey.processId, this.backendKey.secretKey)));
    });
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    this.failure ??= new Error('connection closed');
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end(serializeTerminate());
      setTimeout(() => this.socket.destroy(), 5_000).unref();
    });
  }

  private onData(chunk: Buffer): void {
    const pending = this.pending;
    if (pending === undefined) {
      // Only NoticeResponse/ParameterStatus may come unasked; anything else is a protocol slip we would miss.
      if (chunk.length > 0 && chunk[0] !== Be.NoticeResponse && chunk[0] !== Be.ParameterStatus) {
        this.fail(new Error(`unexpected '${String.fromCharCode(chunk[0]!)}' message with no query running`));
      }
      return;
    }
    pending.firstByteAt ??= performance.now();
    try {
      pending.stream.push(chunk);
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private onMessage(pending: Pending, type: number, body: Buffer): void {
    if (type === Be.CommandComplete) pending.tags.push(parseCommandComplete(body));
    else if (type === Be.ErrorResponse) pending.error ??= errorOf(body);
    else if (type === Be.ReadyForQuery) {
      const end = performance.now();
      this.pending = undefined;
      pending.resolve({
        tally: pending.stream.tally,
        seconds: (end - pending.startedAt) / 1000,
        firstByteSeconds: ((pending.firstByteAt ?? end) - pending.startedAt) / 1000,
        tags: pending.tags,
        error: pending.error,
      });
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
    this.socket.destroy();
  }
}

function errorOf(body: Buffer): WireError {
  const fields = parseErrorFields(body);
  return new WireError(fields.get('C') ?? '?????', fields.get('M') ?? '(no message)');
}

/** Answers one Authentication message; returns the SCRAM exchange in progress, if any. */
function authenticate(socket: net.Socket, endpoint: WireEndpoint, body: Buffer, scram: ScramClient | undefined): ScramClient | undefined {
  const request = parseAuthentication(body);
  switch (request.kind) {
    case 'ok':
      return scram;
    case 'cleartext':
      socket.write(serializePassword(endpoint.password));
      return scram;
    case 'md5':
      socket.write(serializePassword(md5Password(endpoint.user, endpoint.password, request.salt)));
      return scram;
    case 'sasl': {
      if (!request.mechanisms.includes('SCRAM-SHA-256')) throw new Error(`no supported SASL mechanism in ${request.mechanisms.join(', ')}`);
      const client = createScramClient(endpoint.password);
      socket.write(serializeSaslInitialResponse('SCRAM-SHA-256', Buffer.from(client.clientFirstMessage(), 'utf8')));
      return client;
    }
    case 'sasl-continue':
      if (scram === undefined) throw new Error('SASLContinue before SASL');
      socket.write(serializeSaslResponse(Buffer.from(scram.handleServerFirst(request.data.toString('utf8')), 'utf8')));
      return scram;
    case 'sasl-final':
      if (scram === undefined) throw new Error('SASLFinal before SASL');
      scram.verifyServerFinal(request.data.toString('utf8'));
      return scram;
    default:
      throw new Error(`unsupported authentication request ${request.code}`);
  }
}
