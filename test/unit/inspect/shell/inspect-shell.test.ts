import { describe, expect, it } from 'vitest';
import { inspectShell, MAX_LINE_BYTES } from '../../../../src/inspect/shell/inspect.js';
import { commandsOf, expectSyntaxError, flagsOf, inspected } from './support.js';

const argsOf = (line: string, index = 0): readonly string[] => inspected(line).commands[index]!.args;

describe('inspectShell: quote removal', () => {
  it('removes single quotes, double quotes and backslashes', () => {
    expect(argsOf(`echo 'a b' "c d" e\\ f g\\'h`)).toEqual(['a b', 'c d', 'e f', "g'h"]);
  });

  it('keeps backslashes in single quotes and honours only \\$ \\` \\" \\\\ \\newline in double quotes', () => {
    expect(argsOf('echo \'a\\nb\' "a\\"b\\\\c\\$d\\`e\\x"')).toEqual(['a\\nb', 'a"b\\c$d`e\\x']);
    expect(argsOf('echo "a\\\nb"')).toEqual(['ab']);
    expect(argsOf("echo 'a\\\nb'")).toEqual(['a\\\nb']);
  });

  it('decodes $\'…\' as bash does', () => {
    expect(argsOf(String.raw`echo $'a\tb\n\\\'\x41\101\u00e9\cA\e'`)).toEqual(['a\tb\n\\\'AA\u00e9\x01\x1b']);
    expect(argsOf(String.raw`echo $'a\0b'c`)).toEqual(['ac']);
    expect(argsOf(String.raw`echo $'\q'`)).toEqual(['\\q']);
  });

  it('reads $"…" as a double-quoted string, and $\' inside double quotes literally', () => {
    expect(argsOf('echo $"a b" "$\'x"')).toEqual(['a b', "$'x"]);
  });

  it('keeps expansions as written', () => {
    expect(argsOf('echo $HOME/x "${A:-b c}" $(id -u) `id` $((1+2)) ~/y $1 $@')).toEqual([
      '$HOME/x', '${A:-b c}', '$(id -u)', '`id`', '$((1+2))', '~/y', '$1', '$@',
    ]);
  });

  it('keeps empty quoted words and a lone $', () => {
    expect(argsOf(`echo "" '' $ a$`)).toEqual(['', '', '$', 'a$']);
  });

  it('treats # as a comment only at the start of a word', () => {
    expect(commandsOf('echo a#b #c; rm x\necho d')).toEqual(['echo a#b', 'echo d']);
    expect(commandsOf('echo a;#c\necho b')).toEqual(['echo a', 'echo b']);
  });

  it('joins line continuations inside and between words', () => {
    expect(commandsOf('ec\\\nho a \\\n b')).toEqual(['echo a b']);
  });
});

