// Booking: the form, my bookings (the client's bookings and payments, live through their
// lifecycle), cancelling, and in the development default "Pay (test)".
import { getLot, onLotsChanged } from './board.js';
import { $, describeError, el, fmtMoney, fmtTime, fmtWindow, result } from './ui.js';

const STATUS_LABEL = {
  pending: 'pending',
  confirmed: 'confirmed',
  active: 'active',
  completed: 'completed',
  cancelled: 'cancelled',
  expired: 'expired',
};
const CANCELLABLE = new Set(['pending', 'confirmed']);

/** @type {ReadonlyMap<string, any>} booking id → booking (BookingView), from the client */
let bookings = new Map();
/** @type {ReadonlyMap<string, any>} booking id → latest payment_updated, from the client */
let payments = new Map();
/** True where the server offers POST /demo/pay (the development default only). */
let payOffered = false;
let session;

const newKey = () =>
  globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;

/** `s` gives: emit(event, payload) and api(method, path, body), each → { ok, data | error }. */
export function initBookings(s) {
  session = s;
  onLotsChanged(renderLotOptions);
  $('booking-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void book();
  });
  setInterval(render, 30_000); // hold countdowns
}

export function clearBookings() {
  showBookings(new Map(), new Map());
}

/** The client's bookings and payments of the signed-in user. */
export function showBookings(nextBookings, nextPayments) {
  bookings = nextBookings;
  payments = nextPayments;
  render();
}

export function offerPay(offered) {
  payOffered = offered;
  render();
}

function renderLotOptions(lots) {
  const select = $('booking-lot');
  const keep = select.value;
  select.replaceChildren(
    ...lots.map((l) => {
      const why = !l.is_open ? ' (closed)' : l.available_spaces <= 0 ? ' (full)' : ` (${l.available_spaces} free)`;
      return el('option', { value: l.parking_lot_id, disabled: !l.is_open || l.available_spaces <= 0 }, `${l.name}${why}`);
    }),
  );
  const usable = lots.find((l) => l.is_open && l.available_spaces > 0);
  if (keep && lots.some((l) => l.parking_lot_id === keep)) select.value = keep;
  else if (usable) select.value = usable.parking_lot_id;
  $('booking-submit').disabled = lots.length === 0;
  // The booking list shows lot names: refresh it when names arrive.
  render();
}

async function book() {
  const out = $('booking-result');
  const lotId = $('booking-lot').value;
  if (!lotId) return result(out, false, 'Pick a parking lot first.');
  const plate = $('booking-plate').value.trim();
  const button = $('booking-submit');
  button.disabled = true;
  try {
    const res = await session.emit('create_booking', {
      parking_lot_id: lotId,
      duration_minutes: Number($('booking-duration').value),
      idempotency_key: newKey(),
      ...(plate ? { vehicle_plate: plate } : {}),
    });
    if (!res.ok) return result(out, false, describeError(res.error));
    const b = res.data.booking;
    const lot = getLot(b.parking_lot_id);
    const hold = b.status === 'pending' && b.hold_expires_at ? ` Pay before ${fmtTime(b.hold_expires_at)} to keep it.` : '';
    result(out, true, `Booked ${lot?.name ?? 'a space'} for ${fmtWindow(b.starts_at, b.ends_at)}: ${b.status}.${hold}`);
  } finally {
    button.disabled = false;
  }
}

/** Cancel, or Pay (test): the list follows from the events; a refusal shows under the booking. */
async function act(button, send) {
  button.disabled = true;
  const res = await send();
  if (res.ok || res.stale) return;
  button.disabled = false;
  const err = button.closest('.booking')?.querySelector('.booking-error');
  if (err) {
    err.textContent = describeError(res.error);
    err.hidden = false;
  }
}

const cancel = (id) => session.emit('cancel_booking', { booking_id: id, reason: 'Cancelled from the web page' });
const pay = (id) => session.api('POST', '/demo/pay', { booking_id: id, outcome: 'succeeded' });

function render() {
  const list = [...bookings.values()].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
  const ul = $('my-bookings');
  ul.replaceChildren(...list.slice(0, 20).map(renderBooking));
  $('my-bookings-empty').hidden = list.length > 0;
  const live = list.filter((b) => CANCELLABLE.has(b.status) || b.status === 'active').length;
  $('mine-count').textContent = list.length ? `${live} current · ${list.length} total` : '';
}

function renderBooking(b) {
  const lot = getLot(b.parking_lot_id);
  const payment = payments.get(b.id)?.status;
  const meta = [fmtWindow(b.starts_at, b.ends_at)];
  if (b.amount_cents > 0) meta.push(fmtMoney(b.amount_cents, b.currency));
  if (b.vehicle_plate) meta.push(b.vehicle_plate);

  const notes = [];
  if (b.status === 'pending' && b.hold_expires_at) notes.push(`Awaiting payment · held until ${fmtTime(b.hold_expires_at)}`);
  if (payment) notes.push(`Payment ${payment}`);

  const li = el(
    'li',
    { className: `booking booking--${b.status}`, dataset: { bookingId: b.id, status: b.status } },
    el(
      'div',
      { className: 'booking-main' },
      el('span', { className: 'booking-lot' }, lot?.name ?? `Lot ${b.parking_lot_id.slice(0, 8)}`),
      el('span', { className: `status status--${b.status}`, dataset: { status: b.status } }, STATUS_LABEL[b.status] ?? b.status),
    ),
    el('div', { className: 'booking-meta' }, meta.join(' · ')),
    notes.length ? el('div', { className: `booking-note${payment === 'failed' ? ' booking-note--bad' : ''}` }, notes.join(' · ')) : null,
    el('div', { className: 'booking-error', hidden: true, attrs: { role: 'alert' } }),
  );
  const actions = [];
  if (payOffered && b.status === 'pending') {
    const btn = el('button', { className: 'btn btn--small booking-pay', type: 'button', title: 'Sends the signed payment webhook a provider would' }, 'Pay (test)');
    btn.addEventListener('click', () => void act(btn, () => pay(b.id)));
    actions.push(btn);
  }
  if (CANCELLABLE.has(b.status)) {
    const btn = el('button', { className: 'btn btn--ghost btn--small btn--danger booking-cancel', type: 'button' }, 'Cancel');
    btn.addEventListener('click', () => void act(btn, () => cancel(b.id)));
    actions.push(btn);
  }
  if (actions.length) li.append(el('div', { className: 'booking-actions' }, ...actions));
  return li;
}
