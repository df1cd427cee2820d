import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Identity } from '../../../src/identity/identity.js';
import { silentLogger } from '../../../src/log.js';
import type { OutcomeEvent, Recorder } from '../../../src/recording/recorder.js';
import { OUTCOME_FLUSH_CHARS, OUTCOME_FLUSH_MS, SessionRecording } from '../../../src/recording/session-recording.js';

/** A recorder that only notes the outcomes it is given. */
function notingRecorder(): { recorder: Recorder; outcomes: OutcomeEvent[] } {
  const outcomes: OutcomeEvent[] = [];
  const recorder: Recorder = {
    sessionStarted: () => undefined,
    operation: () => 2,
    outcome: (event) => void outcomes.push(event),
    terminal: () => undefined,
    sessionEnded: () => undefined,
    authFailure: () => undefined,
    approvalEvent: () => undefined,
    whenDurable: (callback) => callback(true),
    close: () => undefined,
  };
  return { recorder, outcomes };
}

const IDENTITY: Identity = { subject: 'agent-1', clientId: undefined, groups: [], scopes: [], issuer: 'https://idp', expiresAt: 0 };

function started(recorder: Recorder): SessionRecording {
  const recording = new SessionRecording(recorder, 's-1', silentLogger);
  recording.start('demo', IDENTITY, '127.0.0.1:5000', false);
  return recording;
}

describe('SessionRecording: outcomes with result rows', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('passes the rows on unchanged, after OUTCOME_FLUSH_MS like any outcome', () => {
    const { recorder, outcomes } = notingRecorder();
    const recording = started(recorder);
    const resultRows = [['1', null, { base64: 'AAE=' }], ['2', { text: 'ab', totalChars: 9 }, { base64: 'AA==', totalBytes: 700 }]];
    recording.outcome({ operationSeq: 2, rows: 2, columns: ['a', 'b', 'c'], resultRows, durationMs: 1 });
    expect(outcomes).toEqual([]);
    vi.advanceTimersByTime(OUTCOME_FLUSH_MS);
    expect(outcomes).toEqual([{ sessionId: 's-1', operationSeq: 2, rows: 2, columns: ['a', 'b', 'c'], resultRows, durationMs: 1 }]);
  });

  it('writes waiting outcomes at once when their rows reach OUTCOME_FLUSH_CHARS, so a pipeline of samples does not pile up', () => {
    const { recorder, outcomes } = notingRecorder();
    const recording = started(recorder);
    const half = [['x'.repeat(OUTCOME_FLUSH_CHARS / 2 - 1)]];
    recording.outcome({ operationSeq: 2, rows: 1, resultRows: half, durationMs: 1 });
    recording.outcome({ operationSeq: 2, rows: 1, resultRows: half, durationMs: 1 });
    expect(outcomes).toHaveLength(0); // two characters short
    recording.outcome({ operationSeq: 2, rows: 1, resultRows: [['xx']], durationMs: 1 });
    expect(outcomes).toHaveLength(3);
    // The count starts again after a write.
    recording.outcome({ operationSeq: 2, rows: 1, resultRows: half, durationMs: 1 });
    expect(outcomes).toHaveLength(3);
    vi.advanceTimersByTime(OUTCOME_FLUSH_MS);
    expect(outcomes).toHaveLength(4);
  });

  it('writes each outcome within OUTCOME_FLUSH_MS with one timer per interval, not one per statement', () => {
    const { recorder, outcomes } = notingRecorder();
    const recording = started(recorder);
    const timers = vi.getTimerCount();
    recording.outcome({ operationSeq: 2, rows: 1, durationMs: 1 });
    // The next statement writes it; the timer stays armed for the outcomes that follow.
    recording.operation({ kind: 'sql', connection: { name: 'demo', type: 'postgres' }, text: 'SELECT 2', via: 'simple-query' }, { effect: 'allow', rule: 'r', reason: 'ok' });
    expect(outcomes).toHaveLength(1);
    vi.advanceTimersByTime(OUTCOME_FLUSH_MS / 2);
    for (let n = 0; n < 20; n++) recording.outcome({ operationSeq: 2, rows: 1, durationMs: 1 });
    expect(vi.getTimerCount()).toBe(timers + 1);
    // Written OUTCOME_FLUSH_MS after the first outcome: never later than OUTCOME_FLUSH_MS after any of them.
    vi.advanceTimersByTime(OUTCOME_FLUSH_MS / 2);
    expect(outcomes).toHaveLength(21);
    recording.outcome({ operationSeq: 2, rows: 1, durationMs: 1 });
    recording.end('client', 'bye');
    expect(outcomes).toHaveLength(22);
    expect(vi.getTimerCount()).toBe(timers);
  });
});
