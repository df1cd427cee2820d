/**
 * The checkpoint signing key: Ed25519, PKCS#8 PEM at `<dataDir>/audit-signing-key.pem`
 * (mode 0600), generated at the gateway's first start.
 *
 * Whoever can read this file can sign checkpoints. That is why verification should use a
 * public key exported earlier (`portcullis audit pubkey`) and kept elsewhere: the copy in the
 * data directory can be replaced along with the database.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecorderError } from './recorder.js';
import type { KeyStore } from './store.js';

export const SIGNING_KEY_FILE = 'audit-signing-key.pem';

export class FileKeyStore implements KeyStore {
  private constructor(
    readonly file: string,
    private readonly privateKey: KeyObject,
    private readonly publicKeyObject: KeyObject,
  ) {}

  /** Loads the key, generating it (exclusively, mode 0600) when the file does not exist yet. */
  static openOrCreate(dataDir: string): FileKeyStore {
    const file = join(dataDir, SIGNING_KEY_FILE);
    if (existsSync(file)) return FileKeyStore.open(dataDir);
    try {
      const { privateKey } = generateKeyPairSync('ed25519');
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new RecorderError(`cannot create the audit signing key ${file}: ${(error as Error).message}`, { cause: error });
      }
    }
    return FileKeyStore.open(dataDir);
  }

  /** Loads an existing key; throws RecorderError when there is none or it is not an Ed25519 private key. */
  static open(dataDir: string): FileKeyStore {
    const file = join(dataDir, SIGNING_KEY_FILE);
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new RecorderError(
        missing
          ? `no audit signing key at ${file}: the gateway creates it at its first start (is the data directory right?)`
          : `cannot read the audit signing key ${file}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(pem);
    } catch (error) {
      throw new RecorderError(`${file} does not hold a PEM private key: ${(error as Error).message}`, { cause: error });
    }
    if (privateKey.asymmetricKeyType !== 'ed25519') {
      throw new RecorderError(`${file} holds a ${privateKey.asymmetricKeyType ?? 'non-asymmetric'} key; the audit signing key must be Ed25519`);
    }
    return new FileKeyStore(file, privateKey, createPublicKey(privateKey));
  }

  signingKey(): KeyObject {
    return this.privateKey;
  }

  publicKey(): KeyObject {
    return this.publicKeyObject;
  }
}

/** SPKI PEM of a public key (what `portcullis audit pubkey` prints). */
export function publicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }) as string;
}

/** Parses a PEM public key given to a verifier; throws RecorderError unless it is Ed25519. */
export function parsePublicKey(pem: string, source: string): KeyObject {
  // createPublicKey would derive a public key from a private one: refuse instead, so that a
  // private key is never copied around for verification.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new RecorderError(`${source} holds a private key; give the public key (portcullis audit pubkey prints it)`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new RecorderError(`${source} does not hold a PEM public key: ${(error as Error).message}`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new RecorderError(`${source} holds a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; the audit signing key is Ed25519`);
  }
  return key;
}
