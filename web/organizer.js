// The organizer's pages: their events, the editor (event, its time zone, image and refund
// policy, ticket types, promo codes, seat maps, publish), a live dashboard (sales, a chart of them
// over time, check-ins, the waiting list and the refunds), the attendee list (a ticket refunded
// from it), and the check-in desk at the door (typed codes, or the camera where it can read QR).
import { api, imageUrl } from './api.js';
import { h, fill, money, toMinor, toMajor, when, whenText, ownZone, busy, field, formData, report, describe, discount, refundState, pageTitle, CATEGORIES } from './dom.js';
import { drawSeatMap, legend } from './seatmap.js';
import { go, onLeave } from './app.js';

// ---- the event's own clock --------------------------------------------------------------------
// An event happens where its venue is: its times are typed and read in the event's time zone,
// whatever the zone of the computer the organizer sits at. <input type="datetime-local"> knows
// only the browser's zone, so its values are converted here.

/** Every IANA zone the browser knows, and UTC (Chromium's list leaves it out). */
const ZONES = (() => {
  try {
    return [...new Set(['UTC', ...Intl.supportedValuesOf('timeZone')])];
  } catch {
    return ['UTC'];
  }
})();

/** The zone as the list spells it ("america/denver" -> "America/Denver"); null if the browser does not know it. */
function zoneNamed(text) {
  const name = (text || '').trim();
  if (!name) return null;
  const listed = ZONES.find((z) => z.toLowerCase() === name.toLowerCase());
  if (listed) return listed;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return name; // an alias the list leaves out (Asia/Kolkata where it says Asia/Calcutta)
  } catch {
    return null;
  }
}

/**
 * The zone whose city the venue names ("Red Rocks, Denver" is America/Denver; the longest city
 * when several match, as the server guesses), else the browser's own.
 */
function guessZone(location) {
  const words = (location || '').toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  let best = null;
  for (const zone of ZONES) {
    if (!zone.includes('/') || zone.startsWith('Etc/')) continue;
    const city = zone.slice(zone.lastIndexOf('/') + 1).toLowerCase().split('_');
    const named = words.some((_, i) => city.every((w, j) => words[i + j] === w));
    if (named && (!best || city.length > best.length)) best = { zone, length: city.length };
  }
  return best ? best.zone : ownZone();
}

/** Minutes `zone` is ahead of UTC at the instant `ms`. */
function offsetAt(zone, ms) {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    .formatToParts(ms);
  const p = Object.fromEntries(parts.map((x) => [x.type, Number(x.value)]));
  return Math.round((Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000) / 60000);
}

/** An ISO time as the value of an <input type="datetime-local"> on the clocks of `zone`. */
function zoneInput(iso, zone) {
  if (!iso) return '';
  const ms = Date.parse(iso);
  return new Date(ms + offsetAt(zone, ms) * 60000).toISOString().slice(0, 16);
}

/** A datetime-local value read on the clocks of `zone`, as an ISO time (null when empty). */
function zoneInstant(text, zone) {
  const m = (text || '').match(/^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/);
  if (!m) return null;
  const wall = Date.UTC(Number(m[1]), m[2] - 1, Number(m[3]), Number(m[4]), Number(m[5]));
  // the offset at the wall time read as UTC is a first guess; near a change of the clocks the
  // offset in force at the guessed instant is the right one
  const guess = wall - offsetAt(zone, wall) * 60000;
  return new Date(wall - offsetAt(zone, guess) * 60000).toISOString();
}

/** "MST" (or "GMT+7") for `zone` at `iso` (now when absent). */
function zoneAbbr(zone, iso) {
  const at = iso ? new Date(iso) : new Date();
  return new Intl.DateTimeFormat(undefined, { timeZone: zone, timeZoneName: 'short' }).formatToParts(at).find((p) => p.type === 'timeZoneName')?.value || zone;
}

/**
 * "Times are in America/Denver (MDT)." at `iso`; without it, for any date: "(MST or MDT)" where
 * the clocks change.
 */
function timesIn(zone, iso) {
  const year = new Date().getUTCFullYear();
  const abbr = iso ? zoneAbbr(zone, iso) : [...new Set([`${year}-01-15`, `${year}-07-15`].map((d) => zoneAbbr(zone, d)))].join(' or ');
  return `Times are in ${zone}${abbr && abbr !== zone ? ` (${abbr})` : ''}.`;
}

/** The line beside a form's datetime inputs that says whose clocks they are. */
const zoneNote = (event) => h('p', { class: 'meta zone-note' }, timesIn(event.time_zone));

/** A refusal made here, shown like the API's: at the field it names. */
function fieldError(name, message) {
  return { status: 422, code: 'validation_failed', message, details: [{ field: name, message }] };
}

/**
 * An API refusal of an organizer's action in words: no paths, a capital and a full stop.
 * `words` (code -> sentence) overrides the API's message for the codes it knows.
 */
function inWords(error, words = {}) {
  if (error?.status === undefined) return error;
  const said = words[error.code];
  let message = typeof said === 'function' ? said(error) : said;
  if (!message) {
    message = error.message.replace(/\s*\((GET|POST|PUT|PATCH|DELETE)\b[^)]*\)/g, '').trim();
    message = message.charAt(0).toUpperCase() + message.slice(1);
    if (!/[.!?]$/.test(message)) message += '.';
  }
  return { status: error.status, code: error.code, message, details: error.details };
}

