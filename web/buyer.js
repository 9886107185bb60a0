// The buyer's pages: search, an event with its ticket types and seat map, a booking from hold to
// confirmation (countdown, information, payment), the list of bookings, and the tickets with QR.
import { api, session, imageUrl, newKey } from './api.js';
import { h, fill, money, when, day, errorBox, report, busy, field, formData, CATEGORIES } from './dom.js';
import { drawSeatMap, legend } from './seatmap.js';
import { go, onLeave } from './app.js';
import { admission, panel } from './queue.js';

const PAGE = 12;

export async function home(main, params) {
  const form = h('form', { class: 'card', role: 'search', 'aria-label': 'Search events' },
    h('div', { class: 'row' },
      field('What', { name: 'q', type: 'search', placeholder: 'Artist, team, film…', value: params.get('q') || '' }),
      field('Category', { name: 'category', value: params.get('category') || '', options: [['', 'Any'], ...CATEGORIES.map((c) => [c, c[0].toUpperCase() + c.slice(1)])] }, 'select'),
      field('Where', { name: 'location', placeholder: 'City or venue', value: params.get('location') || '' })),
    h('div', { class: 'row' },
      field('From', { name: 'from', type: 'date', value: params.get('from') || '' }),
      field('To', { name: 'to', type: 'date', value: params.get('to') || '' }),
      h('button', { type: 'submit' }, 'Search')));
  const results = h('div', { class: 'grid', id: 'results', 'aria-live': 'polite' });
  const more = h('div', { class: 'actions' });
  const slot = h('div');
  fill(main, h('h1', {}, 'Find your next event'), form, slot, results, more);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = new URLSearchParams(Object.entries(formData(form)).filter(([, v]) => v));
    go(`/?${query}`);
  });

  const query = new URLSearchParams({ limit: PAGE });
  for (const key of ['q', 'category', 'location']) if (params.get(key)) query.set(key, params.get(key));
  // dates from the form are whole days in the buyer's time zone
  if (params.get('from')) query.set('from', new Date(`${params.get('from')}T00:00`).toISOString());
  if (params.get('to')) query.set('to', new Date(`${params.get('to')}T23:59:59`).toISOString());
  const load = async (token) => {
    if (token) query.set('next_token', token);
    try {
      const page = await api('GET', `/v1/events?${query}`);
      if (!token && !page.data.length) fill(results, h('p', {}, 'No events match. Try fewer words or another date.'));
      results.append(...page.data.map(card));
      fill(more, page.next_token && h('button', { type: 'button', class: 'secondary', onclick: () => load(page.next_token) }, 'More events'));
    } catch (error) {
      report(slot, error);
    }
  };
  await load();
}

function banner(event, cls) {
  return event.banner
    ? h('img', { src: event.banner, alt: '', class: cls, loading: 'lazy' })
    : h('div', { class: `banner ${cls}`, 'aria-hidden': 'true' });
}

function card(event) {
  return h('article', { class: 'card event-card' },
    banner(event, ''),
    h('div', { class: 'body' },
      h('span', { class: 'tag' }, event.category),
      h('h2', {}, h('a', { href: `/events/${event.id}` }, event.name)),
      h('p', { class: 'meta' }, day(event.start_at)),
      h('p', { class: 'meta' }, event.location),
      event.price_from !== null && event.price_from !== undefined && h('p', { class: 'price' }, 'from ', money(event.price_from, event.currency))));
}

