import { describe, expect, it } from 'vitest';
import { parseTextArray } from '../../../src/protocols/postgres/upstream.js';

describe('parseTextArray (current_schemas output)', () => {
  it.each([
    ['{}', []],
    ['{public}', ['public']],
    ['{agent_rw,public}', ['agent_rw', 'public']],
    ['{"my schema",public}', ['my schema', 'public']],
    ['{"a\\"b","c,d",e}', ['a"b', 'c,d', 'e']],
  ])('%s', (text, expected) => {
    expect(parseTextArray(text)).toEqual(expected);
  });

  it('refuses text that is not an array', () => {
    expect(() => parseTextArray('public')).toThrow(/malformed array/);
  });
});
