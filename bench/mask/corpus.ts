/**
 * A labelled corpus for the content detectors, generated from a seed (same seed, same
 * corpus): every sensitive type embedded in realistic prose, JSON documents, CSV tables
 * and config files, each value's exact span labelled, plus look-alikes (hard negatives)
 * whose spans are recorded too, so a false positive can be traced to what it hit.
 *
 * What the corpus deliberately does not contain: bare digit runs that nothing in the
 * text identifies — a 9-digit SSN or a 10-digit phone number in a CSV cell with no word
 * naming it. No content detector can tell those from an id (a column rule can); they
 * appear here only after a word or key that names them ("SSN", "phone", "ssn":).
 */
import { Prng } from './prng.js';
import {
  atLookalike,
  awsAccessKeyId,
  awsSecretKey,
  barePhone,
  cardNumber,
  CITIES,
  dashedSsn,
  email,
  gitlabToken,
  githubToken,
  gitSha,
  googleApiKey,
  iban,
  ibanWithWrongCheck,
  invalidPhone,
  invalidSsn,
  ipv4,
  isbn,
  jwt,
  luhnInvalidCardNumber,
  orderId,
  otherNumber,
  passphrase,
  password,
  personName,
  privateKeyPem,
  PRODUCTS,
  slackToken,
  ssnDigits,
  STATUSES,
  stripeKey,
  TEAMS,
  timestamp,
  uuid,
  versionString,
  WEEKDAYS,
  writtenPhone,
} from './values.js';

export const ENTITY_TYPES = [
  'email', 'card', 'ssn', 'iban', 'phone', 'aws-access-key', 'aws-secret-key', 'github-token', 'gitlab-token', 'slack-token',
  'stripe-key', 'google-api-key', 'private-key', 'jwt', 'secret-assignment',
] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

export const NEGATIVE_KINDS = [
  'luhn-invalid-card', 'order-id', 'timestamp', 'uuid', 'invalid-ssn', 'wrong-check-iban', 'version', 'isbn', 'git-sha',
  'invalid-phone', 'ipv4', 'other-number', 'at-lookalike',
] as const;
export type NegativeKind = (typeof NEGATIVE_KINDS)[number];

export interface EntitySpan {
  readonly type: EntityType;
  readonly start: number;
  readonly end: number;
}

export interface NegativeSpan {
  readonly kind: NegativeKind;
  readonly start: number;
  readonly end: number;
}

export type DocumentFormat = 'prose' | 'json' | 'csv' | 'config';

export interface LabelledDocument {
  readonly format: DocumentFormat;
  readonly text: string;
  readonly entities: readonly EntitySpan[];
  readonly negatives: readonly NegativeSpan[];
}

export interface CorpusOptions {
  readonly seed: number;
  readonly documents: number;
  /**
   * Chance that a sentence, record or table carries sensitive values (the rest carry
   * look-alikes and plain text). 1 for the quality corpus; low for throughput text, where
   * most content is clean.
   */
  readonly sensitiveRate?: number;
  /** Chance that a clean prose sentence carries look-alikes rather than only words (default 0.5). */
  readonly lookalikeRate?: number;
  /** Relative weights of the formats (default prose 2, json 1, csv 1, config 1). */
  readonly formats?: Readonly<Record<DocumentFormat, number>>;
}

interface Mix {
  readonly sensitiveRate: number;
  readonly lookalikeRate: number;
}

// ------------------------------------------------------------------ building text with labels

type Slot =
  | { readonly entity: EntityType; readonly value: string }
  | { readonly negative: NegativeKind; readonly value: string }
  | { readonly text: string };

class DocumentBuilder {
  private text = '';
  private readonly entities: EntitySpan[] = [];
  private readonly negatives: NegativeSpan[] = [];

  add(slot: Slot): this {
    const start = this.text.length;
    if ('entity' in slot) {
      this.text += slot.value;
      this.entities.push({ type: slot.entity, start, end: this.text.length });
    } else if ('negative' in slot) {
      this.text += slot.value;
      this.negatives.push({ kind: slot.negative, start, end: this.text.length });
    } else this.text += slot.text;
    return this;
  }

  plain(text: string): this {
    return this.add({ text });
  }

  build(format: DocumentFormat): LabelledDocument {
    return { format, text: this.text, entities: this.entities, negatives: this.negatives };
  }
}

