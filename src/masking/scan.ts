/**
 * Finds sensitive spans in a text. Pure: the same text and detectors always give the
 * same findings, which never include the values themselves.
 *
 * Speed comes from doing little for text that holds nothing (most of it): a rule is
 * skipped when the text is shorter than its shortest match or fails its prefilter (each
 * distinct one tested at most once per text); a rule that says where its matches can
 * start (`nextStart`, from facts about the text that `scan` works out once and shares)
 * is tried only there; context rules only look near their context words; and the regexes
 * are compiled once per rule, not per call. They are shared, so `lastIndex` is set before
 * every `exec` and never trusted afterwards: a validator that itself calls `scan` cannot
 * disturb the outer scan.
 *
 * The rules are compiled into records of one shape, so the loop over them (run for every
 * cell of every result) reads each field the same cheap way.
 */
import type { Detector, DetectorMatch, FinderRule, Finding, PatternRule } from './detector.js';
import { TextFacts } from './text-facts.js';

type NextStart = (facts: TextFacts, from: number) => number;

interface CompiledContext {
  /** Global copy of the rule's context words; sticky when they say where they can start (`nextWord`). */
  readonly words: RegExp;
  readonly before: number;
  readonly nextWord: NextStart | undefined;
}

interface CompiledRule {
  /** Global copy for whole-text search; sticky copy for rules searched near context words or at their `nextStart`s. */
  readonly regex: RegExp;
  /** Whether the pattern has span-shaping groups, so `exec` must report indices (`d`, which costs per match). */
  readonly withIndices: boolean;
  readonly validate: ((value: string) => boolean) | undefined;
  readonly confidence: number;
  readonly context: CompiledContext | undefined;
}

/** How a rule searches a text. */
const WHOLE_TEXT = 0;
const NEAR_CONTEXT = 1;
const AT_STARTS = 2;
const FINDER = 3;

interface ScannerRule {
  readonly search: typeof WHOLE_TEXT | typeof NEAR_CONTEXT | typeof AT_STARTS | typeof FINDER;
  readonly name: string;
  readonly label: string;
  readonly deny: ReadonlySet<string> | undefined;
  /** Set for pattern rules. */
  readonly compiled: CompiledRule | undefined;
  /** Set for AT_STARTS. */
  readonly nextStart: NextStart | undefined;
  /** Set for FINDER. */
  readonly find: FinderRule['find'] | undefined;
  readonly minLength: number;
  /** Indices into `Scanner.prefilters`, in the order they are tested; all must pass. */
  readonly prefilters: readonly number[];
  readonly needsNumbers: boolean;
  readonly needsTextMarkers: boolean;
  /**
   * Where the run of rules needing the same facts as this one ends (an index into
   * `Scanner.rules`): a text without those facts skips to it at once.
   */
  readonly runEnd: number;
}

interface Scanner {
  /** Every rule of every detector, in order. */
  readonly rules: readonly ScannerRule[];
  /** Distinct prefilters (rules of one detector often share one), tested at most once per text. */
  readonly prefilters: readonly RegExp[];
}

