import { randomBytes, timingSafeEqual } from 'node:crypto';

export interface Cancellable {
  /** Forward a cancel to the upstream backend serving this session. */
  cancelUpstream(): void;
}

/**
 * Portcullis hands clients its own BackendKeyData, so a client never learns (or can
 * guess) the target's backend keys; CancelRequests are routed through here.
 */
export class CancelRegistry {
  private readonly sessions = new Map<number, { key: Buffer; session: Cancellable }>();

  issue(session: Cancellable): { processId: number; secretKey: Buffer } {
    let processId: number;
    do processId = randomBytes(4).readUInt32BE(0) & 0x7fffffff;
    while (processId === 0 || this.sessions.has(processId));
    const secretKey = randomBytes(4);
    this.sessions.set(processId, { key: secretKey, session });
    return { processId, secretKey };
  }

  release(processId: number): void {
    this.sessions.delete(processId);
  }

  /** True when the key matched a live session and the cancel was forwarded. */
  cancel(processId: number, secretKey: Buffer): boolean {
    const entry = this.sessions.get(processId);
    if (!entry || entry.key.length !== secretKey.length || !timingSafeEqual(entry.key, secretKey)) return false;
    entry.session.cancelUpstream();
    return true;
  }
}
