import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../src/masking/detector.js';
import { MaskFindingsError, maskText, partialMask } from '../../../src/masking/mask.js';
import { DEFAULT_DETECTORS } from '../../../src/masking/registry.js';
import { scan } from '../../../src/masking/scan.js';

const mask = (text: string, strategy: 'redact' | 'partial'): string => maskText(text, scan(text, DEFAULT_DETECTORS), strategy);

describe('maskText', () => {
  const text = 'Ann <ann@example.com> paid with 4111 1111 1111 1111, SSN 123-45-6780, IBAN DE89370400440532013000, password=hunter2!';

  it('redact replaces each value with its label', () => {
    expect(mask(text, 'redact')).toBe('Ann <[EMAIL]> paid with [CARD], SSN [SSN], IBAN [IBAN], password=[SECRET]');
  });

  it('partial keeps separators and the last 4 letters or digits', () => {
    expect(mask(text, 'partial')).toBe(
      'Ann <***@******e.com> paid with **** **** **** 1111, SSN ***-**-6780, IBAN ******************3000, password=*******!',
    );
  });

  it('partial redacts private keys whole', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq\n-----END PRIVATE KEY-----';
    expect(mask(`k=\n${pem}\n`, 'partial')).toBe('k=\n[SECRET]\n');
  });

  it('leaves text without findings untouched, byte for byte', () => {
    const plain = 'order 4111111111111112 on 2024-01-15, v1.2.3.4 — ünïcødé 😀';
    expect(mask(plain, 'redact')).toBe(plain);
    expect(mask(plain, 'partial')).toBe(plain);
  });

  it('keeps text around astral characters intact', () => {
    expect(mask('😀ann@example.com😀', 'redact')).toBe('😀[EMAIL]😀');
  });

  it.each<[string, Finding[]]>([
    ['overlapping', [f(0, 5), f(3, 8)]],
    ['unsorted', [f(5, 8), f(0, 2)]],
    ['empty', [f(2, 2)]],
    ['past the end', [f(5, 99)]],
  ])('refuses %s findings with a typed error', (_, findings) => {
    expect(() => maskText('0123456789', findings, 'redact')).toThrow(MaskFindingsError);
  });
});

describe('partialMask', () => {
  it.each([
    ['4111111111111111', '************1111'],
    ['123-45-6780', '***-**-6780'],
    ['hunter2', '*******'],
    ['abcd-efgh', '****-efgh'],
    ['ünïcødé-àççéñts', '*******-***éñts'],
  ])('%s → %s', (value, masked) => expect(partialMask(value)).toBe(masked));
});

function f(start: number, end: number): Finding {
  return { detector: 'x', label: 'X', start, end, confidence: 1 };
}
