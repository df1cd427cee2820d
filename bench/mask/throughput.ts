/**
 * Masker throughput: `scan` over mixed text, in-process on one core, in the shapes text
 * reaches the gateway in — result cells (short), documents (a text column holding a JSON
 * document, a note, a CSV export) and blobs (large text values, log dumps).
 */
import type { Detector } from '../../src/masking/detector.js';
import { scan } from '../../src/masking/scan.js';
import type { LabelledDocument } from './corpus.js';

export interface TextShape {
  readonly name: string;
  readonly description: string;
  readonly texts: readonly string[];
  readonly bytes: number;
}

const BLOB_CHARS = 64 * 1024;

const utf8Bytes = (texts: readonly string[]): number => texts.reduce((sum, t) => sum + Buffer.byteLength(t), 0);

function shape(name: string, description: string, texts: readonly string[]): TextShape {
  return { name, description, texts, bytes: utf8Bytes(texts) };
}

/** The three shapes, cut from the same documents. */
export function textShapes(documents: readonly LabelledDocument[]): TextShape[] {
  const texts = documents.map((d) => d.text);
  const cells = texts.flatMap((t) => t.split(/\n|, /)).filter((c) => c.length > 0);
  const blobs: string[] = [];
  let blob = '';
  for (const t of texts) {
    blob += blob === '' ? t : `\n${t}`;
    if (blob.length >= BLOB_CHARS) {
      blobs.push(blob);
      blob = '';
    }
  }
  if (blob !== '') blobs.push(blob);
  return [
    shape('cells', 'result cells: the documents cut at lines and ", "', cells),
    shape('documents', 'one JSON document, note, CSV or config file per value', texts),
    shape('blobs', `~${BLOB_CHARS / 1024} KiB values (log dumps, exports)`, blobs),
  ];
}

/** Share of the text (UTF-16 code units) inside labelled sensitive values. */
export function sensitiveShare(documents: readonly LabelledDocument[]): number {
  let inside = 0;
  let total = 0;
  for (const d of documents) {
    total += d.text.length;
    for (const e of d.entities) inside += e.end - e.start;
  }
  return total === 0 ? 0 : inside / total;
}

function pass(texts: readonly string[], detectors: readonly Detector[]): number {
  let findings = 0;
  for (const text of texts) findings += scan(text, detectors).length;
  return findings;
}

export interface ThroughputRun {
  readonly mbPerSecond: number;
  readonly findings: number;
}

/** The JIT keeps improving `scan` for a while: timed passes start after this much warm-up. */
const WARM_UP_MS = 1500;

/** Passes over the whole shape, after untimed warm-up passes; each run is one pass. */
export function measureThroughput(textShape: TextShape, detectors: readonly Detector[], runs: number): ThroughputRun[] {
  const warmUpUntil = Date.now() + WARM_UP_MS;
  do pass(textShape.texts, detectors);
  while (Date.now() < warmUpUntil);
  return Array.from({ length: runs }, () => {
    const started = process.hrtime.bigint();
    const findings = pass(textShape.texts, detectors);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { mbPerSecond: textShape.bytes / 1e6 / seconds, findings };
  });
}
