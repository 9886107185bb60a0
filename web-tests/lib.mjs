// Shared helpers for the browser scenarios (web-tests/<name>.mjs), which tests/browser.rs runs
// with `node` against a real server in headless Chromium. A scenario is a module that calls
// `run` once:
//
//   import { run, BASE_URL, shot, expectVisible } from './lib.mjs';
//
//   await run(async ({ page }) => {
//     await page.goto(`${BASE_URL}/`);
//     await expectVisible(page, 'main h1', 'the page title');
//     await shot(page, 'home');
//   });
//
// `run` launches the browser, runs the body, and always closes the browser. The scenario fails
// (exit status 1, with the page URL, the visible role=alert texts and a screenshot in the
// message) when the body throws, or when the page logged a console error or threw an uncaught
// error, unless that error was allowed with `allowConsoleError`, or when a page it showed has a
// serious or critical accessibility violation (axe-core; see checkAccessibility).
//
// Environment: BASE_URL (the server, default http://127.0.0.1:8080), SCREENSHOT_DIR (default
// web-tests/screenshots; a scenario's shots go to <dir>/<scenario>/<nn>-<name>.png), CHROMIUM
// (default /usr/bin/chromium), SCENARIO_TIMEOUT_SECONDS (default 180), and from tests/browser.rs
// ORGANIZER_EMAIL / ORGANIZER_PASSWORD (an account with the organizer role) and MAIL_DIR (where
// the server writes its .eml files).
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The server under test, without a trailing slash. */
export const BASE_URL = (process.env.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');

/** The scenario's name: its file name without `.mjs` (or $SCENARIO). */
export const SCENARIO =
  process.env.SCENARIO || path.basename(process.argv[1] || 'scenario', '.mjs');

/** Where this scenario's screenshots go. */
export const SHOT_DIR = path.join(
  path.resolve(process.env.SCREENSHOT_DIR || path.join(HERE, 'screenshots')),
  SCENARIO,
);

/** An account with the organizer role, created by tests/browser.rs (undefined otherwise). */
export const ORGANIZER = process.env.ORGANIZER_EMAIL
  ? { email: process.env.ORGANIZER_EMAIL, password: process.env.ORGANIZER_PASSWORD }
  : undefined;

/** The directory the server writes its mail to (.eml files), when tests/browser.rs runs us. */
export const MAIL_DIR = process.env.MAIL_DIR;

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// Without the background-networking flags Chromium keeps dialing out, and the closed network
// refuses it; --no-sandbox because CI runs as root.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};

/** Prints a progress line (the Rust test shows it, and on failure repeats it). */
export function log(...parts) {
  console.log(`[${SCENARIO}]`, ...parts);
}

// ---- console and page errors -------------------------------------------------------------

const pageErrors = [];
const allowed = [];

/**
 * Lets console errors whose text or URL matches `pattern` (a RegExp or a substring) pass, for a
 * scenario that provokes them on purpose.
 */
export function allowConsoleError(pattern) {
  allowed.push(pattern);
}

function isAllowed(text, url) {
  return allowed.some((p) =>
    p instanceof RegExp ? p.test(text) || p.test(url) : text.includes(p) || url.includes(p),
  );
}

// A 4xx answer from the JSON API (/v1/...) is part of normal flows (not logged in, sold out,
// wrong password): the page must show it, and scenarios check that, not the console. Chromium
// also asks for /favicon.ico on its own. Any other failed load (a missing script, stylesheet or
// image, any 5xx) is an error.
function isExpectedNetworkError(text, url) {
  if (!/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) {
    return false;
  }
  let pathname;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return false;
  }
  return pathname.startsWith('/v1/') || pathname === '/favicon.ico';
}

function watch(page) {
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const url = message.location()?.url || '';
    const text = message.text();
    if (isExpectedNetworkError(text, url) || isAllowed(text, url)) return;
    pageErrors.push(`console error on ${page.url()}: ${text}${url ? ` (${url})` : ''}`);
  });
  page.on('pageerror', (error) => {
    const text = error.stack || String(error);
    if (isAllowed(text, '')) return;
    pageErrors.push(`uncaught error on ${page.url()}: ${text}`);
  });
}

// ---- browser -------------------------------------------------------------------------------

/**
 * Headless Chromium with one page: 1280x800, or a 390x844 touch phone with `{ phone: true }`.
 * The page's console errors and uncaught errors are collected for `run`. Close `browser` when
 * done (`run` does).
 */
export async function launch({ phone = false } = {}) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    // Playwright turns the back/forward cache off; a buyer's Chromium has it on, and Back then
    // shows a page as it was left unless the page reads its state again
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
    timeout: 60_000,
  });
  try {
    const context = await newContext(browser, { phone });
    const page = await context.newPage();
    return { browser, context, page };
  } catch (error) {
    await browser.close().catch(() => {});
    throw error;
  }
}

