// The admin view: live stats, connections, booking activity, announcements, lot availability.
import { getLot, onLotsChanged, setEditable } from './board.js';
import { $, describeError, el, fmtTime, fmtTimeSec, result, shortId } from './ui.js';

const STATS_EVERY_MS = 5000;
const TABLES_EVERY_MS = 10_000;

let session;
let timers = [];
let active = false;
/** The lot the availability form shows, and whether the admin has typed into it since. */
let formLot;
let dirty = false;
const activityIds = new Set();
let activityRows = [];

/** `s` gives: emit(event, payload), api(method, path, body), userId(). */
export function initAdmin(s) {
  session = s;
  onLotsChanged(renderLotOptions);

  $('avail-lot').addEventListener('change', () => prefill($('avail-lot').value));
  for (const id of ['avail-free', 'avail-oos', 'avail-open']) $(id).addEventListener('input', () => (dirty = true));
  $('availability-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void saveAvailability();
  });
  $('announce-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void announce();
  });
  $('connections-refresh').addEventListener('click', () => void loadConnections());
  $('activity-refresh').addEventListener('click', () => void loadActivity());
}

/** Shown and polling while an admin is connected. */
export function startAdmin() {
  stopAdmin();
  active = true;
  $('admin').hidden = false;
  setEditable(true, (lotId) => {
    $('avail-lot').value = lotId;
    prefill(lotId);
    $('availability-form').scrollIntoView({ behavior: 'smooth', block: 'center' });
    $('avail-free').focus({ preventScroll: true });
  });
  void refreshStats();
  void loadConnections();
  void loadActivity();
  timers = [setInterval(() => void refreshStats(), STATS_EVERY_MS), setInterval(() => {
    void loadConnections();
    void loadActivity();
  }, TABLES_EVERY_MS)];
}

export function stopAdmin() {
  for (const t of timers) clearInterval(t);
  timers = [];
  active = false;
}

export function hideAdmin() {
  stopAdmin();
  $('admin').hidden = true;
  setEditable(false);
  activityIds.clear();
  activityRows = [];
  $('activity').replaceChildren();
  $('connections').replaceChildren();
  $('stats').replaceChildren();
}

/** A booking_updated of any user (admins are in the `admin` room): straight into the activity table. */
export function noteBookingEvent(p) {
  if (!active || p.event_id === undefined) return;
  addActivity([
    {
      event_id: p.event_id,
      occurred_at: p.timestamp,
      booking_id: p.booking_id,
      user_id: p.booking?.user_id,
      parking_lot_id: p.booking?.parking_lot_id,
      status: p.status,
      action: p.action,
      actor_id: p.actor_id ?? null,
      actor_role: p.actor_role ?? null,
    },
  ]);
}

/** "By:" of an activity row: the booking's owner, an admin (you, or which one), or the system. */
function actorLabel(r) {
  if (!r.actor_id) return 'system';
  if (r.actor_id === r.user_id) return 'owner';
  if (r.actor_id === session.userId()) return 'you';
  return r.actor_role === 'admin' ? `admin ${shortId(r.actor_id)}` : shortId(r.actor_id);
}

export function showStats(payload) {
  const { stats, timestamp } = payload;
  const c = stats.cluster;
  const roles = Object.entries(c.by_role).map(([role, n]) => `${n} ${role}${n === 1 ? '' : 's'}`).join(' · ') || 'nobody';
  const nodes = Object.keys(c.by_node).length;
  const today = stats.today ?? {};
  const tiles = [
    ['Live connections', String(c.connections), `${roles}${nodes > 1 ? ` · ${nodes} nodes` : ''}${c.partial ? ' · partial' : ''}`],
    ['Free spaces', `${stats.lots.available_spaces}`, `of ${stats.lots.total_spaces} in ${stats.lots.count} lots`],
    ['Connections today', String(today.connections ?? 0), `${today.unique_users ?? 0} unique users`],
    ['Events today', String(today.events ?? 0), `${today.failed_events ?? 0} refused · ${today.admin_actions ?? 0} admin actions`],
  ];
  $('stats').replaceChildren(
    ...tiles.map(([label, value, sub]) =>
      el('div', { className: 'stat' }, el('span', { className: 'stat-label' }, label), el('span', { className: 'stat-value' }, value), el('span', { className: 'stat-sub' }, sub)),
    ),
  );
  // An operator's admin sees its own lots and connections only (stats.scope, see README "Operators").
  const scope = stats.scope?.operator_id ? `operator ${shortId(stats.scope.operator_id)}` : 'all operators';
  $('stats-updated').textContent = `Live stats · ${scope} · ${fmtTimeSec(timestamp)}`;
}

async function refreshStats() {
  const res = await session.emit('get_live_stats', {});
  if (res.stale || !active) return;
  if (res.ok) showStats(res.data);
  else $('stats-updated').textContent = `Live stats unavailable: ${describeError(res.error)}`;
}

