/**
 * The page of the React suite (bundled by esbuild for Chromium, React in development mode so that
 * StrictMode doubles effects): @spotcast/client/react's hooks under a provider, recording what
 * each commit showed, and a handle for the test on `window.app`.
 */
import { createElement, StrictMode, useEffect } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { createSpotcastClient, type SpotcastClient } from '../../client/src/index.js';
import { SpotcastProvider, useLotAvailability, useMyBookings, useSpotcast } from '../../client/src/react.js';

declare const window: { app: unknown };
declare const document: { getElementById(id: string): unknown };
declare const SPOTCAST_URL: string;

interface Commit {
  status: string;
  free: number | null;
  bookings: string[];
}

const commits: Commit[] = [];
/** What the components mounted later (one per lot) showed last. */
const later: Record<string, number | null> = {};
let client: SpotcastClient | undefined;
let root: Root | undefined;
let token = '';
let props = { lotId: '', strict: true, more: [] as string[] };

function Probe(props: { lotId: string }) {
  const { status } = useSpotcast();
  const lot = useLotAvailability(props.lotId);
  const { bookings } = useMyBookings();
  useEffect(() => {
    commits.push({ status, free: lot?.available_spaces ?? null, bookings: bookings.map((b) => b.status) });
  });
  return createElement('output', null, `${status} ${lot?.available_spaces ?? '-'}`);
}

function LotView(props: { lotId: string }) {
  const lot = useLotAvailability(props.lotId);
  useEffect(() => {
    later[props.lotId] = lot?.available_spaces ?? null;
  });
  return createElement('output', null, lot?.available_spaces ?? '-');
}

function render(): void {
  const children = [createElement(Probe, { key: 'probe', lotId: props.lotId }), ...props.more.map((id) => createElement(LotView, { key: id, lotId: id }))];
  const tree = createElement(SpotcastProvider, { client: client! }, ...children);
  root!.render(props.strict ? createElement(StrictMode, null, tree) : tree);
}

window.app = {
  mount(options: { token: string; lotId: string; strict: boolean }) {
    token = options.token;
    client ??= createSpotcastClient({ url: SPOTCAST_URL, getToken: () => token });
    root = createRoot(document.getElementById('root') as never);
    props = { lotId: options.lotId, strict: options.strict, more: [] };
    render();
  },
  /** Mounts one more component, watching another lot, into the running app. */
  watch(lotId: string) {
    props = { ...props, more: [...props.more, lotId] };
    render();
  },
  later: () => later,
  unmount() {
    root?.unmount();
    root = undefined;
  },
  book: (lotId: string) => client!.request('create_booking', { parking_lot_id: lotId, duration_minutes: 30 }),
  snapshot: () => ({
    commits,
    status: client?.state.get().status,
    socketId: client?.socket.id ?? null,
    // Listeners on the socket itself: the client adds its own once; mounts add none.
    socketListeners: client ? client.socket.listenersAny().length + client.socket.listeners('connect_error').length + client.socket.listeners('disconnect').length : 0,
  }),
  held: (room: string) => client?.lastSeq(room) !== undefined,
};