export async function events(main) {
  pageTitle('My events');
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
      h('td', {}, when(e.start_at, e.time_zone)),
      h('td', { class: `status ${e.status}` }, e.status),
      h('td', {}, h('a', { href: `/organizer/events/${e.id}/sales`, 'aria-label': `Sales dashboard of ${e.name}` }, 'Sales dashboard')))));
    fill(more, page.next_token && h('button', { type: 'button', class: 'secondary', onclick: () => load(page.next_token) }, 'More'));
  };
  await load();
}

/**
 * The event's fields; `event` null for a new one, whose time zone follows the venue as it is
 * typed until the organizer picks a zone. The start, end and refund date are on the clocks of
 * the zone in the form, and the line under them says so.
 */
function eventForm(event) {
  const e = event || {};
  const zone = e.time_zone || guessZone(e.location);
  const note = h('p', { class: 'meta zone-note', id: 'event-zone-note' });
  const zoneField = field('Time zone', { name: 'time_zone', list: 'time-zones', required: true, autocomplete: 'off', spellcheck: 'false', value: zone, 'aria-describedby': 'event-zone-note' });
  const zoneBox = zoneField.querySelector('input');
  const place = field('Venue and city', { name: 'location', required: true, value: e.location || '' });
  const start = field('Starts', { name: 'start_at', type: 'datetime-local', required: true, value: zoneInput(e.start_at, zone) });
  const startBox = start.querySelector('input');
  // the zone's short name depends on the date (MST in winter, MDT in summer)
  const say = () => {
    const named = zoneNamed(zoneBox.value);
    note.textContent = named ? timesIn(named, zoneInstant(startBox.value, named)) : 'Pick the time zone from the list, such as America/Denver.';
  };
  let picked = Boolean(event);
  zoneBox.addEventListener('input', () => { picked = true; say(); });
  startBox.addEventListener('input', say);
  place.querySelector('input').addEventListener('input', (ev) => {
    if (picked) return;
    zoneBox.value = guessZone(ev.target.value);
    say();
  });
  say();
  return h('form', { class: 'card', id: 'event-form' },
    field('Name', { name: 'name', required: true, maxlength: 200, value: e.name || '' }),
    field('Title (a line under the name)', { name: 'title', value: e.title || '' }),
    field('Description', { name: 'description', value: e.description || '' }, 'textarea'),
    h('div', { class: 'row' },
      field('Category', { name: 'category', value: e.category || 'music', options: CATEGORIES.map((c) => [c, c]) }, 'select'),
      place),
    h('div', { class: 'row' },
      start,
      field('Ends', { name: 'end_at', type: 'datetime-local', required: true, value: zoneInput(e.end_at, zone) }),
      zoneField),
    h('datalist', { id: 'time-zones' }, ZONES.map((z) => h('option', { value: z }))),
    note,
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'attendee_names', checked: Boolean(e.attendee_names), 'aria-describedby': 'attendee-names-hint' }), ' Ask for a name on each ticket'),
    h('p', { class: 'meta', id: 'attendee-names-hint' }, 'Buyers then give the name of the person each ticket is for; it is printed on the ticket and shown at the door and in the attendee list.'),
    field('Banner image URL (optional)', { name: 'banner', type: 'url', value: e.banner || '' }),
    // the refund policy is set on an event that exists (a new one is a draft: nobody has paid)
    event && [
      field('Refunds until (optional)', { name: 'refund_until', type: 'datetime-local', value: zoneInput(e.refund_until, zone), 'aria-describedby': 'refund-until-hint' }),
      h('p', { class: 'meta', id: 'refund-until-hint' }, 'Until then buyers may cancel a paid booking and get its price back; left empty, only you refund.')]);
}

/**
 * The API body for the event form, its times read on the clocks of the zone it names; the
 * banner is sent only when it changed (an uploaded image's URL stays the server's).
 */
function eventBody(form, event) {
  const data = formData(form);
  const zone = zoneNamed(data.time_zone);
  if (!zone) throw fieldError('time_zone', `"${data.time_zone.trim()}" is not a time zone this browser knows: pick one from the list, such as America/Denver.`);
  const at = (value) => zoneInstant(value, zone);
  const banner = data.banner.trim() || null;
  return {
    name: data.name, title: data.title, description: data.description, category: data.category,
    location: data.location, time_zone: zone, attendee_names: 'attendee_names' in data,
    ...(!event || banner !== (event.banner || null) ? { banner } : {}),
    start_at: at(data.start_at), end_at: at(data.end_at),
    ...('refund_until' in data ? { refund_until: at(data.refund_until) } : {}),
  };
}

let savedNote = ''; // "Saved." said again on the editor drawn anew after a change of time zone

