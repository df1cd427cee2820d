/**
 * An SFTP status reply (SSH_FX_*), thrown by request handlers and turned into the status
 * packet the client gets: shared by the gateway's SFTP bridge and the built-in demo target.
 */
import ssh2 from 'ssh2';

/** SFTP v3 status codes, as ssh2 defines them. */
export const STATUS = ssh2.utils.sftp.STATUS_CODE;

export class SftpStatus extends Error {
  override readonly name = 'SftpStatus';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
