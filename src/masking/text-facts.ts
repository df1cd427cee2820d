/**
 * What `scan` works out about a text once, when a rule first asks, and shares with every
 * rule: where the numbers are (for cards, SSNs, IBANs and phone numbers) and where the
 * markers of secrets and addresses are (for emails, vendor tokens, JWTs, secret
 * assignments). A rule whose matches can only start there (PatternRule.nextStart) is then
 * tried at those few positions instead of having its pattern search the whole text: one
 * pass per kind of fact replaces a pass per rule.
 *
 * Each fact is found with a regex ("@" with a string search): V8 runs a regex over a string
 * several times faster than any loop over its characters in JavaScript, so characters are
 * only read one by one around what a regex found.
 */
import { DIGIT_GROUPS, TEXT_MARKER_WORDS } from './detector.js';

/**
 * `text.charCodeAt(at)` for `at` inside the text (reads past either end would make every
 * caller's copy of it slower), read so that the optimizing compiler inlines it whatever the
 * string's representation. Texts come in many (flat, sliced out of a larger string,
 * concatenated; one or two bytes a character), and where a call site has seen more than a
 * few, `text.charCodeAt` becomes a generic property lookup and call — several times the
 * cost of the read itself. Going through String.prototype keeps it a direct, inlined read.
 */
export const codeAt = (text: string, at: number): number => String.prototype.charCodeAt.call(text, at);

/** Whether `code` is an ASCII digit (false for NaN, past the end of a string). */
export const isDigit = (code: number): boolean => code >= 48 && code <= 57;

/** Whether `code` is an ASCII letter or digit. */
export function isAlphanumeric(code: number): boolean {
  const letter = code | 0x20;
  return (code >= 48 && code <= 57) || (letter >= 97 && letter <= 122);
}

/** Whether `code` is an upper-case ASCII letter. */
export const isUpper = (code: number): boolean => code >= 65 && code <= 90;

/** The characters numbers are written with: digits, space . / ( ) + - */
function isNumberCharacter(code: number): boolean {
  return (code >= 48 && code <= 57) || code === 32 || code === 40 || code === 41 || code === 43 || (code >= 45 && code <= 47);
}

/**
 * Where numbers can be: seven digits, in a row or in groups joined by at most two of the
 * other characters numbers are written with (every card, SSN and phone number has that
 * many), and the rest of that stretch of number characters; or an IBAN's country and
 * check digits. The seven digits are looked for from the start of a run only (the
 * lookbehind): from inside one they would be found from its start already.
 */
const NUMBER_MARKS = /[A-Z]{2}\d\d|\d(?<!\d\d)(?:[ .\/()+-]{0,2}\d){6}[\d .\/()+-]*/g;
/** How long a match of NUMBER_MARKS is at least. */
const SHORTEST_MARK = 4;

const NONE: readonly number[] = [];

/** What DigitRuns records of each run, in this order. */
const START = 0;
const END = 1;
const TAIL = 2;
const BEFORE = 3;
const AFTER = 4;
const FIELDS = 5;

/**
 * The digit runs that can be part of a card, SSN or phone number, in order: the maximal
 * runs of ASCII digits in each stretch of number characters (digits, space, ".", "/",
 * "(", ")", "+", "-") that holds seven digits joined by at most two of the others (see
 * NUMBER_MARKS). Runs elsewhere are left out: no such number lies in them. With each run,
 * the code units just before and after it, which the detectors' edges are made of: each
 * character is read once, here (reading a character costs more than a regex step does).
 * Also where IBANs can start: each two capital letters followed by two digits.
 */
export class DigitRuns {
  /** FIELDS numbers per run, flat: cheaper to build than an object per run. */
  private readonly fields: readonly number[];
  /** How many runs there are. */
  readonly count: number;
  /** Ascending. */
  readonly ibanStarts: readonly number[];