export async function editor(main, id) {
  if (!id) {
    pageTitle('New event');
    const slot = h('div');
    const form = eventForm(null);
    form.append(slot, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create event')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(form, slot, async () => {
        const created = await api('POST', '/v1/admin/events', eventBody(form, null));
        go(`/organizer/events/${created.id}`, { replace: true });
      }, { atFields: true });
    });
    fill(main, h('h1', {}, 'New event'), h('p', { class: 'meta' }, 'A new event is a draft: add ticket types (and seat maps), then publish it.'), form);
    return;
  }
  const event = await api('GET', `/v1/admin/events/${id}`);
  pageTitle(`Edit: ${event.name}`);
  const title = h('h1', {}, event.name);
  const slot = h('div');
  const saved = h('p', { role: 'status', class: 'meta' }, savedNote);
  savedNote = '';
  const form = eventForm(event);
  const image = imageEditor(event, form.querySelector('[name=banner]'));
  form.append(slot, saved, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save changes')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    saved.textContent = '';
    busy(form, slot, async () => {
      const updated = await api('PATCH', `/v1/admin/events/${id}`, eventBody(form, event));
      if (updated.time_zone !== event.time_zone) {
        // every time on this page is on the event's clocks: draw them all again on the new ones
        savedNote = 'Saved.';
        go(`/organizer/events/${id}`, { replace: true, focus: false });
        return;
      }
      Object.assign(event, updated);
      title.textContent = event.name;
      pageTitle(`Edit: ${event.name}`);
      image.show();
      saved.textContent = 'Saved.';
    }, { atFields: true });
  });

  const lifecycle = h('div', { class: 'card' });
  const lifeSlot = h('div');
  const refusals = {
    publish: { invalid_state: (error) => (/ticket type/i.test(error.message) && !/seat/i.test(error.message) ? 'Add a ticket type that is on sale before publishing.' : null) },
    delete: Object.fromEntries(['event_has_sales', 'invalid_state'].map((code) => [code,
      event.status === 'published' ? "A published event can't be deleted; cancel it instead." : "This event has bookings, so it can't be deleted."])),
  };
  const act = (label, action, method, path, confirmText, then, cls) => h('button', { type: 'button', class: cls, 'data-action': action, onclick: async () => {
    if (confirmText && !window.confirm(confirmText)) return;
    let refused = null;
    await busy(lifecycle, lifeSlot, async () => {
      try {
        await api(method, path, method === 'DELETE' ? undefined : {});
      } catch (error) {
        refused = error.code;
        throw inWords(error, refusals[action]);
      }
      then();
    });
    // "cancel it instead": the button that does is the next one to press
    if (action === 'delete' && refused in refusals.delete) lifecycle.querySelector('[data-action=cancel]')?.focus();
  } }, label);
  fill(lifecycle, h('p', {}, 'Status: ', h('span', { class: `status ${event.status}`, id: 'event-status' }, event.status)), lifeSlot,
    h('div', { class: 'actions' },
      event.status === 'draft' && act('Publish', 'publish', 'POST', `/v1/admin/events/${id}/publish`, null, () => go(`/organizer/events/${id}`, { replace: true })),
      event.status === 'published' && h('a', { class: 'button secondary', href: `/events/${id}` }, 'See the public page'),
      h('a', { class: 'button secondary', href: `/organizer/events/${id}/sales` }, 'Sales dashboard'),
      h('a', { class: 'button secondary', href: `/organizer/events/${id}/attendees` }, 'Attendees'),
      event.status === 'published' && act('Cancel event', 'cancel', 'POST', `/v1/admin/events/${id}/cancel`, 'Cancel this event? Buyers can no longer book it.', () => go(`/organizer/events/${id}`, { replace: true }), 'danger'),
      act('Delete event', 'delete', 'DELETE', `/v1/admin/events/${id}`, 'Delete this event for good?', () => go('/organizer', { replace: true }), 'danger')));

  fill(main, title, lifecycle, h('h2', {}, 'Details'), form,
    h('h2', {}, 'Image'), image.form,
    h('h2', {}, 'Waiting room'), queueForm(event),
    h('h2', {}, 'Ticket types'), await ticketTypes(event),
    h('h2', {}, 'Promo codes'), await promoCodes(event),
    ...(await Promise.all(event.ticket_types.filter((t) => t.seat_mapped).map((t) => seatMapEditor(event, t)))));
}

const IMAGE_TYPES = { 'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/webp': 'WebP', 'image/gif': 'GIF' };
const IMAGE_MAX = 2 * 1024 * 1024; // the server's limit

/**
 * The event's image: the banner as buyers see it, a file uploaded in its place (its type and
 * size checked here first, as the server checks them), and "Remove image". The banner URL field
 * of the details (`bannerInput`) follows it.
 */
