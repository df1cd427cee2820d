/** A peer broke the PostgreSQL wire protocol (malformed, truncated or oversized frame). */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    message: string,
    /** SQLSTATE to report where the protocol still allows an ErrorResponse. */
    readonly sqlState: string = '08P01',
  ) {
    super(message);
  }
}
