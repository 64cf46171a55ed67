// The live board: one card per lot, drawn from the client's lots (@spotcast/client keeps them
// current from snapshots and parking_updated, newest by seq).
import { $, el, fmtTimeSec } from './ui.js';

/** @type {Map<string, any>} lot id → the availability shown */
const lots = new Map();
const listeners = new Set();
let canEdit = false;
let onEdit = () => {};
let lastUpdate;

export function getLots() {
  return [...lots.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function getLot(id) {
  return lots.get(id);
}

/** Called after every change with the sorted lots (for the selects of the forms). */
export function onLotsChanged(fn) {
  listeners.add(fn);
}

/** Admins get an "Edit" button on each card. */
export function setEditable(editable, handler) {
  canEdit = editable;
  if (handler) onEdit = handler;
  for (const lot of lots.values()) renderLot(lot, false);
}

export function clearBoard() {
  lots.clear();
  $('board').replaceChildren();
  lastUpdate = undefined;
  changed();
}

/** The client's lots (a Map by id): cards of changed lots are drawn again, and flash when their count or state moved. */
export function showLots(current) {
  let any = false;
  for (const [id, lot] of current) {
    const prev = lots.get(id);
    if (prev === lot) continue;
    any = true;
    lots.set(id, lot);
    renderLot(lot, prev !== undefined && (prev.available_spaces !== lot.available_spaces || prev.is_open !== lot.is_open));
  }
  if (any) lastUpdate = new Date().toISOString();
  changed();
}

/** green / amber / red by the share of free spaces; grey when closed. */
export function levelOf(lot) {
  if (!lot.is_open) return { level: 'closed', label: 'Closed' };
  if (lot.available_spaces <= 0) return { level: 'full', label: 'Full' };
  const share = lot.total_spaces > 0 ? lot.available_spaces / lot.total_spaces : 0;
  if (share < 0.15) return { level: 'low', label: 'Almost full' };
  if (share < 0.4) return { level: 'mid', label: 'Filling up' };
  return { level: 'ok', label: 'Plenty of space' };
}

function renderLot(lot, flash) {
  const board = $('board');
  const id = lot.parking_lot_id;
  let card = board.querySelector(`.lot[data-lot-id="${CSS.escape(id)}"]`);
  const { level, label } = levelOf(lot);
  const share = lot.total_spaces > 0 ? Math.max(0, Math.min(1, lot.available_spaces / lot.total_spaces)) : 0;

  const details = [];
  if (lot.held > 0) details.push(`${lot.held} booked`);
  if (lot.occupied_unbooked > 0) details.push(`${lot.occupied_unbooked} parked`);
  if (lot.out_of_service > 0) details.push(`${lot.out_of_service} out of service`);

  const bar = el('span', { className: 'meter-fill' });
  bar.style.width = `${(share * 100).toFixed(1)}%`;

  const content = [
    el(
      'div',
      { className: 'lot-head' },
      el('h3', { className: 'lot-name', title: lot.name }, lot.name),
      el('span', { className: `tag ${lot.is_open ? 'tag--open' : 'tag--closed'}`, dataset: { open: String(lot.is_open) } }, lot.is_open ? 'Open' : 'Closed'),
    ),
    el(
      'p',
      { className: 'lot-count' },
      el('span', { className: 'lot-free', dataset: { free: '' } }, String(lot.available_spaces)),
      el('span', { className: 'lot-total' }, ` / ${lot.total_spaces}`),
      el('span', { className: 'lot-unit' }, ' free'),
    ),
    el(
      'div',
      {
        className: 'meter',
        attrs: {
          role: 'meter',
          'aria-label': `${lot.available_spaces} of ${lot.total_spaces} spaces free`,
          'aria-valuemin': 0,
          'aria-valuemax': lot.total_spaces,
          'aria-valuenow': lot.available_spaces,
        },
      },
      bar,
    ),
    el(
      'div',
      { className: 'lot-foot' },
      el('span', { className: 'lot-level' }, label),
      el('span', { className: 'lot-details' }, details.join(' · ')),
    ),
  ];
  if (canEdit) {
    const edit = el('button', { className: 'btn btn--ghost btn--small lot-edit', type: 'button' }, 'Edit');
    edit.addEventListener('click', () => onEdit(id));
    content.push(edit);
  }

  if (!card) {
    card = el('article', { className: 'lot', dataset: { lotId: id } });
    insertSorted(board, card, lot.name);
  }
  card.className = `lot lot--${level}`;
  card.dataset.level = level;
  card.replaceChildren(...content);
  if (flash) {
    card.classList.remove('lot--flash');
    void card.offsetWidth; // restart the animation
    card.classList.add('lot--flash');
  }
}

function insertSorted(board, card, name) {
  for (const other of board.children) {
    const otherName = lots.get(other.dataset.lotId)?.name ?? '';
    if (otherName.localeCompare(name) > 0) {
      board.insertBefore(card, other);
      return;
    }
  }
  board.append(card);
}

function changed() {
  const list = getLots();
  const free = list.reduce((n, l) => n + (l.is_open ? l.available_spaces : 0), 0);
  const total = list.reduce((n, l) => n + l.total_spaces, 0);
  const open = list.filter((l) => l.is_open).length;
  $('board-summary').textContent = list.length
    ? `${free} of ${total} spaces free · ${open} of ${list.length} lots open${lastUpdate ? ` · updated ${fmtTimeSec(lastUpdate)}` : ''}`
    : 'No data yet';
  $('board-empty').hidden = list.length > 0 || document.body.dataset.state !== 'live';
  for (const fn of listeners) fn(list);
}
