/**
 * Is a string of digits a valid phone number? Decided on libphonenumber-js's "max"
 * metadata (each country's number ranges per type: fixed line, mobile, toll free…), with
 * its patterns compiled once per country.
 *
 * Why not just `parsePhoneNumber(…).isValid()`: it rebuilds its regular expressions from
 * the metadata's pattern strings on every call (some are kilobytes long), which costs
 * 15–50 µs per number — a result with a phone column would mask at a few MB/s. The checks
 * here are the same ones (national number pattern, then type patterns and lengths; every
 * country sharing a calling code), and unit tests hold the answers to libphonenumber's
 * own. What this module adds is how a number must be *written* to count (with the trunk
 * prefix where its format writes one, its first group whole). Numbers that need the
 * metadata's rewriting rules (national numbers of Argentina, Brazil, Japan…; Norfolk
 * Island's short numbers) are left to libphonenumber's parser, answers and cost alike.
 */
import { Metadata, parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js/max';

/** The part of libphonenumber-js's Metadata API used here (present at run time, not in its typings). */
interface PlanView {
  callingCode(): string;
  nationalNumberPattern(): string;
  nationalPrefix(): string | 0 | undefined;
  nationalPrefixForParsing(): string | 0 | undefined;
  nationalPrefixTransformRule(): string | 0 | undefined;
  IDDPrefix(): string | 0 | undefined;
  formats(): readonly FormatView[];
  type(name: string): { pattern(): string; possibleLengths(): readonly number[] | 0 | undefined } | undefined;
}

interface FormatView {
  pattern(): string;
  leadingDigitsPatterns(): readonly string[];
  nationalPrefixIsMandatoryWhenFormattingInNationalFormat(): boolean;
}

interface MetadataView {
  selectNumberingPlan(countryOrCallingCode: string): void;
  readonly numberingPlan: PlanView | undefined;
  getCountryCodesForCallingCode(callingCode: string): readonly string[] | undefined;
  isNonGeographicCallingCode(callingCode: string): boolean;
}

const TYPES = ['FIXED_LINE', 'MOBILE', 'TOLL_FREE', 'PREMIUM_RATE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL'];

interface NumberType {
  /** The pattern as the metadata writes it (unanchored). */
  readonly source: string;
  readonly lengths: readonly number[] | undefined;
}

/** How a group of national numbers is written (libphonenumber picks the first that fits). */
interface Format {
  /** The most specific leading-digits pattern, anchored at the start. */
  readonly leadingDigits: RegExp | undefined;
  readonly pattern: RegExp;
  /** Written with the trunk prefix ("030 …"), or without ("(415) 555-…", Chinese mobiles). */
  readonly trunkPrefixWritten: boolean;
}

interface Plan {
  readonly callingCode: string;
  /** Whether the plan's formats write the trunk prefix: what a number no format fits gets. */
  readonly trunkPrefixWritten: boolean;
  /** The trunk prefix dialled before national numbers ("0", "1", "8"), if any. */
  readonly trunkPrefix: string | undefined;
  readonly formats: readonly Format[];
  /** False when stripping the trunk prefix needs rewriting rules: such regions go through libphonenumber's parser. */
  readonly simple: boolean;
  /**
   * For plans that are not simple: their (anchored) prefix-for-parsing pattern, whose
   * capturing groups, when they match, are what the rewriting rule rewrites.
   */
  readonly rewritten: RegExp | undefined;
  /** Anchored international dialling prefix ("00", "011"). */
  readonly internationalPrefix: RegExp | undefined;
  /** The national number pattern as the metadata writes it (unanchored). */
  readonly nationalNumberSource: string;
  readonly types: readonly NumberType[];
}

const metadata = new Metadata() as unknown as MetadataView;
const plans = new Map<string, Plan>();

const entire = (source: string): RegExp => new RegExp(`^(?:${source})$`);
const present = (value: string | 0 | undefined): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** `code`: a country (ISO 3166-1 alpha-2) or a non-geographic calling code ("800"). */
function plan(code: string): Plan {
  let compiled = plans.get(code);
  if (compiled === undefined) {
    metadata.selectNumberingPlan(code);
    const view = metadata.numberingPlan;
    if (view === undefined) throw new Error(`libphonenumber-js has no numbering plan for ${code}`);
    const trunkPrefix = present(view.nationalPrefix());
    const idd = present(view.IDDPrefix());
    const types: NumberType[] = [];
    for (const name of TYPES) {
      const type = view.type(name);
      // An empty pattern means "same as fixed line" (checked already).
      if (type === undefined || type.pattern() === '') continue;
      const lengths = type.possibleLengths();
      types.push({ source: type.pattern(), lengths: lengths === 0 ? undefined : lengths });
    }
    compiled = {
      callingCode: view.callingCode(),
      trunkPrefix,
      trunkPrefixWritten: view.formats().some((f) => f.nationalPrefixIsMandatoryWhenFormattingInNationalFormat()),
      formats: view.formats().map((f) => {
        const leading = f.leadingDigitsPatterns().at(-1);
        return {
          leadingDigits: leading === undefined ? undefined : new RegExp(`^(?:${leading})`),
          pattern: entire(f.pattern()),
          trunkPrefixWritten: f.nationalPrefixIsMandatoryWhenFormattingInNationalFormat(),
        };
      }),
      simple: present(view.nationalPrefixTransformRule()) === undefined,
      rewritten:
        present(view.nationalPrefixTransformRule()) === undefined ? undefined : new RegExp(`^(?:${present(view.nationalPrefixForParsing()) ?? ''})`),
      internationalPrefix: idd === undefined ? undefined : new RegExp(`^(?:${idd})`),
      nationalNumberSource: view.nationalNumberPattern(),
      types,
    };
    plans.set(code, compiled);
  }
  return compiled;
}

const formatFor = (nsn: string, p: Plan): Format | undefined =>
  p.formats.find((f) => (f.leadingDigits === undefined || f.leadingDigits.test(nsn)) && f.pattern.test(nsn));

/**
 * A number written in groups must not cut its first group (the area code, as the plan
 * formats it) short: "04-3572449" is an employer id, not Hamburg; "8-765-06339-2" an
 * ISBN, not Jamaica; "30 12345678" is not the US "301 234 5678". Longer is fine
 * ("0207 946 0958" for "020 7946 0958"), and so is one digit short of a group of four
 * or more — how mobile prefixes are often written ("0151 …" for "01512 …").
 */
function keepsFirstGroupWhole(text: string, nsn: string, p: Plan, trunk: string | undefined): boolean {
  const groups = text.match(/\d+/g) ?? [];
  const format = formatFor(nsn, p);
  const first = format?.pattern.exec(nsn)?.[1];
  if (groups.length < 2 || first === undefined) return true;
  let lead = groups[0]!;
  // A trunk prefix on its own ("0 30 1234567", "1-415-…") is not the first group.
  if (trunk !== undefined) lead = lead === trunk ? groups[1]! : lead.slice(trunk.length);
  return lead.length >= (first.length >= 4 ? first.length - 1 : first.length);
}

/** The plans of one calling code: NANP's 25 countries for "1", Britain and its islands for "44". */
interface CallingCode {
  readonly plans: readonly Plan[];
  /**
   * Whether some plan's rewriting rule applies to these digits (Norfolk Island reads
   * "80880" as "380880"): then libphonenumber's parser decides.
   */
  readonly rewrites: (nsn: string) => boolean;
  /**
   * Whether a national significant number is valid under one of the plans — it matches
   * the plan's national number pattern and one of its types (pattern and possible
   * lengths) — in one regex, the plans tried in their order: the first one `nsn` is valid
   * under has its empty group (planGroups) set. One test instead of a test per plan and
   * type (NANP has 25 plans of up to 10 types each).
   */
  readonly firstValid: RegExp;
  /** The number of each plan's group in firstValid (numbered: named ones cost an object per match). */
  readonly planGroups: readonly number[];
  /**
   * The lengths a number valid under one of the plans can have (the union of their types'
   * possible lengths), or undefined when a plan does not bound them: tested before the
   * patterns, it rules most digit strings out for the price of a lookup.
   */
  readonly lengths: ReadonlySet<number> | undefined;
}

function possibleLengths(plans: readonly Plan[]): ReadonlySet<number> | undefined {
  const lengths = new Set<number>();
  for (const p of plans) {
    if (p.types.length === 0) return undefined;
    for (const t of p.types) {
      if (t.lengths === undefined) return undefined;
      for (const length of t.lengths) lengths.add(length);
    }
  }
  return lengths;
}

/** How many capturing groups a pattern has (the metadata's may have some). */
const groupsIn = (source: string): number => new RegExp(`(?:${source})|`).exec('')!.length - 1;

/** See CallingCode.firstValid and planGroups. */
function firstValidPattern(plans: readonly Plan[]): { firstValid: RegExp; planGroups: number[] } {
  const planGroups: number[] = [];
  let groups = 0;
  const branches = plans.map((p) => {
    const types = p.types.map((t) => {
      const length = t.lengths === undefined ? '' : `(?=(?:${t.lengths.map((l) => `\\d{${l}}`).join('|')})$)`;
      return `${length}(?:${t.source})$`;
    });
    const branch = `(?=(?:${p.nationalNumberSource})$)${types.length === 0 ? '' : `(?:${types.join('|')})`}`;
    groups += groupsIn(branch) + 1;
    planGroups.push(groups);
    return `${branch}()`;
  });
  return { firstValid: new RegExp(`^(?:${branches.join('|')})`), planGroups };
}

function callingCodeOf(plans: readonly Plan[], rewrites: (nsn: string) => boolean): CallingCode {
  return { plans, rewrites, ...firstValidPattern(plans), lengths: possibleLengths(plans) };
}

const callingCodes = new Map<string, CallingCode | null>();

/** Undefined for a calling code nobody has. */
function callingCode(code: string): CallingCode | undefined {
  let found = callingCodes.get(code);
  if (found === undefined) {
    const countries = metadata.getCountryCodesForCallingCode(code) ?? (metadata.isNonGeographicCallingCode(code) ? [code] : undefined);
    if (countries === undefined) found = null;
    else {
      const plans = countries.map(plan);
      // NANP has 20 such plans, of a few distinct patterns.
      const rewriting = [...new Map(plans.flatMap((p) => (p.rewritten === undefined ? [] : [[p.rewritten.source, p.rewritten] as const]))).values()];
      // Whether any of them matches at all, in one test (anchored once: each of their
      // sources starts with "^"): most numbers match none.
      const anyRewriting = new RegExp(rewriting.length === 0 ? '(?!)' : `^(?:${rewriting.map((r) => r.source.slice(1)).join('|')})`);
      const rewrites = (nsn: string): boolean =>
        anyRewriting.test(nsn) &&
        rewriting.some((r) => {
          const match = r.exec(nsn);
          if (match === null) return false;
          for (let group = 1; group < match.length; group++) if (match[group] !== undefined) return true;
          return false;
        });
      found = callingCodeOf(plans, rewrites);
    }
    callingCodes.set(code, found);
  }
  return found ?? undefined;
}

/** The plan under which `nsn` is a valid national significant number, if any. */
function planOf(nsn: string, code: CallingCode): Plan | undefined {
  if (code.lengths !== undefined && !code.lengths.has(nsn.length)) return undefined;
  const match = code.firstValid.exec(nsn);
  if (match === null) return undefined;
  const { planGroups } = code;
  for (let i = 0; i < planGroups.length; i++) if (match[planGroups[i]!] !== undefined) return code.plans[i];
  return undefined;
}

/**
 * Digits after a calling code: the national significant number, or — as in
 * "+44 (0)20 7946 0958" — the trunk prefix and then the number.
 */
function validAfterCallingCode(rest: string, code: CallingCode): boolean {
  if (planOf(rest, code) !== undefined) return true;
  const trunk = code.plans[0]?.trunkPrefix;
  return trunk !== undefined && rest.startsWith(trunk) && planOf(rest.slice(trunk.length), code) !== undefined;
}

/** Digits of an international number, calling code first (what follows "+"). */
export function validInternationalNumber(digits: string): boolean {
  // Calling codes are prefix-free: at most one of the 1–3 digit prefixes is assigned.
  for (let length = 1; length <= 3 && length < digits.length; length++) {
    const code = callingCode(digits.slice(0, length));
    if (code === undefined) continue;
    const rest = digits.slice(length);
    return code.rewrites(rest) ? parsePhoneNumberFromString(`+${digits}`)?.isValid() === true : validAfterCallingCode(rest, code);
  }
  return false;
}

const digitsOf = (text: string): string => text.replace(/\D/g, '');

/**
 * libphonenumber's parser, for regions with rewriting trunk rules; `digits` must be how
 * the parsed number is written (see validNationalNumber).
 */
function validByParser(text: string, digits: string, region: CountryCode): boolean {
  const number: PhoneNumber | undefined = parsePhoneNumberFromString(text, region);
  if (number === undefined || !number.isValid()) return false;
  const international = `${number.countryCallingCode}${number.nationalNumber}`;
  if (digits === international || digits === digitsOf(number.formatNational())) return true;
  const prefix = digits.slice(0, digits.length - international.length);
  return digits.endsWith(international) && plan(region).internationalPrefix?.test(prefix) === true;
}

/**
 * Whether `digits` (the digits of `text`) is a valid number as written in `region`:
 * nationally, with the trunk prefix where the region writes one ("030 1234567" in DE,
 * never "30 1234567"; "415 555 2671" or "1 415 555 2671" in the US), or behind the
 * region's international dialling prefix ("0049 30 1234567" from DE, "011 44 …" from
 * the US). A calling code without "+" ("49 …") is not read: "49-3652699" is an id.
 */
export function validNationalNumber(text: string, digits: string, region: CountryCode): boolean {
  const home = plan(region);
  if (!home.simple) return validByParser(text, digits, region);
  const code = callingCode(home.callingCode) ?? callingCodeOf([home], () => false);
  const trunk = home.trunkPrefix;
  if (trunk !== undefined && digits.startsWith(trunk)) {
    const nsn = digits.slice(trunk.length);
    const withTrunk = planOf(nsn, code);
    if (withTrunk !== undefined && keepsFirstGroupWhole(text, nsn, withTrunk, trunk)) return true;
  }
  // Without the trunk prefix only where the number's format does not write one.
  const asWritten = planOf(digits, code);
  if (asWritten !== undefined && !(formatFor(digits, asWritten)?.trunkPrefixWritten ?? asWritten.trunkPrefixWritten)) {
    if (keepsFirstGroupWhole(text, digits, asWritten, undefined)) return true;
  }
  const idd = home.internationalPrefix?.exec(digits);
  return idd !== null && idd !== undefined && validInternationalNumber(digits.slice(idd[0].length));
}
