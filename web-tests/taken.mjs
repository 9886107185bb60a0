// Two buyers want the same seat. Buyer A has the seat map open with Stalls A1 free and picks it;
// meanwhile buyer B holds A1 through the API. A presses Book: the page says "Stalls A1 was just
// taken" (the seat's label, never its id), the map redraws with A1 held and no longer A's pick,
// and A books A2 instead with the same page.
import {
  apiExpect, buyerLoggedIn, expect, expectText, expectVisible, fail, log, login, organizerEvent, run, shot,
} from './lib.mjs';

const NAME = `Front Row ${Date.now()}`;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

await run(async ({ page }) => {
  const { event, types: [type] } = await organizerEvent({
    event: { name: NAME, title: 'Everyone wants the front row', category: 'concert', start_at: '2027-08-01T19:00:00Z', end_at: '2027-08-01T21:00:00Z' },
    types: [{ name: 'Stalls', price: 5000, rows: ['A', 'B'], seats: 4 }],
  });
  log(`event ${event.id}`);
  const { seats } = await apiExpect(200, 'GET', `/v1/events/${event.id}/seats`);
  const a1 = seats.find((s) => s.row === 'A' && s.label === '1');

  // buyer A: the map open, A1 free and picked
  await buyerLoggedIn(page, `/events/${event.id}`);
  const seat = (label) => page.locator(`svg.seatmap rect[data-seat="Stalls/${label}"]`);
  await expectVisible(page, seat('A/1'), 'seat A1 on the map');
  await seat('A/1').click();
  await expectText(page, 'Your seats: Stalls A1');
  await shot(page, 'a1-picked');

  // buyer B takes it first
  const email = `taken-b-${Date.now()}@example.com`;
  await apiExpect(201, 'POST', '/v1/auths/register', { body: { email, password: 'correct horse battery' } });
  const other = await login(email, 'correct horse battery');
  await apiExpect(201, 'POST', '/v1/bookings/hold', { token: other, body: { event_id: event.id, ticket_type_id: type.id, seats: [a1.id] } });

  await page.getByRole('button', { name: 'Book' }).click();
  const alert = page.locator('[role=alert]').first();
  await expectVisible(page, alert, 'the page saying the seat was taken');
  const said = (await alert.innerText()).trim();
  await shot(page, 'a1-taken');
  log(`the page says: ${said}`);
  await expect(page, !UUID.test(said), `the page should name the seat, not its id: ${said}`);
  await expect(page, said.includes('Stalls A1 was just taken'), `the page should say "Stalls A1 was just taken": ${said}`);
  await expectVisible(page, 'svg.seatmap rect.seat.held[data-seat="Stalls/A/1"]', 'A1 shown held on the map');
  await expect(page, (await page.locator('svg.seatmap rect.picked').count()) === 0, 'A1 should no longer be the buyer\'s pick');
  const summary = (await page.locator('#picked').innerText()).trim();
  await expect(page, !summary.includes('A1'), `the picked seats should not list A1: ${summary}`);

  // another seat, the same page: Book works again
  await seat('A/2').click();
  await expectText(page, 'Your seats: Stalls A2');
  await page.getByRole('button', { name: 'Book' }).click();
  await expectVisible(page, '#countdown', 'the hold of A2');
  await expectText(page, 'Seats: Stalls A2');
  await shot(page, 'a2-held');
  if ((await page.locator('#booking-status').innerText()).toLowerCase() !== 'held') await fail(page, 'the booking should be held');
});
