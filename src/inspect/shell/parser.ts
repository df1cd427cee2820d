/**
 * Recursive-descent parser for the POSIX sh / bash command language, as far as the
 * inspector needs it: lists, pipelines, compound commands, functions, redirections and
 * here-documents. It rejects what the shell would reject (unbalanced constructs, dangling
 * operators), because a line the shell refuses runs nothing and a line we cannot read must
 * not be guessed at.
 */
import type {
  Assignment, CompoundCommand, FunctionDefinition, HereDocument, Node, Redirect, Script, SimpleCommand, Word,
} from './ast.js';
import { DepthBudget, ShellSyntaxError } from './errors.js';
import { Lexer, REDIRECTION_OPERATORS, type NestedParser } from './lexer.js';
import { hasQuotedPart, wordValue } from './words.js';

/** Where a list stops: reserved words (at a command start) and operators. */
interface Stop {
  readonly words: readonly string[];
  readonly ops: readonly string[];
}

const NOWHERE: Stop = { words: [], ops: [] };
/** Closing reserved words, and what opens them (for messages). */
const CLOSERS: Readonly<Record<string, string>> = {
  then: '`if`', elif: '`if`', else: '`if`', fi: '`if`', do: 'loop (while, until, for, select)', done: 'loop (while, until, for, select)',
  esac: '`case`', '}': '`{`',
};
const COMPOUND_STARTS = new Set(['{', 'if', 'while', 'until', 'for', 'select', 'case', '[[', 'function', 'coproc', '!', 'time']);
const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)(\[|\+?=)/;

/** Parses a command line (or a nested script: `base` is its offset for error positions). */
export function parseShell(text: string, budget: DepthBudget, base = 0): Script {
  return new Parser(text, budget, base).parseScript();
}

/** The scripts run while expanding `text` as a here-document body (unquoted delimiter) or arithmetic. */
export function scanExpansions(text: string, budget: DepthBudget, base: number): Script[] {
  return budget.within(() => new Parser(text, budget, base).lexer.readLooseText());
}

class Parser implements NestedParser {
  readonly lexer: Lexer;

  constructor(
    text: string,
    private readonly budget: DepthBudget,
    base: number,
  ) {
    this.lexer = new Lexer(text, base, this);
  }

  parseScript(): Script {
    const nodes = this.parseList(NOWHERE);
    if (!this.lexer.atEnd) this.unexpected();
    return nodes;
  }

  parseUntilParen(): Script {
    return this.budget.within(() => this.parseList({ words: [], ops: [')'] }));
  }

  parseText(text: string, base: number): Script {
    return this.budget.within(() => parseShell(text, this.budget, base));
  }

  scanExpansions(text: string, base: number): Script[] {
    return scanExpansions(text, this.budget, base);
  }

  nest<T>(work: () => T): T {
    return this.budget.within(work);
  }

  // ---- lists -------------------------------------------------------------------------

  private parseList(stop: Stop): Node[] {
    const lx: Lexer = this.lexer;
    const nodes: Node[] = [];
    for (;;) {
      this.skipLinebreaks();
      if (lx.atEnd || this.atStop(stop)) return nodes;
      const closer = lx.peekReserved();
      if (closer !== undefined && CLOSERS[closer] !== undefined) {
        if (stop.words.length === 0) lx.fail(`\`${closer}\` without a matching ${CLOSERS[closer]}`);
        lx.fail(`unexpected \`${closer}\` where ${stop.words.map((w) => `\`${w}\``).join(' or ')} was expected`);
      }
      this.parseAndOr(nodes);
      lx.skipBlanks();
      const op = lx.peekOperator();
      if (op === ';' || op === '&') {
        lx.take(1);
        continue;
      }
      if (op === '\n') continue;
      if (lx.atEnd || this.atStop(stop)) return nodes;
      this.unexpected();
    }
  }

  private parseAndOr(into: Node[]): void {
    const lx: Lexer = this.lexer;
    this.parsePipeline(into);
    for (;;) {
      lx.skipBlanks();
      const op = lx.peekOperator();
      if (op !== '&&' && op !== '||') return;
      lx.take(2);
      this.skipLinebreaks();
      if (lx.atEnd) lx.fail(`expected a command after ${op}`);
      this.parsePipeline(into);
    }
  }

  private parsePipeline(into: Node[]): void {
    const lx: Lexer = this.lexer;
    lx.skipBlanks();
    if (lx.peekReserved() === 'time') {
      into.push(this.budget.within(() => this.parseTime()));
      return;
    }
    while (lx.peekReserved() === '!') {
      lx.take(1);
      lx.skipBlanks();
    }
    into.push(this.parseCommand());
    for (;;) {
      lx.skipBlanks();
      const op = lx.peekOperator();
      if (op !== '|' && op !== '|&') return;
      lx.take(op.length);
      this.skipLinebreaks();
      if (lx.atEnd) lx.fail(`dangling ${op}: expected a command after it`);
      into.push(this.parseCommand());
    }
  }

  /**
   * `time [-p] PIPELINE`: bash's keyword, whatever follows. In sh, `time` is the program
   * /usr/bin/time with its own options (`time -f %e cmd`); the inspector resolves a pipeline
   * starting with an option word that way too (see inspect.ts).
   */
  private parseTime(): CompoundCommand {
    const lx: Lexer = this.lexer;
    lx.take(4);
    lx.skipBlanks();
    if (/^-p(?=[ \t\n;&|()<>]|$)/.test(lx.src.slice(lx.pos, lx.pos + 3))) {
      lx.take(2);
      lx.skipBlanks();
    }
    const body: Node[] = [];
    const op = lx.peekOperator();
    // `time` alone (before `;`, `&&`, a newline…) times nothing.
    if (!lx.atEnd && (op === undefined || op === '(' || REDIRECTION_OPERATORS.has(op))) this.parsePipeline(body);
    return compound('time', body, { wrapper: 'time' });
  }

  // ---- commands ----------------------------------------------------------------------

  private parseCommand(): Node {
    const lx: Lexer = this.lexer;
    lx.skipBlanks();
    const reserved = lx.peekReserved();
    if (reserved !== undefined) {
      const closes = CLOSERS[reserved];
      if (closes !== undefined) lx.fail(`\`${reserved}\` without a matching ${closes}`);
      switch (reserved) {
        case '{': return this.budget.within(() => this.withRedirects(this.parseGroup()));
        case 'if': return this.budget.within(() => this.withRedirects(this.parseIf()));
        case 'while':
        case 'until': return this.budget.within(() => this.withRedirects(this.parseWhile(reserved)));
        case 'for':
        case 'select': return this.budget.within(() => this.withRedirects(this.parseFor(reserved)));
        case 'case': return this.budget.within(() => this.withRedirects(this.parseCase()));
        case '[[': return this.parseTest();
        case 'function': return this.budget.within(() => this.parseFunctionKeyword());
        case 'coproc': return this.budget.within(() => this.parseCoproc());
        default: break; // `in`, `]]`, `!`, `time` here are ordinary words
      }
    }
    const op = lx.peekOperator();
    if (op === '(') {
      return this.budget.within(() => this.withRedirects(lx.src[lx.pos + 1] === '(' ? this.parseArithmeticOrSubshell() : this.parseSubshell()));
    }
    if (op === undefined && lx.atEnd) lx.fail('expected a command');
    if (op !== undefined && !REDIRECTION_OPERATORS.has(op)) this.unexpected();
    return this.parseSimple();
  }

  private parseSimple(): Node {
    const lx: Lexer = this.lexer;
    const start = lx.pos;
    const assignments: Assignment[] = [];
    const words: Word[] = [];
    const redirects: Redirect[] = [];
    for (;;) {
      lx.skipBlanks();
      if (lx.atEnd) break;
      const prefix = lx.readDescriptorPrefix();
      const op = lx.peekOperator();
      if (prefix !== undefined || (op !== undefined && REDIRECTION_OPERATORS.has(op))) {
        redirects.push(this.parseRedirect(prefix?.fd));
        continue;
      }
      if (op === '(' && words.length === 1 && assignments.length === 0 && redirects.length === 0) {
        return this.parseFunctionBody(wordValue(words[0]!));
      }
      if (op !== undefined) break;
      const word = lx.readWord();
      const assignment = words.length === 0 ? this.asAssignment(word) : undefined;
      if (assignment) assignments.push(assignment);
      else if (words.length > 0 && this.startsArray(word)) {
        // `declare -a a=(1 2)`: bash reads the parenthesised list for declaration builtins.
        words.push(word, ...this.readArrayElements());
      } else words.push(word);
    }
    if (assignments.length === 0 && words.length === 0 && redirects.length === 0) lx.fail('expected a command', start);
    const node: SimpleCommand = { kind: 'simple', assignments, words, redirects };
    return node;
  }

  /** `NAME=value`, `NAME+=value`, `NAME[sub]=value` (name unquoted), and `NAME=( … )` arrays. */
  private asAssignment(word: Word): Assignment | undefined {
    const first = word.parts[0];
    if (first?.kind !== 'literal' || first.quoted) return undefined;
    const m = ASSIGNMENT.exec(first.text);
    if (!m) return undefined;
    if (m[2] === '[') {
      const closes = word.parts.some((p) => p.kind === 'literal' && !p.quoted && /\]\+?=/.test(p.text));
      if (!closes) return undefined;
    }
    const values = this.startsArray(word) ? this.readArrayElements() : [word];
    return { name: m[1]!, values };
  }

  /** Whether `word` ends in an unquoted `=` directly followed by `(`. */
  private startsArray(word: Word): boolean {
    const last = word.parts[word.parts.length - 1];
    return last?.kind === 'literal' && !last.quoted && last.text.endsWith('=') && this.lexer.src[this.lexer.pos] === '(';
  }

  private readArrayElements(): Word[] {
    const lx: Lexer = this.lexer;
    const open = lx.pos;
    lx.take(1);
    const elements: Word[] = [];
    for (;;) {
      this.skipLinebreaks();
      if (lx.atEnd) lx.fail('unterminated array assignment: missing )', open);
      const op = lx.peekOperator();
      if (op === ')') {
        lx.take(1);
        return elements;
      }
      if (op !== undefined) this.unexpected();
      elements.push(lx.readWord());
    }
  }

  private parseRedirect(fd: number | undefined): Redirect {
    const lx: Lexer = this.lexer;
    const op = lx.peekOperator();
    if (op === undefined || !REDIRECTION_OPERATORS.has(op)) lx.fail('expected a redirection operator after a file descriptor');
    lx.take(op.length);
    lx.skipBlanks();
    if (lx.atEnd || lx.peekOperator() !== undefined) lx.fail(`expected a file name after ${op}`);
    const target = lx.readWord();
    let hereDocument: HereDocument | undefined;
    if (op === '<<' || op === '<<-') {
      hereDocument = { delimiter: wordValue(target), quoted: hasQuotedPart(target), stripTabs: op === '<<-', scripts: [] };
      lx.addHereDocument(hereDocument);
    }
    return { op, fd, target, hereDocument };
  }

  private withRedirects(node: CompoundCommand): CompoundCommand {
    const lx: Lexer = this.lexer;
    const redirects: Redirect[] = [];
    for (;;) {
      lx.skipBlanks();
      const prefix = lx.readDescriptorPrefix();
      const op = lx.peekOperator();
      if (prefix === undefined && (op === undefined || !REDIRECTION_OPERATORS.has(op))) break;
      redirects.push(this.parseRedirect(prefix?.fd));
    }
    // What may follow (an operator, a closing reserved word) is checked by the enclosing list.
    return redirects.length === 0 ? node : { ...node, redirects };
  }

  // ---- compound commands -------------------------------------------------------------

  private parseGroup(): CompoundCommand {
    const open = this.lexer.pos;
    this.lexer.take(1);
    const body = this.parseList({ words: ['}'], ops: [] });
    this.expectReserved('}', 'unterminated { group: missing }', open);
    if (body.length === 0) this.lexer.fail('empty { } group', open);
    return compound('{', body);
  }

  private parseSubshell(): CompoundCommand {
    const lx: Lexer = this.lexer;
    const open = lx.pos;
    lx.take(1);
    const body = this.parseList({ words: [], ops: [')'] });
    lx.skipBlanks();
    if (lx.peekOperator() !== ')') lx.fail('unbalanced parentheses: missing )', open);
    lx.take(1);
    if (body.length === 0) lx.fail('empty ( ) subshell', open);
    return compound('(', body);
  }

  /** `(( … ))` is bash arithmetic when it closes with `))`; otherwise nested subshells `( ( … ) )`. */
  private parseArithmeticOrSubshell(): CompoundCommand {
    const lx: Lexer = this.lexer;
    const close = lx.findArithmeticEnd(lx.pos + 2);
    if (close < 0) return this.parseSubshell();
    const text = lx.src.slice(lx.pos + 2, close);
    const scripts = this.scanExpansions(text, lx.offset(lx.pos + 2));
    // dash and other POSIX shells run `((rm x))` as nested subshells: report those commands too.
    let asSubshells: Script = [];
    try {
      asSubshells = this.parseText(text, lx.offset(lx.pos + 2));
    } catch (error) {
      if (!(error instanceof ShellSyntaxError)) throw error;
    }
    lx.pos = close + 2;
    return compound('((', [...asSubshells], {
      scripts,
      unsupported: '`(( … ))` is arithmetic in bash but nested subshells in POSIX sh; which one runs is not known',
    });
  }

  private parseIf(): CompoundCommand {
    const open = this.lexer.pos;
    this.lexer.take(2);
    const body: Node[] = [];
    for (;;) {
      body.push(...this.requireList(['then'], 'empty condition after if/elif', open));
      this.expectReserved('then', '`if` without `then`', open);
      body.push(...this.requireList(['elif', 'else', 'fi'], 'empty then-branch', open));
      if (this.lexer.peekReserved() === 'elif') {
        this.lexer.take(4);
        continue;
      }
      if (this.lexer.peekReserved() === 'else') {
        this.lexer.take(4);
        body.push(...this.requireList(['fi'], 'empty else-branch', open));
      }
      this.expectReserved('fi', '`if` without a matching `fi`', open);
      return compound('if', body);
    }
  }

  private parseWhile(keyword: string): CompoundCommand {
    const open = this.lexer.pos;
    this.lexer.take(keyword.length);
    const body = this.requireList(['do'], `empty condition after ${keyword}`, open);
    this.expectReserved('do', `\`${keyword}\` without \`do\``, open);
    body.push(...this.requireList(['done'], 'empty loop body', open));
    this.expectReserved('done', `\`${keyword}\` without a matching \`done\``, open);
    return compound(keyword, body);
  }

  private parseFor(keyword: string): CompoundCommand {
    const lx: Lexer = this.lexer;
    const open = lx.pos;
    lx.take(keyword.length);
    lx.skipBlanks();
    const words: Word[] = [];
    let scripts: Script[] = [];
    if (keyword === 'for' && lx.src.startsWith('((', lx.pos)) {
      const close = lx.findArithmeticEnd(lx.pos + 2);
      if (close < 0) lx.fail('unterminated for (( … ))', open);
      scripts = this.scanExpansions(lx.src.slice(lx.pos + 2, close), lx.offset(lx.pos + 2));
      lx.pos = close + 2;
      lx.skipBlanks();
      if (lx.peekOperator() === ';') lx.take(1);
    } else {
      if (lx.atEnd || lx.peekOperator() !== undefined) lx.fail(`expected a variable name after ${keyword}`, open);
      const name = lx.readWord();
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(wordValue(name))) lx.fail(`invalid ${keyword} loop variable`, name.start - lx.offset(0));
      this.skipLinebreaks();
      if (lx.peekReserved() === 'in') {
        lx.take(2);
        for (;;) {
          lx.skipBlanks();
          if (lx.atEnd) lx.fail(`unterminated ${keyword} loop`, open);
          const op = lx.peekOperator();
          if (op === ';') {
            lx.take(1);
            break;
          }
          if (op === '\n') break;
          if (op !== undefined) this.unexpected();
          words.push(lx.readWord());
        }
      } else if (lx.peekOperator() === ';') lx.take(1);
    }
    this.skipLinebreaks();
    const r = lx.peekReserved();
    let body: Node[];
    if (r === '{') body = [this.parseGroup()];
    else {
      this.expectReserved('do', `\`${keyword}\` without \`do\``, open);
      body = this.requireList(['done'], 'empty loop body', open);
      this.expectReserved('done', `\`${keyword}\` without a matching \`done\``, open);
    }
    return compound(keyword, body, { words, scripts });
  }

  private parseCase(): CompoundCommand {
    const lx: Lexer = this.lexer;
    const open = lx.pos;
    lx.take(4);
    lx.skipBlanks();
    if (lx.atEnd || lx.peekOperator() !== undefined) lx.fail('expected a word after case', open);
    const words: Word[] = [lx.readWord()];
    this.skipLinebreaks();
    this.expectReserved('in', '`case` without `in`', open);
    const body: Node[] = [];
    for (;;) {
      this.skipLinebreaks();
      if (lx.peekReserved() === 'esac') {
        lx.take(4);
        return compound('case', body, { words });
      }
      if (lx.atEnd) lx.fail('`case` without a matching `esac`', open);
      if (lx.peekOperator() === '(') lx.take(1);
      for (;;) {
        lx.skipBlanks();
        if (lx.atEnd || lx.peekOperator() !== undefined) lx.fail('expected a case pattern');
        words.push(lx.readWord());
        lx.skipBlanks();
        const op = lx.peekOperator();
        if (op === '|') {
          lx.take(1);
          continue;
        }
        if (op === ')') {
          lx.take(1);
          break;
        }
        lx.fail('expected ) after a case pattern');
      }
      body.push(...this.parseList({ words: ['esac'], ops: [';;', ';&', ';;&'] }));
      lx.skipBlanks();
      const op = lx.peekOperator();
      if (op === ';;' || op === ';&' || op === ';;&') lx.take(op.length);
      else if (lx.peekReserved() !== 'esac') lx.fail('`case` without a matching `esac`', open);
    }
  }

  /** `[[ … ]]`: read as the command `[[` with its words; `<`, `>`, `&&`, `||`, `(`, `)` are words inside. */
  private parseTest(): Node {
    const lx: Lexer = this.lexer;
    const open = lx.pos;
    const words: Word[] = [{ parts: [{ kind: 'literal', text: '[[', quoted: false }], start: lx.offset() }];
    lx.take(2);
    for (;;) {
      lx.skipBlanks();
      if (lx.atEnd) lx.fail('unterminated [[ … ]]', open);
      if (lx.src[lx.pos] === '\n') {
        lx.consumeNewline();
        continue;
      }
      if (lx.peekReserved() === ']]') {
        lx.take(2);
        break;
      }
      const op = lx.peekOperator();
      if (op === '&&' || op === '||' || op === '(' || op === ')' || op === '<' || op === '>') {
        words.push({ parts: [{ kind: 'literal', text: op, quoted: false }], start: lx.offset() });
        lx.take(op.length);
        continue;
      }
      if (op !== undefined) lx.fail(`unexpected \`${printable(op)}\` inside [[ … ]]`);
      const previous = words[words.length - 1]!;
      words.push(lx.readWord(wordValue(previous) === '=~'));
    }
    const rest = this.withRedirects(compound('[[', []));
    const node: SimpleCommand = { kind: 'simple', assignments: [], words, redirects: rest.redirects };
    return node;
  }

  private parseFunctionKeyword(): Node {
    const lx: Lexer = this.lexer;
    const open = lx.pos;
    lx.take(8);
    lx.skipBlanks();
    if (lx.atEnd || lx.peekOperator() !== undefined) lx.fail('expected a function name', open);
    const name = wordValue(lx.readWord());
    lx.skipBlanks();
    if (lx.peekOperator() === '(') return this.parseFunctionBody(name);
    return this.functionBody(name, open);
  }

  /** After `name`, at `(`: expects `)`, then a compound command. */
  private parseFunctionBody(name: string): FunctionDefinition {
    const lx: Lexer = this.lexer;
    const open = lx.pos;
    lx.take(1);
    lx.skipBlanks();
    if (lx.peekOperator() !== ')') lx.fail(`unexpected ( after ${name}: a function definition needs ()`, open);
    lx.take(1);
    return this.budget.within(() => this.functionBody(name, open));
  }

  private functionBody(name: string, open: number): FunctionDefinition {
    const lx: Lexer = this.lexer;
    this.skipLinebreaks();
    const r = lx.peekReserved();
    const startsCompound = (r !== undefined && ['{', 'if', 'while', 'until', 'for', 'select', 'case', '[['].includes(r)) || lx.peekOperator() === '(';
    if (!startsCompound) lx.fail(`the body of function ${name} must be a compound command`, open);
    return { kind: 'function', name, body: this.parseCommand() };
  }

  private parseCoproc(): Node {
    const lx: Lexer = this.lexer;
    lx.take(6);
    lx.skipBlanks();
    if (lx.atEnd) lx.fail('expected a command after coproc');
    const r = lx.peekReserved();
    if ((r === undefined || !COMPOUND_STARTS.has(r)) && lx.peekOperator() === undefined) {
      // `coproc NAME { …; }`: skip NAME when a compound command follows it.
      const saved = lx.pos;
      lx.readWord();
      lx.skipBlanks();
      const next = lx.peekReserved();
      if (!((next !== undefined && COMPOUND_STARTS.has(next)) || lx.peekOperator() === '(')) lx.pos = saved;
    }
    return compound('coproc', [this.parseCommand()], { unsupported: 'coproc (a coprocess) is not modelled' });
  }

  // ---- helpers -----------------------------------------------------------------------

  private requireList(words: readonly string[], emptyMessage: string, open: number): Node[] {
    const body = this.parseList({ words, ops: [] });
    if (body.length === 0) {
      if (this.lexer.atEnd) this.lexer.fail(`unterminated compound command: missing ${words[words.length - 1]}`, open);
      this.lexer.fail(emptyMessage);
    }
    return body;
  }

  private expectReserved(word: string, message: string, open: number): void {
    const lx: Lexer = this.lexer;
    this.skipLinebreaks();
    if (lx.peekReserved() !== word) lx.fail(message, open);
    lx.take(word.length);
  }

  private atStop(stop: Stop): boolean {
    const lx: Lexer = this.lexer;
    const op = lx.peekOperator();
    if (op !== undefined && stop.ops.includes(op)) return true;
    const r = lx.peekReserved();
    return r !== undefined && stop.words.includes(r);
  }

  private skipLinebreaks(): void {
    const lx: Lexer = this.lexer;
    for (;;) {
      lx.skipBlanks();
      if (lx.src[lx.pos] !== '\n') return;
      lx.consumeNewline();
    }
  }

  private unexpected(): never {
    const lx: Lexer = this.lexer;
    lx.skipBlanks();
    if (lx.atEnd) lx.fail('unexpected end of input');
    const op = lx.peekOperator();
    if (op === ')') lx.fail('unexpected `)` without a matching (');
    if (op === ';;' || op === ';&' || op === ';;&') lx.fail(`unexpected \`${op}\` outside a case item`);
    if (op !== undefined) lx.fail(`unexpected \`${printable(op)}\``);
    const r = lx.peekReserved();
    if (r !== undefined && CLOSERS[r] !== undefined) lx.fail(`\`${r}\` without a matching ${CLOSERS[r]}`);
    lx.fail(`unexpected \`${lx.src.slice(lx.pos, lx.pos + 12)}\``);
  }
}

function compound(
  keyword: string,
  body: Node[],
  extra: { words?: Word[]; scripts?: Script[]; wrapper?: string; unsupported?: string } = {},
): CompoundCommand {
  return {
    kind: 'compound',
    keyword,
    body,
    words: extra.words ?? [],
    scripts: extra.scripts ?? [],
    redirects: [],
    wrapper: extra.wrapper,
    unsupported: extra.unsupported,
  };
}

function printable(op: string): string {
  return op === '\n' ? 'newline' : op;
}