export async function event(main, id) {
  const detail = await api('GET', `/v1/events/${id}`);
  const mapped = detail.ticket_types.filter((t) => t.seat_mapped);
  const readSeats = async () => (mapped.length ? (await api('GET', `/v1/events/${id}/seats`)).seats : []);
  let seats = await readSeats();
  // seats picked before logging in come back with the buyer, when they are still free
  const kept = `picked:${id}`;
  const picked = new Set(JSON.parse(sessionStorage.getItem(kept) || '[]').filter((seat) => seats.some((s) => s.id === seat && s.status === 'free')));
  sessionStorage.removeItem(kept);
  const slot = h('div');
  const summary = h('p', { id: 'picked', 'aria-live': 'polite' });
  const onSale = detail.status === 'published';
  // a queued sale books only with the admission its waiting room gave
  const queueNotice = onSale ? await panel(detail) : null;
  const admitted = admission(id);
  const bookable = onSale && (!detail.queue?.enabled || admitted);

  const types = detail.ticket_types.map((type) => {
    const now = Date.now();
    const notYet = type.sale_at && Date.parse(type.sale_at) > now;
    const over = type.sale_end && Date.parse(type.sale_end) < now;
    const qty = h('input', { type: 'number', min: 0, max: Math.min(10, type.available), value: 0, name: `qty-${type.id}`, 'aria-label': `How many ${type.name}`, 'data-type': type.id, class: 'qty' });
    let state = `${type.available} of ${type.number_seats} left`;
    if (type.available === 0) state = 'Sold out';
    if (notYet) state = `On sale ${when(type.sale_at)}`;
    if (over) state = 'Sale ended';
    if (type.available === 0 || notYet || over || !bookable) qty.disabled = true;
    return h('tr', {},
      h('td', {}, h('strong', {}, type.name), type.description && h('div', { class: 'meta' }, type.description), type.seat_mapped && h('div', { class: 'meta' }, 'Pick seats on the map, or a number for the best available.')),
      h('td', { class: 'num' }, money(type.price, type.currency)),
      h('td', { class: 'avail' }, state),
      h('td', { 'data-label': 'Number' }, qty));
  });

  const redraw = () => {
    const chosen = seats.filter((s) => picked.has(s.id));
    fill(summary, chosen.length ? `Your seats: ${chosen.map(seatName).join(', ')}` : '');
  };
  const scrolls = mapped.map((type) => [type, h('div', { class: 'seatmap-scroll' })]);
  const drawMaps = () => {
    for (const [type, scroll] of scrolls) {
      fill(scroll, drawSeatMap(seats.filter((s) => s.ticket_type_id === type.id), {
        picked,
        onToggle: (seat) => { picked.has(seat.id) ? picked.delete(seat.id) : picked.add(seat.id); redraw(); },
      }));
    }
    redraw();
  };
  const maps = scrolls.map(([type, scroll]) => h('section', { class: 'card' },
    h('h2', {}, `Seat map: ${type.name}`), legend(true),
    h('p', { class: 'meta keyboard-hint' }, 'With a keyboard: Tab to the map, move between free seats with the arrow keys, and pick one with Space or Enter.'),
    scroll));
  drawMaps();
  /** After a seat was taken: the map as it is now, and only free seats still picked. */
  const reloadSeats = async () => {
    seats = await readSeats();
    for (const seat of seats) if (seat.status !== 'free') picked.delete(seat.id);
    drawMaps();
  };

  const form = h('form', { class: 'card' },
    h('h2', {}, 'Tickets'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'stack' }, h('thead', {}, h('tr', {}, h('th', {}, 'Ticket'), h('th', { class: 'num' }, 'Price'), h('th', {}, 'Availability'), h('th', {}, 'Number'))), h('tbody', {}, types))),
    maps, summary, slot,
    h('div', { class: 'actions' }, h('button', { type: 'submit', disabled: !bookable }, 'Book')));
  let key = newKey();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!session.get()) {
      sessionStorage.setItem(kept, JSON.stringify([...picked]));
      return go(`/login?next=/events/${id}`);
    }
    const items = detail.ticket_types.map((type) => {
      const seatIds = seats.filter((s) => s.ticket_type_id === type.id && picked.has(s.id)).map((s) => s.id);
      const qty = Number(form.querySelector(`[data-type="${type.id}"]`).value || 0);
      if (seatIds.length) return { ticket_type_id: type.id, seats: seatIds };
      if (qty > 0) return { ticket_type_id: type.id, qty };
      return null;
    }).filter(Boolean);
    if (!items.length) return report(slot, new Error('Choose seats on the map or how many tickets you want.'));
    busy(form, slot, async () => {
      try {
        const hold = { event_id: id, items };
        if (admitted) hold.admission_token = admitted.token;
        const booking = await api('POST', '/v1/bookings/hold', hold, { idempotencyKey: key });
        go(`/bookings/${booking.id}`);
      } catch (error) {
        // the API keeps a refusal under its key, so the next press is a request of its own
        if (error.status >= 400 && error.status < 500 && error.code !== 'request_in_progress') key = newKey();
        if (error.code !== 'seat_taken') throw error;
        await reloadSeats().catch(() => {});
        throw new Error(seatsTaken(error));
      }
    });
  });

  fill(main,
    detail.banner && h('img', { src: detail.banner, alt: '', class: 'hero' }),
    h('span', { class: 'tag' }, detail.category),
    h('h1', {}, detail.name),
    detail.title && detail.title !== detail.name && h('p', { class: 'meta' }, detail.title),
    h('p', {}, h('strong', {}, when(detail.start_at)), ' – ', when(detail.end_at)),
    h('p', {}, detail.location),
    !onSale && h('div', { role: 'alert' }, detail.status === 'cancelled' ? 'This event is cancelled.' : 'This event is not on sale.'),
    h('p', { class: 'description' }, detail.description),
    queueNotice,
    form);
}

