/**
 * Loads a config file: YAML → schema validation → semantic checks and conversion. Every
 * problem, at every stage, becomes a `ConfigIssue` with the YAML path and line/column, and
 * they are reported together in one `ConfigError`.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { buildConfig } from './build.js';
import { ConfigError, formatPath, type ConfigIssue, type PathIssue } from './issues.js';
import { locate } from './locate.js';
import { describeFsError, type SecretPaths } from './secrets.js';
import type { Config } from './types.js';
import { validateRaw } from './validate.js';

export { ConfigError, type ConfigIssue } from './issues.js';

export interface LoadOptions {
  /** Source of `${env:…}` references; defaults to `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * `placeholder` lets a secret that cannot be had (unset variable, unreadable file, and
   * unreadable TLS certificate/key files) stand as `<unresolved env:NAME>` instead of being
   * an error. Only for commands that read the policy and contact nothing
   * (`portcullis policy check`): such a Config must never be served. Default `error`.
   */
  readonly unavailableSecrets?: 'error' | 'placeholder';
}

export interface LoadedConfig {
  readonly config: Config;
  /** Which YAML paths held secret references, so printers can show `<secret from env:NAME>`. */
  readonly secrets: SecretPaths;
}

export async function loadConfig(file: string, options: LoadOptions = {}): Promise<Config> {
  return (await loadConfigWithSecrets(file, options)).config;
}

/** `loadConfig`, also reporting where secrets were used (for `config check` and anything else that prints config). */
export async function loadConfigWithSecrets(file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const absolute = resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [{ path: '', message: `cannot read config file ${absolute}: ${describeFsError(error)}` }]);
  }

  const lines = new LineCounter();
  // prettyErrors off: its code frame would echo source lines (which may hold literal secrets).
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((error) => {
        const { line, col } = lines.linePos(error.pos[0]);
        return { path: '', line, column: col, message: `invalid YAML: ${error.message}` };
      }),
    );
  }

  let data: unknown;
  try {
    // An empty file is an empty mapping: every top-level section is optional.
    data = doc.toJS() ?? {};
  } catch (error) {
    // e.g. an alias bomb exceeding yaml's maxAliasCount
    throw new ConfigError(file, [{ path: '', message: `invalid YAML: ${error instanceof Error ? error.message : String(error)}` }]);
  }

  const validation = validateRaw(data);
  if (!validation.ok) throw new ConfigError(file, located(doc, lines, validation.issues));

  const built = buildConfig(validation.value, {
    file: absolute,
    env: options.env ?? process.env,
    readFile: (path) => readFileSync(path, 'utf8'),
    unavailableSecrets: options.unavailableSecrets ?? 'error',
  });
  if (built.config === undefined) throw new ConfigError(file, located(doc, lines, built.issues));
  return { config: built.config, secrets: built.secrets };
}

/** Attaches line/column and sorts into document order (issues without a position last). */
function located(doc: Document, lines: LineCounter, issues: readonly PathIssue[]): ConfigIssue[] {
  return issues
    .map((issue) => {
      const where = locate(doc, lines, issue.path, issue.at);
      const path = formatPath(issue.path);
      return where === undefined
        ? { path, message: issue.message }
        : { path, line: where.line, column: where.column, message: issue.message };
    })
    .sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
}
