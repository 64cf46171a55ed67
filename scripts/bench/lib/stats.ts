/** Percentiles of latency samples, and the median (min–max) of a figure over runs. */

export function merge(arrays: ArrayLike<number>[]): Float64Array {
  const n = arrays.reduce((s, a) => s + a.length, 0);
  const out = new Float64Array(n);
  let at = 0;
  for (const a of arrays) {
    out.set(a as ArrayLike<number>, at);
    at += a.length;
  }
  return out.sort();
}

/** Nearest-rank percentile of sorted samples; NaN when there are none. */
export function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export interface LatencySummary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function latencySummary(sorted: Float64Array): LatencySummary {
  return { n: sorted.length, p50: pct(sorted, 50), p95: pct(sorted, 95), p99: pct(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : NaN };
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function spread(values: number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, runs: 0 };
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, runs: v.length };
}

export function num(x: number, digits = 1): string {
  if (!Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 10_000) return Math.round(x).toLocaleString('en-US');
  return x.toFixed(digits);
}

/** `12.3 (11.0–13.1)`: the median over runs, then the spread; one value when there was one run. */
export function fmt(values: number[], digits = 1): string {
  const s = spread(values);
  if (s.runs === 0) return '–';
  if (s.runs === 1) return num(s.median, digits);
  return `${num(s.median, digits)} (${num(s.min, digits)}–${num(s.max, digits)})`;
}

/** ISO timestamps from Postgres carry microseconds; Date.parse keeps milliseconds only. */
export function parseStamp(iso: string): number {
  const ms = Date.parse(iso);
  const frac = /\.(\d+)/.exec(iso)?.[1];
  return frac && frac.length > 3 ? ms + Number(`0.${frac.slice(3)}`) : ms;
}