describe('inspectShell: lists, pipelines and control flow', () => {
  it('reports every command of and/or lists, pipelines and background jobs, in order', () => {
    expect(commandsOf('a; b && c || d | e |& f & g\nh')).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  });

  it('reports the commands of conditions and bodies, never the keywords', () => {
    expect(commandsOf('if a; then b; elif c; then d; else e; fi')).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(commandsOf('while a; do b; done; until c; do d; done')).toEqual(['a', 'b', 'c', 'd']);
    expect(commandsOf('for x in if then $(a); do b $x; done')).toEqual(['a', 'b $x']);
    expect(commandsOf('for ((i = $(a); i < 3; i++)); do b; done')).toEqual(['a', 'b']);
    expect(commandsOf('select x in p q; do b; done')).toEqual(['b']);
    expect(commandsOf('case $(a) in x|$(b)) c;; (y) d;& *) e;;& esac')).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(commandsOf('case x in esac')).toEqual([]);
    expect(commandsOf('{ a; b; }; (c; d)')).toEqual(['a', 'b', 'c', 'd']);
    expect(commandsOf('! a | b')).toEqual(['a', 'b']);
  });

  it('accepts closing words right after a compound command, as bash does', () => {
    expect(commandsOf('{ { a; } }; if true; then { b; } fi; for x in 1; do (c) done')).toEqual(['a', 'true', 'b', 'c']);
  });

  it('reports function bodies and calls', () => {
    expect(commandsOf('f() { a; }; function g { b; }; function h() (c); k ()\n{ d; }; f')).toEqual(['a', 'b', 'c', 'd', 'f']);
  });

  it('reads [[ … ]] as the test command [[ with its words', () => {
    expect(commandsOf('[[ -f x && $y < z || ( a > b ) ]] && c')).toEqual(['[[ -f x && $y < z || ( a > b )', 'c']);
    expect(commandsOf('[[ $x =~ ^(a|b)+$ ]]')).toEqual(['[[ $x =~ ^(a|b)+$']);
    expect(inspected('[[ a < b ]]').commands[0]!.redirections).toEqual([]);
  });

  it('reads $(( … )) as arithmetic, but $((a); b) as a command substitution', () => {
    expect(commandsOf('echo $(( (1 + 2) * 3 ))')).toEqual(['echo $(( (1 + 2) * 3 ))']);
    expect(commandsOf('echo $((a); b)')).toEqual(['echo $((a); b)', 'a', 'b']);
  });

  it('reports the commands inside substitutions in every position', () => {
    expect(commandsOf('a "$(b)" `c` <(d) >(e) ${x:-$(f)} > $(g) <<< $(h)')).toEqual([
      'a $(b) `c` <(d) >(e) ${x:-$(f)}', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
    ]);
    expect(commandsOf('echo $(case x in a) b;; esac)')).toEqual(['echo $(case x in a) b;; esac)', 'b']);
    expect(commandsOf('echo $(echo a # )\n)')).toEqual(['echo $(echo a # )\n)', 'echo a']);
  });
});

describe('inspectShell: assignments', () => {
  it('skips assignments before the command', () => {
    expect(commandsOf('A=1 B+=2 C[1]=3 cmd x=1')).toEqual(['cmd x=1']);
  });

  it('runs no program for a line of assignments, but reports their substitutions', () => {
    expect(commandsOf('A=1 B=2')).toEqual([]);
    expect(commandsOf('A=$(a) B=`b` C=(1 $(c) 3)')).toEqual(['a', 'b', 'c']);
  });

  it('does not take quoted names for assignments', () => {
    expect(commandsOf('"A=1" x')).toEqual(['A=1 x']);
  });
});

describe('inspectShell: redirections', () => {
  const redirectionOf = (line: string): unknown => inspected(line).commands[0]!.redirections[0];

  it.each([
    ['echo x > /etc/passwd', { op: '>', target: '/etc/passwd', writes: true }],
    ['echo x >> "/tmp/a b"', { op: '>>', target: '/tmp/a b', writes: true }],
    ['echo x >| f', { op: '>|', target: 'f', writes: true }],
    ['echo x &> f', { op: '&>', target: 'f', writes: true }],
    ['echo x &>> f', { op: '&>>', target: 'f', writes: true }],
    ['cat <> f', { op: '<>', target: 'f', writes: true }],
    ['echo x >& f', { op: '>&', target: 'f', writes: true }],
    ['echo x 2> f', { op: '>', fd: 2, target: 'f', writes: true }],
    ['echo x 12>>f', { op: '>>', fd: 12, target: 'f', writes: true }],
    ['echo x 2>&1', { op: '>&', fd: 2, target: '1', writes: false }],
    ['echo x >&2', { op: '>&', target: '2', writes: false }],
    ['echo x >&-', { op: '>&', target: '-', writes: false }],
    ['echo x 1>&3-', { op: '>&', fd: 1, target: '3-', writes: false }],
    ['echo x >&$FD', { op: '>&', target: '$FD', writes: true }],
    ['cat < /etc/shadow', { op: '<', target: '/etc/shadow', writes: false }],
    ['cat 3< f', { op: '<', fd: 3, target: 'f', writes: false }],
    ['cat <&3', { op: '<&', target: '3', writes: false }],
    ['cat <<< "a b"', { op: '<<<', target: 'a b', writes: false }],
    ['cat {fd}> f', { op: '>', target: 'f', writes: true }],
  ])('%s', (line, expected) => {
    expect(redirectionOf(line)).toEqual(expected);
  });

  it('applies redirections before the command word', () => {
    expect(inspected('>f 2>&1 cmd a').commands).toEqual([
      {
        program: 'cmd', path: 'cmd', args: ['a'], wrappers: [],
        redirections: [{ op: '>', target: 'f', writes: true }, { op: '>&', fd: 2, target: '1', writes: false }],
      },
    ]);
  });

  it('gives a compound command\'s redirections to every command inside it', () => {
    const result = inspected('{ a; b 2>e; } > out');
    expect(result.commands.map((c) => c.redirections)).toEqual([
      [{ op: '>', target: 'out', writes: true }],
      [{ op: '>', target: 'out', writes: true }, { op: '>', fd: 2, target: 'e', writes: true }],
    ]);
  });

  it('reports a redirection without a program as a command with an empty program name', () => {
    expect(inspected('> /etc/passwd').commands).toEqual([
      { program: '', path: '', args: [], wrappers: [], redirections: [{ op: '>', target: '/etc/passwd', writes: true }] },
    ]);
    expect(inspected('A=1 >> f').commands[0]!.redirections[0]!.writes).toBe(true);
    expect(inspected('{ A=1; } > g').commands[0]!.redirections).toEqual([{ op: '>', target: 'g', writes: true }]);
  });

  it('gives the redirections of a wrapper to what it wraps', () => {
    const result = inspected('sudo tee x > /etc/hosts');
    expect(result.commands.map((c) => [c.program, c.redirections[0]?.target])).toEqual([['sudo', '/etc/hosts'], ['tee', '/etc/hosts']]);
  });
});

