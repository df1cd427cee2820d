/** The gate on SSH operations: command lines from hand-built shell facts, and SSH actions. */
import { describe, expect, it } from 'vitest';
import type { RuleConfig, ShellCondition, SshAction, SshConnectionConfig } from '../../../src/config/types.js';
import type { ShellCommand, ShellFlag, ShellInspection } from '../../../src/inspect/shell/facts.js';
import { createGate } from '../../../src/policy/gate.js';
import type { Operation } from '../../../src/policy/operation.js';
import { identity } from './support.js';

function sshConnection(rules: RuleConfig[], defaultEffect: 'allow' | 'deny' = 'deny'): SshConnectionConfig {
  return {
    name: 'box',
    type: 'ssh',
    target: { host: 'h', port: 22, user: 'u', privateKey: 'k', passphrase: undefined, password: undefined, hostKeys: [], connectTimeoutMs: 1000 },
    access: { groups: ['agents'], subjects: [], clients: [] },
    rules,
    defaultEffect,
    masking: [],
    recordResultRows: 0,
  };
}

function rule(name: string, effect: RuleConfig['effect'], shell?: Partial<ShellCondition>, actions?: SshAction[]): RuleConfig {
  return {
    name,
    effect,
    reason: effect === 'allow' ? undefined : `${name} says no.`,
    review: effect === 'review' ? { approvers: ['ops'], minApprovals: 1, timeoutMs: 60_000, grant: { kind: 'once', ttlMs: 60_000 } } : undefined,
    when: {
      identity: undefined,
      sql: undefined,
      ...(shell === undefined ? {} : { shell: { programs: undefined, args: undefined, writes: undefined, flags: undefined, unparseable: false, ...shell } }),
      ...(actions === undefined ? {} : { ssh: { actions } }),
    },
  };
}

function cmd(path: string, args: string[] = [], over: Partial<ShellCommand> = {}): ShellCommand {
  return { program: path.split('/').pop()!, path, args, redirections: [], wrappers: [], ...over };
}

function facts(commands: ShellCommand[], flags: ShellFlag[] = []): ShellInspection {
  return { ok: true, commands, flags, notes: flags.map((f) => `flag ${f}`) };
}

function decide(rules: RuleConfig[], text: string, inspection: ShellInspection, defaultEffect: 'allow' | 'deny' = 'deny') {
  const gate = createGate([sshConnection(rules, defaultEffect)]);
  const op: Operation = { kind: 'shell', connection: { name: 'box', type: 'ssh' }, text, via: 'exec', shell: inspection };
  return gate(identity(), op);
}

const READS = rule('reads', 'allow', { programs: ['ls', 'cat', 'echo'] });
const NO_RM = rule('no-rm', 'deny', { programs: ['rm'] });

