/**
 * The notifier between the approvals' audit callback and the channels: it returns at once, hands
 * steps on only after the step's transaction (and only steps that committed), and never throws
 * into its caller.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotificationsConfig } from '../../../src/config/types.js';
import { committed, createNotifier, type Notifier } from '../../../src/notify/notifier.js';
import { identity, newRequest, openService, removeTempDirs, tempDataDir } from '../approvals/support.js';
import { HttpDouble } from './http-double.js';
import { collectLogs } from './support.js';

let receiver: HttpDouble;
const notifiers: Notifier[] = [];

beforeAll(async () => {
  receiver = await HttpDouble.start();
});
afterAll(async () => {
  notifiers.forEach((notifier) => notifier.close());
  await receiver.close();
  removeTempDirs();
});

function config(): NotificationsConfig {
  return {
    publicUrl: undefined,
    webhooks: [{ name: 'hook', url: `${receiver.base}/hook`, secret: 'notifier-test-secret-0123456789', events: ['requested', 'approved'], timeoutMs: 2_000 }],
    slack: undefined,
  };
}

describe('the notifier', () => {
  it('returns before anything is sent, and sends once the step is committed', async () => {
    receiver.requests.splice(0);
    const logs = collectLogs();
    let notifier: Notifier | undefined;
    const { service } = openService(tempDataDir(), { audit: (event) => notifier!.notify(event) });
    notifier = createNotifier(config(), { logger: logs.logger, approvals: () => service, publicUrl: () => undefined });
    notifiers.push(notifier);
    const request = service.request(newRequest());
    expect(receiver.requests).toHaveLength(0);
    await notifier.idle();
    expect(receiver.requests.map((r) => JSON.parse(r.body).request.id)).toEqual([request.id]);
    expect(JSON.parse(receiver.requests[0]!.body).links).toBeNull();
  });

  it('does not announce a step that did not commit (its write was rolled back)', async () => {
    receiver.requests.splice(0);
    const logs = collectLogs();
    const { service } = openService(tempDataDir());
    // Steps of another service: as if their transaction had rolled back, they are not in this one's database.
    const { service: elsewhere, events } = openService(tempDataDir());
    elsewhere.request(newRequest());
    const notifier = createNotifier(config(), { logger: logs.logger, approvals: () => service, publicUrl: () => undefined });
    notifiers.push(notifier);
    notifier.notify(events[0]!);
    await notifier.idle();
    expect(receiver.requests).toHaveLength(0);
    expect(logs.lines.at(-1)).toMatchObject({ level: 'warn', msg: expect.stringMatching(/not announced: it was not recorded/) });
  });

  it('never throws into the caller, whatever fails behind it', async () => {
    const logs = collectLogs();
    const { events, service } = openService(tempDataDir());
    service.request(newRequest());
    const notifier = createNotifier(config(), {
      logger: logs.logger,
      approvals: () => {
        throw new Error('the approvals database is closed');
      },
      publicUrl: () => undefined,
    });
    notifiers.push(notifier);
    expect(() => notifier.notify(events[0]!)).not.toThrow();
    await notifier.idle();
    expect(logs.lines.at(-1)).toMatchObject({ level: 'error', msg: 'could not queue a notification for an approval step' });
    notifier.close();
    expect(() => notifier.notify(events[0]!)).not.toThrow();
  });
});

describe('committed', () => {
  it('holds for a step whose decisions and grant uses are stored, not for one ahead of the store', () => {
    const { service, events } = openService(tempDataDir());
    const request = service.request(newRequest());
    service.decide(request.id, identity({ subject: 'dba-1', groups: ['dba'] }), 'approve', '');
    service.markRedeemed(request.id);
    for (const event of events) expect(committed(service, event)).toBe(true);
    const { service: fresh } = openService(tempDataDir());
    expect(committed(fresh, events[0]!)).toBe(false);
    const approved = events.find((event) => event.kind === 'approved')!;
    const ahead = { ...approved, request: { ...approved.request, decisions: [...approved.request.decisions, ...approved.request.decisions] } };
    expect(committed(service, ahead)).toBe(false);
    const redeemed = events.find((event) => event.kind === 'redeemed')!;
    expect(committed(service, { ...redeemed, request: { ...redeemed.request, uses: redeemed.request.uses + 1 } })).toBe(false);
  });
});
