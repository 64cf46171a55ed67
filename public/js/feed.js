// The notification feed: notifications (mine) and system announcements, newest first, plus a toast.
import { $, el, fmtTime, toast } from './ui.js';

const MAX = 30;
const seen = new Set();

const KIND = { info: 'info', success: 'success', warning: 'warning', error: 'error', maintenance: 'warning', emergency: 'error' };

export function clearFeed() {
  seen.clear();
  $('feed').replaceChildren();
  $('feed-empty').hidden = false;
}

/** kind: 'notification' | 'announcement'; quiet: no toast (history loaded at sign-in). */
export function addToFeed(kind, item, { quiet = false } = {}) {
  const key = item.id ?? item.event_id ?? `${kind}:${item.timestamp}:${item.message}`;
  if (seen.has(key)) return;
  seen.add(key);

  const type = KIND[item.type] ?? 'info';
  const title = item.title ?? (kind === 'announcement' ? 'Announcement' : 'Notification');
  const when = item.timestamp ?? item.created_at;
  const li = el(
    'li',
    { className: `feed-item feed-item--${type}`, dataset: { kind } },
    el(
      'div',
      { className: 'feed-head' },
      el('span', { className: 'feed-kind' }, kind === 'announcement' ? 'Announcement' : 'For you'),
      el('time', { className: 'feed-time', dateTime: when ?? '' }, fmtTime(when)),
    ),
    el('strong', { className: 'feed-title' }, title),
    el('p', { className: 'feed-message' }, item.message),
  );
  const list = $('feed');
  if (quiet) list.append(li);
  else list.prepend(li);
  while (list.children.length > MAX) list.lastElementChild?.remove();
  $('feed-empty').hidden = true;
  if (!quiet) toast(title, item.message, type, type === 'error' ? 12_000 : 7000);
}