const entity = (type: EntityType, make: (rng: Prng) => string) => (rng: Prng): Slot => ({ entity: type, value: make(rng) });
const negative = (kind: NegativeKind, make: (rng: Prng) => string) => (rng: Prng): Slot => ({ negative: kind, value: make(rng) });
const filler = (make: (rng: Prng) => string) => (rng: Prng): Slot => ({ text: make(rng) });

/** What each `{placeholder}` of a template stands for. */
const SLOTS: Readonly<Record<string, (rng: Prng) => Slot>> = {
  email: entity('email', email),
  card: entity('card', cardNumber),
  ssn: entity('ssn', (rng) => dashedSsn(ssnDigits(rng))),
  ssnBare: entity('ssn', ssnDigits),
  iban: entity('iban', iban),
  phone: entity('phone', writtenPhone),
  phoneBare: entity('phone', barePhone),
  awsKeyId: entity('aws-access-key', awsAccessKeyId),
  awsSecret: entity('aws-secret-key', awsSecretKey),
  github: entity('github-token', githubToken),
  gitlab: entity('gitlab-token', gitlabToken),
  slack: entity('slack-token', slackToken),
  stripe: entity('stripe-key', stripeKey),
  google: entity('google-api-key', googleApiKey),
  pem: entity('private-key', (rng) => privateKeyPem(rng, '\n')),
  jwt: entity('jwt', jwt),
  password: entity('secret-assignment', password),
  passphrase: entity('secret-assignment', passphrase),

  fakeCard: negative('luhn-invalid-card', luhnInvalidCardNumber),
  orderId: negative('order-id', orderId),
  timestamp: negative('timestamp', timestamp),
  uuid: negative('uuid', uuid),
  badSsn: negative('invalid-ssn', invalidSsn),
  badIban: negative('wrong-check-iban', ibanWithWrongCheck),
  version: negative('version', versionString),
  isbn: negative('isbn', isbn),
  sha: negative('git-sha', gitSha),
  badPhone: negative('invalid-phone', invalidPhone),
  ipv4: negative('ipv4', ipv4),
  number: negative('other-number', otherNumber),
  at: negative('at-lookalike', atLookalike),

  name: filler(personName),
  city: filler((rng) => rng.pick(CITIES)),
  product: filler((rng) => rng.pick(PRODUCTS)),
  team: filler((rng) => rng.pick(TEAMS)),
  weekday: filler((rng) => rng.pick(WEEKDAYS)),
  status: filler((rng) => rng.pick(STATUSES)),
  count: filler((rng) => String(rng.int(2, 500))),
  exp: filler((rng) => `${String(rng.int(1, 12)).padStart(2, '0')}/${rng.int(25, 31)}`),
};

function fill(builder: DocumentBuilder, template: string, rng: Prng): void {
  let at = 0;
  for (const placeholder of template.matchAll(/\{(\w+)\}/g)) {
    builder.plain(template.slice(at, placeholder.index));
    const make = SLOTS[placeholder[1]!];
    if (make === undefined) throw new Error(`unknown placeholder {${placeholder[1]}} in "${template}"`);
    builder.add(make(rng));
    at = placeholder.index + placeholder[0].length;
  }
  builder.plain(template.slice(at));
}

// ------------------------------------------------------------------ prose

