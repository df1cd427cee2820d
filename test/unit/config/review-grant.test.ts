/** `review.grant` (once, or a time window) and `review.grant_ttl`: what they build, and every refusal naming its path and the fix. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type ConfigError } from '../../../src/config/load.js';
import type { ReviewConfig } from '../../../src/config/types.js';
import { configError, issueAt, removeTempDirs, tempDir } from './support.js';

afterAll(removeTempDirs);

/** The smallest config (one issuer, connection demo, its access list last). */
const MINIMAL = readFileSync(new URL('./fixtures/minimal.yaml', import.meta.url), 'utf8');
const ENV = { DEMO_DB_PASSWORD: 'pw' };

/** The minimal config with one review rule on connection demo, whose `review:` mapping is `review`. */
function withReview(review: string): string {
  return `${MINIMAL.trimEnd()}
    rules: [orders-writes]
rules:
  - name: orders-writes
    when: { sql: { class: [write] } }
    effect: review
    reason: Writes to orders need approval.
    review: ${review}
`;
}

async function reviewOf(review: string): Promise<ReviewConfig | undefined> {
  const dir = tempDir({ 'portcullis.yaml': withReview(review) });
  return (await loadConfig(join(dir, 'portcullis.yaml'), { env: ENV })).rules[0]?.review;
}

async function errorFor(review: string): Promise<ConfigError> {
  const dir = tempDir({ 'portcullis.yaml': withReview(review) });
  return configError(loadConfig(join(dir, 'portcullis.yaml'), { env: ENV }));
}

describe('review.grant and review.grant_ttl', () => {
  it.each<[string, ReviewConfig['grant']]>([
    ['{ approvers: [dba] }', { kind: 'once', ttlMs: 15 * 60_000 }],
    ['{ approvers: [dba], grant: once }', { kind: 'once', ttlMs: 15 * 60_000 }],
    ['{ approvers: [dba], grant: once, grant_ttl: 2h }', { kind: 'once', ttlMs: 2 * 3_600_000 }],
    ['{ approvers: [dba], grant: 30m }', { kind: 'window', durationMs: 30 * 60_000 }],
    ['{ approvers: [dba], grant: 1h30m }', { kind: 'window', durationMs: 90 * 60_000 }],
    ['{ approvers: [dba], grant: 24h }', { kind: 'window', durationMs: 24 * 3_600_000 }],
    ['{ approvers: [dba], grant: 600 }', { kind: 'window', durationMs: 600_000 }],
  ])('%s builds grant %j', async (review, grant) => {
    expect((await reviewOf(review))?.grant).toEqual(grant);
  });

  it('refuses grant: session, naming the path and the fix', async () => {
    const error = await errorFor('{ approvers: [dba], grant: session }');
    expect(issueAt(error, 'rules[0].review.grant').message).toBe(
      'expected "once" or a duration such as "30m" (at most 24h), got "session": "session" grants are no longer accepted (they were never ' +
        'enforced): write grant: 30m — for 30 minutes after approval, any statement under this rule by the same identity on the same ' +
        'connection runs without asking again — or grant: once',
    );
  });

  it.each([
    ['{ approvers: [dba], grant: 25h }', 'rules[0].review.grant', 'must be at most 1d, got "25h"'],
    ['{ approvers: [dba], grant: 0s }', 'rules[0].review.grant', 'must be greater than 0, got "0s"'],
    ['{ approvers: [dba], grant: forever }', 'rules[0].review.grant', 'expected "once" or a duration such as "30m" (at most 24h), got "forever": unexpected "forever"'],
    ['{ approvers: [dba], grant: 30 minutes }', 'rules[0].review.grant', 'got "30 minutes"'],
    ['{ approvers: [dba], grant_ttl: 2d }', 'rules[0].review.grant_ttl', 'must be at most 1d, got "2d"'],
    ['{ approvers: [dba], grant_ttl: 0 }', 'rules[0].review.grant_ttl', 'must be greater than 0, got 0'],
    ['{ approvers: [dba], grant_ttl: soon }', 'rules[0].review.grant_ttl', 'expected a duration such as'],
    [
      '{ approvers: [dba], grant: 30m, grant_ttl: 5m }',
      'rules[0].review.grant_ttl',
      'grant_ttl only applies to grant: once (how long an approved statement can still run on a new connection); a grant of "30m" is ' +
        'usable for that long after approval: remove grant_ttl',
    ],
  ])('%s is refused at %s', async (review, path, message) => {
    expect(issueAt(await errorFor(review), path).message).toContain(message);
  });
});
