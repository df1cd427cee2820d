/**
 * `portcullis mask check` runs the content detectors over a text offline and prints it
 * masked — a way to see what the masker would hide before it guards real traffic.
 */
import { DEFAULT_DETECTORS, UnknownDetectorError, detectorsByName } from '../masking/registry.js';
import { SPAN_STRATEGIES, maskText, type SpanStrategy } from '../masking/mask.js';
import { scan } from '../masking/scan.js';
import type { Detector } from '../masking/detector.js';
import { ExitCode, type CliArgs, type CliCommand, type CliIo } from './command.js';

const NAME = 'mask check';

const USAGE = `Usage: portcullis mask check [--strategy redact|partial] [--detector NAME]...
                             [--json] [TEXT...]

Finds sensitive values in TEXT (the arguments joined by spaces, or stdin when there
are none) and prints the text with them masked. Nothing is contacted. A preview of the
detectors: masking on the gateway's data path is not wired yet.

Strategies:
  redact    each value becomes its label: [EMAIL] [CARD] [SSN] [IBAN] [PHONE] [IP] [SECRET]
  partial   letters and digits become "*" except the last 4, separators stay
            (**** **** **** 1111); values under 8 letters/digits and private keys
            are starred or redacted whole

Detectors (default: all but ip):
  ${DEFAULT_DETECTORS.map((d) => d.name).join(', ')}, ip

Options:
      --strategy S      redact (default) or partial
      --detector NAME   use only this detector; repeat for several
      --json            print {"masked": TEXT, "findings": [{detector, label, start,
                        end, confidence}]} instead; start/end are UTF-16 offsets into
                        the input, and the values themselves are never printed
  -h, --help            show this help

Exit status: 0 (whether or not anything was found); 2 bad command line.

Examples:
  portcullis mask check "card 4111 1111 1111 1111, mail ann@example.com"
  psql -Atc "SELECT notes FROM tickets" | portcullis mask check --strategy partial
  portcullis mask check --detector ip --detector email --json < app.log
`;

export interface MaskCheckDeps {
  /** Reads all of stdin as UTF-8. Replaced in tests. */
  readonly readStdin?: () => Promise<string>;
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export function createMaskCheckCommand(deps: MaskCheckDeps = {}): CliCommand {
  return {
    name: NAME,
    summary: 'Mask sensitive values in a text offline (detector preview)',
    usage: USAGE,
    options: {
      strategy: { type: 'string' },
      detector: { type: 'string', multiple: true },
      json: { type: 'boolean' },
    },
    async run(args: CliArgs, io: CliIo): Promise<ExitCode> {
      const strategy = args.values['strategy'] ?? 'redact';
      if (typeof strategy !== 'string' || !(SPAN_STRATEGIES as readonly string[]).includes(strategy)) {
        return usageError(io, `unknown strategy "${String(strategy)}"; use ${SPAN_STRATEGIES.join(' or ')}`);
      }
      const names = args.values['detector'];
      let detectors: readonly Detector[] = DEFAULT_DETECTORS;
      if (Array.isArray(names)) {
        try {
          detectors = detectorsByName(names.filter((n): n is string => typeof n === 'string'));
        } catch (error) {
          if (error instanceof UnknownDetectorError) return usageError(io, error.message);
          throw error;
        }
      }
      const text = args.positionals.length > 0 ? args.positionals.join(' ') : await (deps.readStdin ?? readProcessStdin)();
      const findings = scan(text, detectors);
      const masked = maskText(text, findings, strategy as SpanStrategy);
      if (args.values['json'] === true) io.out(`${JSON.stringify({ masked, findings }, null, 2)}\n`);
      else io.out(masked.endsWith('\n') ? masked : `${masked}\n`);
      return ExitCode.ok;
    },
  };
}

export const maskCheckCommand = createMaskCheckCommand();

function usageError(io: CliIo, message: string): ExitCode {
  io.err(`portcullis ${NAME}: ${message}\nRun "portcullis ${NAME} --help" for usage.\n`);
  return ExitCode.usage;
}
