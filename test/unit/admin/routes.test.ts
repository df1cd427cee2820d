/** Route matching and query checks: pure functions of (method, path, query). */
import { describe, expect, it } from 'vitest';
import { checkQuery, matchRoute, ROUTES, type Route } from '../../../src/admin/routes.js';

function matched(method: string, path: string): { name: string; params: Readonly<Record<string, string>> } {
  const match = matchRoute(method, path);
  if (match.kind !== 'matched') throw new Error(`expected a match for ${method} ${path}, got ${JSON.stringify(match)}`);
  return { name: match.route.name, params: match.params };
}

function route(name: string): Route {
  const found = ROUTES.find((r) => r.name === name);
  if (found === undefined) throw new Error(`no route ${name}`);
  return found;
}

describe('matchRoute', () => {
  it('matches every route, GET and HEAD', () => {
    expect(matched('GET', '/healthz').name).toBe('healthz');
    expect(matched('HEAD', '/readyz').name).toBe('readyz');
    expect(matched('GET', '/metrics').name).toBe('metrics');
    expect(matched('GET', '/api/sessions').name).toBe('sessions');
    expect(matched('GET', '/api/sessions/abc')).toEqual({ name: 'session', params: { id: 'abc' } });
    expect(matched('GET', '/api/sessions/abc/events')).toEqual({ name: 'session-events', params: { id: 'abc' } });
    expect(matched('GET', '/api/audit/verify').name).toBe('audit-verify');
  });

  it('percent-decodes a captured segment, so any session id can be addressed', () => {
    expect(matched('GET', '/api/sessions/a%2Fb%20c').params).toEqual({ id: 'a/b c' });
  });

  it('answers 404 with the list of endpoints for an unknown path, an empty id, or a trailing slash', () => {
    for (const path of ['/', '/api', '/api/sessions/', '/api/sessions//events', '/API/sessions', '/api/sessions/x/events/1']) {
      const match = matchRoute('GET', path);
      expect(match.kind, path).toBe('not-found');
      if (match.kind === 'not-found') expect(match.message).toContain(`no such endpoint: GET ${path}; the admin API serves GET /healthz`);
    }
  });

  it('answers 405 with Allow for another method on a known path', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      expect(matchRoute(method, '/api/sessions/x')).toEqual({
        kind: 'method-not-allowed',
        allow: 'GET, HEAD',
        message: `${method} is not allowed on /api/sessions/x: it is read-only; use GET`,
      });
    }
  });

  it('refuses invalid percent-encoding as a bad path', () => {
    expect(matchRoute('GET', '/api/sessions/%E0%A4%A').kind).toBe('bad-path');
  });

  it('marks the probes and metrics public, the recordings for auditors, and approvals for any token', () => {
    expect(ROUTES.filter((r) => r.access === 'public').map((r) => r.name)).toEqual(['healthz', 'readyz', 'metrics']);
    expect(ROUTES.filter((r) => r.path[1] === 'sessions' || r.path[1] === 'audit').every((r) => r.access === 'auditor')).toBe(true);
    expect(ROUTES.filter((r) => r.path[1] === 'approvals').every((r) => r.access === 'token')).toBe(true);
  });
});

describe('checkQuery', () => {
  it('collects the accepted parameters', () => {
    const result = checkQuery(route('sessions'), new URLSearchParams('connection=demo&decision=deny&limit=5'));
    expect(result).toEqual({ ok: true, values: new Map([['connection', ['demo']], ['decision', ['deny']], ['limit', ['5']]]) });
  });

  it('refuses an unknown parameter, naming the allowed ones', () => {
    expect(checkQuery(route('sessions'), new URLSearchParams('conection=demo'))).toEqual({
      ok: false,
      message: 'unknown query parameter "conection" for /api/sessions (allowed: connection, subject, since, decision, limit)',
    });
    expect(checkQuery(route('healthz'), new URLSearchParams('x=1'))).toEqual({ ok: false, message: 'unknown query parameter "x" for /healthz (it takes none)' });
  });

  it('refuses a repeated single-valued parameter but keeps every anchor', () => {
    expect(checkQuery(route('sessions'), new URLSearchParams('limit=1&limit=2'))).toEqual({
      ok: false,
      message: 'query parameter "limit" is given more than once; give it once',
    });
    const anchors = checkQuery(route('audit-verify'), new URLSearchParams('anchor=1:a&anchor=2:b'));
    expect(anchors.ok && anchors.values.get('anchor')).toEqual(['1:a', '2:b']);
  });
});
