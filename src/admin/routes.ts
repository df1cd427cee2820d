/**
 * The admin API's routes and the pure matcher from (method, path) to a route. Everything the
 * server does per request starts from this table: who may call a route, which query
 * parameters it accepts, what a 404/405 says.
 */

export type RouteName = 'healthz' | 'readyz' | 'metrics' | 'sessions' | 'session' | 'session-events' | 'audit-verify';

/**
 * `public`: no token (probes and scrapers); `auditor`: a token in an auditors or admins group;
 * `admin`: a token in an admins group (no route needs it yet: everything today is read-only).
 */
export type Access = 'public' | 'auditor' | 'admin';

export interface Route {
  readonly name: RouteName;
  /** Path segments; `:name` captures one (percent-decoded) segment. */
  readonly path: readonly string[];
  readonly access: Access;
  /** Query parameters accepted; any other is refused (a typo would otherwise be silently ignored). */
  readonly query: readonly string[];
  /** Query parameters that may be given more than once. */
  readonly repeatable?: readonly string[];
}

export const ROUTES: readonly Route[] = [
  { name: 'healthz', path: ['healthz'], access: 'public', query: [] },
  { name: 'readyz', path: ['readyz'], access: 'public', query: [] },
  { name: 'metrics', path: ['metrics'], access: 'public', query: [] },
  { name: 'sessions', path: ['api', 'sessions'], access: 'auditor', query: ['connection', 'subject', 'since', 'decision', 'limit'] },
  { name: 'session', path: ['api', 'sessions', ':id'], access: 'auditor', query: [] },
  { name: 'session-events', path: ['api', 'sessions', ':id', 'events'], access: 'auditor', query: ['after', 'limit'] },
  { name: 'audit-verify', path: ['api', 'audit', 'verify'], access: 'auditor', query: ['anchor'], repeatable: ['anchor'] },
];

/** The API is read-only: HEAD is GET without the body. */
export const ALLOWED_METHODS = ['GET', 'HEAD'] as const;

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
    if (!(ALLOWED_METHODS as readonly string[]).includes(method)) {
      return {
        kind: 'method-not-allowed',
        allow: ALLOWED_METHODS.join(', '),
        message: `${method} is not allowed on ${pathname}: the admin API is read-only; use GET`,
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
  return routes.map((route) => `GET /${route.path.join('/')}`).join(', ');
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
