/**
 * The gateway's SSH host key: loaded from the configured file, or generated on first start
 * into the data directory (so agents' known_hosts entries stay valid across restarts), and
 * host key fingerprints as OpenSSH prints them.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';

export const DEFAULT_HOST_KEY_FILE = 'ssh_host_ed25519_key';

export class HostKeyError extends Error {
  override readonly name = 'HostKeyError';
}

export interface HostKey {
  /** The private key (OpenSSH or PEM text), for the SSH server. */
  readonly privateKey: string;
  /** `SHA256:…` of its public key. */
  readonly fingerprint: string;
  /** `ssh-ed25519 AAAA…`, for a known_hosts line. */
  readonly publicKey: string;
  readonly file: string;
  /** True when this start generated it. */
  readonly generated: boolean;
}

/** SHA-256 fingerprint of an SSH public key blob (wire format), as `ssh-keygen -lf` prints it. */
export function fingerprintOf(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Reads a host key file, or (only for the default file in the data directory) creates one. */
export function loadHostKey(dataDir: string, configuredFile: string | undefined): HostKey {
  const file = configuredFile ?? join(dataDir, DEFAULT_HOST_KEY_FILE);
  let generated = false;
  if (configuredFile === undefined && !existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'portcullis gateway host key' });
    // Written whole or not at all: a half-written key would change the fingerprint on the next start.
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, pair.private, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, file);
    writeFileSync(`${file}.pub`, `${pair.public}\n`, { mode: 0o644 });
    generated = true;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new HostKeyError(`cannot read the SSH host key ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error) throw new HostKeyError(`${file} is not a usable SSH private key: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || !key.isPrivateKey()) throw new HostKeyError(`${file} holds no SSH private key`);
  const blob = key.getPublicSSH();
  return {
    privateKey: text,
    fingerprint: fingerprintOf(blob),
    publicKey: `${key.type} ${blob.toString('base64')}`,
    file,
    generated,
  };
}
