/** The soak's section of BENCHMARKS.md: one row per minute, then what grew and what was lost. */
import type { Markers } from './report.js';
import type { SoakResults } from './soak.js';
import { num } from './lib/stats.js';

export const SOAK_MARKERS: Markers = {
  start: '<!-- bench:soak:start (written by npm run bench -- --soak; edits inside are overwritten) -->',
  end: '<!-- bench:soak:end -->',
  heading: 'Soak',
};

export interface SoakRun {
  date: string;
  command: string;
  machine: string;
  load: string;
}

export function renderSoak(r: SoakResults, run: SoakRun): string {
  const rows = r.samples.map(
    (s) =>
      `| ${s.minute} | ${num(s.heapMiB)} | ${num(s.rssMiB, 0)} | ${num(s.loopP99Ms)} | ${s.poolWaitingMax} | ${s.sockets} | ${s.delivered} | ${s.availabilityChanges} | ${s.bookings} | ${s.reconnects} |`,
  );
  const heaps = r.samples.filter((s) => s.minute > r.warmupMinutes).map((s) => s.heapMiB);
  const errors = Object.entries(r.errors).map(([k, v]) => `${k}: ${v}`);
  return [
    `Run ${run.date}: \`${run.command}\`. ${run.machine}. ${run.load}.`,
    '',
    `One spotcast node (with Redis and BullMQ), ${r.lots} lots, ${r.clients} clients each subscribed to 1–3 lot rooms ` +
      `(every tenth to \`parking_updates\`), hardware changing a lot's out-of-service count 20 times a second, 20 users ` +
      `each booking every ~2 s and cancelling 5 s later, and 1 % of the lot clients a second dropping and resuming with ` +
      '`last_seq`. Heap after a forced GC at the end of each minute; loop delay p99 over the minute; pool waits: the ' +
      'most requests waiting for a Postgres connection in 10-second samples.',
    '',
    '| minute | heap MiB (after GC) | RSS MiB | loop delay p99 ms | pool waiting (max) | sockets | delivered | availability changes | bookings | reconnects |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `- Heap after warm-up (${r.warmupMinutes} min): ${num(Math.min(...heaps))}–${num(Math.max(...heaps))} MiB, ` +
      `least-squares trend **${num(r.heapSlopeMiBPer10Min, 2)} MiB per 10 minutes**.`,
    `- Events delivered: ${r.delivered}; **lost: ${r.lost}** (events up to each stream's final head a client never got; ` +
      `${r.lostUnsubscribed} of them by clients left out of a room at the end: a resume refused five times, or dropped and not yet back); ` +
      `duplicates (dropped by seq): ${r.duplicates}; out of order (a live event before the replay that precedes it, ` +
      `after a resume): ${r.outOfOrder}; snapshots instead of a replay: ${r.snapshots}.`,
    `- Refusals and errors: ${errors.length ? errors.join(', ') : 'none'}.`,
    '',
  ].join('\n');
}
