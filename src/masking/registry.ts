/** The built-in detectors, by name, and the default set. */
import { cardDetector } from './card.js';
import type { Detector } from './detector.js';
import { emailDetector } from './email.js';
import { ibanDetector } from './iban.js';
import { ipDetector } from './ip.js';
import { jwtDetector } from './jwt.js';
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

export const ALL_DETECTORS: readonly Detector[] = [
  emailDetector,
  cardDetector,
  ssnDetector,
  ibanDetector,
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

/** Opt-in only: addresses are everywhere in logs and rarely personal data on their own. */
const OPT_IN: ReadonlySet<string> = new Set([ipDetector.name]);

export const DEFAULT_DETECTORS: readonly Detector[] = ALL_DETECTORS.filter((d) => !OPT_IN.has(d.name));

export class UnknownDetectorError extends Error {
  constructor(readonly detectorName: string) {
    super(`unknown detector "${detectorName}"; known detectors: ${ALL_DETECTORS.map((d) => d.name).join(', ')}`);
    this.name = 'UnknownDetectorError';
  }
}

/** The named built-in detectors, in the order given. */
export function detectorsByName(names: readonly string[]): Detector[] {
  return names.map((name) => {
    const found = ALL_DETECTORS.find((d) => d.name === name);
    if (found === undefined) throw new UnknownDetectorError(name);
    return found;
  });
}
