// A sale behind a waiting room: the buyer joins before the start and is told their place is
// drawn at the start, sees their place once drawn and watch it fall as the people ahead are let
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
  const organizer = await login(ORGANIZER.email, ORGANIZER.password);
  const startsAt = new Date(Date.now() + START_IN_MS);
  await apiExpect(200, 'PATCH', `/v1/admin/events/${event.id}`, { token: organizer, body: { queue: {
    enabled: true, opens_at: new Date(Date.now() - 60_000).toISOString(), starts_at: startsAt.toISOString(),
    admit_minutes: 5, admit_at_once: 1, challenge_bits: 0 } } });
  log(`event ${event.id}, the sale starts ${startsAt.toISOString()}`);

  // the others join through the API before the start
  const others = [];
  for (let i = 0; i < OTHERS; i += 1) {
    const email = `queue-other-${Date.now()}-${i}@example.com`;
    await apiExpect(201, 'POST', '/v1/auths/register', { body: { email, password: 'correct horse battery' } });
    const token = await login(email, 'correct horse battery');
    await apiExpect(200, 'POST', `/v1/events/${event.id}/queue`, { token, body: {} });
    others.push({ token, held: false });
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
});
