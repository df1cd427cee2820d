/** Approval services over real SQLite files in temp dirs, with fake timers driving both the clock and the deadlines. */
import { afterEach, beforeEach, expect, vi } from 'vitest';
import { operationHash } from '../../../src/approvals/binding.js';
import type { ApprovalAuditEvent } from '../../../src/approvals/events.js';
import type { ReviewGrant } from '../../../src/config/types.js';
import { createApprovalService, type ApprovalServiceOptions } from '../../../src/approvals/service.js';
import { ApprovalError, type ApprovalRequest, type ApprovalService, type NewApprovalRequest } from '../../../src/approvals/types.js';
import type { Identity } from '../../../src/identity/identity.js';
import type { RecordedParameter } from '../../../src/recording/recorder.js';

export { identity } from '../policy/support.js';
import { removeTempDirs, tempDataDir } from '../recording/support.js';

export { removeTempDirs, tempDataDir };

/** 2025-01-01T00:00:00Z: where the fake clock starts. */
export const T0 = Date.UTC(2025, 0, 1);
export const TIMEOUT_MS = 5 * 60_000;
export const GRANT_TTL_MS = 15 * 60_000;
/** `grant: 30m`. */
export const WINDOW_30M: ReviewGrant = { kind: 'window', durationMs: 30 * 60_000 };

export interface RequestSpec extends Partial<Omit<NewApprovalRequest, 'review' | 'operationHash'>> {
  readonly approvers?: readonly string[];
  readonly minApprovals?: number;
  readonly timeoutMs?: number;
  /** Default: once, redeemable for GRANT_TTL_MS. */
  readonly grant?: ReviewGrant;
}

/** The defaults of `newRequest`: agent-1 (client ci-bot) runs a write on prod-db that rule writes-need-approval reviews. */
export const HELD = {
  subject: 'agent-1',
  clientId: 'ci-bot',
  connection: 'prod-db',
  rule: 'writes-need-approval',
  text: 'DELETE FROM orders WHERE id = $1',
  parameters: ['7'],
  sessionId: 'sess-1',
} as const;

/** What a front door asks for when it holds an operation (`HELD`, unless `spec` says otherwise). */
export function newRequest(spec: RequestSpec = {}): NewApprovalRequest {
  const text = spec.text ?? HELD.text;
  const parameters: readonly RecordedParameter[] | undefined = 'parameters' in spec ? spec.parameters : HELD.parameters;
  return {
    subject: spec.subject ?? HELD.subject,
    clientId: 'clientId' in spec ? spec.clientId : HELD.clientId,
    connection: spec.connection ?? HELD.connection,
    rule: spec.rule ?? HELD.rule,
    operationHash: operationHash(text, parameters),
    groups: spec.groups ?? ['agents'],
    text,
    parameters,
    sessionId: spec.sessionId ?? HELD.sessionId,
    reason: spec.reason ?? 'writes to orders need approval',
    review: {
      approvers: spec.approvers ?? ['dba'],
      minApprovals: spec.minApprovals ?? 1,
      timeoutMs: spec.timeoutMs ?? TIMEOUT_MS,
      grant: spec.grant ?? { kind: 'once', ttlMs: GRANT_TTL_MS },
    },
  };
}

export interface OpenedService {
  service: ApprovalService;
  events: ApprovalAuditEvent[];
  kinds: () => string[];
}

/** A service on `dataDir` whose audit steps are collected in `events`. */
export function openService(dataDir: string, options: Partial<ApprovalServiceOptions> = {}): OpenedService {
  const events: ApprovalAuditEvent[] = [];
  const service = createApprovalService({ dataDir, audit: (event) => void events.push(event), ...options });
  return { service, events, kinds: () => events.map((event) => `${event.kind} ${event.request.id}`) };
}

export interface ServiceFixture {
  /** This test's service. */
  readonly current: OpenedService;
  /** Closes `current` and replaces it with a service with these options, on a new data dir. */
  reopen(options: Partial<ApprovalServiceOptions>): OpenedService;
}

/**
 * Registers hooks giving each test fake timers at T0 and a service of its own on a new data
 * dir (`current`, closed after the test).
 */
export function serviceEachTest(): ServiceFixture {
  const fixture = {
    current: undefined as unknown as OpenedService,
    reopen(options: Partial<ApprovalServiceOptions>): OpenedService {
      fixture.current.service.close();
      fixture.current = openService(tempDataDir(), options);
      return fixture.current;
    },
  };
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    fixture.current = openService(tempDataDir());
  });
  afterEach(() => {
    fixture.current.service.close();
    vi.useRealTimers();
  });
  return fixture;
}

/** A request (`newRequest(spec)`) approved by `approver`. */
export function approvedRequest(service: ApprovalService, approver: Identity, spec: RequestSpec = {}): ApprovalRequest {
  return service.decide(service.request(newRequest(spec)).id, approver, 'approve', 'ok');
}

/** Runs `fn` and returns the ApprovalError it must throw. */
export function refusal(fn: () => unknown): ApprovalError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ApprovalError);
    return error as ApprovalError;
  }
  throw new Error('expected an ApprovalError');
}

/** Whether a promise has settled yet (after letting pending microtasks run). */
export async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
}
