/** /readyz's evaluation: every check must pass, in time. */
import { describe, expect, it } from 'vitest';
import { evaluateReadiness } from '../../../src/admin/readiness.js';

describe('evaluateReadiness', () => {
  it('is ready when every check answers nothing', async () => {
    expect(await evaluateReadiness([{ name: 'a', check: () => undefined }, { name: 'b', check: async () => undefined }])).toEqual({
      ready: true,
      checks: { a: 'ok', b: 'ok' },
    });
  });

  it('reports each failing check\'s reason, a throwing check and one that does not answer', async () => {
    const report = await evaluateReadiness(
      [
        { name: 'ok', check: () => undefined },
        { name: 'down', check: () => 'the listener is closed' },
        { name: 'broken', check: () => { throw new Error('boom'); } },
        { name: 'stuck', check: () => new Promise<undefined>(() => {}) },
      ],
      50,
    );
    expect(report).toEqual({
      ready: false,
      checks: { ok: 'ok', down: 'the listener is closed', broken: 'check failed: boom', stuck: 'did not answer within 50 ms' },
    });
  });
});
