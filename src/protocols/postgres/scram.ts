/**
 * Client side of PostgreSQL's password authentication, pure (node:crypto only):
 * SCRAM-SHA-256 (RFC 5802 / RFC 7677, as PostgreSQL speaks it) and the legacy MD5
 * response. Portcullis uses this to log in to a target with injected credentials.
 *
 * SCRAM here is deliberately without channel binding (gs2 header `n,,`).
 * PostgreSQL ignores the username in client-first (it takes the one from the
 * StartupMessage, see "SASL Authentication" in the protocol docs); libpq sends an
 * empty name and node-postgres sends `*`. We default to `*` (a valid RFC 5802
 * saslname) and let callers set it so the RFC 7677 test vector reproduces.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export class ScramError extends Error {
  override readonly name = 'ScramError';
}

export interface ScramClient {
  /** The SASLInitialResponse payload: gs2 header + client-first-message-bare. */
  clientFirstMessage(): string;
  /** Takes the server-first-message, returns the client-final-message (with proof). */
  handleServerFirst(serverFirst: string): string;
  /** Throws ScramError unless the server proved it holds the verifier for this password. */
  verifyServerFinal(serverFinal: string): void;
  /** True once verifyServerFinal succeeded. A server that sends AuthenticationOk before
   *  SASLFinal skipped proving itself: callers must check this and refuse it. */
  isVerified(): boolean;
}

export interface ScramClientOptions {
  /** Username in client-first. PostgreSQL ignores it; default `*`. */
  username?: string;
}

/** PostgreSQL's default is 4096. Lower is allowed by the RFC, 0 is not; a huge count
 *  is a cheap way for a hostile server to burn our CPU (PBKDF2 runs synchronously). */
export const MAX_SCRAM_ITERATIONS = 10_000_000;

const GS2_HEADER = 'n,,';
const CHANNEL_BINDING = Buffer.from(GS2_HEADER).toString('base64'); // "biws"
// RFC 5802 `printable`: %x21-2B / %x2D-7E (printable ASCII except ',').
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function createScramClient(password: string, nonce?: string, options: ScramClientOptions = {}): ScramClient {
  const clientNonce = nonce ?? randomBytes(18).toString('base64');
  if (!PRINTABLE.test(clientNonce)) throw new ScramError('client nonce must be printable ASCII without ","');
  const clientFirstBare = `n=${saslname(options.username ?? '*')},r=${clientNonce}`;
  let state: 'initial' | 'first-sent' | 'final-sent' | 'done' = 'initial';
  let expectedServerSignature: Buffer | undefined;
  let verified = false;

  return {
    clientFirstMessage() {
      if (state !== 'initial') throw new ScramError('client-first already sent');
      state = 'first-sent';
      return GS2_HEADER + clientFirstBare;
    },

    handleServerFirst(serverFirst) {
      if (state !== 'first-sent') throw new ScramError('unexpected server-first-message');
      const { nonce: serverNonce, salt, iterations } = parseServerFirst(serverFirst);
      // The server must extend *our* nonce; otherwise this may be a replayed exchange.
      if (!serverNonce.startsWith(clientNonce) || serverNonce.length === clientNonce.length) {
        throw new ScramError('server nonce does not extend the client nonce');
      }
      const finalWithoutProof = `c=${CHANNEL_BINDING},r=${serverNonce}`;
      const authMessage = `${clientFirstBare},${serverFirst},${finalWithoutProof}`;
      const salted = saltedPassword(password, salt, iterations);
      const clientKey = hmac(salted, 'Client Key');
      const clientSignature = hmac(sha256(clientKey), authMessage);
      const proof = Buffer.alloc(clientKey.length);
      for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
      expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
      state = 'final-sent';
      return `${finalWithoutProof},p=${proof.toString('base64')}`;
    },

    verifyServerFinal(serverFinal) {
      if (state !== 'final-sent' || !expectedServerSignature) throw new ScramError('unexpected server-final-message');
      state = 'done';
      const first = serverFinal.split(',')[0] ?? '';
      if (first.startsWith('e=')) throw new ScramError(`server rejected authentication: ${first.slice(2)}`);
      if (!first.startsWith('v=') || !BASE64.test(first.slice(2))) throw new ScramError('malformed server-final-message');
      const signature = Buffer.from(first.slice(2), 'base64');
      if (signature.length !== expectedServerSignature.length || !timingSafeEqual(signature, expectedServerSignature)) {
        throw new ScramError('server signature mismatch: the server does not know this password');
      }
      verified = true;
    },

    isVerified: () => verified,
  };
}

