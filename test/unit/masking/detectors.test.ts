import { describe, expect, it } from 'vitest';
import { ALL_DETECTORS, detectorsByName } from '../../../src/masking/registry.js';
import { found } from './support.js';

const jwtOf = (header: string, payload = '{"sub":"1"}', signature = 'c2lnbmF0dXJl'): string =>
  `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}.${signature}`;
const PEM = `-----BEGIN RSA PRIVATE KEY-----
MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu
KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==
-----END RSA PRIVATE KEY-----`;

describe('detectors: values that are masked', () => {
  it.each([
    ['email', 'write to ann.lee+tag@mail.example.co.uk today', 'ann.lee+tag@mail.example.co.uk'],
    ['email', 'https://x.io/invite?email=ann@example.com&x=1', 'ann@example.com'],
    ['email', '{ann@example.com,bob}', 'ann@example.com'],
    ['card', 'card 4111111111111111 on file', '4111111111111111'],
    ['card', 'card 4111 1111 1111 1111 exp 12/25', '4111 1111 1111 1111'],
    ['card', 'card 5555-5555-5555-4444.', '5555-5555-5555-4444'],
    ['card', 'mc 2223003122003222', '2223003122003222'],
    ['card', 'amex 3782 822463 10005', '3782 822463 10005'],
    ['card', 'diners 3056 930902 5904', '3056 930902 5904'],
    ['card', 'jcb 3530111333300000', '3530111333300000'],
    ['card', 'up 6200000000000005', '6200000000000005'],
    ['card', 'ids 1234 4111111111111111', '4111111111111111'],
    ['card', 'card 4111 1111 1111 1111 12/25', '4111 1111 1111 1111'],
    ['card', 'unionpay 6200 0000 0000 0000 000', '6200 0000 0000 0000 000'],
    ['ssn', 'SSN 123-45-6780', '123-45-6780'],
    ['ssn', 'her ssn: 123456780', '123456780'],
    ['ssn', 'Social Security number 123456780', '123456780'],
    ['ssn', '{"ssn": "123456780"}', '123456780'],
    ['phone', 'call (415) 555-2671 today', '(415) 555-2671'],
    ['phone', 'or 1-415-555-2671.', '1-415-555-2671'],
    ['phone', 'Tel. 415.555.2671', '415.555.2671'],
    ['phone', 'intl +44 20 7946 0958 office', '+44 20 7946 0958'],
    ['phone', 'stored as +14155552671', '+14155552671'],
    ['phone', 'phone: 4155552671', '4155552671'],
    ['phone', '{"phone_number": "14155552671"}', '14155552671'],
    ['iban', 'pay DE89370400440532013000 now', 'DE89370400440532013000'],
    ['iban', 'IBAN: GB82 WEST 1234 5698 7654 32.', 'GB82 WEST 1234 5698 7654 32'],
    ['iban', 'FR1420041010050500013M02606', 'FR1420041010050500013M02606'],
    ['aws-access-key', 'key AKIAIOSFODNN7EXAMPLE here', 'AKIAIOSFODNN7EXAMPLE'],
    ['aws-access-key', 'ASIAY34FZKBOKMUTVV7A', 'ASIAY34FZKBOKMUTVV7A'],
    ['aws-secret-key', 'aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
    ['aws-secret-key', 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
    ['github-token', `token ghp_${'a'.repeat(36)}`, `ghp_${'a'.repeat(36)}`],
    ['github-token', `gho_${'Z9'.repeat(18)}`, `gho_${'Z9'.repeat(18)}`],
    ['github-token', `github_pat_11ABCDEFG0123456789abc_${'x'.repeat(59)}`, `github_pat_11ABCDEFG0123456789abc_${'x'.repeat(59)}`],
    ['gitlab-token', 'glpat-abcdefghij0123456789 ok', 'glpat-abcdefghij0123456789'],
    ['slack-token', 'xoxb-1234567890-abcdefghijkl', 'xoxb-1234567890-abcdefghijkl'],
    ['stripe-key', `sk_live_${'4eC39HqLyjWDarjtT1zdp7dc'}`, 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'],
    ['stripe-key', `rk_live_${'a'.repeat(30)}`, `rk_live_${'a'.repeat(30)}`],
    ['google-api-key', `AIza${'S'.repeat(35)}`, `AIza${'S'.repeat(35)}`],
    ['private-key', `key:\n${PEM}\nend`, PEM],
    ['jwt', `Bearer ${jwtOf('{"alg":"RS256","typ":"JWT"}')}`, jwtOf('{"alg":"RS256","typ":"JWT"}')],
    ['jwt', jwtOf('{ "alg": "none" }', '{}', ''), jwtOf('{ "alg": "none" }', '{}', '')],
    ['jwt', `use ${jwtOf('{"alg":"ES256"}')}.`, jwtOf('{"alg":"ES256"}')],
    ['secret-assignment', 'password=hunter2 next', 'hunter2'],
    ['secret-assignment', 'DB_PASSWORD = "correct horse"', 'correct horse'],
    ['secret-assignment', "secret: 'abc def'", 'abc def'],
    ['secret-assignment', '{"api_key": "k-123", "user": "x"}', 'k-123'],
    ['secret-assignment', 'url?token=abc123&x=1', 'abc123'],
  ])('%s: %j', (detector, text, value) => {
    expect(found(text, detectorsByName([detector]))).toEqual([[detector, value]]);
    // The default set agrees (no other detector claims it first).
    expect(found(text)).toContainEqual([detector, value]);
  });

  it('ip (opt-in) finds IPv4 and IPv6 addresses', () => {
    const ip = detectorsByName(['ip']);
    expect(found('from 10.0.0.1. and 192.168.1.254', ip)).toEqual([
      ['ip', '10.0.0.1'],
      ['ip', '192.168.1.254'],
    ]);
    expect(found('v6 2001:db8::8a2e:370:7334 and ::1 ok', ip)).toEqual([
      ['ip', '2001:db8::8a2e:370:7334'],
      ['ip', '::1'],
    ]);
  });
});

describe('detectors: look-alikes that are not masked', () => {
  it.each([
    ['an order number failing Luhn', 'order 4111111111111112 shipped'],
    ['a run of five groups (no 16-digit card inside it)', 'ids 1234 4111 1111 1111 1111'],
    ['a 19-digit run whose first 16 digits pass Luhn', 'ref 4111 1111 1111 1111 355'],
    ['card groups inside a printed IBAN', 'IBAN SE25 2343 4111 1111 1111 1111'],
    ['a 16-digit id failing Luhn', 'id 1234-5678-9012-3456'],
    ['a Luhn-valid number with an unknown prefix', 'ref 1234567812345670'],
    ['a 20-digit number', 'tracking 41111111111111111111'],
    ['a date', 'on 2024-01-15 at 12:30:45'],
    ['a version string (IPs off)', 'version 1.2.3.4 released'],
    ['an invalid SSN area 000', 'SSN 000-12-3456'],
    ['an invalid SSN area 666', 'SSN 666-12-3456'],
    ['an invalid SSN area 9xx', 'SSN 912-12-3456'],
    ['an advertised SSN', 'SSN 078-05-1120'],
    ['the example SSN', 'SSN 123-45-6789'],
    ['nine digits without SSN context', 'invoice 123456780'],
    ['nine digits in the JSON field after the SSN', '{"ssn": null, "employee_id": "123456780"}'],
    ['nine digits in the CSV row under an ssn header', 'id,ssn,dept\n123456780,x,y'],
    ['a phone-like number', 'call 555-123-4567'],
    ['a ten-digit id without a phone label', 'order 4155552671 shipped'],
    ['an epoch timestamp', '"ts": 1710494493'],
    ['an ISBN-10', 'ISBN 0-306-40615-2'],
    ['a Windows build number', 'build 10.0.19045.3693'],
    ['a UUID', 'request 550e8400-e29b-41d4-a716-446655440000'],
    ['a bare number in the JSON field after the phone', '{"phone": null, "account": "4155552671"}'],
    ['an IBAN with a wrong check', 'IBAN DE88370400440532013000'],
    ['an IBAN of the wrong length', 'IBAN DE8937040044053201300'],
    ['a sha1 without secret context', 'commit 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12'],
    ['a sha1 right after a secret', 'rotated the secret in 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12'],
    ['the id of a private key', '{"private_key_id": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"}'],
    ['a token type', '{"token_type": "Bearer"}'],
    ['AKIA in prose', 'AKIA is the prefix of AWS access key ids'],
    ['a too-short AKIA id', 'AKIAIOSFODNN7EXAMPL'],
    ['a JWT-looking string whose header is not JSON', `${Buffer.from('{alg:HS256}').toString('base64url')}.eyJzdWIiOiIxIn0.c2ln`],
    ['a dotted hostname', 'see eyJhbGciOiJub25lIn0x.example.com'],
    ['four dotted segments', 'eyJhbGciOiJub25lIn0.e30.abc.def'],
    ['an unterminated PEM header', '-----BEGIN PRIVATE KEY----- and no end'],
    ['a public key', '-----BEGIN PUBLIC KEY-----\nMFww\n-----END PUBLIC KEY-----'],
    ['a test Stripe key', `sk_test_${'a'.repeat(24)}`],
    ['a word ending in token with nothing assigned', 'the token is valid'],
    ['an at sign without a domain', 'ping @alice or a@b'],
    ['an address-like part of a password', 'pass x~s@QAE.WX*tbGS-j'],
  ])('%s', (_, text) => {
    expect(found(text)).toEqual([]);
  });

  it('an international number is a phone, never a card, even when its digits pass Luhn', () => {
    expect(found('call +4915243823304')).toEqual([['phone', '+4915243823304']]);
    expect(found('card 4915243823304')).toEqual([['card', '4915243823304']]);
  });

  it('the dotted hostname check is not vacuous: its header does decode', () => {
    // "eyJhbGciOiJub25lIn0" is {"alg":"none"}; the "x" and the dots stop it being a JWT.
    expect(found('eyJhbGciOiJub25lIn0.e30.')).toEqual([['jwt', 'eyJhbGciOiJub25lIn0.e30.']]);
  });

  it('every detector name is unique and kebab-case', () => {
    const names = ALL_DETECTORS.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
  });
});
