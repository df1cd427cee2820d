/**
 * Schema validation of the parsed YAML, with Ajv's errors translated into plain words that
 * say what was expected and what was found ("expected integer 1–65535, got \"abc\"").
 * Ajv reports union (anyOf) failures once per branch; those are folded into one issue.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { DURATION_EXAMPLES, DurationError, parseDuration } from './duration.js';
import { showValue, suggest, type ConfigPath, type PathIssue } from './issues.js';
import {
  CONNECTION_NAME_PATTERN,
  FUNCTION_NAME_PATTERN,
  QUALIFIED_GLOB_PATTERN,
  RawConfigSchema,
  RETENTION_EXAMPLES,
  STATEMENT_KIND_PATTERN,
  type RawConfig,
} from './schema.js';
import { SIZE_EXAMPLES, SizeError, parseSize } from './size.js';

export type Validation = { readonly ok: true; readonly value: RawConfig } | { readonly ok: false; readonly issues: PathIssue[] };

let compiled: ValidateFunction<RawConfig> | undefined;

export function validateRaw(data: unknown): Validation {
  // verbose: the translation needs the failing value and its schema.
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: true }).compile<RawConfig>(RawConfigSchema);
  if (compiled(data)) return { ok: true, value: data };
  return { ok: false, issues: translateAjvErrors(compiled.errors ?? []) };
}

/** Loose view of the schema fragments Ajv hands back with `verbose`. */
interface SchemaNode {
  type?: string;
  title?: string;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
  writeOnly?: boolean;
  anyOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
}

function schemaOf(error: ErrorObject): SchemaNode {
  const schema: unknown = error.parentSchema;
  return typeof schema === 'object' && schema !== null ? (schema as SchemaNode) : {};
}

/** Texts for titled schemas, and a parser that can say precisely why a value does not fit. */
const TITLED: Record<string, { expected: string; why(value: unknown): string | undefined }> = {
  Duration: {
    expected: `a duration such as ${DURATION_EXAMPLES}, or a number of seconds`,
    why: (value) => reasonFrom(() => parseDuration(value as string | number), DurationError, value),
  },
  Retention: {
    expected: `a retention such as ${RETENTION_EXAMPLES}`,
    why: (value) => (value === 'forever' ? undefined : reasonFrom(() => parseDuration(value as string | number), DurationError, value)),
  },
  Grant: {
    expected: `"once" or a duration such as "30m" (at most 24h)`,
    why: (value) =>
      value === 'session'
        ? `"session" grants are no longer accepted (they were never enforced): write grant: 30m — for 30 minutes after approval, any ` +
          'statement under this rule by the same identity on the same connection runs without asking again — or grant: once'
        : reasonFrom(() => parseDuration(value as string | number), DurationError, value),
  },
  Size: {
    expected: `a size such as ${SIZE_EXAMPLES}`,
    why: (value) => reasonFrom(() => parseSize(value as string | number), SizeError, value),
  },
};

function reasonFrom(
  parse: () => unknown,
  errorClass: typeof DurationError | typeof SizeError,
  value: unknown,
): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  try {
    parse();
  } catch (error) {
    if (error instanceof errorClass) return error.reason;
  }
  return undefined;
}

const KNOWN_PATTERNS: Record<string, string> = {
  [CONNECTION_NAME_PATTERN]: 'a name of 1–63 lowercase letters, digits, "_" or "-", starting with a letter or digit',
  [QUALIFIED_GLOB_PATTERN]:
    'a glob "schema.name" such as "public.*" or "*.orders" ("*" any characters, "?" one; no quotes, spaces, brackets or further dots)',
  [STATEMENT_KIND_PATTERN]: 'a statement kind in snake case, such as "select", "insert" or "create_table_as"',
  [FUNCTION_NAME_PATTERN]: 'a function name without schema or quotes, such as "my_admin_fn"',
};

