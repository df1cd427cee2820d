/**
 * What a content detector is: data, not code paths. A detector names one kind of
 * sensitive value and lists rules; each rule is a pattern, an optional validator that
 * rejects look-alikes (Luhn, mod-97, SSN ranges, phone numbering plans…), optional
 * context words that must appear nearby, and the confidence a validated match earns —
 * or, where a pattern cannot say it cheaply, a search of its own (`find`). Either kind
 * may say what a text must hold for it to find anything (a length, a prefilter), so
 * `scan` passes over the rest cheaply.
 */
import type { TextFacts } from './text-facts.js';

export interface ContextRequirement {
  /**
   * Matched case-insensitively against the text (its own flags are used as given). A
   * candidate qualifies when a match lies wholly within the `before` code units just
   * before it; word boundaries are judged on the whole text, not on that window.
   */
  readonly words: RegExp;
  /** How many UTF-16 code units before the candidate to look in. */
  readonly before: number;
  /**
   * Where the words can start, as PatternRule.nextStart says where a pattern can: the
   * first position at or after `from` where they might match, never skipping one where
   * they do, or -1. Without it they are searched for over the whole text.
   */
  readonly nextWord?: (facts: TextFacts, from: number) => number;
}

/** What lets `scan` skip a rule cheaply; each must hold for every text the rule finds something in. */
interface RuleGates {
  /**
   * The length of the shortest match (UTF-16 code units): shorter texts are skipped
   * without a single test — most cells of a result are short (names, statuses, dates).
   */
  readonly minLength?: number;
  /**
   * A cheap pattern that every text containing a match also matches (a literal such as
   * `@` or `AKIA`, a label word, a digit layout), tested when the requirements hold.
   * Rules sharing one (same source and flags) test it once per text. Several must all
   * match, tested in order: a union shared by many rules first rules them all out with
   * one test for the many texts holding none, where each rule's own prefilter would cost
   * a test — a scan of the text — each.
   */
  readonly prefilter?: RegExp | readonly RegExp[];
  /**
   * Facts about the text (see TextFacts) that every text the rule finds something in
   * has: `numbers` (TextFacts.hasNumbers: a stretch of digits that a card, SSN or phone
   * number could be in, or an IBAN's start) or `textMarkers` (TextFacts.hasTextMarkers:
   * an "@", or a match of TEXT_MARKER_WORDS). Worked out once per text for all the rules
   * that need them, so a text without them skips those rules for the price of reading a
   * field.
   */
  readonly needs?: 'numbers' | 'textMarkers';
}

export interface PatternRule extends RuleGates {
  /**
   * What a candidate looks like. Its `i`, `m`, `s`, `u` flags are kept; `scan` runs a
   * private copy with the iteration flags it needs, so `g`/`d`/`y` here do not matter.
   *
   * Named groups shape the sensitive span:
   * - `value`, `value2`, `value3` (one per alternative): the first that matched is the
   *   span — e.g. `password=VALUE` masks only the value;
   * - `lead`, matched inside a lookbehind, extends the span back to its start. It lets a
   *   pattern begin at a rare character (the `@` of an email) — which the regex engine
   *   finds fast — and still cover what comes before it.
   */
  readonly pattern: RegExp;
  /** Receives the sensitive span's text; false drops the candidate. */
  readonly validate?: (value: string) => boolean;
  readonly context?: ContextRequirement;
  /**
   * Where matches can start, for a rule whose matches all start at something the text's
   * facts locate cheaply (near the start of a digit run): the first position at or after
   * `from` where a match that `validate` accepts might start, or -1 when there is none. It
   * must never skip such a position (positions where nothing matches may come too: each
   * costs one try of the pattern). `scan` then tries the pattern only there, instead of
   * searching the whole text with it: the same findings, for less. Not with `context`.
   */
  readonly nextStart?: (facts: TextFacts, from: number) => number;
  /** 0–1; on overlap the higher confidence wins. */
  readonly confidence: number;
}

/**
 * A detector's own search, for what patterns cannot say cheaply (phone numbers: one pass
 * finds both written and bare candidates, and only bare ones need a label before them).
 * Must be pure and synchronous. Its matches are treated as pattern findings are —
 * `deny`, then overlaps; empty or out-of-range ones are dropped.
 */
export interface FinderRule extends RuleGates {
  /** `facts` are the text's, shared with the other rules (each worked out once, when first asked for). */
  readonly find: (text: string, facts: TextFacts) => Iterable<DetectorMatch>;
}

export type DetectorRule = PatternRule | FinderRule;

