// The buyer's whole path on a 390x844 touch phone: sign up, search, the event with a hall of 120
// seats and a general-admission type, two seats tapped on the map and two best-available
// admissions, the countdown, information, the sandbox gateway (card), confirmation and the QR
// tickets. On every page of the site the layout must fit the phone's width (no sideways
// scrolling), the navigation must be on screen and big enough to tap, and so must the seats.
import {
  BASE_URL, ORGANIZER, expect, expectConfirmed, expectText, expectVisible, log, organizerEvent, payOnGateway, run, shot,
} from './lib.mjs';

const NAME = `Harbour Lights ${Date.now()}`;
const TOUCH = 24; // CSS px: the smallest target WCAG 2.2 (2.5.8) accepts

/**
 * Fails unless the page fits the phone's width: nothing makes it scroll sideways, and no table
 * hides columns in its own sideways scroll.
 */
async function fitsWidth(page, where) {
  const { scrollWidth, innerWidth, wide, tables } = await page.evaluate(() => {
    const limit = window.innerWidth;
    const name = (el) => el.tagName.toLowerCase() + (el.id ? `#${el.id}` : '') + [...el.classList].map((c) => `.${c}`).join('');
    // the outermost elements reaching past the right edge, to name in the failure
    const wide = [...document.body.querySelectorAll('*')]
      .filter((el) => el.getBoundingClientRect().right > limit + 0.5 && !(el.parentElement?.getBoundingClientRect().right > limit + 0.5))
      .slice(0, 5).map(name);
    const tables = [...document.querySelectorAll('.table-wrap')]
      .filter((wrap) => wrap.scrollWidth > wrap.clientWidth + 0.5)
      .map((wrap) => `${wrap.querySelector('th, td')?.textContent.trim() || 'a'} table, ${wrap.scrollWidth} px in ${wrap.clientWidth} px`);
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: limit, wide, tables };
  });
  const phone = page.viewportSize().width;
  await expect(page, innerWidth === phone, `${where}: the window should be the phone's ${phone} px, it is ${innerWidth} px (zoomed out to fit something wider?)`);
  await expect(page, scrollWidth <= innerWidth,
    `${where} scrolls sideways on the phone: ${scrollWidth} px of content in ${innerWidth} px` +
    (wide.length ? `; too wide: ${wide.join(', ')}` : ''));
  await expect(page, tables.length === 0, `${where}: tables should fit the phone, these scroll sideways: ${tables.join('; ')}`);
}

/** Fails unless `locator` lies whole inside the window's width; answers its box. */
async function onScreen(page, locator, what) {
  const box = await locator.boundingBox();
  const width = page.viewportSize().width;
  await expect(page, box, `${what} should be shown`);
  await expect(page, box.x >= 0 && box.x + box.width <= width,
    `${what} should be on screen, it spans x ${Math.round(box.x)} to ${Math.round(box.x + box.width)} of ${width}`);
  return box;
}

/** Fails unless `locator` is on screen, uncovered, and at least TOUCH px each way. */
async function tappable(page, locator, what) {
  const box = await onScreen(page, locator, what);
  await expect(page, box.width >= TOUCH && box.height >= TOUCH,
    `${what} should be at least ${TOUCH}x${TOUCH} px to tap, it is ${Math.round(box.width)}x${Math.round(box.height)}`);
  // nothing (another link, the panel) lies on top of its middle
  const onTop = await locator.evaluate((el) => {
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return hit === el || el.contains(hit);
  });
  await expect(page, onTop, `${what} should not be covered by something else`);
}

/** Every link and button of the header, signed in or not. */
async function navTappable(page, where) {
  const items = page.locator('header.top .brand, #nav > a, #nav > button');
  const count = await items.count();
  await expect(page, count >= 3, `${where}: the header should have the brand and at least two links, it has ${count}`);
  for (const item of await items.all()) {
    const name = (await item.getAttribute('aria-label')) || (await item.innerText()).trim();
    await tappable(page, item, `${where}: the header's "${name}"`);
  }
}