/**
 * Another browser context of `browser` (`launch`'s), set up like the first: a second person
 * with storage of their own (their own session), whose pages' errors are collected as well.
 */
export async function newContext(browser, { phone = false } = {}) {
  const context = await browser.newContext({
    ...(phone ? PHONE : DESKTOP),
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(30_000);
  context.on('page', watch);
  return context;
}

// ---- screenshots ---------------------------------------------------------------------------

let shots = 0;

/** Saves a full-page PNG as <SHOT_DIR>/<nn>-<name>.png (numbered in order); returns its path. */
/**
 * The browser's Back button. A page the back/forward cache restores fires no load event, so this
 * waits for the navigation to commit only. With that cache on, Chromium may move the page to a
 * new renderer right after a navigation, and Playwright attaches to it a moment later; a Back
 * asked for in that moment fails with "Not attached to an active page" before anything
 * happened, so it is asked again once the page is attached.
 */
export async function goBack(page) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await page.goBack({ waitUntil: 'commit' });
    } catch (error) {
      if (attempt >= 5 || !String(error.message).includes('Not attached to an active page')) throw error;
      // answered only once the page's current document is attached again
      await page.evaluate(() => document.readyState).catch(() => {});
    }
  }
}

export async function shot(page, name) {
  if (shots === 0) {
    // the previous run's shots, so the directory holds this run's only
    mkdirSync(SHOT_DIR, { recursive: true });
    for (const file of readdirSync(SHOT_DIR)) {
      if (file.endsWith('.png')) rmSync(path.join(SHOT_DIR, file), { force: true });
    }
  }
  shots += 1;
  const slug = String(name).replace(/[^A-Za-z0-9._-]+/g, '-');
  const file = path.join(SHOT_DIR, `${String(shots).padStart(2, '0')}-${slug}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  log(`screenshot ${file}`);
  if (name !== 'failure') await checkAccessibility(page, name);
  return file;
}

// ---- accessibility ---------------------------------------------------------------------------

// axe-core (web-tests/package.json) runs on every page a scenario shows: each screenshot, each
// address the first time an expectation waits on it (expectVisible, expectText), and every open
// page at the end; a serious or critical violation fails the scenario
const AXE = readFileSync(path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const axeChecked = new Set();
const axePaths = new Set();
const axeProblems = [];

// the page's address, the first time a scenario waits on something there
async function checkNewAddress(page) {
  let where;
  try {
    where = new URL(page.url()).pathname;
  } catch {
    return;
  }
  if (!axePaths.has(where)) await checkAccessibility(page, 'first seen');
}

/** Runs axe on `page` as it is now, once per address and state of its content. */
export async function checkAccessibility(page, step = '') {
  if (page.isClosed()) return;
  let state;
  try {
    // the address and what the page says: a page redrawn with new content is checked again
    state = await page.evaluate(() => `${location.pathname}|${document.title}|${(document.querySelector('main') || document.body).innerText.length}`);
  } catch {
    return; // navigating away: the next step's page is checked
  }
  if (axeChecked.has(state)) return;
  const where = new URL(page.url()).pathname;
  let violations;
  try {
    // run through the DevTools protocol, outside the page's Content-Security-Policy
    await page.evaluate(AXE);
    violations = await page.evaluate(async () => {
      const results = await window.axe.run(document, { resultTypes: ['violations'] });
      return results.violations
        .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1, 2).join('')}`) }));
    });
  } catch (error) {
    // the page navigated meanwhile (the scenario moved on): the new one is checked when shown
    if (/context was destroyed|navigat|Target .*closed/i.test(error.message)) return;
    throw error;
  }
  axeChecked.add(state);
  axePaths.add(where);
  // the lesser ones are named in the line, to be seen, without failing the scenario
  const lesser = violations.filter((v) => v.impact !== 'serious' && v.impact !== 'critical');
  violations = violations.filter((v) => !lesser.includes(v));
  log(`axe ${where}${step ? ` (${step})` : ''}: ${violations.length ? `${violations.length} serious/critical` : 'no serious or critical violations'}` +
    (lesser.length ? ` (${lesser.map((v) => `${v.impact} ${v.id}`).join(', ')})` : ''));
  for (const v of violations) axeProblems.push(`${where} (${step}): ${v.impact} ${v.id}: ${v.help}\n      ${v.nodes.join('\n      ')}`);
}

// ---- expectations --------------------------------------------------------------------------

/** A failed expectation; `described` once its message names the page URL and alerts. */
export class ScenarioFailure extends Error {
  constructor(message, { described = false } = {}) {
    super(message);
    this.described = described;
  }
}