const SPAN_GROUP = /\(\?<(?:value\d*|lead)>/;
const ITERATION_FLAGS = /[gdy]/g;

const compiledRules = new WeakMap<PatternRule, CompiledRule>();
const scanners = new WeakMap<readonly Detector[], Scanner>();

function compileRule(rule: PatternRule): CompiledRule {
  let compiled = compiledRules.get(rule);
  if (compiled === undefined) {
    const flags = rule.pattern.flags.replace(ITERATION_FLAGS, '');
    const withIndices = SPAN_GROUP.test(rule.pattern.source);
    const sticky = rule.context !== undefined || rule.nextStart !== undefined;
    const iteration = `${sticky ? 'y' : 'g'}${withIndices ? 'd' : ''}`;
    const context = rule.context;
    compiled = {
      regex: new RegExp(rule.pattern.source, flags + iteration),
      withIndices,
      validate: rule.validate,
      confidence: rule.confidence,
      context:
        context === undefined
          ? undefined
          : {
              words: new RegExp(context.words.source, `${context.words.flags.replace(ITERATION_FLAGS, '')}${context.nextWord === undefined ? 'g' : 'y'}`),
              before: context.before,
              nextWord: context.nextWord,
            },
    };
    compiledRules.set(rule, compiled);
  }
  return compiled;
}

/** The last detector list scanned with, and its scanner: a stream of cells scans with one list. */
let lastDetectors: readonly Detector[] | undefined;
let lastScanner: Scanner | undefined;

function scannerFor(detectors: readonly Detector[]): Scanner {
  if (detectors === lastDetectors) return lastScanner!;
  let scanner = scanners.get(detectors);
  if (scanner === undefined) {
    const prefilters: RegExp[] = [];
    const prefilterIndex = new Map<string, number>();
    const indexOf = (prefilter: RegExp): number => {
      const flags = prefilter.flags.replace(ITERATION_FLAGS, '');
      const key = `/${prefilter.source}/${flags}`;
      let index = prefilterIndex.get(key);
      if (index === undefined) {
        index = prefilters.push(new RegExp(prefilter.source, flags)) - 1;
        prefilterIndex.set(key, index);
      }
      return index;
    };
    const found = detectors.flatMap((detector) =>
      detector.rules.map((rule): Omit<ScannerRule, 'runEnd'> => {
        const common = {
          name: detector.name,
          label: detector.label,
          deny: detector.deny,
          minLength: rule.minLength ?? 1,
          needsNumbers: rule.needs === 'numbers',
          needsTextMarkers: rule.needs === 'textMarkers',
          prefilters: (rule.prefilter === undefined ? [] : Array.isArray(rule.prefilter) ? rule.prefilter : [rule.prefilter]).map(indexOf),
        };
        if ('find' in rule) return { search: FINDER, compiled: undefined, nextStart: undefined, find: rule.find, ...common };
        const compiled = compileRule(rule);
        const search = compiled.context !== undefined ? NEAR_CONTEXT : rule.nextStart !== undefined ? AT_STARTS : WHOLE_TEXT;
        return { search, compiled, nextStart: search === AT_STARTS ? rule.nextStart : undefined, find: undefined, ...common };
      }),
    );
    const rules: ScannerRule[] = [];
    for (let r = found.length - 1; r >= 0; r--) {
      const rule = found[r]!;
      const next = rules[0];
      const sameNeeds = next !== undefined && next.needsNumbers === rule.needsNumbers && next.needsTextMarkers === rule.needsTextMarkers;
      rules.unshift({ ...rule, runEnd: sameNeeds ? next.runEnd : r + 1 });
    }
    scanner = { rules, prefilters };
    scanners.set(detectors, scanner);
  }
  lastDetectors = detectors;
  lastScanner = scanner;
  return scanner;
}

/** Collects one scan's candidates. */
class Candidates {
  readonly found: Finding[] = [];

  readonly length: number;

  constructor(readonly text: string) {
    this.length = text.length;
  }

  /**
   * Validates the match (span from its groups), records it when accepted, and says where
   * the search goes on: after an accepted match, or one code unit after a rejected one's
   * start: a rejected candidate may hide a valid one starting inside it.
   */
  consider(match: RegExpExecArray, rule: ScannerRule, compiled: CompiledRule): number {
    let start = match.index;
    const matchEnd = start + match[0].length;
    let end = matchEnd;
    if (compiled.withIndices) {
      const groups = match.indices?.groups;
      if (groups !== undefined) {
        const value = groups['value'] ?? groups['value2'] ?? groups['value3'];
        if (value !== undefined) [start, end] = value;
        else if (groups['lead'] !== undefined) start = groups['lead'][0];
      }
    }
    if (end <= start) return match.index + 1;
    const { validate } = compiled;
    const { deny } = rule;
    const value = validate !== undefined || deny !== undefined ? this.text.slice(start, end) : '';
    if ((validate !== undefined && !validate(value)) || deny?.has(value) === true) return match.index + 1;
    this.found.push({ detector: rule.name, label: rule.label, start, end, confidence: compiled.confidence });
    return matchEnd > match.index ? matchEnd : match.index + 1;
  }

  /** A finder rule's match; dropped when empty, out of the text, or denied. */
  add(rule: ScannerRule, { start, end, confidence }: DetectorMatch): void {
    if (start < 0 || end <= start || end > this.length) return;
    if (rule.deny?.has(this.text.slice(start, end)) === true) return;
    this.found.push({ detector: rule.name, label: rule.label, start, end, confidence });
  }
}

function searchWholeText(candidates: Candidates, rule: ScannerRule, compiled: CompiledRule): void {
  const { text } = candidates;
  const regex = compiled.regex;
  const length = text.length;
  let from = 0;
  while (from <= length) {
    regex.lastIndex = from;
    const match = regex.exec(text);
    if (match === null) return;
    from = candidates.consider(match, rule, compiled);
  }
}

/** A rule that says where its matches can start is tried there only (see PatternRule.nextStart). */
function searchAtStarts(candidates: Candidates, rule: ScannerRule, compiled: CompiledRule, nextStart: NextStart, facts: TextFacts): void {
  const { text } = candidates;
  const regex = compiled.regex;
  const length = text.length;
  for (let from = 0; from <= length; ) {
    const at = nextStart(facts, from);
    if (at < 0) return;
    regex.lastIndex = at;
    const match = regex.exec(text);
    from = match === null ? at + 1 : candidates.consider(match, rule, compiled);
  }
}

/**
 * A context rule's candidates can only start within `before` code units after one of its
 * context words ends, so only those positions are tried (with the sticky regex): text far
 * from any context word costs nothing but the search for the words.
 */
function searchNearContext(candidates: Candidates, rule: ScannerRule, compiled: CompiledRule, context: CompiledContext, facts: TextFacts): void {
  const { text } = candidates;
  const { words, nextWord } = context;
  const regex = compiled.regex;
  const length = text.length;
  let position = 0;
  let wordAt = 0;
  while (wordAt <= length) {
    let word: RegExpExecArray | null;
    if (nextWord === undefined) {
      words.lastIndex = wordAt;
      word = words.exec(text);
      if (word === null) return;
    } else {
      const at = nextWord(facts, wordAt);
      if (at < 0) return;
      words.lastIndex = at;
      word = words.exec(text);
      if (word === null) {
        wordAt = at + 1;
        continue;
      }
    }
    const wordEnd = word.index + word[0].length;
    // Overlapping occurrences each open their own window.
    wordAt = word.index + 1;
    // Candidates starting in [wordEnd, word start + before] have this word in their window.
    const last = Math.min(word.index + context.before, length);
    for (position = Math.max(position, wordEnd); position <= last; ) {
      regex.lastIndex = position;
      const match = regex.exec(text);
      position = match === null ? position + 1 : candidates.consider(match, rule, compiled);
    }
  }
}

function searchWithFinder(candidates: Candidates, rule: ScannerRule, find: FinderRule['find'], facts: TextFacts): void {
  const matches = find(candidates.text, facts);
  if (Array.isArray(matches)) {
    for (let i = 0; i < matches.length; i++) candidates.add(rule, matches[i] as DetectorMatch);
  } else for (const match of matches) candidates.add(rule, match);
}

/** Higher confidence first, then longer, then earlier. */
function precedence(a: Finding, b: Finding): number {
  return b.confidence - a.confidence || b.end - b.start - (a.end - a.start) || a.start - b.start;
}

/**
 * The findings that survive overlaps, sorted by position. Findings only compete with
 * those they overlap, so the candidates are cut into runs of mutually chained overlaps and
 * each run is settled on its own — linear for the usual text, where nothing overlaps.
 */
function settleOverlaps(all: Finding[]): Finding[] {
  if (all.length < 2) return all;
  all.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: Finding[] = [];
  for (let first = 0; first < all.length; ) {
    let last = first + 1;
    let reach = all[first]!.end;
    while (last < all.length && all[last]!.start < reach) reach = Math.max(reach, all[last++]!.end);
    if (last - first === 1) kept.push(all[first]!);
    else {
      const run = all.slice(first, last).sort(precedence);
      const winners: Finding[] = [];
      for (const finding of run) {
        if (!winners.some((w) => finding.start < w.end && w.start < finding.end)) winners.push(finding);
      }
      kept.push(...winners.sort((a, b) => a.start - b.start));
    }
    first = last;
  }
  return kept;
}

/**
 * Every finding of every detector, overlaps resolved (the higher-confidence, then the
 * longer, span wins; the loser is dropped whole), sorted by position. Indices are
 * UTF-16 code units, as JavaScript strings count them. Denied values are dropped before
 * overlaps are settled.
 */
export function scan(text: string, detectors: readonly Detector[]): Finding[] {
  // Read once: a string's length is a generic lookup where texts of many kinds have been seen.
  const length = text.length;
  if (length === 0 || detectors.length === 0) return [];
  const scanner = scannerFor(detectors);
  const { rules } = scanner;
  // Prefilter outcomes as bits, so nothing is allocated for them; prefilters past the
  // 31st are simply tested for each rule that has them.
  let tested = 0;
  let passed = 0;
  let candidates: Candidates | undefined;
  let facts: TextFacts | undefined;
  // The facts rules need (see RuleGates.needs), as locals once known: read for every rule.
  let numbers: boolean | undefined;
  let textMarkers: boolean | undefined;
  rules: for (let r = 0; r < rules.length; r++) {
    const rule = rules[r]!;
    if (length < rule.minLength) continue;
    if (
      (rule.needsNumbers && !(numbers ??= (facts ??= new TextFacts(text)).hasNumbers)) ||
      (rule.needsTextMarkers && !(textMarkers ??= (facts ??= new TextFacts(text)).hasTextMarkers))
    ) {
      // So do the rules after it that need the same.
      r = rule.runEnd - 1;
      continue;
    }
    const { prefilters } = rule;
    for (let p = 0; p < prefilters.length; p++) {
      const prefilter = prefilters[p]!;
      const bit = prefilter < 31 ? 1 << prefilter : 0;
      if ((tested & bit) === 0) {
        tested |= bit;
        if (scanner.prefilters[prefilter]!.test(text)) passed |= bit;
        else continue rules;
      } else if ((passed & bit) === 0) continue rules;
    }
    candidates ??= new Candidates(text);
    switch (rule.search) {
      case WHOLE_TEXT:
        searchWholeText(candidates, rule, rule.compiled!);
        break;
      case AT_STARTS:
        searchAtStarts(candidates, rule, rule.compiled!, rule.nextStart!, (facts ??= new TextFacts(text)));
        break;
      case NEAR_CONTEXT:
        searchNearContext(candidates, rule, rule.compiled!, rule.compiled!.context!, (facts ??= new TextFacts(text)));
        break;
      default:
        searchWithFinder(candidates, rule, rule.find!, (facts ??= new TextFacts(text)));
    }
  }
  return candidates === undefined ? [] : settleOverlaps(candidates.found);
}
