/**
 * Calling the gateway's admin API from the CLI (`approvals …`): where it is (--url or
 * $PORTCULLIS_URL), the caller's access token (--token or $PORTCULLIS_TOKEN), and one request
 * with Node's fetch. Every failure is printed as one line naming what to do next; the token
 * never is.
 */
import { visible } from '../recording/printable.js';
import { ExitCode, type CliArgs, type CliIo } from './command.js';
import { usageError } from './data-dir.js';

export const URL_ENV = 'PORTCULLIS_URL';
export const TOKEN_ENV = 'PORTCULLIS_TOKEN';

/** Answers that take longer than this are given up on (a long poll adds its own wait). */
export const REQUEST_TIMEOUT_MS = 30_000;

export const ADMIN_CLIENT_FLAGS = {
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

/** The --url / --token lines of a command's usage text. */
export const ADMIN_CLIENT_OPTIONS = `      --url URL          the gateway's admin API, e.g. http://127.0.0.1:6480
                         (default: $${URL_ENV})
      --token TOKEN      your OIDC access token (default: $${TOKEN_ENV}; prefer the
                         variable: command lines are visible to other local users)`;

export interface AdminTarget {
  readonly base: URL;
  readonly token: string;
}

/** --url and --token (or their environment variables); an exit code (after printing why) when either is missing or bad. */
export function resolveAdminTarget(args: CliArgs, io: CliIo, command: string): AdminTarget | ExitCode {
  const url = stringOf(args.values['url']) ?? (process.env[URL_ENV] || undefined);
  const token = (stringOf(args.values['token']) ?? (process.env[TOKEN_ENV] || undefined))?.trim();
  if (url === undefined) return usageError(io, command, `no admin API URL: give --url URL or set ${URL_ENV} (e.g. http://127.0.0.1:6480)`);
  if (token === undefined || token === '') {
    return usageError(io, command, `no access token: set ${TOKEN_ENV} (e.g. ${TOKEN_ENV}=$(portcullis token …)) or give --token`);
  }
  if (/\s/.test(token)) return usageError(io, command, `the access token contains whitespace: give the token alone, without "Bearer"`);
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    return usageError(io, command, `--url ${JSON.stringify(url)} is not a URL; expected e.g. http://127.0.0.1:6480`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    return usageError(io, command, `--url ${JSON.stringify(url)}: expected an http:// or https:// URL`);
  }
  return { base, token };
}

export type AdminCall = { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly code: ExitCode };

export interface AdminRequest {
  readonly method: 'GET' | 'POST';
  /** From the API's root, e.g. `/api/approvals/ID` (segments already encoded). */
  readonly path: string;
  readonly body?: unknown;
  /** Extra time the server may take to answer (a long poll's wait). */
  readonly waitMs?: number;
}

/**
 * One request. A non-2xx answer prints the server's JSON `message` (with the status) and is
 * exit 1, as is an unreachable gateway or an answer that is not JSON.
 */
export async function callAdmin(target: AdminTarget, request: AdminRequest, io: CliIo, command: string, signal: AbortSignal): Promise<AdminCall> {
  // Keep any path prefix of --url (an API behind a reverse proxy at /portcullis/).
  const url = new URL(`${target.base.pathname.replace(/\/$/, '')}${request.path}`, target.base);
  const headers: Record<string, string> = { authorization: `Bearer ${target.token}`, accept: 'application/json' };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  const fail = (message: string): AdminCall => {
    io.err(`portcullis ${command}: ${message}\n`);
    return { ok: false, code: ExitCode.failure };
  };
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: request.method,
      headers,
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS + (request.waitMs ?? 0))]),
    });
    text = await response.text();
  } catch (error) {
    if (signal.aborted) return fail('interrupted');
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
    return fail(`cannot reach the admin API at ${url.origin}: ${cause}; is the gateway running with an admin: section, and is --url (or ${URL_ENV}) right?`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    return fail(`${url.origin} answered HTTP ${response.status} with something that is not JSON (${JSON.stringify(text.slice(0, 120))}); is --url the gateway's admin API?`);
  }
  if (!response.ok) {
    const message = typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : text.trim();
    // The message may quote what an agent sent (an id): printed escaped, never raw to the terminal.
    return fail(`${visible(message)} (HTTP ${response.status})`);
  }
  return { ok: true, body };
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
