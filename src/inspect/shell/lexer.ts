/**
 * Character-level reading of shell text: blanks, comments, operators, reserved words and
 * words with quote removal. Shell lexing depends on the grammar (`$( … )` holds commands,
 * here-document bodies follow the next newline), so the lexer calls back into a parser for
 * nested scripts and the parser drives the lexer directly rather than through a token stream.
 */
import type { HereDocument, Script, Word, WordPart } from './ast.js';
import { ShellSyntaxError } from './errors.js';

/** What the lexer needs from a parser to read words that contain commands. */
export interface NestedParser {
  /** Parses commands at the lexer's position up to, not including, the `)` closing `$(`/`<(`/`>(`. */
  parseUntilParen(): Script;
  /** Parses separate text (a backquoted command) as a script. */
  parseText(text: string, base: number): Script;
  /** The scripts in text that is expanded like a double-quoted string without quotes (here-document bodies, arithmetic). */
  scanExpansions(text: string, base: number): Script[];
  /** Runs `work` one nesting level deeper (the depth limit covers `${ … ${ … } }` too). */
  nest<T>(work: () => T): T;
}

/** Characters that end an unquoted word. */
const METACHARACTERS = new Set([' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')']);

/** Longest first, so that `;;&` is not read as `;;` then `&`. */
const OPERATORS = [
  ';;&', '&>>', '<<<', '<<-',
  ';;', ';&', '&&', '||', '|&', '&>', '>>', '>|', '>&', '<<', '<&', '<>',
  ';', '&', '|', '<', '>', '(', ')', '\n',
] as const;

export const REDIRECTION_OPERATORS: ReadonlySet<string> = new Set([
  '<', '>', '>>', '>|', '<>', '<<', '<<-', '<<<', '>&', '<&', '&>', '&>>',
]);

/** A reserved word must end at a metacharacter (`<(`/`>(` continue the word instead). */
const RESERVED =
  /(?:if|then|elif|else|fi|do|done|case|esac|while|until|for|select|in|function|time|coproc|\{|\}|!|\[\[|\]\])(?=[ \t\n;&|()]|[<>](?!\()|$)/y;
const FD_PREFIX = /(?:([0-9]+)|\{([A-Za-z_][A-Za-z0-9_]*)\})(?=[<>])/y;
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
const SPECIAL_PARAMETER = /[0-9@*#?$!-]/;

type PartSink = (part: WordPart) => void;

export class Lexer {
  pos = 0;
  private readonly pendingHereDocuments: HereDocument[] = [];

  constructor(
    readonly src: string,
    /** Offset of `src` in the top-level line, for error positions. */
    private readonly base: number,
    private readonly nested: NestedParser,
  ) {}

  get atEnd(): boolean {
    return this.pos >= this.src.length;
  }

  fail(message: string, at: number = this.pos): never {
    throw new ShellSyntaxError(message, this.base + at);
  }

  offset(at: number = this.pos): number {
    return this.base + at;
  }

  /** Skips spaces, tabs, line continuations and a comment; stops at a newline. */
  skipBlanks(): void {
    const src = this.src;
    for (;;) {
      const c = src[this.pos];
      if (c === ' ' || c === '\t') this.pos += 1;
      else if (c === '\\' && src[this.pos + 1] === '\n') this.pos += 2;
      else if (c === '#') {
        const nl = src.indexOf('\n', this.pos);
        this.pos = nl < 0 ? src.length : nl;
      } else return;
    }
  }

  /** The operator at the position, if any (`<(` and `>(` start words, not operators). */
  peekOperator(): string | undefined {
    const src = this.src;
    const c = src[this.pos];
    if (c === undefined) return undefined;
    if ((c === '<' || c === '>') && src[this.pos + 1] === '(') return undefined;
    for (const op of OPERATORS) if (src.startsWith(op, this.pos)) return op;
    return undefined;
  }

  take(length: number): void {
    this.pos += length;
  }

  /** The reserved word spelled at the position and followed by a delimiter, if any (only meaningful where a command starts). */
  peekReserved(): string | undefined {
    RESERVED.lastIndex = this.pos;
    return RESERVED.exec(this.src)?.[0];
  }

  /** `2>` or `{fd}>`: the file-descriptor prefix of a redirection. */
  readDescriptorPrefix(): { readonly fd: number | undefined } | undefined {
    FD_PREFIX.lastIndex = this.pos;
    const m = FD_PREFIX.exec(this.src);
    if (!m) return undefined;
    this.pos += m[0].length;
    return { fd: m[1] === undefined ? undefined : Number(m[1]) };
  }

  /** Consumes the newline at the position, then the bodies of here-documents waiting for it. */
  consumeNewline(): void {
    this.pos += 1;
    const waiting = this.pendingHereDocuments.splice(0);
    for (const doc of waiting) this.readHereDocumentBody(doc);
  }

  addHereDocument(doc: HereDocument): void {
    this.pendingHereDocuments.push(doc);
  }

  private readHereDocumentBody(doc: HereDocument): void {
    const bodyStart = this.pos;
    const end = this.findDelimiterLine(doc, false);
    if (!doc.quoted && this.findDelimiterLine(doc, true).bodyEnd !== end.bodyEnd) {
      // bash joins `\`-newline before matching an unquoted delimiter, dash does not: where the
      // body ends (and so which lines run as commands) depends on the shell.
      this.fail('here-document delimiter split by a line continuation: shells disagree where the body ends', bodyStart);
    }
    this.pos = end.next;
    if (!doc.quoted) doc.scripts = this.nested.scanExpansions(this.src.slice(bodyStart, end.bodyEnd), this.base + bodyStart);
  }

  /**
   * Where the body starting at the position ends: the start of the delimiter line and the
   * offset after it. Matches physical lines, or (`joinContinuations`) lines joined at
   * `\`-newline as bash does. A missing delimiter ends the body at the end of input (bash
   * warns and runs it).
   */
  private findDelimiterLine(doc: HereDocument, joinContinuations: boolean): { readonly bodyEnd: number; readonly next: number } {
    const src = this.src;
    let lineStart = this.pos;
    let logicalStart = lineStart;
    let logical: string | undefined;
    while (lineStart < src.length) {
      const nl = src.indexOf('\n', lineStart);
      const lineEnd = nl < 0 ? src.length : nl;
      let line = src.slice(lineStart, lineEnd);
      if (logical === undefined) {
        logicalStart = lineStart;
        if (doc.stripTabs) line = line.replace(/^\t+/, '');
      }
      if (joinContinuations && nl >= 0 && /(?:^|[^\\])(?:\\\\)*\\$/.test(line)) {
        logical = (logical ?? '') + line.slice(0, -1);
      } else {
        const whole = (logical ?? '') + line;
        logical = undefined;
        if (whole === doc.delimiter) return { bodyEnd: logicalStart, next: nl < 0 ? src.length : nl + 1 };
      }
      lineStart = lineEnd + 1;
    }
    return { bodyEnd: src.length, next: src.length };
  }

  /**
   * Reads one word at the position (which must not be a metacharacter). In `regex` mode (the
   * right side of `=~` in `[[ ]]`) parentheses and `|` belong to the word.
   */
  readWord(regex = false): Word {
    const src = this.src;
    const start = this.pos;
    const parts: WordPart[] = [];
    const sink = literalMerger(parts);
    while (this.pos < src.length) {
      const c = src[this.pos]!;
      if (c === '\\') {
        const next = src[this.pos + 1];
        if (next === '\n') this.pos += 2;
        else if (next === undefined) {
          sink({ kind: 'literal', text: '\\', quoted: false });
          this.pos += 1;
        } else {
          sink({ kind: 'literal', text: next, quoted: true });
          this.pos += 2;
        }
      } else if (c === "'") {
        const end = src.indexOf("'", this.pos + 1);
        if (end < 0) this.fail('unterminated single quote');
        sink({ kind: 'literal', text: src.slice(this.pos + 1, end), quoted: true });
        this.pos = end + 1;
      } else if (c === '"') {
        const open = this.pos;
        this.pos += 1;
        sink({ kind: 'literal', text: '', quoted: true });
        this.readDoubleQuoted(sink, open);
      } else if (c === '$' && src[this.pos + 1] === "'") {
        this.readAnsiC(sink);
      } else if (c === '$' && src[this.pos + 1] === '"') {
        const open = this.pos;
        this.pos += 2;
        sink({ kind: 'literal', text: '', quoted: true });
        this.readDoubleQuoted(sink, open);
      } else if (c === '$') {
        this.readDollar(sink, false);
      } else if (c === '`') {
        this.readBackquote(sink, false);
      } else if ((c === '<' || c === '>') && src[this.pos + 1] === '(') {
        this.readProcessSubstitution(sink);
      } else if (METACHARACTERS.has(c)) {
        if (!(regex && (c === '(' || c === ')' || c === '|'))) break;
        sink({ kind: 'literal', text: c, quoted: false });
        this.pos += 1;
      } else {
        let end = this.pos + 1;
        while (end < src.length && isPlain(src[end]!)) end += 1;
        sink({ kind: 'literal', text: src.slice(this.pos, end), quoted: false });
        this.pos = end;
      }
    }
    return { parts, start: this.base + start };
  }

  /**
   * Reads text expanded like a double-quoted string up to the end of `src` (here-document
   * bodies, arithmetic) and returns the scripts its substitutions run.
   */
  readLooseText(): Script[] {
    const scripts: Script[] = [];
    this.readDoubleQuoted(collectScripts(scripts), undefined);
    return scripts;
  }

  /**
   * Inside double quotes (`open` set: ends at `"`), or loose text (`open` undefined: ends at
   * the end, and `"` is an ordinary character). `\` escapes only `$ \` " newline` (not `"` in
   * loose text).
   */
  private readDoubleQuoted(sink: PartSink, open: number | undefined): void {
    const src = this.src;
    while (this.pos < src.length) {
      const c = src[this.pos]!;
      if (c === '"' && open !== undefined) {
        this.pos += 1;
        return;
      }
      if (c === '\\') {
        const next = src[this.pos + 1];
        if (next === '\n') this.pos += 2;
        else if (next === '$' || next === '`' || next === '\\' || (next === '"' && open !== undefined)) {
          sink({ kind: 'literal', text: next, quoted: true });
          this.pos += 2;
        } else {
          sink({ kind: 'literal', text: '\\', quoted: true });
          this.pos += 1;
        }
      } else if (c === '$') {
        this.readDollar(sink, true);
      } else if (c === '`') {
        this.readBackquote(sink, open !== undefined);
      } else {
        let end = this.pos + 1;
        while (end < src.length && !'"\\$`'.includes(src[end]!)) end += 1;
        sink({ kind: 'literal', text: src.slice(this.pos, end), quoted: true });
        this.pos = end;
      }
    }
    if (open !== undefined) this.fail('unterminated double quote', open);
  }

  /** `$'…'`: ANSI-C quoting, decoded as bash does. */
  private readAnsiC(sink: PartSink): void {
    const src = this.src;
    const open = this.pos;
    let i = this.pos + 2;
    let out = '';
    let truncated = false; // bash ends the string at a decoded NUL
    const emit = (s: string): void => {
      if (truncated) return;
      const nul = s.indexOf('\0');
      if (nul >= 0) {
        out += s.slice(0, nul);
        truncated = true;
      } else out += s;
    };
    for (;;) {
      const c = src[i];
      if (c === undefined) this.fail("unterminated $'…' quote", open);
      if (c === "'") break;
      if (c !== '\\') {
        emit(c);
        i += 1;
        continue;
      }
      const e = src[i + 1];
      if (e === undefined) this.fail("unterminated $'…' quote", open);
      const simple = ANSI_SIMPLE[e];
      if (simple !== undefined) {
        emit(simple);
        i += 2;
      } else if (e >= '0' && e <= '7') {
        const m = /^[0-7]{1,3}/.exec(src.slice(i + 1, i + 4))![0];
        emit(String.fromCharCode(parseInt(m, 8) & 0xff));
        i += 1 + m.length;
      } else if (e === 'x' || e === 'u' || e === 'U') {
        const max = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const m = new RegExp(`^[0-9A-Fa-f]{1,${max}}`).exec(src.slice(i + 2, i + 2 + max));
        if (!m) {
          emit('\\' + e);
        } else {
          const code = parseInt(m[0], 16);
          emit(code <= 0x10ffff ? String.fromCodePoint(code) : '');
          i += m[0].length;
        }
        i += 2;
      } else if (e === 'c' && src[i + 2] !== undefined && src[i + 2] !== "'") {
        const x = src[i + 2]!;
        emit(x === '?' ? '\x7f' : String.fromCharCode(x.toUpperCase().charCodeAt(0) & 0x1f));
        i += 3;
      } else {
        emit('\\' + e);
        i += 2;
      }
    }
    sink({ kind: 'literal', text: out, quoted: true });
    this.pos = i + 1;
  }

  /** `$…` in a word or double quotes; a lone `$` stays literal. */
  private readDollar(sink: PartSink, quoted: boolean): void {
    const src = this.src;
    const start = this.pos;
    const n = src[this.pos + 1];
    if (n === '{') {
      const scripts = this.nested.nest(() => this.readBraceParameter(quoted));
      sink({ kind: 'expansion', type: 'parameter', text: src.slice(start, this.pos), quoted, scripts });
    } else if (n === '(') {
      if (src[this.pos + 2] === '(') {
        const close = this.findArithmeticEnd(this.pos + 3);
        if (close >= 0) {
          const scripts = this.nested.scanExpansions(src.slice(this.pos + 3, close), this.base + this.pos + 3);
          this.pos = close + 2;
          sink({ kind: 'expansion', type: 'arithmetic', text: src.slice(start, this.pos), quoted, scripts });
          return;
        }
      }
      this.pos += 2;
      const body = this.ownHereDocuments(start, () => this.nested.parseUntilParen());
      if (src[this.pos] !== ')') this.fail('unterminated $( … ): missing )', start);
      this.pos += 1;
      sink({ kind: 'expansion', type: 'command', text: src.slice(start, this.pos), quoted, scripts: [body] });
    } else if (n === '[') {
      const close = this.findBracketEnd(this.pos + 2);
      if (close < 0) this.fail('unterminated $[ … ]', start);
      const scripts = this.nested.scanExpansions(src.slice(this.pos + 2, close), this.base + this.pos + 2);
      this.pos = close + 1;
      sink({ kind: 'expansion', type: 'arithmetic', text: src.slice(start, this.pos), quoted, scripts });
    } else if (n !== undefined && NAME_START.test(n)) {
      let end = this.pos + 2;
      while (end < src.length && NAME_CHAR.test(src[end]!)) end += 1;
      this.pos = end;
      sink({ kind: 'expansion', type: 'parameter', text: src.slice(start, end), quoted, scripts: [] });
    } else if (n !== undefined && SPECIAL_PARAMETER.test(n)) {
      this.pos += 2;
      sink({ kind: 'expansion', type: 'parameter', text: src.slice(start, this.pos), quoted, scripts: [] });
    } else {
      this.pos += 1;
      sink({ kind: 'literal', text: '$', quoted });
    }
  }

  /**
   * Parses a `$( … )` or `<( … )` body with its own here-documents: a newline inside it does
   * not start the bodies of here-documents opened before it (bash and dash agree), and one
   * opened inside it must end inside it (otherwise bash and dash disagree on what follows).
   */
  private ownHereDocuments(open: number, parse: () => Script): Script {
    const outer = this.pendingHereDocuments.splice(0);
    const body = parse();
    if (this.pendingHereDocuments.length > 0) this.fail('a here-document opened inside $( … ) or <( … ) must end inside it', open);
    this.pendingHereDocuments.push(...outer);
    return body;
  }

  /** `${ … }` up to its matching `}`, collecting the substitutions inside (`${X:-$(rm x)}`). */
  private readBraceParameter(inDoubleQuotes: boolean): Script[] {
    const src = this.src;
    const open = this.pos;
    const scripts: Script[] = [];
    const collect = collectScripts(scripts);
    this.pos += 2;
    while (this.pos < src.length) {
      const c = src[this.pos]!;
      if (c === '}') {
        this.pos += 1;
        return scripts;
      }
      if (c === '\\') this.pos += 2;
      // Inside double quotes a `'` is an ordinary character even here; outside it quotes.
      else if (c === "'" && !inDoubleQuotes) {
        const end = src.indexOf("'", this.pos + 1);
        if (end < 0) this.fail('unterminated single quote');
        this.pos = end + 1;
      } else if (c === '"') {
        const q = this.pos;
        this.pos += 1;
        this.readDoubleQuoted(collect, q);
      } else if (c === '$') this.readDollar(collect, true);
      else if (c === '`') this.readBackquote(collect, inDoubleQuotes);
      else this.pos += 1;
    }
    this.fail('unterminated ${ … }', open);
  }

  /** `` `…` ``: unescapes `` \` ``, `\\`, `\$` (and `\"` inside double quotes), then parses the text. */
  private readBackquote(sink: PartSink, inDoubleQuotes: boolean): void {
    const src = this.src;
    const open = this.pos;
    let i = this.pos + 1;
    let text = '';
    for (;;) {
      const c = src[i];
      if (c === undefined) this.fail('unterminated backquote', open);
      if (c === '`') break;
      if (c === '\\') {
        const e = src[i + 1];
        if (e === '`' || e === '\\' || e === '$' || (inDoubleQuotes && e === '"')) {
          text += e;
          i += 2;
          continue;
        }
      }
      text += c;
      i += 1;
    }
    this.pos = i + 1;
    const body = this.nested.parseText(text, this.base + open + 1);
    sink({ kind: 'expansion', type: 'command', text: src.slice(open, this.pos), quoted: inDoubleQuotes, scripts: [body] });
  }

  private readProcessSubstitution(sink: PartSink): void {
    const start = this.pos;
    this.pos += 2;
    const body = this.ownHereDocuments(start, () => this.nested.parseUntilParen());
    if (this.src[this.pos] !== ')') this.fail('unterminated process substitution: missing )', start);
    this.pos += 1;
    sink({ kind: 'expansion', type: 'process', text: this.src.slice(start, this.pos), quoted: false, scripts: [body] });
  }

  /**
   * After `((` or `$((`: the offset of the first `)` of the `))` that closes it, or -1 when the
   * parentheses close singly — then it was a subshell in a command substitution (`$((a);b)`).
   */
  findArithmeticEnd(from: number): number {
    const src = this.src;
    let depth = 0;
    for (let i = from; i < src.length; i += 1) {
      const c = src[i];
      if (c === '\\') i += 1;
      else if (c === "'" || c === '"' || c === '`') {
        const end = src.indexOf(c, i + 1);
        if (end < 0) return -1;
        i = end;
      } else if (c === '(') depth += 1;
      else if (c === ')') {
        if (depth === 0) return src[i + 1] === ')' ? i : -1;
        depth -= 1;
      }
    }
    return -1;
  }

  private findBracketEnd(from: number): number {
    let depth = 0;
    for (let i = from; i < this.src.length; i += 1) {
      const c = this.src[i];
      if (c === '[') depth += 1;
      else if (c === ']') {
        if (depth === 0) return i;
        depth -= 1;
      }
    }
    return -1;
  }
}

const ANSI_SIMPLE: Readonly<Record<string, string>> = {
  a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
  '\\': '\\', "'": "'", '"': '"', '?': '?',
};

function isPlain(c: string): boolean {
  return !METACHARACTERS.has(c) && !'\\\'"$`'.includes(c);
}

/** Appends parts, merging adjacent literals of the same quoting. */
function literalMerger(parts: WordPart[]): PartSink {
  return (part) => {
    const last = parts[parts.length - 1];
    if (part.kind === 'literal' && last?.kind === 'literal' && last.quoted === part.quoted) {
      parts[parts.length - 1] = { kind: 'literal', text: last.text + part.text, quoted: part.quoted };
    } else parts.push(part);
  };
}

function collectScripts(into: Script[]): PartSink {
  return (part) => {
    if (part.kind === 'expansion') into.push(...part.scripts);
  };
}
