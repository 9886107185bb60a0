// After the sale: an organizer creates an event in the site with a refund policy, a hidden
// ticket type and promo codes (a bad window refused at its field, one retired); a buyer applies
// the code and sees the discounted price, books and pays it, gives one ticket to a friend (their
// own address refused at the field), cancels the booking for a refund of the ticket still theirs
// (the friend's stays valid) and sees it done, while a second tab trying to give that ticket away
// is told it was refunded. The organizer refunds
// another buyer's ticket from the attendee list, sees both refunds on the sales page, and retries
// the one the gateway refused (the server runs with payment.refund_attempts = 1).
import {
  BASE_URL, ORGANIZER, api, apiExpect, buyerLoggedIn, expect, expectConfirmed, expectCount, expectText, expectVisible,
  fail, log, login, run, shot,
} from './lib.mjs';

const NAME = `Closing Night ${Date.now()}`;
const FRIEND = `friend-${Date.now()}@example.com`;

/** Every dialog of `page` is accepted, its message kept in `said`. */
function acceptDialogs(page, said) {
  page.on('dialog', (dialog) => {
    said.push(dialog.message());
    dialog.accept();
  });
}

async function logInAsOrganizer(page, next) {
  await page.goto(`${BASE_URL}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Email').fill(ORGANIZER.email);
  await page.getByLabel('Password').fill(ORGANIZER.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((url) => url.pathname === next);
}

/** Another buyer takes one Floor ticket through the API and pays with refunds refused later. */
async function buyerWhoseRefundFails(eventId, typeId) {
  const email = `declined-${Date.now()}@example.com`;
  await apiExpect(201, 'POST', '/v1/auths/register', { body: { email, password: 'correct horse battery' } });
  const token = await login(email, 'correct horse battery');
  const booking = await apiExpect(201, 'POST', '/v1/bookings/hold', { token, body: { event_id: eventId, ticket_type_id: typeId, qty: 1 } });
  await apiExpect(200, 'POST', `/v1/bookings/${booking.id}/information`, { token, body: { email } });
  const paying = await apiExpect(200, 'POST', `/v1/bookings/${booking.id}/checkout`, { token, body: { payment_method: 'card' } });
  const pay = await fetch(`${BASE_URL}/sandbox/pay/${paying.payment.payment_code}`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'outcome=pay_refunds_declined' });
  if (pay.status !== 303) throw new Error(`the sandbox answered ${pay.status} to pay`);
  for (let deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const tickets = await api('GET', '/v1/tickets', { token });
    if (tickets.body?.data?.length) return { email, booking };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('no ticket was issued within 30 s of the payment');
}

await run(async ({ context, page }) => {
  const said = [];
  acceptDialogs(page, said);
  const token = await login(ORGANIZER.email, ORGANIZER.password);

  // ---- the organizer: the event, its types, the refund policy, the promo codes ----
  await logInAsOrganizer(page, '/organizer');
  await page.getByRole('link', { name: 'New event' }).click();
  await page.getByLabel('Name', { exact: true }).fill(NAME);
  await page.getByLabel('Description').fill('The last night of the season.');
  await page.getByLabel('Category').selectOption('concert');
  await page.getByLabel('Venue and city').fill('Saigon Opera House');
  // the venue suggests Asia/Saigon; the dates below are checked as UTC
  await page.getByLabel('Time zone').fill('UTC');
  await page.getByLabel('Starts').fill('2027-06-20T19:00');
  await page.getByLabel('Ends').fill('2027-06-20T23:00');
  await page.getByRole('button', { name: 'Create event' }).click();
  await expectVisible(page, '#event-status:text("draft")', 'the draft event');
  const eventId = new URL(page.url()).pathname.split('/').pop();
  log(`event ${eventId}`);

  const add = page.locator('#ticket-type-form');
  await add.getByLabel('Name', { exact: true }).fill('Floor');
  await add.getByLabel('Price', { exact: true }).fill('40');
  await add.getByLabel('Capacity', { exact: true }).fill('50');
  await add.getByRole('button', { name: 'Add ticket type' }).click();
  await expectVisible(page, '#ticket-types td:text-is("Floor")', 'Floor in the ticket types');
  await add.getByLabel('Name', { exact: true }).fill('Backstage');
  await add.getByLabel('Price', { exact: true }).fill('100');
  await add.getByLabel('Capacity', { exact: true }).fill('5');
  await add.getByLabel('Offered to buyers').uncheck();
  await add.getByRole('button', { name: 'Add ticket type' }).click();
  await expectVisible(page, '#ticket-types td:text("Backstage (hidden)")', 'Backstage, hidden, in the ticket types');

  // refunds until a week before, in the event's own form
  const details = page.locator('#event-form');
  await details.getByLabel(/^Refunds until/).fill('2027-06-13T12:00');
  await details.getByRole('button', { name: 'Save changes' }).click();
  await expectText(page, 'Saved.');
  let saved = await apiExpect(200, 'GET', `/v1/admin/events/${eventId}`, { token });
  await expect(page, saved.refund_until?.startsWith('2027-06-13T12:00'), `the API should have refund_until 2027-06-13T12:00, it has ${saved.refund_until}`);
  const [floor, backstage] = ['Floor', 'Backstage'].map((name) => saved.ticket_types.find((t) => t.name === name));

  // a promo code whose window ends before it starts is refused at the field
  const promo = page.locator('#promo-form');
  await expectVisible(page, '#promo-codes', 'the promo codes section');
  await promo.getByLabel('Code').fill('SPRING20');
  await promo.getByLabel('Percent off').fill('20');
  await promo.getByLabel('Valid from (optional)').fill('2026-12-02T10:00');
  await promo.getByLabel('Valid until (optional)').fill('2026-12-01T10:00');
  await promo.getByRole('button', { name: 'Add promo code' }).click();
  const refused = await expectVisible(page, promo.locator('#promo-until ~ .field-error[role=alert]'), 'the refused window under Valid until');
  await expect(page, /^Valid until must be after valid_from/.test(await refused.innerText()), `the field should say why: ${await refused.innerText()}`);
  await expect(page, (await promo.getByLabel('Valid until (optional)').getAttribute('aria-invalid')) === 'true', 'Valid until should be marked invalid');
  await shot(page, 'promo-refused');
  await promo.getByLabel('Valid from (optional)').fill('');
  await promo.getByLabel('Valid until (optional)').fill('2027-06-01T00:00');
  await promo.locator('fieldset[data-field="ticket_type_ids"]').getByLabel('Floor').check();
  await promo.locator('fieldset[data-field="unlocks"]').getByLabel('Backstage').check();
  await promo.getByLabel('Uses in all (optional)').fill('10');
  await promo.getByLabel('Uses per account (optional)').fill('2');
  await promo.getByRole('button', { name: 'Add promo code' }).click();
  const spring = page.locator('#promo-table tr[data-code="SPRING20"]');
  await expectVisible(page, spring, 'SPRING20 in the list');
  await expect(page, (await promo.locator('.field-error').count()) === 0, 'the refusal should be gone once the code is added');
  const row = (await spring.innerText()).replace(/\s+/g, ' ').toLowerCase(); // the state is capitalized by CSS
  for (const part of ['20% off', 'opens backstage', 'until jun 1, 2027', 'floor', '10 uses in all, 2 per account', '0 of 10', 'active']) {
    await expect(page, row.includes(part), `the SPRING20 row should say "${part}": ${row}`);
  }
  // a fixed amount, then retired
  await promo.getByLabel('Code').fill('GONE5');
  await promo.getByLabel(/^Amount off each ticket/).fill('5');
  await promo.getByRole('button', { name: 'Add promo code' }).click();
  const gone = page.locator('#promo-table tr[data-code="GONE5"]');
  await expectVisible(page, gone.getByText('$5.00 off'), 'GONE5, $5.00 off');
  await gone.getByRole('button', { name: 'Retire GONE5' }).click();
  await expectVisible(page, gone.getByText('retired'), 'GONE5 retired');
  const codes = await apiExpect(200, 'GET', `/v1/admin/events/${eventId}/promo_codes`, { token });
  const made = codes.find((c) => c.code === 'SPRING20');
  await expect(page, made?.percent_off === 20 && made.max_uses === 10 && made.max_per_account === 2 && made.ticket_type_ids.join() === floor.id
    && made.unlocks.join() === backstage.id && codes.find((c) => c.code === 'GONE5')?.amount_off === 500 && !codes.find((c) => c.code === 'GONE5').active,
  `the API should have the codes as entered: ${JSON.stringify(codes)}`);
  await shot(page, 'promo-codes');
  await page.getByRole('button', { name: 'Publish' }).click();
  await expectVisible(page, '#event-status:text("published")', 'the published event');
  await page.getByRole('button', { name: 'Log out' }).click();
  await expectVisible(page, 'a[href="/login"]', 'logged out');

  // ---- the buyer: the promo code, a booking at its price, paid ----
  const buyer = await buyerLoggedIn(page, `/events/${eventId}`);
  const floorRow = page.locator(`tr[data-type="${floor.id}"]`);
  await expectVisible(page, floorRow.getByText('$40.00'), 'Floor at $40.00');
  await expect(page, (await page.locator(`tr[data-type="${backstage.id}"]`).count()) === 0, 'Backstage is hidden without the code');
  await page.getByLabel('Promo code').fill('GONE5');
  await page.getByRole('button', { name: 'Apply' }).click();
  const wrong = await expectVisible(page, '#promo-code ~ .field-error[role=alert]', 'the retired code refused at the field');
  await expect(page, (await wrong.innerText()).includes('is not a promo code of this event'), `the field should say why: ${await wrong.innerText()}`);
  await page.getByLabel('Promo code').fill('spring20');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expectVisible(page, '#promo-applied', 'the code applied');
  await expectVisible(page, floorRow.locator('del', { hasText: '$40.00' }), 'the old price struck through');
  await expectVisible(page, floorRow.locator('.promo-price', { hasText: '$32.00' }), 'the price with 20% off');
  await expect(page, (await page.locator('#promo-code ~ .field-error').count()) === 0, 'the refusal should be gone');
  const backstageRow = page.locator(`tr[data-type="${backstage.id}"]`);
  await expectVisible(page, backstageRow.getByText('Unlocked by your promo code'), 'Backstage, opened by the code');
  await expectVisible(page, backstageRow.getByText('$100.00'), 'Backstage at its own price (the code discounts Floor only)');
  await shot(page, 'promo-applied');
  await page.getByLabel('How many Floor').fill('2');
  await page.getByRole('button', { name: 'Book' }).click();
  await page.locator('#countdown').waitFor();
  const bookingPath = new URL(page.url()).pathname;
  const bookingId = bookingPath.split('/').pop();
  await expectText(page, '$64.00');
  await expectVisible(page, 'td:has-text("Promo code") strong', 'the promo code on the booking');
  const held = await apiExpect(200, 'GET', `/v1${bookingPath}`, { token: buyer.token });
  await expect(page, held.total_price === 6400 && held.promo_code?.toUpperCase() === 'SPRING20', `the hold should cost 6400 with SPRING20: ${JSON.stringify(held)}`);
  await shot(page, 'held');
  await page.getByRole('button', { name: /^Pay / }).click();
  await page.waitForURL(/\/sandbox\/pay\//);
  await shot(page, 'gateway');
  // exactly the gateway's Pay button, not "Approve, but refuse its refunds later"
  await page.getByRole('button', { name: 'Pay 64.00 USD', exact: true }).click();
  await expectText(page, 'Payment approved');
  await page.getByRole('link', { name: 'Return to boxoffice' }).click();
  await expectConfirmed(page, 2);
  await expectText(page, /You can cancel until .* and get \$64\.00 back\./);
  await shot(page, 'confirmed');

  // ---- one ticket to a friend: the buyer's own address refused at the field, then given ----
  const [first, second] = await page.locator('#booking-tickets .ticket').all();
  const firstId = await first.getAttribute('data-ticket');
  const secondId = await second.getAttribute('data-ticket');
  await first.getByRole('button', { name: /^Transfer ticket \d+$/ }).click();
  const email = first.getByLabel('Email of the new holder');
  await email.fill(buyer.email);
  await first.getByRole('button', { name: 'Transfer ticket', exact: true }).click();
  const own = await expectVisible(page, first.locator('.field-error[role=alert]'), 'the own address refused at the field');
  await expect(page, (await own.innerText()).includes('is your own address'), `the field should say why: ${await own.innerText()}`);
  await expect(page, (await email.getAttribute('aria-invalid')) === 'true', 'the email field should be marked invalid');
  await shot(page, 'transfer-refused');
  await email.fill(FRIEND);
  await first.getByRole('button', { name: 'Transfer ticket', exact: true }).click();
  const given = page.locator(`#booking-tickets .ticket[data-ticket="${firstId}"]`);
  await expectVisible(page, given.getByText(`Transferred to ${FRIEND}`), 'the ticket marked transferred');
  await expectCount(page, given.locator('img.qr'), 0, 'QR codes on the transferred ticket');
  await expect(page, said.some((m) => m.includes(`Give this ticket to ${FRIEND}?`)), `the transfer should be confirmed first: ${JSON.stringify(said)}`);
  await shot(page, 'transferred');

  // a second tab opens the other ticket's transfer form before the booking is cancelled
  const tab = await context.newPage();
  acceptDialogs(tab, []);
  await tab.goto(`${BASE_URL}/tickets`);
  const stale = tab.locator(`.ticket[data-ticket="${secondId}"]`);
  await expectVisible(tab, stale.locator('img.qr'), 'the second ticket with its QR in the other tab');
  await expectVisible(tab, tab.locator(`.ticket[data-ticket="${firstId}"]`).getByText(`Transferred to ${FRIEND}`), 'the given ticket in My tickets, with its new holder');
  await stale.getByRole('button', { name: /^Transfer ticket \d+$/ }).click();
  await stale.getByLabel('Email of the new holder').fill(`late-${FRIEND}`);

  // ---- cancel for a refund ----
  await page.bringToFront();
  const offer = await page.locator('.refund-policy').innerText();
  const amount = offer.match(/get (\$[\d.,]+) back/)?.[1];
  // the friend's ticket is theirs now: only the one kept is the buyer's to refund
  await expect(page, amount === '$32.00', `cancelling should give back the kept ticket's $32.00, the page offers: ${offer}`);
  await page.getByRole('button', { name: 'Cancel and refund' }).click();
  const asked = said.find((m) => m.startsWith('Cancel this booking?'));
  await expect(page, asked?.includes(`You'll get ${amount} back`), `the cancel should be confirmed with the amount (${amount}): ${JSON.stringify(said)}`);
  await expectVisible(page, page.locator('#refund .refund-line').getByText(`Refund of ${amount}:`), 'the refund on the booking page', { timeout: 15_000 });
  await shot(page, 'refund-asked');
  await expectVisible(page, page.locator('#refund .refund-line.succeeded').getByText(`Refund of ${amount}: done`), 'the refund done', { timeout: 30_000 });
  await expectVisible(page, page.locator('#refunded').getByText('the ones you gave away still admit their new holders'), 'the buyer\'s tickets refunded, the given one still admitting', { timeout: 30_000 });
  await expectVisible(page, '#booking-status:text("confirmed")', 'the booking still confirmed for the friend\'s ticket');
  await expectCount(page, page.locator('#booking-tickets .ticket img.qr'), 0, 'QR codes left on the booking');
  await expectVisible(page, page.locator(`#booking-tickets .ticket[data-ticket="${secondId}"]`).getByText('Refunded', { exact: true }), 'the kept ticket refunded');
  await expect(page, !(await page.getByRole('button', { name: 'Cancel and refund' }).isVisible()), 'no Cancel and refund once refunded');
  const refunded = await apiExpect(200, 'GET', `/v1${bookingPath}`, { token: buyer.token });
  const payment = await apiExpect(200, 'GET', `/v1/payments/${refunded.payment.id}`, { token: buyer.token });
  log(`refunded ${refunded.refunded} of ${refunded.total_price}; payment ${payment.status}, refund ${payment.refund_status}`);
  await expect(page, refunded.status === 'confirmed' && refunded.refunded === 3200 && payment.refund_status === 'succeeded'
    && amount === `$${(payment.refunds.reduce((sum, r) => sum + r.amount, 0) / 100).toFixed(2)}`,
  `the API should agree: booking ${refunded.status}, refunds ${JSON.stringify(payment.refunds)}, the page said ${amount}`);
  await shot(page, 'refunded');

  // the other tab's transfer is refused in words
  await tab.bringToFront();
  await stale.getByRole('button', { name: 'Transfer ticket', exact: true }).click();
  const late = await expectVisible(tab, stale.locator('[role=alert]'), 'the late transfer refused');
  await expect(tab, /can no longer be transferred: this ticket was refunded/.test(await late.innerText()), `the refusal should say why: ${await late.innerText()}`);
  await shot(tab, 'late-transfer');
  await tab.reload();
  await expectVisible(tab, tab.locator(`.ticket[data-ticket="${secondId}"]`).getByText('Refunded', { exact: true }), 'the refunded ticket in My tickets');
  await expectCount(tab, tab.locator('.ticket img.qr'), 0, 'QR codes in My tickets');
  await tab.close();

  await page.getByRole('link', { name: 'My bookings' }).click();
  const listed = page.locator(`article[data-booking="${bookingId}"]`);
  await expectVisible(page, listed.locator('.status.confirmed'), 'the booking, confirmed for the friend\'s ticket, in My bookings');
  await expect(page, (await listed.getByRole('button', { name: 'Cancel and refund' }).count()) === 0, 'nothing left to cancel in My bookings: the other ticket is the friend\'s');
  await expectVisible(page, listed.getByText(`Refund of ${amount}: done`), 'the refund in My bookings');
  await shot(page, 'my-bookings');
  await page.getByRole('button', { name: 'Log out' }).click();

  // ---- the organizer: another buyer's ticket refunded from the attendees, the refunds listed ----
  const declined = await buyerWhoseRefundFails(eventId, floor.id);
  await logInAsOrganizer(page, `/organizer/events/${eventId}/attendees`);
  const attendee = page.locator('#attendees tbody tr', { hasText: declined.email });
  await expectVisible(page, attendee, 'the other buyer in the attendee list');
  await expectVisible(page, page.locator('#attendees tbody tr', { hasText: FRIEND }).locator('.status.valid'), 'the friend\'s ticket still valid: theirs, not the buyer\'s to refund');
  await attendee.getByRole('button', { name: /^Refund / }).click();
  await expectVisible(page, page.locator('#attendee-refund').getByText(/Refund of \$40\.00 for booking .*: on its way/), 'the refund asked');
  await expectVisible(page, attendee.locator('.status.void'), 'the refunded ticket in the list');
  await expect(page, said.some((m) => m.startsWith('Refund this Floor ticket') && m.includes(declined.email)), `the refund should be confirmed first: ${JSON.stringify(said)}`);
  await shot(page, 'attendee-refunded');

  await page.getByRole('link', { name: 'See the refunds on the sales page' }).click();
  const mine = page.locator('#refund-table tr', { hasText: buyer.email });
  await expectVisible(page, mine.getByText('done'), 'the buyer\'s refund, done');
  await expectVisible(page, mine.getByText('the buyer'), 'asked by the buyer');
  const failed = page.locator('#refund-table tr[data-status="failed"]', { hasText: declined.email });
  await expectVisible(page, failed, 'the refused refund, failed', { timeout: 30_000 });
  await expectVisible(page, failed.getByText(/the provider said/), 'the provider\'s refusal');
  await expectText(page, /0 on their way · 1 done · 1 failed/);
  await expectVisible(page, page.locator('#refunded-amount', { hasText: amount }), 'the amount given back');
  await shot(page, 'sales-refunds');
  const [retried] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/retry') && r.request().method() === 'POST'),
    failed.getByRole('button', { name: /^Retry/ }).click(),
  ]);
  await expect(page, retried.status() === 200, `the retry should be accepted, it answered ${retried.status()}`);
  // the sandbox refuses this transaction's refunds every time: it fails again, and the
  // organizer is told a second time
  let told = 0;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && told < 2;) {
    const notes = await apiExpect(200, 'GET', '/v1/notifications?limit=100', { token });
    told = notes.data.filter((n) => n.kind === 'refund_failed').length;
    if (told < 2) await page.waitForTimeout(250);
  }
  if (told !== 2) await fail(page, `the retried refund should fail again and tell the organizer twice, told ${told} time(s)`);
  await expectVisible(page, page.locator('#refund-table tr[data-status="failed"]', { hasText: declined.email }), 'the retried refund, failed again');
  await expectText(page, /0 on their way · 1 done · 1 failed/);

  // the code's use stays: the booking was not refunded in full (the friend's ticket stands)
  await page.goto(`${BASE_URL}/organizer/events/${eventId}`);
  await expectVisible(page, page.locator('#promo-table tr[data-code="SPRING20"] .uses', { hasText: '1 of 10' }), 'SPRING20 used 1 of 10 after the refund of one ticket');
  saved = await apiExpect(200, 'GET', `/v1/admin/events/${eventId}/sales`, { token });
  if (!saved.refunds || saved.refunds.failed !== 1) await fail(page, `the sales report should count 1 failed refund: ${JSON.stringify(saved.refunds)}`);
});
