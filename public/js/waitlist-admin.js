// The admin console's waitlist: a lot's queue (open offers, then waiters by priority and arrival),
// refreshed when a waitlist_updated of that lot arrives (admins are in the `admin` room), and a
// priority an admin grants per entry.
import { getLots, onLotsChanged } from './board.js';
import { $, describeError, el, fmtWindow, result, shortId } from './ui.js';

let session;
let active = false;
let reload;

/** `s` gives: emit(event, payload), api(method, path, body). */
export function initWaitlistAdmin(s) {
  session = s;
  onLotsChanged(renderLotOptions);
  $('waitlist-lot').addEventListener('change', () => void loadQueue());
  $('waitlist-refresh').addEventListener('click', () => void loadQueue());
}

export function startWaitlistAdmin() {
  active = true;
  renderLotOptions(getLots());
  void loadQueue();
}

export function hideWaitlistAdmin() {
  active = false;
  $('waitlist').replaceChildren();
}

/** A waitlist_updated: the queue of the lot shown changed; one reload for a burst of them. */
export function noteWaitlistEvent(p) {
  if (!active || p.parking_lot_id !== $('waitlist-lot').value) return;
  clearTimeout(reload);
  reload = setTimeout(() => void loadQueue(), 300);
}

function renderLotOptions(lots) {
  const select = $('waitlist-lot');
  const keep = select.value;
  select.replaceChildren(...lots.map((l) => el('option', { value: l.parking_lot_id }, l.name)));
  if (keep && lots.some((l) => l.parking_lot_id === keep)) select.value = keep;
}

async function loadQueue() {
  const lot = $('waitlist-lot').value;
  if (!active || !lot) return;
  const res = await session.api('GET', `/admin/waitlist?parking_lot_id=${encodeURIComponent(lot)}`);
  if (res.stale || !active || lot !== $('waitlist-lot').value) return;
  const body = $('waitlist');
  if (!res.ok) return void body.replaceChildren(el('tr', {}, el('td', { colSpan: 5, className: 'muted' }, describeError(res.error))));
  $('waitlist-total').textContent = `(${res.data.entries.length})`;
  if (res.data.entries.length === 0) return void body.replaceChildren(el('tr', {}, el('td', { colSpan: 5, className: 'muted' }, 'Nobody is waiting.')));
  body.replaceChildren(...res.data.entries.map(row));
}

function row(e) {
  const input = el('input', { type: 'number', min: '0', max: '9', step: '1', value: String(e.priority), className: 'priority-input', attrs: { 'aria-label': 'Priority' } });
  const note = el('span', { className: 'form-result', hidden: true });
  const save = el('button', { type: 'button', className: 'btn btn--ghost btn--small', textContent: 'Set' });
  save.addEventListener('click', async () => {
    const res = await session.emit('set_waitlist_priority', { entry_id: e.id, priority: Number(input.value) });
    if (res.stale) return;
    if (!res.ok) result(note, false, describeError(res.error));
    else void loadQueue();
  });
  return el(
    'tr',
    { dataset: { entry: e.id } },
    el('td', {}, e.status === 'offered' ? 'offer' : String(e.position ?? '–')),
    el('td', { className: 'priority-cell' }, input, ' ', save, note),
    el('td', {}, e.status),
    el('td', { className: 'col-optional' }, shortId(e.user_id)),
    el('td', {}, fmtWindow(e.starts_at, e.ends_at)),
  );
}
