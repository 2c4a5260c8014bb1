import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The partner-facing docs: README.md and every page of docs/, by path relative to the repository root. */
export const docPages = (root: string): { readonly path: string; readonly text: string }[] => [
  { path: 'README.md', text: readFileSync(join(root, 'README.md'), 'utf8') },
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => ({ path: `docs/${f}`, text: readFileSync(join(root, 'docs', f), 'utf8') })),
];

const FENCE = /^[ \t]*```[^\n]*\n([\s\S]*?)^[ \t]*```/gm;

/** Lines of fenced code blocks. */
export const codeLines = (text: string): string[] => [...text.matchAll(FENCE)].flatMap((m) => (m[1] as string).split('\n'));

/** Inline code spans outside fenced blocks (the text between single backticks). */
export const inlineCode = (text: string): string[] => [...text.replace(FENCE, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1] as string);

/** Every code span and code line: where commands, names and values are quoted. */
export const quoted = (text: string): string[] => [...codeLines(text), ...inlineCode(text)];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');

export const headings = (text: string): { readonly level: number; readonly title: string }[] =>
  [...text.replace(FENCE, '').matchAll(/^(#{1,6}) (.+)$/gm)].map((m) => ({ level: (m[1] as string).length, title: m[2] as string }));

/** The text under a heading, up to the next heading of the same or a higher level. */
export const section = (text: string, title: string): string => {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^#{1,6} /.test(l) && l.replace(/^#+ /, '') === title);
  if (start < 0) throw new Error(`no heading "${title}"`);
  const level = (/^#+/.exec(lines[start] as string)?.[0] ?? '#').length;
  const end = lines.findIndex((l, i) => i > start && new RegExp(`^#{1,${level}} `).test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
};

/** The rows of the first table in `text`, each a list of trimmed cells (the header and separator rows left out). */
export const tableRows = (text: string): string[][] => {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  if (first < 0) return [];
  const rows: string[][] = [];
  for (let i = first + 2; i < lines.length && (lines[i] as string).startsWith('|'); i++) {
    rows.push(
      (lines[i] as string)
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    );
  }
  return rows;
};

/** The backticked names in a table cell or a line. */
export const ticked = (text: string): string[] => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

/** Splits a quoted shell command into words: quotes group, brackets and parentheses of usage syntax are dropped. */
export const shellWords = (command: string): string[] => {
  const words: string[] = [];
  for (const m of command.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
    if (m[3] === undefined) {
      words.push(m[1] ?? m[2] ?? '');
      continue;
    }
    const w = m[3].replace(/^[[(]+/, '').replace(/[\])]+$/, '');
    if (w !== '' && w !== '|') words.push(w);
  }
  return words;
};

/** A quoted command line without its trailing shell comment (` # ...`). */
export const withoutComment = (line: string): string => {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] as string))) return line.slice(0, i).trimEnd();
  }
  return line;
};
