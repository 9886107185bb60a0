// Times in the event's own zone: an event in Denver (time_zone America/Denver), looked at by a
// buyer whose browser is in Tokyo. The event page and the booking page give the Denver time with
// "MST"; hovering (the title) gives it in Tokyo.
import { BASE_URL, apiExpect, expect, expectVisible, log, login, organizerEvent, run, shot } from './lib.mjs';

const EMAIL = `timezone-${Date.now()}@example.com`;
const PASSWORD = 'correct horse battery';

await run(async ({ browser, page: utc }) => {
  const { event } = await organizerEvent({
    // 02:00 UTC on Jan 15 is 7:00 PM on Jan 14 in Denver (MST) and 11:00 AM on Jan 15 in Tokyo
    event: { name: `Mile High ${Date.now()}`, title: 'A winter night', category: 'concert', location: 'Red Rocks, Morrison',
      time_zone: 'America/Denver', start_at: '2027-01-15T02:00:00Z', end_at: '2027-01-15T04:00:00Z' },
    types: [{ name: 'Lawn', price: 4500, number_seats: 20 }],
  });
  log(`event ${event.id} in ${event.time_zone}`);
  await expect(null, event.time_zone === 'America/Denver', `the event should keep its zone: ${event.time_zone}`);
  const context = await browser.newContext({ locale: 'en-US', timezoneId: 'Asia/Tokyo', viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  await page.goto(`${BASE_URL}/events/${event.id}`);
  const start = await expectVisible(page, `time[datetime="${event.start_at}"]`, 'the start time');
  const text = (await start.innerText()).trim();
  const title = (await start.getAttribute('title')) || '';
  log(`shown "${text}", title "${title}"`);
  await expect(page, text.includes('Jan 14, 2027') && text.includes('7:00') && text.includes('PM') && text.includes('MST'), `the page should give the Denver time with MST: ${text}`);
  await expect(page, title.includes('Jan 15, 2027') && title.includes('11:00') && title.includes('AM'), `the title should give the Tokyo time: ${title}`);
  await shot(page, 'event-in-denver');

  // the booking page too
  await apiExpect(201, 'POST', '/v1/auths/register', { body: { email: EMAIL, password: PASSWORD } });
  const token = await login(EMAIL, PASSWORD);
  const type = event.ticket_types?.[0]?.id || (await apiExpect(200, 'GET', `/v1/events/${event.id}`)).ticket_types[0].id;
  const booking = await apiExpect(201, 'POST', '/v1/bookings/hold', { token, body: { event_id: event.id, ticket_type_id: type, qty: 1 } });
  await page.goto(`${BASE_URL}/login?next=${encodeURIComponent(`/bookings/${booking.id}`)}`);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  const held = await expectVisible(page, `time[datetime="${event.start_at}"]`, 'the start time on the booking page');
  const heldText = (await held.innerText()).trim();
  await expect(page, heldText.includes('7:00') && heldText.includes('MST'), `the booking page should give the Denver time: ${heldText}`);
  await shot(page, 'booking-in-denver');
  await context.close();
  // the same event from a browser in UTC: the Denver time still, with a title in UTC
  await utc.goto(`${BASE_URL}/events/${event.id}`);
  const there = await expectVisible(utc, `time[datetime="${event.start_at}"]`, 'the start time in UTC');
  await expect(utc, (await there.innerText()).includes('MST') && ((await there.getAttribute('title')) || '').includes('UTC'), 'a browser in UTC sees MST, with UTC in the title');
});
