/**
 * Opens an authenticated connection to the target PostgreSQL with the connection's
 * stored credentials. The agent's token never goes here; the target's password never
 * goes back to the agent.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { PostgresTarget } from '../../config/types.js';
import {
  Be,
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parseParameterStatus,
  parseReadyForQuery,
  serializePassword,
  serializeSaslInitialResponse,
  serializeSaslResponse,
  serializeSslRequest,
  serializeQuery,
  serializeStartupMessage,
} from './codec.js';
import { ProtocolError } from './errors.js';
import { FrameReader } from './frame-reader.js';
import { createScramClient, md5Password } from './scram.js';

export type UpstreamErrorKind = 'unreachable' | 'timeout' | 'tls' | 'auth' | 'refused' | 'protocol';

/** Why the target could not be reached; `message` is safe to show an agent (no secrets). */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
    /** SQLSTATE reported by the target, when it sent one. */
    readonly sqlState?: string,
  ) {
    super(message);
  }
}

export interface UpstreamConnection {
  readonly socket: net.Socket;
  /** ParameterStatus values in the order the target sent them. */
  readonly parameters: ReadonlyArray<readonly [string, string]>;
  readonly processId: number;
  readonly secretKey: Buffer;
  /** NoticeResponse frames (whole, copied) sent during startup, to relay to the client. */
  readonly notices: readonly Buffer[];
  readonly tls: boolean;
  /** Schemas unqualified names resolve to, in order (current_schemas(false)). */
  readonly searchPath: readonly string[];
  /** Frame reader holding any bytes received after the first ReadyForQuery. */
  readonly reader: FrameReader;
}

/** Startup parameters from the client that may be passed through to the target. */
export type ClientStartupParameters = Readonly<Record<string, string>>;

const MAX_STARTUP_FRAME = 1 << 20;

export async function connectUpstream(
  target: PostgresTarget,
  clientParameters: ClientStartupParameters,
  maxFrameBytes: number,
): Promise<UpstreamConnection> {
  let socket = await openTcp(target);
  let secured = false;
  try {
    if (target.tls !== 'disable') {
      const upgraded = await negotiateTls(socket, target);
      if (upgraded) {
        socket = upgraded;
        secured = true;
      }
    }
    socket.setNoDelay(true);
    const result = await startup(socket, target, clientParameters, Math.max(maxFrameBytes, MAX_STARTUP_FRAME));
    return { ...result, socket, tls: secured };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

function openTcp(target: PostgresTarget): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UpstreamError('timeout', `timed out after ${target.connectTimeoutMs} ms connecting to the target`));
    }, target.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new UpstreamError('unreachable', `the target is unreachable (${err.code ?? err.message})`));
    });
  });
}

/** Returns the TLS socket, or null when the server declined and plaintext is acceptable. */
async function negotiateTls(socket: net.Socket, target: PostgresTarget): Promise<tls.TLSSocket | null> {
  const answer = readBytes(socket, 1, target.connectTimeoutMs);
  socket.write(serializeSslRequest());
  const byte = (await answer)[0];
  if (byte === 0x4e /* N */) {
    if (target.tls === 'prefer') return null;
    throw new UpstreamError('tls', `the target does not support TLS but the connection requires tls: ${target.tls}`);
  }
  if (byte !== 0x53 /* S */) throw new UpstreamError('protocol', 'the target answered SSLRequest with an unexpected byte');
  const verify = target.tls === 'verify-full';
  const servername = net.isIP(target.host) ? undefined : target.host;
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      servername,
      rejectUnauthorized: verify,
      ca: target.ca,
      // verify-full: Node checks the certificate against `host` (IP SANs included).
      checkServerIdentity: verify ? (_h, cert) => tls.checkServerIdentity(target.host, cert) : () => undefined,
    });
    secure.once('secureConnect', () => {
      secure.removeAllListeners('error');
      resolve(secure);
    });
    secure.once('error', (err) => reject(new UpstreamError('tls', `TLS with the target failed: ${err.message}`)));
  });
}

