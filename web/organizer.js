// The organizer's pages: their events, the editor (event and its refund policy, ticket types,
// promo codes, seat maps, publish), a live sales page with the waiting list and the refunds, the
// attendee list (a ticket refunded from it), and the check-in desk at the door.
import { api, imageUrl } from './api.js';
import { h, fill, money, toMinor, toMajor, when, localInput, busy, field, formData, report, discount, refundState, CATEGORIES } from './dom.js';
import { drawSeatMap, legend } from './seatmap.js';
import { go, onLeave } from './app.js';

export async function events(main) {
  const list = h('tbody');
  const more = h('div', { class: 'actions' });
  fill(main, h('h1', {}, 'Your events'),
    h('div', { class: 'actions' }, h('a', { class: 'button', href: '/organizer/events/new' }, 'New event'), h('a', { class: 'button secondary', href: '/organizer/checkin' }, 'Check-in desk')),
    h('div', { class: 'table-wrap' }, h('table', { class: 'stack' }, h('thead', {}, h('tr', {}, h('th', {}, 'Event'), h('th', {}, 'Starts'), h('th', {}, 'Status'), h('th', {}, ''))), list)), more);
  const load = async (token) => {
    const page = await api('GET', `/v1/admin/events?limit=20${token ? `&next_token=${encodeURIComponent(token)}` : ''}`);
    if (!token && !page.data.length) list.append(h('tr', {}, h('td', { colspan: 4 }, 'No events yet: create your first one.')));
    list.append(...page.data.map((e) => h('tr', {},
      h('td', {}, h('a', { href: `/organizer/events/${e.id}` }, e.name)),
      h('td', {}, when(e.start_at)),
      h('td', { class: `status ${e.status}` }, e.status),
      h('td', {}, h('a', { href: `/organizer/events/${e.id}/sales` }, 'Sales')))));
    fill(more, page.next_token && h('button', { type: 'button', class: 'secondary', onclick: () => load(page.next_token) }, 'More'));
  };
  await load();
}

function eventForm(event) {
  const e = event || {};
  return h('form', { class: 'card', id: 'event-form' },
    field('Name', { name: 'name', required: true, maxlength: 200, value: e.name || '' }),
    field('Title (a line under the name)', { name: 'title', value: e.title || '' }),
    field('Description', { name: 'description', value: e.description || '' }, 'textarea'),
    h('div', { class: 'row' },
      field('Category', { name: 'category', value: e.category || 'music', options: CATEGORIES.map((c) => [c, c]) }, 'select'),
      field('Venue and city', { name: 'location', required: true, value: e.location || '' })),
    h('div', { class: 'row' },
      field('Starts', { name: 'start_at', type: 'datetime-local', required: true, value: localInput(e.start_at) }),
      field('Ends', { name: 'end_at', type: 'datetime-local', required: true, value: localInput(e.end_at) })),
    field('Banner image URL (optional)', { name: 'banner', type: 'url', value: e.banner || '' }),
    // the refund policy is set on an event that exists (a new one is a draft: nobody has paid)
    event && [
      field('Refunds until (optional)', { name: 'refund_until', type: 'datetime-local', value: localInput(e.refund_until), 'aria-describedby': 'refund-until-hint' }),
      h('p', { class: 'meta', id: 'refund-until-hint' }, 'Until then buyers may cancel a paid booking and get its price back; left empty, only you refund.')]);
}

function eventBody(form) {
  const data = formData(form);
  return {
    name: data.name, title: data.title, description: data.description, category: data.category,
    location: data.location, banner: data.banner || null,
    start_at: data.start_at ? new Date(data.start_at).toISOString() : null,
    end_at: data.end_at ? new Date(data.end_at).toISOString() : null,
    ...('refund_until' in data ? { refund_until: data.refund_until ? new Date(data.refund_until).toISOString() : null } : {}),
  };
}