/** A seat as the buyer sees it on the map and on tickets: "Stalls A1". */
function seatName(seat) {
  return `${seat.section} ${seat.row}${seat.label}`;
}

/** "Stalls A1 was just taken. Pick another seat." from a seat_taken answer's details. */
function seatsTaken(error) {
  const names = error.details.filter((d) => d.seat).map((d) => seatName(d.seat));
  if (!names.length) return error.message;
  return `${names.join(', ')} ${names.length > 1 ? 'were' : 'was'} just taken. Pick another seat.`;
}

function countdown(booking, onExpired) {
  const clock = h('p', { class: 'countdown', id: 'countdown', role: 'timer', 'aria-live': 'off' });
  const tick = () => {
    const left = Math.max(0, Math.round((Date.parse(booking.expired_at) - Date.now()) / 1000));
    clock.textContent = `${String(Math.floor(left / 60)).padStart(2, '0')}:${String(left % 60).padStart(2, '0')}`;
    clock.classList.toggle('low', left < 120);
    if (left === 0) {
      clearInterval(timer);
      onExpired();
    }
  };
  const timer = setInterval(tick, 1000);
  onLeave(() => clearInterval(timer));
  tick();
  return clock;
}

function lines(booking, types) {
  const name = (id) => types.get(id)?.name || 'Ticket';
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('tbody', {},
      booking.items.map((item) => h('tr', {}, h('td', {}, `${item.qty} × ${name(item.ticket_type_id)}`), h('td', { class: 'num' }, money(item.price * item.qty, booking.currency)))),
      booking.seats.length ? h('tr', {}, h('td', { colspan: 2 }, 'Seats: ', booking.seats.map(seatName).join(', '))) : null,
      h('tr', {}, h('th', {}, 'Total'), h('th', { class: 'num' }, money(booking.total_price, booking.currency))))));
}

const METHODS = [['card', 'Card'], ['bank_transfer', 'Bank transfer'], ['ewallet', 'E-wallet']];