describe('inspectShell: here-documents', () => {
  it('consumes the body, which is not commands; the target is the delimiter', () => {
    const result = inspected('cat <<EOF\nrm -rf /\nEOF\necho done');
    expect(result.commands.map((c) => c.program)).toEqual(['cat', 'echo']);
    expect(result.commands[0]!.redirections).toEqual([{ op: '<<', target: 'EOF', writes: false }]);
  });

  it('reports substitutions in a body with an unquoted delimiter only', () => {
    expect(commandsOf('cat <<EOF\n$(a) `b` ${x:-$(c)} \'$(d)\'\nEOF')).toEqual(['cat', 'a', 'b', 'c', 'd']);
    expect(commandsOf("cat <<'EOF'\n$(a)\nEOF")).toEqual(['cat']);
    expect(commandsOf('cat <<"EOF"\n$(a)\nEOF')).toEqual(['cat']);
    expect(commandsOf('cat <<\\EOF\n$(a)\nEOF')).toEqual(['cat']);
    expect(commandsOf('cat <<E"O"F\n$(a)\nEOF')).toEqual(['cat']);
  });

  it('strips leading tabs for <<- and reads several bodies in order', () => {
    expect(commandsOf('cat <<-A <<B; c\n\t$(a)\n\tA\n$(b)\nB\nd')).toEqual(['cat', 'a', 'b', 'c', 'd']);
    expect(inspected('cat <<-A\n\tx\n\tA').commands[0]!.redirections[0]).toEqual({ op: '<<-', target: 'A', writes: false });
  });

  it('reads a body from inside a command substitution', () => {
    expect(commandsOf('x=$(cat <<EOF\n$(a)\nEOF\n); b')).toEqual(['cat', 'a', 'b']);
  });

  it('ends an unterminated body at the end of input, as bash does', () => {
    expect(commandsOf('cat <<EOF\n$(a)')).toEqual(['cat', 'a']);
  });
});

describe('inspectShell: program names', () => {
  it.each([
    ['/bin/rm x', 'rm', '/bin/rm'],
    ['/usr/bin/../bin/rm x', 'rm', '/usr/bin/../bin/rm'],
    ['./rm x', 'rm', './rm'],
    ['"/bin/r"m x', 'rm', '/bin/rm'],
    ['$D/rm x', 'rm', '$D/rm'],
    ['$(echo /bin/rm) x', '$(echo /bin/rm)', '$(echo /bin/rm)'],
  ])('%s → %s', (line, program, path) => {
    const command = inspected(line).commands[0]!;
    expect([command.program, command.path]).toEqual([program, path]);
  });
});

