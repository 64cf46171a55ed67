// The browser page of the hook suite: the app renders the document's useRealtime hook under an
// AuthContext holding the token the test gives, and lets the test read what happened.
import { createElement, StrictMode, useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { useRealtime } from 'reference:useRealtime';
import { AuthContext } from './AuthContext';
import { services, strays } from './RealtimeService';

/** What the hook returned at each commit, in order. */
const commits = [];
let latest = null;
let root = null;
let strict = false;

function Probe() {
  const realtime = useRealtime();
  useEffect(() => {
    latest = realtime;
    commits.push({ connectionStatus: realtime.connectionStatus, parkingData: realtime.parkingData, service: services.indexOf(realtime.realtimeService) });
  });
  return createElement('output', null, realtime.connectionStatus);
}

function render(token) {
  const tree = createElement(AuthContext.Provider, { value: { token } }, createElement(Probe));
  root.render(strict ? createElement(StrictMode, null, tree) : tree);
}

window.app = {
  mount(token, options = {}) {
    strict = options.strict === true;
    root = createRoot(document.getElementById('root'));
    render(token);
  },
  setToken: render,
  unmount() {
    root.unmount();
  },
  subscribeToParkingLot: (id) => latest.subscribeToParkingLot(id),
  getParkingAvailability: () => latest.getParkingAvailability(),
  /** Disconnects every service, so that the server knows at once that the page is done. */
  disconnectAll: () => services.forEach((s) => s.socket.disconnect()),
  snapshot: () => ({
    commits,
    strays,
    services: services.map((s) => ({
      token: s.token,
      id: s.socket.id ?? null,
      connected: s.socket.connected,
      transport: s.socket.io.engine?.transport?.name ?? null,
      ui: s.ui,
      received: s.received,
    })),
  }),
};
