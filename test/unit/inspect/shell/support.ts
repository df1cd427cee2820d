import { expect } from 'vitest';
import type { ShellCommand, ShellInspection } from '../../../../src/inspect/shell/facts.js';
import { inspectShell } from '../../../../src/inspect/shell/inspect.js';

type Inspected = Extract<ShellInspection, { ok: true }>;

/** Inspects a line that must parse. */
export function inspected(line: string): Inspected {
  const result = inspectShell(line);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(line)} to parse, got: ${result.error} at ${result.position}`);
  return result;
}

/** `sudo>env>rm -rf /tmp/x`: wrappers, program and arguments on one line. */
export function describeCommand(c: ShellCommand): string {
  return [...c.wrappers, [c.program, ...c.args].join(' ')].join('>');
}

/** The commands of a line that must parse, described. */
export function commandsOf(line: string): string[] {
  return inspected(line).commands.map(describeCommand);
}

export function flagsOf(line: string): readonly string[] {
  return inspected(line).flags;
}

export function expectSyntaxError(line: string, message: RegExp, position?: number): void {
  const result = inspectShell(line);
  expect(result.ok, `expected ${JSON.stringify(line)} to be rejected`).toBe(false);
  if (result.ok) return;
  expect(result.error).toMatch(message);
  if (position !== undefined) expect(result.position).toBe(position);
}
