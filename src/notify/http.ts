/**
 * One outgoing POST (node's fetch): redirects are not followed (the signed body must reach
 * the configured receiver or nobody), each attempt has its own deadline, and only the start of
 * the answer is read (receivers' bodies are for Slack's `{ok, error}`, not for storing).
 */
import { parseRetryAfter } from './backoff.js';

export interface HttpPost {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timeoutMs: number;
  /** Aborts at shutdown. */
  readonly signal: AbortSignal;
}

export interface HttpAnswer {
  readonly status: number;
  /** From `Retry-After`, when the receiver sent one. */
  readonly retryAfterMs: number | undefined;
  /** The first `MAX_ANSWER_BYTES` of the body, as text. */
  readonly body: string;
}

/** Sends a POST; rejects on a network error or timeout (both worth retrying). */
export type HttpTransport = (request: HttpPost) => Promise<HttpAnswer>;

export const MAX_ANSWER_BYTES = 64 * 1024;

export const USER_AGENT = 'portcullis-notifier/1';

export const fetchTransport: HttpTransport = async (request) => {
  const signal = AbortSignal.any([request.signal, AbortSignal.timeout(request.timeoutMs)]);
  let response: Response;
  try {
    response = await fetch(request.url, { method: 'POST', headers: { 'user-agent': USER_AGENT, ...request.headers }, body: request.body, redirect: 'manual', signal });
  } catch (error) {
    throw new Error(describeFetchError(error, request.timeoutMs));
  }
  const body = await readStart(response, MAX_ANSWER_BYTES).catch(() => '');
  return { status: response.status, retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), Date.now()), body };
};

/** Reads at most `limit` bytes of the body, then lets the rest go. */
async function readStart(response: Response, limit: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/** A network failure in words, without the URL (it may hold a credential). */
function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'aborted';
  }
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  const code = cause !== undefined && 'code' in cause ? String(cause.code) : undefined;
  if (code !== undefined) return `network error ${code}`;
  return `network error: ${cause?.message ?? (error instanceof Error ? error.message : String(error))}`;
}
