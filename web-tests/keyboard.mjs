// The buyer's path with the keyboard alone: after page.goto nothing is clicked, filled or tapped,
// only keys pressed. "Skip to content", logging in, searching, picking seats on the map (one Tab
// stop, arrow keys between seats) with Space and Enter, booking, the booking page's form, and the notification bell opened with Enter
// and closed with Escape; every element reached shows where the focus is.
import {
  BASE_URL, apiExpect, expect, expectText, expectVisible, fail, log, login, organizerEvent, run, shot,
} from './lib.mjs';

const NAME = `Moonlight Sonata ${Date.now()}`;
const BUYER = { email: `keys-${Date.now()}@example.com`, password: 'correct horse battery' };

/** A published event of 3 rows of 6 seats whose first two (A1, A2) someone else holds. */
async function seatMappedEvent() {
  const { event, types: [type] } = await organizerEvent({
    event: { name: NAME, title: 'A piano recital', description: 'Beethoven, by candlelight.', category: 'concert',
      start_at: '2027-05-20T19:00:00Z', end_at: '2027-05-20T21:00:00Z' },
    types: [{ name: 'Stalls', price: 3000, rows: ['A', 'B', 'C'], seats: 6 }],
  });

  const other = { email: `early-${Date.now()}@example.com`, password: 'another fine password' };
  await apiExpect(201, 'POST', '/v1/auths/register', { body: other });
  const { seats } = await apiExpect(200, 'GET', `/v1/events/${event.id}/seats`);
  const front = seats.filter((s) => s.row === 'A' && ['1', '2'].includes(s.label)).map((s) => s.id);
  await apiExpect(201, 'POST', '/v1/bookings/hold', { token: await login(other.email, other.password),
    body: { event_id: event.id, ticket_type_id: type.id, qty: 2, seats: front } });
  return event;
}

/** What the focused element is, in words for a failure message. */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'nothing (the page itself)';
    const name = el.getAttribute('aria-label') || el.textContent.trim().replace(/\s+/g, ' ').slice(0, 40);
    const cls = el.getAttribute('class');
    return `<${el.tagName.toLowerCase()}${el.id ? ` id="${el.id}"` : ''}${cls ? ` class="${cls}"` : ''}>${name ? ` "${name}"` : ''}`;
  });
}

/** Whether the focused element matches `target`: a selector, or a function run on it in the page. */
async function focusMatches(page, target) {
  const handle = await page.evaluateHandle(() => document.activeElement);
  try {
    return typeof target === 'string'
      ? await handle.evaluate((el, selector) => !!el?.matches(selector), target)
      : await handle.evaluate(target);
  } finally {
    await handle.dispose();
  }
}

/**
 * Presses `key` (Tab, or 'Shift+Tab' to go back) until the focused element matches
 * `selectorOrPredicate`, at most `max` times; fails naming `what` and where the focus went.
 */
async function tabTo(page, selectorOrPredicate, what, max = 60, key = 'Tab') {
  const visited = [];
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press(key);
    if (await focusMatches(page, selectorOrPredicate)) return;
    visited.push(await focused(page));
  }
  await fail(page, `${max} presses of ${key} never reached ${what}; the focus went to:\n  ${visited.slice(-12).join('\n  ')}`);
}

/**
 * Waits for a page of the site to be drawn after following a link or sending a form: the site
 * then moves the focus to the content (main), which is also where the next Tab starts from.
 */
async function arrived(page, what) {
  try {
    await page.waitForFunction(() => document.activeElement?.id === 'main');
  } catch {
    await fail(page, `after opening ${what}, the focus should move to the page's content (main), it is on ${await focused(page)}`);
  }
}

/** Fails unless the focused element matches `target` (a selector or an in-page predicate). */
async function expectFocus(page, target, what) {
  if (!(await focusMatches(page, target))) await fail(page, `the focus should be on ${what}, it is on ${await focused(page)}`);
}

/**
 * Fails unless the focused element shows it: an outline (3:1 against what is behind it) on a
 * link, button or field; on a seat of the map, a stroke unlike an unfocused seat's of its state.
 */
