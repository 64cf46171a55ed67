// Small DOM helpers. Everything that came from the server is set as text, never parsed as HTML.

export const $ = (id) => {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node;
};

/** el('span', { className: 'x', dataset: { id } }, 'text', child) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'attrs') for (const [a, v] of Object.entries(value)) node.setAttribute(a, String(v));
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const timeSecFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });

export const fmtTime = (iso) => (iso ? timeFmt.format(new Date(iso)) : '–');
export const fmtTimeSec = (iso) => (iso ? timeSecFmt.format(new Date(iso)) : '–');

/** "14:00–15:00", or with the day when the window is not today. */
export function fmtWindow(startIso, endIso) {
  const start = new Date(startIso);
  const end = new Date(endIso);
  const today = new Date().toDateString();
  const prefix = start.toDateString() === today ? '' : `${dayFmt.format(start)} `;
  return `${prefix}${timeFmt.format(start)}–${timeFmt.format(end)}`;
}

export function fmtMoney(cents, currency = 'EUR') {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

export const shortId = (id) => (id ? String(id).slice(0, 8) : '–');

/** `CODE: message` for an `{ ok: false, error }` answer or a thrown Error. */
export function describeError(error) {
  if (!error) return 'Unknown error';
  if (error.code && error.message) return `${error.code}: ${error.message}`;
  return error.message ?? String(error);
}

/** A short-lived message in the corner; `kind` is info, success, warning, error. */
export function toast(title, message, kind = 'info', ms = 6000) {
  const node = el(
    'div',
    { className: `toast toast--${kind}`, attrs: { role: kind === 'error' ? 'alert' : 'status' } },
    el('strong', { className: 'toast-title' }, title),
    message ? el('span', { className: 'toast-message' }, message) : null,
  );
  const close = el('button', { className: 'toast-close', type: 'button', title: 'Dismiss', attrs: { 'aria-label': 'Dismiss' } }, '×');
  close.addEventListener('click', () => node.remove());
  node.append(close);
  const box = $('toasts');
  box.prepend(node);
  while (box.children.length > 4) box.lastElementChild?.remove();
  setTimeout(() => node.remove(), ms);
}

/** Writes a result line under a form: ok (green) or error (red). */
export function result(node, ok, text) {
  node.textContent = text;
  node.classList.toggle('form-result--error', !ok);
  node.classList.toggle('form-result--ok', ok);
  node.hidden = false;
}
