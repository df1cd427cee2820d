/** Query parameter parsing for the admin API. */
import { describe, expect, it } from 'vitest';
import { parseEventsQuery, parseInstant, parseSessionsQuery, parseVerifyQuery } from '../../../src/admin/query.js';

const params = (entries: Record<string, string | string[]>): Map<string, string[]> =>
  new Map(Object.entries(entries).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));

describe('parseSessionsQuery', () => {
  it('defaults to no filter and 100 sessions', () => {
    expect(parseSessionsQuery(params({}))).toEqual({ ok: true, value: { filter: {}, limit: 100 } });
  });

  it('builds the filter from every parameter', () => {
    expect(parseSessionsQuery(params({ connection: 'demo', subject: 'agent', since: '2025-01-31T09:00:00Z', decision: 'deny', limit: '5' }))).toEqual({
      ok: true,
      value: { filter: { connection: 'demo', subject: 'agent', since: Date.parse('2025-01-31T09:00:00Z'), decision: 'deny' }, limit: 5 },
    });
  });

  it('says what it expected for each bad value', () => {
    expect(parseSessionsQuery(params({ since: 'yesterday' }))).toEqual({
      ok: false,
      message: 'since="yesterday": expected an ISO 8601 time ("2025-01-31", "2025-01-31T09:00:00Z") or epoch milliseconds',
    });
    expect(parseSessionsQuery(params({ decision: 'refused' }))).toEqual({ ok: false, message: 'decision="refused": expected allow, deny or review' });
    for (const limit of ['0', '1001', '-1', '1.5', 'ten', '']) {
      expect(parseSessionsQuery(params({ limit }))).toEqual({ ok: false, message: `limit=${JSON.stringify(limit)}: expected a whole number from 1 to 1000` });
    }
  });
});

describe('parseInstant', () => {
  it('takes ISO 8601 dates and times, and epoch milliseconds', () => {
    expect(parseInstant('2025-01-31')).toBe(Date.parse('2025-01-31'));
    expect(parseInstant('2025-01-31T09:00:00.500+02:00')).toBe(Date.parse('2025-01-31T07:00:00.500Z'));
    expect(parseInstant('1700000000000')).toBe(1_700_000_000_000);
  });

  it('refuses anything else', () => {
    for (const value of ['2025-13-45', '24h', '-5', '1e12', 'Jan 31 2025', '']) expect(parseInstant(value), value).toBeUndefined();
  });
});

describe('parseEventsQuery', () => {
  it('defaults to the first 1000 events and takes a page cursor', () => {
    expect(parseEventsQuery(params({}))).toEqual({ ok: true, value: { after: 0, limit: 1000 } });
    expect(parseEventsQuery(params({ after: '42', limit: '10000' }))).toEqual({ ok: true, value: { after: 42, limit: 10000 } });
  });

  it('refuses a bad cursor or limit', () => {
    expect(parseEventsQuery(params({ after: '-1' }))).toMatchObject({ ok: false, message: expect.stringMatching(/^after="-1": expected an event seq/) });
    expect(parseEventsQuery(params({ limit: '10001' }))).toEqual({ ok: false, message: 'limit="10001": expected a whole number from 1 to 10000' });
  });
});

describe('parseVerifyQuery', () => {
  const hash = 'AB'.repeat(32);

  it('parses every anchor, lower-casing the hash', () => {
    expect(parseVerifyQuery(params({ anchor: [`12:${hash}`, `3:${'0'.repeat(64)}`] }))).toEqual({
      ok: true,
      value: { anchors: [{ globalSeq: 12, hash: hash.toLowerCase() }, { globalSeq: 3, hash: '0'.repeat(64) }] },
    });
  });

  it('refuses a malformed anchor', () => {
    expect(parseVerifyQuery(params({ anchor: '12:abc' }))).toEqual({
      ok: false,
      message: 'anchor="12:abc": expected SEQ:HASH (a global entry number, ":", its 64-digit hex hash)',
    });
  });
});
