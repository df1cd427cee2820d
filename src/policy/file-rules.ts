/**
 * File (SFTP) conditions of rules, compiled for matching, and the decision on one SFTP
 * request. Pure; the semantics are documented in gate.ts.
 */
import type { FileAction, FilesCondition } from '../config/types.js';
import type { Identity } from '../identity/identity.js';
import { applicableRules, defaultDecision, quoteSql, ruleReason, type CompiledConnection } from './evaluate.js';
import { compileNameGlob, type NameMatcher } from './glob.js';
import type { Decision, FileRequest } from './operation.js';
import type { CompiledRule } from './rules.js';

export interface CompiledFiles {
  readonly actions: ReadonlySet<FileAction> | undefined;
  readonly paths: readonly NameMatcher[] | undefined;
}

export function compileFilesCondition(c: FilesCondition): CompiledFiles {
  return { actions: c.actions === undefined ? undefined : new Set(c.actions), paths: c.paths?.map(compileNameGlob) };
}

/** Every path the request names: both ends of a rename or symlink. */
function pathsOf(request: FileRequest): readonly string[] {
  return request.target === undefined ? [request.path] : [request.path, request.target];
}

function matchesRequest(c: CompiledFiles, request: FileRequest, permissive: boolean): boolean {
  if (c.actions !== undefined && !c.actions.has(request.action)) return false;
  if (c.paths === undefined) return true;
  const paths = pathsOf(request);
  const matches = (path: string): boolean => c.paths!.some((glob) => glob.test(path));
  return permissive ? paths.every(matches) : paths.some(matches);
}

/** A rule about files, or one without protocol conditions (which matches every operation). */
function aboutFiles(rule: CompiledRule): boolean {
  return rule.sql === undefined && rule.shell === undefined && rule.ssh === undefined;
}

export function decideFile(connection: CompiledConnection, identity: Identity, request: FileRequest): Decision {
  const rules = applicableRules(connection, identity);
  let review: CompiledRule | undefined;
  let allow: CompiledRule | undefined;
  const what = (): string => `${request.action} of ${quoteSql(request.path)}${request.target === undefined ? '' : ` to ${quoteSql(request.target)}`}`;
  for (const rule of rules) {
    if (!aboutFiles(rule)) continue;
    if (rule.files !== undefined && !matchesRequest(rule.files, request, rule.effect === 'allow')) continue;
    if (rule.effect === 'deny') return { effect: 'deny', rule: rule.name, reason: ruleReason('deny', rule, what) };
    if (rule.effect === 'review') review ??= rule;
    else allow ??= rule;
  }
  if (review !== undefined) return { effect: 'review', rule: review.name, reason: ruleReason('review', review, what) };
  if (allow !== undefined) return { effect: 'allow', rule: allow.name, reason: ruleReason('allow', allow, what) };
  return defaultDecision(
    connection,
    () =>
      `Refused ${what()}: no rule of connection "${connection.name}" allows it, and the connection refuses by default. ` +
      'Stay within the paths its policy allows, or ask a Portcullis administrator for a rule.',
  );
}
