/** `portcullis ssh host-key`, and the SSH lines of `config check`. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../../src/protocols/ssh/host-key.js';
import { removeTempDirs, tempDir } from '../config/support.js';
import { runCli } from './run-cli.js';

afterAll(removeTempDirs);

const CONFIG = `data_dir: ./data
identity:
  issuers:
    - issuer: http://127.0.0.1:9000
      audience: portcullis
listen:
  ssh: { address: 127.0.0.1:2222 }
connections:
  - name: box
    type: ssh
    target:
      host: 10.0.0.5
      user: deploy
      private_key: \${env:BOX_KEY}
      host_key: SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8
    access: { groups: [agents] }
`;

describe('portcullis ssh host-key', () => {
  it('generates the host key on first use, then prints the same fingerprint every time', async () => {
    const dir = tempDir({ 'portcullis.yaml': CONFIG });
    const file = join(dir, 'portcullis.yaml');
    const first = await runCli('ssh', 'host-key', '-c', file);
    expect(first.code).toBe(0);
    const keyFile = join(dir, 'data', 'ssh_host_ed25519_key');
    expect(first.stdout).toMatch(new RegExp(`^SHA256:[A-Za-z0-9+/]{43} ${keyFile} \\(generated now\\)$`));
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const second = await runCli('ssh', 'host-key', '-c', file);
    expect(second.stdout).toBe(`${first.stdout.split(' ')[0]} ${keyFile}`);
    // The printed fingerprint is the public key's, as ssh-keygen -lf computes it.
    const blob = Buffer.from(readFileSync(`${keyFile}.pub`, 'utf8').split(' ')[1]!, 'base64');
    expect(first.stdout.split(' ')[0]).toBe(fingerprintOf(blob));
    const known = await runCli('ssh', 'host-key', '-c', file, '--known-hosts', '[gw]:2222');
    expect(known.stdout).toBe(`[gw]:2222 ssh-ed25519 ${blob.toString('base64')}`);
  });

  it('exits 1 naming the file when the configured key is not a key, and 2 without a config', async () => {
    const dir = tempDir({ 'portcullis.yaml': CONFIG.replace('{ address: 127.0.0.1:2222 }', '{ host_key_file: bad.key }'), 'bad.key': 'nope' });
    const bad = await runCli('ssh', 'host-key', '-c', join(dir, 'portcullis.yaml'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${join(dir, 'bad.key')} is not a usable SSH private key`);
    expect(existsSync(join(dir, 'data'))).toBe(false);
    const none = await runCli('ssh', 'host-key');
    expect(none.code).toBe(2);
  });
});

describe('portcullis config check with SSH', () => {
  it('summarizes the SSH listener and connection without printing the private key', async () => {
    const dir = tempDir({ 'portcullis.yaml': CONFIG });
    process.env['BOX_KEY'] = '-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-material\n-----END OPENSSH PRIVATE KEY-----';
    try {
      const result = await runCli('config', 'check', '-c', join(dir, 'portcullis.yaml'));
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('listen.ssh: 127.0.0.1:2222');
      expect(result.stdout).toContain('connection box (ssh)');
      expect(result.stdout).toContain('host_key: SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8');
      expect(result.stdout).toContain('private_key: <secret from env:BOX_KEY>; password: (none)');
      expect(result.stdout).not.toContain('secret-material');
    } finally {
      delete process.env['BOX_KEY'];
    }
  });
});
