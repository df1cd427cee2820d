/**
 * Obtains an access token with the OAuth 2.0 client_credentials grant from any OIDC
 * issuer (Okta custom authorization servers, the dev IdP, …): what an agent runs
 * before it connects through Portcullis.
 */

export interface FetchAccessTokenOptions {
  /** Exact issuer; discovery is `${issuer}/.well-known/openid-configuration` (also for Okta's `/oauth2/<server>`). */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /**
   * Sent as the RFC 8707 `resource` parameter, which must be an absolute URI
   * (e.g. `api://default`). Omit it to get the issuer's default audience.
   */
  readonly audience?: string;
  /** Space-separated scopes. */
  readonly scope?: string;
  /** Per-request limit, default 10 s. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

export interface AccessTokenResponse {
  readonly accessToken: string;
  readonly expiresIn: number | undefined;
  readonly tokenType: string;
}

/**
 * Why a token could not be obtained. `input`: the options cannot make a valid request.
 * `unreachable`: the issuer is not reachable or not serving (network error, timeout,
 * abort, HTTP 5xx without an OAuth error). `refused`: the
 * issuer said no (bad credentials, unknown issuer path, …). `invalid_response`: the
 * issuer's answer is not a usable discovery document or token response.
 */
export type TokenRequestFailure = 'input' | 'unreachable' | 'refused' | 'invalid_response';

export class TokenRequestError extends Error {
  override readonly name = 'TokenRequestError';