/** The page's URL and the text of its visible role=alert elements, for failure messages. */
export async function describePage(page) {
  if (!page) return 'page: none (the browser did not start)';
  if (page.isClosed()) return 'page: closed';
  const lines = [`page: ${page.url()}`];
  try {
    const texts = await page
      .locator('[role=alert]')
      .evaluateAll((nodes) =>
        nodes
          .filter((n) => n.checkVisibility?.() ?? n.offsetParent !== null)
          .map((n) => n.innerText.trim().replace(/\s+/g, ' '))
          .filter(Boolean),
      );
    lines.push(
      texts.length ? `alerts: ${texts.map((t) => JSON.stringify(t)).join(', ')}` : 'alerts: none',
    );
  } catch (error) {
    lines.push(`alerts: unreadable (${error.message.split('\n')[0]})`);
  }
  return lines.join('\n');
}

/** Fails the scenario with `message`, the page URL and its alerts. */
export async function fail(page, message) {
  throw new ScenarioFailure(`${message}\n${await describePage(page)}`, { described: true });
}

/** Fails with `message` unless `condition` holds. */
export async function expect(page, condition, message) {
  if (!condition) await fail(page, message);
}

/** Waits for `selector` to be visible; fails naming `what` (default: the selector) if not. */
export async function expectVisible(page, selector, what = selector, { timeout } = {}) {
  const locator = typeof selector === 'string' ? page.locator(selector).first() : selector;
  try {
    await locator.waitFor({ state: 'visible', timeout });
  } catch (error) {
    await fail(page, `expected ${what} to be visible: ${error.message.split('\n')[0]}`);
  }
  await checkNewAddress(page);
  return locator;
}

/** Waits until `locator` (or a selector) matches exactly `count` elements; fails naming `what`. */
export async function expectCount(page, locator, count, what, { timeout = 15_000 } = {}) {
  const target = typeof locator === 'string' ? page.locator(locator) : locator;
  let seen;
  for (const deadline = Date.now() + timeout; Date.now() < deadline;) {
    seen = await target.count();
    if (seen === count) return;
    await page.waitForTimeout(100);
  }
  await fail(page, `expected ${count} of ${what}, found ${seen} after ${timeout / 1000} s`);
}

/** Waits until the page shows `text` (a string or RegExp) somewhere visible. */
export async function expectText(page, text, { timeout } = {}) {
  return expectVisible(page, page.getByText(text).first(), `the text ${text}`, { timeout });
}

// ---- the JSON API, for setting up data ----------------------------------------------------

/** Calls the API (`/v1/...`) directly; answers `{ status, body }` (body parsed when JSON). */
export async function api(method, pathname, { token, body, headers = {} } = {}) {
  const response = await fetch(`${BASE_URL}${pathname}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed };
}

/** Like `api`, but throws unless the answer has `status`; returns the body. */
export async function apiExpect(status, method, pathname, options) {
  const answer = await api(method, pathname, options);
  if (answer.status !== status) {
    throw new ScenarioFailure(
      `${method} ${pathname} answered ${answer.status}, expected ${status}: ` +
        JSON.stringify(answer.body),
    );
  }
  return answer.body;
}

/** Logs in through the API; answers the access token. */
export async function login(email, password) {
  const tokens = await apiExpect(200, 'POST', '/v1/auths/login', { body: { email, password } });
  return tokens.access_token;
}

/**
 * An event of ORGANIZER's set up through the API, published unless `publish: false`. `event`
 * overrides the event's fields; each of `types` is a ticket type's body (USD unless it says),
 * plus `rows` (row labels) and `seats` (per row) for a seat-mapped one, whose one section is
 * named after it. Answers `{ event, types }` with the created ticket types in order.
 */
export async function organizerEvent({ event = {}, types = [], publish = true }) {
  const token = await login(ORGANIZER.email, ORGANIZER.password);
  const created = await apiExpect(201, 'POST', '/v1/admin/events', { token, body: {
    title: '', description: 'Set up by a browser scenario.', category: 'music', location: 'Hanoi Opera House',
    start_at: '2027-05-01T19:00:00Z', end_at: '2027-05-01T22:00:00Z', ...event } });
  const made = [];
  for (const { rows, seats, ...body } of types) {
    const mapped = Boolean(rows);
    const type = await apiExpect(201, 'POST', `/v1/admin/events/${created.id}/ticket_types`, { token,
      body: { currency: 'USD', number_seats: 1, seat_mapped: mapped, position: made.length, ...body } });
    if (mapped) {
      await apiExpect(200, 'POST', `/v1/admin/events/${created.id}/ticket_types/${type.id}/seats`, { token,
        body: { sections: [{ name: body.name, rows: rows.map((label) => ({ label, seats })) }] } });
    }
    made.push(type);
  }
  if (publish) await apiExpect(200, 'POST', `/v1/admin/events/${created.id}/publish`, { token, body: {} });
  return { event: created, types: made };
}

/**
 * A new buyer account (made through the API), logged in through the site's form with `next` as
 * the page to land on; answers `{ email, password, token }` (the token for API calls).
 */
export async function buyerLoggedIn(page, next) {
  const email = `${SCENARIO}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}@example.com`;
  const password = 'correct horse battery';
  await apiExpect(201, 'POST', '/v1/auths/register', { body: { email, password } });
  await page.goto(`${BASE_URL}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((url) => url.pathname === next);
  return { email, password, token: await login(email, password) };
}

