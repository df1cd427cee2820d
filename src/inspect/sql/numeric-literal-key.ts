/**
 * A cache key under which statements that differ only in the values of their numeric
 * literals share one inspection: `SELECT … WHERE aid = 4711` and `… = 815` have the same
 * facts, and re-parsing every distinct literal (what simple-protocol clients send) would
 * cost a parse per statement.
 *
 * Every digit of a plain decimal numeric literal (`42`, `3.14`, `.5`, `1e-3`) is replaced
 * by `0`, keeping the length, so statement offsets are identical in the key and the text.
 * Digits inside strings, quoted identifiers, identifiers, parameters (`$1`) and comments
 * are left alone. Pure lexing, no parser: whenever the text holds anything this lexer does
 * not understand exactly (U& strings, backslashes outside E'' strings, unterminated
 * strings or comments, hex/octal/binary or malformed numbers…) it returns undefined and
 * the caller uses the exact text — never a shared key it is unsure of.
 *
 * Lexing follows PostgreSQL with standard_conforming_strings on, which the gateway
 * guarantees for every session.
 */
const PLAIN_NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export function numericLiteralKey(text: string): string | undefined {
  let out: string[] | undefined;
  let copied = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x27 /* ' */) {
      const end = skipQuoted(text, i, 0x27, false);
      if (end < 0) return undefined;
      i = end;
    } else if (c === 0x22 /* " */) {
      const end = skipQuoted(text, i, 0x22, false);
      if (end < 0) return undefined;
      i = end;
    } else if (c === 0x2d /* - */ && text.charCodeAt(i + 1) === 0x2d) {
      const nl = text.slice(i).search(/[\n\r]/);
      i = nl < 0 ? n : i + nl;
    } else if (c === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x2a /* * */) {
      const end = skipBlockComment(text, i);
      if (end < 0) return undefined;
      i = end;
    } else if (c === 0x24 /* $ */) {
      const end = skipDollar(text, i);
      if (end < 0) return undefined;
      i = end;
    } else if (c === 0x5c /* \ */) {
      return undefined;
    } else if (isIdentStart(c)) {
      const start = i;
      while (i < n && isIdentPart(text.charCodeAt(i))) i++;
      const next = text.charCodeAt(i);
      if (i - start === 1 && (next === 0x27 || next === 0x26 /* & */)) {
        const p = text.charCodeAt(start) | 0x20;
        if (p === 0x75 /* u */ && next === 0x26) return undefined; // U&'…' / U&"…": escapes
        if (p === 0x65 /* e */ && next === 0x27) {
          const end = skipQuoted(text, i, 0x27, true);
          if (end < 0) return undefined;
          i = end;
        }
      }
    } else if (isDigit(c) || (c === 0x2e /* . */ && isDigit(text.charCodeAt(i + 1)))) {
      const start = i;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (isDigit(d) || d === 0x2e || isIdentPart(d)) i++;
        else if ((d === 0x2b || d === 0x2d) && (text.charCodeAt(i - 1) | 0x20) === 0x65) i++; // exponent sign
        else break;
      }
      const literal = text.slice(start, i);
      if (!PLAIN_NUMBER.test(literal)) return undefined;
      out ??= [];
      out.push(text.slice(copied, start), literal.replace(/\d/g, '0'));
      copied = i;
    } else {
      i++;
    }
  }
  if (!out) return text;
  out.push(text.slice(copied));
  return out.join('');
}

/** Index after the closing quote (doubled quotes are escapes), or -1 when unterminated. */
function skipQuoted(text: string, open: number, quote: number, backslashEscapes: boolean): number {
  let i = open + 1;
  for (;;) {
    if (i >= text.length) return -1;
    const c = text.charCodeAt(i);
    if (backslashEscapes && c === 0x5c) i += 2;
    else if (c === quote) {
      if (text.charCodeAt(i + 1) === quote) i += 2;
      else return i + 1;
    } else i++;
  }
}

/** Block comments nest in PostgreSQL. */
function skipBlockComment(text: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < text.length) {
    if (text.startsWith('/*', i)) {
      depth++;
      i += 2;
    } else if (text.startsWith('*/', i)) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return -1;
}

/** `$1` parameters and `$tag$…$tag$` strings; anything else is not understood. */
function skipDollar(text: string, at: number): number {
  let i = at + 1;
  if (isDigit(text.charCodeAt(i))) {
    while (isDigit(text.charCodeAt(i))) i++;
    return isIdentPart(text.charCodeAt(i)) ? -1 : i;
  }
  if (i < text.length && !isIdentStart(text.charCodeAt(i)) && text.charCodeAt(i) !== 0x24) return -1;
  while (i < text.length && text.charCodeAt(i) !== 0x24) {
    const c = text.charCodeAt(i);
    if (!isIdentPart(c) || c === 0x24) return -1;
    i++;
  }
  if (i >= text.length) return -1;
  const delimiter = text.slice(at, i + 1);
  const close = text.indexOf(delimiter, i + 1);
  return close < 0 ? -1 : close + delimiter.length;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isIdentStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c >= 0x80;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === 0x24;
}