function imageEditor(event, bannerInput) {
  const path = `/v1/admin/events/${event.id}/image`;
  const preview = h('div', { class: 'image-preview' });
  const slot = h('div');
  const done = h('p', { role: 'status', class: 'meta' });
  const file = h('input', { type: 'file', name: 'image', id: 'f-image', accept: Object.keys(IMAGE_TYPES).join(','), 'aria-describedby': 'image-hint' });
  const remove = h('button', { type: 'button', class: 'secondary' }, 'Remove image');
  const form = h('form', { id: 'image-form', class: 'card' }, preview,
    h('label', { for: 'f-image' }, 'Upload image'), file,
    h('p', { class: 'meta', id: 'image-hint' }, "A PNG, JPEG, WebP or GIF file of at most 2 MB, shown wide (about 16 by 7) on the event's page and in the listings, in place of the banner URL."),
    slot, done, h('div', { class: 'actions' }, remove));
  const show = () => {
    fill(preview, event.banner
      ? h('img', { src: event.banner, alt: "The event's image", class: 'hero', id: 'banner-preview' })
      : h('p', { class: 'meta' }, 'No image yet: buyers see a plain banner.'));
    remove.hidden = !event.banner;
  };
  const changed = (banner) => {
    event.banner = banner;
    bannerInput.value = banner || '';
    show();
  };
  file.addEventListener('change', async () => {
    const chosen = file.files[0];
    done.textContent = '';
    if (!chosen) return;
    const kind = IMAGE_TYPES[chosen.type];
    const refused = {
      413: `The file ${chosen.name} is larger than the 2 MB an image may be. Make it smaller and try again.`,
      415: `The file ${chosen.name} is not a PNG, JPEG, WebP or GIF image: choose one of those.`,
      422: `The file ${chosen.name} could not be read as a ${kind} image: it may be damaged, or another kind of file named like one.`,
    };
    // the server's own sentence for a file it could not take says what was wrong with it
    const said = (error) => (error.status === 422 && error.details?.find((d) => d.field === 'image')?.message) || refused[error.status];
    await busy(form, slot, async () => {
      if (!kind) throw fieldError('image', refused[415]);
      if (chosen.size > IMAGE_MAX) throw fieldError('image', `The file ${chosen.name} is ${(chosen.size / 1048576).toFixed(1)} MB; an image may be at most 2 MB. Make it smaller and try again.`);
      try {
        changed((await api('PUT', path, chosen)).banner);
      } catch (error) {
        if (error.status === undefined) throw error;
        throw fieldError('image', said(error) || inWords(error).message);
      }
      done.textContent = 'Image uploaded.';
    }, { atFields: true });
    file.value = ''; // the same file chosen again is a change again
  });
  remove.addEventListener('click', () => {
    if (!window.confirm("Remove the event's image? Buyers then see a plain banner.")) return;
    done.textContent = '';
    busy(form, slot, async () => {
      let left;
      try {
        left = await api('DELETE', path);
      } catch (error) {
        throw inWords(error);
      }
      // a banner URL given besides the upload stays
      changed(left?.banner ?? null);
      done.textContent = 'Image removed.';
    });
  });
  show();
  return { form, show };
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
    field('Queue opens', { type: 'datetime-local', name: 'opens_at', value: zoneInput(q.opens_at, event.time_zone) }),
    field('Sale starts', { type: 'datetime-local', name: 'starts_at', value: zoneInput(q.starts_at, event.time_zone) }),
    zoneNote(event),
    field('Minutes an admitted buyer has to book', { type: 'number', name: 'admit_minutes', min: 1, max: 240, value: q.admit_minutes }),
    field('Buyers let in at once', { type: 'number', name: 'admit_at_once', min: 1, max: 100000, value: q.admit_at_once }),
    field('Proof of work against bots (bits, 0 for none)', { type: 'number', name: 'challenge_bits', min: 0, max: 24, value: q.challenge_bits }),
    slot, saved, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save waiting room')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = formData(form);
    const at = (value) => zoneInstant(value, event.time_zone);
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
      field('Sale starts (optional)', { name: 'sale_at', id: `${prefix}-sale-at`, type: 'datetime-local', value: zoneInput(t.sale_at, event.time_zone) }),
      field('Sale ends (optional)', { name: 'sale_end', id: `${prefix}-sale-end`, type: 'datetime-local', value: zoneInput(t.sale_end, event.time_zone) }),
      field('Limit per buyer (optional)', { name: 'max_per_user', id: `${prefix}-max`, type: 'number', min: 1, value: t.max_per_user ?? '' })),
    zoneNote(event),
    !type && h('label', {}, h('input', { type: 'checkbox', name: 'seat_mapped' }), ' Seat-mapped (buyers pick seats; the seat map sets the capacity)'),
    h('label', {}, h('input', { type: 'checkbox', name: 'visible', checked: (t.status || 'active') === 'active' }), ' Offered to buyers (untick to hide it without deleting it)'));
}

