// A newcomer clicks through what `boxoffice demo` made (tests/browser.rs runs it before this
// scenario): the five demo events with their banners, the concert's seat map, Book without an
// account (to the log in page and back to the event, the seat still picked), the demo buyer's
// login, information, the sandbox payment, and the ticket with its QR code.
import {
  BASE_URL, expect, expectConfirmed, expectText, expectVisible, log, payOnGateway, run, shot,
} from './lib.mjs';

const BUYER = { email: process.env.DEMO_BUYER_EMAIL, password: process.env.DEMO_BUYER_PASSWORD };
/** The demo's events (src/demo.rs), by category. */
const EVENTS = {
  concert: "Beethoven's Ninth",
  sports: 'Harbor City FC vs. Northside United',
  film: 'Casablanca under the Stars',
  music: 'Summer Sound Festival',
  other: 'Laugh Track: Stand-up Comedy Night',
};
const CONCERT = EVENTS.concert;

/** Fails unless the home page lists every demo event, each with its banner loaded. */
async function expectDemoEvents(page, site) {
  const cards = page.locator('#results article.event-card');
  for (const [category, name] of Object.entries(EVENTS)) {
    const card = cards.filter({ has: page.getByRole('link', { name, exact: true }) });
    await expectVisible(page, card, `the demo event ${name}`);
    const banner = card.locator('img').first();
    await expect(page, (await banner.count()) === 1, `${name} should have a banner image`);
    const src = await banner.getAttribute('src');
    await expect(page, src === `${BASE_URL}/assets/banner-${category}.svg`, `${name}'s banner should be the demo's ${category} banner, it is ${src}`);
    // lazy images load as they near the viewport
    await banner.scrollIntoViewIfNeeded();
    try {
      await banner.evaluate((img) => img.decode());
    } catch (error) {
      await expect(page, false, `${name}'s banner ${src} did not load on ${site}: ${error.message}`);
    }
    await expect(page, await banner.evaluate((img) => img.complete && img.naturalWidth > 0), `${name}'s banner should be loaded on ${site}`);
  }
  await expect(page, (await cards.count()) === Object.keys(EVENTS).length, `the home page should list the ${Object.keys(EVENTS).length} demo events, it lists ${await cards.count()}`);
}

/** Picks a free seat of the concert's Front Stalls. */
async function pickSeat(page, seat) {
  await expectVisible(page, 'svg.seatmap', 'the seat map');
  const rect = page.locator(`svg.seatmap rect[data-seat="Front Stalls/${seat}"]`);
  await expect(page, (await rect.getAttribute('class')) === 'seat free', `Front Stalls ${seat} should be free`);
  await rect.click();
  await expectText(page, `Your seats: Front Stalls ${seat.replace('/', '')}`);
}

await run(async ({ page }) => {
  await expect(page, BUYER.email && BUYER.password, 'DEMO_BUYER_EMAIL and DEMO_BUYER_PASSWORD should be set');

  // the README sends newcomers to localhost, while the banners are at the public URL
  // (127.0.0.1): another origin, which the page's CSP must let images come from
  const localhost = BASE_URL.replace('://127.0.0.1:', '://localhost:');
  if (localhost !== BASE_URL) {
    await page.goto(`${localhost}/`);
    await expectDemoEvents(page, localhost);
    await shot(page, 'home-on-localhost');
  }

  await page.goto(`${BASE_URL}/`);
  await expectVisible(page, page.getByRole('heading', { name: 'Find your next event' }), 'the home page');
  await expectDemoEvents(page, BASE_URL);
  await shot(page, 'home');

  // the concert, a seat, and Book without an account
  await page.getByRole('link', { name: CONCERT, exact: true }).click();
  await expectVisible(page, page.getByRole('heading', { name: CONCERT }), 'the concert page');
  const eventPath = new URL(page.url()).pathname;
  const hero = page.locator('img.hero');
  await expectVisible(page, hero, 'the concert banner on its page');
  await expect(page, await hero.evaluate(async (img) => { await img.decode(); return img.naturalWidth > 0; }), 'the concert banner should load on its page');
  await pickSeat(page, 'C/6');
  await shot(page, 'seat-picked');
  await page.getByRole('button', { name: 'Book' }).click();
  await page.waitForURL((url) => url.pathname === '/login');
  await expect(page, new URL(page.url()).searchParams.get('next') === eventPath, `the log in page should lead back to the event: ${page.url()}`);
  await shot(page, 'login');

  // the demo buyer logs in and is back on the concert
  await page.getByLabel('Email').fill(BUYER.email);
  await page.getByLabel('Password').fill(BUYER.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((url) => url.pathname === eventPath);
  await expectVisible(page, page.getByRole('heading', { name: CONCERT }), 'the concert page after logging in');
  await expectVisible(page, '#nav a[href="/bookings"]', 'the signed-in navigation');
  // the seat picked before logging in is still picked
  await expectText(page, 'Your seats: Front Stalls C6');
  await expect(page, (await page.locator('svg.seatmap rect[data-seat="Front Stalls/C/6"]').getAttribute('aria-checked')) === 'true',
    'Front Stalls C6 should still be picked after logging in');
  await page.getByRole('button', { name: 'Book' }).click();

  // held: information and payment
  await expectVisible(page, '#countdown', 'the hold countdown');
  await expectText(page, 'Seats: Front Stalls C6');
  const email = page.getByLabel('Email for the tickets');
  await expect(page, (await email.inputValue()) === BUYER.email, 'the tickets should go to the demo buyer by default');
  await page.getByLabel('Phone').fill('+1 312 555 0142');
  await page.getByLabel('Card').check();
  await shot(page, 'held');
  await payOnGateway(page, 'Card');

  // confirmed, with the ticket and its QR
  await expectConfirmed(page, 1);
  await expectText(page, 'Front Stalls, row C, seat 6');
  await shot(page, 'confirmed');
  log('the demo buyer has a ticket for', CONCERT);
});
