/**
 * getopt-style scanning of a wrapper's options, stopping at its first operand (every wrapper
 * modelled here stops there: `sudo -u root rm -rf` never reads `-rf` as sudo's). Knowing which
 * options take a value is what decides which word is the wrapped program, so an option the
 * table does not know stops the scan and is reported rather than guessed.
 */
import type { Arg } from './words.js';

export interface OptionSpec {
  /** Short options that take a value, attached (`-uroot`) or as the next word. */
  readonly shortValue?: string;
  /** Short options whose value can only be attached (GNU optional arguments: `-i{}`). */
  readonly shortOptional?: string;
  readonly shortFlags?: string;
  readonly longValue?: readonly string[];
  /** Long options with an optional `=value`. */
  readonly longOptional?: readonly string[];
  readonly longFlags?: readonly string[];
  /** `-` alone is an option (env's `-` means `-i`) rather than an operand. */
  readonly dashIsOption?: boolean;
}

export interface ScannedOptions {
  /** Index of the first operand in the (possibly spliced) args; `args.length` when none. */
  readonly operand: number;
  /** The args after splicing (see `expand`). */
  readonly args: readonly Arg[];
  /** Each option met: short letter or long name, with its value (`true` when none). */
  readonly seen: ReadonlyMap<string, string | true>;
  /** Why the scan stopped early: an option the spec does not know, or one missing its value. */
  readonly problem: string | undefined;
}

/**
 * `expand` may return words to insert after the current one (env's `-S STRING`), so that
 * options inside them are scanned too.
 */
export function scanOptions(
  input: readonly Arg[],
  spec: OptionSpec,
  expand?: (name: string, value: string, from: Arg) => readonly Arg[] | undefined,
): ScannedOptions {
  const args = [...input];
  const seen = new Map<string, string | true>();
  const longNames = [...(spec.longValue ?? []), ...(spec.longOptional ?? []), ...(spec.longFlags ?? [])];
  let i = 0;
  const record = (name: string, value: string | true, from: Arg): void => {
    seen.set(name, value);
    if (value !== true && expand) {
      const extra = expand(name, value, from);
      if (extra) args.splice(i + 1, 0, ...extra);
    }
  };
  const done = (problem?: string): ScannedOptions => ({ operand: i, args, seen, problem });

  while (i < args.length) {
    const arg = args[i]!;
    const a = arg.value;
    if (a === '--') {
      i += 1;
      return done();
    }
    if (a === '-' && spec.dashIsOption) {
      seen.set('-', true);
      i += 1;
      continue;
    }
    if (!a.startsWith('-') || a === '-') return done();
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const given = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const name = longNames.includes(given) ? given : uniquePrefix(longNames, given);
      if (name === undefined) return done(`unknown option ${a}`);
      if (spec.longValue?.includes(name)) {
        let value: string | undefined = eq >= 0 ? a.slice(eq + 1) : undefined;
        if (value === undefined) {
          i += 1;
          value = args[i]?.value;
          if (value === undefined) return done(`option ${a} needs a value`);
        }
        record(name, value, args[i]!);
      } else if (spec.longOptional?.includes(name)) {
        record(name, eq >= 0 ? a.slice(eq + 1) : true, arg);
      } else {
        if (eq >= 0) return done(`option --${name} takes no value`);
        record(name, true, arg);
      }
      i += 1;
      continue;
    }
    for (let j = 1; j < a.length; j += 1) {
      const ch = a[j]!;
      if (spec.shortValue?.includes(ch)) {
        let value = a.slice(j + 1);
        let from = arg;
        if (value === '') {
          i += 1;
          const next = args[i];
          if (next === undefined) return done(`option -${ch} needs a value`);
          value = next.value;
          from = next;
        }
        record(ch, value, from);
        break;
      }
      if (spec.shortOptional?.includes(ch)) {
        const value = a.slice(j + 1);
        record(ch, value === '' ? true : value, arg);
        break;
      }
      if (spec.shortFlags?.includes(ch)) {
        seen.set(ch, true);
        continue;
      }
      return done(`unknown option -${ch}`);
    }
    i += 1;
  }
  return done();
}

function uniquePrefix(names: readonly string[], given: string): string | undefined {
  if (given === '') return undefined;
  const matches = names.filter((n) => n.startsWith(given));
  return matches.length === 1 ? matches[0] : undefined;
}