describe('inspectShell: wrappers', () => {
  it('reports each wrapper and what it wraps, outermost first', () => {
    expect(commandsOf('sudo -u x env A=1 rm -f y')).toEqual(['sudo -u x env A=1 rm -f y', 'sudo>env A=1 rm -f y', 'sudo>env>rm -f y']);
  });

  it('parses shell -c strings recursively, with the shell as a wrapper', () => {
    expect(commandsOf("nohup bash -c 'a | b; c' &")).toEqual(["nohup bash -c a | b; c", 'nohup>bash -c a | b; c', 'nohup>bash>a', 'nohup>bash>b', 'nohup>bash>c']);
    expect(commandsOf("sh -c 'a \"$1\"' sh x")).toEqual(['sh -c a "$1" sh x', 'sh>a $1']);
  });

  it('reports a shell running a script file without flags', () => {
    expect(inspected('bash ./deploy.sh --fast')).toMatchObject({ flags: [], commands: [{ program: 'bash', args: ['./deploy.sh', '--fast'] }] });
    expect(flagsOf('python3 manage.py migrate')).toEqual([]);
    expect(flagsOf("python3 -c 'print(1)'")).toEqual([]);
  });

  it('knows the modes in which a wrapper runs nothing', () => {
    expect(commandsOf('command -v rm')).toEqual(['command -v rm']);
    expect(commandsOf('exec; exec >log')).toEqual(['exec', 'exec']);
    expect(commandsOf('sudo -l rm; sudo -e /etc/hosts; sudo -v')).toEqual(['sudo -l rm', 'sudo -e /etc/hosts', 'sudo -v']);
    expect(commandsOf('ionice -p 42 rm; chrt -p 5 42; taskset -p 1 42; nice; env; timeout 5')).toEqual([
      'ionice -p 42 rm', 'chrt -p 5 42', 'taskset -p 1 42', 'nice', 'env', 'timeout 5',
    ]);
  });

  it('reads time as bash\'s keyword, or as /usr/bin/time when options follow', () => {
    expect(commandsOf('time a | b; time -p c')).toEqual(['time', 'time>a', 'time>b', 'time', 'time>c']);
    expect(commandsOf('time -o out -f %e d')).toEqual(['time -o out -f %e d', 'time>d']);
  });

  it('runs echo for xargs without a command', () => {
    expect(commandsOf('ls | xargs -0')).toEqual(['ls', 'xargs -0', 'xargs>echo']);
  });

  it('reports every -exec of find, up to ; or {} +', () => {
    expect(commandsOf('find . -exec a {} + -execdir b \\; -okdir c {} \\; -print')).toEqual([
      'find . -exec a {} + -execdir b ; -okdir c {} ; -print', 'find>a {}', 'find>b', 'find>c {}',
    ]);
  });

  it('parses watch arguments as a shell command unless -x', () => {
    expect(commandsOf("watch -n 2 -d 'df -h | grep sda'")).toEqual(['watch -n 2 -d df -h | grep sda', 'watch>df -h', 'watch>grep sda']);
    expect(commandsOf("watch -x a 'b | c'")).toEqual(['watch -x a b | c', 'watch>a b | c']);
  });

  it('splits env -S strings and scans their options', () => {
    expect(commandsOf("env -S'-u X A=\"1 2\" a  b\\_c' d")).toEqual(['env -S-u X A="1 2" a  b\\_c d', 'env>a b c d']);
    expect(commandsOf("env -S'a # comment' b")).toEqual(["env -Sa # comment b", 'env>a b']);
  });

  it('skips option values of sudo, xargs and timeout', () => {
    expect(commandsOf('sudo -u root -g wheel -- a')).toEqual(['sudo -u root -g wheel -- a', 'sudo>a']);
    expect(commandsOf('xargs -n 1 -P 4 -d , -a f -L 2 -s 99 -E x -I R a R')).toEqual(['xargs -n 1 -P 4 -d , -a f -L 2 -s 99 -E x -I R a R', 'xargs>a R']);
    expect(commandsOf('timeout -k 1 -s TERM 10 a')).toEqual(['timeout -k 1 -s TERM 10 a', 'timeout>a']);
  });

  it('does not flag scheduling from a file or listing', () => {
    expect(flagsOf('at -f job.sh now; at -l; crontab -l; crontab jobs.txt')).toEqual([]);
  });

  it('accepts unambiguous abbreviations of long options and rejects ambiguous ones', () => {
    expect(commandsOf('sudo --us root a').at(-1)).toBe('sudo>a');
    expect(flagsOf('env --i a')).toEqual(['unsupported']); // --ignore-environment or --ignore-signal
  });

  it('reports busybox applets and builtin', () => {
    expect(commandsOf('busybox ls /; busybox --list; builtin echo x')).toEqual(['busybox ls /', 'busybox>ls /', 'busybox --list', 'builtin echo x', 'builtin>echo x']);
  });
});

