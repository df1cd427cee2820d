/**
 * A slow client through the gateway: it starts the large SELECT, reads part of it, then
 * stops reading for a while, then reads at a trickle, then resumes and cancels (or reads
 * to the end). A gateway that respects backpressure stops reading from PostgreSQL when its
 * client stops reading, so:
 *  - its RSS stays flat while the client is paused (it holds at most a few buffers), and
 *  - PostgreSQL's backend blocks writing the result (pg_stat_activity.wait_event =
 *    'ClientWrite', read directly as superuser), instead of streaming it into the gateway.
 * Each is measured, and the scenario lists what contradicts it as problems.
 */
import { processCpu, rssBytes } from '../support/process.js';
import { RssSampler, rssWindow } from './rss.js';
import type { QueryOutcome, WireClient } from './wire-client.js';

export interface BackpressureOptions {
  readonly client: WireClient;
  /** The large SELECT; must contain `backendMarker` (e.g. in a comment) so its backend can be found. */
  readonly sql: string;
  readonly backendMarker: string;
  /** A small read on the same connection afterwards, to show the session is still usable. */
  readonly probeSql: string;
  readonly gatewayPid: number;
  /** Runs SQL as the superuser, directly on PostgreSQL. */
  readonly superuserQuery: (sql: string, params: readonly unknown[]) => Promise<Array<Record<string, unknown>>>;
  /** Bytes to read before pausing. */
  readonly readBeforePause: number;
  readonly pauseSeconds: number;
  /** 0 skips the throttled phase. */
  readonly throttleSeconds: number;
  readonly throttleBytesPerSecond: number;
  readonly rssIntervalMs: number;
  /** Most the gateway's RSS may grow while the client is paused. */
  readonly growthBound: number;
  /** true: read the rest after resuming; false: cancel. */
  readonly finish: boolean;
  readonly markers: readonly string[];
  /**
   * Whether what is left of the result after the pause is more than the kernel's socket
   * buffers on both hops could hold (plus the RSS bound). If not, PostgreSQL may finish
   * sending into those buffers while the client is paused, so its not blocking (and a cancel
   * arriving after it finished) proves nothing: those checks become notes.
   */
  readonly resultOutlastsBuffers: boolean;
}

export interface WaitSamples {
  readonly total: number;
  readonly clientWrite: number;
  /** "type/event" (or state) → samples, for everything that was not ClientWrite. */
  readonly others: Readonly<Record<string, number>>;
}

export interface BackpressureResult {
  readonly rssIdle: number;
  readonly rssPeakBeforePause: number;
  readonly rssAtPause: number;
  readonly rssPeakPaused: number;
  readonly pausedGrowth: number;
  readonly bytesAtPause: number;
  /** Bytes the client took in during the pause (a paused client reads none). */
  readonly bytesWhilePaused: number;
  /** From pausing to PostgreSQL's backend first seen in ClientWrite. */
  readonly secondsToClientWrite: number | undefined;
  /** pg_stat_activity samples over the pause window, after the backend blocked. */
  readonly paused: WaitSamples;
  readonly pauseSeconds: number;
  readonly gatewayCpuMsPaused: number;
  readonly throttle:
    | {
        readonly seconds: number;
        readonly bytes: number;
        readonly rssAtStart: number;
        readonly rssPeak: number;
        readonly growth: number;
        readonly waits: WaitSamples;
        readonly gatewayCpuMs: number;
      }
    | undefined;
  /** Time to read 1 MB more once resumed (undefined if it did not, or the result had already ended). */
  readonly secondsToFlowAgain: number | undefined;
  /** The whole result had arrived before the client resumed (it fit in the buffers). */
  readonly endedBeforeResume: boolean;
  readonly ending: {
    readonly how: 'cancelled' | 'finished';
    readonly seconds: number;
    readonly errorCode: string | undefined;
    readonly outcome: QueryOutcome;
  };
  readonly sessionUsableAfter: boolean;
  readonly problems: readonly string[];
  /** Checks that could not judge, and why. */
  readonly notes: readonly string[];
  /** Gateway RSS samples across the whole scenario. */
  readonly peakRss: number;
}

const POLL_MS = 100;
const BLOCK_TIMEOUT_MS = 20_000;
const FLOW_BYTES = 1 << 20;
/** Share of the paused window's samples that must show the backend blocked in ClientWrite. */
const MIN_CLIENT_WRITE_SHARE = 0.9;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const now = (): number => performance.now();

