// A hold running out while the buyer watches: the server runs with booking.hold_seconds = 8
// (tests/browser.rs sets it). The booking page counts down, says the hold expired and offers to
// start again; the API agrees, and so does the page after a reload.
import {
  BASE_URL, apiExpect, expect, expectText, expectVisible, log, login, organizerEvent, run, shot,
} from './lib.mjs';

const NAME = `Late Show ${Date.now()}`;
const EMAIL = `expiry-${Date.now()}@example.com`;
const PASSWORD = 'correct horse battery';
/** booking.hold_seconds, as tests/browser.rs sets it for this scenario. */
const HOLD_SECONDS = 8;

/** Reads `read()` until it answers `wanted` or 20 s pass; answers the last reading. */
async function poll(read, wanted) {
  let last;
  for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
    last = await read();
    if (last === wanted) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return last;
}

await run(async ({ page }) => {
  const { event, types: [type] } = await organizerEvent({
    event: { name: NAME, title: 'The last screening of the night', description: 'A double bill, back to back.', category: 'film',
      start_at: '2027-06-01T21:00:00Z', end_at: '2027-06-02T01:00:00Z', location: 'Cinema Paradiso, Hanoi' },
    types: [{ name: 'Seat', price: 900, number_seats: 20 }],
  });
  log(`event ${event.id}`);
  await apiExpect(201, 'POST', '/v1/auths/register', { body: { email: EMAIL, password: PASSWORD } });
  const token = await login(EMAIL, PASSWORD);

  await page.goto(`${BASE_URL}/login?next=${encodeURIComponent(`/events/${event.id}`)}`);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expectVisible(page, page.getByRole('heading', { name: NAME }), 'the event page after logging in');

  // hold one, and watch the short hold count down
  await page.getByLabel('How many Seat').fill('1');
  await page.getByRole('button', { name: 'Book' }).click();
  const clock = await expectVisible(page, '#countdown', 'the hold countdown');
  const bookingPath = new URL(page.url()).pathname;
  const bookingId = bookingPath.split('/').pop();
  const shown = await clock.innerText();
  await expect(page, /^00:0[0-8]$/.test(shown), `the countdown should show less than 00:09 of an ${HOLD_SECONDS} s hold, it shows ${shown}`);
  await shot(page, 'held');

  // the page says when it ran out, and how to start again
  const expired = await expectVisible(page, '#expired[role=alert]', 'the hold expired on the booking page', { timeout: (HOLD_SECONDS + 10) * 1000 });
  await expect(page, /expired/i.test(await expired.innerText()), `the alert should say the hold expired: ${await expired.innerText()}`);
  await expect(page, (await page.locator('#checkout').count()) === 0, 'an expired hold should offer no payment');
  await expectVisible(page, '#booking-status:text-is("expired")', 'the booking status turned to expired');
  const again = await expectVisible(page, page.getByRole('link', { name: 'Start again' }), 'the Start again link');
  await shot(page, 'expired');

  // the server expires it too (its timer, not the page's clock)
  const status = await poll(async () => (await apiExpect(200, 'GET', `/v1/bookings/${bookingId}`, { token })).status, 'expired');
  await expect(page, status === 'expired', `the API should say the booking expired, it says ${status}`);
  const available = await poll(async () => (await apiExpect(200, 'GET', `/v1/events/${event.id}`)).ticket_types.find((t) => t.id === type.id).available, 20);
  await expect(page, available === 20, `the seat should be back on sale: ${available} of 20 available`);

  await again.click();
  await page.waitForURL((url) => url.pathname === `/events/${event.id}`);
  await expectVisible(page, page.getByRole('heading', { name: NAME }), 'the event page after Start again');
  await expectText(page, '20 of 20 left');
  await shot(page, 'start-again');

  // the booking page, opened afresh, says it expired
  await page.goto(`${BASE_URL}${bookingPath}`);
  await expectVisible(page, '#booking-status:text("expired")', 'the booking shown as expired');
  await expectVisible(page, page.getByRole('alert').filter({ hasText: /expired/ }), 'the expired booking explained');
  await expect(page, (await page.locator('#countdown').count()) === 0, 'an expired booking should show no countdown');
  await expectVisible(page, page.getByRole('link', { name: 'Start again' }), 'Start again on the expired booking');
  await shot(page, 'expired-reloaded');
});
