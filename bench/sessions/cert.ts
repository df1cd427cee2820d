/**
 * A throwaway self-signed server certificate for the gateway's TLS listener. node:crypto
 * cannot issue X.509 certificates, so `openssl req -x509` makes it (the embedded
 * PostgreSQL demo does the same); the storm clients pin it as their only CA and verify it.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../support/process.js';

export interface SelfSignedCert {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  /** e.g. "ECDSA P-256, CN=localhost, SAN IP:127.0.0.1" — for the report. */
  readonly description: string;
  readonly command: string;
}

const SUBJECT_ALT_NAME = 'subjectAltName=DNS:localhost,IP:127.0.0.1';

export async function selfSignedCert(dir: string): Promise<SelfSignedCert> {
  const certFile = path.join(dir, 'gateway-tls.crt');
  const keyFile = path.join(dir, 'gateway-tls.key');
  // ECDSA P-256: the common choice for a server key today, and cheap to handshake with.
  const args = [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', '/CN=localhost', '-addext', SUBJECT_ALT_NAME, '-days', '2',
    '-keyout', keyFile, '-out', certFile,
  ];
  const result = await run('openssl', args);
  if (result.code !== 0) throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed (${result.code ?? result.signal}): ${result.stderr.trim()}`);
  const certPem = readFileSync(certFile, 'utf8');
  const cert = new X509Certificate(certPem);
  // The storm clients connect to 127.0.0.1 and verify the name: fail here, not 1,000 times there.
  if (cert.checkIP('127.0.0.1') === undefined) throw new Error(`the generated certificate does not cover IP 127.0.0.1 (SAN: ${cert.subjectAltName ?? 'none'})`);
  const key = cert.publicKey.asymmetricKeyDetails;
  return {
    certFile,
    keyFile,
    certPem,
    description: `${cert.publicKey.asymmetricKeyType === 'ec' ? `ECDSA ${key?.namedCurve ?? ''}` : (cert.publicKey.asymmetricKeyType ?? '?')}, ${cert.subject.replace(/\n/g, ', ')}, SAN ${cert.subjectAltName ?? 'none'}`,
    command: `openssl ${args.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ')}`,
  };
}
