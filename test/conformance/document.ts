/**
 * The reference document (reference/seed-004-realtime-system.md, a copy of the one the users'
 * frontend was written against), read at test time: its code blocks by heading, the routes it
 * lists and the payload fields it says each event carries. The suites run these blocks instead of
 * retyping them, so an edit of the document changes what is tested.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DOCUMENT_COPY = path.join(HERE, 'reference', 'seed-004-realtime-system.md');
/** The original, outside the repository: present on the team's machines, not in CI. */
export const DOCUMENT_ORIGINAL = process.env.SPOTCAST_REFERENCE_DOC ?? '/work/shared/reference/seed-004-realtime-system.md';

export interface CodeBlock {
  /** The fence's language tag (`javascript`, `bash`, or '' when untagged). */
  lang: string;
  code: string;
  /** The headings above the block, outermost first. */
  headings: string[];
  /** 1-based line of the opening fence. */
  line: number;
}

export function parseBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const stack: { level: number; text: string }[] = [];
  let open: { lang: string; line: number; lines: string[] } | undefined;
  markdown.split('\n').forEach((line, i) => {
    if (open) {
      if (line.trim() === '```') {
        blocks.push({ lang: open.lang, code: open.lines.join('\n'), headings: stack.map((h) => h.text), line: open.line });
        open = undefined;
      } else open.lines.push(line);
      return;
    }
    const fence = /^```(\w*)\s*$/.exec(line);
    if (fence) {
      open = { lang: fence[1] ?? '', line: i + 1, lines: [] };
      return;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      const level = heading[1]!.length;
      while (stack.length && stack[stack.length - 1]!.level >= level) stack.pop();
      stack.push({ level, text: heading[2]!.trim() });
    }
  });
  if (open) throw new Error(`unclosed code fence at line ${open.line}`);
  return blocks;
}

export const blocks = parseBlocks(readFileSync(DOCUMENT_COPY, 'utf8'));

/** Where a block sits, for messages and the coverage list: `Troubleshooting › Connection Failed`. */
export const where = (b: CodeBlock): string => b.headings.slice(1).join(' › ');

/** The one block whose nearest heading is `heading`; a document without it fails the suite loudly. */
export function block(heading: string): CodeBlock {
  const found = blocks.filter((b) => b.headings[b.headings.length - 1] === heading);
  if (found.length !== 1) throw new Error(`the document has ${found.length} code blocks under "${heading}", expected 1`);
  return found[0]!;
}

/**
 * The block's code with the document's placeholders replaced by real values ('123' by a lot id,
 * 'your-jwt-token' by a token, a comment that stands for the app's code by that code). Every
 * placeholder must be there: a document that no longer has it must be looked at again.
 */
export function fill(code: string, values: Record<string, string>): string {
  let out = code;
  for (const [placeholder, value] of Object.entries(values)) {
    if (!out.includes(placeholder)) throw new Error(`placeholder ${JSON.stringify(placeholder)} is not in:\n${code}`);
    out = out.split(placeholder).join(value);
  }
  return out;
}

/** The document's `.env` block ("Environment Variables"), as the server would read it. */
export function environment(): Record<string, string> {
  const lines = block('Environment Variables').code.split('\n');
  return Object.fromEntries(lines.map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim())).filter((m) => m !== null).map((m) => [m[1]!, m[2]!]));
}

export interface Route {
  method: string;
  path: string;
  admin: boolean;
}

/** The HTTP routes the document lists under "Real-Time Routes", with who may call them. */
export function routes(): Route[] {
  return blocks
    .filter((b) => b.headings.some((h) => h.startsWith('Real-Time Routes')))
    .flatMap((b) =>
      b.code
        .split('\n')
        .map((l) => /^(GET|POST|PUT|PATCH|DELETE)\s+(\/\S+)$/.exec(l.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ method: m[1]!, path: m[2]!, admin: b.headings[b.headings.length - 1] === 'Admin Only' })),
    );
}

/** Top-level keys of a `{ a, b: {...}, c }` sketch. */
function keysOf(sketch: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of sketch) {
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (ch === ',' && depth === 0) {
      keys.push(current);
      current = '';
    } else if (depth >= 0) current += ch;
  }
  keys.push(current);
  return keys.map((k) => k.split(':')[0]!.trim()).filter(Boolean);
}

/**
 * Server → client events and the fields the document says each carries: the `// data: { … }`
 * sketch under the listener, else the fields the listener reads (`data.message`, `error.message`).
 */
export function serverEvents(): Map<string, string[]> {
  const events = new Map<string, string[]>();
  for (const b of blocks.filter((x) => x.headings.includes('Server → Client Events'))) {
    for (const part of b.code.split(/(?=socket\.on\()/)) {
      const name = /^socket\.on\('([^']+)'/.exec(part)?.[1];
      if (!name) continue;
      const sketch = /\/\/ data: \{(.*)\}\s*$/m.exec(part)?.[1];
      const read = [...part.matchAll(/\b(?:data|error)\.(\w+)/g)].map((m) => m[1]!);
      events.set(name, sketch !== undefined ? keysOf(sketch) : [...new Set(read)]);
    }
  }
  return events;
}

/** Every event name the document's client code emits. */
export function clientEvents(): string[] {
  const names = blocks.filter((b) => b.lang === 'javascript').flatMap((b) => [...b.code.matchAll(/\.emit\('([^']+)'/g)].map((m) => m[1]!));
  return [...new Set(names)];
}
