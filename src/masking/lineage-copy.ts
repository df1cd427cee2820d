/**
 * The layout of `COPY … TO STDOUT` rows, from the statement's options as PostgreSQL reads
 * them — new syntax `(FORMAT csv, HEADER, …)` and legacy `CSV HEADER DELIMITER ';'`, which
 * the parser turns into the same options — with PostgreSQL's defaults.
 */
import type { CopyFormat } from './plan.js';
import { asArray, floatNodeText, integerNodeValue, nodeBody, stringField, stringNodeValue } from '../inspect/sql/parser.js';

export type CopyLayout = Omit<CopyFormat, 'typeOids'>;

/** The layout, or why the options cannot be read (PostgreSQL would reject such a COPY as well). */
export function copyLayout(options: readonly unknown[]): CopyLayout | string {
  let format: CopyLayout['format'] = 'text';
  let header = false;
  const text: Partial<Record<'delimiter' | 'null' | 'quote' | 'escape', string>> = {};
  for (const option of options) {
    const def = nodeBody(option, 'DefElem');
    if (def === undefined) continue;
    const name = stringField(def, 'defname') ?? '';
    switch (name) {
      case 'format': {
        const value = optionText(def['arg'])?.toLowerCase();
        if (value !== 'text' && value !== 'csv' && value !== 'binary') return `COPY format ${value ?? '(none)'} is not known`;
        format = value;
        break;
      }
      case 'delimiter':
      case 'null':
      case 'quote':
      case 'escape': {
        const value = optionText(def['arg']);
        if (value === undefined) return `COPY option ${name} has no readable value`;
        text[name] = value;
        break;
      }
      case 'header':
        header = headerOption(def['arg']);
        break;
      // Other options (FORCE_QUOTE, ENCODING…) do not change where fields start and end.
    }
  }
  if (format === 'csv') {
    const quote = text.quote ?? '"';
    return { format, delimiter: text.delimiter ?? ',', nullString: text.null ?? '', quote, escape: text.escape ?? quote, header };
  }
  // Text format escapes with backslashes; QUOTE and ESCAPE are CSV-only (PostgreSQL rejects them here).
  return { format, delimiter: text.delimiter ?? '\t', nullString: text.null ?? '\\N', quote: '"', escape: '\\', header };
}

/** defGetString: the option's value as text. */
function optionText(arg: unknown): string | undefined {
  const s = stringNodeValue(arg);
  if (s !== undefined) return s;
  const integer = integerNodeValue(arg);
  if (integer !== undefined) return String(integer);
  return floatNodeText(arg);
}

/** parse_bool's true spellings (unique prefixes of true and yes, on, 1). */
const TRUE_WORDS = new Set(['t', 'tr', 'tru', 'true', 'y', 'ye', 'yes', 'on', '1']);

/**
 * HEADER as PostgreSQL's defGetCopyHeaderChoice reads it. A value it would reject counts as
 * false: wrongly skipping a data row as a header would leave it unmasked, while masking a
 * header row only masks column names.
 */
function headerOption(arg: unknown): boolean {
  if (arg === undefined) return true;
  const boolean = nodeBody(arg, 'Boolean');
  if (boolean !== undefined) return boolean['boolval'] === true;
  const integer = integerNodeValue(arg);
  if (integer !== undefined) return integer === 1;
  const text = optionText(arg)?.toLowerCase();
  return text !== undefined && TRUE_WORDS.has(text);
}

/** `COPY t (a, b)`: the column names. */
export function copyColumnNames(attlist: unknown): string[] {
  const names: string[] = [];
  for (const item of asArray(attlist)) {
    const name = stringNodeValue(item);
    if (name !== undefined) names.push(name);
  }
  return names;
}