await run(async ({ page }) => {
  const { event } = await organizerEvent({
    event: { name: NAME, title: 'An orchestra by the water', description: 'Debussy, Ravel and a summer night.', category: 'concert',
      start_at: '2027-07-10T19:30:00Z', end_at: '2027-07-10T22:00:00Z', location: 'Saigon Opera House' },
    types: [
      { name: 'Standing', description: 'The lawn in front of the stage.', price: 2500, number_seats: 200 },
      { name: 'Stalls', price: 6000, rows: ['A', 'B', 'C', 'D', 'E', 'F'], seats: 20 },
    ],
  });
  log(`event ${event.id}`);

  await page.goto(`${BASE_URL}/`);
  await expectVisible(page, 'main h1:text("Find your next event")', 'the home page');
  await fitsWidth(page, 'the home page');
  await navTappable(page, 'the home page');
  await shot(page, 'home');

  // sign up, back on the home page
  await page.locator('#nav a[href="/signup"]').tap();
  await expectVisible(page, 'main h1:text("Create your account")', 'the sign-up page');
  await page.getByLabel('Email').fill(`phone-${Date.now()}@example.com`);
  await page.getByLabel(/^Password/).fill('correct horse battery');
  await fitsWidth(page, 'the sign-up page');
  await shot(page, 'signup');
  await page.getByRole('button', { name: 'Create account' }).tap();
  await expectVisible(page, '#nav a[href="/bookings"]', 'the signed-in navigation');
  await expectVisible(page, 'main h1:text("Find your next event")', 'the home page after signing up');
  await fitsWidth(page, 'the home page, signed in');
  await navTappable(page, 'the home page, signed in');
  await shot(page, 'home-signed-in');

  // search
  await page.getByLabel('What').fill('Harbour');
  await page.getByRole('button', { name: 'Search' }).tap();
  const link = page.getByRole('link', { name: NAME });
  await expectVisible(page, link, 'the event in the search results');
  await fitsWidth(page, 'the search results');
  await shot(page, 'search');
  await link.tap();

  // the event: two seats in the middle of row C, and two standing
  await expectVisible(page, 'main h1:text("Harbour Lights")', 'the event page');
  await expectVisible(page, 'svg.seatmap', 'the seat map');
  await fitsWidth(page, 'the event page');
  await navTappable(page, 'the event page');
  await shot(page, 'event');
  for (const label of ['10', '11']) {
    const seat = page.locator(`svg.seatmap rect[data-seat="Stalls/C/${label}"]`);
    await seat.scrollIntoViewIfNeeded();
    await tappable(page, seat, `seat C${label}`);
    await seat.tap();
    await expect(page, (await seat.getAttribute('aria-checked')) === 'true', `seat C${label} should be picked after a tap`);
  }
  await expectText(page, 'Your seats: Stalls C10, Stalls C11');
  await page.getByLabel('How many Standing').fill('2');
  await fitsWidth(page, 'the event page with seats picked');
  await shot(page, 'seats-picked');
  const book = page.getByRole('button', { name: 'Book' });
  await tappable(page, book, 'the Book button');
  await book.tap();

  // held, counting down
  const clock = await expectVisible(page, '#countdown', 'the hold countdown');
  const shown = await clock.innerText();
  await expect(page, /^1[45]:\d\d$/.test(shown), `the countdown should start near 15:00, it shows ${shown}`);
  await expectText(page, 'Seats: Stalls C10, Stalls C11');
  await expectText(page, '2 × Standing');
  await fitsWidth(page, 'the booking page');
  await navTappable(page, 'the booking page');
  await shot(page, 'held');

  await page.getByLabel('Phone').fill('+84 912 345 678');
  await page.getByLabel('Address').fill('7 Lam Son Square, Ho Chi Minh City');
  const card = page.getByLabel('Card');
  await card.tap();
  await expect(page, await card.isChecked(), 'Card should be the chosen payment method');
  await fitsWidth(page, 'the booking page, filled in');
  await shot(page, 'information');
  const pay = page.getByRole('button', { name: /^Pay/ });
  await tappable(page, pay, 'the Pay button');
  // the sandbox gateway is the gateway's own page, not the site's: only paid through
  await payOnGateway(page, 'Card', { tap: true });

  // confirmed, with the four tickets
  await expectConfirmed(page, 4);
  await fitsWidth(page, 'the confirmation');
  await navTappable(page, 'the confirmation');
  await shot(page, 'confirmed');

  // the bell's panel fits the phone too
  const bell = page.locator('#nav .bell');
  await bell.tap();
  const panel = await expectVisible(page, '#bell-panel', 'the notifications panel');
  await tappable(page, panel.getByRole('link', { name: 'All notifications' }), 'the panel\'s "All notifications"');
  await fitsWidth(page, 'the confirmation with the bell open');
  await shot(page, 'bell');
  await bell.tap();
  await expect(page, await panel.isHidden(), 'a second tap on the bell should close its panel');

  await page.locator('#nav a[href="/tickets"]').tap();
  await expectVisible(page, 'main h1:text("My tickets")', 'the tickets page');
  await expectVisible(page, '.ticket img.qr', 'the tickets\' QR codes');
  const qrs = page.locator('.ticket img.qr');
  await expect(page, (await qrs.count()) === 4, `My tickets should list 4 tickets, it lists ${await qrs.count()}`);
  for (const qr of await qrs.all()) {
    await expect(page, await qr.evaluate((img) => img.complete && img.naturalWidth > 0), 'each QR code should load');
    await onScreen(page, qr, 'each QR code');
  }
  await expectText(page, 'Stalls, row C, seat 10');
  await expectText(page, 'Stalls, row C, seat 11');
  await expectText(page, 'Standing · general admission');
  await fitsWidth(page, 'the tickets page');
  await shot(page, 'tickets');

  // at the door, the organizer's staff check a ticket in on a phone
  const code = (await page.locator('.ticket code').first().innerText()).trim();
  await page.getByRole('button', { name: 'Log out' }).tap();
  await page.goto(`${BASE_URL}/login?next=${encodeURIComponent(`/organizer/checkin?event=${event.id}`)}`);
  await page.getByLabel('Email').fill(ORGANIZER.email);
  await page.getByLabel('Password').fill(ORGANIZER.password);
  await page.getByRole('button', { name: 'Log in' }).tap();
  await expectVisible(page, 'main h1:text("Check-in desk")', 'the check-in desk');
  await page.getByLabel(/^Ticket code/).fill(code);
  const checkIn = page.getByRole('button', { name: 'Check in' });
  await tappable(page, checkIn, 'the Check in button');
  await checkIn.tap();
  const verdict = await expectVisible(page, '.verdict.valid', 'the valid verdict');
  await onScreen(page, verdict, 'the verdict');
  await fitsWidth(page, 'the check-in desk');
  await shot(page, 'checkin');

  // and the organizer's own pages fit the phone as well
  await page.goto(`${BASE_URL}/organizer/events/${event.id}`);
  await expectVisible(page, 'section[data-seat-map] > svg.seatmap', 'the event editor with its seat map');
  await fitsWidth(page, 'the event editor');
  await shot(page, 'editor');
  await page.goto(`${BASE_URL}/organizer/events/${event.id}/sales`);
  await expectVisible(page, '#sales td.sold', 'the sales page');
  await fitsWidth(page, 'the sales page');
  await shot(page, 'sales');
}, { phone: true });
