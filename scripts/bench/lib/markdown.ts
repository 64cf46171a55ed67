/** The Markdown pieces of the bench's report. */
import { spread } from './stats.js';

export function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** `met` or **not met**, judged on the median over runs; empty without runs. */
export const verdict = (values: number[], ok: (m: number) => boolean): string => {
  const s = spread(values);
  return s.runs === 0 ? '' : ok(s.median) ? 'met' : '**not met**';
};

/** Per-run counts of what was lost, or `0` when nothing was. */
export const lost = (xs: number[]): string => (xs.some((x) => x !== 0) ? xs.join(' / ') : '0');