/** The API body for a ticket-type form: empty optional fields are null (cleared). */
function ticketTypeBody(event, form, type) {
  const data = formData(form);
  const currency = data.currency.toUpperCase();
  const time = (value) => zoneInstant(value, event.time_zone);
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
        await api('PATCH', `/v1/admin/events/${event.id}/ticket_types/${t.id}`, ticketTypeBody(event, form, t));
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
    h('td', { 'data-label': 'On sale' }, t.sale_at || t.sale_end ? [t.sale_at && `from ${whenText(t.sale_at, event.time_zone)}`, t.sale_end && ` until ${whenText(t.sale_end, event.time_zone)}`] : 'now'),
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
      await api('POST', `/v1/admin/events/${event.id}/ticket_types`, { ...ticketTypeBody(event, form, null), position: event.ticket_types.length });
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
          h('td', { 'data-label': 'Valid' }, p.valid_from || p.valid_until ? [p.valid_from && `from ${whenText(p.valid_from, event.time_zone)}`, p.valid_from && p.valid_until && ' ', p.valid_until && `until ${whenText(p.valid_until, event.time_zone)}`] : 'any time'),
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
    zoneNote(event),
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
    const time = (name) => zoneInstant(data.get(name), event.time_zone);
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

/**
 * The event's dashboard: tickets sold of the capacity, revenue, check-ins ("212 / 480 in"), a
 * chart of the sales over time, each ticket type's figures, the waiting room, the latest
 * bookings, the waiting list and the refunds; read again every 2 seconds, and drawn again only
 * where something changed.
 */
export async function sales(main, id) {
  const event = await api('GET', `/v1/admin/events/${id}`);
  const zone = event.time_zone;
  pageTitle(`Dashboard: ${event.name}`);
  const figures = h('dl', { class: 'figures', id: 'figures', 'aria-live': 'polite' });
  const chart = h('div', { id: 'sales-chart' });
  const body = h('div');
  const queue = h('div');
  const slot = h('div');
  const stamp = h('p', { class: 'meta' });
  const refunds = refundList(event);
  const waitlist = waitlistView(event);
  fill(main, h('h1', {}, `Dashboard: ${event.name}`),
    h('p', { class: 'meta' }, when(event.start_at, zone), ' · ', event.location, ' · ', h('a', { href: `/organizer/events/${id}` }, 'Edit'), ' · ',
      h('a', { href: `/organizer/events/${id}/attendees` }, 'Attendees'), ' · ', h('a', { href: `/organizer/checkin?event=${id}` }, 'Check-in desk')),
    slot, figures, h('h2', {}, 'Sales over time'), chart, body, queue, waitlist.box, refunds.box, stamp);
  const figure = (label, value, note) => h('div', {}, h('dt', {}, label), h('dd', {}, value), note && h('dd', { class: 'meta' }, note));
  let shown = null;
  const draw = async () => {
    try {
      const [s, q] = await Promise.all([api('GET', `/v1/admin/events/${id}/sales`), event.queue?.enabled ? queueView(event) : null, refunds.draw(), waitlist.draw()]);
      report(slot, null);
      fill(queue, q);
      // the hour is part of it: the chart runs to now
      const seen = JSON.stringify([s, Math.floor(Date.now() / HOUR)]);
      stamp.textContent = `Updated ${new Date().toLocaleTimeString()}; the page refreshes every 2 seconds.`;
      if (seen === shown) return;
      shown = seen;
      const sum = (key) => s.ticket_types.reduce((n, t) => n + t[key], 0);
      const issued = s.tickets_issued ?? sum('sold');
      const checked = s.checked_in ?? 0;
      fill(figures,
        figure('Tickets sold', h('span', { id: 'sold-total' }, `${sum('sold')} of ${sum('capacity')}`), `${sum('held')} held now · ${sum('available')} left`),
        figure('Revenue', h('span', { id: 'revenue' }, Object.entries(s.revenue).map(([c, v]) => money(v, c)).join(' + ') || money(0, event.ticket_types[0]?.currency || 'USD')),
          s.refunds?.refunded_amount ? 'after refunds' : null),
        figure('Checked in', h('span', { id: 'checkins' }, `${checked} / ${issued} in`),
          issued ? `${Math.round((100 * checked) / issued)}% of the tickets issued` : 'No tickets issued yet'));
      // drawn at the width it is shown at, so that its words keep the page's size
      fill(chart, salesChart(s.timeline || [], zone, chart.clientWidth));
      fill(body,
        h('h2', {}, 'Ticket types'),
        h('div', { class: 'table-wrap' }, h('table', { id: 'sales', class: 'stack' },
          h('thead', {}, h('tr', {}, ...['Ticket type', 'Sold', 'Held', 'Available', 'Capacity', 'Revenue'].map((t, i) => h('th', { class: i ? 'num' : '' }, t)))),
          h('tbody', {}, s.ticket_types.map((t) => h('tr', { 'data-type': t.ticket_type_id },
            h('td', {}, t.name), h('td', { class: 'num sold', 'data-label': 'Sold' }, t.sold), h('td', { class: 'num held', 'data-label': 'Held' }, t.held),
            h('td', { class: 'num available', 'data-label': 'Available' }, t.available), h('td', { class: 'num', 'data-label': 'Capacity' }, t.capacity),
            h('td', { class: 'num', 'data-label': 'Revenue' }, money(t.revenue, t.currency))))))),
        h('h2', {}, 'Latest bookings'),
        s.recent_bookings.length
          ? h('ul', { class: 'plain card' }, s.recent_bookings.map((b) => h('li', {}, b.booking_code, ' · ', h('span', { class: `status ${b.status}` }, b.status.replace('_', ' ')),
            ` · ${b.number_seats} ticket${b.number_seats === 1 ? '' : 's'} · `, money(b.total_price, b.currency), ' · ', when(b.held_at, zone))))
          : h('p', {}, 'No bookings yet.'));
    } catch (error) {
      report(slot, error);
    }
  };
  await draw();
  const timer = setInterval(draw, 2000);
  onLeave(() => clearInterval(timer));
}

const HOUR = 3600e3;
const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A step for the count axis that gives it at most five lines above 0, on round numbers. */
function tickStep(most) {
  if (most <= 5) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(most / 5));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((step) => most / step <= 5);
}

/**
 * Tickets sold over time as bars, from the first sale to now (the last 12 hours or 7 days at
 * least): an hour a bar over the first two days, a day a bar after, on the event's clocks. To a
 * screen reader the drawing is one image named by its summary; the same numbers are in a table
 * only it reads. `width`: the chart's in CSS pixels.
 */
