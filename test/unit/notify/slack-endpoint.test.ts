/**
 * The admin listener's POST /api/slack/interactions plumbing (a real AdminServer over HTTP):
 * the handler gets the exact raw bytes and the headers, without a token being asked for; its
 * answers go back as they are; the route is 404 when Slack is not configured; bodies are bounded.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { AdminServer, MAX_SLACK_BODY_BYTES } from '../../../src/admin/server.js';
import { TokenVerifier } from '../../../src/identity/verifier.js';
import { silentLogger } from '../../../src/log.js';
import { PrometheusMetrics } from '../../../src/metrics/prometheus.js';
import type { InteractionAnswer, RequestHeaders, SlackInteractionHandler } from '../../../src/notify/slack-interactions.js';
import { FileKeyStore } from '../../../src/recording/key-store.js';
import { removeTempDirs, tempDataDir } from '../recording/support.js';
import { adminConfig } from '../../support/stack.js';

const servers: AdminServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  removeTempDirs();
});

async function start(slack?: SlackInteractionHandler): Promise<string> {
  const dataDir = tempDataDir();
  mkdirSync(dataDir, { recursive: true });
  const server = new AdminServer({
    config: adminConfig(),
    verifier: new TokenVerifier([]),
    dataDir,
    publicKey: FileKeyStore.openOrCreate(dataDir).publicKey(),
    metrics: new PrometheusMetrics({ connections: [], processMetrics: false }),
    readiness: [],
    logger: silentLogger,
    ...(slack === undefined ? {} : { slack }),
  });
  servers.push(server);
  const { port } = await server.listen();
  return `http://127.0.0.1:${port}/api/slack/interactions`;
}

/** A handler recording what it was given and answering `answer`. */
function recording(answer: InteractionAnswer): SlackInteractionHandler & { seen: { body: Buffer; headers: RequestHeaders }[] } {
  const seen: { body: Buffer; headers: RequestHeaders }[] = [];
  return { seen, handle: (body, headers) => (seen.push({ body, headers }), answer) };
}

describe('POST /api/slack/interactions', () => {
  it('hands the handler the exact raw body and headers, needs no token, and answers an empty 200', async () => {
    const handler = recording({ status: 200, body: undefined });
    const url = await start(handler);
    const body = 'payload=%7B%22type%22%3A%22block_actions%22%7D&x=%C3%A9';
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-signature': 'v0=abc' }, body });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
    expect(handler.seen).toHaveLength(1);
    expect(handler.seen[0]!.body.toString('utf8')).toBe(body);
    expect(handler.seen[0]!.headers['x-slack-signature']).toBe('v0=abc');
  });

  it('passes a refusal on as JSON', async () => {
    const url = await start(recording({ status: 401, body: { error: 'invalid_signature', message: 'not signed by Slack' } }));
    const response = await fetch(url, { method: 'POST', body: 'payload=%7B%7D' });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'invalid_signature', message: 'not signed by Slack' });
  });

  it('is 404 when Slack is not configured, saying how to enable it', async () => {
    const response = await fetch(await start(), { method: 'POST', body: 'payload=%7B%7D' });
    expect(response.status).toBe(404);
    expect((await response.json()) as object).toMatchObject({ error: 'not_found', message: expect.stringMatching(/configure notifications\.slack/) });
  });

  it('refuses a body larger than any Slack interaction (413), without calling the handler', async () => {
    const handler = recording({ status: 200, body: undefined });
    const response = await fetch(await start(handler), { method: 'POST', body: `payload=${'x'.repeat(MAX_SLACK_BODY_BYTES)}` });
    expect(response.status).toBe(413);
    expect(handler.seen).toHaveLength(0);
  });
});