export async function booking(main, id) {
  const booking = await api('GET', `/v1/bookings/${id}`);
  const detail = await api('GET', `/v1/events/${booking.event_id}`).catch(() => null);
  const types = new Map((detail?.ticket_types || []).map((t) => [t.id, t]));
  const slot = h('div');
  const status = h('span', { class: `status ${booking.status}`, id: 'booking-status' }, booking.status.replace('_', ' '));
  const head = [
    h('h1', {}, detail ? detail.name : 'Your booking'),
    h('p', {}, 'Booking ', h('strong', { id: 'booking-code' }, booking.booking_code), ' · ', status),
    detail && h('p', { class: 'meta' }, when(detail.start_at), ' · ', detail.location),
    lines(booking, types),
  ];
  const again = h('a', { class: 'button', href: `/events/${booking.event_id}` }, 'Start again');

  if (booking.status === 'held' || booking.status === 'pending_payment') {
    const expired = () => {
      // the head still says held: the hold is over by now
      Object.assign(status, { className: 'status expired', textContent: 'expired' });
      fill(main, ...head, h('div', { role: 'alert', id: 'expired' }, 'Your hold has expired: the seats went back on sale.'), h('div', { class: 'actions' }, again));
    };
    const info = booking.information || {};
    const me = session.get();
    const form = h('form', { class: 'card', id: 'checkout' },
      h('h2', {}, 'Your information'),
      field('Email for the tickets', { name: 'email', type: 'email', required: true, autocomplete: 'email', value: info.email || me?.email || '' }),
      field('Phone', { name: 'phone', type: 'tel', autocomplete: 'tel', value: info.phone || '' }),
      field('Address', { name: 'address', autocomplete: 'street-address', value: info.address || '' }),
      h('fieldset', {}, h('legend', {}, 'Payment method'),
        METHODS.map(([value, text], i) => h('label', {}, h('input', { type: 'radio', name: 'payment_method', value, checked: (booking.payment_method || 'card') === value || (!booking.payment_method && i === 0) }), ' ', text))),
      slot,
      h('div', { class: 'actions' },
        h('button', { type: 'submit' }, 'Pay ', money(booking.total_price, booking.currency)),
        h('button', { type: 'button', class: 'secondary', onclick: cancel }, 'Cancel booking')));
    const checkoutKey = newKey();
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const data = formData(form);
      busy(form, slot, async () => {
        await api('POST', `/v1/bookings/${id}/information`, { email: data.email, phone: data.phone || null, address: data.address || null });
        const paying = await api('POST', `/v1/bookings/${id}/checkout`, { payment_method: data.payment_method }, { idempotencyKey: checkoutKey });
        if (!paying.payment?.checkout_url) throw new Error('The payment gateway gave no page to pay on; try again.');
        location.assign(paying.payment.checkout_url);
      });
    });
    async function cancel() {
      await busy(form, slot, async () => {
        await api('POST', `/v1/bookings/${id}/cancel`, {});
        go(`/bookings/${id}`, { replace: true });
      });
    }
    fill(main, ...head,
      h('div', { class: 'card' }, h('p', {}, 'Your seats are held for you for'), countdown(booking, expired), h('p', { class: 'meta' }, 'Finish before the time runs out, or they go back on sale.')),
      booking.status === 'pending_payment' && h('div', { class: 'notice' }, 'A payment was started. ', booking.payment?.checkout_url && h('a', { href: booking.payment.checkout_url }, 'Continue to the payment page'), ' or choose another method below.'),
      form);
    watch(id, booking.status, { poll: booking.status === 'pending_payment' });
    return;
  }

  if (booking.status === 'confirmed') {
    const list = h('div', { class: 'tickets', id: 'booking-tickets' });
    const waiting = h('p', { class: 'meta', 'aria-live': 'polite' }, 'Your tickets are being issued…');
    fill(main, ...head, h('div', { class: 'notice', role: 'status' }, 'Payment received. Enjoy the event!'), h('h2', {}, 'Your tickets'), waiting, list,
      h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: '/tickets' }, 'All my tickets'), h('button', { type: 'button', onclick: () => window.print() }, 'Print')));
    const show = async () => {
      const mine = await ticketsOf(id);
      if (mine.length >= booking.number_seats) {
        waiting.remove();
        fill(list, await Promise.all(mine.map(ticketCard)));
        return true;
      }
      return false;
    };
    if (!(await show())) {
      const timer = setInterval(async () => { if (await show().catch(() => false)) clearInterval(timer); }, 1500);
      onLeave(() => clearInterval(timer));
    }
    return;
  }

  fill(main, ...head,
    booking.status === 'expired'
      ? h('div', { role: 'alert' }, 'This hold expired before it was paid; the seats went back on sale.')
      // most often the buyer's own doing: said plainly, not as an error
      : h('div', { class: 'notice', role: 'status' }, 'This booking was cancelled. Its seats went back on sale.'),
    h('div', { class: 'actions' }, again));
}

/**
 * A live booking's page follows it until its status changes: whenever the tab is shown again
 * (the buyer may have paid from another), and every 2 s with `poll` (a payment under way).
 */
