/**
 * What the SFTP bridge (sftp-bridge.ts) decides with, computed without I/O: the absolute,
 * normalized path a request names, the file action an OPEN amounts to, the gateway's own
 * handle strings, and the arguments of the one extended request it understands.
 */
import path from 'node:path';
import ssh2 from 'ssh2';

export class SftpPathError extends Error {
  override readonly name = 'SftpPathError';
}

/** SFTP v3 open flags (SSH_FXF_*), as ssh2 defines them. */
export const OPEN_FLAG = ssh2.utils.sftp.OPEN_MODE;

/** Any of these can change the file, so opening with one is a `write` (even together with READ). */
const MODIFYING = OPEN_FLAG.WRITE | OPEN_FLAG.APPEND | OPEN_FLAG.CREAT | OPEN_FLAG.TRUNC;

export function openAction(flags: number): 'read' | 'write' {
  return (flags & MODIFYING) !== 0 ? 'write' : 'read';
}

/**
 * The absolute, normalized form of a path the agent sent: relative paths are taken from the
 * target user's home (as an SFTP server does), `.`/`..` and repeated or trailing slashes are
 * resolved lexically, so `..` can never climb out of what the gate was shown. Throws
 * `SftpPathError` for a NUL byte, which the target's C code would cut the path at.
 */
export function resolveAgentPath(home: string, requested: string): string {
  if (requested.includes('\0')) throw new SftpPathError('the path contains a NUL byte');
  const joined = requested.startsWith('/') ? requested : `${home.startsWith('/') ? home : `/${home}`}/${requested}`;
  const normalized = path.posix.normalize(joined);
  // normalize keeps one trailing slash and, on POSIX, never a leading "//" beyond the root.
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/** Where a symbolic link at `linkPath` (already resolved) would point: relative targets start from the link's directory. */
export function resolveLinkTarget(linkPath: string, target: string): string {
  return resolveAgentPath(path.posix.dirname(linkPath), target);
}

/** The gateway's handles are 4-byte big-endian counters; the target's own handles never reach the agent. */
export const HANDLE_BYTES = 4;

export function encodeHandle(id: number): Buffer {
  const handle = Buffer.alloc(HANDLE_BYTES);
  handle.writeUInt32BE(id >>> 0, 0);
  return handle;
}

/** The counter in a handle the agent sent, or undefined when it is not one of the gateway's shape. */
export function decodeHandle(handle: Buffer): number | undefined {
  return handle.length === HANDLE_BYTES ? handle.readUInt32BE(0) : undefined;
}

/**
 * The two paths of a `posix-rename@openssh.com` request's data (two SSH strings: old path,
 * new path), or undefined when the data is not exactly that.
 */
export function parsePathPair(data: Buffer | undefined): { from: string; to: string } | undefined {
  if (data === undefined) return undefined;
  const strings: string[] = [];
  let offset = 0;
  while (strings.length < 2) {
    if (offset + 4 > data.length) return undefined;
    const length = data.readUInt32BE(offset);
    offset += 4;
    if (length > data.length - offset) return undefined;
    strings.push(data.toString('utf8', offset, offset + length));
    offset += length;
  }
  if (offset !== data.length) return undefined;
  return { from: strings[0] ?? '', to: strings[1] ?? '' };
}
