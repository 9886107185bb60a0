// The buyer's pages: search, an event with its ticket types, seat map, promo code and waiting
// lists (join a sold-out type's, its place in line, the seats held for the buyer), a booking
// from hold to confirmation (countdown, information, payment) and after (cancel for a refund, the
// refunds' state), the list of bookings, and the tickets with QR (and their transfer).
import { api, session, imageUrl, newKey } from './api.js';
import { h, fill, money, when, whenText, day, errorBox, report, busy, field, formData, atFields, discount, refundState, pageTitle, CATEGORIES } from './dom.js';
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
      h('p', { class: 'meta' }, day(event.start_at, event.time_zone)),
      h('p', { class: 'meta' }, event.location),
      event.price_from !== null && event.price_from !== undefined && h('p', { class: 'price' }, 'from ', money(event.price_from, event.currency))));
}

export async function event(main, id, params) {
  const base = await api('GET', `/v1/events/${id}`);
  let detail = base;
  let promo = null; // the applied code's offer: its prices, the hidden types it opened
  const currency = base.ticket_types[0]?.currency || 'USD';
  const mapped = base.ticket_types.filter((t) => t.seat_mapped);
  const readSeats = async () => (mapped.length ? (await api('GET', `/v1/events/${id}/seats`)).seats : []);
  let seats = await readSeats();
  // seats (and a promo code) picked before logging in come back with the buyer, seats when still free
  const kept = `picked:${id}`;
  const keptCode = `promo:${id}`;
  const picked = new Set(JSON.parse(sessionStorage.getItem(kept) || '[]').filter((seat) => seats.some((s) => s.id === seat && s.status === 'free')));
  const code = sessionStorage.getItem(keptCode) || params?.get('promo_code') || '';
  sessionStorage.removeItem(kept);
  sessionStorage.removeItem(keptCode);
  const slot = h('div');
  const summary = h('p', { id: 'picked', 'aria-live': 'polite' });
  const onSale = detail.status === 'published';
  // a queued sale books only with the admission its waiting room gave
  const queueNotice = onSale ? await panel(detail) : null;
  const admitted = admission(id);
  const bookable = onSale && (!detail.queue?.enabled || admitted);

  // the buyer's places on this event's waiting lists (newest first), and a box per ticket type
  // under its row (see waitlistBox), kept across redraws like the numbers typed
  let entries = onSale && session.get() ? await api('GET', `/v1/events/${id}/waitlist`).catch(() => []) : [];
  const lists = new Map();
  const drawList = (type) => {
    if (!lists.has(type.id)) lists.set(type.id, waitlistBox(id, type.id, { changed: enter, refused: reread }));
    const entry = entries.find((e) => e.ticket_type_id === type.id && e.status !== 'left');
    const box = lists.get(type.id);
    box.draw(type, onSale && type.status === 'active' ? entry : null, Number(qtys.get(type.id)?.value || 0));
    return box;
  };
  const qtys = new Map(); // kept across redraws, so a number typed stays when a code is applied
  const typeRow = (type) => {
    if (!qtys.has(type.id)) {
      const input = h('input', { type: 'number', min: 0, value: 0, name: `qty-${type.id}`, 'aria-label': `How many ${type.name}`, 'data-type': type.id, class: 'qty' });
      // more than are left: the waiting list is offered beside (only that box is drawn again,
      // so the field keeps the focus)
      input.addEventListener('input', () => { drawList(detail.ticket_types.find((t) => t.id === type.id) || type); sum(); });
      qtys.set(type.id, input);
    }
    const qty = qtys.get(type.id);
    qty.max = Math.min(10, type.available);
    const now = Date.now();
    const notYet = type.sale_at && Date.parse(type.sale_at) > now;
    const over = type.sale_end && Date.parse(type.sale_end) < now;
    let state = `${type.available} of ${type.number_seats} left`;
    if (type.available === 0) state = 'Sold out';
    if (notYet) state = `On sale ${whenText(type.sale_at, detail.time_zone)}`;
    if (over) state = 'Sale ended';
    qty.disabled = type.available === 0 || notYet || over || !bookable;
    const offered = promo?.prices.find((p) => p.ticket_type_id === type.id)?.price;
    const price = offered !== undefined && offered !== type.price
      ? [h('del', {}, h('span', { class: 'sr' }, 'was '), money(type.price, type.currency)), ' ', h('strong', { class: 'promo-price' }, h('span', { class: 'sr' }, 'now '), money(offered, type.currency))]
      : money(type.price, type.currency);
    const row = h('tr', { 'data-type': type.id },
      h('td', {}, h('strong', {}, type.name), type.description && h('div', { class: 'meta' }, type.description),
        promo?.unlocks.includes(type.id) && h('div', { class: 'meta unlocked' }, 'Unlocked by your promo code'),
        type.seat_mapped && h('div', { class: 'meta' }, 'Pick seats on the map, or a number for the best available.')),
      h('td', { class: 'num' }, price),
      h('td', { class: 'avail' }, state),
      h('td', { 'data-label': 'Number' }, qty));
    const list = drawList(type);
    return [row, h('tr', { class: 'waitlist-row', hidden: list.empty }, h('td', { colspan: 4 }, list))];
  };
  const rows = h('tbody');
  const drawTypes = () => fill(rows, detail.ticket_types.map(typeRow));
  drawTypes();
  /** An entry joined or left: kept, its box drawn again, and followed while it waits or is offered. */
  function enter(entry) {
    entries = [entry, ...entries.filter((e) => e.id !== entry.id)];
    drawTypes();
    follow();
  }
  /** A join refused because tickets are on sale after all: the types as they stand now. */
  async function reread() {
    const typed = promo ? promoInput.value.trim() : '';
    const fresh = await api('GET', `/v1/events/${id}${typed ? `?promo_code=${encodeURIComponent(typed)}` : ''}`).catch(() => null);
    if (!fresh) return;
    detail = fresh;
    drawTypes();
  }
  // an entry waiting or offered is read again every 3 s, and at once when the bell hears of an
  // offer, so the seats held for the buyer show up without a reload
  let following = null;
  const readEntries = async () => {
    try {
      const now = await api('GET', `/v1/events/${id}/waitlist`);
      if (JSON.stringify(now) === JSON.stringify(entries)) return;
      entries = now;
      drawTypes();
    } catch {
      // a failed read says nothing about the line: keep following
    }
    follow();
  };
  function follow() {
    const live = entries.some((e) => e.status === 'waiting' || e.status === 'offered');
    if (live && !following) following = setInterval(readEntries, 3000);
    if (!live && following) following = (clearInterval(following), null);
  }
  const offered = (event) => { if (event.detail.kind === 'waitlist_offered') readEntries(); };
  window.addEventListener('notification', offered);
  onLeave(() => {
    clearInterval(following);
    window.removeEventListener('notification', offered);
  });
  follow();

  const redraw = () => {
    const chosen = seats.filter((s) => picked.has(s.id)).sort((a, b) => natural(seatName(a), seatName(b)));
    fill(summary, chosen.length ? `Your seats: ${chosen.map(seatName).join(', ')}` : '');
    sum();
  };
  /** "2 tickets · $480.00" beside Book: seats picked, else the numbers typed, at the prices shown. */
  const total = h('span', { class: 'running-total', id: 'running-total', 'aria-live': 'polite' });
  function sum() {
    let count = 0;
    let amount = 0;
    for (const type of detail.ticket_types) {
      const n = seats.filter((s) => s.ticket_type_id === type.id && picked.has(s.id)).length || Number(qtys.get(type.id)?.value || 0);
      const price = promo?.prices.find((p) => p.ticket_type_id === type.id)?.price ?? type.price;
      count += n;
      amount += n * price;
    }
    fill(total, count ? [`${ticketCount(count)} · `, money(amount, currency)] : '');
  }
  const maps = h('div');
  const scrolls = [];
  const drawMaps = () => {
    for (const [type, scroll] of scrolls) {
      fill(scroll, drawSeatMap(seats.filter((s) => s.ticket_type_id === type.id), {
        picked,
        onToggle: (seat) => { picked.has(seat.id) ? picked.delete(seat.id) : picked.add(seat.id); redraw(); },
      }));
    }
    redraw();
    requestAnimationFrame(overflows);
  };
  const overflows = () => {
    for (const [, scroll] of scrolls) scroll.more.hidden = scroll.scrollWidth <= scroll.clientWidth + 1;
  };
  window.addEventListener('resize', overflows);
  onLeave(() => window.removeEventListener('resize', overflows));
  const addMap = (type) => {
    const scroll = h('div', { class: 'seatmap-scroll' });
    // on a phone the map is wider than the screen: said, since a scrollbar may not show
    const more = h('p', { class: 'meta seatmap-more', hidden: true }, 'Scroll sideways for more seats →');
    scroll.more = more;
    scrolls.push([type, scroll]);
    maps.append(h('section', { class: 'card' },
      h('h2', {}, `Seat map: ${type.name}`), legend(true),
      h('p', { class: 'meta keyboard-hint' }, 'With a keyboard: Tab to the map, move between free seats with the arrow keys, and pick one with Space or Enter.'),
      scroll, more));
  };
  mapped.forEach(addMap);
  drawMaps();
  /** After a seat was taken: the map as it is now, and only free seats still picked. */
  const reloadSeats = async () => {
    seats = await readSeats();
    for (const seat of seats) if (seat.status !== 'free') picked.delete(seat.id);
    drawMaps();
  };

  // the promo code: Apply shows its prices and the hidden types it opens; Book sends it
  const promoInput = h('input', { name: 'promo_code', id: 'promo-code', autocomplete: 'off', maxlength: 40, value: code });
  const promoNote = h('div', { id: 'promo-note', 'aria-live': 'polite' });
  const apply = async () => {
    const typed = promoInput.value.trim();
    atFields(promoBox, null);
    fill(promoNote);
    try {
      detail = typed ? await api('GET', `/v1/events/${id}?promo_code=${encodeURIComponent(typed)}`) : base;
      promo = detail.promo || null;
    } catch (error) {
      [detail, promo] = [base, null];
      if (error.status !== 422 || atFields(promoBox, error).length) report(promoNote, error);
    }
    const opened = detail.ticket_types.filter((t) => t.seat_mapped && !mapped.some((m) => m.id === t.id));
    if (opened.length) {
      mapped.push(...opened);
      opened.forEach(addMap);
      await reloadSeats().catch(() => {});
    }
    drawTypes();
    sum();
    if (promo) {
      const names = (ids) => detail.ticket_types.filter((t) => ids.includes(t.id)).map((t) => t.name).join(', ');
      const on = promo.ticket_type_ids.length ? ` on ${names(promo.ticket_type_ids)}` : '';
      fill(promoNote, h('p', { class: 'notice', role: 'status', id: 'promo-applied' },
        h('strong', {}, promo.code), ': ', promo.percent_off || promo.amount_off ? `${discount(promo, currency)}${on}. The prices above include it.` : 'applied.',
        promo.unlocks.length ? ` It opens ${names(promo.unlocks)}.` : ''));
    }
  };
  promoInput.addEventListener('keydown', (e) => {
    // Enter applies the code rather than booking
    if (e.key === 'Enter') { e.preventDefault(); apply(); }
  });
  const promoBox = h('div', { class: 'row promo' },
    h('div', {}, h('label', { for: 'promo-code' }, 'Promo code'), promoInput),
    h('button', { type: 'button', class: 'secondary', onclick: apply }, 'Apply'));

  const form = h('form', { class: 'card' },
    h('h2', {}, 'Tickets'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'stack' }, h('thead', {}, h('tr', {}, h('th', {}, 'Ticket'), h('th', { class: 'num' }, 'Price'), h('th', {}, 'Availability'), h('th', {}, 'Number'))), rows)),
    bookable && [promoBox, promoNote],
    maps, summary, slot,
    h('div', { class: 'actions' }, h('button', { type: 'submit', disabled: !bookable }, 'Book'), total));
  let key = newKey();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const promoCode = promoInput.value.trim();
    if (!session.get()) {
      sessionStorage.setItem(kept, JSON.stringify([...picked]));
      if (promoCode) sessionStorage.setItem(keptCode, promoCode);
      return go(`/login?next=/events/${id}`);
    }
    const items = detail.ticket_types.map((type) => {
      const seatIds = seats.filter((s) => s.ticket_type_id === type.id && picked.has(s.id)).map((s) => s.id);
      const qty = Number(qtys.get(type.id).value || 0);
      if (seatIds.length) return { ticket_type_id: type.id, seats: seatIds };
      if (qty > 0) return { ticket_type_id: type.id, qty };
      return null;
    }).filter(Boolean);
    if (!items.length) return report(slot, new Error('Choose seats on the map or how many tickets you want.'));
    atFields(promoBox, null);
    fill(promoNote, promoNote.querySelector('#promo-applied'));
    busy(form, slot, async () => {
      try {
        const hold = { event_id: id, items };
        if (admitted) hold.admission_token = admitted.token;
        if (promoCode) hold.promo_code = promoCode;
        const booking = await api('POST', '/v1/bookings/hold', hold, { idempotencyKey: key });
        go(`/bookings/${booking.id}`);
      } catch (error) {
        // the API keeps a refusal under its key, so the next press is a request of its own
        if (error.status >= 400 && error.status < 500 && error.code !== 'request_in_progress') key = newKey();
        // what is wrong with the code is said at its field
        if (error.status === 422 && error.details.some((d) => d.field === 'promo_code') && !atFields(promoBox, error).length) return;
        if (error.code === 'promo_code_used_up') {
          fill(promoNote, h('p', { class: 'field-error', role: 'alert', id: 'promo-used-up' }, 'Every use of this promo code is taken: book without it, or try another code.'));
          return;
        }
        if (error.code !== 'seat_taken') throw error;
        await reloadSeats().catch(() => {});
        throw new Error(seatsTaken(error));
      }
    });
  });

  pageTitle(detail.name);
  fill(main,
    detail.banner && h('img', { src: detail.banner, alt: '', class: 'hero' }),
    h('span', { class: 'tag' }, detail.category),
    h('h1', {}, detail.name),
    detail.title && detail.title !== detail.name && h('p', { class: 'meta' }, detail.title),
    h('p', {}, h('strong', {}, when(detail.start_at, detail.time_zone)), ' – ', when(detail.end_at, detail.time_zone)),
    h('p', {}, detail.location),
    !onSale && h('div', { role: 'alert' }, detail.status === 'cancelled' ? 'This event is cancelled.' : 'This event is not on sale.'),
    h('p', { class: 'description' }, detail.description),
    queueNotice,
    form);
  if (code && bookable) await apply();
  live();

  /**
   * Every 2 s while the tab is seen: the event (and its seats) read again, revalidated with their
   * ETags so an unchanged hall costs a 304; a change redraws availability and the maps in place,
   * keeping the picks, the numbers typed and the focus, and a pick someone else took is dropped
   * with a word why.
   */
  function live() {
    const cue = h('p', { class: 'meta live-cue', id: 'live-cue', 'aria-live': 'polite' });
    const lost = h('div', { id: 'seats-lost' });
    form.insertBefore(lost, slot);
    form.insertBefore(cue, slot);
    let reading = false;
    const read = async () => {
      if (document.hidden || reading || !main.contains(form)) return;
      reading = true;
      try {
        const typed = promo ? promoInput.value.trim() : '';
        const [fresh, freshSeats] = await Promise.all([
          api('GET', `/v1/events/${id}${typed ? `?promo_code=${encodeURIComponent(typed)}` : ''}`, undefined, { cache: 'no-cache' }),
          mapped.length ? api('GET', `/v1/events/${id}/seats`, undefined, { cache: 'no-cache' }).then((a) => a.seats) : [],
        ]);
        const typesChanged = JSON.stringify(fresh.ticket_types) !== JSON.stringify(detail.ticket_types);
        const seatsChanged = JSON.stringify(freshSeats) !== JSON.stringify(seats);
        if (!typesChanged && !seatsChanged) return;
        const focused = document.activeElement;
        const focusedSeat = focused?.closest?.('svg.seatmap') ? focused.getAttribute('data-id') : null;
        if (typesChanged) {
          detail = fresh;
          drawTypes();
        }
        if (seatsChanged) {
          seats = freshSeats;
          const gone = seats.filter((s) => picked.has(s.id) && s.status !== 'free');
          for (const seat of gone) picked.delete(seat.id);
          drawMaps();
          if (gone.length) {
            const names = gone.map(seatName).sort(natural).join(', ');
            fill(lost, h('p', { class: 'notice', role: 'alert' },
              `${names} ${gone.length > 1 ? 'were' : 'was'} just taken by someone else; pick another seat.`));
          }
        }
        // a redraw moves the elements: the focus goes back where it was
        if (focusedSeat) maps.querySelector(`rect[data-id="${focusedSeat}"]`)?.focus();
        else if (focused && focused !== document.activeElement && focused.isConnected) focused.focus();
        cue.textContent = `Updated ${new Date().toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })}`;
      } catch {
        // one failed read says nothing: the next one tries again
      } finally {
        reading = false;
      }
    };
    const timer = setInterval(read, 2000);
    const seen = () => { if (!document.hidden) read(); };
    document.addEventListener('visibilitychange', seen);
    onLeave(() => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', seen);
    });
  }
}

