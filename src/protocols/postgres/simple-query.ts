/**
 * Reads the backend's answer to one simple-protocol Query the gateway sends on its own
 * behalf (not a client's): result rows in text format, then ReadyForQuery. Pure: frames
 * in, events out; the caller owns the socket.
 */
import { Be, parseErrorFields, parseReadyForQuery, parseRowDescriptionNames } from './codec.js';
import { ProtocolError } from './errors.js';

/** An ErrorResponse the target sent for the query. */
export interface QueryFailure {
  readonly sqlState: string;
  readonly message: string;
}

export type SimpleQueryEvent =
  /** One row of result set `result` (0-based, counting every statement that returned rows). */
  | { readonly kind: 'row'; readonly result: number; readonly values: readonly (string | null)[] }
  /** ReadyForQuery: the answer is complete; `failure` is set when a statement failed. */
  | { readonly kind: 'ready'; readonly failure: QueryFailure | undefined };

export class SimpleQueryResponse {
  private result = -1;
  private fieldCount = -1;
  private failure: QueryFailure | undefined;

  /** The event a frame produces, or null for frames that carry nothing for the caller. */
  accept(type: number, body: Buffer): SimpleQueryEvent | null {
    switch (type) {
      case Be.RowDescription:
        this.result++;
        this.fieldCount = parseRowDescriptionNames(body).length;
        return null;
      case Be.DataRow: {
        if (this.fieldCount < 0) throw new ProtocolError('DataRow without a RowDescription');
        const values = parseDataRowText(body);
        if (values.length !== this.fieldCount) {
          throw new ProtocolError(`DataRow has ${values.length} fields, its RowDescription ${this.fieldCount}`);
        }
        return { kind: 'row', result: this.result, values };
      }
      case Be.CommandComplete:
      case Be.EmptyQueryResponse:
        this.fieldCount = -1;
        return null;
      case Be.ErrorResponse: {
        // After an error the server skips the rest of the query string; only the first counts.
        const f = parseErrorFields(body);
        this.failure ??= { sqlState: f.get('C') ?? 'XX000', message: f.get('M') ?? 'the query failed' };
        return null;
      }
      // Asynchronous messages may arrive at any time (protocol §55.2.7); none matter here.
      case Be.NoticeResponse:
      case Be.ParameterStatus:
      case Be.NotificationResponse:
        return null;
      case Be.ReadyForQuery:
        parseReadyForQuery(body);
        return { kind: 'ready', failure: this.failure };
      default:
        throw new ProtocolError(`unexpected message 0x${type.toString(16)} in a query result`);
    }
  }
}

/** The fields of a text-format DataRow; null for SQL NULL. Bounds-checked. */
export function parseDataRowText(body: Buffer): (string | null)[] {
  if (body.length < 2) throw new ProtocolError('DataRow truncated');
  const count = body.readInt16BE(0);
  if (count < 0) throw new ProtocolError(`DataRow with negative field count ${count}`);
  const values: (string | null)[] = [];
  let pos = 2;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > body.length) throw new ProtocolError('DataRow truncated');
    const length = body.readInt32BE(pos);
    pos += 4;
    if (length === -1) {
      values.push(null);
      continue;
    }
    if (length < 0 || pos + length > body.length) throw new ProtocolError(`DataRow field length ${length} out of bounds`);
    values.push(body.toString('utf8', pos, pos + length));
    pos += length;
  }
  if (pos !== body.length) throw new ProtocolError('trailing bytes in DataRow');
  return values;
}
