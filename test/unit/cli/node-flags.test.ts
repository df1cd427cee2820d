import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GATEWAY_NODE_FLAGS } from '../../../src/cli/node-flags.js';

const root = path.resolve(import.meta.dirname, '../../..');
const firstLine = (file: string): string => readFileSync(path.join(root, file), 'utf8').split('\n')[0]!;

describe('the node flags of the portcullis executable', () => {
  const shebang = `#!/usr/bin/env -S node ${GATEWAY_NODE_FLAGS.join(' ')}`;

  it('are the shebang of the source and of the built executable', () => {
    expect(firstLine('src/cli/main.ts')).toBe(shebang);
    expect(firstLine('dist/cli/main.js')).toBe(shebang);
  });

  it('make a shebang the system runs', () => {
    const [interpreter, ...args] = shebang.slice(2).split(' ');
    const run = spawnSync(interpreter!, [...args, path.join(root, 'dist/cli/main.js'), '--help'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('serve');
  });
});
