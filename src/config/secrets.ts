/**
 * Secret references in string values: "${env:NAME}" and "${file:PATH}", whole or embedded
 * ("postgres://${env:USER}@db"). "$${" is a literal "${". Pure: the environment and file
 * reader are injected.
 *
 * Resolution records *where* secrets were used (by YAML path) so that anything that prints
 * configuration can show "<secret from env:NAME>" instead of the value, and every error
 * names the reference, never what it resolved to.
 */
import { resolve } from 'node:path';
import { formatPath, type ConfigPath, type PathIssue } from './issues.js';

export interface SecretSource {
  readonly kind: 'env' | 'file';
  /** The variable name, or the path exactly as written in the file. */
  readonly ref: string;
}

/** YAML path (`connections[0].target.password`) → the references its value was built from. */
export type SecretPaths = ReadonlyMap<string, readonly SecretSource[]>;

export interface SecretContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a whole file as UTF-8; throws (with `code`) when it cannot. */
  readFile(absolutePath: string): string;
  /** Relative `${file:…}` paths are resolved against this (the config file's directory). */
  readonly baseDir: string;
  /**
   * What an unavailable secret (unset or empty variable, unreadable or empty file) becomes:
   * an issue (`error`, the default), or `placeholder` — the text `<unresolved env:NAME>` —
   * for commands that only read the policy and never contact a target
   * (`portcullis policy check`). A malformed reference is an issue either way.
   */
  readonly unavailable?: 'error' | 'placeholder';
}

export type ResolvedString =
  | {
      readonly ok: true;
      readonly value: string;
      readonly sources: readonly SecretSource[];
      /** Set when some reference was unavailable and replaced by a placeholder. */
      readonly placeholder?: true;
    }
  | { readonly ok: false; readonly message: string };

/** The text an unavailable secret is replaced by in `placeholder` mode. */
export function secretPlaceholder(source: SecretSource): string {
  return `<unresolved ${source.kind}:${source.ref}>`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const REFERENCE_HELP = 'use ${env:NAME} or ${file:PATH}, or write $${ for a literal ${';

/** Resolves every reference in one string; on failure says which reference and why (never a value). */
export function resolveReferences(text: string, ctx: SecretContext): ResolvedString {
  let out = '';
  const sources: SecretSource[] = [];
  const problems: string[] = [];
  let placeholder = false;
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
    } else if (text.startsWith('${', i)) {
      const close = text.indexOf('}', i + 2);
      if (close === -1) {
        problems.push(`unterminated reference "${text.slice(i, i + 20)}" (missing "}"); ${REFERENCE_HELP}`);
        break;
      }
      const reference = text.slice(i + 2, close);
      const resolved = resolveOne(reference, ctx);
      if ('problem' in resolved) {
        if (resolved.unavailable !== undefined && ctx.unavailable === 'placeholder') {
          out += secretPlaceholder(resolved.unavailable);
          sources.push(resolved.unavailable);
          placeholder = true;
        } else {
          problems.push(resolved.problem);
        }
      } else {
        out += resolved.value;
        sources.push(resolved.source);
      }
      i = close + 1;
    } else {
      out += text[i];
      i += 1;
    }
  }
  if (problems.length > 0) return { ok: false, message: problems.join('; ') };
  return placeholder ? { ok: true, value: out, sources, placeholder: true } : { ok: true, value: out, sources };
}

/** A failed reference; `unavailable` is set when it is well-formed but its value cannot be had. */
type Problem = { problem: string; unavailable?: SecretSource };

function resolveOne(reference: string, ctx: SecretContext): { value: string; source: SecretSource } | Problem {
  const colon = reference.indexOf(':');
  const kind = colon === -1 ? '' : reference.slice(0, colon);
  const ref = colon === -1 ? '' : reference.slice(colon + 1);
  if (kind === 'env') {
    if (!ENV_NAME.test(ref)) return { problem: `invalid environment variable name in "\${${reference}}"` };
    const source: SecretSource = { kind: 'env', ref };
    const value = ctx.env[ref];
    if (value === undefined) return { problem: `environment variable ${ref} is not set (referenced as \${env:${ref}})`, unavailable: source };
    // An empty credential is far more often a deployment mistake than a real value.
    if (value === '') return { problem: `environment variable ${ref} is set but empty (referenced as \${env:${ref}})`, unavailable: source };
    return { value, source };
  }
  if (kind === 'file') {
    if (ref === '') return { problem: `empty path in "\${file:}"` };
    const absolute = resolve(ctx.baseDir, ref);
    const source: SecretSource = { kind: 'file', ref };
    try {
      // One trailing newline is what editors and `echo` add; it is never part of the secret.
      const value = ctx.readFile(absolute).replace(/\r?\n$/, '');
      if (value === '') return { problem: `secret file "${ref}" (${absolute}) is empty`, unavailable: source };
      return { value, source };
    } catch (error) {
      return { problem: `cannot read secret file "${ref}" (${absolute}): ${describeFsError(error)}`, unavailable: source };
    }
  }
  return { problem: `unknown reference "\${${reference.slice(0, 40)}}"; ${REFERENCE_HELP}` };
}

/** A short reason for a failed read, from the Node error code when there is one. */
export function describeFsError(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  switch (code) {
    case 'ENOENT':
      return 'file not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

export interface ResolvedTree<T> {
  /** The same shape as the input, every string resolved (strings that failed are left as written). */
  readonly value: T;
  readonly secrets: SecretPaths;
  readonly issues: readonly PathIssue[];
  /** Paths (`formatPath`) whose value holds a placeholder for an unavailable secret. */
  readonly placeholders: ReadonlySet<string>;
}

/** Resolves references in every string value of a parsed YAML document. */
export function resolveTree<T>(tree: T, ctx: SecretContext): ResolvedTree<T> {
  const secrets = new Map<string, readonly SecretSource[]>();
  const issues: PathIssue[] = [];
  const placeholders = new Set<string>();
  const walk = (node: unknown, path: ConfigPath): unknown => {
    if (typeof node === 'string') {
      const resolved = resolveReferences(node, ctx);
      if (!resolved.ok) {
        issues.push({ path, message: resolved.message });
        return node;
      }
      if (resolved.sources.length > 0) secrets.set(formatPath(path), resolved.sources);
      if (resolved.placeholder === true) placeholders.add(formatPath(path));
      return resolved.value;
    }
    if (Array.isArray(node)) return node.map((item, index) => walk(item, [...path, index]));
    if (typeof node === 'object' && node !== null) {
      return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walk(value, [...path, key])]));
    }
    return node;
  };
  // The walk only replaces strings with strings, so the shape — and therefore T — is preserved.
  return { value: walk(tree, []) as T, secrets, issues, placeholders };
}

/** How a secret-bearing value is shown instead of its contents: `<secret from env:NAME>`. */
export function describeSecret(sources: readonly SecretSource[]): string {
  return `<secret from ${sources.map((source) => `${source.kind}:${source.ref}`).join(', ')}>`;
}

/** The references used by the value at `path` or anywhere beneath it (a list, a mapping). */
export function secretsUnder(secrets: SecretPaths, path: string): readonly SecretSource[] {
  const found: SecretSource[] = [];
  for (const [key, sources] of secrets) {
    if (key === path || key.startsWith(`${path}.`) || key.startsWith(`${path}[`)) found.push(...sources);
  }
  return found;
}
