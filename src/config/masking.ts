/**
 * Builds the top-level `masking` profiles and resolves the profile names a connection lists.
 * Checks what the schema cannot: unique names, known detectors, patterns that compile, and
 * a hash key wherever the `hash` strategy is used.
 */
import { compileCustomDetector, CustomDetectorError, type CustomDetectorField } from '../masking/custom-detector.js';
import { customDetectorSpec, DEFAULT_DETECTOR_SET } from '../masking/profile-detectors.js';
import { PhoneRegionError } from '../masking/phone.js';
import { defaultDetectors } from '../masking/registry.js';
import { ALL_DETECTORS } from '../masking/registry.js';
import { type ConfigPath, type IssueList } from './issues.js';
import type { RawCustomDetector, RawMaskingProfile } from './schema.js';
import type { ColumnRuleConfig, CustomDetectorConfig, MaskingProfileConfig, MaskStrategyName } from './types.js';

const DEFAULT_PHONE_REGIONS = ['US'];
const DEFAULT_CONTEXT_CHARS = 40;
/** HMAC keys shorter than this are guessable by brute force over common values. */
const MIN_HASH_KEY_BYTES = 16;

export interface MaskingBuildContext {
  readonly issues: IssueList;
  isPlaceholder(path: ConfigPath): boolean;
}

export function buildMaskingProfiles(raws: readonly RawMaskingProfile[], ctx: MaskingBuildContext): MaskingProfileConfig[] {
  const seen = new Set<string>();
  return raws.map((raw, i) => {
    const path: ConfigPath = ['masking', i];
    if (seen.has(raw.name)) ctx.issues.add([...path, 'name'], `masking profile "${raw.name}" is defined twice; profile names must be unique`);
    seen.add(raw.name);
    return buildProfile(raw, path, ctx);
  });
}

function buildProfile(raw: RawMaskingProfile, path: ConfigPath, ctx: MaskingBuildContext): MaskingProfileConfig {
  const customDetectors = (raw.custom_detectors ?? []).map((d, j) => buildCustomDetector(d, [...path, 'custom_detectors', j], ctx.issues));
  const detectors = raw.detectors ?? [DEFAULT_DETECTOR_SET];
  const known = [DEFAULT_DETECTOR_SET, ...ALL_DETECTORS.map((d) => d.name), ...customDetectors.map((d) => d.name)];
  detectors.forEach((name, j) => {
    if (!known.includes(name)) {
      ctx.issues.add([...path, 'detectors', j], `unknown detector "${name}"; known: ${known.join(', ')} (custom detectors are defined in this profile's custom_detectors)`);
    }
  });
  const builtIn = new Set(ALL_DETECTORS.map((d) => d.name));
  customDetectors.forEach((d, j) => {
    if (builtIn.has(d.name) || d.name === DEFAULT_DETECTOR_SET) {
      ctx.issues.add([...path, 'custom_detectors', j, 'name'], `custom detector "${d.name}" has the name of a built-in detector; choose another name`);
    }
  });
  if (raw.phone_regions !== undefined) {
    try {
      defaultDetectors({ phoneRegions: raw.phone_regions });
    } catch (error) {
      if (!(error instanceof PhoneRegionError)) throw error;
      ctx.issues.add([...path, 'phone_regions'], error.message);
    }
  }
  const columns: ColumnRuleConfig[] = Object.entries(raw.columns ?? {}).map(([pattern, rule]) =>
    typeof rule === 'string' ? { pattern, strategy: rule, label: 'MASKED' } : { pattern, strategy: rule.strategy, label: rule.label ?? 'MASKED' },
  );
  const strategy: MaskStrategyName = raw.strategy ?? 'redact';
  const usesHash = strategy === 'hash' || columns.some((c) => c.strategy === 'hash');
  const keyPath = [...path, 'hash_key'];
  if (usesHash && raw.hash_key === undefined) {
    ctx.issues.add(path, `profile "${raw.name}" uses the "hash" strategy but has no hash_key; set hash_key: "\${env:NAME}" (a secret of at least ${MIN_HASH_KEY_BYTES} bytes)`);
  } else if (raw.hash_key !== undefined && !ctx.isPlaceholder(keyPath) && Buffer.byteLength(raw.hash_key) < MIN_HASH_KEY_BYTES) {
    ctx.issues.add(keyPath, `the hash key must be at least ${MIN_HASH_KEY_BYTES} bytes long (value hidden), or masked tokens could be reversed by guessing`);
  }
  return {
    name: raw.name,
    for: raw.for === undefined ? undefined : { groups: raw.for.groups, subjects: raw.for.subjects, clients: raw.for.clients },
    detectors,
    customDetectors,
    phoneRegions: raw.phone_regions ?? DEFAULT_PHONE_REGIONS,
    strategy,
    columns,
    expressions: raw.expressions ?? 'mask',
    denyPredicates: raw.deny_predicates ?? false,
    hashKey: raw.hash_key,
  };
}

function buildCustomDetector(raw: RawCustomDetector, path: ConfigPath, issues: IssueList): CustomDetectorConfig {
  const built: CustomDetectorConfig = {
    name: raw.name,
    label: raw.label ?? raw.name.toUpperCase().replace(/-/g, '_'),
    pattern: raw.pattern,
    caseInsensitive: raw.case_insensitive ?? false,
    validator: raw.validator,
    context: raw.context === undefined ? undefined : { words: raw.context.words, before: raw.context.before ?? DEFAULT_CONTEXT_CHARS },
    deny: raw.deny ?? [],
  };
  // Compiled here exactly as the gateway will compile it, so every problem shows at start.
  try {
    compileCustomDetector(customDetectorSpec(built));
  } catch (error) {
    if (!(error instanceof CustomDetectorError)) throw error;
    const field = FIELD_KEYS[error.field];
    issues.add(field === undefined ? path : [...path, field], error.problem);
  }
  return built;
}

/** Where each part of a custom detector is written in the file. */
const FIELD_KEYS: Readonly<Record<CustomDetectorField, string | undefined>> = {
  name: 'name',
  label: 'label',
  pattern: 'pattern',
  flags: 'case_insensitive',
  validator: 'validator',
  context: 'context',
  deny: 'deny',
  confidence: undefined,
};

/** The profiles a connection names, in order; unknown names are reported. */
export function resolveMaskingNames(
  names: readonly string[],
  path: ConfigPath,
  byName: ReadonlyMap<string, MaskingProfileConfig>,
  issues: IssueList,
): MaskingProfileConfig[] {
  const out: MaskingProfileConfig[] = [];
  names.forEach((name, i) => {
    const profile = byName.get(name);
    if (profile === undefined) {
      const known = [...byName.keys()];
      issues.add([...path, i], `unknown masking profile "${name}"; ${known.length === 0 ? 'no profiles are defined under the top-level "masking"' : `defined profiles: ${known.join(', ')}`}`);
    } else out.push(profile);
  });
  return out;
}
