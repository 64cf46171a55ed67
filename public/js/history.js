// The admin console's history tools: a booking's permanent history (also by clicking a row of
// Booking activity), a lot's availability at a past instant, and the rebuild of derived state.
import { getLot, onLotsChanged } from './board.js';
import { $, describeError, el, fmtTimeSec, result, shortId } from './ui.js';

let session;

/** `s` gives: emit(event, payload), api(method, path, body), userId(). */
export function initHistory(s) {
  session = s;
  onLotsChanged((lots) => {
    for (const id of ['past-lot', 'rebuild-lot']) {
      const select = $(id);
      const keep = select.value;
      const options = lots.map((l) => el('option', { value: l.parking_lot_id }, l.name));
      if (id === 'rebuild-lot') options.unshift(el('option', { value: '' }, 'All lots'));
      select.replaceChildren(...options);
      if ([...select.options].some((o) => o.value === keep)) select.value = keep;
    }
  });
  $('history-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void showBookingHistory($('history-booking').value.trim());
  });
  // A row of Booking activity opens that booking's history (its third cell names the booking).
  $('activity').addEventListener('click', (ev) => {
    const id = ev.target instanceof Element ? ev.target.closest('tr')?.children[2]?.title : undefined;
    if (id) void showBookingHistory(id);
  });
  $('past-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void showPastAvailability();
  });
  $('rebuild-check').addEventListener('click', () => void rebuild(false));
  $('rebuild-repair').addEventListener('click', () => void rebuild(true));
}

export function clearHistory() {
  $('history').replaceChildren();
  for (const id of ['history-result', 'past-result', 'rebuild-result']) $(id).hidden = true;
}

function actorLabel(h) {
  if (!h.actor_id) return 'system';
  if (h.actor_id === h.user_id) return 'owner';
  if (h.actor_id === session.userId()) return 'you';
  return h.actor_role === 'admin' ? `admin ${shortId(h.actor_id)}` : shortId(h.actor_id);
}

export async function showBookingHistory(bookingId) {
  const out = $('history-result');
  if (!bookingId) return result(out, false, 'Give a booking id.');
  $('history-booking').value = bookingId;
  const res = await session.emit('get_booking_history', { booking_id: bookingId });
  if (res.stale) return;
  if (!res.ok) {
    $('history').replaceChildren();
    return result(out, false, describeError(res.error));
  }
  result(out, true, `Booking ${shortId(bookingId)}: ${res.data.history.length} changes.`);
  $('history').replaceChildren(
    ...res.data.history.map((h) =>
      el(
        'tr',
        {},
        el('td', {}, fmtTimeSec(h.at)),
        el('td', {}, h.reason, h.via_command ? '' : ' (direct)'),
        el('td', {}, `${h.from_status ?? '–'} → ${h.to_status ?? 'deleted'}`),
        el('td', { className: 'cell-lot col-optional' }, getLot(h.parking_lot_id)?.name ?? shortId(h.parking_lot_id)),
        el('td', { className: 'mono', title: h.actor_id ?? 'system' }, actorLabel(h)),
      ),
    ),
  );
}

async function showPastAvailability() {
  const out = $('past-result');
  const lotId = $('past-lot').value;
  const local = $('past-at').value;
  if (!lotId || !local) return result(out, false, 'Pick a lot and an instant.');
  const at = new Date(local).toISOString();
  const res = await session.api('GET', `/admin/parking-lots/${encodeURIComponent(lotId)}/availability?at=${encodeURIComponent(at)}`);
  if (res.stale) return;
  if (!res.ok) return result(out, false, describeError(res.error));
  const a = res.data;
  result(
    out,
    true,
    `${getLot(lotId)?.name ?? shortId(lotId)} at ${new Date(a.at).toLocaleString()}: ${a.available_spaces} of ${a.total_spaces} free` +
      ` (${a.held} held by bookings, ${a.out_of_service} out of service, ${a.occupied_unbooked} taken without booking${a.is_open ? '' : ', closed'}).`,
  );
}

async function rebuild(repair) {
  const out = $('rebuild-result');
  const lotId = $('rebuild-lot').value;
  const res = await session.api('POST', '/admin/rebuild', { ...(lotId ? { parking_lot_id: lotId } : {}), repair });
  if (res.stale) return;
  if (!res.ok) return result(out, false, describeError(res.error));
  const r = res.data;
  const items = r.items.filter((i) => i.drift_count > 0).map((i) => `${i.item}: ${i.drift_count}`);
  result(out, r.drift_count === 0, r.drift_count === 0 ? 'No drift: derived state matches the bookings.'
    : `${r.drift_count} rows drifted (${items.join(', ')})${r.repaired ? ', repaired and announced.' : '. Repair to fix them.'}`);
}