  constructor(text: string) {
    const length = text.length;
    // Most texts have neither: no arrays are made for them.
    let fields: number[] | undefined;
    let ibanStarts: number[] | undefined;
    // A search with fewer code units left than the shortest mark would find nothing.
    for (let from = 0; from <= length - SHORTEST_MARK; ) {
      NUMBER_MARKS.lastIndex = from;
      const mark = NUMBER_MARKS.exec(text);
      if (mark === null) break;
      const at = mark.index;
      const found = mark[0];
      if (!isDigit(codeAt(found, 0))) {
        // Capital letters: an IBAN may start here, and digit groups two letters on.
        (ibanStarts ??= []).push(at);
        from = at + 1;
        continue;
      }
      fields ??= [];
      // The stretch may start before the seven digits ("1 (415) 555…", "+44…").
      let stretch = at;
      let before = at > 0 ? codeAt(text, at - 1) : -1;
      while (stretch > from && isNumberCharacter(before)) {
        stretch--;
        before = stretch > 0 ? codeAt(text, stretch - 1) : -1;
      }
      const end = at + found.length;
      const after = end < length ? codeAt(text, end) : -1;
      // Its characters are read from the match, a flat string of its own: quicker to read
      // than the text, which may be a slice of a larger one, or a concatenation.
      const chars = stretch === at ? found : text.slice(stretch, end);
      const count = chars.length;
      const first = fields.length;
      for (let i = 0; i < count; ) {
        let code = codeAt(chars, i);
        if (!isDigit(code)) {
          before = code;
          i++;
          continue;
        }
        const start = i;
        while (++i < count && isDigit((code = codeAt(chars, i))));
        // Inside the stretch, the separator after the run is also the one before the next.
        if (i === count) code = after;
        fields.push(stretch + start, stretch + i, 0, before, code);
        before = code;
        i++;
      }
      let tail = 0;
      for (let run = fields.length - FIELDS; run >= first; run -= FIELDS) {
        tail += fields[run + END]! - fields[run + START]!;
        fields[run + TAIL] = tail;
      }
      from = end;
    }
    this.fields = fields ?? NONE;
    this.count = this.fields.length / FIELDS;
    this.ibanStarts = ibanStarts ?? NONE;
  }

  start(run: number): number {
    return this.fields[run * FIELDS + START]!;
  }

  end(run: number): number {
    return this.fields[run * FIELDS + END]!;
  }

  /** How many digits the run's stretch holds from the run's start to its end. */
  tail(run: number): number {
    return this.fields[run * FIELDS + TAIL]!;
  }

  /** The code unit before the run: -1 at the start of the text. */
  before(run: number): number {
    return this.fields[run * FIELDS + BEFORE]!;
  }

  /** The code unit after the run: -1 at the end of the text. */
  after(run: number): number {
    return this.fields[run * FIELDS + AFTER]!;
  }

