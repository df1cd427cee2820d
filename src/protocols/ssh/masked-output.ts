/**
 * One output stream of a command or shell (stdout or stderr) on its way to the agent: masked
 * as a stream (a value split across chunks is still seen whole) and counted. Output held back
 * for the rest of a possible value is released once the stream has been quiet for `flushMs`,
 * and at most MAX_DELAY_FLUSHES × `flushMs` after it was first held, so interactive output is
 * never delayed longer than that.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { StreamMasker } from '../../masking/stream-masker.js';

/** Held output is released at the latest this many flush intervals after it was first held. */
const MAX_DELAY_FLUSHES = 4;

export class MaskedOutput extends Transform {
  /** Bytes passed to the agent (after masking). */
  bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private heldSince: number | undefined;

  constructor(
    private readonly masker: StreamMasker | undefined,
    private readonly flushMs: number,
    /** Sees every chunk the agent gets (for the recording). */
    private readonly tap?: (chunk: Buffer) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.masker === undefined) {
      this.pass(chunk);
      return callback();
    }
    this.pass(this.masker.push(chunk));
    if (this.masker.held === 0) this.heldSince = undefined;
    else {
      // Flushed once output pauses, so a value arriving in pieces is released whole; but never
      // later than MAX_DELAY_FLUSHES intervals after the first byte was held (a trickling progress bar).
      const now = Date.now();
      this.heldSince ??= now;
      const deadline = this.heldSince + this.flushMs * MAX_DELAY_FLUSHES;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.release(), Math.max(0, Math.min(this.flushMs, deadline - now)));
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.release();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    callback(error);
  }

  private release(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.heldSince = undefined;
    if (this.masker !== undefined && !this.destroyed) this.pass(this.masker.flush());
  }

  private pass(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.bytes += chunk.length;
    this.tap?.(chunk);
    this.push(chunk);
  }
}
