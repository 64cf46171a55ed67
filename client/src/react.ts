/**
 * @spotcast/client/react: the client in React. One client per app (create it at module scope,
 * as you would a Supabase client), given to <SpotcastProvider>; hooks read its state. Correct
 * under StrictMode: the doubled effects share one socket and leave no listener behind.
 */
import { createContext, createElement, useContext, useEffect, useMemo, useRef, useSyncExternalStore, type ReactNode } from 'react';
import type { ServerEventName } from '../../server/contract/events.js';
import type { BookingView, LotAvailability, PaymentUpdatedPayload } from '../../server/contract/payloads.js';
import { parseRoom, rooms } from '../../server/contract/rooms.js';
import type { Readable } from './store.js';
import type { ConnectionState, EventPayload, SpotcastClient } from './types.js';

const SpotcastContext = createContext<SpotcastClient | null>(null);

/** Connects the client while mounted (and closes it after the last provider goes) and gives it to the hooks below. */
export function SpotcastProvider(props: { client: SpotcastClient; children?: ReactNode }): ReactNode {
  const { client } = props;
  useEffect(() => client.retain(), [client]);
  return createElement(SpotcastContext.Provider, { value: client }, props.children);
}

export function useSpotcastClient(): SpotcastClient {
  const client = useContext(SpotcastContext);
  if (!client) throw new Error('useSpotcast…() needs a <SpotcastProvider client={…}> above it');
  return client;
}

function useStore<T>(store: Readable<T>): T {
  return useSyncExternalStore(store.subscribe, store.get, store.get);
}

/** The connection: status (connecting, connected, reconnecting, error, …), who we are, and why it failed. */
export function useSpotcast(): ConnectionState & { client: SpotcastClient } {
  const client = useSpotcastClient();
  const state = useStore(client.state);
  return useMemo(() => ({ ...state, client }), [state, client]);
}

/** Holds a room while mounted (see SpotcastClient.subscribe). */
export function useRoom(room: string | null | undefined): void {
  const client = useSpotcastClient();
  useEffect(() => (room ? client.subscribe(room) : undefined), [client, room]);
}

/** One lot's availability, live; undefined until the server sent it (or when lotId is empty). */
export function useLotAvailability(lotId: string | null | undefined): LotAvailability | undefined {
  const parsed = lotId ? parseRoom({ room: rooms.lot(lotId) }) : undefined;
  const room = parsed?.ok ? parsed.room : undefined;
  useRoom(room?.name);
  const lots = useStore(useSpotcastClient().lots);
  return room?.kind === 'parking_lot' ? lots.get(room.id) : undefined;
}

/** Every lot, live (the `parking_updates` room), by name. */
export function useAllLots(): LotAvailability[] {
  useRoom(rooms.parkingUpdates);
  const lots = useStore(useSpotcastClient().lots);
  return useMemo(() => [...lots.values()].sort((a, b) => a.name.localeCompare(b.name)), [lots]);
}

export interface MyBookings {
  /** Newest first. */
  bookings: BookingView[];
  /** The latest payment event per booking id. */
  payments: ReadonlyMap<string, PaymentUpdatedPayload>;
  /** False until the list has come from the server. */
  loaded: boolean;
}

/** The signed-in user's bookings, live through their lifecycle (pending → confirmed → active → …). */
export function useMyBookings(): MyBookings {
  const client = useSpotcastClient();
  const map = useStore(client.bookings);
  const payments = useStore(client.payments);
  const loaded = useStore(client.bookingsLoaded);
  const bookings = useMemo(() => [...map.values()].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at)), [map]);
  return useMemo(() => ({ bookings, payments, loaded }), [bookings, payments, loaded]);
}

/** Calls the latest `handler` for each `event` (each logged event once) while mounted. */
export function useSpotcastEvent<E extends ServerEventName>(event: E, handler: (payload: EventPayload<E>) => void): void {
  const client = useSpotcastClient();
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => client.on(event, (payload) => latest.current(payload)), [client, event]);
}
