/**
 * The texts and detector sets of the recorded-findings test (scan-findings.test.ts), and
 * how its fixture writes findings down. Shared with record-findings.ts, which wrote the
 * fixture: the texts are regenerated from seeds rather than stored, and a digest of them,
 * kept in the fixture, tells a changed generator from a changed detector.
 */
import { createHash } from 'node:crypto';
import { generateCorpus } from '../../../bench/mask/corpus.js';
import { fuzzTexts } from './fuzz-text.js';

export interface Corpus {
  readonly name: string;
  readonly texts: readonly string[];
}

/**
 * Texts at the edges the detectors' fast paths decide on: where a digit run starts and
 * ends, what touches it, numbers a shared prefilter once let through or not, markers that
 * overlap or sit at either end of the text.
 */
const EDGE_CASES: readonly string[] = [
  '4111111111111111', '4111 1111 1111 1111', '4111-1111-1111-1111', '4111 1111-1111 1111', '+4111111111111111', 'x4111111111111111',
  '4111111111111111x', '378282246310005', '3782 822463 10005', '6011000990139424 and 5555555555554444', '41111111111111111111',
  '1234 5678', '4111 111111 1111', '4111_1111_1111_1111', '(4111111111111111)',
  '078-05-1120', '123-45-6789', '219-09-9999', '536-22-1234', '536-22-12345', '-536-22-1234', '536-22-1234-5', 'a536-22-1234',
  'SSN 536221234', 'SSN536221234', 'ssn: "536221234"', 'her SSN is 536221234.', 'SSN, 536221234', 'SSN\n536221234',
  'social security number 536221234', 'SSNs: 5362212345', 'SSN 536221234 SSN 536221235', 'ssn:536-22-1234', 'ssn:536221234',
  'SSN#536221234', '"ssn":"536221234"', 'SSN-536221234', 'SSN 536221234x', 'SSN 536221234-1', 'SSN (536221234)', 'SSN/536221234',
  'DE89370400440532013000', 'DE89 3704 0044 0532 0130 00', 'GB82WEST12345698765432', 'GB82 WEST 1234 5698 7654 32',
  'xDE89370400440532013000', 'NO9386011117947', 'DE89370400440532013001', 'IBAN: FR1420041010050500013M02606',
  '(415) 555-2671', '+1 (415) 555-2671', '+14155552671', '+1 415 555 2671', '415-555-2671', '415.555.2671', '415 555 2671',
  '1 (415) 555-2671', '0 4503-7-4258', 'call 0 4503-7-4258', '+44 (0)20 7946 0958', '030/1234567', '030 1234567',
  '(311) 070-4393', 'phone: 4155552671', 'Tel. 4155552671', 'tel:+14155552671', 'phone 14155552671', 'mobilePhone=4155552671',
  'hotel 4155552671', 'phones 4155552671', 'by phone. ISBN 3688967860', '2024-01-15 10:30', '2024-01-15T07:08:37Z',
  '15.01.2024', '192.168.1.20', '164.0338', '0-394-31806-4', '0-568-59147-X', '415-555-2671@txt.att.net', '4155552671',
  '415 555 2671 4111 1111 1111 1111', '+', '(', '+(', '0', '0000000', '1234567', '12345678901234567890123456789',
  'ann@example.com', 'a@b.cd', '@example.com', 'ann@', 'ann.lee+tag@mail.example.co.uk', 'ann@example.com@example.com',
  'AKIAIOSFODNN7EXAMPLE', 'xAKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLEX', 'ASIAIOSFODNN7EXAMPLE',
  'secret: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'secret: da39a3ee5e6b4b0d3255bfef95601890afd80709',
  `ghp_${'a1'.repeat(18)}`, `github_pat_${'A_1'.repeat(10)}`, `glpat-${'x'.repeat(20)}`, 'xoxb-1234567890-abcdef', `sk_live_${'a'.repeat(24)}`,
  `rk_live_${'B'.repeat(30)}`, `AIza${'A'.repeat(35)}`, `"password": "sk_live_${'a'.repeat(24)}"`,
  '-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----', '-----BEGIN PRIVATE KEY-----\r\nabc\r\n-----END PRIVATE KEY-----',
  'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl', 'eyJhbGciOiJIUzI1NiJ9', 'xeyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln',
  'password=hunter2', 'PASSWORD: "s3cr3t!"', 'pwd=x', 'api_key=abc123def', 'private_key_id: 1234', 'token_type=bearer',
  'passwordpassword=1', 'secret secret secret', '😀 4111111111111111 😀', 'é ann@example.com é', '\u00a04111111111111111',
];

