/**
 * The bypass regression suite, offline: every case of test/support/bypass-cases.ts through
 * `portcullis policy check` (the command itself, with the real libpg-query inspector and the
 * example config), as identity `agent` in group `agents` on connection `demo`. The same
 * table runs over the wire in test/integration/sql-guardrails.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../../src/cli/command.js';
import { createPolicyCheckCommand, POLICY_EXIT } from '../../../src/cli/policy.js';
import type { SqlInspection } from '../../../src/inspect/sql/facts.js';
import type { Effect } from '../../../src/policy/operation.js';
import { BYPASS_CASES, type BypassCase } from '../../support/bypass-cases.js';
import { removeTempDirs, tempDir } from '../config/support.js';

afterAll(removeTempDirs);

const EXAMPLE = fileURLToPath(new URL('../../../examples/portcullis.yaml', import.meta.url));
const never = new AbortController().signal;
const command = createPolicyCheckCommand();

interface CheckResult {
  readonly code: number;
  readonly effect: Effect;
  readonly rule: string;
  readonly reason: string;
  readonly facts: SqlInspection;
  readonly stderr: string;
}

async function policyCheck(sql: string, config = EXAMPLE): Promise<CheckResult> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: (t) => void err.push(t) };
  const code = await command.run(
    { values: { config, connection: 'demo', subject: 'agent', group: ['agents'], sql }, positionals: [] },
    io,
    never,
  );
  const json = JSON.parse(out.join('')) as Omit<CheckResult, 'code' | 'stderr'>;
  return { code, ...json, stderr: err.join('') };
}

/** What an agent needs from a refusal: which rule, and something it can do next. */
const ADVICE = /\b(ask|run|instead|fix|leave|use|send)\b/i;

function assertDecision(c: BypassCase, r: CheckResult): void {
  expect(r.stderr).toBe('');
  expect(r.effect, r.reason).toBe(c.expect);
  expect(r.code).toBe(POLICY_EXIT[c.expect]);
  if (c.rule !== undefined) expect(r.rule, r.reason).toBe(c.rule);
  if (c.expect === 'deny') {
    expect(r.reason).toContain(`"${r.rule}"`);
    expect(r.reason).toMatch(ADVICE);
  }
}

describe('bypass case table', () => {
  it('has unique names, and deny cases never open a transaction first', () => {
    const names = BYPASS_CASES.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const c of BYPASS_CASES) {
      if (c.expect === 'deny' && c.session !== undefined) expect(c.session, c.name).not.toMatch(/\b(BEGIN|START)\b/i);
      if (c.targetError !== undefined) {
        expect(c.expect, c.name).toBe('allow');
        expect(c.targetError, c.name).not.toBe('42501');
      }
    }
  });

  it('covers both outcomes generously', () => {
    const deny = BYPASS_CASES.filter((c) => c.expect === 'deny').length;
    const allow = BYPASS_CASES.length - deny;
    expect(deny).toBeGreaterThanOrEqual(150);
    expect(allow).toBeGreaterThanOrEqual(50);
  });
});

describe('bypass suite through `portcullis policy check` (example policy, real inspector)', () => {
  for (const c of BYPASS_CASES) {
    // BUG cases: see the case's `bug` and `// BUG:` comment in test/support/bypass-cases.ts.
    const test = c.bug === undefined ? it : it.fails;
    test(`${c.expect}: ${c.name}`, async () => {
      assertDecision(c, await policyCheck(c.sql));
    });
  }

  it('decides the same text the same way every time (deep nesting included)', async () => {
    for (const c of BYPASS_CASES.filter((x) => /nested/.test(x.name))) {
      const first = await policyCheck(c.sql);
      const second = await policyCheck(c.sql);
      expect({ effect: second.effect, rule: second.rule }).toEqual({ effect: first.effect, rule: first.rule });
    }
  });

  it('reports which statement of a multi-statement text decided', async () => {
    const r = await policyCheck('SELECT 1; SELECT 2; DELETE FROM orders; SELECT 3');
    expect(r.effect).toBe('deny');
    expect(r.reason).toContain('statement 3 of 4');
    expect(r.reason).toContain('"DELETE FROM orders"');
  });
});

describe('extra dangerous functions from config', () => {
  /** The example config with one of the operator's own functions listed as dangerous. */
  function configWithExtraFunction(): string {
    const example = readFileSync(EXAMPLE, 'utf8').replace(
      'extra_dangerous_functions: []',
      'extra_dangerous_functions:\n    - name: guard_bump\n      class: write\n      reason: "advances guard_seq"',
    );
    return join(tempDir({ 'portcullis.yaml': example }), 'portcullis.yaml');
  }

  it('refuses a listed function however it is called by name', async () => {
    const config = configWithExtraFunction();
    for (const sql of ['SELECT guard_bump(o) FROM orders o', 'SELECT public."guard_bump"(o.*) FROM orders o', 'SELECT GUARD_BUMP(o) FROM orders o']) {
      const r = await policyCheck(sql, config);
      expect({ sql, effect: r.effect, rule: r.rule }).toEqual({ sql, effect: 'deny', rule: 'no-dangerous-functions' });
    }
  });

  // PostgreSQL calls a one-argument function of a row type through attribute notation:
  // `o.guard_bump` (and `(o).guard_bump`) is `guard_bump(o)` when `o` is a row of orders and no
  // column has that name (verified in test/integration/sql-guardrails.test.ts), so a listed
  // name in that position is judged as a call.
  it('refuses a listed function called with attribute notation (o.fn, (o).fn)', async () => {
    const config = configWithExtraFunction();
    for (const sql of ['SELECT o.guard_bump FROM orders o', 'SELECT (o).guard_bump FROM orders o']) {
      const r = await policyCheck(sql, config);
      expect({ sql, effect: r.effect }).toEqual({ sql, effect: 'deny' });
    }
  });
});
