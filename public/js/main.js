// spotcast live board: sign-in, and the views wired to @spotcast/client (the same package a React
// app installs: it keeps the token fresh, resumes the rooms after a reconnect, drops duplicates).
import { hideAdmin, initAdmin, noteBookingEvent, showStats, startAdmin, stopAdmin } from './admin.js';
import { clearHistory, initHistory } from './history.js';
import { hideWaitlistAdmin, initWaitlistAdmin, noteWaitlistEvent, startWaitlistAdmin } from './waitlist-admin.js';
import { clearBoard, showLots } from './board.js';
import { clearBookings, initBookings, offerPay, showBookings } from './bookings.js';
import { addToFeed, clearFeed } from './feed.js';
import { createSpotcastClient, rooms } from './spotcast-client.js';
import { clearAuthError, setAccountOpen, setBanner, setState, showAuthError, showUser } from './status.js';
import { $, describeError, show, toast } from './ui.js';

const TOKEN_KEY = 'spotcast.token';
const ACK_TIMEOUT_MS = 8000;
const HOLDING = new Set(['pending', 'confirmed', 'active']);

/** The client of the current sign-in (a new one per sign-in). */
let client;
let token;
let user;
/** 'user' or 'admin' when signed in with a demo token: a fresh one is fetched when needed. */
let demoRole;
/** True when the token came from storage or the demo, not typed in now (a refusal then falls back to the demo user). */
let tokenWasImplicit = false;
let demoTokens;
/** Greetings of the current client seen so far (the client counts them). */
let greeted = 0;
/** What to undo when this sign-in ends: listeners on the client and its rooms. */
let undo = [];
/** parking_lot:<id> rooms held for my current bookings (lot-targeted announcements reach me). */
const lotRooms = new Set();

/** The answer to a request made for the previous sign-in: callers ignore it (see `stale`). */
const STALE = { ok: false, stale: true, error: { code: 'STALE', message: 'Signed in as someone else meanwhile' } };

