/**
 * Maps a path in the parsed document back to a line and column in the YAML source, so
 * every issue points at the offending node — or, when the node does not exist (a missing
 * property), at the nearest ancestor that does.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { ConfigPath } from './issues.js';

export interface Location {
  readonly line: number;
  readonly column: number;
}

export function locate(doc: Document, lines: LineCounter, path: ConfigPath, at: 'key' | 'value' = 'value'): Location | undefined {
  let node: unknown = doc.contents;
  // The closest thing seen so far: a mapping's key reads better than the mapping body
  // ("target:" rather than the first property under it).
  let best: Node | undefined = isNode(node) ? node : undefined;
  for (const [index, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    let keyNode: Node | undefined;
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((item) => (isScalar(item.key) ? item.key.value : item.key) === segment);
      if (pair === undefined) break;
      keyNode = isNode(pair.key) ? pair.key : undefined;
      next = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
      if (next === undefined) break;
    } else {
      break;
    }
    const last = index === path.length - 1;
    if (last && at === 'key' && keyNode !== undefined) return position(keyNode, lines);
    // An empty value (`port:`) has no useful position of its own; its key does. Above the
    // last segment the key is the fallback a missing property is reported at.
    const usable = isNode(next) && !(isScalar(next) && next.value === null) ? next : undefined;
    best = (last ? (usable ?? keyNode) : (keyNode ?? usable)) ?? best;
    node = next;
  }
  return best === undefined ? undefined : position(best, lines);
}

function isNode(value: unknown): value is Node {
  return isMap(value) || isSeq(value) || isScalar(value) || isAlias(value);
}

function position(node: Node, lines: LineCounter): Location | undefined {
  const offset = node.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}
