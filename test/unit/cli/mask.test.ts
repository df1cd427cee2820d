import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../../src/cli/command.js';
import { createMaskCheckCommand } from '../../../src/cli/mask.js';
import { runCli } from './run-cli.js';

const TEXT = 'mail ann@example.com card 4111 1111 1111 1111';

interface JsonOutput {
  masked: string;
  findings: { detector: string; label: string; start: number; end: number; confidence: number }[];
}

describe('portcullis mask check', () => {
  it('prints the text redacted', async () => {
    const run = await runCli('mask', 'check', TEXT);
    expect(run).toEqual({ code: 0, stdout: 'mail [EMAIL] card [CARD]\n', stderr: '' });
  });

  it('joins several arguments with spaces', async () => {
    expect((await runCli('mask', 'check', 'ssn', '123-45-6780')).stdout).toBe('ssn [SSN]\n');
  });

  it('--strategy partial keeps the last 4', async () => {
    expect((await runCli('mask', 'check', '--strategy', 'partial', TEXT)).stdout).toBe('mail ***@******e.com card **** **** **** 1111\n');
  });

  it('--detector limits the detectors, and opts in to ip', async () => {
    expect((await runCli('mask', 'check', '--detector', 'card', TEXT)).stdout).toBe('mail ann@example.com card [CARD]\n');
    expect((await runCli('mask', 'check', 'host 10.1.2.3')).stdout).toBe('host 10.1.2.3\n');
    expect((await runCli('mask', 'check', '--detector', 'ip', '--detector', 'email', 'host 10.1.2.3 ann@example.com')).stdout).toBe('host [IP] [EMAIL]\n');
  });

  it('--json prints findings without the values', async () => {
    const run = await runCli('mask', 'check', '--json', TEXT);
    expect(run.code).toBe(0);
    const output = JSON.parse(run.stdout) as JsonOutput;
    expect(output).toEqual({
      masked: 'mail [EMAIL] card [CARD]',
      findings: [
        { detector: 'email', label: 'EMAIL', start: 5, end: 20, confidence: 0.95 },
        { detector: 'card', label: 'CARD', start: 26, end: 45, confidence: 0.95 },
      ],
    });
    expect(run.stdout).not.toContain('ann@example.com');
    expect(run.stdout).not.toContain('4111');
  });

  it('exits 0 when nothing is found', async () => {
    expect(await runCli('mask', 'check', 'nothing to see')).toEqual({ code: 0, stdout: 'nothing to see\n', stderr: '' });
  });

  it('reads stdin when no text is given, keeping its line ends', async () => {
    const out: string[] = [];
    const io: CliIo = { out: (t) => void out.push(t), err: () => undefined };
    const command = createMaskCheckCommand({ readStdin: async () => 'a@example.com\nsecret: x1\n' });
    expect(await command.run({ values: {}, positionals: [] }, io, new AbortController().signal)).toBe(0);
    expect(out.join('')).toBe('[EMAIL]\nsecret: [SECRET]\n');
  });

  it.each([
    [['--strategy', 'hash'], 'unknown strategy "hash"; use redact or partial'],
    [['--detector', 'fone'], 'unknown detector "fone"; known detectors: email, card'],
    [['--bogus'], '--bogus'],
  ])('exits 2 on %j, naming the problem', async (args, message) => {
    const run = await runCli('mask', 'check', ...args, 'x');
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
  });

  it('--help lists every detector', async () => {
    const run = await runCli('mask', 'check', '--help');
    expect(run.code).toBe(0);
    for (const name of ['email', 'card', 'ssn', 'iban', 'ip', 'aws-secret-key', 'private-key', 'jwt', 'secret-assignment']) expect(run.stdout).toContain(name);
  });
});