/** Seat labels in the order people count them: B6, B7, B10 (not B10, B6). */
const collator = new Intl.Collator(undefined, { numeric: true });
const natural = (a, b) => collator.compare(a, b);

/** Admissions in one booking at most (booking.max_per_order, as the Number fields allow). */
const MAX_ORDER = 10;

/** "14:05": an ISO time as hours and minutes in the buyer's time zone. */
const clockTime = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** "1 ticket", "3 tickets". */
const ticketCount = (n) => `${n} ticket${n === 1 ? '' : 's'}`;

/**
 * A ticket type's waiting list on the event page. `draw(type, entry, wanted)` shows, for the
 * buyer's newest `entry` of the type: their place in line and "Leave" (waiting), the seats held
 * for them with a link to pay (offered), bought or lapsed in words; without one, "Join the
 * waiting list" with a quantity when the type is sold out or has fewer left than the `wanted`
 * typed in its Number field (signed out, it leads to log in). `changed(entry)` gets the entry a
 * join or a leave answered; `refused()` runs when a join was refused because the type is on sale
 * after all. Refusals are said in the box, a 422's at its quantity. `empty` when it shows nothing.
 */
function waitlistBox(eventId, typeId, { changed, refused }) {
  const content = h('div', { tabindex: -1 }); // focused after a join or a leave, whose button it replaces
  const slot = h('div');
  const box = h('div', { class: 'waitlist', 'data-waitlist': typeId }, h('div', { 'aria-live': 'polite' }, content), slot);
  const qty = h('input', { type: 'number', name: 'qty', id: `waitlist-qty-${typeId}`, min: 1, value: 1, class: 'qty' });
  let typed = 0; // the Number field's value the quantity was last set from
  /** The box's row is shown while the box says something. */
  const reveal = () => {
    box.empty = !content.childElementCount && !slot.childElementCount;
    const row = box.closest('tr');
    if (row) row.hidden = box.empty;
  };
  const join = async () => {
    if (!session.get()) return go(`/login?next=/events/${eventId}`);
    await busy(box, slot, async () => {
      try {
        changed(await api('POST', `/v1/events/${eventId}/waitlist`, { ticket_type_id: typeId, qty: Number(qty.value || 0) }));
        content.focus();
      } catch (error) {
        // on sale after all: the types as they stand, the Number field open again
        if (error.code === 'not_sold_out') await refused();
        throw error;
      }
    }, { atFields: true });
    reveal();
  };
  // Enter in the quantity joins, rather than submitting the booking form around it
  qty.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); join(); } });
  const joinButton = h('button', { type: 'button', onclick: join }, 'Join the waiting list');
  // made once, so a refusal under the quantity stays through a redraw
  const joining = h('div', { class: 'waitlist-join' }, h('label', { for: qty.id }, 'Tickets wanted'), qty, joinButton);
  const leave = (entry, question) => {
    if (question && !window.confirm(question)) return;
    busy(box, slot, async () => {
      changed(await api('DELETE', `/v1/events/${eventId}/waitlist/${entry.id}`));
      content.focus();
    });
  };
  box.draw = (type, entry, wanted) => {
    const now = Date.now();
    const selling = !(type.sale_at && Date.parse(type.sale_at) > now) && !(type.sale_end && Date.parse(type.sale_end) < now);
    const many = entry && entry.qty > 1 ? ` (${ticketCount(entry.qty)})` : '';
    let shown = null;
    if (entry?.status === 'waiting') {
      shown = [
        h('p', { class: 'waitlist-state' }, h('strong', {}, `You're number ${entry.position} on the waiting list for ${type.name}`), `${many}.`,
          h('span', { class: 'meta' }, ' When seats come back they are held for you, and you are told here and by mail.')),
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Leave the waiting list for ${type.name}`, onclick: () => leave(entry) }, 'Leave'),
      ];
    } else if (entry?.status === 'offered') {
      shown = [
        h('p', { class: 'waitlist-state offered' }, h('strong', {}, `Seats are held for you until ${clockTime(entry.offer_expires_at)}`), ' — ',
          h('a', { href: `/bookings/${entry.booking_id}`, class: 'pay-offer' }, 'pay now'),
          h('span', { class: 'meta' }, ` ${ticketCount(entry.qty)} of ${type.name} from the waiting list; after that they go to the next in line.`)),
        h('button', { type: 'button', class: 'link', onclick: () => leave(entry, `Give up the ${type.name} seats held for you? They go to the next in line.`) }, 'Give them up'),
      ];
    } else if (entry?.status === 'bought') {
      shown = h('p', { class: 'waitlist-state bought' }, `You bought ${ticketCount(entry.qty)} of ${type.name} from the waiting list. `,
        entry.booking_id && h('a', { href: `/bookings/${entry.booking_id}` }, 'See the booking'));
    } else if (selling && (type.available === 0 || wanted > type.available)) {
      if (wanted > type.available && wanted !== typed) qty.value = wanted;
      typed = wanted;
      qty.max = Math.min(MAX_ORDER, type.number_seats, type.max_per_user || MAX_ORDER);
      shown = [
        entry?.status === 'lapsed' && h('p', { class: 'waitlist-state lapsed' }, `The seats held for you from the waiting list for ${type.name} were not paid in time and went to the next in line.`),
        h('p', {}, type.available === 0 ? `${type.name} is sold out.` : `Only ${type.available} ${type.name} left.`,
          ' Join the waiting list: when seats come back, they are held for you.'),
        joining,
      ];
      joinButton.setAttribute('aria-label', `Join the waiting list for ${type.name}`);
    }
    // what is said in the slot was about the control being replaced
    if (!shown || entry) atFields(box, null);
    fill(content, shown);
    reveal();
  };
  return box;
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

/**
 * The hold's clock, and a minute before it ends a warning (said at once to a screen reader) with
 * "Keep my seats 5 more minutes", which extends the hold while the API allows it; the clock then
 * runs from the answer's `expired_at`.
 */
function countdown(booking, onExpired) {
  const clock = h('p', { class: 'countdown', id: 'countdown', role: 'timer', 'aria-live': 'off' });
  const warning = h('div', { id: 'hold-warning' });
  let warned = false;
  const extend = async (button, said) => {
    button.disabled = true;
    try {
      const now = await api('POST', `/v1/bookings/${booking.id}/extend`);
      booking.expired_at = now.expired_at;
      booking.extensions_left = now.extensions_left;
      warned = false;
      const minutes = Math.round((Date.parse(now.expired_at) - Date.now()) / 60000);
      fill(warning, h('p', { class: 'notice', role: 'status', id: 'hold-extended' },
        `Your seats are held for ${minutes} more minute${minutes === 1 ? '' : 's'}.`,
        now.extensions_left > 0 ? ` You can do this ${now.extensions_left} more time${now.extensions_left === 1 ? '' : 's'}.` : ' You cannot keep them longer than that.'));
      tick();
    } catch (error) {
      button.disabled = false;
      fill(said, error.status === 409
        ? 'Your seats cannot be kept any longer: finish paying before the time runs out.'
        : error.message);
    }
  };
  const tick = () => {
    const left = Math.max(0, Math.round((Date.parse(booking.expired_at) - Date.now()) / 1000));
    clock.textContent = `${String(Math.floor(left / 60)).padStart(2, '0')}:${String(left % 60).padStart(2, '0')}`;
    clock.classList.toggle('low', left < 120);
    if (left > 0 && left <= 60 && !warned) {
      warned = true;
      const said = h('p', { class: 'field-error', 'aria-live': 'polite' });
      const button = h('button', { type: 'button', id: 'keep-seats' }, 'Keep my seats 5 more minutes');
      button.addEventListener('click', () => extend(button, said));
      const canExtend = booking.extensions_left === undefined || booking.extensions_left > 0;
      fill(warning, h('div', { class: 'notice warning', role: 'alert' },
        h('p', {}, h('strong', {}, 'Your hold ends in 1 minute.')),
        canExtend ? h('div', { class: 'actions' }, button) : h('p', {}, 'Finish paying now: your seats cannot be kept any longer.'),
        said));
    }
    if (left === 0) {
      clearInterval(timer);
      onExpired();
    }
  };
  const timer = setInterval(tick, 1000);
  onLeave(() => clearInterval(timer));
  tick();
  return [clock, warning];
}

function lines(booking, types) {
  const name = (id) => types.get(id)?.name || 'Ticket';
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('tbody', {},
      booking.items.map((item) => h('tr', {},
        h('td', {}, `${item.qty} × ${name(item.ticket_type_id)}`, item.returned ? h('span', { class: 'meta' }, ` (${item.returned} refunded)`) : ''),
        h('td', { class: 'num' }, money(item.price * item.qty, booking.currency)))),
      booking.seats.length ? h('tr', {}, h('td', { colspan: 2 }, 'Seats: ', booking.seats.map(seatName).sort(natural).join(', '))) : null,
      booking.promo_code ? h('tr', {}, h('td', { colspan: 2 }, 'Promo code ', h('strong', {}, booking.promo_code), ': the prices include it')) : null,
      h('tr', {}, h('th', {}, 'Total'), h('th', { class: 'num' }, money(booking.total_price, booking.currency))))));
}

/**
 * What is paid for and not refunded: what cancelling gives back. `refunded` grows the moment a
 * refund is asked (and leaves out failed ones); `returned` once the seats are back on sale.
 */
const refundable = (booking) => Math.min(booking.total_price - booking.refunded,
  booking.items.reduce((sum, item) => sum + (item.qty - item.returned) * item.price, 0));

/**
 * What the buyer's cancel gives back: of what is refundable, only the buyer's own tickets still
 * valid (`mine`: theirs of this booking), since a ticket given to someone else is its new
 * holder's and one used at the door is spent. Before the tickets are issued, the booking's count.
 */
function cancelGives(booking, mine) {
  if (!mine?.length) return refundable(booking);
  const price = (type) => booking.items.find((item) => item.ticket_type_id === type)?.price || 0;
  return Math.min(refundable(booking), mine.filter((t) => t.status === 'valid').reduce((sum, t) => sum + price(t.ticket_type_id), 0));
}

/**
 * A paid booking's refunds: each with how it stands in words, followed live while one is on its
 * way; and what the buyer may do, "Cancel and refund" while the event's refund_until has not
 * passed, else said plainly. `changed(booking)` runs after a cancel, and when a refund or the
 * booking's status moves on. `mine`: the buyer's tickets of the booking (see cancelGives).
 */
async function refundBox(booking, changed, mine) {
  const box = h('div', { class: 'refund', 'data-refund': booking.id });
  const slot = h('div');
  const list = h('div', { class: 'refunds', 'aria-live': 'polite' });
  let refunds = [];
  const drawRefunds = () => fill(list, refunds.map((r) => h('p', { class: `refund-line ${r.status}`, 'data-status': r.status },
    h('strong', {}, `Refund of ${money(r.amount, r.currency)}: ${refundState(r.status)}`),
    r.status === 'failed' ? ' — the organizer has been told.' : r.status === 'pending' ? ' (back the way you paid).' : '.',
    h('span', { class: 'meta' }, ` ${r.tickets.length} ticket${r.tickets.length === 1 ? '' : 's'}, because ${r.reason} · ${whenText(r.created_at)}`))));
  const touched = booking.status === 'refunded' || booking.refunded > 0 || booking.items.some((i) => i.returned > 0);
  if (booking.payment && touched) {
    const payment = await api('GET', `/v1/payments/${booking.payment.id}`).catch(() => null);
    refunds = payment?.refunds || [];
    box.dataset.refundStatus = payment?.refund_status || '';
    drawRefunds();
    if (refunds.some((r) => r.status === 'pending') || (booking.status === 'confirmed' && refundable(booking) <= 0)) {
      // on its way: follow it until the provider's answer (and the booking's new status) is in
      const timer = setInterval(async () => {
        try {
          const [now, paid] = await Promise.all([api('GET', `/v1/bookings/${booking.id}`), api('GET', `/v1/payments/${booking.payment.id}`)]);
          if (JSON.stringify(paid.refunds) !== JSON.stringify(refunds) || now.status !== booking.status) {
            clearInterval(timer);
            changed(now);
          }
        } catch {
          // a failed read says nothing about the refund: keep following
        }
      }, 2000);
      onLeave(() => clearInterval(timer));
    }
  }
  let offer = null;
  const left = cancelGives(booking, mine);
  if (booking.status === 'confirmed' && left > 0) {
    const until = booking.refund_until;
    if (!until) offer = h('p', { class: 'meta refund-policy' }, 'Refunds are not offered for this event.');
    else if (Date.parse(until) <= Date.now()) offer = h('p', { class: 'meta refund-policy' }, `Refunds closed on ${whenText(until)}.`);
    else {
      offer = [
        h('p', { class: 'refund-policy' }, `You can cancel until ${whenText(until)} and get ${money(left, booking.currency)} back.`),
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'danger', onclick: () => {
          if (!window.confirm(`Cancel this booking? Its tickets stop working at once. You'll get ${money(left, booking.currency)} back.`)) return;
          busy(box, slot, async () => changed(await api('POST', `/v1/bookings/${booking.id}/cancel`, {})));
        } }, 'Cancel and refund')),
      ];
    }
  }
  if (!refunds.length && !offer) return null; // nothing to say (a free booking)
  fill(box, list, offer, slot);
  return box;
}

