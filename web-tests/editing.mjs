// An organizer edits what they made: the event's details (a bad date is refused in words), a
// ticket type's price, capacity, limit and visibility, a seat map of two sections that is then
// replaced and deleted, a refused publish, and finally deletes the draft. Every change is read
// back from the API, not only from the page.
import {
  BASE_URL, ORGANIZER, api, apiExpect, expect, expectCount, expectText, expectVisible, log, login, organizerEvent, run, shot,
} from './lib.mjs';

const NAME = `Jazz Brunch ${Date.now()}`;

const seatCount = (page) => page.locator('section[data-seat-map] > svg.seatmap rect.seat').count();

await run(async ({ page }) => {
  const token = await login(ORGANIZER.email, ORGANIZER.password);
  const { event } = await organizerEvent({
    event: { name: NAME, title: 'Sunday sessions', description: 'Trio on the terrace.',
      start_at: '2027-05-02T10:00:00Z', end_at: '2027-05-02T13:00:00Z', location: 'Rooftop, Da Nang' },
    types: [{ name: 'General', price: 2000, number_seats: 100 }],
    publish: false,
  });
  const read = () => apiExpect(200, 'GET', `/v1/admin/events/${event.id}`, { token });
  log(`event ${event.id}`);
  page.on('dialog', (dialog) => dialog.accept());

  await page.goto(`${BASE_URL}/login?next=/organizer/events/${event.id}`);
  await page.getByLabel('Email').fill(ORGANIZER.email);
  await page.getByLabel('Password').fill(ORGANIZER.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expectVisible(page, '#event-status:text("draft")', 'the draft in the editor');

  // details: an end before the start is refused with the API's words, then a good edit saves
  const details = page.locator('#event-form');
  await details.getByLabel('Name', { exact: true }).fill(`${NAME} (matinee)`);
  await details.getByLabel('Ends').fill('2027-05-01T09:00');
  await details.getByRole('button', { name: 'Save changes' }).click();
  const badEnd = await expectVisible(page, details.locator('#f-end_at ~ .field-error[role=alert]'), 'the refusal of an end before the start, at Ends');
  await expect(page, /^Ends must be after/.test(await badEnd.innerText()), `the refusal in words: ${await badEnd.innerText()}`);
  await shot(page, 'bad-dates');
  await details.getByLabel('Ends').fill('2027-05-02T14:00');
  await details.getByRole('button', { name: 'Save changes' }).click();
  await expectText(page, 'Saved.');
  let saved = await read();
  await expect(page, saved.name === `${NAME} (matinee)` && saved.end_at.startsWith('2027-05-02T14:00'),
    `the edit should be saved, the API has ${saved.name} ending ${saved.end_at}`);

  // the ticket type: price, capacity, a per-buyer limit, then hidden
  await page.getByRole('button', { name: 'Edit General' }).click();
  const general = page.locator(`#ticket-type-${saved.ticket_types[0].id}`);
  await expectVisible(page, general, 'the ticket type editor');
  await general.getByLabel('Price').fill('25');
  await general.getByLabel('Capacity').fill('150');
  await general.getByLabel(/^Limit per buyer/).fill('4');
  await shot(page, 'ticket-type-edit');
  await general.getByRole('button', { name: 'Save ticket type' }).click();
  const row = page.locator(`#ticket-types tr[data-type="${saved.ticket_types[0].id}"]`);
  await expectVisible(page, row.getByText('$25.00'), 'the new price in the table');
  await expectVisible(page, row.getByText('150', { exact: true }).first(), 'the new capacity in the table');
  saved = await read();
  let [type] = saved.ticket_types;
  await expect(page, type.price === 2500 && type.number_seats === 150 && type.max_per_user === 4,
    `the API should have 2500 / 150 / 4, it has ${type.price} / ${type.number_seats} / ${type.max_per_user}`);
  await page.getByRole('button', { name: 'Edit General' }).click();
  await general.getByLabel('Offered to buyers').uncheck();
  await general.getByRole('button', { name: 'Save ticket type' }).click();
  await expectVisible(page, row.getByText('(hidden)'), 'the hidden ticket type');
  [type] = (await read()).ticket_types;
  await expect(page, type.status === 'hidden', `the ticket type should be hidden, it is ${type.status}`);

  // a seat-mapped type with a map of two sections, previewed before it is saved
  const add = page.locator('#ticket-type-form');
  await add.getByLabel('Name').fill('Reserved');
  await add.getByLabel('Price').fill('40');
  await add.getByLabel('Seat-mapped').check();
  await add.getByRole('button', { name: 'Add ticket type' }).click();
  const map = page.locator('section[data-seat-map]');
  await expectVisible(page, map, 'the seat map editor');
  const sections = map.locator('fieldset.section');
  await sections.nth(0).getByLabel('Section', { exact: true }).fill('Terrace');
  await sections.nth(0).getByLabel(/^Rows/).fill('A-C');
  await sections.nth(0).getByLabel('Seats per row').fill('10');
  await map.getByRole('button', { name: 'Add a section' }).click();
  await sections.nth(1).getByLabel('Section', { exact: true }).fill('Bar');
  await sections.nth(1).getByLabel(/^Rows/).fill('AA, BB');
  await sections.nth(1).getByLabel('Seats per row').fill('8');
  await expectText(page, 'Preview: 46 seats');
  await shot(page, 'seat-map-preview');
  await map.getByRole('button', { name: 'Create seat map' }).click();
  await expectVisible(page, 'section[data-seat-map] > svg.seatmap', 'the saved seat map');
  await expect(page, (await seatCount(page)) === 46, `the map should have 3 x 10 + 2 x 8 = 46 seats, it has ${await seatCount(page)}`);
  const reserved = (await read()).ticket_types.find((t) => t.name === 'Reserved');
  const seatsPath = `/v1/admin/events/${event.id}/ticket_types/${reserved.id}/seats`;
  let { seats } = await apiExpect(200, 'GET', seatsPath, { token });
  await expect(page, seats.length === 46 && new Set(seats.map((s) => s.section)).size === 2 && reserved.number_seats === 46,
    `the API should have 46 seats in 2 sections as the capacity, it has ${seats.length} (capacity ${reserved.number_seats})`);
  await shot(page, 'seat-map-saved');

  // the editor starts from the saved map: drop the bar, widen the terrace, replace
  await expect(page, (await sections.count()) === 2, 'the editor should start with the two saved sections');
  await expect(page, (await sections.nth(0).getByLabel(/^Rows/).inputValue()) === 'A-C', 'the saved rows should read A-C');
  await sections.nth(1).getByRole('button', { name: 'Remove this section' }).click();
  await sections.nth(0).getByLabel('Seats per row').fill('12');
  await map.getByRole('button', { name: 'Replace seat map' }).click();
  // (the preview says "Preview: 36 seats" before the save; the saved map's count stands alone)
  await expectVisible(page, map.getByText('36 seats', { exact: true }), 'the replaced map');
  ({ seats } = await apiExpect(200, 'GET', seatsPath, { token }));
  await expect(page, seats.length === 36, `the replaced map should have 36 seats, the API has ${seats.length}`);

  // without its seats the type cannot be published: the page says why
  await map.getByRole('button', { name: 'Delete seat map' }).click();
  await expectVisible(page, map.getByText('No seats yet.'), 'the deleted seat map');
  const buttons = (await map.locator('form > .actions').last().innerText()).trim();
  await expect(page, buttons === 'Create seat map', `without seats the map offers only "Create seat map", it shows ${JSON.stringify(buttons)}`);
  await page.getByRole('button', { name: 'Publish' }).click();
  await expectVisible(page, page.locator('[role=alert]', { hasText: 'has no seats yet' }), 'the refused publish, in words');
  await shot(page, 'publish-refused');

  // remove the hidden type, then the draft itself
  await page.getByRole('button', { name: 'Remove General' }).click();
  await expectCount(page, '#ticket-types tbody tr', 1, 'ticket types left after the removal (only Reserved)');
  await expectVisible(page, `#ticket-types tr[data-type="${reserved.id}"]`, 'Reserved, left in the table');
  await expect(page, (await read()).ticket_types.length === 1, 'the API should have one ticket type left');
  await page.getByRole('button', { name: 'Delete event' }).click();
  await page.waitForURL(`${BASE_URL}/organizer`);
  await expectText(page, 'Your events');
  await expect(page, (await page.getByRole('link', { name: NAME }).count()) === 0, 'the deleted event should be gone from the list');
  const gone = await api('GET', `/v1/admin/events/${event.id}`, { token });
  await expect(page, gone.status === 404, `the deleted event should answer 404, it answers ${gone.status}`);
  await shot(page, 'deleted');
});
