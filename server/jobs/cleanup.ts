import type { Db } from '../db/db.js';
import type { Logger } from '../logger.js';

/** Retention: old realtime logs and old dispatched events (recovery replays only what is kept). */
export async function cleanupLogs(deps: { db: Db; logger: Logger; logRetentionDays: number; eventRetentionHours: number }) {
  const result = await deps.db.asSystem(async (tx) => {
    const logs = await tx.query<{ r: Record<string, unknown> }>('select public.cleanup_realtime_logs(make_interval(days => $1)) as r', [deps.logRetentionDays]);
    const events = await tx.query<{ n: string }>('select public.cleanup_event_log(make_interval(hours => $1)) as n', [deps.eventRetentionHours]);
    return { ...logs.rows[0]?.r, event_log: Number(events.rows[0]?.n ?? 0) };
  });
  deps.logger.info(result, 'log clean-up done');
  return result;
}
