/** The bounded, retrying delivery queue, driven by injected timers and scripted attempt outcomes. */
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryQueue, type AttemptOutcome, type DeliveryReport } from '../../../src/notify/delivery-queue.js';
import { collectLogs, FakeTimers, settle } from './support.js';

const queues: DeliveryQueue<string>[] = [];
afterEach(() => queues.splice(0).forEach((queue) => queue.close()));

function setup(outcomes: (item: string, attempt: number, signal: AbortSignal) => Promise<AttemptOutcome> | AttemptOutcome, capacity = 10) {
  const timers = new FakeTimers();
  const logs = collectLogs();
  const attempts: string[] = [];
  const reports: DeliveryReport[] = [];
  const queue = new DeliveryQueue<string>({
    destination: 'webhook "test"',
    capacity,
    attempt: async (item, attempt, signal) => {
      attempts.push(`${item}#${attempt}`);
      return outcomes(item, attempt, signal);
    },
    describe: (item) => ({ item }),
    logger: logs.logger,
    timers,
    random: () => 0.5,
    settled: (report) => reports.push(report),
  });
  queues.push(queue);
  return { queue, timers, logs, attempts, reports };
}

describe('DeliveryQueue reports how each delivery ended', () => {
  it('delivered, refused or given up, with its attempts; nothing for deliveries dropped at close', async () => {
    const { queue, timers, reports } = setup((item, attempt) => {
      if (item === 'ok') return attempt < 2 ? { kind: 'retry', reason: 'HTTP 502' } : { kind: 'delivered' };
      if (item === 'refused') return { kind: 'failed', reason: 'HTTP 404' };
      return { kind: 'retry', reason: 'HTTP 503' };
    });
    queue.push('ok');
    queue.push('refused');
    queue.push('down');
    await settle();
    while (timers.fire()) await settle();
    expect(reports).toEqual([
      { destination: 'webhook "test"', fields: { item: 'ok' }, delivered: true, attempts: 2 },
      { destination: 'webhook "test"', fields: { item: 'refused' }, delivered: false, attempts: 1, reason: 'HTTP 404' },
      { destination: 'webhook "test"', fields: { item: 'down' }, delivered: false, attempts: 5, reason: 'HTTP 503' },
    ]);
    queue.push('late');
    queue.close();
    await settle();
    expect(reports).toHaveLength(3);
  });
});

describe('DeliveryQueue retries', () => {
  it('retries with 1 s, 2 s, 4 s, 8 s between 5 attempts, then gives up loudly', async () => {
    const { queue, timers, logs, attempts } = setup(() => ({ kind: 'retry', reason: 'HTTP 503' }));
    queue.push('a');
    await settle();
    while (timers.fire()) await settle();
    expect(attempts).toEqual(['a#1', 'a#2', 'a#3', 'a#4', 'a#5']);
    expect(timers.delays).toEqual([1_000, 2_000, 4_000, 8_000]);
    const last = logs.lines.at(-1)!;
    expect(last).toMatchObject({ level: 'error', item: 'a', attempt: 5 });
    expect(last.msg).toMatch(/webhook "test" given up after 5 attempts: HTTP 503/);
    await expect(queue.idle()).resolves.toBeUndefined();
  });

  it('stops retrying once delivered', async () => {
    const { queue, timers, attempts, logs } = setup((_item, attempt) => (attempt < 3 ? { kind: 'retry', reason: 'network error ECONNREFUSED' } : { kind: 'delivered' }));
    queue.push('a');
    await settle();
    while (timers.fire()) await settle();
    expect(attempts).toEqual(['a#1', 'a#2', 'a#3']);
    expect(logs.lines.filter((line) => line.level === 'warn')).toHaveLength(2);
    expect(logs.lines.at(-1)).toMatchObject({ level: 'debug', msg: 'notification delivered to webhook "test"', attempt: 3 });
  });

  it('does not retry a refusal, and counts a thrown error as retryable', async () => {
    const { queue, timers, attempts, logs } = setup((item) => {
      if (item === 'refused') return { kind: 'failed', reason: 'HTTP 404' };
      throw new Error('socket hang up');
    });
    queue.push('refused');
    queue.push('thrown');
    await settle();
    expect(attempts).toEqual(['refused#1', 'thrown#1']);
    expect(logs.lines.find((line) => line.item === 'refused')).toMatchObject({ level: 'error', msg: expect.stringMatching(/failed and is not retried: HTTP 404/) });
    expect(logs.lines.find((line) => line.item === 'thrown')).toMatchObject({ level: 'warn', msg: expect.stringMatching(/socket hang up/) });
    timers.fire();
    await settle();
    expect(attempts).toEqual(['refused#1', 'thrown#1', 'thrown#2']);
  });

  it('waits at least as long as the receiver\'s Retry-After', async () => {
    const { queue, timers } = setup((_item, attempt) => (attempt === 1 ? { kind: 'retry', reason: 'HTTP 429', retryAfterMs: 7_000 } : { kind: 'delivered' }));
    queue.push('a');
    await settle();
    expect(timers.delays).toEqual([7_000]);
  });
});

describe('DeliveryQueue bounds', () => {
  it('sends in order, one at a time, and drops the oldest waiting delivery when full', async () => {
    const release: (() => void)[] = [];
    const { queue, attempts, logs } = setup(
      () => new Promise<AttemptOutcome>((resolve) => release.push(() => resolve({ kind: 'delivered' }))),
      2,
    );
    queue.push('a');
    await settle();
    queue.push('b');
    queue.push('c');
    expect(queue.size).toBe(2);
    queue.push('d');
    expect(queue.size).toBe(2);
    const drop = logs.lines.find((line) => line.item === 'b');
    expect(drop).toMatchObject({ level: 'error', capacity: 2 });
    expect(drop!.msg).toMatch(/queue for webhook "test" is full \(2 waiting\): dropped the oldest undelivered notification/);
    while (release.length > 0) {
      release.shift()!();
      await settle();
    }
    expect(attempts).toEqual(['a#1', 'c#1', 'd#1']);
  });

  it('at close aborts the delivery in flight, drops the waiting ones and refuses new ones (logged)', async () => {
    let aborted = false;
    const { queue, timers, logs } = setup(
      (_item, _attempt, signal) =>
        new Promise<AttemptOutcome>((resolve) => signal.addEventListener('abort', () => ((aborted = true), resolve({ kind: 'retry', reason: 'aborted' })))),
    );
    queue.push('a');
    queue.push('b');
    await settle();
    queue.close();
    await settle();
    expect(aborted).toBe(true);
    expect(timers.waiting).toBe(0);
    expect(logs.lines.some((line) => line.dropped === 1 && /shutting down/.test(line.msg))).toBe(true);
    queue.push('c');
    expect(logs.lines.at(-1)).toMatchObject({ level: 'warn', item: 'c', msg: expect.stringMatching(/shutting down/) });
    await expect(queue.idle()).resolves.toBeUndefined();
  });
});
