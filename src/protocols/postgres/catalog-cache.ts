/**
 * One connection's catalog snapshot, shared by all its sessions: loaded on first use,
 * reused while young, reloaded by at most one caller at a time. Sessions that meet a
 * relation the snapshot does not know (created since) ask for a refresh; the rate limit
 * keeps an agent from turning that into a stream of catalog queries against the target.
 */
import type { Catalog } from '../../masking/catalog.js';
import { CatalogError, loadCatalog, type CatalogLoadOptions, type CatalogSource } from './catalog-loader.js';

export interface CatalogCacheOptions {
  /** A snapshot younger than this (from when its load began) is served as is. Default 30 s. */
  readonly maxAgeMs?: number;
  /** refresh() reloads only when the snapshot is at least this old. Default 1 s. */
  readonly minRefreshIntervalMs?: number;
  /** Monotonic milliseconds; injectable for tests. */
  readonly now?: () => number;
}

export const DEFAULT_CATALOG_MAX_AGE_MS = 30_000;
export const DEFAULT_CATALOG_MIN_REFRESH_INTERVAL_MS = 1_000;

interface Snapshot {
  readonly catalog: Catalog;
  /** When the load that produced it began: the catalog may have changed from then on. */
  readonly loadedAt: number;
}

export class CatalogCache {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Catalog> | undefined;
  private closed = false;
  private readonly maxAgeMs: number;
  private readonly minRefreshIntervalMs: number;
  private readonly now: () => number;

  constructor(
    readonly connection: string,
    private readonly load: () => Promise<Catalog>,
    options: CatalogCacheOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_CATALOG_MAX_AGE_MS;
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? DEFAULT_CATALOG_MIN_REFRESH_INTERVAL_MS;
    this.now = options.now ?? (() => performance.now());
  }

  /** The snapshot, loading it when there is none or it is older than maxAgeMs. A failed load rejects and is not cached. */
  get(): Promise<Catalog> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.snapshot && this.now() - this.snapshot.loadedAt < this.maxAgeMs) return Promise.resolve(this.snapshot.catalog);
    return this.reload();
  }

  /** A reloaded snapshot, unless one is loading (joined) or the current one is younger than minRefreshIntervalMs (served). */
  refresh(): Promise<Catalog> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.loading) return this.loading;
    if (this.snapshot && this.now() - this.snapshot.loadedAt < this.minRefreshIntervalMs) return Promise.resolve(this.snapshot.catalog);
    return this.reload();
  }

  /** The snapshot held now, however old; never loads. */
  current(): Catalog | undefined {
    return this.snapshot?.catalog;
  }

  /** No further loads; a load in flight still answers its callers but is not kept. */
  close(): void {
    this.closed = true;
    this.snapshot = undefined;
  }

  private reload(): Promise<Catalog> {
    if (this.loading) return this.loading;
    const startedAt = this.now();
    // Started from a resolved promise so that even a loader that throws synchronously clears `loading`.
    const loading = Promise.resolve()
      .then(() => this.load())
      .then((catalog) => {
        if (!this.closed) this.snapshot = { catalog, loadedAt: startedAt };
        return catalog;
      })
      .finally(() => {
        if (this.loading === loading) this.loading = undefined;
      });
    this.loading = loading;
    return loading;
  }

  private closedError(): CatalogError {
    return new CatalogError(this.connection, 'closed', 'its catalog cache is closed (gateway shutting down or connection removed)');
  }
}

/** The cache a configured connection uses: loads with loadCatalog. */
export function catalogCacheFor(
  connection: CatalogSource,
  loadOptions: CatalogLoadOptions,
  cacheOptions: CatalogCacheOptions = {},
): CatalogCache {
  return new CatalogCache(connection.name, () => loadCatalog(connection, loadOptions), cacheOptions);
}