/** Sentences carrying sensitive values, as tickets, chats and notes carry them. */
const SENSITIVE_SENTENCES: readonly string[] = [
  'Please update the billing email for {name} to {email} before {weekday}.',
  'Reply from {email}: the {product} arrived damaged.',
  'Forwarded to {email} and {email} for review.',
  'Contact: {name} <{email}>',
  'The export failed for user {email} (request {uuid}).',
  'Customer paid with card {card}, exp {exp}.',
  'Refund issued to {card} on {timestamp}.',
  'Card number on file: {card}',
  'Charge of {number} declined for {card} after {count} attempts.',
  'Employee {name}, SSN {ssn}, started on {timestamp}.',
  'SSN: {ssn}',
  'Social Security number {ssnBare} verified by {team}.',
  'Her SSN is {ssnBare} according to the W-4.',
  'W-2 for {name} ({ssn}) is ready.',
  'Please wire the deposit to IBAN {iban} by {weekday}.',
  'Beneficiary: {name}, IBAN {iban}, reference {orderId}.',
  'Bank details changed to {iban} on {timestamp}.',
  'Call {name} at {phone} after 5pm.',
  'Mobile: {phone}',
  'Left a voicemail on {phone} about order {orderId}.',
  'Phone: {phoneBare}',
  'Reach the {city} office on {phone} or {phone}.',
  'Tel. {phoneBare}',
  'Customer phone number {phoneBare} confirmed by {name}.',
  'Rotate key {awsKeyId} now, it was committed to the repo.',
  'The secret access key {awsSecret} was pasted into the ticket by {name}.',
  'Use token {github} for the CI job until {weekday}.',
  'GitLab PAT {gitlab} expires on {timestamp}.',
  'Posting with {slack} to #alerts from {city}.',
  'Stripe secret key: {stripe}',
  'Maps key {google} is restricted to *.acme.com referrers.',
  'Here is the deploy key:\n{pem}\nPlease rotate it after {weekday}.',
  'Authorization: Bearer {jwt}',
  'The id token {jwt} failed verification at {timestamp}.',
  'curl -H "Authorization: Bearer {jwt}" https://api.acme.com/v1/me',
  'login with user admin, password={password} then change it',
  'Set DB_PASSWORD="{passphrase}" in the staging env.',
  "vault says secret: '{passphrase}' for the {team} service",
  'Export URL: https://api.acme.com/export?token={password}&format=csv',
  'pwd: {password}\nhost: db.internal',
];

/** Sentences with look-alikes (hard negatives) and other numbers. */
const CLEAN_SENTENCES: readonly string[] = [
  'Order {orderId} was {status} on {timestamp}.',
  'Deployed version {version} to the {team} cluster at {timestamp}.',
  'Request {uuid} took {number}.',
  'Reverted commit {sha} after the incident on {weekday}.',
  'ISBN {isbn} is out of stock in {city}.',
  'Tracking number {fakeCard} was not found.',
  'Reference {fakeCard} does not match any payment.',
  'SSN {badSsn} failed validation.',
  'The SSN field contained {badSsn}, which is not a valid number.',
  'IBAN {badIban} was rejected: wrong check digits.',
  'The number {badPhone} is not in service.',
  'Customer quoted {badPhone} as their callback number, which bounced.',
  'Server {ipv4} responded in {number}.',
  'Mentioned {at} in the thread about the {product}.',
  'Price changed to {number} for the {product}.',
  '{name} from {city} ordered a {product} ({count} units).',
  'The {team} team will review the rollout on {weekday}.',
  'Build {version} passed {count} tests in {number}.',
  'Session {uuid} expired at {timestamp}.',
  'Retry #{count} for job {uuid} at {timestamp}.',
  'Pinned {sha} as the release commit for {version}.',
  'Invoice {orderId} for {name} is due on {timestamp}.',
  'Ticket {orderId} ({status}) was reassigned to {team} by {name}.',
  'Weekly report: {count} orders, {count} refunds, {count} tickets closed.',
  'The {product} ships from {city} within {count} days.',
  'Please confirm the token rotation schedule with {team} by {weekday}.',
  'Password reset requested for account {orderId} on {timestamp}.',
];

/** Plain language, as most of a ticket, note or description is. */
const PLAIN_SENTENCES: readonly string[] = [
  'Thanks for getting back to me so quickly.',
  'The package was left at the front door but the box was open.',
  'Could you check whether the replacement has shipped yet?',
  'We are seeing intermittent timeouts on the checkout page since the last deploy.',
  'I would like to cancel my subscription at the end of the current billing period.',
  'The {product} stopped charging after a week of normal use.',
  '{name} asked for an update on the refund and is not happy with the delay.',
  'Escalated to the {team} team; they will follow up directly with the customer.',
  'Customer prefers to be contacted by email rather than phone.',
  'The invoice shows the wrong company name and needs to be reissued.',
  'Closing this ticket as the issue could not be reproduced.',
  'Please keep the original packaging in case the item has to be returned.',
  'Our warehouse in {city} is closed for the holidays and will reopen next week.',
  'The new onboarding flow reduced drop-off noticeably in the first week.',
  'Merged the fix and kicked off a fresh build for the release branch.',
  'Nothing unusual in the logs around the time of the failure.',
  'The customer confirmed that the issue is resolved after the update.',
  'Shipping to the islands takes a few extra days because of the ferry schedule.',
];

