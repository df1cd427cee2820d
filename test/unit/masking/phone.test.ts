import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { describe, expect, it } from 'vitest';
import { PhoneRegionError, phoneDetector } from '../../../src/masking/phone.js';
import { validInternationalNumber, validNationalNumber } from '../../../src/masking/phone-plan.js';
import { DEFAULT_DETECTORS, defaultDetectors, detectorsByName } from '../../../src/masking/registry.js';
import { found } from './support.js';

const EUROPE_AND_US = ['US', 'GB', 'DE', 'FR'];
const phones = (text: string, regions = EUROPE_AND_US): string[] => found(text, [phoneDetector(regions)]).map(([, v]) => v);

describe('phone detector', () => {
  it.each([
    ['Berlin, trunk prefix and space', 'Ruf 030 12345678 an', '030 12345678'],
    ['Berlin, DIN slash', 'Tel 030/1234567.', '030/1234567'],
    ['German mobile, prefix written short', 'Handy 0151 23456789', '0151 23456789'],
    ['London', 'ring 020 7946 0958 today', '020 7946 0958'],
    ['London, written 0207', 'ring 0207 946 0958 today', '0207 946 0958'],
    ['UK mobile', 'mobile 07911 123456', '07911 123456'],
    ['Paris, pairs', 'appelez le 01 23 45 67 89', '01 23 45 67 89'],
    ['French mobile, dots', 'portable 06.12.34.56.78', '06.12.34.56.78'],
    ['international with (0)', 'office +44 (0)20 7946 0958', '+44 (0)20 7946 0958'],
    ['international dialling prefix', 'from DE: 0049 30 12345678', '0049 30 12345678'],
    ['US national', 'call (415) 555-2671', '(415) 555-2671'],
  ])('finds %s', (_, text, value) => {
    expect(phones(text)).toEqual([value]);
  });

  it('reads national numbers only in the configured regions; international ones everywhere', () => {
    expect(phones('Ruf 030 12345678 an', ['US'])).toEqual([]);
    expect(phones('Ruf 030 12345678 an', ['DE'])).toEqual(['030 12345678']);
    expect(phones('Ruf +49 30 12345678 an', ['US'])).toEqual(['+49 30 12345678']);
  });

  it.each([
    ['a German number without its trunk prefix', 'Ruf 30 12345678 an'],
    ['an employer id (first group cut short)', 'EIN 04-3572449'],
    ['a calling code without "+"', 'ref 49-3652699'],
    ['an ISBN-10', 'ISBN 0-306-40615-2'],
    ['an ISBN-10 with an X check digit', 'ISBN 0-568-59147-X'],
    ['an ISBN-13', 'ISBN 978-3-16-148410-0'],
    ['an ISO date', 'on 2024-01-15'],
    ['a European date', 'am 15.01.2024'],
    ['an IPv4 address', 'host 192.168.100.200'],
    ['a ZIP+4 code', 'zip 94103-1234'],
    ['an SSN-shaped number', 'SSN 078-05-1120'],
    ['a decimal number', 'lat 48.8566, lon 164.0338'],
    ['digits inside a printed IBAN', 'IBAN IE65 QDKA 0541 9435 9946 13'],
    ['a card number with a bad Luhn digit', 'card 4111 1111 1111 1112'],
    ['a number that is not in any plan', 'call (123) 456-7890'],
    ['a bare run without a label', 'order 4155552671 shipped'],
    ['a bare run after a label in another sentence', 'Contact us by phone. ISBN 3688967860 is in stock.'],
    ['a bare run in the next JSON field', '{"phone": null, "account": "4155552671"}'],
    ['a bare run on the next line', 'phone\n4155552671'],
  ])('leaves %s alone', (_, text) => {
    expect(phones(text)).toEqual([]);
  });

  it.each([
    ['a JSON key', '{"phone": "4155552671"}', '4155552671'],
    ['a camel-case key', '{"mobilePhone": "07911123456"}', '07911123456'],
    ['an abbreviation with a dot', 'Tel. 4155552671', '4155552671'],
    ['E.164 without its "+"', 'phone_number=442079460958', '442079460958'],
    ['a label and short words', 'Call me at 4155552671 tomorrow', '4155552671'],
  ])('finds a bare run after %s', (_, text, value) => {
    expect(phones(text)).toEqual([value]);
  });

  it('a labelled phone number beats a card reading of the same digits', () => {
    // 4915243823304 is a valid German mobile number and, by Luhn, a 13-digit Visa.
    expect(found('{"phone": "4915243823304"}', defaultDetectors({ phoneRegions: ['DE'] }))).toEqual([['phone', '4915243823304']]);
    expect(found('{"card": "4915243823304"}', defaultDetectors({ phoneRegions: ['DE'] }))).toEqual([['card', '4915243823304']]);
  });

  it('refuses regions libphonenumber does not know', () => {
    expect(() => phoneDetector(['US', 'XX'])).toThrow(PhoneRegionError);
    expect(() => defaultDetectors({ phoneRegions: ['us'] })).toThrow(/unknown phone region "us"/);
  });
});

