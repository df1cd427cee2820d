/**
 * HTTP plumbing for the admin API: every response carries `Cache-Control: no-store` (these
 * are audit records and live state, never to be cached by a proxy) and `nosniff`, and every
 * error is a JSON object `{ error, message }`: a fixed code for programs, a sentence for people.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const JSON_TYPE = 'application/json; charset=utf-8';

export const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export interface ErrorBody {
  readonly error: string;
  readonly message: string;
}

export function errorBody(error: string, message: string): ErrorBody {
  return { error, message };
}

/** Sends `text` with the common headers; HEAD requests get the headers only (node:http drops the body). */
export function send(res: ServerResponse, status: number, contentType: string, text: string, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { ...COMMON_HEADERS, 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  send(res, status, JSON_TYPE, `${JSON.stringify(body, null, 2)}\n`, headers);
}

/**
 * Reads and discards a request body, up to `limit` bytes. false when it is larger (or
 * declares it will be): the caller answers 413 and closes the connection.
 */
export async function drainBody(req: IncomingMessage, limit: number): Promise<boolean> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (!(declared <= limit)) return false;
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return false;
  }
  return true;
}

/** A complete HTTP/1.1 response written straight to a socket, for requests node:http could not parse. */
export function rawErrorResponse(status: number, reason: string, body: ErrorBody): string {
  const text = `${JSON.stringify(body)}\n`;
  const headers = [
    `HTTP/1.1 ${status} ${reason}`,
    `content-type: ${JSON_TYPE}`,
    `content-length: ${Buffer.byteLength(text)}`,
    ...Object.entries(COMMON_HEADERS).map(([name, value]) => `${name}: ${value}`),
    'connection: close',
  ];
  return `${headers.join('\r\n')}\r\n\r\n${text}`;
}
