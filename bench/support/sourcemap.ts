/**
 * Maps a position in compiled JS back to its TypeScript source through the `.js.map`
 * next to it (Source Map v3), so profile hot spots name `src/…ts:line`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** Decoded segments per generated line: [genColumn, sourceIndex, origLine, origColumn]. */
type Segments = Array<Array<[number, number, number, number]>>;

interface LoadedMap {
  readonly sources: readonly string[];
  readonly lines: Segments;
}

const cache = new Map<string, LoadedMap | null>();

function decodeVlq(text: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const c of text) {
    const digit = B64_INDEX.get(c);
    if (digit === undefined) throw new Error(`bad VLQ character ${c}`);
    value += (digit & 31) << shift;
    if (digit & 32) shift += 5;
    else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

function load(jsFile: string): LoadedMap | null {
  if (cache.has(jsFile)) return cache.get(jsFile)!;
  let loaded: LoadedMap | null = null;
  const mapFile = `${jsFile}.map`;
  if (existsSync(mapFile)) {
    const raw = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources: string[]; sourceRoot?: string; mappings: string };
    const dir = path.dirname(mapFile);
    const sources = raw.sources.map((s) => path.resolve(dir, raw.sourceRoot ?? '', s));
    const lines: Segments = [];
    let src = 0;
    let line = 0;
    let col = 0;
    for (const group of raw.mappings.split(';')) {
      const segments: Array<[number, number, number, number]> = [];
      let gen = 0;
      for (const seg of group.split(',')) {
        if (seg === '') continue;
        const v = decodeVlq(seg);
        gen += v[0]!;
        if (v.length >= 4) {
          src += v[1]!;
          line += v[2]!;
          col += v[3]!;
          segments.push([gen, src, line, col]);
        }
      }
      lines.push(segments);
    }
    loaded = { sources, lines };
  }
  cache.set(jsFile, loaded);
  return loaded;
}

/** `file` is an absolute path to a .js file; line and column are 0-based. Returns an absolute source path and 1-based line. */
export function originalPosition(file: string, line: number, column: number): { file: string; line: number } | undefined {
  const map = load(file);
  const segments = map?.lines[line];
  if (!map || !segments || segments.length === 0) return undefined;
  let best = segments[0]!;
  for (const s of segments) if (s[0] <= column) best = s;
  const source = map.sources[best[1]];
  return source === undefined ? undefined : { file: source, line: best[2] + 1 };
}
