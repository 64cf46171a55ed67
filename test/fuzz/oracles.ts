import assert from 'node:assert/strict';
import { isPlainObject } from './values.js';

// ---- what a well-formed answer is --------------------------------------------------------------

/** Markers of a leaked internal: a stack frame, SQL, Postgres' own wording, a source path. */
export const LEAKS: [string, RegExp][] = [
  // The brief's "at " marker, as a stack frame: a bare "at " would flag "give at least one of …".
  ['stack frame', /(^|\n)\s*at \S|\bat \S+ \([^)]*:\d+:\d+\)|\bat (file|node):/],
  ['node_modules', /node_modules/i],
  ['SQL select', /\bselect\s/i],
  ['SQL insert', /\binsert\s/i],
  ['SQLSTATE', /sqlstate/i],
  ['pg_ identifier', /pg_/i],
  ['Postgres wording', /relation "|column "|violates .* constraint|duplicate key|syntax error at|invalid input syntax|function public\.|plpgsql/i],
  ['internal path', /\/work\/|\bserver\/[\w/-]+\.(ts|js)|\.ts:\d+|file:\/\//i],
];

/** A marker counts only when it is not an echo of what the client itself sent. */
export function leaks(text: string, sent: string): string[] {
  return LEAKS.filter(([, re]) => re.test(text) && !re.test(sent)).map(([name]) => name);
}

export function errorProblems(error: unknown, sent: string): string[] {
  if (!isPlainObject(error)) return ['error is not an object'];
  const out: string[] = [];
  if (typeof error.code !== 'string' || !/^[A-Z][A-Z0-9_]+$/.test(error.code)) out.push(`error.code is not an UPPER_CASE string: ${JSON.stringify(error.code)}`);
  if (error.code === 'INTERNAL_ERROR') out.push(`INTERNAL_ERROR (a server fault on bad input)${/\\u0000/.test(sent) ? ' [NUL in a string]' : ''}`);
  if (typeof error.message !== 'string' || error.message.length === 0) out.push('error.message is not a non-empty string');
  else if (error.message.length > 2000) out.push(`error.message is ${error.message.length} characters long`);
  const text = `${String(error.message)} ${JSON.stringify(error.details ?? '')}`;
  for (const leak of leaks(text, sent)) out.push(`message leaks: ${leak}`);
  return out;
}

export interface Problem {
  where: string;
  what: string;
  input: string;
  answer: string;
}

export function clip(v: unknown, n = 300): string {
  let s: string;
  try {
    s = typeof v === 'string' ? v : (JSON.stringify(v, (_k, x) => (Buffer.isBuffer(x) ? `<Buffer ${x.length}>` : x)) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s;
}

export function report(title: string, problems: Problem[], cases: number, seed: number): void {
  if (problems.length === 0) return;
  // Grouped by what went wrong (with its likely cause), then where: one line per kind of fault.
  const groups = new Map<string, Problem[]>();
  for (const p of problems) groups.set(p.what, [...(groups.get(p.what) ?? []), p]);
  const lines = [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([what, ps]) => {
      const wheres = [...new Set(ps.map((p) => p.where))];
      const examples = ps.slice(0, 2).map((p) => `      input:  ${p.input}\n      answer: ${p.answer}`).join('\n');
      return `  ${ps.length}× ${what}\n    on: ${wheres.slice(0, 8).join(' | ')}${wheres.length > 8 ? ` | … (${wheres.length})` : ''}\n${examples}`;
    });
  assert.fail(`${title}: ${problems.length} problems in ${cases} cases (FUZZ_SEED=${seed})\n${lines.join('\n')}`);
}

export function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** JSON.stringify recurses: a body nested thousands deep (which the server parses fine) overflows it. */
export function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '';
  }
}

export function asJson(text: string | Buffer): unknown {
  try {
    return JSON.parse(Buffer.isBuffer(text) ? text.toString('utf8') : text);
  } catch {
    return undefined;
  }
}

export function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
