/**
 * How configuration problems are described: every problem carries the path in the YAML
 * document (`connections[0].target.port`) and, where known, the line and column, so a
 * user can jump straight to it.
 */

/** A path into the raw YAML document: mapping keys and sequence indexes. */
export type ConfigPath = readonly (string | number)[];

export interface ConfigIssue {
  /** e.g. `connections[0].target.port`; empty when the problem is not about one value (YAML syntax, unreadable file). */
  readonly path: string;
  /** 1-based. */
  readonly line?: number;
  /** 1-based. */
  readonly column?: number;
  /** What was expected and what was found. Never contains a resolved secret. */
  readonly message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /**
   * @param file the config file as the user named it (so messages read like their command line)
   * @param issues every problem found, in document order where known
   */
  constructor(
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(issues.map((issue) => formatIssue(file, issue)).join('\n'));
  }
}

/** `connections[0].target.port` */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

/** `FILE:LINE:COL: PATH: MESSAGE`, dropping the parts that are unknown. */
export function formatIssue(file: string, issue: ConfigIssue): string {
  const where = issue.line === undefined ? file : `${file}:${issue.line}:${issue.column ?? 1}`;
  return issue.path === '' ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`;
}

/**
 * A problem found before its location is known. `at: 'key'` points at the mapping key
 * itself (an unknown property), `'value'` at the value (or the nearest parent that exists).
 */
export interface PathIssue {
  readonly path: ConfigPath;
  readonly message: string;
  readonly at?: 'key' | 'value';
}

/** Collects issues, keeping only the first per path: a later check on a value already reported would only repeat it. */
export class IssueList {
  readonly #issues: PathIssue[] = [];
  readonly #seen = new Set<string>();

  add(path: ConfigPath, message: string, at: 'key' | 'value' = 'value'): void {
    const key = formatPath(path);
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#issues.push({ path, message, at });
  }

  has(path: ConfigPath): boolean {
    return this.#seen.has(formatPath(path));
  }

  get all(): readonly PathIssue[] {
    return this.#issues;
  }
}

/** Shows a found value in a message: short, quoted, and never a whole mapping. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value);
    return quoted.length > 60 ? `${quoted.slice(0, 56)}…"` : quoted;
  }
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** Levenshtein distance; small inputs only (property names, enum values). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest candidate if it is plausibly a typo of `word`. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return bestDistance <= limit ? best : undefined;
}