const METHODS = [['card', 'Card'], ['bank_transfer', 'Bank transfer'], ['ewallet', 'E-wallet']];

/**
 * What each admission of a booking is, in its admission order (items in order, then seats in
 * order): "Stalls A1" for a seat, the type's name for general admission.
 */
function admissions(booking, types) {
  const out = [];
  for (const item of booking.items) {
    if (types.get(item.ticket_type_id)?.seat_mapped) continue;
    for (let i = 0; i < item.qty; i++) out.push(types.get(item.ticket_type_id)?.name || 'General admission');
  }
  return [...out, ...booking.seats.map(seatName)];
}

/** An information refusal with its fields' messages in the site's words. */
function humane(error) {
  const words = { phone: 'Give a phone number of 5 to 20 digits.', email: 'Give an email address like name@example.com.' };
  error.details = (error.details || []).map((d) => {
    if (words[d.field]) return { ...d, message: words[d.field] };
    if (d.field === 'attendees') return { ...d, field: 'attendees[0]', message: 'Give a name for each ticket.' };
    if (/^attendees\[\d+\]$/.test(d.field)) return { ...d, message: 'Give the name to print on this ticket (at most 100 characters).' };
    return d;
  });
  return error;
}

export async function booking(main, id) {
  const booking = await api('GET', `/v1/bookings/${id}`);
  const detail = await api('GET', `/v1/events/${booking.event_id}`).catch(() => null);
  pageTitle(detail ? `Your booking: ${detail.name}` : 'Your booking');
  const types = new Map((detail?.ticket_types || []).map((t) => [t.id, t]));
  const slot = h('div');
  const status = h('span', { class: `status ${booking.status}`, id: 'booking-status' }, booking.status.replace('_', ' '));
  const head = [
    h('h1', {}, detail ? detail.name : 'Your booking'),
    h('p', {}, 'Booking ', h('strong', { id: 'booking-code' }, booking.booking_code), ' · ', status),
    detail && h('p', { class: 'meta' }, when(detail.start_at, detail.time_zone), ' · ', detail.location),
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
      detail?.attendee_names && h('fieldset', { class: 'attendees' }, h('legend', {}, 'Names on the tickets'),
        admissions(booking, types).map((what, i) => field(`Name on ticket ${i + 1} (${what})`,
          { name: `attendees[${i}]`, required: true, maxlength: 100, autocomplete: i === 0 ? 'name' : 'off', value: info.attendees?.[i] || '' }))),
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
        const about = { email: data.email, phone: data.phone || null, address: data.address || null };
        if (detail?.attendee_names) about.attendees = Object.keys(data).filter((k) => k.startsWith('attendees[')).map((k) => data[k].trim());
        try {
          await api('POST', `/v1/bookings/${id}/information`, about);
        } catch (error) {
          // said at the fields, in words
          if (error.status === 422 && atFields(form, humane(error)).length === 0) return;
          throw humane(error);
        }
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
      h('div', { class: 'card' }, h('p', {}, booking.seats.length ? 'Your seats are held for you for' : 'Your tickets are held for you for'), countdown(booking, expired), h('p', { class: 'meta' }, 'Finish before the time runs out, or they go back on sale.')),
      booking.payment?.status === 'failed'
        ? h('div', { class: 'notice declined', role: 'alert', id: 'declined' }, 'Your payment was declined. Nothing was charged. You can try again while your seats are held.')
        : booking.status === 'pending_payment' && h('div', { class: 'notice' }, 'A payment was started. ', booking.payment?.checkout_url && h('a', { href: booking.payment.checkout_url }, 'Continue to the payment page'), ' or choose another method below.'),
      form);
    watch(id, booking.status, { poll: booking.status === 'pending_payment' });
    return;
  }

  if (booking.status === 'confirmed' || booking.status === 'refunded') {
    const list = h('div', { class: 'tickets', id: 'booking-tickets' });
    const waiting = h('p', { class: 'meta', 'aria-live': 'polite' }, 'Your tickets are being issued…');
    const mine = await ticketsOf(id).catch(() => []);
    // refunded, but for the tickets given to someone else (theirs, still admitting them)
    const given = mine.some((t) => t.status === 'transferred');
    const kept = mine.filter((t) => t.status === 'valid' || t.status === 'checked_in').length;
    const refundedAll = booking.status === 'refunded' || (booking.refunded > 0 && (refundable(booking) <= 0 || (mine.length > 0 && !kept)));
    // the refund section, drawn again when a ticket is given away from this page (what
    // cancelling gives back shrinks)
    const refund = h('div');
    const drawRefund = async (tickets) => {
      const box = await refundBox(booking, () => go(`/bookings/${id}`, { replace: true, focus: false }), tickets);
      fill(refund, box && h('section', { class: 'card', id: 'refund' }, h('h2', {}, 'Refund'), box));
    };
    await drawRefund(mine);
    const gaveAway = async () => drawRefund(await ticketsOf(id).catch(() => []));
    fill(main, ...head,
      refundedAll
        ? h('div', { class: 'notice', role: 'status', id: 'refunded' }, booking.status !== 'refunded' && given
          ? 'Your tickets of this booking were refunded and no longer admit anyone; the ones you gave away still admit their new holders.'
          : 'This booking was refunded: its tickets no longer admit anyone.')
        : h('div', { class: 'notice', role: 'status' }, 'Payment received. Enjoy the event!'),
      refund,
      h('h2', {}, 'Your tickets'), waiting, list,
      h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: '/tickets' }, 'All my tickets'), h('button', { type: 'button', onclick: () => window.print() }, 'Print')));
    const show = async () => {
      const mine = await ticketsOf(id);
      if (mine.length >= booking.number_seats) {
        waiting.remove();
        fill(list, await Promise.all(mine.map((t) => ticketCard(t, undefined, gaveAway))));
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

/** The buyer's tickets of every booking, or of `bookingId` only. */
async function ticketsOf(bookingId) {
  const found = [];
  let token = null;
  do {
    const page = await api('GET', `/v1/tickets?limit=100${token ? `&next_token=${encodeURIComponent(token)}` : ''}`);
    found.push(...page.data.filter((t) => !bookingId || t.booking_id === bookingId));
    token = page.next_token;
  } while (token);
  return found;
}

const TICKET_STATUS = { void: 'refunded', checked_in: 'checked in' };

/**
 * A ticket: its QR while it admits someone; "Refunded" or "Transferred to …" without one
 * (`to`, or the API's `transferred_to`, is the new holder's address). A valid ticket of an event
 * not yet started can be given to someone else ("Transfer"); `gaveAway()` runs after that.
 */
async function ticketCard(ticket, to = ticket.transferred_to, gaveAway) {
  const live = ticket.status === 'valid' || ticket.status === 'checked_in';
  let qr = null;
  if (live) {
    try {
      qr = h('img', { class: 'qr', src: await imageUrl(ticket.qr_url), alt: `QR code of ticket ${ticket.admission_no}` });
    } catch (error) {
      qr = errorBox(error);
    }
  }
  const gone = {
    void: [h('p', { class: 'ticket-state' }, h('strong', {}, 'Refunded')), h('p', { class: 'meta' }, 'This ticket no longer admits anyone.')],
    transferred: [h('p', { class: 'ticket-state' }, h('strong', {}, to ? `Transferred to ${to}` : 'Transferred to someone else')),
      h('p', { class: 'meta' }, 'Its code no longer admits anyone; the new holder got a ticket of their own by mail.')],
  }[ticket.status];
  const card = h('article', { class: `card ticket ${ticket.status}`, 'data-ticket': ticket.id },
    h('h3', {}, ticket.event.name),
    h('p', { class: 'meta' }, when(ticket.event.start_at, ticket.event.time_zone), ' · ', ticket.event.location),
    h('p', {}, ticket.seat
      // the section is often named like the type: said once
      ? `${ticket.seat.section === ticket.ticket_type_name ? '' : `${ticket.ticket_type_name} · `}${ticket.seat.section}, row ${ticket.seat.row}, seat ${ticket.seat.label}`
      : `${ticket.ticket_type_name} · general admission`),
    ticket.attendee_name && h('p', { class: 'attendee' }, 'For ', h('strong', {}, ticket.attendee_name)),
    qr,
    live && ticket.short_code && h('p', { class: 'short-code' }, 'Code ', h('strong', { class: 'code' }, ticket.short_code)),
    gone,
    h('p', { class: 'meta' }, 'Booking ', ticket.booking_code, ' · ', h('span', { class: `status ${ticket.status}` }, TICKET_STATUS[ticket.status] || ticket.status)),
    live && h('code', {}, ticket.code),
    live && h('div', { class: 'actions no-print' },
      h('button', { type: 'button', class: 'secondary download-pdf', onclick: (e) => downloadPdf(ticket, e.currentTarget) }, 'Download PDF'),
      h('a', { class: 'button secondary add-calendar', href: `/v1/events/${ticket.event.id || ticket.event_id}/calendar.ics`, download: `${ticket.event.name}.ics` }, 'Add to calendar')));
  if (ticket.status === 'valid' && Date.parse(ticket.event.start_at) > Date.now()) card.append(transfer(ticket, card, gaveAway));
  return card;
}

/** The ticket as a PDF (the API needs the bearer token, so fetched and handed over as a file). */
async function downloadPdf(ticket, button) {
  const said = button.parentElement.querySelector('.field-error') || h('p', { class: 'field-error', role: 'alert' });
  button.disabled = true;
  try {
    const url = await imageUrl(`/v1/tickets/${ticket.id}/ticket.pdf`);
    const link = h('a', { href: url, download: `ticket-${ticket.short_code || ticket.admission_no}.pdf`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    said.remove();
  } catch {
    fill(said, 'The PDF could not be made just now; try again in a moment.');
    button.after(said);
  } finally {
    button.disabled = false;
  }
}

/** "Transfer": a small form giving the ticket to another address; the card is redrawn after. */
function transfer(ticket, card, gaveAway) {
  const open = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-label': `Transfer ticket ${ticket.admission_no}` }, 'Transfer');
  const slot = h('div');
  const form = h('form', { class: 'transfer', hidden: true },
    field('Email of the new holder', { name: 'email', id: `transfer-${ticket.id}`, type: 'email', required: true, autocomplete: 'off' }),
    h('p', { class: 'meta' }, 'They get a new code by mail, and this one stops working at once.'),
    slot,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Transfer ticket'), h('button', { type: 'button', class: 'secondary', onclick: () => toggle(false) }, 'Keep it')));
  const toggle = (shown) => {
    form.hidden = !shown;
    open.hidden = shown;
    open.setAttribute('aria-expanded', String(shown));
    (shown ? form.querySelector('input') : open).focus();
  };
  open.addEventListener('click', () => toggle(true));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const to = formData(form).email.trim();
    if (!window.confirm(`Give this ticket to ${to}? This cannot be undone: its code stops working now.`)) return;
    busy(form, slot, async () => {
      const done = await api('POST', `/v1/tickets/${ticket.id}/transfer`, { email: to }).catch((error) => {
        // used, refunded, given away meanwhile, or the event started: said in words
        throw error.status === 409 ? new Error(`This ticket can no longer be transferred: ${error.message}.`) : error;
      });
      const next = await ticketCard(done.ticket, done.to_email);
      next.tabIndex = -1;
      card.replaceWith(next);
      next.focus();
      await gaveAway?.().catch(() => {});
    }, { atFields: true });
  });
  return h('div', { class: 'no-print' }, open, form);
}

export async function bookings(main) {
  const list = h('div');
  const more = h('div', { class: 'actions' });
  fill(main, h('h1', {}, 'My bookings'), list, more);
  const names = new Map();
  let mine = null; // the buyer's tickets, read once for what cancelling gives back
  const load = async (token) => {
    const page = await api('GET', `/v1/bookings?limit=20${token ? `&next_token=${encodeURIComponent(token)}` : ''}`);
    if (!token && !page.data.length) fill(list, h('p', {}, 'No bookings yet. ', h('a', { href: '/' }, 'Find an event.')));
    if (!mine && page.data.some((b) => b.status === 'confirmed')) mine = await ticketsOf().catch(() => []);
    for (const b of page.data) {
      if (!names.has(b.event_id)) names.set(b.event_id, api('GET', `/v1/events/${b.event_id}`).then((e) => e.name, () => 'An event'));
      list.append(await bookingCard(b, await names.get(b.event_id), (mine || []).filter((t) => t.booking_id === b.id)));
    }
    fill(more, page.next_token && h('button', { type: 'button', class: 'secondary', onclick: () => load(page.next_token) }, 'More'));
  };
  await load();
}

/** A booking in "My bookings"; a paid one with its refunds and "Cancel and refund" (`mine`: its tickets). */
async function bookingCard(b, name, mine) {
  const card = h('article', { class: 'card', 'data-booking': b.id },
    h('h2', {}, h('a', { href: `/bookings/${b.id}` }, name)),
    h('p', {}, b.booking_code, ' · ', h('span', { class: `status ${b.status}` }, b.status.replace('_', ' ')), ' · ', `${b.number_seats} admission${b.number_seats === 1 ? '' : 's'}`, ' · ', money(b.total_price, b.currency)),
    h('p', { class: 'meta' }, 'Held ', when(b.held_at)),
    (b.status === 'confirmed' || b.status === 'refunded') && await refundBox(b, async (now) => card.replaceWith(await bookingCard(now, name, await ticketsOf(now.id).catch(() => []))), mine));
  return card;
}

export async function tickets(main) {
  const list = h('div', { class: 'tickets' });
  const more = h('div', { class: 'actions no-print' });
  fill(main, h('h1', {}, 'My tickets'), h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => window.print() }, 'Print')), list, more);
  const load = async (token) => {
    const page = await api('GET', `/v1/tickets?limit=20${token ? `&next_token=${encodeURIComponent(token)}` : ''}`);
    if (!token && !page.data.length) fill(list, h('p', {}, 'No tickets yet: they appear here once a booking is paid.'));
    list.append(...(await Promise.all(page.data.map((t) => ticketCard(t)))));
    fill(more, page.next_token && h('button', { type: 'button', class: 'secondary', onclick: () => load(page.next_token) }, 'More'));
  };
  await load();
}
