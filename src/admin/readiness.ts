/**
 * /readyz: the gateway is ready when every check passes. Each check answers with nothing
 * (ready) or the reason it is not; a check that does not answer in time counts as not ready,
 * so a wedged component fails the probe instead of hanging it.
 */

export interface ReadinessCheck {
  readonly name: string;
  /** undefined when ready, else why not (for the operator reading the probe's body). */
  check(): Promise<string | undefined> | string | undefined;
}

export interface ReadinessReport {
  readonly ready: boolean;
  /** `ok`, or the reason, by check name. */
  readonly checks: Readonly<Record<string, string>>;
}

export const CHECK_TIMEOUT_MS = 2000;

export async function evaluateReadiness(checks: readonly ReadinessCheck[], timeoutMs = CHECK_TIMEOUT_MS): Promise<ReadinessReport> {
  const results = await Promise.all(checks.map(async (check) => [check.name, await runCheck(check, timeoutMs)] as const));
  return {
    ready: results.every(([, reason]) => reason === undefined),
    checks: Object.fromEntries(results.map(([name, reason]) => [name, reason ?? 'ok'])),
  };
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`did not answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => check.check()), timeout]);
  } catch (error) {
    return `check failed: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    clearTimeout(timer);
  }
}