function salesChart(timeline, zone, width) {
  if (!timeline.length) return h('p', { id: 'chart-empty' }, 'No tickets sold yet: the chart starts with the first sale.');
  const first = Date.parse(timeline[0].at);
  const end = Math.max(Date.parse(timeline[timeline.length - 1].at), Date.now());
  const hourly = end - first < 48 * HOUR;
  const dayOf = (ms) => zoneInput(new Date(ms).toISOString(), zone).slice(0, 10);
  // every hour (or day) from the first sale to now, those without sales too, so that time runs
  // evenly along the axis
  const buckets = [];
  const bucket = (key, at) => buckets.push({ key, at, tickets: 0, revenue: {} });
  if (hourly) {
    for (let at = Math.min(Math.floor(first / HOUR), Math.floor(end / HOUR) - 11) * HOUR; at <= end; at += HOUR) bucket(at, at);
  } else {
    // from noon to noon: a day further whatever the clocks do overnight
    const from = Math.min(Date.parse(zoneInstant(`${dayOf(first)}T12:00`, zone)), Date.parse(zoneInstant(`${dayOf(end)}T12:00`, zone)) - 6 * 24 * HOUR);
    for (let at = from; dayOf(at) <= dayOf(end); at += 24 * HOUR) bucket(dayOf(at), at);
  }
  const index = new Map(buckets.map((b, i) => [b.key, i]));
  for (const point of timeline) {
    const ms = Date.parse(point.at);
    const b = buckets[index.get(hourly ? Math.floor(ms / HOUR) * HOUR : dayOf(ms))];
    if (!b) continue;
    b.tickets += point.tickets;
    for (const [currency, minor] of Object.entries(point.revenue || {})) b.revenue[currency] = (b.revenue[currency] || 0) + minor;
  }
  const short = (b) => new Date(b.at).toLocaleString(undefined, hourly ? { hour: 'numeric', minute: '2-digit', timeZone: zone } : { month: 'short', day: 'numeric', timeZone: zone });
  const long = (b) => new Date(b.at).toLocaleString(undefined, hourly
    ? { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZone: zone, timeZoneName: 'short' }
    : { weekday: 'short', month: 'short', day: 'numeric', year: 'numeric', timeZone: zone });
  const tickets = (n) => `${n} ticket${n === 1 ? '' : 's'}`;
  const total = buckets.reduce((n, b) => n + b.tickets, 0);
  const busiest = buckets.reduce((a, b) => (b.tickets > a.tickets ? b : a));
  const unit = hourly ? 'hour' : 'day';
  const sold = buckets.filter((b) => b.tickets);
  const summary = sold.length === 1
    ? `${tickets(total)}, all in the ${unit} of ${long(sold[0])}.`
    : `${tickets(total)} from ${long(sold[0])} to ${long(sold[sold.length - 1])}; the most in one ${unit}: ${busiest.tickets} (${long(busiest)}).`;

  const [W, H, left, right, top, bottom] = [Math.max(320, Math.round(width) || 640), 240, 46, 12, 12, 44];
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const step = tickStep(busiest.tickets);
  const yMax = Math.max(step, Math.ceil(busiest.tickets / step) * step);
  const y = (n) => top + plotH - (n / yMax) * plotH;
  const slotW = plotW / buckets.length;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-labelledby': 'chart-title' });
  root.append(svg('title', { id: 'chart-title' }, `Tickets sold by the ${unit}: ${summary}`));
  for (let n = 0; n <= yMax; n += step) {
    root.append(svg('line', { class: n ? 'grid' : 'axis', x1: left, x2: W - right, y1: y(n), y2: y(n) }),
      svg('text', { x: left - 6, y: y(n) + 4, 'text-anchor': 'end' }, String(n)));
  }
  root.append(svg('line', { class: 'axis', x1: left, x2: left, y1: top, y2: top + plotH }));
  buckets.forEach((b, i) => {
    if (!b.tickets) return;
    const barW = Math.max(1, Math.min(slotW * 0.7, 48));
    const bar = svg('rect', { class: 'bar', x: left + (i + 0.5) * slotW - barW / 2, width: barW, y: y(b.tickets), height: top + plotH - y(b.tickets) });
    bar.append(svg('title', {}, `${long(b)}: ${tickets(b.tickets)}`));
    root.append(bar);
  });
  // as many labels along the time axis as fit side by side, the first always
  const every = Math.ceil(buckets.length / Math.max(2, Math.floor(plotW / 90)));
  buckets.forEach((b, i) => {
    if (i % every) return;
    root.append(svg('text', { x: left + (i + 0.5) * slotW, y: top + plotH + 16, 'text-anchor': 'middle' }, short(b)));
  });
  root.append(svg('text', { x: left + plotW / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis-title' }, hourly ? `Hour (${zoneAbbr(zone, timeline[0].at)})` : 'Day'),
    svg('text', { x: 14, y: top + plotH / 2, 'text-anchor': 'middle', class: 'axis-title', transform: `rotate(-90 14 ${top + plotH / 2})` }, 'Tickets'));
  return [root,
    h('div', { class: 'sr' }, h('table', { id: 'chart-table' },
      h('caption', {}, `Tickets sold per ${unit} (${unit}s without sales left out)`),
      h('thead', {}, h('tr', {}, h('th', {}, hourly ? 'Hour starting' : 'Day'), h('th', {}, 'Tickets'), h('th', {}, 'Revenue'))),
      h('tbody', {}, sold.map((b) => h('tr', {}, h('td', {}, long(b)), h('td', {}, String(b.tickets)),
        h('td', {}, Object.entries(b.revenue).map(([c, v]) => money(v, c)).join(' + '))))))),
  ];
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
            h('td', { 'data-label': 'Offer ends' }, e.status === 'offered' && e.offer_expires_at ? when(e.offer_expires_at, event.time_zone) : '—'))))))
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
            h('td', { 'data-label': 'When' }, when(f.created_at, event.time_zone), f.refunded_at && h('div', { class: 'meta' }, `back ${whenText(f.refunded_at, event.time_zone)}`)),
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
async function queueView(event) {
  const q = await api('GET', `/v1/admin/events/${event.id}/queue`);
  const cells = [['Waiting', q.waiting], ['Let in', q.admitted], ['Holding', q.holding], ['Bought', q.bought], ['Left', q.left]];
  return h('section', { id: 'queue-view' }, h('h2', {}, 'Waiting room'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'stack' },
      h('thead', {}, h('tr', {}, cells.map(([t]) => h('th', { class: 'num' }, t)))),
      h('tbody', {}, h('tr', {}, cells.map(([t, v]) => h('td', { class: 'num', 'data-label': t, 'data-queue': t.toLowerCase().replace(' ', '-') }, String(v))))))),
    h('p', { class: 'meta' }, `Sale starts ${whenText(q.starts_at, event.time_zone)}. Seed SHA-256: ${q.seed_sha256}`, q.seed ? ` · seed: ${q.seed}` : ''));
}