async function loadConnections() {
  const res = await session.api('GET', '/realtime/connections?limit=50');
  if (res.stale || !active) return;
  const body = $('connections');
  if (!res.ok) {
    body.replaceChildren(errorRow(5, res.error));
    return;
  }
  const { sockets, total, partial } = res.data;
  $('connections-total').textContent = `${total}${partial ? ' (partial)' : ''}`;
  body.replaceChildren(
    ...sockets.map((s) =>
      el(
        'tr',
        {},
        el('td', { className: 'mono', title: s.user_id }, s.user_id === session.userId() ? 'you' : shortId(s.user_id)),
        el('td', {}, el('span', { className: `role-badge${s.role === 'admin' ? ' role-badge--admin' : ''}` }, s.role)),
        el('td', { className: 'mono col-optional', title: s.node_id }, s.node_id),
        el('td', {}, fmtTime(s.connected_at)),
        el('td', { className: 'col-optional', title: s.rooms.join('\n') }, String(s.rooms.length)),
      ),
    ),
  );
}

async function loadActivity() {
  const res = await session.api('GET', '/realtime/booking-activity?limit=25');
  if (res.stale || !active) return;
  if (!res.ok) {
    $('activity').replaceChildren(errorRow(5, res.error));
    return;
  }
  addActivity(res.data.activity);
}

function addActivity(rows) {
  for (const r of rows) {
    if (activityIds.has(r.event_id)) continue;
    activityIds.add(r.event_id);
    activityRows.push(r);
  }
  activityRows.sort((a, b) => b.event_id - a.event_id);
  activityRows = activityRows.slice(0, 25);
  $('activity').replaceChildren(
    ...activityRows.map((r) =>
      el(
        'tr',
        {},
        el('td', {}, fmtTimeSec(r.occurred_at)),
        el('td', { className: 'cell-lot' }, getLot(r.parking_lot_id)?.name ?? shortId(r.parking_lot_id)),
        el('td', { className: 'mono col-optional', title: r.booking_id }, shortId(r.booking_id)),
        el('td', {}, el('span', { className: `status status--${r.status}` }, r.status)),
        el('td', { className: 'mono', title: r.actor_id ?? 'system' }, actorLabel(r)),
      ),
    ),
  );
}

function errorRow(span, error) {
  return el('tr', {}, el('td', { className: 'cell-error', colSpan: span }, describeError(error)));
}

function renderLotOptions(lots) {
  for (const id of ['avail-lot', 'announce-room']) {
    const select = $(id);
    const keep = select.value;
    const options = lots.map((l) => el('option', { value: id === 'avail-lot' ? l.parking_lot_id : `parking_lot:${l.parking_lot_id}` }, l.name));
    if (id === 'announce-room') options.unshift(el('option', { value: '' }, 'Everyone'));
    select.replaceChildren(...options);
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  }
  const current = $('avail-lot').value;
  if (current && (current !== formLot || !dirty)) prefill(current);
}

function prefill(lotId) {
  const lot = getLot(lotId);
  if (!lot) return;
  formLot = lotId;
  dirty = false;
  $('avail-free').value = String(lot.available_spaces);
  $('avail-free').max = String(lot.total_spaces);
  $('avail-oos').value = String(lot.out_of_service);
  $('avail-oos').max = String(lot.total_spaces);
  $('avail-open').checked = lot.is_open;
}

async function saveAvailability() {
  const out = $('avail-result');
  const lotId = $('avail-lot').value;
  const lot = getLot(lotId);
  if (!lot) return result(out, false, 'Pick a parking lot first.');
  const body = {};
  const free = $('avail-free').value;
  const oos = $('avail-oos').value;
  if (free !== '' && Number(free) !== lot.available_spaces) body.available_spaces = Number(free);
  if (oos !== '' && Number(oos) !== lot.out_of_service) body.out_of_service = Number(oos);
  if ($('avail-open').checked !== lot.is_open) body.is_open = $('avail-open').checked;
  if (Object.keys(body).length === 0) return result(out, false, 'Nothing changed: edit free spaces, out of service or open first.');
  const reason = $('avail-reason').value.trim();
  if (reason) body.reason = reason;

  $('avail-submit').disabled = true;
  try {
    const res = await session.api('PUT', `/realtime/parking-lots/${encodeURIComponent(lotId)}/availability`, body);
    if (!res.ok) return result(out, false, describeError(res.error));
    const saved = res.data;
    dirty = false;
    result(out, true, `Saved: ${saved.name} has ${saved.available_spaces} of ${saved.total_spaces} free${saved.is_open ? '' : ' (closed)'}.`);
  } finally {
    $('avail-submit').disabled = false;
  }
}

async function announce() {
  const out = $('announce-result');
  const title = $('announce-title').value.trim();
  const room = $('announce-room').value;
  const payload = {
    message: $('announce-message').value.trim(),
    type: $('announce-type').value,
    ...(title ? { title } : {}),
    ...(room ? { room } : {}),
  };
  if (!payload.message) return result(out, false, 'Write a message first.');
  $('announce-submit').disabled = true;
  try {
    const res = await session.emit('send_announcement', payload);
    if (!res.ok) return result(out, false, describeError(res.error));
    result(out, true, `Sent to ${room ? $('announce-room').selectedOptions[0]?.textContent : 'everyone'} at ${fmtTime(res.data.timestamp)}.`);
    $('announce-message').value = '';
    $('announce-title').value = '';
  } finally {
    $('announce-submit').disabled = false;
  }
}
