/** The SSH parts of the config: listen.ssh, ssh connections (credentials, pinned host keys), shell and ssh rule conditions. */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError, removeTempDirs, tempDir } from './support.js';

afterAll(removeTempDirs);

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n';
const FINGERPRINT = 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8';

const SSH = `identity:
  issuers:
    - issuer: http://127.0.0.1:9000
      audience: portcullis
listen:
  ssh:
    address: 127.0.0.1:2222
    output_flush: 20ms
rules:
  - name: reads
    when: { shell: { programs: [ls, cat], args: ["/var/log/*"] } }
    effect: allow
  - name: no-rm
    when: { shell: { programs: [rm] } }
    effect: deny
    reason: No deletes.
  - name: shells
    when: { ssh: { actions: [shell] } }
    effect: allow
connections:
  - name: box
    type: ssh
    target:
      host: 10.0.0.5
      user: deploy
      private_key: \${file:id_ed25519}
      host_key: ${FINGERPRINT}
    access: { groups: [agents] }
    rules: [reads, no-rm, shells]
`;

async function load(yaml: string) {
  const dir = tempDir({ 'portcullis.yaml': yaml, id_ed25519: KEY });
  return loadConfig(join(dir, 'portcullis.yaml'), { env: {} });
}

async function problems(yaml: string): Promise<Array<[string, string]>> {
  const dir = tempDir({ 'portcullis.yaml': yaml, id_ed25519: KEY });
  const error = await configError(loadConfig(join(dir, 'portcullis.yaml'), { env: {} }));
  return error.issues.map(({ path, message }) => [path, message]);
}

describe('SSH configuration', () => {
  it('loads an SSH listener, connection and shell/ssh rules', async () => {
    const config = await load(SSH);
    expect(config.ssh).toEqual({ host: '127.0.0.1', port: 2222, hostKeyFile: undefined, tokenExpiryGraceMs: 0, authTimeoutMs: 15_000, outputFlushMs: 20 });
    const [box] = config.connections;
    expect(box).toMatchObject({
      name: 'box',
      type: 'ssh',
      target: { host: '10.0.0.5', port: 22, user: 'deploy', privateKey: KEY.trimEnd(), password: undefined, hostKeys: [FINGERPRINT], connectTimeoutMs: 10_000 },
    });
    expect(box?.rules.map((r) => r.when)).toEqual([
      { identity: undefined, sql: undefined, shell: { programs: ['ls', 'cat'], args: ['/var/log/*'], writes: undefined, flags: undefined, unparseable: false } },
      { identity: undefined, sql: undefined, shell: { programs: ['rm'], args: undefined, writes: undefined, flags: undefined, unparseable: false } },
      { identity: undefined, sql: undefined, ssh: { actions: ['shell'] } },
    ]);
  });

  it('requires credentials and a pinned SHA256 host key fingerprint', async () => {
    expect(await problems(SSH.replace('      private_key: ${file:id_ed25519}\n', ''))).toEqual([
      ['connections[0].target', expect.stringContaining('an SSH target needs the credentials Portcullis logs in with')],
    ]);
    expect(await problems(SSH.replace(`host_key: ${FINGERPRINT}`, 'host_key: 9f:86:d0:81'))).toEqual([
      ['connections[0].target.host_key', expect.stringContaining('SHA256')],
    ]);
    expect(await problems(SSH.replace('private_key: ${file:id_ed25519}', 'private_key: not-a-key'))).toEqual([
      ['connections[0].target.private_key', expect.stringContaining('expected a private key in OpenSSH or PEM format')],
    ]);
  });

  it('says which connection type is unknown and checks each type\'s own target fields', async () => {
    expect(await problems(SSH.replace('type: ssh', 'type: telnet'))).toEqual([['connections[0].type', 'expected "postgres" or "ssh", got "telnet"']]);
    const extra = await problems(SSH.replace('      user: deploy\n', '      user: deploy\n      database: app\n'));
    expect(extra).toEqual([['connections[0].target.database', expect.stringMatching(/^unknown property "database"/)]]);
  });

  it('refuses allow rules for flagged or unparseable command lines, and rules mixing protocols', async () => {
    const yaml = SSH.replace(
      'rules:\n',
      `rules:
  - name: allow-eval
    when: { shell: { flags: [eval] } }
    effect: allow
  - name: allow-broken
    when: { shell: { unparseable: true } }
    effect: allow
  - name: mixed
    when: { sql: { class: [read] }, shell: { programs: [ls] } }
    effect: allow
`,
    );
    expect(await problems(yaml)).toEqual([
      ['rules[0].when.shell.flags', expect.stringContaining('is never allowed: use effect review')],
      ['rules[1].when.shell.unparseable', expect.stringContaining('never allowed: use effect review or deny')],
      ['rules[2].when.shell', expect.stringContaining('has sql and shell conditions')],
    ]);
  });

  it('bounds the output flush interval', async () => {
    expect(await problems(SSH.replace('output_flush: 20ms', 'output_flush: 5s'))).toEqual([['listen.ssh.output_flush', expect.stringContaining('1s')]]);
  });
});
