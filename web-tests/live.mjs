// The event page is live. Buyer B has the seat map open and picks Stalls A3; buyer A holds A3
// (through the API). Without a reload B's map shows A3 taken, A3 leaves B's picks with a sentence
// saying so, the "Updated" cue shows, and the type's count of seats left falls. On a 390 px
// phone a wide hall says "Scroll sideways for more seats", with the picks listed under the map.
import {
  BASE_URL, apiExpect, buyerLoggedIn, newContext, expect, expectText, expectVisible, log, login, organizerEvent, run, shot,
} from './lib.mjs';

await run(async ({ browser, page }) => {
  const { event, types: [type] } = await organizerEvent({
    event: { name: `Live Hall ${Date.now()}`, title: 'Seats that move', category: 'concert', start_at: '2027-08-01T19:00:00Z', end_at: '2027-08-01T21:00:00Z' },
    types: [{ name: 'Stalls', price: 5000, rows: ['A', 'B'], seats: 4 }],
  });
  log(`event ${event.id}`);
  const { seats } = await apiExpect(200, 'GET', `/v1/events/${event.id}/seats`);
  const a3 = seats.find((s) => s.row === 'A' && s.label === '3');

  await buyerLoggedIn(page, `/events/${event.id}`);
  const seat = (label) => page.locator(`svg.seatmap rect[data-seat="Stalls/${label}"]`);
  await expectVisible(page, seat('A/3'), 'seat A3 on the map');
  const avail = page.locator(`tr[data-type="${type.id}"] td.avail`);
  await expectText(page, '8 of 8 left');
  await seat('A/3').click();
  await expectText(page, 'Your seats: Stalls A3');
  await expectVisible(page, '#running-total:text("1 ticket · $50.00")', 'the running total beside Book');
  await shot(page, 'a3-picked');

  const email = `live-a-${Date.now()}@example.com`;
  await apiExpect(201, 'POST', '/v1/auths/register', { body: { email, password: 'correct horse battery' } });
  const other = await login(email, 'correct horse battery');
  await apiExpect(201, 'POST', '/v1/bookings/hold', { token: other, body: { event_id: event.id, ticket_type_id: type.id, seats: [a3.id] } });

  // no reload: the poll brings it
  await expectVisible(page, 'svg.seatmap rect.seat.held[data-seat="Stalls/A/3"]', 'A3 shown held on the map without a reload');
  await expectText(page, 'Stalls A3 was just taken by someone else; pick another seat.');
  await expectVisible(page, '#live-cue:has-text("Updated")', 'the "Updated" cue');
  const cue = (await page.locator('#live-cue').innerText()).trim();
  await expect(page, /^Updated \d\d:\d\d:\d\d$/.test(cue), `the cue should say "Updated HH:MM:SS": ${cue}`);
  await expect(page, (await page.locator('svg.seatmap rect.picked').count()) === 0, 'A3 should no longer be picked');
  const summary = (await page.locator('#picked').innerText()).trim();
  await expect(page, !summary.includes('A3'), `the picked seats should not list A3: ${summary}`);
  await expectText(page, '7 of 8 left');
  await expect(page, (await page.locator('#running-total').innerText()).trim() === '', 'no running total with no pick left');
  log(`availability now: ${(await avail.innerText()).trim()}`);
  await shot(page, 'a3-taken-live');

  const { event: wide } = await organizerEvent({
    event: { name: `Wide Hall ${Date.now()}`, title: 'Thirty a row', category: 'concert', start_at: '2027-08-02T19:00:00Z', end_at: '2027-08-02T21:00:00Z' },
    types: [{ name: 'Stalls', price: 5000, rows: ['A', 'B'], seats: 30 }],
  });
  const phone = await (await newContext(browser, { phone: true })).newPage();
  await phone.goto(`${BASE_URL}/events/${wide.id}`);
  await expectVisible(phone, 'text=Scroll sideways for more seats', 'the sideways cue on a phone');
  await phone.locator('svg.seatmap rect[data-seat="Stalls/B/10"]').tap();
  await phone.locator('svg.seatmap rect[data-seat="Stalls/B/6"]').tap();
  await expectVisible(phone, '#picked:text("Your seats: Stalls B6, Stalls B10")', 'the picks under the map, B6 before B10');
  await shot(phone, 'phone-wide-hall');
  await phone.close();
});
