/** The built-in detectors, by name, and the default set. */
import { cardDetector } from './card.js';
import type { Detector } from './detector.js';
import { emailDetector } from './email.js';
import { ibanDetector } from './iban.js';
import { ipDetector } from './ip.js';
import { jwtDetector } from './jwt.js';
import { DEFAULT_PHONE_REGIONS, phoneDetector } from './phone.js';
import {
  awsAccessKeyDetector,
  awsSecretKeyDetector,
  githubTokenDetector,
  gitlabTokenDetector,
  googleApiKeyDetector,
  privateKeyDetector,
  secretAssignmentDetector,
  slackTokenDetector,
  stripeKeyDetector,
} from './secrets.js';
import { ssnDetector } from './ssn.js';

export interface DetectorOptions {
  /** Where national phone numbers are read from (ISO 3166-1 alpha-2); default ['US']. */
  readonly phoneRegions?: readonly string[];
}

/** Opt-in only: addresses are everywhere in logs and rarely personal data on their own. */
const OPT_IN: ReadonlySet<string> = new Set([ipDetector.name]);

function builtIn(phone: Detector): readonly Detector[] {
  return [
    emailDetector,
    cardDetector,
    ssnDetector,
    ibanDetector,
    phone,
    ipDetector,
    awsAccessKeyDetector,
    awsSecretKeyDetector,
    githubTokenDetector,
    gitlabTokenDetector,
    slackTokenDetector,
    stripeKeyDetector,
    googleApiKeyDetector,
    privateKeyDetector,
    jwtDetector,
    secretAssignmentDetector,
  ];
}

export const ALL_DETECTORS: readonly Detector[] = builtIn(phoneDetector(DEFAULT_PHONE_REGIONS));

export const DEFAULT_DETECTORS: readonly Detector[] = ALL_DETECTORS.filter((d) => !OPT_IN.has(d.name));

/**
 * Built per region list once and kept: the same options give the same arrays, which is
 * what lets `scan` reuse what it compiled for them.
 */
const builtInByRegions = new Map<string, readonly Detector[]>([[DEFAULT_PHONE_REGIONS.join(','), ALL_DETECTORS]]);

function allDetectors(options: DetectorOptions): readonly Detector[] {
  const regions = options.phoneRegions ?? DEFAULT_PHONE_REGIONS;
  const key = regions.join(',');
  let detectors = builtInByRegions.get(key);
  if (detectors === undefined) {
    detectors = builtIn(phoneDetector(regions));
    builtInByRegions.set(key, detectors);
  }
  return detectors;
}

const defaultsByRegions = new Map<readonly Detector[], readonly Detector[]>([[ALL_DETECTORS, DEFAULT_DETECTORS]]);

/** The default set with the given options (DEFAULT_DETECTORS itself for the defaults). Throws PhoneRegionError. */
export function defaultDetectors(options: DetectorOptions = {}): readonly Detector[] {
  const all = allDetectors(options);
  let defaults = defaultsByRegions.get(all);
  if (defaults === undefined) {
    defaults = all.filter((d) => !OPT_IN.has(d.name));
    defaultsByRegions.set(all, defaults);
  }
  return defaults;
}

export class UnknownDetectorError extends Error {
  constructor(readonly detectorName: string) {
    super(`unknown detector "${detectorName}"; known detectors: ${ALL_DETECTORS.map((d) => d.name).join(', ')}`);
    this.name = 'UnknownDetectorError';
  }
}

/** The named built-in detectors, in the order given. Throws UnknownDetectorError, PhoneRegionError. */
export function detectorsByName(names: readonly string[], options: DetectorOptions = {}): Detector[] {
  const all = allDetectors(options);
  return names.map((name) => {
    const found = all.find((d) => d.name === name);
    if (found === undefined) throw new UnknownDetectorError(name);
    return found;
  });
}