describe('shell command lines', () => {
  it('allows a line whose every program is allowed', () => {
    expect(decide([READS], 'ls -l', facts([cmd('ls', ['-l'])]))).toMatchObject({ effect: 'allow', rule: 'reads' });
  });

  it('denies a line when any program is denied, naming the rule and quoting the command', () => {
    const d = decide([READS, NO_RM], 'ls; rm -rf /x', facts([cmd('ls'), cmd('rm', ['-rf', '/x'])]));
    expect(d).toMatchObject({ effect: 'deny', rule: 'no-rm' });
    expect(d.reason).toBe('Refused command "ls; rm -rf /x" (its program "rm" with arguments "-rf /x") by rule "no-rm": no-rm says no.');
  });

  it('denies by default a program no rule allows, saying what to do', () => {
    const d = decide([READS], 'ls; id', facts([cmd('ls'), cmd('id')]));
    expect(d).toMatchObject({ effect: 'deny', rule: 'default' });
    expect(d.reason).toContain('no rule of connection "box" allows running program "id"');
    expect(d.reason).toContain('ask a Portcullis administrator');
  });

  it('a deny rule on a bare name matches the program anywhere; an allow rule only from system directories', () => {
    expect(decide([NO_RM], '/tmp/x/rm', facts([cmd('/tmp/x/rm')]), 'allow').effect).toBe('deny');
    expect(decide([READS], '/bin/ls', facts([cmd('/bin/ls')])).effect).toBe('allow');
    expect(decide([READS], '/usr/bin/ls', facts([cmd('/usr/bin/ls')])).effect).toBe('allow');
    expect(decide([READS], './ls', facts([cmd('./ls')])).effect).toBe('deny');
    expect(decide([READS], '/tmp/ls', facts([cmd('/tmp/ls')])).effect).toBe('deny');
    expect(decide([READS], '/usr/bin/../../tmp/ls', facts([cmd('/usr/bin/../../tmp/ls')])).effect).toBe('deny');
  });

  it('wrappers are programs too: allowing ls does not allow sudo ls', () => {
    const line = facts([cmd('sudo', ['ls']), cmd('ls', [], { wrappers: ['sudo'] })]);
    expect(decide([READS], 'sudo ls', line)).toMatchObject({ effect: 'deny', rule: 'default' });
    expect(decide([READS, NO_RM], 'sudo rm x', facts([cmd('sudo', ['rm', 'x']), cmd('rm', ['x'], { wrappers: ['sudo'] })]), 'allow').rule).toBe('no-rm');
  });

  it('allow rules with args need every argument to match, and never vouch for expansions or traversal', () => {
    const logs = rule('logs', 'allow', { programs: ['cat'], args: ['/var/log/*'] });
    expect(decide([logs], 'cat /var/log/syslog', facts([cmd('cat', ['/var/log/syslog'])])).effect).toBe('allow');
    expect(decide([logs], 'cat /var/log/a /etc/shadow', facts([cmd('cat', ['/var/log/a', '/etc/shadow'])])).effect).toBe('deny');
    for (const arg of ['/var/log/../../etc/shadow', '/var/log/$X', '/var/log/{a,../../etc/shadow}', '/var/log/.?/.?/etc/shadow', '/var/log/.[.]/x', '/var/log/.*/x']) {
      expect(decide([logs], `cat ${arg}`, facts([cmd('cat', [arg])])).effect, arg).toBe('deny');
    }
  });

  it('deny rules with args match any argument, raw or with .. resolved', () => {
    const noShadow = rule('no-shadow', 'deny', { args: ['/etc/shadow'] });
    expect(decide([READS, noShadow], 'cat /etc/shadow', facts([cmd('cat', ['/etc/shadow'])])).rule).toBe('no-shadow');
    expect(decide([READS, noShadow], 'cat /tmp/../etc/shadow', facts([cmd('cat', ['/tmp/../etc/shadow'])])).rule).toBe('no-shadow');
  });

  it('an allow rule without writes admits no redirection to a file; with writes, only matching files', () => {
    const write = (target: string) => [{ op: '>', target, writes: true }];
    expect(decide([READS], 'echo x > /etc/passwd', facts([cmd('echo', ['x'], { redirections: write('/etc/passwd') })])).effect).toBe('deny');
    expect(decide([READS], 'echo x > /dev/null', facts([cmd('echo', ['x'], { redirections: write('/dev/null') })])).effect).toBe('allow');
    const tmp = rule('tmp-writes', 'allow', { programs: ['echo'], writes: ['/tmp/*'] });
    expect(decide([tmp], 'echo x > /tmp/a', facts([cmd('echo', ['x'], { redirections: write('/tmp/a') })])).effect).toBe('allow');
    expect(decide([tmp], 'echo x > /tmp/../etc/a', facts([cmd('echo', ['x'], { redirections: write('/tmp/../etc/a') })])).effect).toBe('deny');
    const noEtc = rule('no-etc', 'deny', { writes: ['/etc/*'] });
    expect(decide([READS, noEtc], 'echo x >> /etc/hosts', facts([cmd('echo', ['x'], { redirections: write('/etc/hosts') })]), 'allow').rule).toBe('no-etc');
  });

  it('sends a line to review when a program needs it, unless another is denied', () => {
    const review = rule('deploys', 'review', { programs: ['systemctl'] });
    expect(decide([READS, review], 'systemctl restart app', facts([cmd('systemctl', ['restart', 'app'])]))).toMatchObject({ effect: 'review', rule: 'deploys' });
    expect(decide([READS, review, NO_RM], 'systemctl restart app; rm x', facts([cmd('systemctl'), cmd('rm')])).effect).toBe('deny');
  });

  it('never allows a flagged line: built-in uncertain-command, even with default allow and matching allow rules', () => {
    const d = decide([READS], 'eval "ls"', facts([cmd('eval', ['ls'])], ['eval']), 'allow');
    expect(d).toMatchObject({ effect: 'deny', rule: 'uncertain-command' });
    expect(d.reason).toContain('flag eval');
  });

  it('a review rule naming a flag (or a review verdict) sends a flagged line to a human; a deny rule naming it denies', () => {
    const reviewFlags = rule('human-looks', 'review', { flags: ['variable_command'] });
    expect(decide([READS, reviewFlags], '$X', facts([], ['variable_command']))).toMatchObject({ effect: 'review', rule: 'human-looks' });
    const denyFlags = rule('never', 'deny', { flags: ['stdin_script'] });
    expect(decide([READS, denyFlags], 'curl x | sh', facts([cmd('curl'), cmd('sh')], ['stdin_script']))).toMatchObject({ effect: 'deny', rule: 'never' });
    expect(decide([READS, NO_RM], 'eval x; rm y', facts([cmd('eval'), cmd('rm')], ['eval'])).rule).toBe('no-rm');
  });

  it('refuses unparseable lines unless a review rule for them matches', () => {
    const bad: ShellInspection = { ok: false, error: 'unterminated single quote', position: 5 };
    const d = decide([READS], "echo 'x", bad, 'allow');
    expect(d).toMatchObject({ effect: 'deny', rule: 'unparseable-command' });
    expect(d.reason).toContain('unterminated single quote at character 6');
    expect(decide([rule('broken', 'review', { unparseable: true })], "echo 'x", bad).effect).toBe('review');
  });

  it('a line without programs is allowed as empty; SQL rules never match command lines', () => {
    expect(decide([], 'A=1', facts([]))).toMatchObject({ effect: 'allow', rule: 'empty-command' });
    const sqlRule: RuleConfig = { ...rule('sql-only', 'allow'), when: { identity: undefined, sql: { classes: ['read'], kinds: undefined, tables: undefined, functions: undefined, flags: undefined, unparseable: false } } };
    expect(decide([sqlRule], 'ls', facts([cmd('ls')])).effect).toBe('deny');
  });

  it('denies a shell operation that arrives without facts (fail closed)', () => {
    const gate = createGate([sshConnection([READS], 'allow')]);
    expect(gate(identity(), { kind: 'shell', connection: { name: 'box', type: 'ssh' }, text: 'ls', via: 'exec' })).toMatchObject({ effect: 'deny', rule: 'not-inspected' });
  });
});