function watch(id, status, { poll }) {
  let left = false;
  const check = async () => {
    try {
      const now = await api('GET', `/v1/bookings/${id}`);
      if (now.status !== status && !left) go(`/bookings/${id}`, { replace: true });
    } catch {
      // keep watching; a failed read says nothing about the booking
    }
  };
  const shown = () => document.visibilityState === 'visible' && check();
  document.addEventListener('visibilitychange', shown);
  const timer = poll ? setInterval(check, 2000) : null;
  onLeave(() => {
    left = true;
    clearInterval(timer);
    document.removeEventListener('visibilitychange', shown);
  });
}

async function ticketsOf(bookingId) {
  const found = [];
  let token = null;
  do {
    const page = await api('GET', `/v1/tickets?limit=100${token ? `&next_token=${encodeURIComponent(token)}` : ''}`);
    found.push(...page.data.filter((t) => t.booking_id === bookingId));
    token = page.next_token;
  } while (token);
  return found;
}

async function ticketCard(ticket) {
  let qr;
  try {
    qr = h('img', { class: 'qr', src: await imageUrl(ticket.qr_url), alt: `QR code of ticket ${ticket.admission_no}` });
  } catch (error) {
    qr = errorBox(error);
  }
  return h('article', { class: 'card ticket', 'data-ticket': ticket.id },
    h('h3', {}, ticket.event.name),
    h('p', { class: 'meta' }, when(ticket.event.start_at), ' · ', ticket.event.location),
    h('p', {}, ticket.ticket_type_name, ticket.seat ? ` · ${ticket.seat.section}, row ${ticket.seat.row}, seat ${ticket.seat.label}` : ' · general admission'),
    qr,
    h('p', { class: 'meta' }, 'Booking ', ticket.booking_code, ' · ', h('span', { class: `status ${ticket.status}` }, ticket.status.replace('_', ' '))),
    h('code', {}, ticket.code));
}

export async function bookings(main) {
  const list = h('div');
  const more = h('div', { class: 'actions' });
  fill(main, h('h1', {}, 'My bookings'), list, more);
  const names = new Map();
  const load = async (token) => {
    const page = await api('GET', `/v1/bookings?limit=20${token ? `&next_token=${encodeURIComponent(token)}` : ''}`);
    if (!token && !page.data.length) fill(list, h('p', {}, 'No bookings yet. ', h('a', { href: '/' }, 'Find an event.')));
    for (const b of page.data) {
      if (!names.has(b.event_id)) names.set(b.event_id, api('GET', `/v1/events/${b.event_id}`).then((e) => e.name, () => 'An event'));
      list.append(h('article', { class: 'card' },
        h('h2', {}, h('a', { href: `/bookings/${b.id}` }, await names.get(b.event_id))),
        h('p', {}, b.booking_code, ' · ', h('span', { class: `status ${b.status}` }, b.status.replace('_', ' ')), ' · ', `${b.number_seats} admission${b.number_seats === 1 ? '' : 's'}`, ' · ', money(b.total_price, b.currency)),
        h('p', { class: 'meta' }, 'Held ', when(b.held_at))));
    }
    fill(more, page.next_token && h('button', { type: 'button', class: 'secondary', onclick: () => load(page.next_token) }, 'More'));
  };
  await load();
}

export async function tickets(main) {
  const list = h('div', { class: 'tickets' });
  const more = h('div', { class: 'actions no-print' });
  fill(main, h('h1', {}, 'My tickets'), h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => window.print() }, 'Print')), list, more);
  const load = async (token) => {
    const page = await api('GET', `/v1/tickets?limit=20${token ? `&next_token=${encodeURIComponent(token)}` : ''}`);
    if (!token && !page.data.length) fill(list, h('p', {}, 'No tickets yet: they appear here once a booking is paid.'));
    list.append(...(await Promise.all(page.data.map(ticketCard))));
    fill(more, page.next_token && h('button', { type: 'button', class: 'secondary', onclick: () => load(page.next_token) }, 'More'));
  };
  await load();
}