export interface Detector {
  /** Stable, kebab-case; what `--detector` and configs name. */
  readonly name: string;
  /** Upper-case placeholder word: `redact` writes `[LABEL]`. */
  readonly label: string;
  readonly rules: readonly DetectorRule[];
  /**
   * Values that must never be partially shown (a private key's last characters are
   * still key material): `partial` falls back to `redact` for them.
   */
  readonly redactOnly?: boolean;
  /**
   * Exact values this detector never reports (known test numbers, a support line): a
   * candidate whose span text is in the set is dropped before overlaps are settled, so it
   * hides nothing else either.
   */
  readonly deny?: ReadonlySet<string>;
}

/** What a finder rule reports: a span of the text and how sure it is. */
export interface DetectorMatch {
  readonly start: number;
  readonly end: number;
  /** 0–1; on overlap the higher confidence wins. */
  readonly confidence: number;
}

/** One sensitive span found in a text. Never carries the value itself. */
export interface Finding {
  readonly detector: string;
  readonly label: string;
  /** UTF-16 index of the first code unit. */
  readonly start: number;
  /** UTF-16 index one past the last code unit. */
  readonly end: number;
  readonly confidence: number;
}

/** Builds a rule pattern (global, with indices, so it also works with `matchAll` on its own; `scan` sets its own flags). */
export function pattern(source: string, extraFlags = ''): RegExp {
  return new RegExp(source, `gd${extraFlags}`);
}

/**
 * Regex alternatives matching their ASCII letters in either case (`phone` →
 * `[pP][hH][oO][nN][eE]`). Faster than the `i` flag for keyword searches (V8 scans for
 * case classes quicker than for case-folded text), and it leaves the rest of the pattern
 * case-sensitive, so boundaries can tell `mobilePhone` from `hotel`. The alternatives
 * must not spell letters inside classes or escapes (`\d`, `[a-z]`).
 */
export function anyCase(alternatives: readonly string[]): string {
  return `(?:${alternatives.map((a) => a.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`)).join('|')})`;
}

/**
 * What the detectors of numbers (cards, SSNs, IBANs, phone numbers) once shared as their
 * prefilter: two digit groups of two or more ("4111 1111", "123-45", "06 12", "(415)
 * 555"), seven digits in a row, "+" and a digit, or an IBAN's country and check digits.
 * Every card, SSN and IBAN has one, and so does every text the phone detector finds a
 * number in: it only reads texts that match (some numbers it accepts, such as "0 4503-7-4258",
 * have no such group themselves).
 */
export const DIGIT_GROUPS = /\d(?:\d[ .\/()-]{1,3}\d\d|\d{6})|\+\d|[A-Z]{2}\d\d/;

/**
 * Words naming a secret (`password`, `token`, `api_key`…): what a secret assignment's
 * key holds and what an AWS secret key's context word ("secret") is one of.
 */
export const SECRET_WORD = anyCase(['password', 'passwd', 'pwd', 'secret', 'token', 'api[_-]?key', 'access[_-]?key', 'private[_-]?key']);

/** What every vendor token (and a PEM private key) starts with. */
export const VENDOR_PREFIXES = /AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[baprs]-|[rs]k_live_|AIza|-----BEGIN /;

/** How a JWT starts: base64url of `{"` and more of its header. */
export const JWT_START = /e[wy][A-Za-z0-9_-]{8}/;

/**
 * Where a detector of text (vendor tokens, JWTs, secrets) can find something, "@" aside
 * (emails; a string search finds it faster than any regex): a secret word, a vendor's
 * prefix or a JWT's start — exactly where SECRET_WORD, VENDOR_PREFIXES or JWT_START
 * match, written as a tree of their common beginnings, which the regex engine tries at
 * each position faster than the words one after another. Which of the three matched is
 * told by the first two characters (TextFacts reads them): no two start alike.
 */
export const TEXT_MARKER_WORDS = new RegExp(
  [
    '[pP](?:[aA][sS][sS][wW](?:[oO][rR])?[dD]|[wW][dD]|[rR][iI][vV][aA][tT][eE][_-]?[kK][eE][yY])', // password, passwd, pwd, private key
    '[sS][eE][cC][rR][eE][tT]',
    '[tT][oO][kK][eE][nN]',
    '[aA](?:[pP][iI]|[cC][cC][eE][sS][sS])[_-]?[kK][eE][yY]', // api key, access key
    'A(?:KIA|SIA|Iza)',
    'g(?:h[pousr]_|ithub_pat_|lpat-)',
    'xox[baprs]-',
    '[rs]k_live_',
    '-----BEGIN ',
    'e[wy][A-Za-z0-9_-]{8}',
  ].join('|'),
);

/** Word boundaries that also treat `_` and `-` as part of a token (ids, keys, slugs). */
export const NOT_AFTER_TOKEN = '(?<![A-Za-z0-9_-])';
export const NOT_BEFORE_TOKEN = '(?![A-Za-z0-9_-])';
