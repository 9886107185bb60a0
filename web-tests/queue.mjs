// A sale behind a waiting room: the buyer joins before the start and is told their place is
// drawn at the start, sees their place once drawn and watches it fall as the people ahead are let
// in and book (other buyers, through the API), is let in and taken to the tickets, and buys.
import {
  BASE_URL, api, apiExpect, buyerLoggedIn, expect, expectConfirmed, expectVisible, log, login,
  organizerEvent, ORGANIZER, payOnGateway, run, shot,
} from './lib.mjs';

const NAME = `Queue Night ${Date.now()}`;
/** Other buyers in the pre-queue: the browser's buyer is first in line one time in 13. */
const OTHERS = 12;
const START_IN_MS = 12_000;

await run(async ({ page }) => {
  const { event, types: [type] } = await organizerEvent({
    event: { name: NAME, category: 'concert', location: 'Hanoi Opera House' },
    types: [{ name: 'Standing', price: 2500, number_seats: 50 }],
  });
  // the others' accounts first: the time to the start runs from the queue's settings on
  const others = [];
  for (let i = 0; i < OTHERS; i += 1) {
    const email = `queue-other-${Date.now()}-${i}@example.com`;
    await apiExpect(201, 'POST', '/v1/auths/register', { body: { email, password: 'correct horse battery' } });
    others.push({ token: await login(email, 'correct horse battery'), held: false });
  }
  const organizer = await login(ORGANIZER.email, ORGANIZER.password);
  const startsAt = new Date(Date.now() + START_IN_MS);
  await apiExpect(200, 'PATCH', `/v1/admin/events/${event.id}`, { token: organizer, body: { queue: {
    enabled: true, opens_at: new Date(Date.now() - 60_000).toISOString(), starts_at: startsAt.toISOString(),
    admit_minutes: 5, admit_at_once: 1, challenge_bits: 0 } } });
  log(`event ${event.id}, the sale starts ${startsAt.toISOString()}`);
  // the others join before the start
  for (const other of others) {
    await apiExpect(200, 'POST', `/v1/events/${event.id}/queue`, { token: other.token, body: {} });
  }

  // the buyer finds the event behind its waiting room and joins
  await buyerLoggedIn(page, `/events/${event.id}`);
  await expectVisible(page, '#queue-notice', 'the waiting room notice on the event page');
  await expect(page, await page.getByRole('button', { name: 'Book' }).isDisabled(), 'Book waits for the queue');
  await page.getByRole('link', { name: 'Join the queue' }).click();
  await expectVisible(page, '#queue-position:text("In the pre-queue")', 'the pre-queue before the start');
  await expect(page, Date.now() < startsAt.getTime(), 'joined before the start');
  await shot(page, 'pre-queue');

  // every place shown from now on, as the page shows it
  await page.evaluate(() => {
    window.placesSeen = [];
    new MutationObserver(() => {
      const place = document.querySelector('#queue-position');
      if (place && /^\d+$/.test(place.textContent)) window.placesSeen.push(Number(place.textContent));
    }).observe(document.querySelector('main'), { subtree: true, childList: true, characterData: true });
  });

  // the others book one ticket each as they are let in, one a second, so the line moves at a
  // pace a person (and the page) can follow
  let moving = true;
  const others_book = (async () => {
    while (moving) {
      for (const other of others.filter((o) => !o.held)) {
        const me = await api('GET', `/v1/events/${event.id}/queue/me`, { token: other.token });
        if (me.body?.status === 'admitted') {
          await apiExpect(201, 'POST', '/v1/bookings/hold', { token: other.token,
            body: { event_id: event.id, ticket_type_id: type.id, qty: 1, admission_token: me.body.admission_token } });
          other.held = true;
          break;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 800));
    }
  })();

  const admitted = await expectVisible(page, '#admitted', 'let in and taken to the tickets', { timeout: START_IN_MS + 60_000 });
  moving = false;
  await others_book;
  const seen = await page.evaluate(() => window.placesSeen);
  log(`places shown: ${seen.join(', ') || '(none: first in line)'}`);
  for (let i = 1; i < seen.length; i += 1) await expect(page, seen[i] <= seen[i - 1], `the place never goes up: ${seen}`);
  if (seen.length && seen[0] > 1) await expect(page, seen.at(-1) < seen[0], `the place fell: ${seen}`);
  await expect(page, /You're in/.test(await admitted.innerText()), 'the page says the buyer is in');
  await expect(page, /\d+:\d\d/.test(await page.locator('#admission-left').innerText()), 'with the time left to book');
  await shot(page, 'admitted');

  // and buys
  await page.getByLabel('How many Standing').fill('1');
  await page.getByRole('button', { name: 'Book' }).click();
  await expectVisible(page, '#countdown', 'the hold');
  await page.getByLabel('Phone').fill('+84 912 345 678');
  await page.getByLabel('Address').fill('1 Trang Tien, Hanoi');
  await page.getByLabel('Card').check();
  await payOnGateway(page, 'Card');
  await expectConfirmed(page, 1);
  await shot(page, 'bought');
  const queue = await apiExpect(200, 'GET', `/v1/events/${event.id}/queue`);
  await expect(page, typeof queue.seed === 'string', 'the seed is revealed after the start');
  log(`the seed ${queue.seed} hashes to ${queue.seed_sha256}`);

  // the organizer sees the queue's settings on the editor and its live view on the sales page
  await page.evaluate(() => localStorage.clear());
  await page.goto(`${BASE_URL}/login?next=${encodeURIComponent(`/organizer/events/${event.id}`)}`);
  await page.getByLabel('Email').fill(ORGANIZER.email);
  await page.getByLabel('Password').fill(ORGANIZER.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expectVisible(page, '#queue-form', 'the waiting room settings on the editor');
  await expect(page, await page.getByLabel('Sell through a waiting room').isChecked(), 'the waiting room is on');
  await expect(page, (await page.getByLabel('Buyers let in at once').inputValue()) === '1', 'one let in at once');
  await page.goto(`${BASE_URL}/organizer/events/${event.id}/sales`);
  const view = await expectVisible(page, '#queue-view', 'the waiting room on the sales page');
  await expectVisible(page, '#queue-view [data-queue="bought"]:text-is("1")', 'one bought through the queue');
  const holding = Number(await page.locator('#queue-view [data-queue="holding"]').innerText());
  // everyone ahead of the buyer when the places were drawn was let in first and holds
  await expect(page, holding >= (seen[0] ?? 0) && holding <= OTHERS, `those let in before the buyer hold: ${holding}, places ${seen}`);
  await expect(page, (await view.innerText()).includes(queue.seed), 'the revealed seed is shown');
  await shot(page, 'organizer-view');
});
