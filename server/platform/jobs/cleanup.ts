import type { Db } from '../db/db.js';
import type { Logger } from '../logger.js';

/** Retention: old realtime logs and old dispatched events (recovery replays only what is kept). */
export async function cleanupLogs(deps: { db: Db; logger: Logger; logRetentionDays: number; eventRetentionHours: number }) {
  // Every node runs this on a timer; one at a time does the work.
  const result = await deps.db.asSystem(async (tx) => {
    const lock = await tx.query<{ ok: boolean }>('select pg_try_advisory_xact_lock(7204911002) as ok');
    if (!lock.rows[0]?.ok) return { skipped: 'another node is cleaning up' };
    const logs = await tx.query<{ r: Record<string, unknown> }>('select public.cleanup_realtime_logs(make_interval(days => $1)) as r', [deps.logRetentionDays]);
    const events = await tx.query<{ n: string }>('select public.cleanup_event_log(make_interval(hours => $1)) as n', [deps.eventRetentionHours]);
    return { ...logs.rows[0]?.r, event_log: Number(events.rows[0]?.n ?? 0) };
  });
  deps.logger.info(result, 'log clean-up done');
  return result;
}
