// Finding events on the home page: by words, then category, place and dates, each in the address
// so a reload keeps it; twelve results a page with "More events" for the rest, and a search that
// matches nothing says so. Fourteen events are set up through the API.
import { BASE_URL, expect, expectCount, expectText, expectVisible, log, organizerEvent, run, shot } from './lib.mjs';

// one word no other scenario's events have, so the counts below are this scenario's own
const WORD = `Lantern${Date.now()}`;

async function festival() {
  // thirteen evenings in Hue, August 1 to 13, then one match in Can Tho
  for (let day = 1; day <= 13; day += 1) {
    const date = `2027-08-${String(day).padStart(2, '0')}`;
    await organizerEvent({
      event: { name: `${WORD} night ${day}`, location: 'Imperial City, Hue', start_at: `${date}T19:00:00Z`, end_at: `${date}T22:00:00Z` },
      types: [{ name: 'Entry', price: 1000 + day * 100, number_seats: 50 }],
    });
  }
  await organizerEvent({
    event: { name: `${WORD} derby`, category: 'sports', location: 'Can Tho Stadium', start_at: '2027-09-05T18:00:00Z', end_at: '2027-09-05T20:00:00Z' },
    types: [{ name: 'Stand', price: 700, number_seats: 500 }],
  });
}

const cards = (page) => page.locator('#results article.event-card');

/**
 * Fills the search form (fields left out are emptied), sends it, and waits for the address to
 * carry it: the site clears the old results as it moves there, so what is counted next is new.
 */
async function search(page, { q = '', category = '', location = '', from = '', to = '' }) {
  const wanted = { q, category, location, from, to };
  await page.getByLabel('What').fill(q);
  await page.getByLabel('Category').selectOption(category);
  await page.getByLabel('Where').fill(location);
  await page.getByLabel('From').fill(from);
  await page.getByLabel('To').fill(to);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL((url) => Object.entries(wanted).every(([key, value]) => (url.searchParams.get(key) || '') === value));
}

await run(async ({ page }) => {
  await festival();
  log(`fourteen events with the word ${WORD}`);
  await page.goto(`${BASE_URL}/`);

  // words: twelve on the first page, the fourteenth after "More events", then no more
  await search(page, { q: WORD });
  await expectCount(page, cards(page), 12, 'event cards on the first page');
  const first = cards(page).first();
  await expectVisible(page, first.getByText(/^from \$\d+\.\d\d$/), 'the "from" price on a card');
  await expectVisible(page, first.locator('.banner'), 'the card\'s banner (a drawn one when the event has none)');
  await expectVisible(page, first.getByText('Imperial City, Hue'), 'the venue on a card');
  await shot(page, 'words');
  await page.getByRole('button', { name: 'More events' }).click();
  await expectCount(page, cards(page), 14, 'event cards after "More events"');
  await expect(page, (await page.getByRole('button', { name: 'More events' }).count()) === 0, 'with every event shown, "More events" should be gone');

  // category
  await search(page, { q: WORD, category: 'sports' });
  await expectCount(page, cards(page), 1, 'sports events');
  await expectVisible(page, cards(page).getByRole('link', { name: `${WORD} derby` }), 'the derby, the one sports event');

  // place
  await search(page, { q: WORD, location: 'Can Tho' });
  await expectCount(page, cards(page), 1, 'events in Can Tho');
  await expectVisible(page, cards(page).getByText('Can Tho Stadium'), 'the derby\'s venue');

  // dates, whole days: August 3 to 5 is three evenings
  await search(page, { q: WORD, from: '2027-08-03', to: '2027-08-05' });
  await expectCount(page, cards(page), 3, 'events from August 3 to 5');
  for (const day of [3, 4, 5]) await expectVisible(page, cards(page).getByRole('link', { name: `${WORD} night ${day}`, exact: true }), `night ${day}`);
  await shot(page, 'dates');

  // the search is in the address: a reload shows the same
  const url = new URL(page.url());
  await expect(page, url.searchParams.get('from') === '2027-08-03' && url.searchParams.get('q') === WORD, `the address should carry the search: ${page.url()}`);
  await page.reload();
  await expectCount(page, cards(page), 3, 'events from August 3 to 5 after a reload');
  await expect(page, (await page.getByLabel('From').inputValue()) === '2027-08-03', 'the form should show the search after a reload');

  // nothing found is said in words
  await search(page, { q: `${WORD}nothing` });
  await expectText(page, 'No events match');
  await expectCount(page, cards(page), 0, 'event cards for a search that matches nothing');
  await shot(page, 'nothing');
});
