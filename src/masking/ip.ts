/** IPv4 and IPv6 addresses. Opt-in: not in the default set (logs are full of them). */
import { isIPv6 } from 'node:net';
import type { Detector } from './detector.js';
import { pattern } from './detector.js';

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';

export const ipDetector: Detector = {
  name: 'ip',
  label: 'IP',
  rules: [
    // Not part of a longer dotted number ("1.2.3.4.5"), but a sentence may end after it.
    { pattern: pattern(`(?<![0-9.])(?:${OCTET}\\.){3}${OCTET}(?![0-9]|\\.\\d)`), confidence: 0.8, minLength: 7, prefilter: /\d\.\d{1,3}\.\d/ },
    // Candidates by shape; node's parser decides ("12:30:45" is a time, not an address).
    {
      pattern: pattern('(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])'),
      validate: (value) => value.length > 2 && isIPv6(value),
      confidence: 0.8,
      minLength: 2,
      prefilter: /:[0-9A-Fa-f]{0,4}:/,
    },
  ],
};
