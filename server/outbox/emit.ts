import type { LoggedEventName, ServerEventName, ServerToClientEvents } from '../contract/index.js';
import type { LoggedEventOf } from './logged-event.js';

/** A socket, or a room selection of the server (`io.to(rooms)`): anything that emits the contract's events. */
export interface Emitter {
  emit<E extends ServerEventName>(event: E, ...args: Parameters<ServerToClientEvents[E]>): boolean;
}

/** What a client receives for a logged event: the stored payload plus its place in its stream. */
function wirePayload<E extends LoggedEventName>(e: LoggedEventOf<E>): Parameters<ServerToClientEvents[E]>[0] {
  return { ...e.payload, event_id: e.id, room: e.stream, seq: e.seq } as Parameters<ServerToClientEvents[E]>[0];
}

/** The one way a logged event reaches clients: its name and payload checked against the contract. */
export function emitLogged<E extends LoggedEventName>(target: Emitter, e: LoggedEventOf<E>): void {
  const args = [wirePayload(e)] as Parameters<ServerToClientEvents[E]>;
  target.emit(e.event, ...args);
}
