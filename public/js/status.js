// The page's frame: the connection pill, the banner, the sign-in panel and who is signed in.
import { $, el, show } from './ui.js';

const STATE_TEXT = {
  starting: 'Starting…',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  'auth-error': 'Not signed in',
  'signed-out': 'Not signed in',
};

export function setState(state) {
  document.body.dataset.state = state;
  const pill = $('conn');
  pill.textContent = STATE_TEXT[state] ?? state;
  pill.className = `pill pill--${state}`;
}

export function setBanner(text) {
  const b = $('banner');
  b.textContent = text ?? '';
  show(b, Boolean(text));
}

/** A refused token: what the server said, and how to go on. */
export function showAuthError(error, { signedOut, demo }) {
  const box = $('auth-error');
  box.replaceChildren(
    el('strong', {}, signedOut ? 'Signed out' : 'Authentication error'),
    el('span', { className: 'mono' }, ` ${error.code}`),
    error.message ? el('span', {}, ` — ${error.message}.`) : null,
    el('span', { className: 'alert-hint' }, ' Paste a valid token above' + (demo ? ' or use a demo login.' : '.')),
  );
  box.hidden = false;
}

export function clearAuthError() {
  $('auth-error').hidden = true;
  $('auth-error').replaceChildren();
}

export function setAccountOpen(open) {
  $('account').hidden = !open;
  $('account-toggle').setAttribute('aria-expanded', String(open));
}

export function showUser(user) {
  const role = $('who-role');
  document.body.dataset.role = user?.role ?? 'none';
  role.hidden = !user;
  if (!user) return void ($('who').textContent = 'Not signed in');
  $('who').textContent = user.email ?? `User ${user.id.slice(0, 8)}`;
  $('who').title = user.id;
  role.textContent = user.role;
  role.className = `role-badge${user.role === 'admin' ? ' role-badge--admin' : ''}`;
}