function prose(builder: DocumentBuilder, rng: Prng, mix: Mix): void {
  const sentences = rng.int(3, 7);
  for (let i = 0; i < sentences; i++) {
    if (i > 0) builder.plain(rng.chance(0.2) ? '\n' : ' ');
    const kind = rng.chance(mix.sensitiveRate / 2) ? SENSITIVE_SENTENCES : rng.chance(mix.lookalikeRate) ? CLEAN_SENTENCES : PLAIN_SENTENCES;
    fill(builder, rng.pick(kind), rng);
  }
}

// ------------------------------------------------------------------ JSON

/** A string (one slot, or several run together), a number, or a nested object. */
type JsonValue = Slot | { readonly parts: readonly Slot[] } | number | { readonly object: readonly JsonField[] };
type JsonField = readonly [key: string, value: JsonValue];

const slot = (name: string) => (rng: Prng): Slot => SLOTS[name]!(rng);
const text = (value: string): Slot => ({ text: value });

/** Record shapes; `sensitive` ones hold at least one labelled value. */
const RECORDS: readonly { readonly sensitive: boolean; readonly fields: (rng: Prng) => JsonField[] }[] = [
  {
    sensitive: true,
    fields: (rng) => [
      ['id', slot('uuid')(rng)],
      ['name', slot('name')(rng)],
      ['email', slot('email')(rng)],
      [rng.pick(['phone', 'phone_number', 'mobile']), slot(rng.chance(0.5) ? 'phoneBare' : 'phone')(rng)],
      ['ssn', slot(rng.chance(0.5) ? 'ssnBare' : 'ssn')(rng)],
      ['city', slot('city')(rng)],
      ['created_at', slot('timestamp')(rng)],
      ['loyalty_id', slot('orderId')(rng)],
    ],
  },
  {
    sensitive: true,
    fields: (rng) => [
      ['payment_id', slot('orderId')(rng)],
      ['card', { object: [['number', slot('card')(rng)], ['expiry', slot('exp')(rng)], ['holder', slot('name')(rng)]] }],
      ['amount_cents', rng.int(100, 500_000)],
      ['iban', slot('iban')(rng)],
      ['reference', slot('fakeCard')(rng)],
      ['status', slot('status')(rng)],
    ],
  },
  {
    sensitive: true,
    fields: (rng) => [
      ['aws_access_key_id', slot('awsKeyId')(rng)],
      ['aws_secret_access_key', slot('awsSecret')(rng)],
      ['region', text(rng.pick(['us-east-1', 'eu-west-1', 'ap-south-1']))],
    ],
  },
  {
    sensitive: true,
    fields: (rng) => [
      ['AccessKeyId', slot('awsKeyId')(rng)],
      ['SecretAccessKey', slot('awsSecret')(rng)],
      ['Expiration', slot('timestamp')(rng)],
    ],
  },
  {
    sensitive: true,
    fields: (rng) => [
      ['github_token', slot('github')(rng)],
      ['gitlab_token', slot('gitlab')(rng)],
      ['slack_bot_token', slot('slack')(rng)],
      ['stripe_secret_key', slot('stripe')(rng)],
      ['google_maps_key', slot('google')(rng)],
      ['db', { object: [['host', text('db.internal')], ['port', 5432], ['user', text('app')], ['password', slot('password')(rng)]] }],
    ],
  },
  {
    sensitive: true,
    fields: (rng) => [
      ['type', text('service_account')],
      ['project_id', text(`${rng.pick(TEAMS)}-prod-${rng.int(100, 999)}`)],
      ['private_key_id', slot('sha')(rng)],
      ['private_key', { entity: 'private-key', value: privateKeyPem(rng, '\\n') }],
      ['client_email', slot('email')(rng)],
    ],
  },
  {
    sensitive: true,
    fields: (rng) => [
      ['method', text(rng.pick(['GET', 'POST']))],
      ['path', text(`/api/v1/orders/${rng.int(1000, 99999)}`)],
      ['status', rng.pick([200, 201, 401, 404])],
      ['headers', { object: [['authorization', { parts: [text('Bearer '), slot('jwt')(rng)] }], ['accept', text('application/json')]] }],
      ['request_id', slot('uuid')(rng)],
      ['client_ip', slot('ipv4')(rng)],
    ],
  },
  {
    sensitive: false,
    fields: (rng) => [
      ['sku', text(`SKU-${rng.int(10000, 99999)}`)],
      ['isbn', slot('isbn')(rng)],
      ['title', slot('product')(rng)],
      ['price', slot('number')(rng)],
      ['catalog_version', slot('version')(rng)],
      ['updated_at', slot('timestamp')(rng)],
    ],
  },
  {
    sensitive: false,
    fields: (rng) => [
      ['event', text(rng.pick(['login', 'logout', 'checkout', 'page_view']))],
      ['user_id', rng.int(1, 9_999_999)],
      ['session', slot('uuid')(rng)],
      ['ts', slot('timestamp')(rng)],
      ['app_version', slot('version')(rng)],
      ['commit', slot('sha')(rng)],
      ['order', slot('orderId')(rng)],
    ],
  },
];

