/** Dispatches `portcullis <command>` to one command per file under src/cli/. */
import { parseArgs } from 'node:util';
import { accessRequestCommand } from './access.js';
import {
  approvalsApproveCommand,
  approvalsDenyCommand,
  approvalsListCommand,
  approvalsRevokeCommand,
  approvalsShowCommand,
  approvalsWaitCommand,
} from './approvals.js';
import { auditPubkeyCommand, auditVerifyCommand } from './audit.js';
import { ExitCode, type CliCommand, type CliIo } from './command.js';
import { configCheckCommand, configSchemaCommand } from './config.js';
import { demoCommand } from './demo.js';
import { devIdpCommand } from './dev-idp.js';
import { maskCheckCommand } from './mask.js';
import { policyCheckCommand } from './policy.js';
import { replayCommand } from './replay.js';
import { serveCommand } from './serve.js';
import { sshHostKeyCommand } from './ssh.js';
import { sessionsExportCommand, sessionsListCommand, sessionsShowCommand } from './sessions.js';
import { tokenCommand } from './token.js';

const COMMANDS: readonly CliCommand[] = [
  serveCommand,
  demoCommand,
  devIdpCommand,
  tokenCommand,
  configCheckCommand,
  configSchemaCommand,
  policyCheckCommand,
  maskCheckCommand,
  auditVerifyCommand,
  auditPubkeyCommand,
  sessionsListCommand,
  sessionsShowCommand,
  sessionsExportCommand,
  replayCommand,
  approvalsListCommand,
  approvalsShowCommand,
  approvalsApproveCommand,
  approvalsDenyCommand,
  approvalsRevokeCommand,
  approvalsWaitCommand,
  accessRequestCommand,
  sshHostKeyCommand,
];

function topUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: portcullis <command> [options]',
    '',
    'Just-in-time access gateway for autonomous agents.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'portcullis <command> --help' for a command's options.",
  ].join('\n');
}

/** Finds the command named by the first one or two arguments. */
function findCommand(argv: readonly string[]): { command: CliCommand; rest: string[] } | undefined {
  const two = `${argv[0]} ${argv[1]}`;
  const byTwo = COMMANDS.find((c) => c.name === two);
  if (byTwo) return { command: byTwo, rest: argv.slice(2) };
  const byOne = COMMANDS.find((c) => c.name === argv[0]);
  return byOne ? { command: byOne, rest: argv.slice(1) } : undefined;
}

export async function main(argv: readonly string[], io: CliIo, signal: AbortSignal): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(topUsage());
    return argv.length === 0 ? ExitCode.usage : ExitCode.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    io.err(`portcullis: unknown command "${argv.join(' ')}"\n\n${topUsage()}`);
    return ExitCode.usage;
  }
  const { command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.usage);
    return ExitCode.ok;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`portcullis ${command.name}: ${(err as Error).message}\n\n${command.usage}`);
    return ExitCode.usage;
  }
  return command.run(parsed, io, signal);
}
