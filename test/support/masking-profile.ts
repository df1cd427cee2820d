/** A masking profile as the config loader builds it, with the loader's defaults, for tests that build configs in code. */
import type { MaskingProfileConfig } from '../../src/config/types.js';

export function maskingProfile(name: string, over: Partial<MaskingProfileConfig> = {}): MaskingProfileConfig {
  return {
    name,
    for: undefined,
    detectors: ['default'],
    customDetectors: [],
    phoneRegions: ['US'],
    strategy: 'redact',
    columns: [],
    expressions: 'mask',
    denyPredicates: false,
    hashKey: undefined,
    ...over,
  };
}