function writeJson(builder: DocumentBuilder, fields: readonly JsonField[], indent: string, depth: number): void {
  const pretty = indent !== '';
  const pad = pretty ? `\n${indent.repeat(depth + 1)}` : '';
  builder.plain('{');
  fields.forEach(([key, value], i) => {
    builder.plain(`${i > 0 ? ',' : ''}${pad}${i > 0 && !pretty ? ' ' : ''}"${key}": `);
    if (typeof value === 'number') builder.plain(String(value));
    else if ('object' in value) writeJson(builder, value.object, indent, depth + 1);
    else {
      builder.plain('"');
      for (const part of 'parts' in value ? value.parts : [value]) builder.add(part);
      builder.plain('"');
    }
  });
  builder.plain(`${pretty ? `\n${indent.repeat(depth)}` : ''}}`);
}

function json(builder: DocumentBuilder, rng: Prng, mix: Mix): void {
  const records = rng.int(1, 3);
  const indent = rng.pick(['', '  ', '    ']);
  if (records > 1) builder.plain('[');
  for (let i = 0; i < records; i++) {
    if (i > 0) builder.plain(', ');
    const sensitive = rng.chance(mix.sensitiveRate);
    const record = rng.pick(RECORDS.filter((r) => r.sensitive === sensitive));
    writeJson(builder, record.fields(rng), indent, 0);
  }
  if (records > 1) builder.plain(']');
}


// ------------------------------------------------------------------ CSV

interface Table {
  readonly sensitive: boolean;
  readonly header: string;
  readonly row: (rng: Prng) => Slot[];
}

const TABLES: readonly Table[] = [
  {
    sensitive: true,
    header: 'id,first_name,last_name,email,phone,city,signup_date',
    row: (rng) => [slot('orderId')(rng), ...nameCells(rng), slot('email')(rng), slot('phone')(rng), slot('city')(rng), slot('timestamp')(rng)],
  },
  {
    sensitive: true,
    header: 'payment_id,card_number,amount,currency,iban,status',
    row: (rng) => [slot('orderId')(rng), slot('card')(rng), slot('number')(rng), text(rng.pick(['EUR', 'USD', 'GBP'])), slot('iban')(rng), slot('status')(rng)],
  },
  {
    sensitive: true,
    header: 'employee_id,full_name,ssn,department,start_date,notes',
    row: (rng) => [slot('orderId')(rng), slot('name')(rng), slot('ssn')(rng), slot('team')(rng), slot('timestamp')(rng), slot('number')(rng)],
  },
  {
    sensitive: false,
    header: 'sku,isbn,title,price,version',
    row: (rng) => [text(`SKU-${rng.int(10000, 99999)}`), slot('isbn')(rng), slot('product')(rng), slot('number')(rng), slot('version')(rng)],
  },
  {
    sensitive: false,
    header: 'ts,level,request_id,commit,latency',
    row: (rng) => [slot('timestamp')(rng), text(rng.pick(['INFO', 'WARN', 'ERROR'])), slot('uuid')(rng), slot('sha')(rng), slot('number')(rng)],
  },
];

function nameCells(rng: Prng): Slot[] {
  const [first, ...last] = personName(rng).split(' ');
  return [text(first!), text(last.join(' '))];
}

