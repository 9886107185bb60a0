// A ticket to take away: on "My tickets" the ticket shows its short code under the QR and the
// name on it; "Download PDF" saves ticket-<short code>.pdf (a PDF with the short code in it) and
// "Add to calendar" saves the event as iCalendar (its name and start).
import fs from 'node:fs/promises';
import {
  BASE_URL, buyerLoggedIn, expect, expectConfirmed, expectVisible, log, organizerEvent, payOnGateway, run, shot,
} from './lib.mjs';

const NAME = `Take Away ${Date.now()}`;

await run(async ({ page }) => {
  const { event } = await organizerEvent({
    event: { attendee_names: true, name: NAME, title: 'A ticket in your pocket', category: 'concert', time_zone: 'America/Denver',
      start_at: '2027-06-01T21:00:00Z', end_at: '2027-06-01T23:00:00Z' },
    types: [{ name: 'Standing', price: 2500, number_seats: 20 }],
  });
  log(`event ${event.id}`);
  await buyerLoggedIn(page, `/events/${event.id}`);
  await page.getByLabel('How many Standing').fill('1');
  await page.getByRole('button', { name: 'Book' }).click();
  await expectVisible(page, '#countdown', 'the hold');
  await page.getByLabel('Name on ticket 1 (Standing)').fill('Grace Hopper');
  await payOnGateway(page, 'Card');
  await expectConfirmed(page, 1);

  await page.goto(`${BASE_URL}/tickets`);
  const card = await expectVisible(page, '.ticket', 'the ticket on My tickets');
  const code = (await card.locator('.short-code .code').innerText()).trim();
  log(`short code ${code}`);
  await expect(page, /^[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(code), `the ticket should show its short code: ${code}`);
  await expect(page, (await card.innerText()).includes('Grace Hopper'), 'the ticket should show the name on it');
  await shot(page, 'ticket');

  const [pdf] = await Promise.all([page.waitForEvent('download'), card.getByRole('button', { name: 'Download PDF' }).click()]);
  await expect(page, pdf.suggestedFilename() === `ticket-${code}.pdf`, `the PDF should be named ticket-${code}.pdf: ${pdf.suggestedFilename()}`);
  const bytes = await fs.readFile(await pdf.path());
  await expect(page, bytes.subarray(0, 5).toString('latin1') === '%PDF-', 'the download should be a PDF');
  await expect(page, bytes.toString('latin1').includes(code), 'the PDF should carry the short code');

  const [ics] = await Promise.all([page.waitForEvent('download'), card.getByRole('link', { name: 'Add to calendar' }).click()]);
  const text = await fs.readFile(await ics.path(), 'utf8');
  log(`calendar file ${ics.suggestedFilename()}, ${text.length} characters`);
  await expect(page, text.includes('BEGIN:VCALENDAR'), 'the calendar file should be iCalendar');
  await expect(page, text.replace(/\r\n[ \t]/g, '').includes(`SUMMARY:${NAME}`), `the calendar entry should be named ${NAME}`);
  const start = text.split(/\r?\n/).find((l) => l.startsWith('DTSTART')) || '';
  await expect(page, start.includes('20270601T210000Z') || start.includes('20270601T150000'), `the calendar entry should start at the event's start: ${start}`);
});