export function translateAjvErrors(errors: readonly ErrorObject[]): PathIssue[] {
  const issues: PathIssue[] = [];
  const unions = errors.filter((error) => error.keyword === 'anyOf');
  // Only the outermost unions: inner ones are handled when their branch is chosen.
  const outermost = unions.filter(
    (union) => !unions.some((other) => other !== union && union.schemaPath.startsWith(`${other.schemaPath}/`)),
  );
  const consumed = new Set<ErrorObject>();
  for (const union of outermost) {
    const inside = errors.filter((error) => error.schemaPath.startsWith(`${union.schemaPath}/`));
    inside.forEach((error) => consumed.add(error));
    consumed.add(union);
    issues.push(...translateUnion(union, inside));
  }
  for (const error of errors) {
    if (!consumed.has(error)) issues.push(translateOne(error));
  }
  return issues;
}

function translateUnion(union: ErrorObject, inside: readonly ErrorObject[]): PathIssue[] {
  const schema = schemaOf(union);
  const path = toPath(union.instancePath);
  const titled = schema.title === undefined ? undefined : TITLED[schema.title];
  if (titled !== undefined) {
    const why = titled.why(union.data);
    return [{ path, message: `expected ${titled.expected}, got ${showValue(union.data)}${why === undefined ? '' : `: ${why}`}` }];
  }
  // When exactly one branch has the value's JSON type, that branch's errors are the useful ones.
  const branches = schema.anyOf ?? [];
  const matching = branches.flatMap((branch, index) => (typeMatches(branch.type, union.data) ? [index] : []));
  // Objects told apart by a constant "type" property (connections): the branch the value names;
  // an unknown type is reported once, with the problems every branch has (in the fields they share).
  const typed = matching.length > 1 ? branchNamedByType(branches, union.data) : undefined;
  if (typed !== undefined) {
    const branchIssues = (index: number): PathIssue[] =>
      translateAjvErrors(inside.filter((error) => error.schemaPath.startsWith(`${union.schemaPath}/${index}/`) && error.instancePath !== `${union.instancePath}/type`));
    if (typed.index !== undefined) return branchIssues(typed.index);
    const typeIssue = { path: [...path, 'type'], message: `expected ${typed.types.map((t) => JSON.stringify(t)).join(' or ')}, got ${showValue(typed.value)}` };
    const key = (issue: PathIssue): string => JSON.stringify([issue.path, issue.message]);
    const others = typed.types.slice(1).map((_, i) => new Set(branchIssues(i + 1).map(key)));
    return [typeIssue, ...branchIssues(0).filter((issue) => others.every((set) => set.has(key(issue))))];
  }
  if (matching.length === 1) {
    const prefix = `${union.schemaPath}/${matching[0]}/`;
    const chosen = inside.filter((error) => error.schemaPath.startsWith(prefix));
    if (chosen.length > 0) return translateAjvErrors(chosen);
  }
  return [{ path, message: `expected ${describe(schema)}, got ${showFound(schema, union.data)}` }];
}

/** For unions of objects with a constant `type`: the branch the value's type names (undefined index: none does). */
function branchNamedByType(
  branches: readonly SchemaNode[],
  value: unknown,
): { readonly index: number | undefined; readonly types: readonly unknown[]; readonly value: unknown } | undefined {
  const types = branches.map((branch) => branch.properties?.['type']?.const);
  if (types.some((type) => type === undefined)) return undefined;
  if (typeof value !== 'object' || value === null || !('type' in value)) return undefined;
  const type: unknown = (value as { type: unknown }).type;
  const index = types.indexOf(type);
  return { index: index === -1 ? undefined : index, types, value: type };
}

