/**
 * Finds sensitive spans in a text. Pure: the same text and detectors always give the
 * same findings, which never include the values themselves.
 */
import type { ContextRequirement, Detector, DetectorRule, Finding } from './detector.js';

const VALUE_GROUPS = ['value', 'value2', 'value3'] as const;

/** The sensitive span of a match: its first matched `value*` group, else the whole match. */
function span(match: RegExpExecArray): readonly [number, number] {
  const indices = match.indices;
  if (indices?.groups !== undefined) {
    for (const name of VALUE_GROUPS) {
      const group = indices.groups[name];
      if (group !== undefined) return group;
    }
  }
  return [match.index, match.index + match[0].length];
}

function contextPresent(text: string, start: number, context: ContextRequirement): boolean {
  return context.words.test(text.slice(Math.max(0, start - context.before), start));
}

function* candidates(text: string, detector: Detector, rule: DetectorRule): Generator<Finding> {
  // A private copy: the rule's RegExp is shared, and exec moves its lastIndex.
  const regex = new RegExp(rule.pattern.source, rule.pattern.flags);
  let match: RegExpExecArray | null;
  while ((match = regex.exec(text)) !== null) {
    const [start, end] = span(match);
    const accepted =
      end > start &&
      (rule.context === undefined || contextPresent(text, match.index, rule.context)) &&
      (rule.validate === undefined || rule.validate(text.slice(start, end)));
    if (accepted) {
      yield { detector: detector.name, label: detector.label, start, end, confidence: rule.confidence };
    } else {
      // A rejected candidate may hide a valid one starting inside it
      // ("1234 4111 1111 1111 1111"), so resume one code unit later, not after it.
      regex.lastIndex = match.index + 1;
    }
  }
}

/** Higher confidence first, then longer, then earlier. */
function precedence(a: Finding, b: Finding): number {
  return b.confidence - a.confidence || b.end - b.start - (a.end - a.start) || a.start - b.start;
}

/**
 * Every finding of every detector, overlaps resolved (the higher-confidence, then the
 * longer, span wins; the loser is dropped whole), sorted by position. Indices are
 * UTF-16 code units, as JavaScript strings count them.
 */
export function scan(text: string, detectors: readonly Detector[]): Finding[] {
  const all: Finding[] = [];
  for (const detector of detectors) {
    for (const rule of detector.rules) all.push(...candidates(text, detector, rule));
  }
  all.sort(precedence);
  const kept: Finding[] = [];
  for (const finding of all) {
    if (!kept.some((k) => finding.start < k.end && k.start < finding.end)) kept.push(finding);
  }
  return kept.sort((a, b) => a.start - b.start);
}
