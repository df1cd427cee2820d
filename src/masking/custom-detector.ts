/**
 * Detectors of a deployment's own, from configuration: a regular expression, optionally
 * a checksum that candidates must pass, context words that must come shortly before, and
 * exact values never to mask (a published test number, the support line).
 *
 * Patterns are JavaScript regular expressions compiled in Unicode mode (`u`, so `\p{L}`
 * works and stray escapes are errors) — the mode the configuration is checked in. A group
 * named `value` makes only that part the masked span (`ref=(?<value>\d+)`).
 */
import type { Detector } from './detector.js';
import { mod97 } from './iban.js';
import { luhnValid } from './luhn.js';
import { ALL_DETECTORS } from './registry.js';

export const CUSTOM_VALIDATORS = ['luhn', 'mod97'] as const;
export type CustomValidator = (typeof CUSTOM_VALIDATORS)[number];

export interface CustomDetectorSpec {
  /** Kebab-case, unique among detectors (built-in names are taken). */
  readonly name: string;
  /** What `redact` writes: `[LABEL]`. Default: the name in upper case, dashes as underscores. */
  readonly label?: string;
  readonly pattern: string;
  /** '' or 'i' (case-insensitive); nothing else. */
  readonly flags?: string;
  readonly validator?: CustomValidator;
  /** Case-insensitive whole words, one of which must end within `before` (default 40) characters before the value. */
  readonly context?: { readonly words: readonly string[]; readonly before?: number };
  /** Exact values never masked. */
  readonly deny?: readonly string[];
  /** 0 < confidence ≤ 1; default 0.8. On overlap with another finding the higher wins. */
  readonly confidence?: number;
}

export type CustomDetectorField = 'name' | 'label' | 'pattern' | 'flags' | 'validator' | 'context' | 'deny' | 'confidence';

/** A specification that cannot become a detector; says which field and why. */
export class CustomDetectorError extends Error {
  constructor(
    readonly detector: string,
    readonly field: CustomDetectorField,
    readonly problem: string,
  ) {
    super(`custom detector ${detector === '' ? '(unnamed)' : `"${detector}"`}: ${field}: ${problem}`);
    this.name = 'CustomDetectorError';
  }
}

const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const LABEL = /^[A-Z][A-Z0-9_]{0,31}$/;
const DEFAULT_CONFIDENCE = 0.8;
const DEFAULT_CONTEXT_BEFORE = 40;
const MAX_CONTEXT_BEFORE = 1000;

/** Card-style numbers: digits with optional spaces or dashes, passing Luhn. */
function luhnValue(value: string): boolean {
  return luhnValid(value.replace(/[ -]/g, ''));
}

/**
 * ISO 7064 mod 97-10 as IBANs (ISO 13616) and creditor references (ISO 11649) use it:
 * letters count 10–35, the first four characters move to the end, the remainder is 1.
 * Spaces are ignored; any other non-alphanumeric character fails.
 */
function mod97Value(value: string): boolean {
  const compact = value.replace(/ /g, '').toUpperCase();
  if (compact.length < 5 || !/^[A-Z0-9]+$/.test(compact)) return false;
  return mod97(compact.slice(4) + compact.slice(0, 4)) === 1;
}

const VALIDATORS: Readonly<Record<CustomValidator, (value: string) => boolean>> = { luhn: luhnValue, mod97: mod97Value };

/** Escapes what Unicode-mode patterns treat as syntax (and only that: other escapes are errors there). */
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function contextWords(name: string, context: NonNullable<CustomDetectorSpec['context']>): { words: RegExp; before: number } {
  const words = context.words.map((w) => w.trim());
  if (words.length === 0 || words.some((w) => w === '')) throw new CustomDetectorError(name, 'context', 'words must be a non-empty list of non-empty words');
  const before = context.before ?? DEFAULT_CONTEXT_BEFORE;
  if (!Number.isInteger(before) || before < 1 || before > MAX_CONTEXT_BEFORE) {
    throw new CustomDetectorError(name, 'context', `before must be a whole number of characters from 1 to ${MAX_CONTEXT_BEFORE}, got ${before}`);
  }
  // Whole words: "ref" must not be found in "preference".
  const alternatives = words.map(escapeRegExp).join('|');
  return { words: new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alternatives})(?![\\p{L}\\p{N}_])`, 'iu'), before };
}

function compiledPattern(name: string, source: string, flags: string): RegExp {
  if (source === '') throw new CustomDetectorError(name, 'pattern', 'is empty');
  let regex: RegExp;
  try {
    regex = new RegExp(source, `gdu${flags}`);
  } catch (error) {
    throw new CustomDetectorError(name, 'pattern', `not a valid regular expression: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (new RegExp(source, `u${flags}`).test('')) {
    throw new CustomDetectorError(name, 'pattern', 'matches the empty string, so it would "find" a value everywhere; make it match at least one character');
  }
  return regex;
}

/** Throws CustomDetectorError naming the first field that is wrong. */
export function compileCustomDetector(spec: CustomDetectorSpec): Detector {
  const name = spec.name;
  if (name === '') throw new CustomDetectorError(name, 'name', 'is empty');
  if (!NAME.test(name)) throw new CustomDetectorError(name, 'name', 'must be kebab-case: lower-case letters and digits, words joined by single dashes (e.g. "employee-id")');
  if (ALL_DETECTORS.some((d) => d.name === name)) throw new CustomDetectorError(name, 'name', 'is the name of a built-in detector; choose another');

  const label = spec.label ?? name.toUpperCase().replace(/-/g, '_');
  if (!LABEL.test(label)) throw new CustomDetectorError(name, 'label', `must be upper-case letters, digits and underscores, starting with a letter, at most 32 (got "${label}")`);

  const flags = spec.flags ?? '';
  if (flags !== '' && flags !== 'i') throw new CustomDetectorError(name, 'flags', `only "i" (case-insensitive) is allowed, got "${flags}"`);

  const validatorName: string | undefined = spec.validator;
  let validate: ((value: string) => boolean) | undefined;
  if (validatorName !== undefined) {
    if (!(CUSTOM_VALIDATORS as readonly string[]).includes(validatorName)) {
      throw new CustomDetectorError(name, 'validator', `unknown validator "${validatorName}"; use ${CUSTOM_VALIDATORS.join(' or ')}`);
    }
    validate = VALIDATORS[validatorName as CustomValidator];
  }

  const confidence = spec.confidence ?? DEFAULT_CONFIDENCE;
  if (!(confidence > 0 && confidence <= 1)) throw new CustomDetectorError(name, 'confidence', `must be more than 0 and at most 1, got ${confidence}`);

  const deny = spec.deny ?? [];
  if (deny.some((value) => value === '')) throw new CustomDetectorError(name, 'deny', 'holds an empty value; list exact values to leave unmasked');

  return {
    name,
    label,
    rules: [
      {
        pattern: compiledPattern(name, spec.pattern, flags),
        ...(validate === undefined ? {} : { validate }),
        ...(spec.context === undefined ? {} : { context: contextWords(name, spec.context) }),
        confidence,
      },
    ],
    ...(deny.length === 0 ? {} : { deny: new Set(deny) }),
  };
}