/**
 * The attendee list: search, pages of 50, and the whole list (or the search's) as CSV. Each
 * ticket's short code is the one the door can type; the name on it shows when the event asks for
 * one.
 */
export async function attendees(main, id) {
  const event = await api('GET', `/v1/admin/events/${id}`);
  pageTitle(`Attendees: ${event.name}`);
  const named = event.attendee_names;
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
          named && h('td', { 'data-label': 'Name on ticket', class: 'attendee-name' }, a.attendee_name || '—'),
          h('td', { 'data-label': 'Buyer' }, a.name || '—'), h('td', { 'data-label': 'Email' }, a.email),
          h('td', { 'data-label': 'Ticket' }, a.ticket_type), h('td', { 'data-label': 'Seat' }, a.seat || '—'),
          h('td', { 'data-label': 'Code', class: 'short-code' }, a.short_code ? h('code', {}, a.short_code) : '—'),
          h('td', { 'data-label': 'Booking' }, a.booking_code),
          h('td', { 'data-label': 'Status' }, h('span', { class: `status ${a.status}` }, a.status === 'void' ? 'refunded' : a.status.replace('_', ' ')), a.checked_in_at ? ` ${whenText(a.checked_in_at, event.time_zone)}` : ''),
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
      report(slot, inWords(error));
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
    h('p', { class: 'meta' }, when(event.start_at, event.time_zone), ' · ', event.location, ' · ', h('a', { href: `/organizer/events/${id}/sales` }, 'Sales dashboard'), ' · ',
      h('a', { href: `/organizer/checkin?event=${id}` }, 'Check-in desk')),
    form, slot, done, count,
    h('div', { class: 'table-wrap' }, h('table', { class: 'stack', id: 'attendees' },
      h('thead', {}, h('tr', {}, [named && 'Name on ticket', 'Buyer', 'Email', 'Ticket', 'Seat', 'Code', 'Booking', 'Status', ''].filter((t) => t !== false).map((t) => h('th', {}, t)))), rows)),
    h('div', { class: 'actions' }, more, download));
  await load(true);
}

/** "7:05 PM MST" today on the event's clocks, "Dec 1 at 7:05 PM MST" another day. */
function clockTime(iso, zone) {
  const at = new Date(iso);
  const time = at.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit', timeZone: zone, timeZoneName: 'short' });
  const today = zoneInput(at.toISOString(), zone).slice(0, 10) === zoneInput(new Date().toISOString(), zone).slice(0, 10);
  return today ? `at ${time}` : `on ${at.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: zone })} at ${time}`;
}

/** A refused check-in in words for the door: [the verdict's class, its headline, a line under it]. */
function refusedEntry(error, zone) {
  if (error.status === undefined) return ['invalid', '✖ Not checked in', describe(error)];
  if (error.code === 'already_checked_in') {
    // the time is a detail of its own; an older server says it only inside the message
    const at = error.details?.find((d) => d.field === 'checked_in_at')?.message || error.message.match(/\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:?\d\d)?/)?.[0];
    const valid = at && !Number.isNaN(Date.parse(at));
    return ['used', `⚠ Already checked in${valid ? ` ${clockTime(at, zone)}` : ''}`, 'Do not admit this ticket again.'];
  }
  if (error.code === 'ticket_voided') {
    return ['invalid', '✖ No longer valid', /transfer/i.test(error.message)
      ? 'This ticket was given to someone else, whose ticket has a new code: this one no longer admits anyone.'
      : 'This ticket was refunded: it no longer admits anyone.'];
  }
  if (error.status === 404) return ['invalid', '✖ Not for this event', 'This ticket is not for this event.'];
  if (error.code === 'invalid_ticket_code' || error.status === 400 || error.status === 422) {
    return ['invalid', '✖ Invalid ticket', 'This is not a ticket code we know: check it (the 8 characters under the QR code) and try again.'];
  }
  return ['invalid', '✖ Not checked in', inWords(error).message];
}

