/** One row of the event log as the SQL functions return it. */
export interface LoggedEvent {
  id: number;
  stream: string;
  seq: number;
  event: string;
  rooms: string[];
  payload: Record<string, unknown>;
  created_at?: string;
}

/** What a client receives: the payload of the contract plus where it sits in its stream. */
export function wirePayload(e: LoggedEvent): Record<string, unknown> {
  return { ...e.payload, event_id: e.id, room: e.stream, seq: e.seq };
}
