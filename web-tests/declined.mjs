// Names per ticket and a declined payment. The event asks a name for each ticket: the booking
// page has "Name on ticket 1 (Standing)" and 2; a phone of letters is refused at its field in
// words. The buyer declines on the sandbox gateway and returns; the booking page says
// the payment was declined and nothing was charged, and Pay works again to a confirmed booking.
import { buyerLoggedIn, expectConfirmed, expectText, expectVisible, log, organizerEvent, payOnGateway, run, shot } from './lib.mjs';

await run(async ({ page }) => {
  const { event } = await organizerEvent({
    event: { attendee_names: true, name: `Second Try ${Date.now()}`, title: 'Cards say no', category: 'concert', start_at: '2027-06-01T21:00:00Z', end_at: '2027-06-01T23:00:00Z' },
    types: [{ name: 'Standing', price: 3200, number_seats: 20 }],
  });
  log(`event ${event.id}`);
  await buyerLoggedIn(page, `/events/${event.id}`);
  await page.getByLabel('How many Standing').fill('2');
  await page.getByRole('button', { name: 'Book' }).click();
  await expectVisible(page, '#countdown', 'the hold');
  await page.getByLabel('Name on ticket 1 (Standing)').fill('Ada Lovelace');
  await page.getByLabel('Name on ticket 2 (Standing)').fill('Alan Turing');
  await page.getByLabel('Phone').fill('call me');
  await page.getByRole('button', { name: /^Pay/ }).click();
  await expectText(page, 'Give a phone number of 5 to 20 digits.');
  await shot(page, 'phone-refused');
  await page.getByLabel('Phone').fill('+1 555 0100');
  await page.getByRole('button', { name: /^Pay/ }).click();
  await page.waitForURL(/\/sandbox\/pay\//);
  await page.getByRole('button', { name: 'Decline' }).click();
  await expectText(page, 'Payment declined');
  await page.getByRole('link', { name: 'Return to boxoffice' }).click();
  await expectVisible(page, page.locator('[role=alert]', { hasText: 'Your payment was declined. Nothing was charged. You can try again while your seats are held.' }), 'the declined payment said');
  await shot(page, 'declined');
  await payOnGateway(page, 'Card');
  await expectConfirmed(page, 2);
  await expectText(page, 'Ada Lovelace');
  await expectText(page, 'Alan Turing');
  await shot(page, 'confirmed');
});
