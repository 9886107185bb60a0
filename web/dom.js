// Building the page without innerHTML (so nothing an organizer or buyer typed can run as code),
// and the formats every page shares: money in minor units, dates, errors in words.

/** h('p', {class: 'meta'}, 'text', child, ...): an element; attributes starting with "on" are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const formats = new Map();
/** The currency's formatter (a plain one for a code Intl does not know), made once. */
function formatOf(currency) {
  let format = formats.get(currency);
  if (!format) {
    try {
      format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    } catch {
      format = { format: (v) => `${v} ${currency}`, resolvedOptions: () => ({ maximumFractionDigits: 0 }) };
    }
    formats.set(currency, format);
  }
  return format;
}

const minorDigits = (currency) => formatOf(currency).resolvedOptions().maximumFractionDigits;

/** 150000, "VND" -> "₫150,000"; 2500, "USD" -> "$25.00". */
export function money(minor, currency) {
  if (minor === null || minor === undefined) return '';
  return formatOf(currency).format(toMajor(minor, currency));
}

/** Minor units as the number an organizer types (2550, "USD" -> 25.5). */
export function toMajor(minor, currency) {
  return minor / 10 ** minorDigits(currency);
}

/** Major units typed by an organizer ("25.50") to minor units (2550). */
export function toMinor(text, currency) {
  return Math.round(Number(text) * 10 ** minorDigits(currency || 'USD'));
}

/** The buyer's own time zone, as the browser says it. */
export const ownZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

// dateStyle and timeStyle cannot be combined with timeZoneName (Intl throws a TypeError)
const WHEN = { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' };

/**
 * "Dec 5, 2026, 7:30 PM MST": an ISO time in `zone` (an event's IANA time zone; the browser's own
 * when absent) with the zone's short name, as a <time> element whose title says it in the
 * browser's own zone when that differs.
 */
export function when(iso, zone) {
  if (!iso) return '';
  const at = new Date(iso);
  const text = at.toLocaleString(undefined, { ...WHEN, timeZone: zone || undefined });
  const el = h('time', { datetime: iso }, text);
  if (zone && zone !== ownZone()) el.title = `${at.toLocaleString(undefined, WHEN)} where you are`;
  return el;
}

/** when() as plain text, for places that take no element (titles, alerts, mail-like summaries). */
export function whenText(iso, zone) {
  const el = when(iso, zone);
  return typeof el === 'string' ? el : el.textContent;
}

export function day(iso, zone) {
  return iso ? new Date(iso).toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: zone || undefined }) : '';
}

/** An ISO time as the value of an <input type="datetime-local"> in local time. */
export function localInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The words to show for a failure: the API's own message, or what went wrong on the way. */
export function describe(error) {
  if (error && error.status !== undefined) {
    // validation_failed messages already name every field at fault: say each once
    const extra = (error.details || []).map((d) => `${d.field}: ${d.message}`).filter((d) => !error.message.includes(d)).join('; ');
    return extra ? `${error.message} (${extra})` : error.message;
  }
  if (error instanceof TypeError) return 'Could not reach boxoffice. Check your connection and try again.';
  return error?.message || String(error);
}

/** A role=alert box with the words for `error`. */
export function errorBox(error) {
  return h('div', { role: 'alert' }, describe(error));
}

/** Shows `error` in `slot` (replacing what was there); clears it when `error` is null. */
export function report(slot, error) {
  if (!error) return fill(slot);
  fill(slot, errorBox(error));
  slot.scrollIntoView?.({ block: 'nearest' });
}

/**
 * Disables a form's buttons while `work` runs, and shows its failure in `slot`; with
 * `{ atFields: true }` a refusal's `details` go under the fields they name (see `atFields`) and
 * only the rest to `slot`.
 */
export async function busy(form, slot, work, { atFields: fields = false } = {}) {
  const buttons = [...form.querySelectorAll('button')];
  buttons.forEach((b) => (b.disabled = true));
  report(slot, null);
  if (fields) atFields(form, null);
  try {
    return await work();
  } catch (error) {
    const left = fields ? atFields(form, error) : [];
    if (!fields || !error.details?.length) report(slot, error);
    else if (left.length) report(slot, { status: error.status, message: left.map((d) => `${d.field}: ${d.message}`).join('; ') });
    return undefined;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

/**
 * Shows a 422's `details` at their fields in `form`: each message under the control named as its
 * `field` (or the element with that `data-field`, for a group of boxes), which is marked
 * aria-invalid and described by it. Clears the form's earlier ones first (`error` null: only
 * that). Answers the details no field of the form took.
 */
export function atFields(form, error) {
  for (const old of form.querySelectorAll('.field-error')) old.remove();
  for (const marked of form.querySelectorAll('[aria-invalid]')) {
    marked.removeAttribute('aria-invalid');
    marked.removeAttribute('aria-describedby');
  }
  const left = [];
  for (const detail of error?.details || []) {
    const name = CSS.escape(detail.field || '');
    const target = detail.field && form.querySelector(`[name="${name}"], [data-field="${name}"]`);
    if (!target) {
      left.push(detail);
      continue;
    }
    // "must be 0 to 100" is said after the field's name; a message of its own as it is
    const label = target.labels?.[0]?.textContent.replace(/\s*\(.*\)\s*$/, '') || target.dataset.label || detail.field;
    const text = /^(is|are|must|has|have|can|cannot|does|was)\b/.test(detail.message)
      ? `${label} ${detail.message}` : detail.message.charAt(0).toUpperCase() + detail.message.slice(1);
    const note = h('p', { class: 'field-error', role: 'alert', id: `${target.id || detail.field}-error` }, text);
    const group = target.closest('fieldset[data-field]') || target;
    if (group.tagName === 'FIELDSET') group.append(note);
    else group.after(note);
    target.setAttribute('aria-invalid', 'true');
    target.setAttribute('aria-describedby', note.id);
  }
  const first = form.querySelector('[aria-invalid]');
  if (first && !left.length) first.focus();
  return left;
}

/** A labelled field: field('Email', {name: 'email', type: 'email', required: true}). */
export function field(label, attrs, tag = 'input') {
  const id = attrs.id || `f-${attrs.name}`;
  const control = tag === 'select'
    ? h('select', { ...attrs, id, options: undefined }, (attrs.options || []).map(([v, t]) => h('option', { value: v, selected: v === attrs.value }, t)))
    : h(tag, { ...attrs, id }, tag === 'textarea' ? attrs.value || '' : null);
  return h('div', {}, h('label', { for: id }, label), control);
}

/** A promo code's discount in words: "20% off", "$5.00 off", "20% off, then $5.00 off". */
export function discount(promo, currency) {
  const parts = [];
  if (promo.percent_off) parts.push(`${promo.percent_off}% off`);
  if (promo.amount_off) parts.push(`${money(promo.amount_off, currency)} off`);
  return parts.join(', then ') || 'no discount';
}

/** A refund's status in words: pending, succeeded, failed. */
export function refundState(status) {
  return { pending: 'on its way', succeeded: 'done', failed: 'failed' }[status] || status;
}

export function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

export const CATEGORIES = ['music', 'concert', 'sports', 'film', 'other'];

/** The page's title, "Sales: Jazz Night · boxoffice"; every view sets its own. */
export function pageTitle(text) {
  document.title = text ? `${text} · boxoffice` : 'boxoffice';
}