/**
 * Camera scanning where the browser reads QR codes itself (BarcodeDetector) and can open a
 * camera: a preview, a look for a code every 300 ms, and each code handed to `found` once while
 * it stays in view (a code held up is seen over and over); the camera goes off on "Stop camera"
 * and when the page is left. Hidden where either is missing: typed codes stay.
 */
function cameraScanner(found, checking) {
  const start = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Scan with camera');
  const stop = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Stop camera');
  const video = h('video', { class: 'scanner', muted: true, playsinline: true, hidden: true, 'aria-label': 'What the camera sees' });
  const said = h('p', { class: 'meta', role: 'status', id: 'camera-status' });
  let stream = null;
  let timer = null;
  let left = false;
  let last = { code: null, at: 0 };
  const off = () => {
    clearInterval(timer);
    timer = null;
    stream?.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    stop.hidden = true;
    start.hidden = false;
  };
  (async () => {
    if (!('BarcodeDetector' in window) || !navigator.mediaDevices?.getUserMedia) return;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats?.();
      if (formats && !formats.includes('qr_code')) return;
    } catch {
      return;
    }
    if (!left) start.hidden = false;
  })();
  start.addEventListener('click', async () => {
    said.textContent = '';
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    } catch (error) {
      said.textContent = error?.name === 'NotAllowedError'
        ? "This site may not use the camera: allow it in the browser's settings for this site, or type the codes."
        : 'No camera could be opened: type the codes instead.';
      return;
    }
    if (left) return off();
    video.srcObject = stream;
    video.hidden = false;
    start.hidden = true;
    stop.hidden = false;
    await video.play().catch(() => {});
    const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    let looking = false;
    said.textContent = "Hold a ticket's QR code up to the camera.";
    timer = setInterval(async () => {
      if (looking || checking()) return;
      looking = true;
      try {
        const code = (await detector.detect(video)).find((c) => c.rawValue)?.rawValue;
        if (!code) return;
        const again = code === last.code && Date.now() - last.at < 3000;
        last = { code, at: Date.now() };
        if (!again) await found(code);
      } catch {
        // no frame yet, or one the detector could not read: the next look will do
      } finally {
        looking = false;
      }
    }, 300);
  });
  stop.addEventListener('click', () => {
    off();
    said.textContent = 'The camera is off.';
    start.focus();
  });
  onLeave(() => {
    left = true;
    off();
  });
  return { start, stop, video, said };
}

/**
 * The door: a ticket's short code typed (or the whole code a scanner types), or its QR read by
 * the camera, checked in and said in words the staff can act on.
 */
export async function checkin(main, params) {
  pageTitle('Check-in');
  const page = await api('GET', '/v1/admin/events?limit=100&status=published');
  const zones = new Map(page.data.map((e) => [e.id, e.time_zone]));
  const verdict = h('div', { id: 'verdict', 'aria-live': 'assertive' });
  let checking = false;
  const check = async (code) => {
    const eventId = form.querySelector('[name=event]').value;
    const zone = zones.get(eventId);
    checking = true;
    fill(verdict);
    await busy(form, h('div'), async () => {
      try {
        const ticket = await api('POST', `/v1/admin/events/${eventId}/checkins`, { code: code.trim() });
        const seat = ticket.seat && `${ticket.seat.section} ${ticket.seat.row}${ticket.seat.label}`;
        fill(verdict, h('div', { class: 'verdict valid', role: 'status' }, `✔ Checked in: ${[seat || ticket.ticket_type_name, ticket.attendee_name].filter(Boolean).join(', ')}`),
          h('p', {}, ticket.ticket_type_name, ticket.seat ? ` · ${ticket.seat.section}, row ${ticket.seat.row}, seat ${ticket.seat.label}` : ' · general admission', ' · booking ', ticket.booking_code, ' · admit one'));
      } catch (error) {
        const [kind, headline, line] = refusedEntry(error, zone);
        fill(verdict, h('div', { class: `verdict ${kind}`, role: 'alert' }, headline), h('p', {}, line));
      }
    });
    checking = false;
  };
  const camera = cameraScanner(check, () => checking);
  const form = h('form', { class: 'card' },
    field('Event', { name: 'event', value: params.get('event') || '', options: page.data.map((e) => [e.id, `${e.name} (${whenText(e.start_at, e.time_zone)})`]) }, 'select'),
    field('Ticket code (scan or type it)', { name: 'code', required: true, autocomplete: 'off', autofocus: true, spellcheck: 'false', 'aria-describedby': 'code-hint' }),
    h('p', { class: 'meta', id: 'code-hint' }, 'The 8 characters under the ticket\u2019s QR code (such as K7QF-9M2X), or the whole code a scanner types.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Check in'), camera.start, camera.stop),
    camera.said, camera.video);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = form.querySelector('[name=code]');
    await check(input.value);
    input.value = '';
    input.focus();
  });
  fill(main, h('h1', {}, 'Check-in desk'), page.data.length ? [form, verdict] : h('p', {}, 'You have no published events to check in.'));
}
