// A minute before a hold ends the booking page warns (an alert), and "Keep my seats 5 more
// minutes" extends it: the server runs with booking.hold_seconds = 70 (tests/browser.rs), so the
// warning comes about ten seconds in; after the press the countdown reads more than before and
// the page says how many more times it can be done.
import { apiExpect, buyerLoggedIn, expect, expectText, expectVisible, log, organizerEvent, run, shot } from './lib.mjs';

/** "04:59" -> 299 */
const seconds = (text) => { const [m, s] = text.trim().split(':').map(Number); return m * 60 + s; };

await run(async ({ page }) => {
  const { event } = await organizerEvent({
    event: { name: `Short Hold ${Date.now()}`, title: 'Hurry', category: 'film', start_at: '2027-06-01T21:00:00Z', end_at: '2027-06-01T23:00:00Z' },
    types: [{ name: 'Seat', price: 900, number_seats: 20 }],
  });
  log(`event ${event.id}`);
  const { token } = await buyerLoggedIn(page, `/events/${event.id}`);
  await page.getByLabel('How many Seat').fill('1');
  await page.getByRole('button', { name: 'Book' }).click();
  const clock = await expectVisible(page, '#countdown', 'the hold countdown');
  const first = seconds(await clock.innerText());
  await expect(page, first > 60 && first <= 70, `a 70 s hold should show between 01:01 and 01:10 at first, it shows ${first} s`);
  await expect(page, (await page.locator('#hold-warning [role=alert]').count()) === 0, 'no warning before the last minute');

  const warning = await expectVisible(page, page.locator('[role=alert]', { hasText: 'Your hold ends in 1 minute.' }), 'the one-minute warning', { timeout: 20_000 });
  await shot(page, 'warning');
  const before = seconds(await clock.innerText());
  await expect(page, before <= 60, `the warning should come in the last minute, the clock says ${before} s`);
  await warning.getByRole('button', { name: 'Keep my seats 5 more minutes' }).click();
  await expectVisible(page, '#hold-extended', 'the extension confirmed');
  await expectText(page, /You can do this \d+ more times?\./);
  const after = seconds(await clock.innerText());
  log(`countdown ${before} s before the press, ${after} s after`);
  await expect(page, after > before + 200, `the countdown should go up by about 5 minutes: ${before} s -> ${after} s`);
  await expect(page, (await page.locator('[role=alert]', { hasText: 'Your hold ends in 1 minute.' }).count()) === 0, 'the warning should be gone after extending');
  const id = new URL(page.url()).pathname.split('/').pop();
  const booking = await apiExpect(200, 'GET', `/v1/bookings/${id}`, { token });
  await expect(page, Date.parse(booking.expired_at) - Date.now() > 200_000, `the API should have the later end: ${booking.expired_at}`);
  await shot(page, 'extended');
});