/** CSV quoting: a cell with a comma or quote is quoted, its quotes doubled (no labelled value holds either). */
function csvCell(builder: DocumentBuilder, cell: Slot): void {
  const value = 'text' in cell ? cell.text : cell.value;
  if (!/[",\n]/.test(value)) {
    builder.add(cell);
    return;
  }
  if (!('text' in cell) && value.includes('"')) throw new Error(`a labelled value would change under CSV quoting: ${value}`);
  builder.plain('"');
  builder.add('text' in cell ? { text: cell.text.replace(/"/g, '""') } : cell);
  builder.plain('"');
}

function csv(builder: DocumentBuilder, rng: Prng, mix: Mix): void {
  const sensitive = rng.chance(mix.sensitiveRate);
  const table = rng.pick(TABLES.filter((t) => t.sensitive === sensitive));
  builder.plain(table.header);
  const rows = rng.int(3, 8);
  for (let r = 0; r < rows; r++) {
    builder.plain('\n');
    table.row(rng).forEach((cell, i) => {
      if (i > 0) builder.plain(',');
      csvCell(builder, cell);
    });
  }
}

// ------------------------------------------------------------------ config files

const ENV_LINES: readonly { readonly sensitive: boolean; readonly template: string }[] = [
  { sensitive: true, template: 'AWS_ACCESS_KEY_ID={awsKeyId}' },
  { sensitive: true, template: 'AWS_SECRET_ACCESS_KEY={awsSecret}' },
  { sensitive: true, template: 'GITHUB_TOKEN={github}' },
  { sensitive: true, template: 'SLACK_BOT_TOKEN={slack}' },
  { sensitive: true, template: 'STRIPE_SECRET_KEY={stripe}' },
  { sensitive: true, template: 'GOOGLE_API_KEY={google}' },
  { sensitive: true, template: 'DB_PASSWORD={password}' },
  { sensitive: true, template: 'SUPPORT_EMAIL={email}' },
  { sensitive: false, template: 'APP_VERSION={version}' },
  { sensitive: false, template: 'BUILD_SHA={sha}' },
  { sensitive: false, template: 'LOG_LEVEL=info' },
  { sensitive: false, template: 'PORT=8080' },
  { sensitive: false, template: 'RELEASED_AT={timestamp}' },
];

const YAML: readonly { readonly sensitive: boolean; readonly template: string }[] = [
  { sensitive: true, template: 'database:\n  host: db.internal\n  user: app\n  password: {password}\n' },
  { sensitive: true, template: 'aws:\n  access_key_id: {awsKeyId}\n  secret_access_key: {awsSecret}\n' },
  { sensitive: true, template: "smtp:\n  user: {email}\n  secret: '{passphrase}'\n" },
  { sensitive: false, template: 'service:\n  name: orders\n  version: {version}\n  replicas: {count}\n' },
  { sensitive: false, template: 'release:\n  commit: {sha}\n  date: {timestamp}\n' },
];

function config(builder: DocumentBuilder, rng: Prng, mix: Mix): void {
  if (rng.chance(0.5)) {
    const lines = rng.int(3, 8);
    for (let i = 0; i < lines; i++) {
      if (i > 0) builder.plain('\n');
      const sensitive = rng.chance(mix.sensitiveRate / 2);
      fill(builder, rng.pick(ENV_LINES.filter((l) => l.sensitive === sensitive)).template, rng);
    }
  } else {
    const blocks = rng.int(1, 3);
    for (let i = 0; i < blocks; i++) {
      const sensitive = rng.chance(mix.sensitiveRate / 2);
      fill(builder, rng.pick(YAML.filter((b) => b.sensitive === sensitive)).template, rng);
    }
  }
}

// ------------------------------------------------------------------ the corpus

const WRITERS: Readonly<Record<DocumentFormat, (builder: DocumentBuilder, rng: Prng, mix: Mix) => void>> = { prose, json, csv, config };
const DEFAULT_FORMATS: Readonly<Record<DocumentFormat, number>> = { prose: 2, json: 1, csv: 1, config: 1 };

function pickFormat(rng: Prng, weights: Readonly<Record<DocumentFormat, number>>): DocumentFormat {
  const entries = Object.entries(weights) as [DocumentFormat, number][];
  let roll = rng.next() * entries.reduce((sum, [, w]) => sum + w, 0);
  for (const [format, weight] of entries) {
    roll -= weight;
    if (roll < 0) return format;
  }
  return entries[entries.length - 1]![0];
}

export function generateCorpus(options: CorpusOptions): LabelledDocument[] {
  const rng = new Prng(options.seed);
  const mix: Mix = { sensitiveRate: options.sensitiveRate ?? 1, lookalikeRate: options.lookalikeRate ?? 0.5 };
  const weights = options.formats ?? DEFAULT_FORMATS;
  return Array.from({ length: options.documents }, () => {
    const format = pickFormat(rng, weights);
    const builder = new DocumentBuilder();
    WRITERS[format](builder, rng, mix);
    return builder.build(format);
  });
}
