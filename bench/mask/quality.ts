/**
 * Precision and recall of the content detectors on the labelled corpus.
 *
 * Matching rule: a finding is a true positive when a labelled value has exactly its span
 * (same start and end) and its type is the finding's detector. Anything else the
 * detectors report is a false positive of that detector — including a right value found
 * with a wrong span or by another detector — and every labelled value without such a
 * finding is a false negative of its type.
 */
import type { Detector, Finding } from '../../src/masking/detector.js';
import { scan } from '../../src/masking/scan.js';
import type { LabelledDocument } from './corpus.js';

export interface Miss {
  /** The finding's or the label's text. */
  readonly value: string;
  /** What else was there: the label a false positive overlapped, the finding a false negative got instead. */
  readonly overlapping: string;
}

export interface DetectorScore {
  readonly detector: string;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
  /** TP / (TP + FP); 1 when nothing was reported. */
  readonly precision: number;
  /** TP / (TP + FN); 1 when nothing was labelled. */
  readonly recall: number;
  readonly falsePositiveExamples: readonly Miss[];
  readonly falseNegativeExamples: readonly Miss[];
}

const EXAMPLES = 5;

interface Tally {
  tp: number;
  fp: number;
  fn: number;
  fpExamples: Miss[];
  fnExamples: Miss[];
}

const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }): boolean => a.start < b.end && b.start < a.end;

/** Scores `detectors` on `documents`, one row per detector name (in the detectors' order, then any other labelled type). */
export function scoreDetectors(documents: readonly LabelledDocument[], detectors: readonly Detector[]): DetectorScore[] {
  const tallies = new Map<string, Tally>();
  const tally = (name: string): Tally => {
    let t = tallies.get(name);
    if (t === undefined) tallies.set(name, (t = { tp: 0, fp: 0, fn: 0, fpExamples: [], fnExamples: [] }));
    return t;
  };
  for (const d of detectors) tally(d.name);

  for (const doc of documents) {
    const findings = scan(doc.text, detectors);
    const matched = new Set<number>();
    for (const finding of findings) {
      const label = doc.entities.findIndex((e) => e.start === finding.start && e.end === finding.end && e.type === finding.detector);
      if (label >= 0) {
        matched.add(label);
        tally(finding.detector).tp++;
        continue;
      }
      const t = tally(finding.detector);
      t.fp++;
      if (t.fpExamples.length < EXAMPLES) t.fpExamples.push({ value: doc.text.slice(finding.start, finding.end), overlapping: whatWasThere(doc, finding) });
    }
    doc.entities.forEach((e, i) => {
      if (matched.has(i)) return;
      const t = tally(e.type);
      t.fn++;
      if (t.fnExamples.length < EXAMPLES) {
        const instead = findings.filter((f) => overlaps(f, e)).map((f) => `${f.detector} ${JSON.stringify(doc.text.slice(f.start, f.end))}`);
        t.fnExamples.push({ value: doc.text.slice(e.start, e.end), overlapping: instead.join(', ') || 'nothing found' });
      }
    });
  }

  return [...tallies].map(([detector, t]) => ({
    detector,
    truePositives: t.tp,
    falsePositives: t.fp,
    falseNegatives: t.fn,
    precision: t.tp + t.fp === 0 ? 1 : t.tp / (t.tp + t.fp),
    recall: t.tp + t.fn === 0 ? 1 : t.tp / (t.tp + t.fn),
    falsePositiveExamples: t.fpExamples,
    falseNegativeExamples: t.fnExamples,
  }));
}

function whatWasThere(doc: LabelledDocument, finding: Finding): string {
  const entity = doc.entities.find((e) => overlaps(e, finding));
  if (entity !== undefined) return `${entity.type} ${JSON.stringify(doc.text.slice(entity.start, entity.end))}`;
  const negative = doc.negatives.find((n) => overlaps(n, finding));
  if (negative !== undefined) return `${negative.kind} ${JSON.stringify(doc.text.slice(negative.start, negative.end))}`;
  return `plain text …${JSON.stringify(doc.text.slice(Math.max(0, finding.start - 30), finding.end + 10))}`;
}