export async function editor(main, id) {
  if (!id) {
    const slot = h('div');
    const form = eventForm(null);
    form.append(slot, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create event')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(form, slot, async () => {
        const created = await api('POST', '/v1/admin/events', eventBody(form));
        go(`/organizer/events/${created.id}`, { replace: true });
      });
    });
    fill(main, h('h1', {}, 'New event'), h('p', { class: 'meta' }, 'A new event is a draft: add ticket types (and seat maps), then publish it.'), form);
    return;
  }
  const event = await api('GET', `/v1/admin/events/${id}`);
  const slot = h('div');
  const saved = h('p', { role: 'status', class: 'meta' });
  const form = eventForm(event);
  form.append(slot, saved, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save changes')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, slot, async () => {
      await api('PATCH', `/v1/admin/events/${id}`, eventBody(form));
      saved.textContent = 'Saved.';
    });
  });

  const lifecycle = h('div', { class: 'card' });
  const lifeSlot = h('div');
  const act = (label, method, path, confirmText, then, cls) => h('button', { type: 'button', class: cls, onclick: () => {
    if (confirmText && !window.confirm(confirmText)) return;
    busy(lifecycle, lifeSlot, async () => {
      await api(method, path, method === 'DELETE' ? undefined : {});
      then();
    });
  } }, label);
  fill(lifecycle, h('p', {}, 'Status: ', h('span', { class: `status ${event.status}`, id: 'event-status' }, event.status)), lifeSlot,
    h('div', { class: 'actions' },
      event.status === 'draft' && act('Publish', 'POST', `/v1/admin/events/${id}/publish`, null, () => go(`/organizer/events/${id}`, { replace: true })),
      event.status === 'published' && h('a', { class: 'button secondary', href: `/events/${id}` }, 'See the public page'),
      h('a', { class: 'button secondary', href: `/organizer/events/${id}/sales` }, 'Sales'),
      h('a', { class: 'button secondary', href: `/organizer/events/${id}/attendees` }, 'Attendees'),
      event.status === 'published' && act('Cancel event', 'POST', `/v1/admin/events/${id}/cancel`, 'Cancel this event? Buyers can no longer book it.', () => go(`/organizer/events/${id}`, { replace: true }), 'danger'),
      act('Delete event', 'DELETE', `/v1/admin/events/${id}`, 'Delete this event for good?', () => go('/organizer', { replace: true }), 'danger')));

  fill(main, h('h1', {}, event.name), lifecycle, h('h2', {}, 'Details'), form,
    h('h2', {}, 'Waiting room'), queueForm(event),
    h('h2', {}, 'Ticket types'), await ticketTypes(event),
    h('h2', {}, 'Promo codes'), await promoCodes(event),
    ...(await Promise.all(event.ticket_types.filter((t) => t.seat_mapped).map((t) => seatMapEditor(event, t)))));
}

/** The event's waiting room settings: editable until the sale starts. */
function queueForm(event) {
  const q = event.queue || { enabled: false, admit_minutes: 10, admit_at_once: 100, challenge_bits: 0 };
  const slot = h('div');
  const saved = h('p', { role: 'status', class: 'meta' });
  const enabled = h('input', { type: 'checkbox', id: 'queue-enabled', name: 'enabled', checked: q.enabled });
  const form = h('form', { class: 'card', id: 'queue-form' },
    h('p', { class: 'meta' }, 'With a waiting room, buyers join a queue; everyone who joins before the sale starts gets a place drawn at random, and the queue lets people in at the pace the tickets left allow.'),
    h('label', { class: 'check' }, enabled, ' Sell through a waiting room'),
    field('Queue opens', { type: 'datetime-local', name: 'opens_at', value: q.opens_at ? localInput(q.opens_at) : '' }),
    field('Sale starts', { type: 'datetime-local', name: 'starts_at', value: q.starts_at ? localInput(q.starts_at) : '' }),
    field('Minutes an admitted buyer has to book', { type: 'number', name: 'admit_minutes', min: 1, max: 240, value: q.admit_minutes }),
    field('Buyers let in at once', { type: 'number', name: 'admit_at_once', min: 1, max: 100000, value: q.admit_at_once }),
    field('Proof of work against bots (bits, 0 for none)', { type: 'number', name: 'challenge_bits', min: 0, max: 24, value: q.challenge_bits }),
    slot, saved, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save waiting room')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = formData(form);
    const at = (value) => (value ? new Date(value).toISOString() : null);
    busy(form, slot, async () => {
      await api('PATCH', `/v1/admin/events/${event.id}`, { queue: {
        enabled: enabled.checked, opens_at: at(data.opens_at), starts_at: at(data.starts_at),
        admit_minutes: Number(data.admit_minutes), admit_at_once: Number(data.admit_at_once), challenge_bits: Number(data.challenge_bits),
      } });
      saved.textContent = 'Saved.';
    });
  });
  return form;
}

/** The ticket type's fields; `type` null for a new one. Ids are prefixed so forms can coexist. */
function ticketTypeForm(event, type, prefix) {
  const t = type || {};
  const mappedCapacity = type?.seat_mapped;
  return h('form', { id: type ? `ticket-type-${type.id}` : 'ticket-type-form', class: 'ticket-type' },
    h('div', { class: 'row' },
      field('Name', { name: 'name', id: `${prefix}-name`, required: true, maxlength: 200, placeholder: 'Standard', value: t.name || '' }),
      field('Price', { name: 'price', id: `${prefix}-price`, type: 'number', min: 0, step: 'any', required: true, value: type ? toMajor(t.price, t.currency) : '0' }),
      field('Currency', { name: 'currency', id: `${prefix}-currency`, required: true, maxlength: 3, pattern: '[A-Za-z]{3}', value: t.currency || event.ticket_types[0]?.currency || 'USD' }),
      mappedCapacity
        ? h('p', { class: 'meta' }, `Capacity: ${t.number_seats}, set by the seat map.`)
        : field('Capacity', { name: 'number_seats', id: `${prefix}-capacity`, type: 'number', min: 1, required: true, value: t.number_seats ?? '100' })),
    field('Description (optional)', { name: 'description', id: `${prefix}-description`, maxlength: 5000, value: t.description || '' }),
    h('div', { class: 'row' },
      field('Sale starts (optional)', { name: 'sale_at', id: `${prefix}-sale-at`, type: 'datetime-local', value: localInput(t.sale_at) }),
      field('Sale ends (optional)', { name: 'sale_end', id: `${prefix}-sale-end`, type: 'datetime-local', value: localInput(t.sale_end) }),
      field('Limit per buyer (optional)', { name: 'max_per_user', id: `${prefix}-max`, type: 'number', min: 1, value: t.max_per_user ?? '' })),
    !type && h('label', {}, h('input', { type: 'checkbox', name: 'seat_mapped' }), ' Seat-mapped (buyers pick seats; the seat map sets the capacity)'),
    h('label', {}, h('input', { type: 'checkbox', name: 'visible', checked: (t.status || 'active') === 'active' }), ' Offered to buyers (untick to hide it without deleting it)'));
}

