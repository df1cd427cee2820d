/**
 * Local HTTP servers standing in for the parties notifications talk to, recording every
 * request they get: a webhook receiver (scripted statuses) and a test double for the Slack
 * Web API (chat.postMessage, chat.update, chat.postEphemeral answered as Slack documents them).
 * Slack itself cannot run here; the double checks what Slack would (the bot token, JSON
 * bodies) and records the calls so tests can look at them.
 *
 * Also: a Slack interaction built and signed exactly the way Slack builds and signs one
 * (form-encoded `payload`, `v0:<ts>:<body>` HMAC-SHA256), computed here with node:crypto
 * directly rather than with the code under test.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface Answer {
  readonly status: number;
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export class HttpDouble {
  readonly requests: RecordedRequest[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly base: string,
  ) {}

  /** Answers every request with `answer(request, index)` (default: 200). */
  static async start(answer: (request: RecordedRequest, index: number) => Answer = () => ({ status: 200 })): Promise<HttpDouble> {
    let double: HttpDouble | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const recorded: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        const index = double!.requests.push(recorded) - 1;
        const reply = answer(recorded, index);
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.body ?? '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    double = new HttpDouble(server, `http://127.0.0.1:${port}`);
    return double;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export const SLACK_TOKEN = 'xoxb-test-double-token';
export const SLACK_CHANNEL_ID = 'C0DOUBLE1';

/** One Slack Web API call the double received. */
export interface SlackCall {
  readonly method: string;
  readonly authorization: string | undefined;
  readonly body: Record<string, unknown>;
}

/** The Slack Web API double; `failWith` makes the next calls of a method answer `{ok: false, error}` (or an HTTP status). */
export class SlackDouble {
  private failures = new Map<string, (Answer | string)[]>();
  /** The `ts` of every message posted, in order. */
  readonly posted: string[] = [];

  private constructor(readonly http: HttpDouble) {}

  static async start(): Promise<SlackDouble> {
    let double: SlackDouble | undefined;
    const server = await HttpDouble.start((request) => double!.answer(request));
    double = new SlackDouble(server);
    return double;
  }

  get apiUrl(): string {
    return `${this.http.base}/api`;
  }

  calls(method?: string): SlackCall[] {
    return this.http.requests
      .map((r) => ({ method: r.path.replace(/^\/api\//, ''), authorization: r.headers.authorization, body: JSON.parse(r.body || '{}') as Record<string, unknown> }))
      .filter((call) => method === undefined || call.method === method);
  }

  failWith(method: string, ...answers: (Answer | string)[]): void {
    this.failures.set(method, answers);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private answer(request: RecordedRequest): Answer {
    const method = request.path.replace(/^\/api\//, '');
    const failure = this.failures.get(method)?.shift();
    if (typeof failure === 'string') return json({ ok: false, error: failure });
    if (failure !== undefined) return failure;
    if (request.headers.authorization !== `Bearer ${SLACK_TOKEN}`) return json({ ok: false, error: 'invalid_auth' });
    if (!String(request.headers['content-type']).startsWith('application/json')) return json({ ok: false, error: 'invalid_form_data' });
    switch (method) {
      case 'chat.postMessage':
        this.posted.push(`1700000000.${String(this.posted.length + 1).padStart(6, '0')}`);
        return json({ ok: true, channel: SLACK_CHANNEL_ID, ts: this.posted.at(-1) });
      case 'chat.update':
      case 'chat.postEphemeral':
        return json({ ok: true });
      default:
        return json({ ok: false, error: 'unknown_method' });
    }
  }
}

function json(value: unknown): Answer {
  return { status: 200, body: JSON.stringify(value) };
}

/** A `block_actions` interaction as Slack posts it when `userId` clicks a button of the message `ts`. */
export function blockActionsPayload(userId: string, actionId: string, ts = '1700000000.000001', username = 'alice'): Record<string, unknown> {
  const [, requestId = ''] = actionId.split(':');
  return {
    type: 'block_actions',
    user: { id: userId, username, name: username, team_id: 'T0TEAM' },
    api_app_id: 'A0APP',
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: ts, channel_id: SLACK_CHANNEL_ID, is_ephemeral: false },
    trigger_id: '123.456.abc',
    team: { id: 'T0TEAM', domain: 'example' },
    channel: { id: SLACK_CHANNEL_ID, name: 'approvals' },
    message: { type: 'message', ts, text: 'Approval needed', blocks: [] },
    response_url: 'https://hooks.slack.invalid/actions/T0TEAM/1/abc',
    actions: [{ type: 'button', action_id: actionId, block_id: `portcullis:${requestId}`, value: requestId, action_ts: '1700000001.000000' }],
  };
}

/** The body and headers of Slack's POST of `payload`, signed with `signingSecret` at `timestamp` (Unix seconds). */
export function signedAsSlack(signingSecret: string, payload: unknown, timestamp: number): { body: string; headers: Record<string, string> } {
  return signedBodyAsSlack(signingSecret, `payload=${encodeURIComponent(JSON.stringify(payload))}`, timestamp);
}

/** Any body, with the headers Slack would sign it with: `v0=` HMAC-SHA256(secret, `v0:<timestamp>:<body>`). */
export function signedBodyAsSlack(
  signingSecret: string,
  body: string,
  timestamp: number,
  contentType = 'application/x-www-form-urlencoded',
): { body: string; headers: Record<string, string> } {
  const signature = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { body, headers: { 'content-type': contentType, 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature } };
}
