/** The content detectors a masking profile names: built-in ones, the default set, and its own. */
import type { CustomDetectorConfig, MaskingProfileConfig } from '../config/types.js';
import { compileCustomDetector, type CustomDetectorSpec } from './custom-detector.js';
import type { Detector } from './detector.js';
import { defaultDetectors, detectorsByName } from './registry.js';

/** The name that stands for the default detector set in a profile's `detectors`. */
export const DEFAULT_DETECTOR_SET = 'default';

export function customDetectorSpec(c: CustomDetectorConfig): CustomDetectorSpec {
  return {
    name: c.name,
    label: c.label,
    pattern: c.pattern,
    flags: c.caseInsensitive ? 'i' : '',
    ...(c.validator === undefined ? {} : { validator: c.validator }),
    ...(c.context === undefined ? {} : { context: c.context }),
    deny: c.deny,
  };
}

/** Built once per profile combination (scan caches compiled state per detector). */
export function detectorsForProfile(profile: MaskingProfileConfig): Detector[] {
  const options = { phoneRegions: profile.phoneRegions };
  const custom = new Map(profile.customDetectors.map((c) => [c.name, c]));
  const out: Detector[] = [];
  for (const name of profile.detectors) {
    const own = custom.get(name);
    if (name === DEFAULT_DETECTOR_SET) out.push(...defaultDetectors(options));
    else if (own !== undefined) out.push(compileCustomDetector(customDetectorSpec(own)));
    else out.push(...detectorsByName([name], options));
  }
  return out;
}
