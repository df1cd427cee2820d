/**
 * Token verification as Prometheus series: the TokenVerifier's observer (it knows nothing of
 * Prometheus). Every series is created up front — one per outcome, refusal code and
 * configured issuer — so a connection's call is one property read and one addition.
 */
import { TOKEN_ERROR_CODES, type TokenErrorCode } from '../identity/errors.js';
import type { VerifierObserver } from '../identity/verifier.js';
import { CounterFamily, HistogramFamily, type CounterChild, type HistogramChild, type Registry } from './prometheus-text.js';

/** From a cached-key signature check (~0.1 ms) to waiting out an issuer's slow discovery and JWKS. */
export const TOKEN_VERIFICATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface KeyLoadSeries {
  readonly ok: CounterChild;
  readonly failed: CounterChild;
}

export class TokenMetrics implements VerifierObserver {
  private readonly cached: CounterChild;
  private readonly sharedInFlight: CounterChild;
  private readonly accepted: CounterChild;
  private readonly refusedBy: Readonly<Record<TokenErrorCode, CounterChild>>;
  private readonly duration: HistogramChild;
  private readonly keyLoads: CounterFamily;
  private readonly keyLoadsByIssuer = new Map<string, KeyLoadSeries>();

  /** `issuers`: the configured issuers, so their key-load series exist from the start. */
  constructor(registry: Registry, issuers: readonly string[]) {
    const verifications = registry.register(
      new CounterFamily(
        'portcullis_token_verifications_total',
        'Access tokens presented, by result (cached, shared in-flight, verified, refused) and refusal reason.',
        ['result', 'reason'],
      ),
    );
    this.cached = verifications.labels('cached', '');
    this.sharedInFlight = verifications.labels('shared', '');
    this.accepted = verifications.labels('verified', '');
    this.refusedBy = Object.fromEntries(TOKEN_ERROR_CODES.map((code) => [code, verifications.labels('refused', code)])) as Record<TokenErrorCode, CounterChild>;
    this.duration = registry
      .register(
        new HistogramFamily(
          'portcullis_token_verification_duration_seconds',
          'Time to fully verify an accepted access token (signature and claims, waiting for the issuer\'s keys included).',
          [],
          TOKEN_VERIFICATION_BUCKETS,
        ),
      )
      .labels();
    this.keyLoads = registry.register(
      new CounterFamily('portcullis_issuer_key_loads_total', 'Issuer signing-key loads (discovery when needed, then JWKS), by issuer and result.', ['issuer', 'result']),
    );
    for (const issuer of issuers) this.keyLoadSeries(issuer);
  }

  cacheHit(): void {
    this.cached.inc();
  }

  shared(): void {
    this.sharedInFlight.inc();
  }

  verified(seconds: number): void {
    this.accepted.inc();
    this.duration.observe(seconds);
  }

  refused(code: TokenErrorCode): void {
    this.refusedBy[code]?.inc();
  }

  keysLoaded(issuer: string, ok: boolean): void {
    const series = this.keyLoadSeries(issuer);
    (ok ? series.ok : series.failed).inc();
  }

  /** Issuers are fixed by the configuration (the verifier has a key source for those only): this cannot grow unbounded. */
  private keyLoadSeries(issuer: string): KeyLoadSeries {
    let series = this.keyLoadsByIssuer.get(issuer);
    if (series === undefined) {
      series = { ok: this.keyLoads.labels(issuer, 'ok'), failed: this.keyLoads.labels(issuer, 'failed') };
      this.keyLoadsByIssuer.set(issuer, series);
    }
    return series;
  }
}