/** The corpora, as the fixture records them (their sizes and seeds are part of it). */
export function findingsCorpora(): Corpus[] {
  const throughput = generateCorpus({ seed: 20250602, documents: 300, sensitiveRate: 0.04, lookalikeRate: 0.25, formats: { prose: 6, json: 2, csv: 1, config: 1 } }).map(
    (d) => d.text,
  );
  return [
    { name: 'hand-made edge cases', texts: EDGE_CASES },
    { name: 'the quality corpus (seed 20250601, 300 documents)', texts: generateCorpus({ seed: 20250601, documents: 300 }).map((d) => d.text) },
    { name: 'the throughput corpus (seed 20250602, 300 documents), as documents and as cells', texts: [...throughput, ...throughput.flatMap((t) => t.split(/\n|, /))] },
    { name: 'fuzzed texts (seed 1, 4000 texts)', texts: fuzzTexts(1, 4000) },
  ];
}

/** sha-256 of the texts, each ended by a NUL. */
export function digestOf(texts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const text of texts) hash.update(text).update('\0');
  return hash.digest('hex');
}

/** What the fixture needs of a registry of detectors: recorded and checked alike. */
export interface DetectorRegistry<D extends { readonly name: string }> {
  readonly all: readonly D[];
  readonly defaults: readonly D[];
  readonly withPhoneRegions: (regions: readonly string[]) => readonly D[];
}

export interface DetectorSet<D> {
  readonly name: string;
  readonly detectors: readonly D[];
}

/** The default sets, other phone regions, and each detector alone (nothing else's findings can hide a change in its own). */
export function detectorSets<D extends { readonly name: string }>(registry: DetectorRegistry<D>): DetectorSet<D>[] {
  return [
    { name: 'default', detectors: registry.defaults },
    { name: 'all', detectors: registry.all },
    { name: 'default, phones of US, GB, DE, FR', detectors: registry.withPhoneRegions(['US', 'GB', 'DE', 'FR']) },
    { name: 'default, phones of FR', detectors: registry.withPhoneRegions(['FR']) },
    ...registry.all.map((detector) => ({ name: detector.name, detectors: [detector] })),
    { name: 'phone, of US, GB, DE, FR', detectors: registry.withPhoneRegions(['US', 'GB', 'DE', 'FR']).filter((d) => d.name === 'phone') },
  ];
}

export interface RecordedFinding {
  readonly detector: string;
  readonly label: string;
  readonly start: number;
  readonly end: number;
  readonly confidence: number;
}

/**
 * One text's findings as the fixture writes them: "detector start end confidence", ";"
 * between findings, where detector is the index in `detectors` of "name label".
 */
export function encodeFindings(findings: readonly RecordedFinding[], detectors: readonly string[]): string {
  return findings.map((f) => `${detectors.indexOf(`${f.detector} ${f.label}`)} ${f.start} ${f.end} ${f.confidence}`).join(';');
}

/**
 * The fixture: the detectors ("name label") its findings name by index, and for each
 * detector set the texts (numbered across the corpora, in order) in which it finds
 * something, each as "index:findings".
 */
export interface FindingsFixture {
  readonly about: string;
  readonly corpora: readonly { readonly name: string; readonly texts: number; readonly sha256: string }[];
  readonly detectors: readonly string[];
  readonly sets: readonly { readonly name: string; readonly findings: readonly string[] }[];
}