const session = {
  userId: () => user?.id,
  /** Emits with an acknowledgement; always resolves with `{ ok, data }` or `{ ok: false, error }`. */
  async emit(event, payload) {
    const asked = client;
    if (!asked) return { ok: false, error: { code: 'OFFLINE', message: 'Not connected to the server' } };
    const res = await asked.request(event, payload);
    return asked === client ? res : STALE;
  },
  /** fetch with the bearer token; the same `{ ok, data | error }` envelope as the acks. */
  async api(method, path, body) {
    const asked = client;
    try {
      const res = await fetch(path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const json = await res.json().catch(() => undefined);
      if (asked !== client) return STALE;
      if (json && typeof json.ok === 'boolean') return json;
      return { ok: false, error: { code: `HTTP_${res.status}`, message: res.statusText || 'Unexpected answer' } };
    } catch (err) {
      return { ok: false, error: { code: 'NETWORK', message: err instanceof Error ? err.message : String(err) } };
    }
  },
};

// ---- the client ---------------------------------------------------------------------------

/** Drops what this page knows about the previous user. */
function resetSession() {
  stopAdmin();
  hideAdmin();
  clearHistory();
  hideWaitlistAdmin();
  for (const fn of undo.splice(0)) fn();
  client?.close();
  client = undefined;
  user = undefined;
  greeted = 0;
  lotRooms.clear();
  clearBookings();
  clearFeed();
  clearBoard();
  showUser(user);
  setBanner();
}

/** The client's token source: the current token; for a demo login, a fresh one from the server. */
async function currentToken() {
  if (demoRole) {
    const fresh = await fetchDemoTokens();
    if (fresh?.[demoRole]) token = fresh[demoRole];
  }
  return token;
}

function connectWith(newToken, { implicit, role }) {
  resetSession();
  clearAuthError();
  token = newToken;
  tokenWasImplicit = implicit;
  demoRole = role;
  setState('connecting');
  const c = createSpotcastClient({ url: location.origin, getToken: currentToken, requestTimeoutMs: ACK_TIMEOUT_MS });
  client = c;
  const showMine = () => showBookings(c.bookings.get(), c.payments.get());
  undo = [
    c.state.subscribe(() => onState(c)),
    c.lots.subscribe(() => showLots(c.lots.get())),
    c.bookings.subscribe(() => {
      showMine();
      for (const b of c.bookings.get().values()) watchLotOf(c, b);
    }),
    c.payments.subscribe(showMine),
    c.on('booking_updated', noteBookingEvent),
    c.on('waitlist_updated', noteWaitlistEvent),
    c.on('notification', (p) => addToFeed('notification', p)),
    c.on('system_announcement', (p) => addToFeed('announcement', p)),
    c.on('live_stats', showStats),
    c.on('server_shutdown', (p) => setBanner(p.message ?? 'The server is restarting; reconnecting…')),
    c.on('error', (p) => !p.code.startsWith('TOKEN_') && toast(`Refused: ${p.event ?? 'request'}`, describeError(p), 'error')),
    c.subscribe(rooms.parkingUpdates),
  ];
  c.connect();
}

function onState(c) {
  if (c !== client) return;
  const s = c.state.get();
  if (s.status === 'connected' && s.connections > greeted) return void onConnected(s);
  if (s.status === 'connecting' || s.status === 'reconnecting') {
    stopAdmin();
    setState(s.status);
    // AUTH_KEYS_UNAVAILABLE, a connection limit or the network: the client keeps the token and retries.
    setBanner(s.error ? `Cannot connect (${describeError(s.error)}); retrying…` : 'Connection lost; reconnecting…');
  } else if (s.status === 'error') onFailed(s);
}

/** A final refusal (a token the server will not take, or none): sign-in again. */
function onFailed(s) {
  const refused = token;
  const wasImplicit = tokenWasImplicit;
  resetSession();
  if (!s.error.code.startsWith('TOKEN_')) {
    setState('offline');
    return setBanner(`Disconnected: ${describeError(s.error)}. Reload the page to connect again.`);
  }
  setState('auth-error');
  showAuthError(s.error, { signedOut: s.connections > 0, demo: Boolean(demoTokens) });
  setAccountOpen(true);
  $('board-summary').textContent = 'Sign in to see the live board.';
  if (localStorage.getItem(TOKEN_KEY) === refused) localStorage.removeItem(TOKEN_KEY);
  if (wasImplicit && demoTokens && refused !== demoTokens.user) {
    toast('Saved token refused', `${s.error.code}: signed in as the demo user instead.`, 'warning');
    connectWith(demoTokens.user, { implicit: false, role: 'user' });
  }
}

/** Each greeting (the first, and after every reconnect): the client has resumed the rooms by itself. */
function onConnected(s) {
  const first = greeted === 0;
  greeted = s.connections;
  document.body.dataset.connections = String(greeted);
  user = s.user;
  showUser(user);
  setState('live');
  setBanner();
  clearAuthError();
  setAccountOpen(false);
  localStorage.setItem(TOKEN_KEY, token);
  if (first) void loadNotifications();
  else toast('Reconnected', 'Back online; catching up on what changed.', 'success', 3000);
  if (user.role === 'admin') {
    startAdmin();
    startWaitlistAdmin();
  } else {
    hideAdmin();
    hideWaitlistAdmin();
  }
}

async function loadNotifications() {
  const res = await session.api('GET', '/notifications?limit=8');
  if (!res.ok) return;
  for (const n of res.data.notifications) addToFeed('notification', { ...n, timestamp: n.created_at }, { quiet: true });
}

/** Hold the room of a lot I hold a booking in, so announcements for that lot reach me. */
function watchLotOf(c, b) {
  if (!HOLDING.has(b.status) || lotRooms.has(b.parking_lot_id)) return;
  lotRooms.add(b.parking_lot_id);
  undo.push(c.subscribe(rooms.lot(b.parking_lot_id)));
}

// ---- sign-in ------------------------------------------------------------------------------

async function fetchDemoTokens() {
  try {
    const res = await fetch('/demo/tokens', { cache: 'no-store' });
    if (!res.ok) return undefined;
    const json = await res.json();
    return json?.ok && json.data?.user ? json.data : undefined;
  } catch {
    return undefined;
  }
}

/** Whether this server offers "Pay (test)" (the development default): asked once, only where the demo is. */
async function payIsOffered() {
  if (!demoTokens) return false;
  try {
    const res = await fetch('/demo/pay', { headers: { authorization: `Bearer ${demoTokens.user}` }, cache: 'no-store' });
    return res.ok;
  } catch {
    return false;
  }
}

function signOut() {
  localStorage.removeItem(TOKEN_KEY);
  resetSession();
  clearAuthError();
  token = undefined;
  setState('signed-out');
  setAccountOpen(true);
  $('token-input').focus();
}

function wireSignIn() {
  $('account-toggle').addEventListener('click', () => {
    const open = $('account').hidden;
    setAccountOpen(open);
    if (open) $('token-input').focus();
  });
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = $('token-input').value.trim().replace(/^Bearer\s+/i, '');
    if (!value) return;
    $('token-input').value = '';
    connectWith(value, { implicit: false });
  });
  $('demo-user').addEventListener('click', () => demoTokens && connectWith(demoTokens.user, { implicit: false, role: 'user' }));
  $('demo-admin').addEventListener('click', () => demoTokens && connectWith(demoTokens.admin, { implicit: false, role: 'admin' }));
  $('sign-out').addEventListener('click', signOut);
}

async function boot() {
  wireSignIn();
  initBookings(session);
  initAdmin(session);
  initHistory(session);
  initWaitlistAdmin(session);

  demoTokens = await fetchDemoTokens();
  show($('demo-logins'), Boolean(demoTokens));
  offerPay(await payIsOffered());

  const stored = localStorage.getItem(TOKEN_KEY);
  if (stored) connectWith(stored, { implicit: true, role: demoRoleOf(stored) });
  else if (demoTokens) connectWith(demoTokens.user, { implicit: true, role: 'user' });
  else {
    setState('signed-out');
    setAccountOpen(true);
    $('board-summary').textContent = 'Sign in with a token to see the live board.';
  }
}

/** A stored token that is one of the demo tokens keeps being renewed from the server. */
function demoRoleOf(stored) {
  if (!demoTokens) return undefined;
  return stored === demoTokens.user ? 'user' : stored === demoTokens.admin ? 'admin' : undefined;
}

void boot();