async function expectFocusRing(page, what) {
  const ring = await page.evaluate(() => {
    const el = document.activeElement;
    const rgb = (color) => (color.match(/[\d.]+/g) || []).map(Number);
    const luminance = ([r, g, b]) => {
      const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const contrast = (a, b) => {
      const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
      return (hi + 0.05) / (lo + 0.05);
    };
    const backdrop = (node) => {
      for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
        const c = rgb(getComputedStyle(n).backgroundColor);
        if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const style = getComputedStyle(el);
    if (el instanceof SVGElement && el.ownerSVGElement) {
      const kind = [...el.classList].join('.');
      const other = [...el.ownerSVGElement.querySelectorAll(`.${kind}`)].find((o) => o !== el);
      const plain = other ? getComputedStyle(other) : null;
      const ok = plain && (style.stroke !== plain.stroke || parseFloat(style.strokeWidth) >= parseFloat(plain.strokeWidth) + 1);
      return {
        ok: !!ok && contrast(rgb(style.stroke), backdrop(el.ownerSVGElement)) >= 3,
        seen: `stroke ${style.stroke} ${style.strokeWidth} (an unfocused .${kind}: ${plain ? `${plain.stroke} ${plain.strokeWidth}` : 'none to compare'}), ` +
          `${contrast(rgb(style.stroke), backdrop(el.ownerSVGElement)).toFixed(2)}:1 on the map`,
      };
    }
    const ratio = contrast(rgb(style.outlineColor), backdrop(el.parentElement));
    return {
      ok: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 && ratio >= 3,
      seen: `outline ${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}, ${ratio.toFixed(2)}:1 on what is behind it`,
    };
  });
  await expect(page, ring.ok, `${what} should show a visible focus indicator, it has ${ring.seen}`);
}

await run(async ({ page }) => {
  const event = await seatMappedEvent();
  await apiExpect(201, 'POST', '/v1/auths/register', { body: BUYER });
  log(`event ${event.id}`);

  await page.goto(`${BASE_URL}/`);
  await expectVisible(page, 'main h1:text("Find your next event")', 'the home page');
  await expectVisible(page, '#nav a[href="/login"]', 'the navigation');

  // the first Tab reaches "Skip to content", whose Enter moves the focus to the page's content
  await page.keyboard.press('Tab');
  await expectFocus(page, 'a.skip', 'the "Skip to content" link after the first Tab');
  const skip = await page.locator('a.skip').boundingBox();
  await expect(page, skip && skip.x >= 0 && skip.y >= 0, `the focused "Skip to content" link should be on screen, it is at ${JSON.stringify(skip)}`);
  await expectFocusRing(page, 'the "Skip to content" link');
  await shot(page, 'skip-link');
  const entries = await page.evaluate(() => history.length);
  await page.keyboard.press('Enter');
  await expectFocus(page, 'main#main', 'the main content after "Skip to content"');
  await expect(page, new URL(page.url()).pathname === '/', `Skip to content should stay on the page, it went to ${page.url()}`);
  await expect(page, (await page.evaluate(() => history.length)) === entries, 'Skip to content should not add a page to the history (Back would land on the same page)');
  await expectVisible(page, 'main h1:text("Find your next event")', 'the home page, still');

  // log in: back up to the header's link, then the form
  await tabTo(page, '#nav a[href="/login"]', 'the "Log in" link', 20, 'Shift+Tab');
  await expectFocusRing(page, 'the "Log in" link in the header');
  await page.keyboard.press('Enter');
  await expectVisible(page, 'main h1:text("Log in")', 'the login page');
  await arrived(page, 'the login page');
  await tabTo(page, '#f-email', 'the Email field');
  await expectFocusRing(page, 'the Email field');
  await page.keyboard.type(BUYER.email);
  await tabTo(page, '#f-password', 'the Password field', 3);
  await page.keyboard.type(BUYER.password);
  await shot(page, 'login');
  await page.keyboard.press('Enter');
  await expectVisible(page, '#nav a[href="/bookings"]', 'the signed-in navigation');
  await expectVisible(page, 'main h1:text("Find your next event")', 'the home page after logging in');
  await arrived(page, 'the home page after logging in');

  // search, and open the event
  await tabTo(page, '#f-q', 'the search field ("What")');
  await page.keyboard.type('Moonlight');
  await page.keyboard.press('Enter');
  await expectVisible(page, `main a:text("${NAME}")`, 'the event in the search results');
  await arrived(page, 'the search results');
  await tabTo(page, (el) => el.tagName === 'A' && el.closest('#results') !== null, 'the event\'s link in the results');
  await expectFocusRing(page, 'the event\'s link');
  await shot(page, 'search');
  await page.keyboard.press('Enter');
  await expectVisible(page, 'svg.seatmap', 'the seat map');
  await arrived(page, 'the event');

  // seats: the map is one Tab stop, on the first free seat, A3 (A1 and A2 are held); Space picks
  // it, the right arrow moves to A4 and Enter picks that
  await tabTo(page, 'svg.seatmap rect.seat', 'a seat on the map');
  await expectFocus(page, 'rect[data-seat="Stalls/A/3"]', 'seat A3, the first free seat (A1 and A2 are held)');
  await expectFocusRing(page, 'the focused seat');
  const a3 = page.locator('rect[data-seat="Stalls/A/3"]');
  const a4 = page.locator('rect[data-seat="Stalls/A/4"]');
  await expect(page, (await a3.getAttribute('aria-checked')) === 'false', 'seat A3 should start unpicked');
  await page.keyboard.press('Space');
  await expect(page, (await a3.getAttribute('aria-checked')) === 'true', 'Space should pick seat A3');
  await expectText(page, 'Your seats: Stalls A3');
  await page.keyboard.press('ArrowRight');
  await expectFocus(page, 'rect[data-seat="Stalls/A/4"]', 'seat A4, right of A3');
  await page.keyboard.press('Enter');
  await expect(page, (await a4.getAttribute('aria-checked')) === 'true', 'Enter should pick seat A4');
  await expectText(page, 'Your seats: Stalls A3, Stalls A4');
  await expectFocusRing(page, 'a focused picked seat');
  await shot(page, 'seats-picked');
  // down a row and back, then left to A3
  await page.keyboard.press('ArrowDown');
  await expectFocus(page, 'rect[data-seat="Stalls/B/4"]', 'seat B4, below A4');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('ArrowLeft');
  await expectFocus(page, 'rect[data-seat="Stalls/A/3"]', 'seat A3 again, left of A4');
  await page.keyboard.press('Space');
  await expect(page, (await a3.getAttribute('aria-checked')) === 'false', 'Space again should put seat A3 back');
  await expectText(page, 'Your seats: Stalls A4');
  await expect(page, (await page.locator('#picked').innerText()).trim() === 'Your seats: Stalls A4', 'only A4 should be picked now');

  // one Tab leaves the map (no Tab stop per seat), Shift+Tab comes back to the seat last on
  await page.keyboard.press('Tab');
  await expect(page, !(await focusMatches(page, 'svg.seatmap rect.seat')), `one Tab should leave the seat map, the focus is on ${await focused(page)}`);
  await page.keyboard.press('Shift+Tab');
  await expectFocus(page, 'rect[data-seat="Stalls/A/3"]', 'seat A3, the map\'s one Tab stop, after Shift+Tab');

  // Book, with Enter on the button
  await tabTo(page, (el) => el.tagName === 'BUTTON' && el.textContent.trim() === 'Book', 'the Book button', 5);
  await expectFocusRing(page, 'the Book button');
  await page.keyboard.press('Enter');
  const clock = await expectVisible(page, '#countdown', 'the hold countdown');
  const shown = await clock.innerText();
  await expect(page, /^1[45]:\d\d$/.test(shown), `the countdown should start near 15:00, it shows ${shown}`);
  await expectText(page, 'Seats: Stalls A4');
  await arrived(page, 'the booking');

  // the booking's form: a phone number, and the payment method with the arrow keys
  await tabTo(page, '#f-phone', 'the Phone field');
  await page.keyboard.type('+84 912 345 678');
  await tabTo(page, 'input[name="payment_method"]', 'the payment methods');
  await expectFocus(page, 'input[value="card"]:checked', 'the chosen method, Card');
  await expectFocusRing(page, 'the Card radio button');
  await page.keyboard.press('ArrowDown');
  await expectFocus(page, 'input[value="bank_transfer"]:checked', 'Bank transfer, chosen by ArrowDown');
  await shot(page, 'held');

  // the bell: Enter opens its panel, which comes next in the Tab order; Escape closes it
  await tabTo(page, '#nav button.bell', 'the notification bell', 30, 'Shift+Tab');
  await expectFocusRing(page, 'the bell');
  const bell = page.locator('#nav button.bell');
  await expect(page, (await bell.getAttribute('aria-expanded')) === 'false', 'the bell should start closed (aria-expanded=false)');
  await page.keyboard.press('Enter');
  const panel = await expectVisible(page, '#bell-panel', 'the notifications panel after Enter on the bell');
  await expect(page, (await bell.getAttribute('aria-expanded')) === 'true', 'the open bell should say aria-expanded=true');
  await page.keyboard.press('Tab');
  await expectFocus(page, '#bell-panel a', 'the panel\'s link, right after the bell');
  await expectFocusRing(page, 'the panel\'s link');
  await shot(page, 'bell-open');
  await page.keyboard.press('Escape');
  await expect(page, await panel.isHidden(), 'Escape should close the notifications panel');
  await expect(page, (await bell.getAttribute('aria-expanded')) === 'false', 'the closed bell should say aria-expanded=false');
  await expectFocus(page, '#nav button.bell', 'the bell, after Escape');
  await shot(page, 'bell-closed');
});
