/**
 * The admin API's routes and the pure matcher from (method, path) to a route. Everything the
 * server does per request starts from this table: who may call a route, which query
 * parameters it accepts, what a 404/405 says.
 */

/** The routes answered from the ApprovalService (the others read the recordings or the process). */
export const APPROVAL_ROUTES = ['approvals', 'approval', 'approval-approve', 'approval-deny', 'approval-revoke', 'approval-wait', 'access-requests'] as const;
export type ApprovalRouteName = (typeof APPROVAL_ROUTES)[number];

export type RouteName = 'healthz' | 'readyz' | 'metrics' | 'sessions' | 'session' | 'session-events' | 'audit-verify' | ApprovalRouteName | 'slack-interactions';

export function isApprovalRoute(name: RouteName): name is ApprovalRouteName {
  return (APPROVAL_ROUTES as readonly string[]).includes(name);
}

/**
 * `public`: no token (probes and scrapers); `signed`: no token, the request carries its
 * sender's signature, which the route's handler verifies (Slack interactions); `token`: any
 * verified token, the route itself decides per request (approvals: approvers are checked
 * against each request's rule); `auditor`: a token in an auditors or admins group; `admin`: a
 * token in an admins group (no route needs it yet).
 */
export type Access = 'public' | 'signed' | 'token' | 'auditor' | 'admin';

/** GET routes read (HEAD is GET without the body); POST routes take a JSON body and change state. */
export type RouteMethod = 'GET' | 'POST';

export interface Route {
  readonly name: RouteName;
  readonly method: RouteMethod;
  /** Path segments; `:name` captures one (percent-decoded) segment. */
  readonly path: readonly string[];
  readonly access: Access;
  /** Query parameters accepted; any other is refused (a typo would otherwise be silently ignored). */
  readonly query: readonly string[];
  /** Query parameters that may be given more than once. */
  readonly repeatable?: readonly string[];
}

export const ROUTES: readonly Route[] = [
  { name: 'healthz', method: 'GET', path: ['healthz'], access: 'public', query: [] },
  { name: 'readyz', method: 'GET', path: ['readyz'], access: 'public', query: [] },
  { name: 'metrics', method: 'GET', path: ['metrics'], access: 'public', query: [] },
  { name: 'sessions', method: 'GET', path: ['api', 'sessions'], access: 'auditor', query: ['connection', 'subject', 'since', 'decision', 'limit'] },
  { name: 'session', method: 'GET', path: ['api', 'sessions', ':id'], access: 'auditor', query: [] },
  { name: 'session-events', method: 'GET', path: ['api', 'sessions', ':id', 'events'], access: 'auditor', query: ['after', 'limit'] },
  { name: 'audit-verify', method: 'GET', path: ['api', 'audit', 'verify'], access: 'auditor', query: ['anchor'], repeatable: ['anchor'] },
  { name: 'approvals', method: 'GET', path: ['api', 'approvals'], access: 'token', query: ['status'] },
  { name: 'approval', method: 'GET', path: ['api', 'approvals', ':id'], access: 'token', query: [] },
  { name: 'approval-approve', method: 'POST', path: ['api', 'approvals', ':id', 'approve'], access: 'token', query: [] },
  { name: 'approval-deny', method: 'POST', path: ['api', 'approvals', ':id', 'deny'], access: 'token', query: [] },
  { name: 'approval-revoke', method: 'POST', path: ['api', 'approvals', ':id', 'revoke'], access: 'token', query: [] },
  { name: 'approval-wait', method: 'GET', path: ['api', 'approvals', ':id', 'wait'], access: 'token', query: ['timeout'] },
  // Agents ask with their own token; the connection's access list is checked per request (src/admin/access.ts).
  { name: 'access-requests', method: 'POST', path: ['api', 'access-requests'], access: 'token', query: [] },
  // Slack cannot send a bearer token: the handler verifies Slack's signature instead (src/notify/slack-interactions.ts).
  { name: 'slack-interactions', method: 'POST', path: ['api', 'slack', 'interactions'], access: 'signed', query: [] },
];

/** The methods a route answers: a GET route also answers HEAD (GET without the body). */
export function allowedMethods(route: Pick<Route, 'method'>): readonly string[] {
  return route.method === 'GET' ? ['GET', 'HEAD'] : ['POST'];
}

export type RouteMatch =
  | { readonly kind: 'matched'; readonly route: Route; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'not-found'; readonly message: string }
  | { readonly kind: 'method-not-allowed'; readonly allow: string; readonly message: string }
  | { readonly kind: 'bad-path'; readonly message: string };

/** `pathname` as sent (still percent-encoded), without the query string. */
export function matchRoute(method: string, pathname: string, routes: readonly Route[] = ROUTES): RouteMatch {
  const raw = pathname.split('/').slice(1);
  let segments: string[];
  try {
    segments = raw.map((segment) => decodeURIComponent(segment));
  } catch {
    return { kind: 'bad-path', message: `the path ${JSON.stringify(pathname)} has invalid percent-encoding; encode each segment with encodeURIComponent` };
  }
  for (const route of routes) {
    const params = matchPath(route.path, segments);
    if (params === undefined) continue;
    const allowed = allowedMethods(route);
    if (!allowed.includes(method)) {
      const what = route.method === 'GET' ? 'it is read-only' : 'it changes state';
      return {
        kind: 'method-not-allowed',
        allow: allowed.join(', '),
        message: `${method} is not allowed on ${pathname}: ${what}; use ${route.method}`,
      };
    }
    return { kind: 'matched', route, params };
  }
  return { kind: 'not-found', message: `no such endpoint: ${method} ${pathname}; the admin API serves ${describeRoutes(routes)}` };
}

function matchPath(pattern: readonly string[], segments: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i] as string;
    const got = segments[i] as string;
    if (want.startsWith(':')) {
      if (got === '') return undefined;
      params[want.slice(1)] = got;
    } else if (want !== got) {
      return undefined;
    }
  }
  return params;
}

function describeRoutes(routes: readonly Route[]): string {
  return routes.map((route) => `${route.method} /${route.path.join('/')}`).join(', ');
}

export type QueryCheck = { readonly ok: true; readonly values: ReadonlyMap<string, readonly string[]> } | { readonly ok: false; readonly message: string };

/** The query parameters, refusing unknown names and repeats of a single-valued one. */
export function checkQuery(route: Route, search: URLSearchParams): QueryCheck {
  const values = new Map<string, string[]>();
  for (const [name, value] of search) {
    if (!route.query.includes(name)) {
      const allowed = route.query.length === 0 ? 'it takes none' : `allowed: ${route.query.join(', ')}`;
      return { ok: false, message: `unknown query parameter ${JSON.stringify(name)} for /${route.path.join('/')} (${allowed})` };
    }
    const list = values.get(name) ?? [];
    list.push(value);
    values.set(name, list);
    if (list.length > 1 && !(route.repeatable ?? []).includes(name)) {
      return { ok: false, message: `query parameter ${JSON.stringify(name)} is given more than once; give it once` };
    }
  }
  return { ok: true, values };
}
