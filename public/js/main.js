// spotcast live board: sign-in, the socket, and wiring the server's events to the views.
import { io } from '/socket.io/socket.io.esm.min.js';
import { hideAdmin, initAdmin, noteBookingEvent, showStats, startAdmin, stopAdmin } from './admin.js';
import { applyUpdate, clearBoard, replaceAll } from './board.js';
import { clearBookings, initBookings, replaceBookings, setPayment, upsertBooking } from './bookings.js';
import { addToFeed, clearFeed } from './feed.js';
import { $, describeError, el, show, toast } from './ui.js';

const TOKEN_KEY = 'spotcast.token';
const ACK_TIMEOUT_MS = 8000;

let socket;
let token;
let user;
/** True when the token came from storage or the demo, not typed in now (a refusal then falls back to the demo user). */
let tokenWasImplicit = false;
let demoTokens;
let connections = 0;
/** Set when the server ends the session (token expired): the disconnect that follows is final. */
let sessionEnded;
/** room → last seq seen: drops duplicates, notices gaps (see the README's client contract). */
const lastSeq = new Map();
/** parking_lot:<id> rooms joined for my current bookings (lot-targeted announcements reach me). */
const lotRooms = new Set();

/** The answer to a request made for the previous sign-in: callers ignore it (see `stale`). */
const STALE = { ok: false, stale: true, error: { code: 'STALE', message: 'Signed in as someone else meanwhile' } };

