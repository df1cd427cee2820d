/**
 * Finds sensitive spans in a text. Pure: the same text and detectors always give the
 * same findings, which never include the values themselves.
 *
 * Speed comes from doing little for text that holds nothing (most of it): a rule is
 * skipped when the text is shorter than its shortest match or fails its prefilter (each
 * distinct one tested at most once per text); context rules only look near their
 * context words; and the regexes are compiled once per rule, not per call. They are
 * shared, so `lastIndex` is set before every `exec` and never trusted afterwards: a
 * validator that itself calls `scan` cannot disturb the outer scan.
 */
import type { Detector, DetectorMatch, FinderRule, Finding, PatternRule } from './detector.js';

interface CompiledContext {
  /** Global copy of the rule's context words. */
  readonly words: RegExp;
  readonly before: number;
}

interface CompiledRule {
  readonly rule: PatternRule;
  /** Global copy for whole-text search; sticky copy for rules searched near context words. */
  readonly regex: RegExp;
  /** Whether the pattern has span-shaping groups, so `exec` must report indices (`d`, which costs per match). */
  readonly withIndices: boolean;
  readonly context: CompiledContext | undefined;
}

interface ScannerRule {
  readonly detector: Detector;
  /** A pattern rule, compiled, or a finder rule as it is. */
  readonly rule: CompiledRule | FinderRule;
  readonly minLength: number;
  /** Indices into `Scanner.prefilters`, in the order they are tested; all must pass. */
  readonly prefilters: readonly number[];
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
    const iteration = `${rule.context === undefined ? 'g' : 'y'}${withIndices ? 'd' : ''}`;
    compiled = {
      rule,
      regex: new RegExp(rule.pattern.source, flags + iteration),
      withIndices,
      context:
        rule.context === undefined
          ? undefined
          : { words: new RegExp(rule.context.words.source, `${rule.context.words.flags.replace(ITERATION_FLAGS, '')}g`), before: rule.context.before },
    };
    compiledRules.set(rule, compiled);
  }
  return compiled;
}

function scannerFor(detectors: readonly Detector[]): Scanner {
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
    const rules = detectors.flatMap((detector) =>
      detector.rules.map((rule) => ({
        detector,
        rule: 'find' in rule ? rule : compileRule(rule),
        minLength: rule.minLength ?? 1,
        prefilters: (rule.prefilter === undefined ? [] : Array.isArray(rule.prefilter) ? rule.prefilter : [rule.prefilter]).map(indexOf),
      })),
    );
    scanner = { rules, prefilters };
    scanners.set(detectors, scanner);
  }
  return scanner;
}

/** Collects one scan's candidates. */
class Candidates {
  readonly found: Finding[] = [];

  constructor(readonly text: string) {}

  /**
   * Validates the match (span from its groups), records it when accepted, and says where
   * the search goes on: after an accepted match, or one code unit after a rejected one's
   * start: a rejected candidate may hide a valid one starting inside it.
   */
  consider(match: RegExpExecArray, detector: Detector, compiled: CompiledRule): number {
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
    const rule = compiled.rule;
    const needsValue = rule.validate !== undefined || detector.deny !== undefined;
    const value = needsValue ? this.text.slice(start, end) : '';
    if ((rule.validate !== undefined && !rule.validate(value)) || detector.deny?.has(value) === true) return match.index + 1;
    this.found.push({ detector: detector.name, label: detector.label, start, end, confidence: rule.confidence });
    return matchEnd > match.index ? matchEnd : match.index + 1;
  }

  /** A finder rule's match; dropped when empty, out of the text, or denied. */
  add(detector: Detector, { start, end, confidence }: DetectorMatch): void {
    if (start < 0 || end <= start || end > this.text.length) return;
    if (detector.deny?.has(this.text.slice(start, end)) === true) return;
    this.found.push({ detector: detector.name, label: detector.label, start, end, confidence });
  }
}

function searchWholeText(candidates: Candidates, detector: Detector, compiled: CompiledRule): void {
  const { text } = candidates;
  const regex = compiled.regex;
  let from = 0;
  while (from <= text.length) {
    regex.lastIndex = from;
    const match = regex.exec(text);
    if (match === null) return;
    from = candidates.consider(match, detector, compiled);
  }
}

/**
 * A context rule's candidates can only start within `before` code units after one of its
 * context words ends, so only those positions are tried (with the sticky regex): text far
 * from any context word costs nothing but the search for the words.
 */
function searchNearContext(candidates: Candidates, detector: Detector, compiled: CompiledRule, context: CompiledContext): void {
  const { text } = candidates;
  const words = context.words;
  const regex = compiled.regex;
  let position = 0;
  let wordAt = 0;
  while (wordAt <= text.length) {
    words.lastIndex = wordAt;
    const word = words.exec(text);
    if (word === null) return;
    const wordEnd = word.index + word[0].length;
    // Overlapping occurrences each open their own window.
    wordAt = word.index + 1;
    // Candidates starting in [wordEnd, word start + before] have this word in their window.
    const last = Math.min(word.index + context.before, text.length);
    for (position = Math.max(position, wordEnd); position <= last; ) {
      regex.lastIndex = position;
      const match = regex.exec(text);
      position = match === null ? position + 1 : candidates.consider(match, detector, compiled);
    }
  }
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
  if (text.length === 0 || detectors.length === 0) return [];
  const scanner = scannerFor(detectors);
  // Prefilter outcomes as bits, so nothing is allocated for them; prefilters past the
  // 31st are simply tested for each rule that has them.
  let tested = 0;
  let passed = 0;
  let candidates: Candidates | undefined;
  rules: for (const { detector, rule, minLength, prefilters } of scanner.rules) {
    if (text.length < minLength) continue;
    for (const prefilter of prefilters) {
      const bit = prefilter < 31 ? 1 << prefilter : 0;
      if ((tested & bit) === 0) {
        tested |= bit;
        if (scanner.prefilters[prefilter]!.test(text)) passed |= bit;
        else continue rules;
      } else if ((passed & bit) === 0) continue rules;
    }
    candidates ??= new Candidates(text);
    if ('find' in rule) {
      for (const match of rule.find(text)) candidates.add(detector, match);
    } else if (rule.context === undefined) searchWholeText(candidates, detector, rule);
    else searchNearContext(candidates, detector, rule, rule.context);
  }
  return candidates === undefined ? [] : settleOverlaps(candidates.found);
}
