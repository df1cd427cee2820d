import { describe, expect, it } from 'vitest';
import { splitEnvString } from '../../../../src/inspect/shell/env-split.js';
import { ShellSyntaxError } from '../../../../src/inspect/shell/errors.js';

const values = (s: string): string[] => splitEnvString(s, 0).map((w) => w.value);

describe('splitEnvString (env -S)', () => {
  it('splits on blanks and removes quotes', () => {
    expect(values(`a  'b c' "d e"\tf`)).toEqual(['a', 'b c', 'd e', 'f']);
    expect(values(`''`)).toEqual(['']);
  });

  it('decodes escapes: \\_ separates outside quotes and is a space inside them', () => {
    expect(values(String.raw`a\_b "c\_d" \t\\\$\#`)).toEqual(['a', 'b', 'c d', '\t\\$#']);
  });

  it('stops at \\c and at a # that starts a word', () => {
    expect(values(String.raw`a\cb c`)).toEqual(['a']);
    expect(values('a b#c # d e')).toEqual(['a', 'b#c']);
  });

  it('marks ${NAME} as dynamic', () => {
    expect(splitEnvString('${X} y', 0)).toEqual([{ value: '${X}', dynamic: true }, { value: 'y', dynamic: false }]);
  });

  it.each([`'a`, `"a`, 'a\\', '$X', '\\q', '"\\c"'])('rejects %j as env does', (s) => {
    expect(() => splitEnvString(s, 3)).toThrow(ShellSyntaxError);
  });
});
