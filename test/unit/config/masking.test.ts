/** The top-level `masking:` profiles and a connection's `masking`/`record`: defaults, checks, and errors naming the path. */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configError, issueAt, removeTempDirs, tempDir } from './support.js';

afterAll(removeTempDirs);

const KEY = 'a-hash-key-of-more-than-16-bytes';

function file(masking: string, connection = '    masking: [pii]\n'): string {
  return `identity:
  issuers:
    - issuer: http://127.0.0.1:9000
      audience: portcullis
connections:
  - name: demo
    type: postgres
    target: { host: 127.0.0.1, database: app, user: agent, password: pw }
    access: { groups: [agents] }
${connection}${masking}`;
}

async function load(yaml: string, env: Record<string, string> = { MASK_KEY: KEY }) {
  const dir = tempDir({ 'portcullis.yaml': yaml });
  return loadConfig(join(dir, 'portcullis.yaml'), { env });
}

describe('masking config', () => {
  it('applies defaults: the default detectors, US phones, redact, expressions masked, predicates allowed', async () => {
    const config = await load(file('masking:\n  - name: pii\n'));
    expect(config.masking).toEqual([
      {
        name: 'pii',
        for: undefined,
        detectors: ['default'],
        customDetectors: [],
        phoneRegions: ['US'],
        strategy: 'redact',
        columns: [],
        expressions: 'mask',
        denyPredicates: false,
        hashKey: undefined,
      },
    ]);
    expect(config.connections[0]!.masking).toEqual(config.masking);
    expect(config.connections[0]!.recordResultRows).toBe(0);
  });

  it('reads every setting, resolving the hash key from the environment', async () => {
    const config = await load(
      file(
        `masking:
  - name: pii
    for: { groups: [agents] }
    detectors: [email, card, employee-id]
    custom_detectors:
      - name: employee-id
        pattern: 'EMP-[0-9]{6}'
        validator: luhn
        context: { words: [employee] }
        deny: [EMP-000000]
    phone_regions: [GB, DE]
    strategy: partial
    columns:
      public.customers.email: { strategy: redact, label: EMAIL }
      "*password*": "null"
      "*.*.ssn": hash
    expressions: refuse
    deny_predicates: true
    hash_key: \${env:MASK_KEY}
`,
        '    masking: [pii]\n    record: { result_rows: 25 }\n',
      ),
    );
    const [profile] = config.masking;
    expect(profile).toMatchObject({
      for: { groups: ['agents'] },
      detectors: ['email', 'card', 'employee-id'],
      customDetectors: [
        { name: 'employee-id', label: 'EMPLOYEE_ID', pattern: 'EMP-[0-9]{6}', caseInsensitive: false, validator: 'luhn', context: { words: ['employee'], before: 40 }, deny: ['EMP-000000'] },
      ],
      phoneRegions: ['GB', 'DE'],
      strategy: 'partial',
      columns: [
        { pattern: 'public.customers.email', strategy: 'redact', label: 'EMAIL' },
        { pattern: '*password*', strategy: 'null', label: 'MASKED' },
        { pattern: '*.*.ssn', strategy: 'hash', label: 'MASKED' },
      ],
      expressions: 'refuse',
      denyPredicates: true,
      hashKey: KEY,
    });
    expect(config.connections[0]!.recordResultRows).toBe(25);
  });

  it('refuses an unknown profile name on a connection, listing the defined ones', async () => {
    const error = await configError(load(file('masking:\n  - name: pii\n', '    masking: [pi]\n')));
    expect(issueAt(error, 'connections[0].masking[0]').message).toContain('unknown masking profile "pi"; defined profiles: pii');
  });

  it('refuses unknown detectors, built-in names reused by custom detectors, and duplicate profiles', async () => {
    const error = await configError(
      load(
        file(`masking:
  - name: pii
    detectors: [emial]
    custom_detectors:
      - { name: email, pattern: 'x+' }
  - name: pii
`),
      ),
    );
    expect(issueAt(error, 'masking[0].detectors[0]').message).toContain('unknown detector "emial"');
    expect(issueAt(error, 'masking[0].custom_detectors[0].name').message).toContain('name of a built-in detector');
    expect(issueAt(error, 'masking[1].name').message).toContain('defined twice');
  });

  it('refuses custom patterns that do not compile or match the empty string', async () => {
    const error = await configError(
      load(
        file(`masking:
  - name: pii
    detectors: [a, b]
    custom_detectors:
      - { name: a, pattern: '(unclosed' }
      - { name: b, pattern: 'x*' }
`),
      ),
    );
    expect(issueAt(error, 'masking[0].custom_detectors[0].pattern').message).toContain('not a valid regular expression');
    expect(issueAt(error, 'masking[0].custom_detectors[1].pattern').message).toContain('matches the empty string');
  });

  it('needs a hash key, of at least 16 bytes, where the hash strategy is used — without showing it', async () => {
    const missing = await configError(load(file('masking:\n  - name: pii\n    columns: { "*.*.email": hash }\n')));
    expect(issueAt(missing, 'masking[0]').message).toContain('has no hash_key');
    const short = await configError(load(file('masking:\n  - name: pii\n    strategy: hash\n    hash_key: ${env:MASK_KEY}\n'), { MASK_KEY: 'short-key' }));
    const issue = issueAt(short, 'masking[0].hash_key');
    expect(issue.message).toContain('at least 16 bytes');
    expect(issue.message).not.toContain('short-key');
  });

  it('refuses malformed column keys, strategies and labels by schema', async () => {
    const error = await configError(
      load(file('masking:\n  - name: pii\n    columns: { "public.email": redact, "x.y.z": blur, "a.b.c": { strategy: redact, label: lower } }\n')),
    );
    expect(error.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(['masking[0].columns.public.email', 'masking[0].columns.x.y.z', 'masking[0].columns.a.b.c.label']),
    );
  });

  it('refuses unknown phone regions and custom detectors the detector compiler rejects', async () => {
    const error = await configError(
      load(
        file(`masking:
  - name: pii
    phone_regions: [ZZ]
    detectors: [emp--id]
    custom_detectors:
      - { name: emp--id, pattern: 'EMP-[0-9]+' }
`),
      ),
    );
    expect(issueAt(error, 'masking[0].phone_regions').message).toContain('unknown phone region "ZZ"');
    expect(issueAt(error, 'masking[0].custom_detectors[0].name').message).toContain('kebab-case');
  });
});