/**
 * PBKDF2 is deliberately slow and runs on the event loop. A server answers the same
 * role with the same salt and iteration count every time, so the derived key is kept
 * (bounded, in memory only) and each new upstream connection costs a few HMACs instead.
 */
const SALTED_CACHE_LIMIT = 256;
const saltedCache = new Map<string, Buffer>();

function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  const key = createHash('sha256').update(password).update('\0').update(salt).update(String(iterations)).digest('base64');
  const hit = saltedCache.get(key);
  if (hit) return hit;
  const salted = pbkdf2Sync(saslprep(password), salt, iterations, 32, 'sha256');
  if (saltedCache.size >= SALTED_CACHE_LIMIT) saltedCache.delete(saltedCache.keys().next().value!);
  saltedCache.set(key, salted);
  return salted;
}

interface ServerFirst {
  nonce: string;
  salt: Buffer;
  iterations: number;
}

function parseServerFirst(message: string): ServerFirst {
  // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
  const parts = message.split(',');
  if (parts[0]?.startsWith('m=')) throw new ScramError('server requires an unsupported SCRAM extension');
  const [r, s, i] = parts;
  if (!r?.startsWith('r=') || !s?.startsWith('s=') || !i?.startsWith('i=')) {
    throw new ScramError('malformed server-first-message');
  }
  const nonce = r.slice(2);
  if (!PRINTABLE.test(nonce)) throw new ScramError('malformed server nonce');
  const saltText = s.slice(2);
  if (saltText === '' || !BASE64.test(saltText)) throw new ScramError('malformed salt');
  const iterText = i.slice(2);
  if (!/^[1-9][0-9]{0,8}$/.test(iterText)) throw new ScramError('malformed iteration count');
  const iterations = Number(iterText);
  if (iterations > MAX_SCRAM_ITERATIONS) throw new ScramError(`iteration count ${iterations} is too large`);
  return { nonce, salt: Buffer.from(saltText, 'base64'), iterations };
}

/** RFC 5802 saslname: ',' and '=' are escaped. */
function saslname(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

// RFC 3454 tables C.2-C.9 (C.1 spaces are mapped by saslprep): controls, private use,
// surrogates, non-characters/unassigned (Cn), format and display-changing code points.
const PROHIBITED =
  /[\p{Cc}\p{Co}\p{Cs}\p{Cn}\u0340\u0341\u06dd\u070f\u180e\u200e\u200f\u2028-\u202e\u2060-\u2063\u206a-\u206f\u2ff0-\u2ffb\ufff9-\ufffd\u{1d173}-\u{1d17a}\u{e0001}\u{e0020}-\u{e007f}]/u;

/**
 * SASLprep (RFC 4013) the way PostgreSQL applies it, so our proof matches the
 * verifier the server computed at CREATE ROLE time:
 *  - pure-ASCII passwords are used as-is (PostgreSQL's fast path, even with control chars);
 *  - otherwise map non-ASCII spaces to U+0020, drop "mapped to nothing" code points, NFKC;
 *  - if the result holds prohibited code points (or is empty), PostgreSQL falls back to the
 *    raw password instead of failing, and so do we.
 * Limitation: the prohibited set is approximated with Unicode properties of the JS engine's
 * Unicode version, not the Unicode 3.2 tables of RFC 3454, and the bidi rule (RFC 3454 §6) is
 * not checked. Passwords hitting those corners may hash differently from PostgreSQL.
 */
export function saslprep(password: string): string {
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  const prepared = password
    .replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g, ' ')
    .replace(/[\u00ad\u034f\u1806\u180b-\u180d\u200c\u200d\u2060\ufe00-\ufe0f\ufeff]/g, '')
    .normalize('NFKC');
  if (prepared === '' || PROHIBITED.test(prepared)) return password;
  return prepared;
}

/** What PostgreSQL stores in pg_authid for an md5 password: 'md5' + md5(password + user). */
export function md5PasswordHash(user: string, password: string): string {
  return 'md5' + createHash('md5').update(password + user, 'utf8').digest('hex');
}

/** The PasswordMessage answer to AuthenticationMD5Password: 'md5' + md5(md5(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Buffer): string {
  if (salt.length !== 4) throw new RangeError('md5 salt must be 4 bytes');
  const inner = md5PasswordHash(user, password).slice(3);
  return 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner, 'ascii'), salt])).digest('hex');
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}