/** The API body for a ticket-type form: empty optional fields are null (cleared). */
function ticketTypeBody(form, type) {
  const data = formData(form);
  const currency = data.currency.toUpperCase();
  const time = (value) => (value ? new Date(value).toISOString() : null);
  return {
    name: data.name, description: data.description, price: toMinor(data.price, currency), currency,
    ...('number_seats' in data ? { number_seats: Number(data.number_seats) } : {}),
    ...(type ? {} : { seat_mapped: 'seat_mapped' in data }),
    sale_at: time(data.sale_at), sale_end: time(data.sale_end),
    max_per_user: data.max_per_user ? Number(data.max_per_user) : null,
    status: 'visible' in data ? 'active' : 'hidden',
  };
}

async function ticketTypes(event) {
  const box = h('div', { class: 'card' });
  const slot = h('div');
  const editing = h('div', { id: 'ticket-type-edit' });
  const reload = () => go(`/organizer/events/${event.id}`, { replace: true });
  const edit = (t) => {
    const editSlot = h('div');
    const form = ticketTypeForm(event, t, `tt-${t.id}`);
    form.append(editSlot, h('div', { class: 'actions' },
      h('button', { type: 'submit' }, 'Save ticket type'),
      h('button', { type: 'button', class: 'secondary', onclick: () => fill(editing) }, 'Close')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(form, editSlot, async () => {
        await api('PATCH', `/v1/admin/events/${event.id}/ticket_types/${t.id}`, ticketTypeBody(form, t));
        reload();
      });
    });
    fill(editing, h('h3', {}, `Edit ${t.name}`), form);
    form.querySelector('input').focus();
  };
  const rows = event.ticket_types.map((t) => h('tr', { 'data-type': t.id },
    h('td', {}, t.name, t.seat_mapped ? ' (seat map)' : '', t.status === 'hidden' ? ' (hidden)' : ''),
    h('td', { class: 'num' }, money(t.price, t.currency)),
    h('td', { class: 'num', 'data-label': 'Capacity' }, t.number_seats),
    h('td', { class: 'num', 'data-label': 'Available' }, t.available),
    h('td', { 'data-label': 'On sale' }, t.sale_at || t.sale_end ? [t.sale_at && `from ${when(t.sale_at)}`, t.sale_end && ` until ${when(t.sale_end)}`] : 'now'),
    h('td', { class: 'actions-cell' },
      h('button', { type: 'button', class: 'link', 'aria-label': `Edit ${t.name}`, onclick: () => edit(t) }, 'Edit'),
      h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${t.name}`, onclick: () => busy(box, slot, async () => {
        if (!window.confirm(`Remove ${t.name}?`)) return;
        await api('DELETE', `/v1/admin/events/${event.id}/ticket_types/${t.id}`);
        reload();
      }) }, 'Remove'))));
  const addSlot = h('div');
  const form = ticketTypeForm(event, null, 'tt');
  form.append(addSlot, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add ticket type')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, addSlot, async () => {
      await api('POST', `/v1/admin/events/${event.id}/ticket_types`, { ...ticketTypeBody(form, null), position: event.ticket_types.length });
      reload();
    });
  });
  fill(box,
    rows.length
      ? h('div', { class: 'table-wrap' }, h('table', { id: 'ticket-types', class: 'stack' }, h('thead', {}, h('tr', {}, ...['Type', 'Price', 'Capacity', 'Available', 'On sale', ''].map((text, i) => h('th', { class: i && i < 4 ? 'num' : '' }, text)))), h('tbody', {}, rows)))
      : h('p', {}, 'No ticket types yet.'),
    slot, editing,
    h('h3', {}, 'Add a ticket type'), form);
  return box;
}

/** The event's promo codes: the list with their uses, a form to add one, and "Retire". */
async function promoCodes(event) {
  const path = `/v1/admin/events/${event.id}/promo_codes`;
  const currency = event.ticket_types[0]?.currency || 'USD';
  const box = h('div', { class: 'card', id: 'promo-codes' });
  const listSlot = h('div');
  const list = h('div', { 'aria-live': 'polite' });
  const names = (ids) => ids.map((t) => event.ticket_types.find((type) => type.id === t)?.name || 'a removed type').join(', ');
  const draw = async () => {
    const codes = await api('GET', path);
    fill(list, codes.length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'stack', id: 'promo-table' },
        h('thead', {}, h('tr', {}, ['Code', 'Discount', 'Valid', 'Applies to', 'Limits', 'Uses', 'State', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, codes.map((p) => h('tr', { 'data-promo': p.id, 'data-code': p.code },
          h('td', {}, h('strong', {}, p.code)),
          h('td', { 'data-label': 'Discount' }, p.percent_off || p.amount_off ? discount(p, currency) : '', p.unlocks.length ? `${p.percent_off || p.amount_off ? '; ' : ''}opens ${names(p.unlocks)}` : ''),
          h('td', { 'data-label': 'Valid' }, p.valid_from || p.valid_until ? [p.valid_from && `from ${when(p.valid_from)}`, p.valid_from && p.valid_until && ' ', p.valid_until && `until ${when(p.valid_until)}`] : 'any time'),
          h('td', { 'data-label': 'Applies to' }, p.ticket_type_ids.length ? names(p.ticket_type_ids) : 'every ticket type'),
          h('td', { 'data-label': 'Limits' }, [p.max_uses ? `${p.max_uses} uses in all` : 'no total limit', p.max_per_account ? `${p.max_per_account} per account` : null].filter(Boolean).join(', ')),
          h('td', { 'data-label': 'Uses', class: 'uses' }, p.max_uses ? `${p.uses} of ${p.max_uses}` : String(p.uses)),
          h('td', { 'data-label': 'State' }, h('span', { class: `status ${p.active ? 'valid' : 'cancelled'}` }, p.active ? 'active' : 'retired')),
          h('td', { class: 'actions-cell' }, p.active && h('button', { type: 'button', class: 'link', 'aria-label': `Retire ${p.code}`, onclick: () => busy(box, listSlot, async () => {
            if (!window.confirm(`Retire ${p.code}? No new booking can use it; bookings that did keep their price.`)) return;
            await api('DELETE', `${path}/${p.id}`);
            await draw();
          }) }, 'Retire')))))))
      : h('p', {}, 'No promo codes yet.'));
  };
  const slot = h('div');
  const saved = h('p', { role: 'status', class: 'meta' });
  const boxes = (name, types) => types.map((t) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name, value: t.id }), ` ${t.name}`));
  const hidden = event.ticket_types.filter((t) => t.status === 'hidden');
  const form = h('form', { id: 'promo-form' },
    h('h3', {}, 'Add a promo code'),
    h('div', { class: 'row' },
      field('Code', { name: 'code', id: 'promo-new-code', required: true, maxlength: 40, pattern: '[A-Za-z0-9_\\-]+', placeholder: 'EARLYBIRD', autocomplete: 'off' }),
      field('Percent off', { name: 'percent_off', id: 'promo-percent', type: 'number', min: 0, max: 100, step: 1 }),
      field(`Amount off each ticket (${currency})`, { name: 'amount_off', id: 'promo-amount', type: 'number', min: 0, step: 'any' })),
    h('div', { class: 'row' },
      field('Valid from (optional)', { name: 'valid_from', id: 'promo-from', type: 'datetime-local' }),
      field('Valid until (optional)', { name: 'valid_until', id: 'promo-until', type: 'datetime-local' })),
    event.ticket_types.length > 0 && h('fieldset', { 'data-field': 'ticket_type_ids', 'data-label': 'Ticket types' },
      h('legend', {}, 'Discounts (none ticked: every ticket type)'), boxes('applies', event.ticket_types)),
    hidden.length > 0 && h('fieldset', { 'data-field': 'unlocks', 'data-label': 'Hidden ticket types' },
      h('legend', {}, 'Hidden ticket types it puts on sale for its holders'), boxes('opens', hidden)),
    h('div', { class: 'row' },
      field('Uses in all (optional)', { name: 'max_uses', id: 'promo-max-uses', type: 'number', min: 1 }),
      field('Uses per account (optional)', { name: 'max_per_account', id: 'promo-max-account', type: 'number', min: 1 })),
    slot, saved,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add promo code')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const number = (name) => (data.get(name) ? Number(data.get(name)) : null);
    const time = (name) => (data.get(name) ? new Date(data.get(name)).toISOString() : null);
    saved.textContent = '';
    busy(form, slot, async () => {
      const made = await api('POST', path, {
        code: data.get('code').trim(),
        percent_off: number('percent_off'),
        amount_off: data.get('amount_off') ? toMinor(data.get('amount_off'), currency) : null,
        valid_from: time('valid_from'), valid_until: time('valid_until'),
        ticket_type_ids: data.getAll('applies'), unlocks: data.getAll('opens'),
        max_uses: number('max_uses'), max_per_account: number('max_per_account'),
      });
      form.reset();
      saved.textContent = `Added ${made.code}.`;
      await draw();
    }, { atFields: true });
  });
  await draw();
  fill(box, h('p', { class: 'meta' }, 'A code takes a percentage and/or an amount off each ticket it applies to (the percentage first), and may put hidden ticket types on sale for those who have it.'),
    listSlot, list, form);
  return box;
}

/** "A-H" -> A..H, "1-20" -> 1..20, "A, B, C" -> A, B, C. */
function rowLabels(text) {
  const range = text.trim().match(/^([A-Za-z]|\d+)\s*-\s*([A-Za-z]|\d+)$/);
  if (range) {
    const [from, to] = [range[1], range[2]];
    if (/\d/.test(from)) return Array.from({ length: Math.max(0, Number(to) - Number(from) + 1) }, (_, i) => String(Number(from) + i));
    const [a, b] = [from.toUpperCase().charCodeAt(0), to.toUpperCase().charCodeAt(0)];
    return Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => String.fromCharCode(a + i));
  }
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}

/** The inverse of rowLabels for the editor's starting values: a range when the labels run on. */
function rowText(labels) {
  const code = (l) => (/^\d+$/.test(l) ? Number(l) : /^[A-Z]$/.test(l) ? l.charCodeAt(0) : NaN);
  const runs = labels.length > 1 && labels.every((l, i) => i === 0 || code(l) === code(labels[i - 1]) + 1);
  return runs ? `${labels[0]}-${labels[labels.length - 1]}` : labels.join(', ');
}

/** The saved map as the editor's sections: each row gets its section's longest row's length. */
function sectionsOf(seats) {
  const sections = new Map();
  for (const seat of [...seats].sort((a, b) => a.row_index - b.row_index || a.position - b.position)) {
    if (!sections.has(seat.section)) sections.set(seat.section, new Map());
    const rows = sections.get(seat.section);
    rows.set(seat.row, (rows.get(seat.row) || 0) + 1);
  }
  return [...sections].map(([name, rows]) => ({ name, rows: rowText([...rows.keys()]), seats: Math.max(...rows.values()) }));
}

async function seatMapEditor(event, type) {
  const path = `/v1/admin/events/${event.id}/ticket_types/${type.id}/seats`;
  const { seats } = await api('GET', path);
  const box = h('section', { class: 'card', 'data-seat-map': type.id });
  const slot = h('div');
  const list = h('div', { class: 'sections' });
  const preview = h('div', { class: 'preview', 'aria-live': 'polite' });
  let made = 0;
  const read = () => [...list.querySelectorAll('fieldset')].map((set) => ({
    name: set.querySelector('[name=section]').value.trim(),
    rows: rowLabels(set.querySelector('[name=rows]').value),
    seats: Number(set.querySelector('[name=seats]').value),
  }));
  // the map as it will be, drawn from the form before anything is saved
  const redraw = () => {
    const sections = read().filter((s) => s.name && s.rows.length && s.seats > 0);
    let rowIndex = 0;
    const drawn = sections.flatMap((s) => s.rows.flatMap((row) => {
      rowIndex += 1;
      return Array.from({ length: Math.min(s.seats, 500) }, (_, i) => ({ id: `${s.name}/${row}/${i + 1}`, section: s.name, row, label: String(i + 1), row_index: rowIndex, position: i + 1, status: 'free' }));
    }));
    fill(preview, drawn.length
      ? [h('h3', {}, `Preview: ${drawn.length} seats`), drawSeatMap(drawn)]
      : h('p', { class: 'meta' }, 'Give each section a name, rows and seats per row to see it drawn.'));
  };
  const addSection = (values) => {
    made += 1;
    const n = `${type.id}-${made}`;
    const set = h('fieldset', { class: 'section' },
      h('div', { class: 'row' },
        field('Section', { name: 'section', id: `section-${n}`, required: true, maxlength: 100, value: values.name }),
        field('Rows (e.g. A-H or 1-20)', { name: 'rows', id: `rows-${n}`, required: true, value: values.rows }),
        field('Seats per row', { name: 'seats', id: `seats-${n}`, type: 'number', min: 1, max: 500, required: true, value: values.seats }),
        h('button', { type: 'button', class: 'link remove-section', 'aria-label': 'Remove this section', onclick: () => {
          set.remove();
          redraw();
        } }, 'Remove')));
    list.append(set);
    return set;
  };
  const form = h('form', {},
    h('p', { class: 'meta' }, 'Sections are drawn one under another, each row with the same number of seats. Saving replaces the whole map, as long as none of its seats is booked.'),
    list,
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => {
      addSection({ name: '', rows: 'A-C', seats: 10 }).querySelector('input').focus();
      redraw();
    } }, 'Add a section')),
    preview, slot,
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, seats.length ? 'Replace seat map' : 'Create seat map'),
      seats.length > 0 && h('button', { type: 'button', class: 'danger', onclick: () => busy(form, slot, async () => {
        if (!window.confirm(`Delete the seat map of ${type.name}?`)) return;
        await api('DELETE', path);
        go(`/organizer/events/${event.id}`, { replace: true });
      }) }, 'Delete seat map')));
  (seats.length ? sectionsOf(seats) : [{ name: 'Stalls', rows: 'A-E', seats: 10 }]).forEach(addSection);
  form.addEventListener('input', redraw);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const sections = read();
    if (!sections.length) return report(slot, new Error('Add at least one section.'));
    const bad = sections.find((s) => !s.rows.length);
    if (bad) return report(slot, new Error(`Rows of ${bad.name || 'a section'}: give a range like A-H or labels separated by commas.`));
    busy(form, slot, async () => {
      await api('POST', path, { sections: sections.map((s) => ({ name: s.name, rows: s.rows.map((label) => ({ label, seats: s.seats })) })) });
      go(`/organizer/events/${event.id}`, { replace: true });
    });
  });
  fill(box, h('h2', {}, `Seat map: ${type.name}`),
    seats.length ? [legend(false), drawSeatMap(seats), h('p', { class: 'meta' }, `${seats.length} seats`)] : h('p', {}, 'No seats yet.'),
    form);
  if (!seats.length) redraw();
  return box;
}

export async function sales(main, id) {
  const event = await api('GET', `/v1/admin/events/${id}`);
  const body = h('div', { 'aria-live': 'polite' });
  const slot = h('div');
  const stamp = h('p', { class: 'meta' });
  const refunds = refundList(event);
  const waitlist = waitlistView(event);
  fill(main, h('h1', {}, `Sales: ${event.name}`), h('p', { class: 'meta' }, when(event.start_at), ' · ', event.location, ' · ', h('a', { href: `/organizer/events/${id}` }, 'Edit'), ' · ', h('a', { href: `/organizer/events/${id}/attendees` }, 'Attendees')), slot, body, waitlist.box, refunds.box, stamp);
  const draw = async () => {
    try {
      const [s] = await Promise.all([api('GET', `/v1/admin/events/${id}/sales`), refunds.draw(), waitlist.draw()]);
      report(slot, null);
      fill(body,
        h('div', { class: 'table-wrap' }, h('table', { id: 'sales', class: 'stack' },
          h('thead', {}, h('tr', {}, ...['Ticket type', 'Sold', 'Held', 'Available', 'Capacity', 'Revenue'].map((t, i) => h('th', { class: i ? 'num' : '' }, t)))),
          h('tbody', {}, s.ticket_types.map((t) => h('tr', { 'data-type': t.ticket_type_id },
            h('td', {}, t.name), h('td', { class: 'num sold', 'data-label': 'Sold' }, t.sold), h('td', { class: 'num held', 'data-label': 'Held' }, t.held),
            h('td', { class: 'num available', 'data-label': 'Available' }, t.available), h('td', { class: 'num', 'data-label': 'Capacity' }, t.capacity),
            h('td', { class: 'num', 'data-label': 'Revenue' }, money(t.revenue, t.currency))))))),
        h('p', {}, 'Revenue: ', h('strong', { id: 'revenue' }, Object.entries(s.revenue).map(([c, v]) => money(v, c)).join(' + ') || money(0, 'USD'))),
        event.queue?.enabled && await queueView(id),
        h('h2', {}, 'Latest bookings'),
        s.recent_bookings.length
          ? h('ul', { class: 'plain card' }, s.recent_bookings.map((b) => h('li', {}, b.booking_code, ' · ', h('span', { class: `status ${b.status}` }, b.status.replace('_', ' ')), ` · ${b.number_seats} · `, money(b.total_price, b.currency), ' · ', when(b.held_at))))
          : h('p', {}, 'No bookings yet.'));
      stamp.textContent = `Updated ${new Date().toLocaleTimeString()}; the page refreshes every 2 seconds.`;
    } catch (error) {
      report(slot, error);
    }
  };
  await draw();
  const timer = setInterval(draw, 2000);
  onLeave(() => clearInterval(timer));
}

/**
 * The event's waiting lists on the sales page: how many wait, are offered seats, bought, lapsed
 * or left, and the first 100 entries in line order, grouped by ticket type (each waiting one
 * with its place). Redrawn only when they changed, like the refunds.
 */
function waitlistView(event) {
  const box = h('section', { id: 'waitlist' });
  const order = new Map(event.ticket_types.map((t, i) => [t.id, i]));
  let shown = null;
  const draw = async () => {
    const w = await api('GET', `/v1/admin/events/${event.id}/waitlist?limit=100`);
    const seen = JSON.stringify(w);
    if (seen === shown) return;
    shown = seen;
    const s = w.summary;
    // the API answers first in line first over every type: keep that order within each type
    const entries = w.data.map((e, i) => [e, i]).sort(([a, i], [b, j]) => (order.get(a.ticket_type_id) ?? 1e9) - (order.get(b.ticket_type_id) ?? 1e9) || i - j).map(([e]) => e);
    fill(box, h('h2', {}, 'Waiting list'),
      h('p', { id: 'waitlist-summary' }, `${s.waiting} waiting · ${s.offered} offered · ${s.bought} bought · ${s.lapsed} lapsed · ${s.left} left`),
      entries.length
        ? h('div', { class: 'table-wrap' }, h('table', { class: 'stack', id: 'waitlist-table' },
          h('thead', {}, h('tr', {}, ['Place', 'Buyer', 'Ticket type', 'Tickets', 'Status', 'Offer ends'].map((t, i) => h('th', { class: i === 0 || i === 3 ? 'num' : '' }, t)))),
          h('tbody', {}, entries.map((e) => h('tr', { 'data-entry': e.id, 'data-status': e.status },
            h('td', { class: 'num', 'data-label': 'Place' }, e.position ?? '—'),
            h('td', { 'data-label': 'Buyer' }, e.email, e.name && h('div', { class: 'meta' }, e.name)),
            h('td', { 'data-label': 'Ticket type' }, e.ticket_type_name),
            h('td', { class: 'num', 'data-label': 'Tickets' }, e.qty),
            h('td', { 'data-label': 'Status' }, h('span', { class: `status waitlist-${e.status}` }, e.status)),
            h('td', { 'data-label': 'Offer ends' }, e.status === 'offered' && e.offer_expires_at ? when(e.offer_expires_at) : '—'))))))
        : h('p', {}, 'Nobody is on the waiting list. Buyers can join one once a ticket type is sold out.'),
      w.next_token && h('p', { class: 'meta' }, 'The first 100 entries are shown.'));
  };
  return { box, draw };
}

const REQUESTED_BY = { organizer: 'you', buyer: 'the buyer', event_cancelled: 'the event was cancelled' };

/**
 * The event's refunds on the sales page: how they stand, the latest 50 with their status, and
 * "Retry" on a failed one. `draw` reads them again; the list is redrawn only when it changed, so
 * a button is not replaced under the pointer every refresh.
 */
function refundList(event) {
  const box = h('section', { id: 'refunds' });
  const slot = h('div');
  const currency = event.ticket_types[0]?.currency || 'USD';
  let shown = null;
  const draw = async () => {
    const r = await api('GET', `/v1/admin/events/${event.id}/refunds?limit=50`);
    const seen = JSON.stringify(r);
    if (seen === shown) return;
    shown = seen;
    const s = r.summary;
    fill(box, h('h2', {}, 'Refunds'),
      h('p', { id: 'refund-summary' }, `${s.pending} on their way · ${s.succeeded} done · ${s.failed} failed · `,
        h('strong', { id: 'refunded-amount' }, money(s.refunded_amount, r.data[0]?.currency || currency)), ' given back'),
      slot,
      r.data.length
        ? h('div', { class: 'table-wrap' }, h('table', { class: 'stack', id: 'refund-table' },
          h('thead', {}, h('tr', {}, ['Booking', 'Buyer', 'Amount', 'Status', 'Asked by', 'When', ''].map((t, i) => h('th', { class: i === 2 ? 'num' : '' }, t)))),
          h('tbody', {}, r.data.map((f) => h('tr', { 'data-refund': f.id, 'data-status': f.status },
            h('td', {}, f.booking_code),
            h('td', { 'data-label': 'Buyer' }, f.buyer_email),
            h('td', { class: 'num', 'data-label': 'Amount' }, money(f.amount, f.currency), h('div', { class: 'meta' }, `${f.tickets.length} ticket${f.tickets.length === 1 ? '' : 's'}`)),
            h('td', { 'data-label': 'Status' }, h('span', { class: `status refund-${f.status}` }, refundState(f.status)),
              f.status === 'failed' && f.last_error && h('div', { class: 'meta' }, `${f.attempts} attempt${f.attempts === 1 ? '' : 's'}; the provider said: ${f.last_error}`)),
            h('td', { 'data-label': 'Asked by' }, REQUESTED_BY[f.requested_by] || f.requested_by),
            h('td', { 'data-label': 'When' }, when(f.created_at), f.refunded_at && h('div', { class: 'meta' }, `back ${when(f.refunded_at)}`)),
            h('td', { class: 'actions-cell' }, f.status === 'failed' && h('button', { type: 'button', 'aria-label': `Retry the refund of ${f.booking_code}`, onclick: () => busy(box, slot, async () => {
              await api('POST', `/v1/admin/refunds/${f.id}/retry`, {});
              shown = null;
              await draw();
            }) }, 'Retry')))))))
        : h('p', {}, 'No refunds yet.'),
      r.next_token && h('p', { class: 'meta' }, 'The 50 latest are shown.'));
  };
  return { box, draw };
}

/** The waiting room, live: how many wait, are let in, hold, bought, left. */
async function queueView(id) {
  const q = await api('GET', `/v1/admin/events/${id}/queue`);
  const cells = [['Waiting', q.waiting], ['Let in', q.admitted], ['Holding', q.holding], ['Bought', q.bought], ['Left', q.left]];
  return h('section', { id: 'queue-view' }, h('h2', {}, 'Waiting room'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'stack' },
      h('thead', {}, h('tr', {}, cells.map(([t]) => h('th', { class: 'num' }, t)))),
      h('tbody', {}, h('tr', {}, cells.map(([t, v]) => h('td', { class: 'num', 'data-label': t, 'data-queue': t.toLowerCase().replace(' ', '-') }, String(v))))))),
    h('p', { class: 'meta' }, `Sale starts ${when(q.starts_at)}. Seed SHA-256: ${q.seed_sha256}`, q.seed ? ` · seed: ${q.seed}` : ''));
}

/** The attendee list: search, pages of 50, and the whole list (or the search's) as CSV. */
export async function attendees(main, id) {
  const event = await api('GET', `/v1/admin/events/${id}`);
  const slot = h('div');
  const rows = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More attendees');
  const count = h('p', { class: 'meta', 'aria-live': 'polite', id: 'attendee-count' });
  const q = h('input', { type: 'search', id: 'attendee-q', name: 'q', 'aria-label': 'Search attendees', placeholder: 'Name, email, booking code or seat' });
  let next = null;
  let shown = 0;
  const load = async (fresh) => {
    const params = new URLSearchParams({ limit: '50' });
    if (q.value.trim()) params.set('q', q.value.trim());
    if (!fresh && next) params.set('next_token', next);
    try {
      const page = await api('GET', `/v1/admin/events/${id}/attendees?${params}`);
      report(slot, null);
      if (fresh) { fill(rows); shown = 0; }
      for (const a of page.data) {
        rows.append(h('tr', { 'data-ticket': a.ticket_id },
          h('td', { 'data-label': 'Name' }, a.name || '—'), h('td', { 'data-label': 'Email' }, a.email),
          h('td', { 'data-label': 'Ticket' }, a.ticket_type), h('td', { 'data-label': 'Seat' }, a.seat || '—'),
          h('td', { 'data-label': 'Booking' }, a.booking_code),
          h('td', { 'data-label': 'Status' }, h('span', { class: `status ${a.status}` }, a.status === 'void' ? 'refunded' : a.status.replace('_', ' ')), a.checked_in_at ? ` ${when(a.checked_in_at)}` : ''),
          h('td', { class: 'actions-cell' }, a.status === 'valid' && h('button', { type: 'button', class: 'link', 'aria-label': `Refund ${a.booking_code} ticket of ${a.email}${a.seat ? `, ${a.seat}` : ''}`, onclick: (e) => refund(a, e.target) }, 'Refund'))));
      }
      shown += page.data.length;
      next = page.next_token;
      more.hidden = !next;
      count.textContent = shown ? `${shown}${next ? '+' : ''} attendee${shown === 1 ? '' : 's'}` : 'No attendees match.';
    } catch (error) {
      report(slot, error);
    }
  };
  // one ticket refunded: void at once, its price back to the buyer through the provider
  const done = h('div', { 'aria-live': 'polite', id: 'attendee-refund' });
  const refund = async (a, button) => {
    if (!window.confirm(`Refund this ${a.ticket_type} ticket${a.seat ? ` (${a.seat})` : ''} of ${a.email}? It stops admitting anyone at once, and its price goes back to the buyer of booking ${a.booking_code}.`)) return;
    button.disabled = true;
    report(slot, null);
    fill(done);
    try {
      const r = await api('POST', `/v1/admin/bookings/${a.booking_id}/refunds`, { tickets: [a.ticket_id] });
      fill(done, h('p', { class: 'notice', role: 'status' }, `Refund of ${money(r.amount, r.currency)} for booking ${r.booking_code}: ${refundState(r.status)}. `, h('a', { href: `/organizer/events/${id}/sales` }, 'See the refunds on the sales page')));
      await load(true);
    } catch (error) {
      button.disabled = false;
      report(slot, error);
    }
  };
  const form = h('form', { class: 'row', role: 'search' }, q, h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (e) => { e.preventDefault(); load(true); });
  more.addEventListener('click', () => load(false));
  const download = h('button', { type: 'button', class: 'secondary', id: 'attendees-csv' }, 'Download CSV');
  download.addEventListener('click', async () => {
    const params = q.value.trim() ? `?q=${encodeURIComponent(q.value.trim())}` : '';
    try {
      const link = h('a', { href: await imageUrl(`/v1/admin/events/${id}/attendees.csv${params}`), download: `attendees-${id}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (error) {
      report(slot, error);
    }
  });
  fill(main, h('h1', {}, `Attendees: ${event.name}`),
    h('p', { class: 'meta' }, when(event.start_at), ' · ', event.location, ' · ', h('a', { href: `/organizer/events/${id}/sales` }, 'Sales')),
    form, slot, done, count,
    h('div', { class: 'table-wrap' }, h('table', { class: 'stack', id: 'attendees' },
      h('thead', {}, h('tr', {}, ['Name', 'Email', 'Ticket', 'Seat', 'Booking', 'Status', ''].map((t) => h('th', {}, t)))), rows)),
    h('div', { class: 'actions' }, more, download));
  await load(true);
}

export async function checkin(main, params) {
  const page = await api('GET', '/v1/admin/events?limit=100&status=published');
  const verdict = h('div', { id: 'verdict', 'aria-live': 'assertive' });
  const form = h('form', { class: 'card' },
    field('Event', { name: 'event', value: params.get('event') || '', options: page.data.map((e) => [e.id, `${e.name} (${when(e.start_at)})`]) }, 'select'),
    field('Ticket code (scan or type it)', { name: 'code', required: true, autocomplete: 'off', autofocus: true }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Check in')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const { event, code } = formData(form);
    const input = form.querySelector('[name=code]');
    fill(verdict);
    busy(form, h('div'), async () => {
      try {
        const ticket = await api('POST', `/v1/admin/events/${event}/checkins`, { code: code.trim() });
        fill(verdict, h('div', { class: 'verdict valid', role: 'status' }, '✔ Valid: admit one'),
          h('p', {}, ticket.ticket_type_name, ticket.seat ? ` · ${ticket.seat.section}, row ${ticket.seat.row}, seat ${ticket.seat.label}` : '', ' · booking ', ticket.booking_code));
      } catch (error) {
        const used = error.code === 'already_checked_in';
        const text = used ? '⚠ Already used' : '✖ Invalid ticket';
        fill(verdict, h('div', { class: `verdict ${used ? 'used' : 'invalid'}`, role: 'alert' }, text), h('p', {}, error.message));
      }
      input.value = '';
      input.focus();
    });
  });
  fill(main, h('h1', {}, 'Check-in desk'), page.data.length ? [form, verdict] : h('p', {}, 'You have no published events to check in.'));
}
