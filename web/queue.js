// The waiting room: joining (with the proof of work a queue may ask), the queue page with the
// place in line and the estimate kept live over server-sent events, and the admission the event
// page holds with once the buyer is let in.
import { api, session } from './api.js';
import { h, fill, when, whenText, report, pageTitle } from './dom.js';
import { go, onLeave } from './app.js';

const kept = (id) => `admission:${id}`;

/** The buyer's running admission to `id`, if one is kept in this tab. */
export function admission(id) {
  const stored = JSON.parse(sessionStorage.getItem(kept(id)) || 'null');
  if (!stored || Date.parse(stored.until) <= Date.now()) return null;
  return stored;
}

function keep(id, status) {
  sessionStorage.setItem(kept(id), JSON.stringify({ token: status.admission_token, until: status.admitted_until }));
}

function left(until) {
  const seconds = Math.max(0, Math.round((Date.parse(until) - Date.now()) / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

/**
 * The event page's notice for a queued sale: the time left to buy once admitted, otherwise how
 * the queue works and the way in. Looks the admission up when this tab has none.
 */
export async function panel(detail) {
  const queue = detail.queue;
  if (!queue?.enabled) return null;
  if (!admission(detail.id) && session.get()) {
    try {
      const me = await api('GET', `/v1/events/${detail.id}/queue/me`);
      if (me.status === 'admitted') keep(detail.id, me);
    } catch {
      // not in the queue yet
    }
  }
  const mine = admission(detail.id);
  if (mine) {
    const clock = h('strong', { id: 'admission-left' }, left(mine.until));
    const timer = setInterval(() => { clock.textContent = left(mine.until); }, 1000);
    onLeave(() => clearInterval(timer));
    return h('div', { class: 'card notice', id: 'admitted', role: 'status' },
      h('strong', {}, "You're in. "), 'Choose your tickets: you have ', clock, ` left to book (until ${whenText(mine.until, detail.time_zone)}).`);
  }
  return h('div', { class: 'card notice', id: 'queue-notice' },
    h('p', {}, h('strong', {}, 'This sale goes through a waiting room. '),
      `It opens ${whenText(queue.opens_at, detail.time_zone)}; the sale starts ${whenText(queue.starts_at, detail.time_zone)}. Everyone who joins before the start gets a place drawn at random then; later arrivals queue in order.`),
    h('p', {}, h('a', { class: 'button', href: `/events/${detail.id}/queue`, id: 'join-queue' }, 'Join the queue')));
}

/** SHA-256(`challenge:nonce`) with `bits` leading zero bits: the proof of work a join may need. */
async function solve(challenge, bits) {
  const encoder = new TextEncoder();
  for (let nonce = 0; ; nonce += 1) {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(`${challenge}:${nonce}`)));
    let zeros = 0;
    for (const byte of digest) {
      if (byte === 0) { zeros += 8; continue; }
      zeros += Math.clz32(byte) - 24;
      break;
    }
    if (zeros >= bits) return String(nonce);
  }
}

async function join(id, slot) {
  try {
    return await api('POST', `/v1/events/${id}/queue`, {});
  } catch (error) {
    if (error.code !== 'challenge_required') throw error;
    const detail = (name) => error.details?.find((d) => d.field === name)?.message;
    fill(slot, h('p', { class: 'meta' }, 'Checking this browser before letting it in line…'));
    const challenge = detail('challenge');
    const nonce = await solve(challenge, Number(detail('challenge_bits')));
    fill(slot);
    return api('POST', `/v1/events/${id}/queue`, { challenge, nonce });
  }
}

/** The queue page: joins, then shows the place in line live until the buyer is let in. */
export async function page(main, id) {
  const detail = await api('GET', `/v1/events/${id}`);
  const slot = h('div');
  const status = h('div', { class: 'card queue', 'aria-live': 'polite', id: 'queue-status' }, h('p', {}, 'Joining…'));
  const seed = h('p', { class: 'meta', id: 'queue-seed' });
  pageTitle(`Waiting room: ${detail.name}`);
  fill(main, h('h1', {}, `Waiting room: ${detail.name}`), h('p', { class: 'meta' }, when(detail.start_at, detail.time_zone), ' · ', detail.location), slot, status, seed);
  let current = await join(id, slot);
  let gone = false;
  const draw = (now) => {
    current = now;
    seed.textContent = `The order is drawn with a seed whose SHA-256 is ${now.seed_sha256}; the seed is published when the sale starts, so anyone can check it.`;
    if (now.status === 'admitted') {
      keep(id, now);
      fill(status, h('p', { class: 'big' }, h('strong', {}, "You're in!")), h('p', {}, `You have until ${whenText(now.admitted_until, detail.time_zone)} to book. Taking you to the tickets…`));
      if (!gone) {
        gone = true;
        go(`/events/${id}`, { replace: true });
      }
      return;
    }
    const lines = {
      waiting: () => (now.position == null
        ? [h('p', { class: 'big', id: 'queue-position' }, 'In the pre-queue'),
          h('p', {}, `Places are drawn at random when the sale starts, ${whenText(now.starts_at, detail.time_zone)}. Keep this page open.`)]
        : [h('p', { class: 'big' }, 'Your place in line: ', h('strong', { id: 'queue-position' }, String(now.position))),
          h('p', {}, now.estimated_wait_seconds != null ? `About ${Math.max(1, Math.round(now.estimated_wait_seconds / 60))} min to wait. ` : '', 'Keep this page open: it takes you to the tickets when it is your turn.')]),
      sold_out: () => [h('p', { class: 'big', id: 'queue-position' }, 'Sold out for now'),
        h('p', {}, 'Every ticket is held or sold. Stay in line: tickets that come back go to the next people.')],
      expired: () => [h('p', { class: 'big', id: 'queue-position' }, 'Your time to book ran out'),
        h('p', {}, 'Your admission has ended.')],
      closed: () => [h('p', { class: 'big', id: 'queue-position' }, 'The waiting room is closed')],
    };
    fill(status, ...(lines[now.status] || lines.closed)());
  };
  draw(current);
  if (gone) return;
  // EventSource cannot send headers, so the token goes in the query
  const token = session.get()?.access_token;
  const source = new EventSource(`/v1/events/${id}/queue/stream?access_token=${encodeURIComponent(token)}`);
  source.addEventListener('status', (event) => draw(JSON.parse(event.data)));
  // if the stream drops, polling keeps the place up to date
  const timer = setInterval(async () => {
    if (source.readyState !== EventSource.CLOSED) return;
    try {
      draw(await api('GET', `/v1/events/${id}/queue/me`));
      report(slot, null);
    } catch (error) {
      report(slot, error);
    }
  }, 3000);
  onLeave(() => {
    source.close();
    clearInterval(timer);
  });
}