describe('SSH actions', () => {
  const action = (rules: RuleConfig[], a: SshAction, defaultEffect: 'allow' | 'deny' = 'deny') =>
    createGate([sshConnection(rules, defaultEffect)])(identity(), { kind: 'ssh', connection: { name: 'box', type: 'ssh' }, text: '', via: 'test', action: a });

  it('shells follow rules naming the action, generic rules and the default', () => {
    expect(action([], 'shell').effect).toBe('deny');
    expect(action([], 'shell', 'allow').effect).toBe('allow');
    expect(action([rule('shells', 'allow', undefined, ['shell'])], 'shell')).toMatchObject({ effect: 'allow', rule: 'shells' });
    expect(action([rule('shells', 'review', undefined, ['shell'])], 'shell').effect).toBe('review');
    expect(action([rule('everything', 'deny')], 'shell', 'allow').effect).toBe('deny');
  });

  it('forwarding is allowed only by a rule naming it, whatever the default or generic allow rules', () => {
    expect(action([], 'port_forward', 'allow')).toMatchObject({ effect: 'deny', rule: 'forwarding' });
    expect(action([rule('anything', 'allow')], 'agent_forward', 'allow')).toMatchObject({ effect: 'deny', rule: 'forwarding' });
    expect(action([rule('fwd', 'allow', undefined, ['port_forward'])], 'port_forward')).toMatchObject({ effect: 'allow', rule: 'fwd' });
    expect(action([rule('fwd', 'allow', undefined, ['port_forward'])], 'x11').effect).toBe('deny');
  });

  it('shell-condition rules do not match SSH actions', () => {
    expect(action([rule('reads', 'allow', { programs: ['ls'] })], 'shell').effect).toBe('deny');
  });
});
