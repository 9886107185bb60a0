// A waiting list from both sides (the server runs with booking.hold_seconds = 10; tests/browser.rs
// sets it). An organizer makes an event in the site whose one ticket type has a single seat and
// publishes it, and keeps its sales page open. Buyer B asks for more than is left and is refused
// at the waiting list's field; buyer A holds the seat and does not pay; B sees it sold out, joins
// the waiting list and is number 1. A's hold runs out: B's event page and bell show the seats
// held for B without B doing anything, B follows the bell to the booking, pays in the sandbox and
// gets the ticket, and the event page says it was bought; the organizer's page follows the entry
// from waiting to offered to bought.
import {
  BASE_URL, ORGANIZER, apiExpect, buyerLoggedIn, expect, expectConfirmed, expectText, expectVisible, log, login,
  newContext, run, shot,
} from './lib.mjs';

const NAME = `Last Seat ${Date.now()}`;
/** booking.hold_seconds, as tests/browser.rs sets it for this scenario. */
const HOLD_SECONDS = 10;

/** "14:05" of an ISO time in UTC, the browsers' time zone here. */
const hhmm = (iso) => new Date(iso).toISOString().slice(11, 16);

await run(async ({ browser, page }) => {
  const token = await login(ORGANIZER.email, ORGANIZER.password);

  // ---- the organizer: an event with one seat, published, its sales page left open ----
  await page.goto(`${BASE_URL}/login?next=${encodeURIComponent('/organizer/events/new')}`);
  await page.getByLabel('Email').fill(ORGANIZER.email);
  await page.getByLabel('Password').fill(ORGANIZER.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((url) => url.pathname === '/organizer/events/new');
  await page.getByLabel('Name', { exact: true }).fill(NAME);
  await page.getByLabel('Description').fill('One seat left in the house, and two people who want it.');
  await page.getByLabel('Category').selectOption('concert');
  await page.getByLabel('Venue and city').fill('Hoi An Theatre');
  await page.getByLabel('Starts').fill('2027-09-10T20:00');
  await page.getByLabel('Ends').fill('2027-09-10T22:00');
  await page.getByRole('button', { name: 'Create event' }).click();
  await expectVisible(page, '#event-status:text("draft")', 'the draft event');
  const eventId = new URL(page.url()).pathname.split('/').pop();
  log(`event ${eventId}`);
  const add = page.locator('#ticket-type-form');
  await add.getByLabel('Name', { exact: true }).fill('Seat');
  await add.getByLabel('Price', { exact: true }).fill('25');
  await add.getByLabel('Capacity', { exact: true }).fill('1');
  await add.getByRole('button', { name: 'Add ticket type' }).click();
  await expectVisible(page, '#ticket-types td:text-is("Seat")', 'Seat in the ticket types');
  await page.getByRole('button', { name: 'Publish' }).click();
  await expectVisible(page, '#event-status:text("published")', 'the published event');
  const [type] = (await apiExpect(200, 'GET', `/v1/events/${eventId}`)).ticket_types;
  await expect(page, type?.name === 'Seat' && type.number_seats === 1 && type.available === 1, `one Seat of capacity 1 on sale: ${JSON.stringify(type)}`);
  await page.getByRole('link', { name: 'Sales' }).first().click();
  await page.waitForURL((url) => url.pathname === `/organizer/events/${eventId}/sales`);
  const summary = page.locator('#waitlist-summary');
  await expectVisible(page, summary.getByText('0 waiting · 0 offered · 0 bought · 0 lapsed · 0 left'), 'an empty waiting list on the sales page');
  await expectText(page, 'Nobody is on the waiting list.');

  // ---- buyer B: more than is left offers the waiting list, which refuses 2 of a 1-seat type ----
  const b = await (await newContext(browser)).newPage();
  const buyerB = await buyerLoggedIn(b, `/events/${eventId}`);
  const bRow = b.locator(`tr[data-type="${type.id}"]`);
  await expectVisible(b, bRow.getByText('1 of 1 left'), 'the seat on sale for B');
  const list = b.locator(`[data-waitlist="${type.id}"]`);
  await expect(b, !(await list.isVisible()), 'no waiting list while the seat is on sale');
  await b.getByLabel('How many Seat').fill('2');
  await expectVisible(b, list.getByText('Only 1 Seat left.'), 'the waiting list beside the Number field asking for 2');
  const wanted = list.getByLabel('Tickets wanted');
  await expect(b, (await wanted.inputValue()) === '2', `the waiting list should ask for the 2 typed, it asks ${await wanted.inputValue()}`);
  await list.getByRole('button', { name: 'Join the waiting list' }).click();
  const refused = await expectVisible(b, list.locator('.field-error[role=alert]'), 'the quantity refused at its field');
  await expect(b, /^Tickets wanted must be between 1 and 1/.test(await refused.innerText()), `the field should say why: ${await refused.innerText()}`);
  await expect(b, (await wanted.getAttribute('aria-invalid')) === 'true', 'Tickets wanted should be marked invalid');
  await shot(b, 'more-than-left');
  await b.getByLabel('How many Seat').fill('0');
  await list.waitFor({ state: 'hidden' });

  // ---- buyer A holds the seat and does not pay ----
  const a = await (await newContext(browser)).newPage();
  await buyerLoggedIn(a, `/events/${eventId}`);
  await a.getByLabel('How many Seat').fill('1');
  await a.getByRole('button', { name: 'Book' }).click();
  await expectVisible(a, '#countdown', "A's hold countdown");
  const heldAt = Date.now();
  await shot(a, 'a-holds');

  // ---- B: sold out, joins, number 1 ----
  await b.bringToFront();
  await b.reload();
  await expectVisible(b, bRow.locator('.avail', { hasText: 'Sold out' }), 'the seat sold out for B');
  await expect(b, await b.getByLabel('How many Seat').isDisabled(), 'the Number field should be disabled when sold out');
  await expectVisible(b, list.getByText('Seat is sold out.'), 'the waiting list offered');
  await shot(b, 'sold-out');
  await list.getByRole('button', { name: 'Join the waiting list' }).click();
  await expectVisible(b, list.getByText("You're number 1 on the waiting list for Seat"), 'B number 1 on the list');
  await expectVisible(b, list.getByRole('button', { name: /^Leave/ }), 'Leave beside the place in line');
  const joined = await apiExpect(200, 'GET', `/v1/events/${eventId}/waitlist`, { token: buyerB.token });
  await expect(b, joined.length === 1 && joined[0].status === 'waiting' && joined[0].position === 1 && joined[0].qty === 1,
    `the API should have B waiting, first, for 1: ${JSON.stringify(joined)}`);
  log(`joined ${Math.round((Date.now() - heldAt) / 100) / 10} s after A's hold`);
  await shot(b, 'number-1');

  // the organizer's page, refreshing by itself, has B in line
  await page.bringToFront();
  const bLine = page.locator('#waitlist-table tr', { hasText: buyerB.email });
  await expectVisible(page, bLine.locator('.status.waitlist-waiting'), "B waiting on the organizer's page", { timeout: 5_000 });
  await expectText(page, '1 waiting · 0 offered');
  await expect(page, (await bLine.locator('td').first().innerText()) === '1', `B should be first in line: ${await bLine.innerText()}`);
  await shot(page, 'sales-waiting');

  // ---- A's hold runs out; the seat goes to B, whose page and bell say so by themselves ----
  await a.bringToFront();
  await expectVisible(a, '#expired[role=alert]', "A's hold expired", { timeout: (HOLD_SECONDS + 10) * 1000 });
  await shot(a, 'a-expired');
  await b.bringToFront();
  const offer = await expectVisible(b, list.locator('.waitlist-state.offered'), 'the seats held for B on the event page', { timeout: 20_000 });
  const [entry] = await apiExpect(200, 'GET', `/v1/events/${eventId}/waitlist`, { token: buyerB.token });
  await expect(b, entry.status === 'offered' && entry.booking_id && entry.offer_expires_at, `the API should have B's entry offered: ${JSON.stringify(entry)}`);
  const said = (await offer.innerText()).replace(/\s+/g, ' ');
  await expect(b, said.startsWith(`Seats are held for you until ${hhmm(entry.offer_expires_at)} — pay now`), `the offer should say until when: ${said}`);
  const payNow = list.getByRole('link', { name: 'pay now' });
  await expect(b, (await payNow.getAttribute('href')) === `/bookings/${entry.booking_id}`, `pay now should lead to the booking: ${await payNow.getAttribute('href')}`);
  const minutes = (Date.parse(entry.offer_expires_at) - Date.now()) / 60_000;
  await expect(b, minutes > 9 && minutes <= 10, `the offer should last waitlist.offer_minutes (10), it ends in ${minutes.toFixed(1)} min`);
  const seat = await apiExpect(200, 'GET', `/v1/events/${eventId}`);
  await expect(b, seat.ticket_types[0].available === 0, `the seat should be held for B, not back on sale: ${seat.ticket_types[0].available} available`);
  await expectVisible(b, '#bell-count', 'the bell counting the offer');
  await b.locator('button.bell').click();
  const told = b.locator('#bell-panel li[data-kind="waitlist_offered"]');
  const bellLink = told.getByRole('link', { name: 'Tickets held for you' });
  await expectVisible(b, bellLink, 'the offer in the bell, as a link');
  await expect(b, (await bellLink.getAttribute('href')) === `/bookings/${entry.booking_id}`, `the bell should lead to the booking: ${await bellLink.getAttribute('href')}`);
  await shot(b, 'offered');

  // the organizer sees the offer and when it ends
  await page.bringToFront();
  await expectVisible(page, bLine.locator('.status.waitlist-offered'), "B offered on the organizer's page", { timeout: 5_000 });
  await expectText(page, '0 waiting · 1 offered · 0 bought · 0 lapsed · 0 left');
  await expect(page, (await bLine.locator('td').last().innerText()) !== '—', `the offer's end should be shown: ${await bLine.innerText()}`);

  // ---- B follows the bell, pays in the sandbox and gets the ticket ----
  await b.bringToFront();
  await bellLink.click();
  await b.waitForURL((url) => url.pathname === `/bookings/${entry.booking_id}`);
  const clock = await expectVisible(b, '#countdown', "the offered hold's countdown");
  await expect(b, /^(09|10):\d\d$/.test(await clock.innerText()), `the hold should run for the offer's 10 minutes, not ${HOLD_SECONDS} s: ${await clock.innerText()}`);
  await shot(b, 'offered-booking');
  await b.getByRole('button', { name: /^Pay / }).click();
  await b.waitForURL(/\/sandbox\/pay\//);
  await shot(b, 'gateway');
  // the gateway's own Pay, not "Decline" nor "Approve, but refuse its refunds later"
  await b.getByRole('button', { name: /^Pay / }).click();
  await expectText(b, 'Payment approved');
  await b.getByRole('link', { name: 'Return to boxoffice' }).click();
  await expectConfirmed(b, 1);
  await shot(b, 'bought');
  await b.goto(`${BASE_URL}/events/${eventId}`);
  await expectVisible(b, list.getByText('You bought 1 ticket of Seat from the waiting list.'), 'bought, said on the event page');
  await expect(b, (await list.getByRole('link', { name: 'See the booking' }).getAttribute('href')) === `/bookings/${entry.booking_id}`, 'the bought entry should link its booking');
  await shot(b, 'event-bought');

  // ---- the organizer: bought 1 ----
  await page.bringToFront();
  await expectVisible(page, bLine.locator('.status.waitlist-bought'), "B bought on the organizer's page", { timeout: 10_000 });
  await expectText(page, '0 waiting · 0 offered · 1 bought · 0 lapsed · 0 left');
  await expectVisible(page, page.locator(`#sales tr[data-type="${type.id}"] .sold`, { hasText: '1' }), 'the seat sold');
  const report = await apiExpect(200, 'GET', `/v1/admin/events/${eventId}/sales`, { token });
  await expect(page, report.waitlist?.bought === 1 && report.waitlist.waiting === 0 && report.ticket_types[0].sold === 1,
    `the sales report should count the seat sold and 1 bought from the waiting list: ${JSON.stringify({ waitlist: report.waitlist, sold: report.ticket_types[0].sold })}`);
  await shot(page, 'sales-bought');
});
