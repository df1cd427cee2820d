import { describe, expect, it } from 'vitest';
import { cardIssuer, validCardNumber } from '../../../src/masking/card.js';
import { IBAN_LENGTHS, mod97, validIban } from '../../../src/masking/iban.js';
import { jwtHeaderValid } from '../../../src/masking/jwt.js';
import { luhnValid } from '../../../src/masking/luhn.js';
import { validSsn } from '../../../src/masking/ssn.js';

describe('luhnValid', () => {
  it.each(['4111111111111111', '378282246310005', '30569309025904', '0'])('accepts %s', (n) => expect(luhnValid(n)).toBe(true));
  it.each(['4111111111111112', '1234567812345678', '', '4111-1111'])('rejects %s', (n) => expect(luhnValid(n)).toBe(false));
});

describe('cardIssuer', () => {
  it.each([
    ['4111111111111111', 'visa'],
    ['4222222222222', 'visa'],
    ['5555555555554444', 'mastercard'],
    ['2223003122003222', 'mastercard'],
    ['378282246310005', 'amex'],
    ['6011111111111117', 'discover'],
    ['6500000000000002', 'discover'],
    ['6440000000000005', 'discover'],
    ['3530111333300000', 'jcb'],
    ['30569309025904', 'diners'],
    ['36000000000008', 'diners'],
    ['3800000000000006', 'diners'],
    ['6200000000000005', 'unionpay'],
  ])('%s is %s', (n, issuer) => expect(cardIssuer(n)).toBe(issuer));

  it.each([
    ['1234567812345670', 'unknown prefix'],
    ['9999999999999995', 'unknown prefix'],
    ['2720999999999999'.slice(0, 15), 'mastercard prefix at length 15'],
    ['2721000000000000', 'just past the mastercard 2-series'],
    ['37828224631000', 'amex prefix at length 14'],
  ])('%s has no issuer (%s)', (n) => expect(cardIssuer(n)).toBeUndefined());

  it('needs both Luhn and an issuer', () => {
    expect(validCardNumber('4111 1111 1111 1111')).toBe(true);
    expect(validCardNumber('4111-1111-1111-1112')).toBe(false);
    expect(validCardNumber('1234567812345670')).toBe(false);
  });
});

describe('validSsn', () => {
  it.each(['123-45-6780', '001-01-0001', '899-99-9999', '665123456'])('accepts %s', (s) => expect(validSsn(s)).toBe(true));
  it.each([
    ['000-12-3456', 'area 000'],
    ['666-12-3456', 'area 666'],
    ['900-12-3456', 'area 9xx'],
    ['999-12-3456', 'area 9xx'],
    ['123-00-4567', 'group 00'],
    ['123-45-0000', 'serial 0000'],
    ['078-05-1120', 'the Woolworth wallet number'],
    ['219-09-9999', 'an advertised number'],
    ['123-45-6789', 'the canonical example'],
    ['12-34-5678', 'eight digits'],
  ])('rejects %s (%s)', (s) => expect(validSsn(s)).toBe(false));
});

describe('IBAN', () => {
  it('computes ISO 7064 mod 97', () => {
    expect(mod97('370400440532013000DE89')).toBe(1);
    expect(mod97('97')).toBe(0);
  });

  it.each(['DE89370400440532013000', 'GB82WEST12345698765432', 'FR1420041010050500013M02606', 'NL91ABNA0417164300', 'DE89 3704 0044 0532 0130 00', 'NO9386011117947'])(
    'accepts %s',
    (iban) => expect(validIban(iban)).toBe(true),
  );

  it.each([
    ['DE88370400440532013000', 'wrong check digits'],
    ['DE8937040044053201300', 'one character short for DE'],
    ['ZZ89370400440532013000', 'unknown country'],
    ['de89370400440532013000', 'lower case'],
  ])('rejects %s (%s)', (iban) => expect(validIban(iban)).toBe(false));

  it('knows the common countries', () => {
    expect(Object.keys(IBAN_LENGTHS).length).toBeGreaterThanOrEqual(40);
    expect(IBAN_LENGTHS['DE']).toBe(22);
    expect(IBAN_LENGTHS['GB']).toBe(22);
    expect(IBAN_LENGTHS['FR']).toBe(27);
    expect(IBAN_LENGTHS['NO']).toBe(15);
  });
});

describe('jwtHeaderValid', () => {
  const seg = (value: string): string => Buffer.from(value).toString('base64url');
  it('accepts a header that is JSON with a string alg', () => expect(jwtHeaderValid(`${seg('{"alg":"HS256"}')}.e30.x`)).toBe(true));
  it.each([
    ['not JSON', `${seg('{alg:HS256')}.e30.x`],
    ['JSON without alg', `${seg('{"typ":"JWT"}')}.e30.x`],
    ['alg not a string', `${seg('{"alg":1}')}.e30.x`],
  ])('rejects a header that is %s', (_, token) => expect(jwtHeaderValid(token)).toBe(false));
});