function translateOne(error: ErrorObject): PathIssue {
  const schema = schemaOf(error);
  const path = toPath(error.instancePath);
  const params: Record<string, unknown> = error.params;
  switch (error.keyword) {
    case 'additionalProperties': {
      const property = String(params['additionalProperty']);
      const known = Object.keys(schema.properties ?? {});
      const guess = suggest(property, known);
      const hint = guess === undefined ? `; allowed here: ${known.join(', ')}` : ` (did you mean "${guess}"?)`;
      return { path: [...path, property], at: 'key', message: `unknown property "${property}"${hint}` };
    }
    case 'required': {
      const property = String(params['missingProperty']);
      return { path: [...path, property], message: `missing required property "${property}"` };
    }
    case 'uniqueItems': {
      // Point at the later copy: the first one is where the user meant it to be.
      const [first, later] = [Number(params['i']), Number(params['j'])].sort((a, b) => a - b) as [number, number];
      const list: unknown = error.data;
      const value = Array.isArray(list) ? (list as unknown[])[later] : undefined;
      return { path: [...path, later], message: `duplicate entry ${showFound(schema, value)} (also item ${first})` };
    }
    case 'enum':
      return { path, message: symmetricAlgorithm(schema, error.data) ?? `expected ${describe(schema)}, got ${showFound(schema, error.data)}${didYouMean(schema, error.data)}` };
    case 'type':
    case 'const':
    case 'pattern':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'minLength':
    case 'minItems':
      return { path, message: `expected ${describe(schema)}, got ${showFound(schema, error.data)}` };
    default:
      return { path, message: error.message ?? `failed "${error.keyword}" check` };
  }
}

/** Only the algorithms list offers RS256; a symmetric key would let anyone able to verify tokens mint them. */
function symmetricAlgorithm(schema: SchemaNode, value: unknown): string | undefined {
  const allowed = (schema.enum ?? []).map(String);
  if (typeof value !== 'string' || !allowed.includes('RS256') || !/^(HS\d+|none)$/i.test(value)) return undefined;
  const what = value.toLowerCase() === 'none' ? '"none" (unsigned tokens) is' : `"${value}" is a symmetric (shared-secret) algorithm and is`;
  return `${what} never accepted: anyone holding the verification key could mint tokens; use an asymmetric algorithm (${allowed.join(', ')})`;
}

function didYouMean(schema: SchemaNode, value: unknown): string {
  if (typeof value !== 'string') return '';
  const guess = suggest(value, (schema.enum ?? []).map(String));
  return guess === undefined ? '' : ` (did you mean "${guess}"?)`;
}

/** What a schema accepts, in words. */
function describe(schema: SchemaNode): string {
  const titled = schema.title === undefined ? undefined : TITLED[schema.title];
  if (titled !== undefined) return titled.expected;
  if (schema.enum !== undefined) return `one of ${schema.enum.map((value) => JSON.stringify(value)).join(', ')}`;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.anyOf !== undefined) return schema.anyOf.map(describe).join(' or ');
  switch (schema.type) {
    case 'integer':
    case 'number':
      return `${schema.type}${range(schema)}`;
    case 'string': {
      const known = schema.pattern === undefined ? undefined : KNOWN_PATTERNS[schema.pattern];
      if (known !== undefined) return known;
      if (schema.pattern !== undefined) return `a string matching /${schema.pattern}/`;
      return (schema.minLength ?? 0) > 0 ? 'a non-empty string' : 'a string';
    }
    case 'boolean':
      return 'true or false';
    case 'array':
      return (schema.minItems ?? 0) > 0 ? 'a non-empty list' : 'a list';
    case 'object':
      return 'a mapping';
    default:
      return 'a value';
  }
}

function range(schema: SchemaNode): string {
  const { minimum: min, maximum: max } = schema;
  if (min !== undefined && max !== undefined) return ` ${min}–${max}`;
  if (min !== undefined) return ` ≥ ${min}`;
  if (max !== undefined) return ` ≤ ${max}`;
  return '';
}

/** The found value, except for write-only (secret) fields, where only its kind is shown. */
function showFound(schema: SchemaNode, value: unknown): string {
  if (schema.writeOnly === true && value !== null && value !== undefined) {
    const type = jsonType(value);
    return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type} (value hidden)`;
  }
  if (Array.isArray(value) && value.length === 0) return 'an empty list';
  return showValue(value);
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(type: string | undefined, value: unknown): boolean {
  const actual = jsonType(value);
  if (type === 'number') return actual === 'number' || actual === 'integer';
  if (type === 'integer') return actual === 'integer';
  return type === actual;
}

/** "/connections/0/target" → ["connections", 0, "target"]; all-digit segments are list indexes (no key in the schema is numeric). */
function toPath(instancePath: string): ConfigPath {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
}