  /** The first run starting at or after `position` (`count` when there is none). */
  firstFrom(position: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.fields[middle * FIELDS + START]! < position) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** The index of the first item of ascending `list` at or after `position` (its length when none is). */
export function firstAtOrAfter(list: readonly number[], position: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (list[middle]! < position) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The kinds of text marker: where the detectors of text can find something (see
 * TEXT_MARKER_WORDS): a secret word, a vendor's prefix, a JWT's start, an "@".
 */
export type TextMarker = 'secretWord' | 'vendorPrefix' | 'jwtStart' | 'at';

const SECRET_WORD_MARK = 0;
const VENDOR_PREFIX_MARK = 1;
const JWT_START_MARK = 2;
const AT_MARK = 3;
const MARKS: Readonly<Record<TextMarker, number>> = { secretWord: SECRET_WORD_MARK, vendorPrefix: VENDOR_PREFIX_MARK, jwtStart: JWT_START_MARK, at: AT_MARK };

const MARKER_WORDS = new RegExp(TEXT_MARKER_WORDS.source, 'g');
/** "pwd". */
const SHORTEST_MARKER_WORD = 3;

/**
 * Which of TEXT_MARKER_WORDS' alternatives matched at `at`, from the characters there:
 * a JWT starts with "e" (and nothing else does); "g", "x", "r", "-" start only vendor
 * prefixes, and so do "sk" and "AK", "AS", "AI", where secret words have "se", "Ap", "Ac";
 * every other first character starts a secret word.
 */
function markerAt(text: string, at: number): number {
  const code = codeAt(text, at);
  if (code === 101) return JWT_START_MARK; // e
  if (code === 103 || code === 120 || code === 114 || code === 45) return VENDOR_PREFIX_MARK; // g x r -
  if (code === 115) return codeAt(text, at + 1) === 107 ? VENDOR_PREFIX_MARK : SECRET_WORD_MARK; // sk
  if (code === 65) {
    const next = codeAt(text, at + 1);
    return next === 75 || next === 83 || next === 73 ? VENDOR_PREFIX_MARK : SECRET_WORD_MARK; // AK AS AI
  }
  return SECRET_WORD_MARK;
}

/**
 * Every position of every text marker, by kind, overlapping ones too; undefined when the
 * text holds none (most texts). One search of all the words for every kind, where a
 * search per kind would read the text once per kind.
 */
function findTextMarkers(text: string): number[][] | undefined {
  let marks: number[][] | undefined;
  const last = text.length - SHORTEST_MARKER_WORD;
  for (let from = 0; from <= last; ) {
    MARKER_WORDS.lastIndex = from;
    const found = MARKER_WORDS.exec(text);
    if (found === null) break;
    const at = found.index;
    (marks ??= [[], [], [], []])[markerAt(text, at)]!.push(at);
    from = at + 1;
  }
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) (marks ??= [[], [], [], []])[AT_MARK]!.push(at);
  return marks;
}

/**
 * A `nextStart` for rules whose matches all start at a text marker of one kind, with one
 * of `firsts` (code units) there, when given.
 */
export function atTextMarker(marker: TextMarker, firsts?: string): (facts: TextFacts, from: number) => number {
  const codes = firsts === undefined ? undefined : [...firsts].map((c) => c.charCodeAt(0));
  return (facts, from) => {
    const positions = facts.textMarkers(marker);
    for (let i = firstAtOrAfter(positions, from); i < positions.length; i++) {
      if (codes === undefined || codes.includes(codeAt(facts.text, positions[i]!))) return positions[i]!;
    }
    return -1;
  };
}

/** Facts about one text, each worked out when a rule first asks for it. */
export class TextFacts {
  private runs: DigitRuns | undefined;
  private groups: boolean | undefined;
  /** By kind (see TextMarker); null: none at all; undefined: not looked for yet. */
  private marks: number[][] | null | undefined;

  constructor(readonly text: string) {}

  get digitRuns(): DigitRuns {
    return (this.runs ??= new DigitRuns(this.text));
  }

  /** Whether the text has a stretch of digits a card, SSN or phone number could be in, or an IBAN's start. */
  get hasNumbers(): boolean {
    const runs = this.digitRuns;
    return runs.count > 0 || runs.ibanStarts.length > 0;
  }

  /** Whether the text holds a text marker of any kind. */
  get hasTextMarkers(): boolean {
    return this.allMarks !== null;
  }

  private get allMarks(): number[][] | null {
    if (this.marks === undefined) this.marks = findTextMarkers(this.text) ?? null;
    return this.marks;
  }

  /** Whether the text matches DIGIT_GROUPS. */
  get digitGroups(): boolean {
    return (this.groups ??= DIGIT_GROUPS.test(this.text));
  }

  /** Where the text markers of a kind are, ascending. */
  textMarkers(marker: TextMarker): readonly number[] {
    return this.allMarks?.[MARKS[marker]] ?? NONE;
  }
}