describe('default detectors with other phone regions', () => {
  it('gives the same arrays for the same options, DEFAULT_DETECTORS for the defaults', () => {
    expect(defaultDetectors()).toBe(DEFAULT_DETECTORS);
    expect(defaultDetectors({ phoneRegions: ['US'] })).toBe(DEFAULT_DETECTORS);
    expect(defaultDetectors({ phoneRegions: ['DE', 'FR'] })).toBe(defaultDetectors({ phoneRegions: ['DE', 'FR'] }));
    expect(defaultDetectors({ phoneRegions: ['DE', 'FR'] }).map((d) => d.name)).toEqual(DEFAULT_DETECTORS.map((d) => d.name));
  });

  it('reads national numbers of those regions, by default set and by name', () => {
    expect(found('Ruf 030 12345678', defaultDetectors({ phoneRegions: ['DE'] }))).toEqual([['phone', '030 12345678']]);
    expect(found('Ruf 030 12345678', detectorsByName(['phone'], { phoneRegions: ['DE'] }))).toEqual([['phone', '030 12345678']]);
    expect(found('Ruf 030 12345678', detectorsByName(['phone']))).toEqual([]);
  });
});

/** Deterministic digit strings (mulberry32), as the corpus generator draws them. */
function digitStrings(seed: number, count: number): string[] {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () => {
    const length = 7 + Math.floor(next() * 9);
    let digits = next() < 0.4 ? '0' : next() < 0.3 ? '1' : '';
    while (digits.length < length) digits += String(Math.floor(next() * 10));
    return digits;
  });
}

describe('numbering-plan checks agree with libphonenumber', () => {
  const digitsOf = (text: string): string => text.replace(/\D/g, '');
  /** Trunk prefixes of the regions below (Spain and Italy have none). */
  const TRUNK: Partial<Record<CountryCode, string>> = { US: '1', CA: '1', GB: '0', FR: '0', NL: '0', CH: '0' };
  /**
   * libphonenumber's verdict on digits written as a national number of `region`: valid,
   * and written as its national format writes it — or, where that omits the trunk
   * prefix, with it ("1 415 …" in the US).
   */
  const libphonenumberSays = (digits: string, region: CountryCode): boolean => {
    const number = parsePhoneNumberFromString(digits, region);
    if (number === undefined || !number.isValid()) return false;
    const national = digitsOf(number.formatNational());
    return digits === national || (national === number.nationalNumber && digits === `${TRUNK[region] ?? ''}${national}`);
  };

  it.each(['US', 'CA', 'GB', 'FR', 'ES', 'NL', 'IT', 'CH'] as const)('on national numbers in %s', (region) => {
    // International dialling prefixes are another way in (see the detector tests).
    const samples = digitStrings(region.charCodeAt(0) * 31 + region.charCodeAt(1), 4000).filter((d) => !/^(?:00|011)/.test(d));
    const disagreements = samples.filter((d) => validNationalNumber(d, d, region) !== libphonenumberSays(d, region));
    expect(disagreements).toEqual([]);
    // Not vacuous: some samples are valid numbers.
    expect(samples.filter((d) => validNationalNumber(d, d, region)).length).toBeGreaterThan(20);
  });

  it('on international numbers', () => {
    const samples = digitStrings(7, 20000).map((d) => d.replace(/^0+/, '') || '1');
    const disagreements = samples.filter((d) => validInternationalNumber(d) !== (parsePhoneNumberFromString(`+${d}`)?.isValid() === true));
    expect(disagreements).toEqual([]);
    expect(samples.filter(validInternationalNumber).length).toBeGreaterThan(500);
  });
});
