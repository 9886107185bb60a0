// An organizer creates an event with a seat map in the site, publishes it, watches its sales, and
// checks a ticket in at the door: valid, then already used, then a forged code, and finds the buyer
// in the attendee list and its CSV.
import fs from 'node:fs';
import {
  BASE_URL, ORGANIZER, api, apiExpect, expect, expectText, expectVisible, log, login, run, shot,
} from './lib.mjs';

const NAME = `Derby Day ${Date.now()}`;

/** A buyer takes one seat of the event through the API and pays on the gateway's page. */
async function buyOneTicket(eventId, typeId) {
  const email = `fan-${Date.now()}@example.com`;
  await apiExpect(201, 'POST', '/v1/auths/register', { body: { email, password: 'correct horse battery' } });
  const token = await login(email, 'correct horse battery');
  const booking = await apiExpect(201, 'POST', '/v1/bookings/hold', { token, body: { event_id: eventId, ticket_type_id: typeId, qty: 1 } });
  await apiExpect(200, 'POST', `/v1/bookings/${booking.id}/information`, { token, body: { email } });
  const paying = await apiExpect(200, 'POST', `/v1/bookings/${booking.id}/checkout`, { token, body: { payment_method: 'card' } });
  const pay = await fetch(`${BASE_URL}/sandbox/pay/${paying.payment.payment_code}`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'outcome=pay' });
  if (pay.status !== 303) throw new Error(`the sandbox answered ${pay.status} to pay`);
  for (let deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const tickets = await api('GET', '/v1/tickets', { token });
    if (tickets.body?.data?.length) return tickets.body.data[0];
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('no ticket was issued within 30 s of the payment');
}

await run(async ({ page }) => {
  await page.goto(`${BASE_URL}/login`);
  await page.getByLabel('Email').fill(ORGANIZER.email);
  await page.getByLabel('Password').fill(ORGANIZER.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('link', { name: 'Organizer' }).click();
  await page.getByRole('link', { name: 'New event' }).click();

  // the event
  await page.getByLabel('Name', { exact: true }).fill(NAME);
  await page.getByLabel('Description').fill('The season decider, under the lights.');
  await page.getByLabel('Category').selectOption('sports');
  await page.getByLabel('Venue and city').fill('My Dinh Stadium, Hanoi');
  await page.getByLabel('Starts').fill('2027-04-10T19:00');
  await page.getByLabel('Ends').fill('2027-04-10T21:00');
  await shot(page, 'new-event');
  await page.getByRole('button', { name: 'Create event' }).click();
  await expectVisible(page, '#event-status:text("draft")', 'the draft event');

  // a seat-mapped ticket type and its seat map
  const types = page.locator('#ticket-type-form');
  await types.getByLabel('Name').fill('Grandstand');
  await types.getByLabel('Price').fill('30');
  await types.getByLabel('Seat-mapped').check();
  await types.getByRole('button', { name: 'Add ticket type' }).click();
  const map = page.locator('section[data-seat-map]');
  await expectVisible(page, map, 'the seat map editor');
  await map.getByLabel('Section', { exact: true }).fill('North stand');
  await map.getByLabel(/^Rows/).fill('A-F');
  await map.getByLabel('Seats per row').fill('12');
  await map.getByRole('button', { name: 'Create seat map' }).click();
  await expectVisible(page, 'section[data-seat-map] > svg.seatmap', 'the saved seat map (the editor has a preview of its own)');
  const seats = await page.locator('section[data-seat-map] > svg.seatmap rect.seat').count();
  await expect(page, seats === 72, `the seat map should have 6 x 12 = 72 seats, it has ${seats}`);
  await shot(page, 'seat-map');

  await page.getByRole('button', { name: 'Publish' }).click();
  await expectVisible(page, '#event-status:text("published")', 'the published event');
  await shot(page, 'published');
  const eventId = new URL(page.url()).pathname.split('/').pop();

  // the sales page, open while a buyer pays: it updates without a reload
  await page.getByRole('link', { name: 'Sales' }).click();
  await expectVisible(page, '#sales td.sold:text-is("0")', 'no sales yet on the sales page');
  const token = await login(ORGANIZER.email, ORGANIZER.password);
  const detail = await apiExpect(200, 'GET', `/v1/admin/events/${eventId}`, { token });
  const ticket = await buyOneTicket(eventId, detail.ticket_types[0].id);
  log(`ticket ${ticket.id} seat ${JSON.stringify(ticket.seat)}`);
  await expectVisible(page, '#sales td.sold:text-is("1")', 'the sale, live on the open sales page', { timeout: 10_000 });
  await expectText(page, '$30.00');
  await shot(page, 'sales');

  // the door
  await page.goto(`${BASE_URL}/organizer/checkin?event=${eventId}`);
  await page.getByLabel(/^Ticket code/).fill(ticket.code);
  await page.getByRole('button', { name: 'Check in' }).click();
  await expectVisible(page, '.verdict.valid', 'the valid verdict');
  await shot(page, 'checkin-valid');
  await page.getByLabel(/^Ticket code/).fill(ticket.code);
  await page.getByRole('button', { name: 'Check in' }).click();
  await expectVisible(page, '.verdict.used', 'the already-used verdict');
  await shot(page, 'checkin-used');
  await page.getByLabel(/^Ticket code/).fill('not-a-ticket');
  await page.getByRole('button', { name: 'Check in' }).click();
  await expectVisible(page, '.verdict.invalid', 'the invalid verdict');
  await shot(page, 'checkin-invalid');

  // the attendee list: the buyer, checked in; found by the seat; exported as CSV
  await page.goto(`${BASE_URL}/organizer/events/${eventId}/attendees`);
  await expectVisible(page, '#attendees tbody tr', 'the attendee list');
  await expectVisible(page, '#attendees .status.checked_in', 'the attendee checked in');
  await expect(page, !(await page.getByRole('button', { name: 'More attendees' }).isVisible()), 'one page only: no More button');
  const seat = `${ticket.seat.section} ${ticket.seat.row}${ticket.seat.label}`;
  await page.getByLabel('Search attendees').fill(seat);
  await page.getByRole('button', { name: 'Search' }).click();
  await expectVisible(page, `#attendees td:text-is("${seat}")`, 'the attendee found by seat');
  await page.getByLabel('Search attendees').fill('nobody-at-all');
  await page.getByRole('button', { name: 'Search' }).click();
  await expectVisible(page, '#attendee-count:text("No attendees match")', 'no match said in words');
  await page.getByLabel('Search attendees').fill('');
  await page.getByRole('button', { name: 'Search' }).click();
  await expectVisible(page, '#attendees tbody tr', 'the whole list again');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  const csv = await fs.promises.readFile(await download.path(), 'utf8');
  await expect(page, csv.startsWith('ticket_id,booking_code,name,email') && csv.includes(seat) && csv.includes('checked_in'), `the CSV has the attendee: ${csv}`);
  await shot(page, 'attendees');
});