/**
 * From the site's Pay button to the sandbox gateway's page for `method` ("Card", "E-wallet"),
 * Pay there, and back to the booking (or, with `stay`, left on the gateway's "Payment approved").
 * `tap` for a touch screen.
 */
export async function payOnGateway(page, method, { tap = false, stay = false } = {}) {
  const press = (locator) => (tap ? locator.tap() : locator.click());
  await press(page.getByRole('button', { name: /^Pay/ }));
  await page.waitForURL(/\/sandbox\/pay\//);
  await expectText(page, method);
  await shot(page, 'gateway');
  await press(page.getByRole('button', { name: /^Pay/ }));
  await expectText(page, 'Payment approved');
  if (!stay) await press(page.getByRole('link', { name: 'Return to boxoffice' }));
}

/** Waits for the booking page to say confirmed and show `count` tickets whose QR codes load. */
export async function expectConfirmed(page, count) {
  await expectVisible(page, '#booking-status:text("confirmed")', 'the booking confirmed', { timeout: 30_000 });
  await expectVisible(page, '#booking-tickets .ticket img.qr', 'the tickets with their QR codes', { timeout: 30_000 });
  await expectCount(page, '#booking-tickets .ticket', count, 'tickets on the booking page');
  for (const qr of await page.locator('#booking-tickets .ticket img.qr').all()) {
    await expect(page, await qr.evaluate(async (img) => { await img.decode(); return img.naturalWidth > 0; }), 'each QR code should load');
  }
}

// The scenario's line an expectation failed on (its stack without this file and node's own).
function scenarioFrame(error) {
  const frame = String(error.stack || '')
    .split('\n')
    .slice(1)
    .find((line) => line.includes('file://') && !line.includes('/lib.mjs') && !line.includes('/node_modules/'));
  return frame ? `at ${frame.trim().replace(/^at /, '')}` : '';
}

// ---- the scenario ----------------------------------------------------------------------------

/**
 * Runs a scenario: launches the browser (`options` go to `launch`), calls `body({ browser,
 * context, page })`, closes the browser, and sets the exit status: 0 only if the body
 * succeeded and no page logged an error.
 */
export async function run(body, options = {}) {
  const timeoutSeconds = Number(process.env.SCENARIO_TIMEOUT_SECONDS || 180);
  let session;
  let failure;
  let timer;
  log(`${BASE_URL} in ${CHROMIUM}${options.phone ? ' (phone)' : ''}`);
  try {
    session = await launch(options);
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new ScenarioFailure(`the scenario took longer than ${timeoutSeconds} s`)),
        timeoutSeconds * 1000,
      );
    });
    await Promise.race([body(session), timeout]);
  } catch (error) {
    failure = error;
  } finally {
    clearTimeout(timer);
  }

  const report = [];
  if (failure) {
    const what =
      failure instanceof ScenarioFailure
        ? `${failure.message}\n${scenarioFrame(failure)}`.trimEnd()
        : String(failure.stack || failure);
    report.push(failure.described ? what : `${what}\n${await describePage(session?.page)}`);
    if (session?.page && !session.page.isClosed()) {
      try {
        report.push(`screenshot: ${await shot(session.page, 'failure')}`);
      } catch (error) {
        report.push(`no failure screenshot: ${error.message.split('\n')[0]}`);
      }
    }
  }
  if (session && !failure) {
    for (const open of session.browser.contexts().flatMap((c) => c.pages())) await checkAccessibility(open, 'end').catch(() => {});
  }
  if (axeProblems.length) {
    report.push(`axe-core found ${axeProblems.length} serious or critical violation(s):`);
    report.push(...axeProblems.map((p) => `  - ${p}`));
  }
  log(`axe: ${axeChecked.size} page states checked, ${axeProblems.length} serious or critical violations`);
  if (pageErrors.length) {
    report.push(`the page reported ${pageErrors.length} error(s):`);
    report.push(...pageErrors.map((e) => `  - ${e}`));
  }
  if (session) await session.browser.close().catch(() => {});

  if (report.length) {
    console.error(`\n[${SCENARIO}] FAILED\n${report.join('\n')}`);
    process.exitCode = 1;
  } else {
    log('passed');
    process.exitCode = 0;
  }
  // nothing should keep node alive after the browser is closed, but never hang the test run
  setTimeout(() => process.exit(process.exitCode), 5_000).unref();
}
