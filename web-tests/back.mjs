// A buyer pays on the gateway and, once it says the payment is approved, presses Back twice as people do (past
// the gateway's own page): the booking page they land on must say confirmed, with no countdown
// and no Pay button, not the held page the browser kept from before the payment (a buyer who
// believed it would pay again).
import {
  apiExpect, buyerLoggedIn, expectConfirmed, fail, goBack, log, organizerEvent, payOnGateway, run, shot,
} from './lib.mjs';

const NAME = `Encore ${Date.now()}`;

/** What the booking page shows: its status, and whether a countdown and a Pay button are on it. */
async function shown(page) {
  return {
    status: (await page.locator('#booking-status').innerText().catch(() => '(none)')).trim(),
    countdown: await page.locator('#countdown').isVisible(),
    pay: await page.getByRole('button', { name: /^Pay/ }).isVisible(),
  };
}

await run(async ({ page }) => {
  const { event } = await organizerEvent({
    event: { name: NAME, title: 'One more song', category: 'music', start_at: '2027-07-01T19:00:00Z', end_at: '2027-07-01T22:00:00Z' },
    types: [{ name: 'Floor', price: 3000, number_seats: 50 }],
  });
  log(`event ${event.id}`);
  const buyer = await buyerLoggedIn(page, `/events/${event.id}`);

  await page.getByLabel('How many Floor').fill('2');
  await page.getByRole('button', { name: 'Book' }).click();
  await page.locator('#countdown').waitFor();
  const bookingPath = new URL(page.url()).pathname;
  await shot(page, 'held');
  await payOnGateway(page, 'Card', { stay: true });
  let booking;
  for (const deadline = Date.now() + 20_000; Date.now() < deadline && booking?.status !== 'confirmed';) {
    booking = await apiExpect(200, 'GET', `/v1${bookingPath}`, { token: buyer.token });
    if (booking.status !== 'confirmed') await page.waitForTimeout(200);
  }
  if (booking.status !== 'confirmed') await fail(page, `the API should say confirmed, it says ${booking.status}`);

  // a page the back/forward cache restores fires no load event: wait for the navigation only
  await goBack(page); // the gateway's page before Pay
  await goBack(page); // the booking page as it was before paying
  await page.waitForURL((url) => url.pathname === bookingPath, { waitUntil: 'commit' })
    .catch(() => fail(page, `Back twice should reach ${bookingPath}`));
  let seen = await shown(page);
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && seen.status.toLowerCase() !== 'confirmed';) {
    await page.waitForTimeout(200);
    seen = await shown(page);
  }
  log(`after Back twice the page shows ${JSON.stringify(seen)}`);
  await shot(page, 'back-twice');
  if (seen.status.toLowerCase() !== 'confirmed' || seen.countdown || seen.pay) {
    await fail(page, 'after Back twice the booking page should say confirmed with no countdown and no Pay button; ' +
      `it shows ${JSON.stringify(seen)} while the API says ${booking.status}`);
  }
  await expectConfirmed(page, 2);
});
