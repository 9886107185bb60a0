// The site's frame: the router (every page path is served the same shell; this module picks the
// view), the navigation, and the notification bell fed by server-sent events.
import { api, session, logout } from './api.js';
import { h, fill, field, formData, when, errorBox, pageTitle } from './dom.js';
import * as buyer from './buyer.js';
import * as account from './account.js';
import * as organizer from './organizer.js';
import * as queue from './queue.js';

const routes = [
  [/^\/$/, buyer.home, { title: 'Events' }],
  [/^\/events\/([^/]+)$/, buyer.event, { title: 'Event' }],
  [/^\/events\/([^/]+)\/queue$/, queue.page, { title: 'Waiting room', signedIn: true }],
  [/^\/bookings$/, buyer.bookings, { title: 'My bookings', signedIn: true }],
  [/^\/bookings\/([^/]+)$/, buyer.booking, { title: 'Booking', signedIn: true }],
  [/^\/tickets$/, buyer.tickets, { title: 'My tickets', signedIn: true }],
  [/^\/login$/, account.login, { title: 'Log in' }],
  [/^\/signup$/, account.signup, { title: 'Sign up' }],
  [/^\/profile$/, account.profile, { title: 'Profile', signedIn: true }],
  [/^\/notifications$/, account.notifications, { title: 'Notifications', signedIn: true }],
  [/^\/organizer$/, organizer.events, { title: 'My events', organizer: true }],
  [/^\/organizer\/events\/new$/, (main) => organizer.editor(main, null), { title: 'New event', organizer: true }],
  [/^\/organizer\/events\/([^/]+)\/sales$/, organizer.sales, { title: 'Dashboard', organizer: true }],
  [/^\/organizer\/events\/([^/]+)\/attendees$/, organizer.attendees, { title: 'Attendees', organizer: true }],
  [/^\/organizer\/events\/([^/]+)$/, organizer.editor, { title: 'Edit event', organizer: true }],
  [/^\/organizer\/checkin$/, organizer.checkin, { title: 'Check-in', organizer: true }],
];

const main = document.getElementById('main');
let leaving = []; // what the current page set up (timers, streams) and must undo when left

/** Called by a view for anything to stop when the person moves to another page. */
export function onLeave(stop) {
  leaving.push(stop);
}

export function go(path, { replace = false, focus = true } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render(focus);
}

/**
 * Draws the page for the address. `focus` moves the keyboard focus to the new page's content,
 * as after following a link; not on arrival, so the first Tab still reaches "Skip to content".
 */
// the server answers such an address with this shell and a 404; the page offers ways on
function notFound() {
  pageTitle('Page not found');
  const search = h('form', { class: 'row narrow', role: 'search', 'aria-label': 'Search events' },
    field('Search the events', { name: 'q', id: 'missing-q', type: 'search', placeholder: 'Artist, team, film…' }),
    h('button', { type: 'submit' }, 'Search'));
  search.addEventListener('submit', (event) => {
    event.preventDefault();
    const words = formData(search).q;
    go(words ? `/?${new URLSearchParams({ q: words })}` : '/');
  });
  fill(main, h('h1', {}, 'Page not found'),
    h('p', {}, 'There is nothing at this address: the link may be old, or the address mistyped.'),
    search,
    h('ul', {}, h('li', {}, h('a', { href: '/' }, 'See the events on sale')), h('li', {}, h('a', { href: '/tickets' }, 'Find your tickets'))));
}

async function render(focus = true) {
  leaving.forEach((stop) => stop());
  leaving = [];
  const url = new URL(location.href);
  const match = routes.map(([re, view, needs]) => [url.pathname.match(re), view, needs || {}]).find(([m]) => m);
  bell.close();
  drawNav();
  if (!match) {
    notFound();
    return;
  }
  const [found, view, needs] = match;
  // the view names the page more closely once it knows what it shows (an event's name)
  pageTitle(needs.title);
  if ((needs.signedIn || needs.organizer) && !session.get()) {
    go(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, { replace: true, focus });
    return;
  }
  if (needs.organizer && !isOrganizer()) {
    fill(main, h('h1', {}, 'Organizers only'), h('p', {}, 'This page is for event organizers. Ask an administrator to give your account the organizer role (boxoffice grant-role), then sign in again.'));
    return;
  }
  fill(main, h('h1', {}, ' '), h('p', { class: 'meta' }, 'Loading…'));
  try {
    await view(main, ...found.slice(1).map(decodeURIComponent), url.searchParams);
  } catch (error) {
    fill(main, h('h1', {}, 'Something went wrong'), errorBox(error), h('p', {}, h('a', { href: '/' }, 'Back to the events')));
  }
  if (focus) main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function isOrganizer() {
  const roles = session.roles();
  return roles.includes('organizer') || roles.includes('admin');
}

// Same-origin links move within the site without reloading it.
document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(link.href, location.href);
  if (url.hash && url.origin === location.origin && url.pathname === location.pathname && url.search === location.search) {
    // a link within the page (Skip to content): focus its target, without a history entry
    // whose popstate would draw the page again
    const target = document.getElementById(decodeURIComponent(url.hash.slice(1)));
    if (!target) return;
    event.preventDefault();
    target.focus();
    return;
  }
  if (url.origin !== location.origin || link.target || link.hasAttribute('download') || !routes.some(([re]) => re.test(url.pathname))) return;
  event.preventDefault();
  go(url.pathname + url.search);
});
window.addEventListener('popstate', () => render());
// Back or Forward to a page the browser kept whole (its back/forward cache) shows it as it was
// left, countdown and all: draw it again from fresh reads, as the buyer expects the truth
window.addEventListener('pageshow', (event) => {
  if (!event.persisted) return;
  bell.connect();
  render(false);
});
// a page kept in that cache would keep its streams open, and a browser allows only six
// connections to a server: after a few full loads, every request would queue behind them
window.addEventListener('pagehide', (event) => {
  if (!event.persisted) return;
  bell.source?.close();
  bell.source = null;
  leaving.forEach((stop) => stop());
  leaving = [];
});
window.addEventListener('session', () => {
  drawNav();
  bell.connect();
});