const session = {
  userId: () => user?.id,
  /** Changes with every sign-in: an answer that arrives for an earlier one is dropped. */
  generation: 0,
  /** Emits with an acknowledgement; always resolves with `{ ok, data }` or `{ ok: false, error }`. */
  async emit(event, payload) {
    if (!socket?.connected) return { ok: false, error: { code: 'OFFLINE', message: 'Not connected to the server' } };
    const generation = session.generation;
    try {
      const res = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
      return generation === session.generation ? res : STALE;
    } catch {
      return { ok: false, error: { code: 'TIMEOUT', message: `No answer to ${event} within ${ACK_TIMEOUT_MS / 1000} s` } };
    }
  },
  /** fetch with the bearer token; the same `{ ok, data | error }` envelope as the acks. */
  async api(method, path, body) {
    const generation = session.generation;
    try {
      const res = await fetch(path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const json = await res.json().catch(() => undefined);
      if (generation !== session.generation) return STALE;
      if (json && typeof json.ok === 'boolean') return json;
      return { ok: false, error: { code: `HTTP_${res.status}`, message: res.statusText || 'Unexpected answer' } };
    } catch (err) {
      return { ok: false, error: { code: 'NETWORK', message: err instanceof Error ? err.message : String(err) } };
    }
  },
};

// ---- connection state ---------------------------------------------------------------------

const STATE_TEXT = {
  starting: 'Starting…',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  'auth-error': 'Not signed in',
  'signed-out': 'Not signed in',
};

function setState(state) {
  document.body.dataset.state = state;
  const pill = $('conn');
  pill.textContent = STATE_TEXT[state] ?? state;
  pill.className = `pill pill--${state}`;
}

function setBanner(text) {
  const b = $('banner');
  b.textContent = text ?? '';
  show(b, Boolean(text));
}

function showAuthError(err) {
  const box = $('auth-error');
  const code = err?.data?.code;
  const reason = err?.data?.message;
  box.replaceChildren(
    el('strong', {}, err?.message || 'Authentication error'),
    code ? el('span', { className: 'mono' }, ` ${code}`) : null,
    reason ? el('span', {}, ` — ${reason}.`) : null,
    el('span', { className: 'alert-hint' }, ' Paste a valid token above' + (demoTokens ? ' or use a demo login.' : '.')),
  );
  box.hidden = false;
}

function clearAuthError() {
  $('auth-error').hidden = true;
  $('auth-error').replaceChildren();
}

function setAccountOpen(open) {
  $('account').hidden = !open;
  $('account-toggle').setAttribute('aria-expanded', String(open));
}

function showUser() {
  const role = $('who-role');
  if (!user) {
    $('who').textContent = 'Not signed in';
    role.hidden = true;
    document.body.dataset.role = 'none';
    return;
  }
  $('who').textContent = user.email ?? `User ${user.id.slice(0, 8)}`;
  $('who').title = user.id;
  role.textContent = user.role;
  role.className = `role-badge${user.role === 'admin' ? ' role-badge--admin' : ''}`;
  role.hidden = false;
  document.body.dataset.role = user.role;
}

// ---- the socket ---------------------------------------------------------------------------

/** Drops what this page knows about the previous user. */
function resetSession() {
  session.generation++;
  stopAdmin();
  hideAdmin();
  socket?.removeAllListeners();
  socket?.close();
  socket = undefined;
  user = undefined;
  connections = 0;
  sessionEnded = undefined;
  lastSeq.clear();
  lotRooms.clear();
  clearBookings();
  clearFeed();
  clearBoard();
  showUser();
  setBanner();
}

function connectWith(newToken, { implicit }) {
  resetSession();
  clearAuthError();
  token = newToken;
  tokenWasImplicit = implicit;
  setState('connecting');

  socket = io({ auth: { token }, reconnectionDelayMax: 5000 });

  socket.on('connected', (hello) => void onConnected(hello));

  socket.on('connect_error', (err) => {
    // A refused token is final (the client does not retry it); anything else retries by itself.
    if (socket?.active) {
      setState(connections > 0 ? 'reconnecting' : 'connecting');
      setBanner(`Cannot reach the server (${err.message}); retrying…`);
      return;
    }
    const wasImplicit = tokenWasImplicit;
    resetSession();
    setState('auth-error');
    showAuthError(err);
    setAccountOpen(true);
    $('board-summary').textContent = 'Sign in to see the live board.';
    if (wasImplicit && localStorage.getItem(TOKEN_KEY) === token) localStorage.removeItem(TOKEN_KEY);
    if (wasImplicit && demoTokens && token !== demoTokens.user) {
      toast('Saved token refused', `${err.data?.code ?? err.message}: signed in as the demo user instead.`, 'warning');
      connectWith(demoTokens.user, { implicit: false });
    }
  });

  socket.on('disconnect', (reason) => {
    stopAdmin();
    if (reason === 'io client disconnect') return;
    if (sessionEnded) {
      const ended = sessionEnded;
      if (localStorage.getItem(TOKEN_KEY) === token) localStorage.removeItem(TOKEN_KEY);
      resetSession();
      setState('auth-error');
      showAuthError(ended);
      setAccountOpen(true);
      return;
    }
    setState(socket?.active ? 'reconnecting' : 'offline');
    setBanner(socket?.active ? 'Connection lost; reconnecting…' : `Disconnected (${reason}).`);
  });

  socket.on('server_shutdown', (p) => setBanner(p.message ?? 'The server is restarting; reconnecting…'));

  socket.on('parking_updated', (p) => {
    if (fresh(p)) applyUpdate(p);
  });

  socket.on('room_snapshot', (p) => {
    if (p.lots) replaceAll(p.lots, performance.now());
    if (p.bookings) replaceBookings(p.bookings);
    if (p.seq) lastSeq.set(p.room, Math.max(lastSeq.get(p.room) ?? 0, p.seq));
  });

  socket.on('booking_updated', (p) => {
    const isNew = fresh(p, () => void refreshMine());
    if (!isNew) return;
    noteBookingEvent(p);
    if (p.booking?.user_id === user?.id) {
      upsertBooking(p.booking);
      watchLotOf(p.booking);
    }
  });

  // Shown on my bookings only (an admin also hears other users' payments).
  socket.on('payment_updated', (p) => {
    if (fresh(p)) setPayment(p);
  });

  socket.on('notification', (p) => {
    if (fresh(p)) addToFeed('notification', p);
  });

  socket.on('system_announcement', (p) => addToFeed('announcement', p));
  socket.on('live_stats', (p) => showStats(p));
  socket.on('error', (p) => {
    // The token ran out while connected: the server says so, then disconnects this socket.
    if (typeof p?.code === 'string' && p.code.startsWith('TOKEN_')) {
      sessionEnded = { message: 'Signed out', data: { code: p.code, message: p.message } };
      return;
    }
    toast(`Refused: ${p?.event ?? 'request'}`, describeError(p), 'error');
  });
}

/**
 * The server says hello on every (re)connection. Join the rooms, then fetch what we may have
 * missed: a fresh snapshot of the lots, and the bookings either replayed by seq or re-listed.
 */
async function onConnected(hello) {
  const first = connections === 0;
  connections++;
  document.body.dataset.connections = String(connections);
  user = hello.user;
  showUser();
  setState('live');
  setBanner();
  clearAuthError();
  setAccountOpen(false);
  localStorage.setItem(TOKEN_KEY, token);
  if (!first) toast('Reconnected', 'Back online; catching up on what changed.', 'success', 3000);

  const askedAt = performance.now();
  const [sub, snapshot] = await Promise.all([
    session.emit('subscribe', { type: 'parking_updates' }),
    session.emit('get_parking_availability', {}),
  ]);
  if (sub.stale || snapshot.stale) return;
  if (!sub.ok) toast('Live updates unavailable', describeError(sub.error), 'error');
  if (snapshot.ok) replaceAll(snapshot.data.lots, askedAt);
  else toast('Could not load the parking lots', describeError(snapshot.error), 'error');

  const userRoom = `user:${user.id}`;
  const seen = lastSeq.get(userRoom);
  if (!first && seen !== undefined) {
    // Replays what we missed in order (or sends a room_snapshot when the gap is too old).
    const res = await session.emit('subscribe', { room: userRoom, last_seq: seen });
    if (!res.ok) await refreshMine();
  } else {
    await refreshMine();
    if (first) void loadNotifications();
  }
  for (const lotId of lotRooms) void session.emit('subscribe', { room: `parking_lot:${lotId}` });

  if (user.role === 'admin') startAdmin();
  else hideAdmin();
}

/** Seq bookkeeping per room: false for an event already seen; calls onGap when some were skipped. */
function fresh(p, onGap) {
  if (!p || p.room === undefined || p.seq === undefined) return true;
  const last = lastSeq.get(p.room);
  if (last !== undefined && p.seq <= last) return false;
  lastSeq.set(p.room, p.seq);
  if (last !== undefined && p.seq > last + 1 && onGap) onGap();
  return true;
}

async function refreshMine() {
  const res = await session.api('GET', '/bookings?limit=50');
  if (res.stale) return;
  if (!res.ok) return toast('Could not load your bookings', describeError(res.error), 'error');
  replaceBookings(res.data.bookings);
  for (const b of res.data.bookings) watchLotOf(b);
}

async function loadNotifications() {
  const res = await session.api('GET', '/notifications?limit=8');
  if (!res.ok) return;
  for (const n of res.data.notifications) addToFeed('notification', { ...n, timestamp: n.created_at }, { quiet: true });
}

/** Join the room of a lot I hold a booking in, so announcements for that lot reach me. */
function watchLotOf(b) {
  if (!b || !['pending', 'confirmed', 'active'].includes(b.status) || lotRooms.has(b.parking_lot_id)) return;
  lotRooms.add(b.parking_lot_id);
  void session.emit('subscribe', { room: `parking_lot:${b.parking_lot_id}` });
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
  $('demo-user').addEventListener('click', () => demoTokens && connectWith(demoTokens.user, { implicit: false }));
  $('demo-admin').addEventListener('click', () => demoTokens && connectWith(demoTokens.admin, { implicit: false }));
  $('sign-out').addEventListener('click', signOut);
}

async function boot() {
  wireSignIn();
  initBookings(session);
  initAdmin(session);

  demoTokens = await fetchDemoTokens();
  show($('demo-logins'), Boolean(demoTokens));

  const stored = localStorage.getItem(TOKEN_KEY);
  const start = stored ?? demoTokens?.user;
  if (start) connectWith(start, { implicit: true });
  else {
    setState('signed-out');
    setAccountOpen(true);
    $('board-summary').textContent = 'Sign in with a token to see the live board.';
  }
}

void boot();
