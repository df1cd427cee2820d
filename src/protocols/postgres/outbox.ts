import type { Writable } from 'node:stream';

/**
 * Collects the frames to send for one incoming chunk and writes them with as few
 * writes as possible: frames that were adjacent in the received bytes are sent as one
 * view, so an unmodified chunk goes out as a single zero-copy write; many separate frames
 * are copied into one.
 */
/** Above this many parts a flush copies them into one buffer. */
const MAX_SEPARATE_WRITES = 4;

export class Outbox {
  private parts: Buffer[] = [];

  add(b: Buffer): void {
    const n = this.parts.length;
    if (n > 0) {
      const last = this.parts[n - 1]!;
      if (last.buffer === b.buffer && last.byteOffset + last.length === b.byteOffset) {
        this.parts[n - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + b.length);
        return;
      }
    }
    this.parts.push(b);
  }

  get isEmpty(): boolean {
    return this.parts.length === 0;
  }

  /** Writes and clears; returns false when the destination asked us to wait for 'drain'. */
  flushTo(dest: Writable): boolean {
    const parts = this.parts;
    if (parts.length === 0) return true;
    this.parts = [];
    if (parts.length === 1) return dest.write(parts[0]);
    // Many parts (e.g. rebuilt, masked rows): one copy costs less than a stream write each.
    if (parts.length > MAX_SEPARATE_WRITES) return dest.write(Buffer.concat(parts));
    dest.cork();
    let ok = true;
    for (const p of parts) ok = dest.write(p);
    dest.uncork();
    return ok;
  }
}