function drawNav() {
  const nav = document.getElementById('nav');
  const signedIn = session.get();
  fill(nav,
    h('a', { href: '/' }, 'Events'),
    signedIn && h('a', { href: '/bookings' }, 'My bookings'),
    signedIn && h('a', { href: '/tickets' }, 'My tickets'),
    signedIn && isOrganizer() && h('a', { href: '/organizer' }, 'Organizer'),
    signedIn && [bell.button, bell.panel], // the panel next in the Tab order, after its button
    signedIn && h('a', { href: '/profile' }, 'Profile'),
    signedIn
      ? h('button', { class: 'link', type: 'button', onclick: async () => { await logout(); go('/'); } }, 'Log out')
      : [h('a', { href: '/login' }, 'Log in'), h('a', { href: '/signup' }, 'Sign up')],
  );
}

function bellIcon() {
  const icon = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  icon.setAttribute('viewBox', '0 0 24 24');
  icon.setAttribute('width', '20');
  icon.setAttribute('height', '20');
  icon.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', 'M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1z');
  path.setAttribute('fill', 'currentColor');
  icon.append(path);
  return icon;
}

/**
 * A notification's title; a link to the buyer's booking when it is about one (seats held from
 * the waiting list, a payment, tickets, a refund), which marks it read when followed. A refused
 * refund told to the organizer is about someone else's booking: no link.
 */
export function notificationTitle(n) {
  const booking = n.data?.booking_id;
  if (!booking || n.kind === 'refund_failed') return n.title;
  return h('a', { href: `/bookings/${encodeURIComponent(booking)}`, onclick: () => {
    if (n.read_at) return;
    api('POST', `/v1/notifications/${n.id}/read`, {}).then(() => markAllRead([n.id]), () => {});
  } }, n.title);
}

/** The bell: unread count, a panel of the latest notifications, live over SSE. */
const bell = {
  items: [],
  source: null,
  button: h('button', { class: 'link bell', type: 'button', 'aria-controls': 'bell-panel', 'aria-expanded': 'false', 'aria-label': 'Notifications' }),
  panel: h('div', { class: 'bell-panel hidden', role: 'region', 'aria-label': 'Notifications', id: 'bell-panel' }),

  async connect() {
    this.source?.close();
    this.source = null;
    this.items = [];
    this.draw();
    const token = session.get()?.access_token;
    if (!token) return;
    try {
      this.items = (await api('GET', '/v1/notifications?limit=20')).data;
    } catch {
      this.items = [];
    }
    this.draw();
    // EventSource cannot send headers, so the token goes in the query (the server keeps it out of its logs)
    this.source = new EventSource(`/v1/notifications/stream?access_token=${encodeURIComponent(token)}`);
    this.source.addEventListener('notification', (message) => {
      const notification = JSON.parse(message.data);
      if (this.items.some((n) => n.id === notification.id)) return;
      this.items.unshift(notification);
      this.draw();
      this.toast(notification);
      window.dispatchEvent(new CustomEvent('notification', { detail: notification }));
    });
    this.source.onerror = () => {
      // the token may have expired: reconnect with a fresh one after a refresh
      if (this.source?.readyState === EventSource.CLOSED) setTimeout(() => api('GET', '/v1/users/me').then(() => this.connect(), () => {}), 5000);
    };
  },

  draw() {
    const unread = this.items.filter((n) => !n.read_at).length;
    fill(this.button, bellIcon(), unread ? h('span', { class: 'badge', id: 'bell-count' }, unread) : null);
    this.button.setAttribute('aria-label', `Notifications, ${unread} unread`);
    fill(this.panel,
      h('ul', {}, this.items.length
        ? this.items.slice(0, 8).map((n) => h('li', { class: n.read_at ? '' : 'unread', 'data-kind': n.kind }, h('div', {}, notificationTitle(n)), h('div', { class: 'meta' }, n.body), h('div', { class: 'meta' }, when(n.created_at))))
        : h('li', {}, 'No notifications yet.')),
      h('p', {}, h('a', { href: '/notifications' }, 'All notifications')));
  },

  close() {
    this.panel.classList.add('hidden');
    this.button.setAttribute('aria-expanded', 'false');
  },

  toast(notification) {
    const toast = h('div', { class: 'notice', role: 'status' }, h('strong', {}, notification.title), ' ', notification.body);
    main.prepend(toast);
    setTimeout(() => toast.remove(), 8000);
  },
};
bell.button.addEventListener('click', () => {
  const open = bell.panel.classList.toggle('hidden') === false;
  bell.button.setAttribute('aria-expanded', String(open));
});
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && !bell.panel.classList.contains('hidden')) {
    bell.close();
    bell.button.focus();
  }
});

export function markAllRead(ids) {
  bell.items.forEach((n) => { if (ids.includes(n.id)) n.read_at = new Date().toISOString(); });
  bell.draw();
}

bell.connect();
render(false);
