import type { Detector } from '../../../src/masking/detector.js';
import { DEFAULT_DETECTORS } from '../../../src/masking/registry.js';
import { scan } from '../../../src/masking/scan.js';

/** What `scan` found, as [detector, exact matched text] pairs in text order. */
export function found(text: string, detectors: readonly Detector[] = DEFAULT_DETECTORS): [string, string][] {
  return scan(text, detectors).map((f) => [f.detector, text.slice(f.start, f.end)]);
}
