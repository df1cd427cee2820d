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
 * Reads a request body of at most `limit` bytes. undefined when it is larger (or declares it
 * will be): the caller answers 413 and closes the connection.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (!(declared <= limit)) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export type JsonBody = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly status: 400 | 415; readonly error: string; readonly message: string };

/**
 * A request body as JSON: `Content-Type: application/json` (UTF-8) is required, so a form
 * post from a browser page cannot pass for an API call. An empty body is `{}` whatever its
 * type (`curl -X POST` sends none). Pure.
 */
export function parseJsonBody(contentType: string | undefined, body: Buffer): JsonBody {
  if (body.length === 0) return { ok: true, value: {} };
  const [mediaType = '', ...params] = (contentType ?? '').split(';').map((part) => part.trim().toLowerCase());
  const charset = params.find((param) => param.startsWith('charset='))?.slice('charset='.length).replace(/^"|"$/g, '');
  if (mediaType !== 'application/json' || (charset !== undefined && charset !== 'utf-8')) {
    const got = contentType === undefined ? 'no Content-Type' : `Content-Type ${JSON.stringify(contentType.slice(0, 100))}`;
    return { ok: false, status: 415, error: 'unsupported_media_type', message: `the request body must be JSON: send "Content-Type: application/json" (UTF-8), not ${got}` };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return { ok: false, status: 400, error: 'bad_request', message: 'the request body is not valid UTF-8; send JSON text' };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, status: 400, error: 'bad_request', message: `the request body is not valid JSON (${(error as Error).message}); send an object such as {"comment": "…"}` };
  }
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