describe('inspectShell: flags and notes', () => {
  it('explains each flag in a note that names what was found', () => {
    const result = inspected('$CMD x; /bin/r? y; eval "$z"; curl u | sh');
    expect(result.flags).toEqual(['variable_command', 'glob_command', 'eval', 'stdin_script']);
    expect(result.notes).toEqual([
      '"$CMD" is an expansion, used as a command name',
      '"/bin/r?" has glob or brace-expansion characters in the command name',
      'eval runs its arguments as shell code',
      '"$z" is an expansion, used as a command name',
      'sh reads its commands from standard input (no script or -c)',
    ]);
  });

  it('does not flag expansions, globs or braces in arguments', () => {
    expect(flagsOf('ls $HOME/*.txt "$(date)" {a,b} ~/x [ab]')).toEqual([]);
    expect(flagsOf('[ -f x ] && [[ -d y ]]')).toEqual([]);
    expect(flagsOf('xargs -I {} cp {} /tmp')).toEqual([]);
  });

  it('flags a script built from an expansion but still reports what it can read', () => {
    const result = inspected('bash -c "rm $DIR"');
    expect(result.flags).toEqual(['eval']);
    expect(result.commands.map((c) => c.program)).toEqual(['bash', 'rm']);
  });

  it('flags a NUL character, which would truncate the line', () => {
    expect(flagsOf('ls\0; rm x')).toContain('unsupported');
  });

  it('keeps notes short and bounded on hostile input', () => {
    const result = inspected(Array.from({ length: 200 }, (_, i) => `$C${i}`).join(';'));
    expect(result.notes.length).toBeLessThanOrEqual(33);
    expect(result.notes.at(-1)).toMatch(/more/);
    expect(inspected(`$${'A'.repeat(500)}`).notes[0]!.length).toBeLessThan(120);
  });
});

describe('inspectShell: syntax errors', () => {
  it.each([
    ["echo 'abc", /unterminated single quote/, 5],
    ['echo "abc', /unterminated double quote/, 5],
    ["echo $'abc", /unterminated \$'…' quote/, 5],
    ['echo `abc', /unterminated backquote/, 5],
    ['echo $(abc', /unterminated \$\( … \)/, 5],
    ['echo ${abc', /unterminated \$\{ … \}/, 5],
    ['cat <(abc', /unterminated process substitution/, 4],
    ['(echo a', /unbalanced parentheses/, 0],
    ['echo a)', /unexpected `\)`/, 6],
    ['fi', /`fi` without a matching `if`/, 0],
    ['echo; done', /`done` without a matching loop/, 6],
    ['}', /`}` without a matching `{`/, 0],
    ['if true; then echo', /`if` without a matching `fi`/, 0],
    ['if true; echo; fi', /unexpected `fi` where `then` was expected/, 15],
    ['while true; do echo', /`while` without a matching `done`/, 0],
    ['if true; then', /missing fi/, 0],
    ['case x in a) echo', /without a matching `esac`/, 0],
    ['{ echo', /missing \}/, 0],
    ['echo |', /dangling \|/, 6],
    ['echo a &&', /expected a command after &&/, 9],
    ['echo a ||', /expected a command after \|\|/, 9],
    ['; echo', /unexpected `;`/, 0],
    ['echo a;;', /`;;` outside a case item/, 6],
    ['echo >', /expected a file name after >/, 6],
    ['echo > ;', /expected a file name after >/, 7],
    ['{ }', /empty \{ \} group/, 0],
    ['f() echo', /must be a compound command/, 1],
    ['for 1 in a; do :; done', /invalid for loop variable/, 4],
    ['echo a (', /unexpected `\(`/, 7],
    ['echo $(cat <<EOF)\nrm -rf /tmp/x\nEOF', /here-document opened inside \$\( … \)/, 5],
    ['cat <<EOF\nE\\\nOF\nrm -rf /tmp/x\nEOF', /shells disagree where the body ends/, 10],
  ] as const)('%j', (line, message, position) => {
    expectSyntaxError(line, message, position);
  });

  it('reports errors inside sh -c strings at the string', () => {
    expectSyntaxError(`ls; sh -c 'echo "'`, /in the script run by sh: unterminated double quote/, 10);
  });

  it('never throws, whatever the input', () => {
    const nasty = ['', ' ', '\n\n', '\\', '$', '`', '"', "'", '$(', '${', '$((', '((', '))', '<<', '<<EOF', '[[', ']]', 'case', 'in', '{', '!', '&', '|', ';;&', '\u0000', '\r\n', '\u00a0rm'];
    for (const a of nasty) for (const b of nasty) expect(typeof inspectShell(a + b).ok).toBe('boolean');
  });
});

