import { describe, expect, it } from 'vitest';
import { ExitCode, type CliIo } from '../../../src/cli/command.js';
import { main } from '../../../src/cli/dispatch.js';

function capture(): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out: (t: string) => void (io.stdout += t + '\n'),
    err: (t: string) => void (io.stderr += t + '\n'),
  };
  return io;
}

const COMMANDS = ['serve', 'demo', 'dev-idp', 'token', 'config check', 'config schema', 'policy check', 'mask check', 'audit verify', 'audit pubkey', 'sessions list', 'sessions show', 'sessions export', 'replay', 'approvals list', 'approvals show', 'approvals approve', 'approvals deny', 'approvals revoke', 'approvals wait', 'access request', 'ssh host-key'];

describe('portcullis dispatcher', () => {
  it('lists every command in the top-level help', async () => {
    const io = capture();
    expect(await main(['--help'], io, new AbortController().signal)).toBe(ExitCode.ok);
    for (const c of COMMANDS) expect(io.stdout).toContain(`  ${c} `);
  });

  it.each(COMMANDS)('prints usage for "%s --help" and exits 0', async (name) => {
    const io = capture();
    expect(await main([...name.split(' '), '--help'], io, new AbortController().signal)).toBe(ExitCode.ok);
    expect(io.stdout).toMatch(/^Usage: portcullis /);
    expect(io.stdout).toContain(`portcullis ${name}`);
  });

  it('exits 2 on an unknown command, naming it', async () => {
    const io = capture();
    expect(await main(['frobnicate'], io, new AbortController().signal)).toBe(ExitCode.usage);
    expect(io.stderr).toContain('unknown command "frobnicate"');
  });

  it('exits 2 on an unknown option, naming it', async () => {
    const io = capture();
    expect(await main(['serve', '--confgi', 'x.yaml'], io, new AbortController().signal)).toBe(ExitCode.usage);
    expect(io.stderr).toContain('--confgi');
  });

  it('exits 2 with no arguments', async () => {
    const io = capture();
    expect(await main([], io, new AbortController().signal)).toBe(ExitCode.usage);
  });

  it('serve exits 1 on an invalid config, naming the file', async () => {
    const io = capture();
    expect(await main(['serve', '--config', '/nonexistent/portcullis.yaml'], io, new AbortController().signal)).toBe(
      ExitCode.failure,
    );
    expect(io.stderr).toContain('/nonexistent/portcullis.yaml');
  });
});
