// A buyer's own account in the site: sign up, a wrong password (the API's words, no blank page),
// the profile (its username explained) and its settings (saved, kept over a reload, and what the API says), a page for
// signed-in people sending a logged-out visitor to log in and back, cancelling a held booking
// (seats back on sale), the notifications page, and logging out.
import {
  BASE_URL, MAIL_DIR, api, apiExpect, expect, expectText, expectVisible, log, login, organizerEvent, run, shot,
} from './lib.mjs';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const NAME = `Open Mic ${Date.now()}`;
const EMAIL = `account-${Date.now()}@example.com`;
const PASSWORD = 'correct horse battery';
const CAPACITY = 40;

/** The access token the site keeps for the signed-in person. */
async function siteToken(page) {
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem('boxoffice.session') || 'null')?.access_token);
  if (!token) throw new Error('the site holds no session');
  return token;
}

/** The event's general admissions not held or sold, as its public page says. */
async function available(eventId, typeId) {
  const detail = await apiExpect(200, 'GET', `/v1/events/${eventId}`);
  return detail.ticket_types.find((t) => t.id === typeId).available;
}

/** Polls `check` (an async function answering a value, or null to go on) for up to `seconds`. */
async function eventually(what, seconds, check) {
  let last;
  for (const deadline = Date.now() + seconds * 1000; Date.now() < deadline;) {
    last = await check();
    if (last !== null && last !== undefined && last !== false) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} did not happen within ${seconds} s`);
}

async function logIn(page, password = PASSWORD) {
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function logOut(page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expectVisible(page, page.locator('#nav').getByRole('link', { name: 'Log in' }), 'the Log in link');
  await expect(page, (await page.locator('#nav a[href="/bookings"]').count()) === 0, 'My bookings should be gone after logging out');
}

await run(async ({ page }) => {
  const { event, types: [type] } = await organizerEvent({
    event: { name: NAME, title: 'Anyone with a song', description: 'Five minutes each, sign up at the door.',
      start_at: '2027-05-01T19:00:00Z', end_at: '2027-05-01T23:00:00Z', location: 'The Back Room, Hanoi' },
    types: [{ name: 'General admission', price: 800, number_seats: CAPACITY }],
  });
  log(`event ${event.id}`);

  // sign up
  await page.goto(`${BASE_URL}/signup`);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expectVisible(page, '#nav a[href="/profile"]', 'the signed-in navigation');
  await logOut(page);

  // a wrong password: the API's own words, on the log in page still
  const refused = await api('POST', '/v1/auths/login', { body: { email: EMAIL, password: 'not the password' } });
  await expect(page, refused.status === 401 && refused.body?.error?.message, `the API should refuse a wrong password: ${JSON.stringify(refused)}`);
  await page.locator('#nav').getByRole('link', { name: 'Log in' }).click();
  await logIn(page, 'not the password');
  const alert = await expectVisible(page, page.getByRole('alert'), 'the error of the wrong password');
  const said = (await alert.innerText()).trim();
  await expect(page, said === refused.body.error.message, `the page should say the API's "${refused.body.error.message}", it says "${said}"`);
  await expectVisible(page, page.getByRole('heading', { name: 'Log in' }), 'the log in page, still there');
  await expect(page, (await page.getByLabel('Email').inputValue()) === EMAIL, 'the email should stay filled in');
  await shot(page, 'wrong-password');
  await logIn(page);
  await expectVisible(page, '#nav a[href="/profile"]', 'the signed-in navigation');
  await expect(page, new URL(page.url()).pathname === '/', `logging in without a next page should land on /, not ${page.url()}`);

  // the profile: name, birthday, no ticket mail
  await page.locator('#nav a[href="/profile"]').click();
  await expectText(page, `Signed in as ${EMAIL}`);
  const mailMe = page.getByLabel('Email me my tickets');
  await expect(page, await mailMe.isChecked(), '"Email me my tickets" should start ticked');
  const username = page.getByLabel(/^Username/);
  // a full name is not a username: the API's words, once
  await username.fill('Ada Buyer');
  await page.getByRole('button', { name: 'Save' }).click();
  const refusal = await expectVisible(page, page.getByRole('alert'), 'the refused username');
  const words = await refusal.innerText();
  await expect(page, words.split("may contain only letters, digits, '_', '.' and '-'").length === 2,
    `the page should give the API's reason once: ${words}`);
  await username.fill('ada_buyer');
  await page.getByLabel('Birthday').fill('1990-04-17');
  await mailMe.uncheck();
  await page.getByRole('button', { name: 'Save' }).click();
  await expectVisible(page, page.getByRole('status').filter({ hasText: 'Saved.' }), 'Saved.');
  await shot(page, 'profile-saved');
  await page.reload();
  await expectText(page, `Signed in as ${EMAIL}`);
  await expect(page, (await page.getByRole('alert').count()) === 0, 'the refusal should be gone after the save and reload');
  await expect(page, (await page.getByLabel(/^Username/).inputValue()) === 'ada_buyer', 'the username should be kept over a reload');
  await expect(page, (await page.getByLabel('Birthday').inputValue()) === '1990-04-17', 'the birthday should be kept over a reload');
  await expect(page, !(await page.getByLabel('Email me my tickets').isChecked()), '"Email me my tickets" should stay unticked over a reload');
  await expect(page, await page.getByLabel('Show notifications on this site').isChecked(), 'site notifications should stay on');
  const me = await apiExpect(200, 'GET', '/v1/users/me', { token: await siteToken(page) });
  await expect(page, me.username === 'ada_buyer' && me.birthday === '1990-04-17'
    && me.user_settings.email_notifications === false && me.user_settings.site_notifications === true,
  `the API should have the saved profile: ${JSON.stringify(me)}`);

  // a page for signed-in people, logged out: log in, then back to it
  await logOut(page);
  await page.goto(`${BASE_URL}/tickets`);
  await page.waitForURL((url) => url.pathname === '/login');
  await expect(page, new URL(page.url()).searchParams.get('next') === '/tickets', `the log in page should come back to /tickets: ${page.url()}`);
  await shot(page, 'login-for-tickets');
  await logIn(page);
  await page.waitForURL((url) => url.pathname === '/tickets');
  await expectVisible(page, page.getByRole('heading', { name: 'My tickets' }), 'My tickets after logging in');
  await expectText(page, 'No tickets yet');

  // hold a general admission, then cancel the booking
  await page.goto(`${BASE_URL}/events/${event.id}`);
  await page.getByLabel('How many General admission').fill('1');
  await page.getByRole('button', { name: 'Book' }).click();
  await expectVisible(page, '#countdown', 'the held booking');
  const bookingId = new URL(page.url()).pathname.split('/').pop();
  await expect(page, (await available(event.id, type.id)) === CAPACITY - 1, 'the hold should take one admission');
  await page.getByRole('button', { name: 'Cancel booking' }).click();
  await expectVisible(page, '#booking-status:text("cancelled")', 'the booking cancelled');
  await expectVisible(page, '[role=status]:text("This booking was cancelled.")', 'the cancellation, said as a status rather than an error');
  await expect(page, (await page.locator('#checkout').count()) === 0, 'a cancelled booking should offer no payment');
  await shot(page, 'cancelled');
  await eventually('the admission going back on sale', 10, async () => (await available(event.id, type.id)) === CAPACITY);
  const cancelled = await apiExpect(200, 'GET', `/v1/bookings/${bookingId}`, { token: await siteToken(page) });
  await expect(page, cancelled.status === 'cancelled', `the API should say cancelled: ${cancelled.status}`);
  await page.getByRole('link', { name: 'My bookings' }).click();
  const listed = page.locator('article.card').filter({ hasText: cancelled.booking_code });
  await expectVisible(page, listed, 'the booking in My bookings');
  await expect(page, (await listed.locator('.status').textContent()).trim() === 'cancelled', 'My bookings should list it as cancelled');
  await shot(page, 'my-bookings');

  // pay for one through the API, so there is something to be notified of
  const token = await siteToken(page);
  const paid = await apiExpect(201, 'POST', '/v1/bookings/hold', { token, body: { event_id: event.id, ticket_type_id: type.id, qty: 1 } });
  await apiExpect(200, 'POST', `/v1/bookings/${paid.id}/information`, { token, body: { email: EMAIL } });
  const paying = await apiExpect(200, 'POST', `/v1/bookings/${paid.id}/checkout`, { token, body: { payment_method: 'card' } });
  const pay = await fetch(`${BASE_URL}/sandbox/pay/${paying.payment.payment_code}`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'outcome=pay' });
  if (pay.status !== 303) throw new Error(`the sandbox answered ${pay.status} to pay`);
  const notes = await eventually('the tickets-ready notification', 30, async () => {
    const { data } = await apiExpect(200, 'GET', '/v1/notifications', { token });
    return data.some((n) => n.kind === 'tickets_issued') && data;
  });

  // the notifications page lists them, and marks one read
  await page.goto(`${BASE_URL}/notifications`);
  const items = page.locator('#notifications li');
  await expectVisible(page, items.first(), 'the list of notifications');
  await expect(page, (await items.count()) === notes.length, `the page should list the ${notes.length} notifications, it lists ${await items.count()}`);
  for (const title of ['Payment received', 'Your tickets are ready']) {
    await expectVisible(page, items.filter({ hasText: title }), `the notification ${title}`);
  }
  await shot(page, 'notifications');
  const first = items.first();
  await first.getByRole('button', { name: 'Mark as read' }).click();
  await expect(page, await eventually('the first notification marked read', 10, async () =>
    !(await first.evaluate((li) => li.classList.contains('unread')))), 'the notification should show as read');
  const after = await apiExpect(200, 'GET', '/v1/notifications', { token });
  await expect(page, after.data[0].read_at !== null, 'the API should have it read');

  // no ticket mail: the buyer turned it off (the mail was decided before the tickets-ready
  // notification was made from the same event)
  const mails = MAIL_DIR && existsSync(MAIL_DIR)
    ? readdirSync(MAIL_DIR).filter((f) => f.endsWith('.eml') && readFileSync(path.join(MAIL_DIR, f), 'utf8').includes(EMAIL))
    : [];
  await expect(page, mails.length === 0, `no ticket mail should go to ${EMAIL}: ${mails.join(', ')}`);

  await logOut(page);
  await shot(page, 'logged-out');
});
