/** The `admin:` section: defaults, TLS files, and the errors that name file, line and path. */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError, FAKE_CERT, FAKE_KEY, issueAt, removeTempDirs, tempDir } from './support.js';

afterAll(removeTempDirs);

const ISSUER = `identity:
  issuers:
    - issuer: http://127.0.0.1:9000
      audience: portcullis
`;

async function load(yaml: string, files: Record<string, string> = {}) {
  const dir = tempDir({ 'portcullis.yaml': yaml, ...files });
  return loadConfig(join(dir, 'portcullis.yaml'), { env: {} });
}

describe('admin config', () => {
  it('is absent (no key at all) when the file has no admin section', async () => {
    const config = await load(ISSUER);
    expect('admin' in config).toBe(false);
  });

  it('defaults to 127.0.0.1:6480 over plain HTTP', async () => {
    const config = await load(`${ISSUER}admin:\n  auditors: [auditors]\n`);
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 6480, tls: undefined, auditors: ['auditors'], admins: [] });
  });

  it('reads the address, both group lists and the TLS files (relative to the config file)', async () => {
    const config = await load(
      `${ISSUER}admin:\n  listen: "[::1]:0"\n  auditors: [auditors, compliance]\n  admins: [portcullis-admins]\n  tls:\n    cert_file: tls/admin.crt\n    key_file: tls/admin.key\n`,
      { 'tls/admin.crt': FAKE_CERT, 'tls/admin.key': FAKE_KEY },
    );
    expect(config.admin).toEqual({
      host: '::1',
      port: 0,
      tls: { cert: FAKE_CERT, key: FAKE_KEY },
      auditors: ['auditors', 'compliance'],
      admins: ['portcullis-admins'],
    });
  });

  it('refuses an admin API nobody could use', async () => {
    const error = await configError(load(`${ISSUER}admin:\n  listen: 127.0.0.1:6480\n`));
    const issue = issueAt(error, 'admin');
    expect(issue.message).toMatch(/no auditors or admins groups: nobody could use it; add admin\.auditors/);
    expect(issue.line).toBe(6);
  });

  it('refuses an admin API without an issuer to verify tokens with', async () => {
    const error = await configError(load('admin:\n  auditors: [auditors]\n'));
    expect(issueAt(error, 'admin.auditors').message).toMatch(/identity\.issuers is empty: configure the issuer/);
  });

  it('names the file, line and path of a bad address and an unreadable or wrong TLS file', async () => {
    const error = await configError(
      load(`${ISSUER}admin:\n  listen: localhost\n  auditors: [auditors]\n  tls:\n    cert_file: missing.crt\n    key_file: admin.key\n`, {
        'admin.key': 'not a key',
      }),
    );
    expect(error.message).toMatch(/portcullis\.yaml:6:11: admin\.listen: expected host:port/);
    expect(issueAt(error, 'admin.tls.cert_file').message).toMatch(/cannot read certificate file "missing.crt"/);
    expect(issueAt(error, 'admin.tls.key_file').message).toMatch(/does not contain a PEM private key/);
  });

  it('refuses an unknown key, suggesting the known ones', async () => {
    const error = await configError(load(`${ISSUER}admin:\n  auditors: [auditors]\n  metrics_auht: none\n`));
    expect(issueAt(error, 'admin.metrics_auht').message).toMatch(/unknown property "metrics_auht"; allowed here: listen, auditors, admins, tls/);
  });

  it('requires both TLS files and non-empty, unique group lists', async () => {
    const error = await configError(load(`${ISSUER}admin:\n  auditors: []\n  admins: [a, a]\n  tls: { cert_file: admin.crt }\n`));
    expect(issueAt(error, 'admin.auditors').message).toMatch(/expected a non-empty list/);
    expect(issueAt(error, 'admin.admins[1]').message).toMatch(/duplicate entry "a"/);
    expect(issueAt(error, 'admin.tls.key_file').message).toBe('missing required property "key_file"');
  });
});