  constructor(
    message: string,
    readonly failure: TokenRequestFailure,
    /** The OAuth `error` code when the issuer sent one. */
    readonly oauthError?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Discovery documents and token responses are small; anything bigger is not one. */
const MAX_RESPONSE_BYTES = 256 * 1024;
/** Issuer-supplied text is echoed to a terminal: keep it short and printable. */
const MAX_DESCRIPTION_CHARS = 300;

export async function fetchAccessToken(options: FetchAccessTokenOptions): Promise<AccessTokenResponse> {
  const { issuer, clientId, clientSecret, audience, scope } = options;
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Issuer-supplied text ends up in messages; an issuer echoing the secret must not leak it.
  const sanitize = (text: string): string => printable(clientSecret ? text.split(clientSecret).join('[redacted]') : text);

  if (!URL.canParse(issuer) || !/^https?:$/.test(new URL(issuer).protocol)) {
    throw new TokenRequestError(`issuer "${issuer}" is not an http(s) URL`, 'input');
  }
  if (!clientId || !clientSecret) throw new TokenRequestError('client id and client secret are required', 'input');
  if (!(timeoutMs > 0 && timeoutMs <= 600_000)) throw new TokenRequestError('timeoutMs must be between 1 and 600000', 'input');
  if (audience !== undefined && !(URL.canParse(audience) && !audience.includes('#'))) {
    throw new TokenRequestError(
      `audience "${audience}" is not an absolute URI, so it cannot be sent as a resource indicator (RFC 8707); ` +
        'omit it to receive the issuer\'s default audience',
      'input',
    );
  }

  const tokenEndpoint = await discoverTokenEndpoint(issuer, doFetch, timeoutMs, sanitize);

  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  if (scope) body.set('scope', scope);
  if (audience !== undefined) body.set('resource', audience);

  const response = await request(doFetch, tokenEndpoint, timeoutMs, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: body.toString(),
    // A redirect would carry the client's credentials somewhere it did not choose.
    redirect: 'error',
  });
  const payload = await readJson(response, tokenEndpoint, timeoutMs);

  if (!response.ok) {
    const code = stringField(payload, 'error');
    const description = stringField(payload, 'error_description');
    if (!code && response.status >= 500) {
      throw new TokenRequestError(`issuer ${issuer} is not serving tokens: HTTP ${response.status} from ${tokenEndpoint}`, 'unreachable');
    }
    const detail = code ? `${sanitize(code)}${description ? ` (${sanitize(description)})` : ''}` : `HTTP ${response.status}`;
    throw new TokenRequestError(`issuer ${issuer} refused the token request: ${detail}`, 'refused', code && sanitize(code));
  }

  const accessToken = stringField(payload, 'access_token');
  const tokenType = stringField(payload, 'token_type');
  if (!accessToken || !tokenType) {
    throw new TokenRequestError(`token response from ${tokenEndpoint} lacks access_token or token_type`, 'invalid_response');
  }
  return { accessToken, tokenType, expiresIn: expiresInField(payload) };
}

async function discoverTokenEndpoint(
  issuer: string,
  doFetch: typeof fetch,
  timeoutMs: number,
  sanitize: (text: string) => string,
): Promise<string> {
  // OIDC Discovery §4: the well-known path is appended to the issuer, including any path it has.
  const base = issuer.replace(/\/+$/, '');
  const discoveryUrl = `${base}/.well-known/openid-configuration`;
  const response = await request(doFetch, discoveryUrl, timeoutMs, { headers: { accept: 'application/json' } });
  const document = await readJson(response, discoveryUrl, timeoutMs);
  if (response.status >= 500) {
    throw new TokenRequestError(`discovery at ${discoveryUrl} failed: HTTP ${response.status}`, 'unreachable');
  }
  if (!response.ok) {
    throw new TokenRequestError(`discovery at ${discoveryUrl} failed: HTTP ${response.status}; is "${issuer}" the exact issuer?`, 'refused');
  }
  const advertised = stringField(document, 'issuer');
  // Guards against talking to a different issuer than the one whose tokens will be checked.
  if (advertised !== undefined && advertised.replace(/\/+$/, '') !== base) {
    throw new TokenRequestError(`discovery at ${discoveryUrl} names issuer "${sanitize(advertised)}", not "${issuer}"`, 'invalid_response');
  }
  const tokenEndpoint = stringField(document, 'token_endpoint');
  if (!tokenEndpoint || !URL.canParse(tokenEndpoint) || !/^https?:$/.test(new URL(tokenEndpoint).protocol)) {
    throw new TokenRequestError(`discovery at ${discoveryUrl} has no usable token_endpoint`, 'invalid_response');
  }
  return tokenEndpoint;
}

async function request(doFetch: typeof fetch, url: string, timeoutMs: number, init: RequestInit): Promise<Response> {
  try {
    return await doFetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new TokenRequestError(`cannot reach ${url}: ${networkReason(err, timeoutMs)}`, 'unreachable', undefined, { cause: err });
  }
}

/** Reads a JSON object body within the size and time limits; undefined when it is not JSON. */
async function readJson(response: Response, url: string, timeoutMs: number): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readBounded(response);
  } catch (err) {
    if (err instanceof TokenRequestError) throw err;
    throw new TokenRequestError(`reading the response from ${url} failed: ${networkReason(err, timeoutMs)}`, 'unreachable', undefined, { cause: err });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through: the caller decides whether a non-JSON answer is an error
  }
  if (response.ok) throw new TokenRequestError(`response from ${url} is not a JSON object`, 'invalid_response');
  return undefined;
}

async function readBounded(response: Response): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await response.body.cancel().catch(() => undefined);
      throw new TokenRequestError(`response from ${response.url} exceeds ${MAX_RESPONSE_BYTES} bytes`, 'invalid_response');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function networkReason(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  if (err instanceof Error && err.name === 'AbortError') return 'request aborted';
  // undici reports "fetch failed" and puts the useful part (ECONNREFUSED, ENOTFOUND…) in the cause.
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error && cause.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

function stringField(object: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = object?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function expiresInField(object: Record<string, unknown> | undefined): number | undefined {
  const value = object?.['expires_in'];
  // Some issuers send it as a string.
  const seconds = typeof value === 'string' ? Number(value) : value;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > MAX_DESCRIPTION_CHARS ? `${clean.slice(0, MAX_DESCRIPTION_CHARS)}…` : clean;
}