/** Reads exactly n bytes; a server that sends more before TLS is refused (CVE-2021-23214 class). */
function readBytes(socket: net.Socket, n: number, timeoutMs: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => done(new UpstreamError('timeout', 'timed out waiting for the target')), timeoutMs);
    const onData = (chunk: Buffer): void => {
      if (chunk.length !== n) done(new UpstreamError('protocol', 'the target sent unexpected bytes during TLS negotiation'));
      else done(null, chunk);
    };
    const onError = (err: Error): void => done(new UpstreamError('unreachable', `the target connection failed: ${err.message}`));
    const onClose = (): void => done(new UpstreamError('unreachable', 'the target closed the connection'));
    const done = (err: Error | null, data?: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('close', onClose);
      socket.pause();
      if (err) reject(err);
      else resolve(data!);
    };
    socket.on('data', onData).on('error', onError).on('close', onClose);
  });
}

interface StartupResult {
  parameters: Array<readonly [string, string]>;
  processId: number;
  secretKey: Buffer;
  notices: Buffer[];
  reader: FrameReader;
  searchPath: string[];
}

/** Asked once per session: the schemas unqualified names resolve to (see Operation.searchPath). */
const SEARCH_PATH_QUERY = 'SELECT pg_catalog.current_schemas(false)';

function startup(
  socket: net.Socket,
  target: PostgresTarget,
  clientParameters: ClientStartupParameters,
  maxFrameBytes: number,
): Promise<StartupResult> {
  return new Promise((resolve, reject) => {
    const reader = new FrameReader(maxFrameBytes);
    const result: StartupResult = { parameters: [], processId: 0, secretKey: Buffer.alloc(0), notices: [], reader, searchPath: [] };
    let askedSearchPath = false;
    let scram: ReturnType<typeof createScramClient> | undefined;
    const timer = setTimeout(
      () => finish(new UpstreamError('timeout', `the target did not complete startup within ${target.connectTimeoutMs} ms`)),
      target.connectTimeoutMs,
    );
    const finish = (err: Error | null): void => {
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('close', onClose);
      socket.pause();
      if (err) reject(err);
      else resolve(result);
    };
    const needPassword = (): string => {
      if (target.password === undefined) {
        throw new UpstreamError('auth', 'the target asked for a password but the connection has none configured');
      }
      return target.password;
    };
    const onFrame = (type: number, body: Buffer, raw: Buffer): boolean => {
      switch (type) {
        case Be.Authentication: {
          const auth = parseAuthentication(body);
          switch (auth.kind) {
            case 'ok':
              // A server that skips SASLFinal never proved it knows the verifier: an impostor.
              if (scram && !scram.isVerified()) {
                throw new UpstreamError('auth', 'the target ended SCRAM authentication without proving its identity');
              }
              return false;
            case 'cleartext':
              socket.write(serializePassword(needPassword()));
              return false;
            case 'md5':
              socket.write(serializePassword(md5Password(target.user, needPassword(), auth.salt)));
              return false;
            case 'sasl': {
              if (!auth.mechanisms.includes('SCRAM-SHA-256')) {
                throw new UpstreamError('auth', `the target offers no supported SASL mechanism (${auth.mechanisms.join(', ')})`);
              }
              scram = createScramClient(needPassword());
              socket.write(serializeSaslInitialResponse('SCRAM-SHA-256', Buffer.from(scram.clientFirstMessage())));
              return false;
            }
            case 'sasl-continue':
              if (!scram) throw new UpstreamError('protocol', 'SASL continue without SASL start');
              socket.write(serializeSaslResponse(Buffer.from(scram.handleServerFirst(auth.data.toString('utf8')))));
              return false;
            case 'sasl-final':
              if (!scram) throw new UpstreamError('protocol', 'SASL final without SASL start');
              scram.verifyServerFinal(auth.data.toString('utf8'));
              return false;
            case 'unsupported':
              throw new UpstreamError('auth', `the target requested an unsupported authentication method (code ${auth.code})`);
          }
          return false;
        }
        case Be.ParameterStatus: {
          const { name, value } = parseParameterStatus(body);
          result.parameters.push([name, value]);
          return false;
        }
        case Be.BackendKeyData: {
          const key = parseBackendKeyData(body);
          result.processId = key.processId;
          result.secretKey = key.secretKey;
          return false;
        }
        case Be.NoticeResponse:
          result.notices.push(Buffer.from(raw));
          return false;
        case Be.NegotiateProtocolVersion:
          return false;
        case Be.ErrorResponse: {
          if (askedSearchPath) throw new UpstreamError('refused', 'the target refused to report its search_path');
          const f = parseErrorFields(body);
          const code = f.get('C') ?? 'XX000';
          const kind: UpstreamErrorKind = code.startsWith('28') ? 'auth' : 'refused';
          throw new UpstreamError(kind, f.get('M') ?? 'the target refused the connection', code);
        }
        case Be.ReadyForQuery:
          parseReadyForQuery(body);
          if (askedSearchPath) return true;
          askedSearchPath = true;
          socket.write(serializeQuery(SEARCH_PATH_QUERY));
          return false;
        case Be.RowDescription:
        case Be.CommandComplete:
          if (!askedSearchPath) throw new UpstreamError('protocol', 'unexpected result from the target during startup');
          return false;
        case Be.DataRow:
          if (!askedSearchPath) throw new UpstreamError('protocol', 'unexpected row from the target during startup');
          result.searchPath = parseTextArray(dataRowText(body));
          return false;
        default:
          throw new UpstreamError('protocol', `unexpected message 0x${type.toString(16)} from the target during startup`);
      }
    };
    const onData = (chunk: Buffer): void => {
      try {
        reader.push(chunk);
        for (let f = reader.next(); f; f = reader.next()) {
          if (onFrame(f.type, f.body, f.raw)) {
            finish(null);
            return;
          }
        }
      } catch (err) {
        finish(err instanceof UpstreamError ? err : asUpstreamError(err));
      }
    };
    const onError = (err: Error): void => finish(new UpstreamError('unreachable', `the target connection failed: ${err.message}`));
    const onClose = (): void => finish(new UpstreamError('unreachable', 'the target closed the connection during startup'));
    socket.on('data', onData).on('error', onError).on('close', onClose);
    socket.write(serializeStartupMessage({ ...clientParameters, user: target.user, database: target.database }));
    socket.resume();
  });
}

