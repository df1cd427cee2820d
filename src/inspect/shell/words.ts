/** What a parsed word means to the inspector: its text after quote removal, and how sure that text is. */
import type { Word } from './ast.js';

/** One word of a command's argument vector. */
export interface Arg {
  /** After quote removal; expansions kept as written (`$HOME/x`). */
  readonly value: string;
  /** Contains an expansion, so the value at run time is not known. */
  readonly dynamic: boolean;
  /** Contains an unquoted expansion, which may split into several words or none. */
  readonly splits: boolean;
  /** Contains unquoted glob (`* ? [ ]`) or brace-expansion (`{a,b}`, `{1..3}`) characters. */
  readonly glob: boolean;
  /** Literal (quoted) text that looks like a command substitution: code if something evaluates it again. */
  readonly literalCode: boolean;
  /** Contains `<( … )` or `>( … )`: a pipe whose contents come from a command. */
  readonly processSubstitution: boolean;
  /** The last path component, counting only slashes written literally (`$D/rm` → `rm`, `$(echo /bin/rm)` stays whole). */
  readonly program: string;
  /** Offset in the top-level line, when the word comes from it. */
  readonly position: number | undefined;
}

export function wordValue(word: Word): string {
  let text = '';
  for (const part of word.parts) text += part.text;
  return text;
}

/** Whether any part was quoted or escaped (a here-document delimiter like that keeps the body literal). */
export function hasQuotedPart(word: Word): boolean {
  return word.parts.some((p) => p.kind === 'literal' && p.quoted);
}

const GLOB = /[*?]|\[[^]*\]/;
const BRACE_EXPANSION = /\{[^{}]*(?:,|\.\.)[^{}]*\}/;

export function argOf(word: Word): Arg {
  let value = '';
  let masked = ''; // unquoted literal characters kept, everything else as NUL: what globbing sees
  let lastSlash = -1;
  let dynamic = false;
  let splits = false;
  let literalCode = false;
  let processSubstitution = false;
  for (const part of word.parts) {
    if (part.kind === 'literal') {
      const slash = part.text.lastIndexOf('/');
      if (slash >= 0) lastSlash = value.length + slash;
      masked += part.quoted ? '\0'.repeat(part.text.length) : part.text;
      if (part.text.includes('$(') || part.text.includes('`')) literalCode = true;
    } else {
      dynamic = true;
      if (part.type === 'process') processSubstitution = true;
      if (!part.quoted && (part.type === 'parameter' || part.type === 'command')) splits = true;
      masked += '\0';
    }
    value += part.text;
  }
  const program = lastSlash >= 0 && lastSlash < value.length - 1 ? value.slice(lastSlash + 1) : value;
  return {
    value,
    dynamic,
    splits,
    glob: GLOB.test(masked) || BRACE_EXPANSION.test(masked),
    literalCode,
    processSubstitution,
    program,
    position: word.start,
  };
}

/** A word made by a wrapper from text (`env -S`, `watch`), not read from the line. */
export function syntheticArg(value: string, position: number | undefined, dynamic = false): Arg {
  return {
    value,
    dynamic,
    splits: false,
    glob: false,
    literalCode: false,
    processSubstitution: false,
    program: basename(value),
    position,
  };
}

export function basename(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash >= 0 && slash < path.length - 1 ? path.slice(slash + 1) : path;
}

/** A value for a note: quoted, short, on one line. */
export function quote(value: string): string {
  return `"${oneLine(value)}"`;
}

/** A value for a note: short, on one line. */
export function oneLine(value: string): string {
  const flat = value.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : '?'));
  return flat.length > 60 ? `${flat.slice(0, 57)}…` : flat;
}