describe('inspectShell: limits', () => {
  it('flags lines over 64 KiB as unsupported without inspecting them', () => {
    const result = inspectShell(`echo ${'a'.repeat(MAX_LINE_BYTES)}`);
    expect(result).toEqual({ ok: true, commands: [], flags: ['unsupported'], notes: [expect.stringMatching(/longer than 65536 bytes/)] });
  });

  it('counts bytes, not characters', () => {
    expect(inspectShell(`echo ${'é'.repeat(MAX_LINE_BYTES / 2)}`)).toMatchObject({ ok: true, flags: ['unsupported'] });
  });

  it('flags nesting deeper than 64 levels as unsupported', () => {
    expect(inspectShell(`${'$('.repeat(80)}rm x${')'.repeat(80)}`)).toMatchObject({ ok: true, flags: ['unsupported'] });
    expect(inspectShell(`${'('.repeat(80)}rm x${')'.repeat(80)}`)).toMatchObject({ ok: true, flags: ['unsupported'] });
    expect(inspectShell(`${'{ '.repeat(80)}rm x${'; }'.repeat(80)}`)).toMatchObject({ ok: true, flags: ['unsupported'] });
    expect(inspectShell(`${'sudo '.repeat(80)}rm x`)).toMatchObject({ ok: true, flags: ['unsupported'] });
  });

  it('bounds sh -c nesting by the line size: each level doubles the quoting', () => {
    expect(commandsOf(nestedShells(14)).at(-1)).toBe(`${'sh>'.repeat(14)}rm x`);
    expect(inspectShell(nestedShells(15))).toMatchObject({ ok: true, flags: ['unsupported'] });
  });

  it('follows reasonable nesting', () => {
    expect(commandsOf(nestedShells(5)).at(-1)).toBe('sh>sh>sh>sh>sh>rm x');
    expect(commandsOf(`${'$('.repeat(20)}rm x${')'.repeat(20)}`)).toContain('rm x');
  });

  it('inspects large lines of many commands', () => {
    const line = 'rm -f /tmp/a; '.repeat(4000);
    expect(inspected(line).commands).toHaveLength(4000);
    expect(typeof inspectShell('$(('.repeat(10000)).ok).toBe('boolean');
    expect(typeof inspectShell('"${'.repeat(10000)).ok).toBe('boolean');
    expect(typeof inspectShell('cat <<E\n'.repeat(5000)).ok).toBe('boolean');
  });
});

/** `sh -c "sh -c \"… rm x\""`, `levels` deep (double quoting: the text doubles per level, not more). */
function nestedShells(levels: number): string {
  let line = 'rm x';
  for (let i = 0; i < levels; i += 1) line = `sh -c "${line.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
  return line;
}
