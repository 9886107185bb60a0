// A buyer finds an event, picks two seats on the seat map, sees the countdown, gives their
// information, pays on the sandbox gateway, sees the live notification, and gets two tickets
// with QR codes. The organizer's event is set up through the API first.
import {
  BASE_URL, expect, expectConfirmed, expectText, expectVisible, log, organizerEvent, payOnGateway, run, shot,
} from './lib.mjs';

const NAME = `Quartet Night ${Date.now()}`;

await run(async ({ page }) => {
  const { event } = await organizerEvent({
    event: { name: NAME, title: 'A string quartet evening', description: 'Beethoven and Janáček.', category: 'concert',
      start_at: '2027-03-01T19:00:00Z', end_at: '2027-03-01T22:00:00Z' },
    types: [{ name: 'Stalls', price: 4500, rows: ['A', 'B', 'C', 'D'], seats: 8 }],
  });
  log(`event ${event.id}`);

  // sign up in the site
  await page.goto(`${BASE_URL}/signup`);
  const email = `buyer-${Date.now()}@example.com`;
  await page.getByLabel('Email').fill(email);
  await page.getByLabel(/^Password/).fill('correct horse battery');
  await shot(page, 'signup');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expectVisible(page, 'a[href="/bookings"]', 'the signed-in navigation');

  // search
  await page.getByLabel('What').fill('Quartet');
  await page.getByLabel('Category').selectOption('concert');
  await page.getByRole('button', { name: 'Search' }).click();
  const link = page.getByRole('link', { name: NAME });
  await expectVisible(page, link, 'the event in the search results');
  await shot(page, 'search');
  await link.click();

  // two seats on the map
  await expectVisible(page, 'svg.seatmap', 'the seat map');
  await page.locator('svg.seatmap rect[data-seat="Stalls/B/4"]').click();
  await page.locator('svg.seatmap rect[data-seat="Stalls/B/5"]').click();
  await expectText(page, 'Your seats: Stalls B4, Stalls B5');
  await expect(page, (await page.locator('svg.seatmap rect.picked').count()) === 2, 'two seats should be picked');
  await shot(page, 'seats-picked');
  await page.getByRole('button', { name: 'Book' }).click();

  // the booking, held, with its countdown
  const clock = await expectVisible(page, '#countdown', 'the hold countdown');
  const shown = await clock.innerText();
  await expect(page, /^1[45]:\d\d$/.test(shown), `the countdown should start near 15:00, it shows ${shown}`);
  await expectText(page, 'Seats: Stalls B4, Stalls B5');
  await shot(page, 'held');
  await page.waitForTimeout(1100); // one tick of the page's own clock, to see it move
  await expect(page, (await clock.innerText()) !== shown, 'the countdown should be counting down');

  // information, payment method, and off to the gateway
  await page.getByLabel('Phone').fill('+84 912 345 678');
  await page.getByLabel('Address').fill('1 Trang Tien, Hanoi');
  await page.getByLabel('E-wallet').check();
  await payOnGateway(page, 'E-wallet');

  // confirmation, the live notification, the tickets
  await expectConfirmed(page, 2);
  await expectVisible(page, '#bell-count', 'the notification count on the bell', { timeout: 30_000 });
  await shot(page, 'confirmed');
  await page.locator('#nav .bell').click();
  await expectVisible(page, '#bell-panel li.unread', 'an unread notification in the bell');
  await expectText(page, /Payment received|Your tickets are ready/);
  await shot(page, 'notifications');

  await page.getByRole('link', { name: 'My tickets', exact: true }).click();
  await expectVisible(page, '.ticket img.qr', 'the tickets page');
  const qrs = page.locator('.ticket img.qr');
  await expect(page, (await qrs.count()) === 2, `My tickets should list 2 tickets, it lists ${await qrs.count()}`);
  for (const qr of await qrs.all()) {
    await expect(page, await qr.evaluate((img) => img.complete && img.naturalWidth > 0), 'each QR code should load');
  }
  await expectText(page, 'Stalls, row B, seat 4');
  await expectText(page, 'Stalls, row B, seat 5');
  await shot(page, 'tickets');
});