function asUpstreamError(err: unknown): UpstreamError {
  if (err instanceof ProtocolError) return new UpstreamError('protocol', `the target broke the protocol: ${err.message}`);
  const message = err instanceof Error ? err.message : String(err);
  return new UpstreamError('auth', `authenticating to the target failed: ${message}`);
}

/** The single text column of a one-column DataRow. */
function dataRowText(body: Buffer): string {
  if (body.length < 6 || body.readInt16BE(0) !== 1) throw new UpstreamError('protocol', 'malformed search_path row from the target');
  const length = body.readInt32BE(2);
  if (length < 0 || 6 + length > body.length) throw new UpstreamError('protocol', 'malformed search_path row from the target');
  return body.toString('utf8', 6, 6 + length);
}

/** PostgreSQL's text form of a one-dimensional array of names: `{a,"b c","d\\"e"}`. */
export function parseTextArray(text: string): string[] {
  if (!text.startsWith('{') || !text.endsWith('}')) throw new UpstreamError('protocol', 'malformed array from the target');
  const items: string[] = [];
  let i = 1;
  while (i < text.length - 1) {
    let item = '';
    if (text[i] === '"') {
      i++;
      while (i < text.length - 1 && text[i] !== '"') {
        if (text[i] === '\\') i++;
        item += text[i++];
      }
      i++; // closing quote
    } else {
      while (i < text.length - 1 && text[i] !== ',') item += text[i++];
    }
    items.push(item);
    if (text[i] === ',') i++;
  }
  return items;
}
