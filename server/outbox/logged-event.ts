import { LOGGED_EVENTS, type LoggedEventName, type Sequenced, type ServerToClientEvents } from '../contract/index.js';

/** The payload the SQL functions store for an event; its place in the stream is added when sent. */
export type StoredPayload<E extends LoggedEventName> = Omit<Parameters<ServerToClientEvents[E]>[0], keyof Sequenced>;

interface Row<E extends LoggedEventName> {
  id: number;
  stream: string;
  seq: number;
  event: E;
  /** Every room it is emitted to; its stream's room first. */
  rooms: string[];
  payload: StoredPayload<E>;
  /** When it was logged (the database's clock; its transaction commits right after): the start of its delivery latency. */
  created_at?: string;
}

/** One row of the event log, typed by its event name. */
export type LoggedEventOf<E extends LoggedEventName> = { [K in E]: Row<K> }[E];
export type LoggedEvent = LoggedEventOf<LoggedEventName>;

const NAMES: ReadonlySet<string> = new Set(LOGGED_EVENTS);

/**
 * Rows as Postgres returns them (bigints as strings, jsonb as objects) into typed events. The
 * event log is written only by spotcast's SQL functions and triggers; a name the contract does
 * not know means the SQL and the server disagree, which is a bug to hear about, not to emit.
 */
export function toLoggedEvents(rows: readonly unknown[]): LoggedEvent[] {
  return rows.map((raw) => {
    const r = raw as { id: unknown; stream: unknown; seq: unknown; event: unknown; rooms: unknown; payload: unknown; created_at?: unknown };
    if (typeof r.event !== 'string' || !NAMES.has(r.event)) throw new Error(`event log holds an event the contract does not know: ${String(r.event)}`);
    const createdAt = r.created_at instanceof Date ? r.created_at.toISOString() : typeof r.created_at === 'string' ? r.created_at : undefined;
    const event = { id: Number(r.id), stream: String(r.stream), seq: Number(r.seq), event: r.event, rooms: r.rooms, payload: r.payload };
    return (createdAt === undefined ? event : { ...event, created_at: createdAt }) as LoggedEvent;
  });
}