export async function slowClient(o: BackpressureOptions): Promise<BackpressureResult> {
  const problems: string[] = [];
  const notes: string[] = [];
  // Checks that only hold when the result outlasts the kernel's buffers (see resultOutlastsBuffers).
  const whenLong = (problem: string): void => {
    if (o.resultOutlastsBuffers) problems.push(problem);
    else notes.push(`not judged (the result left after the pause fits in the kernel's socket buffers): ${problem}`);
  };
  const sampler = new RssSampler(() => rssBytes(o.gatewayPid), o.rssIntervalMs);
  const rssIdle = rssBytes(o.gatewayPid);
  sampler.start();
  try {
    const tStart = now();
    const running = o.client.start(o.sql, o.markers);
    // An early end (refused, disconnected, a result smaller than expected) must not wait for the byte count below.
    let outcomeError: unknown;
    let ended: QueryOutcome | undefined;
    running.done.then(
      (outcome) => (ended ??= outcome),
      (error: unknown) => (outcomeError = error),
    );
    await until(
      () => running.tally().bytes >= o.readBeforePause || outcomeError !== undefined || ended !== undefined,
      600_000,
      'the slow client to read its first bytes',
    );
    if (outcomeError !== undefined) throw outcomeError;
    if (ended !== undefined && ended.tally.bytes < o.readBeforePause) {
      throw new Error(
        `the slow client's SELECT ended after ${ended.tally.bytes} bytes, before the ${o.readBeforePause} it was to read before pausing: ` +
          (ended.error?.message ?? ended.tags.join(', ')),
      );
    }

    // -- paused
    o.client.pause();
    const tPause = now();
    const rssAtPause = rssBytes(o.gatewayPid);
    const bytesAtPause = running.tally().bytes;
    const backendState = async (): Promise<string> => {
      const rows = await o.superuserQuery(
        "SELECT state, coalesce(wait_event_type, '') AS type, coalesce(wait_event, '') AS event FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
        [`%${o.backendMarker}%`],
      );
      if (rows.length !== 1) return rows.length === 0 ? 'no backend' : `${rows.length} backends`;
      const r = rows[0]!;
      return r['event'] === 'ClientWrite' ? 'ClientWrite' : `${String(r['state'])} ${String(r['type'])}/${String(r['event'])}`;
    };
    let secondsToClientWrite: number | undefined;
    for (const deadline = now() + BLOCK_TIMEOUT_MS; now() < deadline; ) {
      if ((await backendState()) === 'ClientWrite') {
        secondsToClientWrite = (now() - tPause) / 1000;
        break;
      }
      await delay(POLL_MS);
    }
    if (secondsToClientWrite === undefined) {
      whenLong(
        `PostgreSQL's backend never blocked in ClientWrite within ${BLOCK_TIMEOUT_MS / 1000} s of the client pausing (last: ${await backendState()}): ` +
          'the gateway kept reading the result from PostgreSQL while its client read nothing',
      );
    }
    const cpuBefore = processCpu(o.gatewayPid);
    const paused = await sampleWaits(backendState, o.pauseSeconds * 1000);
    const cpuAfter = processCpu(o.gatewayPid);
    const tPausedEnd = now();
    const pausedRss = rssWindow(sampler.samples, tPause, tPausedEnd);
    const rssPeakPaused = Math.max(pausedRss.max, rssAtPause);
    const pausedGrowth = rssPeakPaused - rssAtPause;
    const bytesWhilePaused = running.tally().bytes - bytesAtPause;
    const gatewayCpuMsPaused = cpuAfter.userMs + cpuAfter.systemMs - cpuBefore.userMs - cpuBefore.systemMs;
    if (pausedGrowth > o.growthBound) {
      problems.push(
        `the gateway's RSS grew ${mbText(pausedGrowth)} while its client was paused (bound ${mbText(o.growthBound)}): it buffered the result instead of applying backpressure`,
      );
    }
    if (paused.total > 0 && paused.clientWrite / paused.total < MIN_CLIENT_WRITE_SHARE) {
      whenLong(
        `PostgreSQL's backend was in ClientWrite in only ${paused.clientWrite} of ${paused.total} samples while the client was paused ` +
          `(${JSON.stringify(paused.others)}): something kept reading the result`,
      );
    }
    // A paused socket can still deliver the chunk already read from the kernel; more means it did not pause.
    if (bytesWhilePaused > 1 << 20) problems.push(`the client took in ${bytesWhilePaused} bytes while "paused": the pause did not hold, the figures are void`);

    // -- throttled: reads at a trickle, the gateway must follow without piling up
    let throttle: BackpressureResult['throttle'];
    if (o.throttleSeconds > 0 && outcomeError === undefined && ended === undefined) {
      const tThrottle = now();
      const rssAtStart = rssBytes(o.gatewayPid);
      const bytesAtStart = running.tally().bytes;
      const cpu0 = processCpu(o.gatewayPid);
      const waits = sampleWaits(backendState, o.throttleSeconds * 1000);
      for (let t = now(); t - tThrottle < o.throttleSeconds * 1000; t = now()) {
        const allowed = ((t - tThrottle) / 1000) * o.throttleBytesPerSecond;
        if (running.tally().bytes - bytesAtStart < allowed) o.client.resume();
        else o.client.pause();
        await delay(20);
      }
      o.client.pause();
      const waitSamples = await waits;
      const cpu1 = processCpu(o.gatewayPid);
      const w = rssWindow(sampler.samples, tThrottle, now());
      const rssPeak = Math.max(w.max, rssAtStart);
      throttle = {
        seconds: (now() - tThrottle) / 1000,
        bytes: running.tally().bytes - bytesAtStart,
        rssAtStart,
        rssPeak,
        growth: rssPeak - rssAtStart,
        waits: waitSamples,
        gatewayCpuMs: cpu1.userMs + cpu1.systemMs - cpu0.userMs - cpu0.systemMs,
      };
      if (throttle.growth > o.growthBound) {
        problems.push(`the gateway's RSS grew ${mbText(throttle.growth)} while its client read at a trickle (bound ${mbText(o.growthBound)}): it buffered ahead of the client`);
      }
    }

    // -- resumed
    o.client.resume();
    const tResume = now();
    const bytesAtResume = running.tally().bytes;
    const endedBeforeResume = ended !== undefined;
    let secondsToFlowAgain: number | undefined;
    await until(() => running.tally().bytes - bytesAtResume >= FLOW_BYTES || outcomeError !== undefined || ended !== undefined, 30_000, 'the result to flow again').then(
      () => {
        if (running.tally().bytes - bytesAtResume >= FLOW_BYTES) secondsToFlowAgain = (now() - tResume) / 1000;
      },
      () => problems.push(`the result did not flow again within 30 s of the client resuming (${running.tally().bytes - bytesAtResume} bytes)`),
    );

    const tEnd = now();
    if (!o.finish) await o.client.cancel();
    const outcome = await running.done;
    const ending = {
      how: o.finish ? ('finished' as const) : ('cancelled' as const),
      seconds: (now() - tEnd) / 1000,
      errorCode: outcome.error?.code,
      outcome,
    };
    if (!o.finish && outcome.error?.code !== '57014') {
      whenLong(`the cancelled SELECT ended with ${outcome.error === undefined ? `no error (${outcome.tags.join(', ')})` : outcome.error.message}, expected SQLSTATE 57014 (query_canceled)`);
    }
    if (o.finish && outcome.error !== undefined) problems.push(`the slow client's SELECT failed: ${outcome.error.message}`);

    const probe = await o.client.query(o.probeSql);
    const sessionUsableAfter = probe.error === undefined && probe.tally.dataRows > 0;
    if (!sessionUsableAfter) problems.push(`the session was not usable after the slow read: ${probe.error?.message ?? `${probe.tally.dataRows} rows`}`);

    const all = sampler.stop();
    return {
      rssIdle,
      rssPeakBeforePause: rssWindow(all, tStart, tPause).max,
      rssAtPause,
      rssPeakPaused,
      pausedGrowth,
      bytesAtPause,
      bytesWhilePaused,
      secondsToClientWrite,
      paused,
      pauseSeconds: (tPausedEnd - tPause) / 1000,
      gatewayCpuMsPaused,
      throttle,
      secondsToFlowAgain,
      endedBeforeResume,
      ending,
      sessionUsableAfter,
      problems,
      notes,
      peakRss: rssWindow(all).max,
    };
  } finally {
    try {
      sampler.stop();
    } catch {
      // already reported, or the gateway died: the caller sees the run's own error
    }
    o.client.resume();
  }
}

/**
 * Most bytes the kernel may hold in flight between PostgreSQL and a paused client: on each
 * of the two TCP hops (PostgreSQL → gateway, gateway → client) a send buffer and a receive
 * buffer, each at most the tcp_wmem / tcp_rmem maximum (`min default max` in /proc).
 */
export function kernelBufferBytes(tcpRmem: string, tcpWmem: string): number {
  const max = (text: string): number => {
    const value = Number(text.trim().split(/\s+/)[2]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`cannot read a maximum from "${text.trim()}" (expected "min default max")`);
    return value;
  };
  return 2 * (max(tcpRmem) + max(tcpWmem));
}

async function sampleWaits(state: () => Promise<string>, ms: number): Promise<WaitSamples> {
  let total = 0;
  let clientWrite = 0;
  const others: Record<string, number> = {};
  for (const end = now() + ms; now() < end; ) {
    const s = await state();
    total++;
    if (s === 'ClientWrite') clientWrite++;
    else others[s] = (others[s] ?? 0) + 1;
    await delay(POLL_MS * 2.5);
  }
  return { total, clientWrite, others };
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!condition()) {
    if (now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(10);
  }
}

function mbText(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
