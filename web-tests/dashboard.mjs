// An organizer runs an event from the editor to the door: creates it in the site in its venue's
// time zone (guessed from the city, in a browser that is in UTC) asking a name for each ticket,
// is refused a zone nobody knows and a publish without tickets, uploads an image (a file too
// large and one that is not what it says refused at the field), sells a seat-mapped type; a buyer
// books two seats with a name each through the API and pays; the dashboard shows the sale live
// (figures, a chart with bars, "0 / 2 in"); one ticket is checked in by its short code at the
// desk ("Checked in: Stalls A1, Ada Lovelace", then "Already checked in at 4:05 AM MST"), the
// dashboard says "1 / 2 in"; the other is read by the camera (a fake BarcodeDetector and camera
// injected into the page), which is stopped, and stops on leaving the page; the attendee list
// shows the names and short codes, the CSV is downloaded and parsed, and the published event's
// delete is refused in words with its Cancel button next.
import fs from 'node:fs';
import {
  BASE_URL, ORGANIZER, api, apiExpect, expect, expectCount, expectText, expectVisible, log, login, run, shot,
} from './lib.mjs';

const NAME = `Mountain Sessions ${Date.now()}`;
const NAMES = ['Ada Lovelace', 'Alan Turing'];
// a 32 x 14 PNG in the site's purple
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAACAAAAAOCAIAAADBvonlAAAAG0lEQVR42mOItjlCU8QwasGoBaMWjFowEiwAAE6kX190bR2dAAAAAElFTkSuQmCC', 'base64');

/**
 * In every page of the context: a BarcodeDetector that "sees" `window.__scan` (set by the
 * scenario) and counts its looks, and a camera that is a grey canvas whose stream the scenario
 * can check was stopped. Headless Chromium has neither a QR reader nor a camera.
 */
function fakeCamera() {
  window.__scan = null;
  window.__looks = 0;
  window.BarcodeDetector = class {
    static async getSupportedFormats() { return ['qr_code']; }
    constructor(options) { window.__formats = options?.formats; }
    async detect(source) {
      window.__looks += 1;
      if (!(source instanceof HTMLVideoElement) || !source.srcObject) throw new Error('no video to look at');
      return window.__scan ? [{ rawValue: window.__scan, format: 'qr_code', boundingBox: new DOMRect(0, 0, 10, 10), cornerPoints: [] }] : [];
    }
  };
  const getUserMedia = async (constraints) => {
    if (!constraints?.video) throw new DOMException('no video asked', 'TypeError');
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    const g = canvas.getContext('2d');
    g.fillStyle = '#888';
    g.fillRect(0, 0, 320, 240);
    window.__stream = canvas.captureStream(5);
    return window.__stream;
  };
  if (navigator.mediaDevices) navigator.mediaDevices.getUserMedia = getUserMedia;
  else Object.defineProperty(navigator, 'mediaDevices', { value: { getUserMedia }, configurable: true });
}

/** A tiny RFC 4180 reader: rows of fields, quotes and doubled quotes understood. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

const title = (page) => page.evaluate(() => document.title);

async function expectTitle(page, wanted) {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    if ((await title(page)) === wanted) return;
    await page.waitForTimeout(100);
  }
  await expect(page, false, `the page should be titled ${JSON.stringify(wanted)}, it is ${JSON.stringify(await title(page))}`);
}

/** A buyer holds two seats through the API, names each ticket, pays in the sandbox; answers the tickets. */
async function buyTwoNamed(eventId, typeId) {
  const email = `named-${Date.now()}@example.com`;
  await apiExpect(201, 'POST', '/v1/auths/register', { body: { email, password: 'correct horse battery' } });
  const token = await login(email, 'correct horse battery');
  const booking = await apiExpect(201, 'POST', '/v1/bookings/hold', { token, body: { event_id: eventId, ticket_type_id: typeId, qty: 2 } });
  const unnamed = await api('POST', `/v1/bookings/${booking.id}/information`, { token, body: { email } });
  if (unnamed.status !== 422) throw new Error(`information without the names should be refused (422), it answered ${unnamed.status}`);
  await apiExpect(200, 'POST', `/v1/bookings/${booking.id}/information`, { token, body: { email, attendees: NAMES } });
  const paying = await apiExpect(200, 'POST', `/v1/bookings/${booking.id}/checkout`, { token, body: { payment_method: 'card' } });
  const pay = await fetch(`${BASE_URL}/sandbox/pay/${paying.payment.payment_code}`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'outcome=pay' });
  if (pay.status !== 303) throw new Error(`the sandbox answered ${pay.status} to pay`);
  for (let deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const tickets = await api('GET', '/v1/tickets', { token });
    if (tickets.body?.data?.length === 2) return tickets.body.data.sort((a, b) => a.admission_no - b.admission_no);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('two tickets were not issued within 30 s of the payment');
}

await run(async ({ context, page }) => {
  await context.addInitScript(fakeCamera);
  page.on('dialog', (dialog) => dialog.accept());
  const token = await login(ORGANIZER.email, ORGANIZER.password);
  // after logging in, every page is reached by the site's own links, in one document, as people
  // move (Chromium keeps a page left by a full load in its back/forward cache with its
  // notification stream open: six of those take every connection to the server)
  const openDashboard = async () => {
    await page.getByRole('link', { name: 'Organizer', exact: true }).click();
    await page.getByRole('link', { name: `Sales dashboard of ${NAME}` }).click();
    await page.waitForURL((url) => url.pathname.endsWith('/sales'));
  };

  // ---- the event, in the venue's time zone, from a browser in UTC ----
  await page.goto(`${BASE_URL}/login?next=${encodeURIComponent('/organizer/events/new')}`);
  await page.getByLabel('Email').fill(ORGANIZER.email);
  await page.getByLabel('Password').fill(ORGANIZER.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((url) => url.pathname === '/organizer/events/new');
  await expectTitle(page, 'New event · boxoffice');
  const zone = page.getByLabel('Time zone');
  await expect(page, (await zone.inputValue()) === 'UTC', `a venue not typed yet gives the browser's own zone (UTC), the field has ${await zone.inputValue()}`);
  await page.getByLabel('Name', { exact: true }).fill(NAME);
  await page.getByLabel('Description').fill('Strings under the stars.');
  await page.getByLabel('Category').selectOption('concert');
  await page.getByLabel('Venue and city').fill('Red Rocks Amphitheatre, Denver');
  await expect(page, (await zone.inputValue()) === 'America/Denver', `the venue's city should set the zone, the field has ${await zone.inputValue()}`);
  await page.getByLabel('Starts').fill('2027-07-10T19:00');
  await page.getByLabel('Ends').fill('2027-07-10T22:30');
  await expectText(page, 'Times are in America/Denver (MDT).');
  await page.getByLabel('Ask for a name on each ticket').check();
  // a zone nobody knows is refused at its field, before anything is sent
  await zone.fill('Mars/Olympus');
  await page.getByRole('button', { name: 'Create event' }).click();
  const zoneRefused = await expectVisible(page, '#f-time_zone ~ .field-error[role=alert]', 'the unknown zone refused at its field');
  await expect(page, /Mars\/Olympus.*not a time zone/.test(await zoneRefused.innerText()), `the field should say why: ${await zoneRefused.innerText()}`);
  await shot(page, 'zone-refused');
  await zone.fill('America/Denver');
  await shot(page, 'new-event');
  await page.getByRole('button', { name: 'Create event' }).click();
  await expectVisible(page, '#event-status:text("draft")', 'the draft event');
  const eventId = new URL(page.url()).pathname.split('/').pop();
  log(`event ${eventId}`);
  let saved = await apiExpect(200, 'GET', `/v1/admin/events/${eventId}`, { token });
  await expect(page, saved.time_zone === 'America/Denver' && saved.attendee_names === true && saved.start_at.startsWith('2027-07-11T01:00') && saved.end_at.startsWith('2027-07-11T04:30'),
    `7:00 PM in Denver is 01:00 UTC the next day; the API has ${JSON.stringify({ zone: saved.time_zone, names: saved.attendee_names, start: saved.start_at, end: saved.end_at })}`);
  await expectTitle(page, `Edit: ${NAME} · boxoffice`);
  const details = page.locator('#event-form');
  await expect(page, (await details.getByLabel('Starts').inputValue()) === '2027-07-10T19:00', `the editor reads the start on Denver's clocks: ${await details.getByLabel('Starts').inputValue()}`);

  // ---- a publish without tickets is refused in words ----
  await page.getByRole('button', { name: 'Publish' }).click();
  const noTypes = await expectVisible(page, page.locator('[role=alert]', { hasText: 'before publishing' }), 'the refused publish');
  await expect(page, (await noTypes.innerText()).trim() === 'Add a ticket type that is on sale before publishing.', `the refusal in words: ${await noTypes.innerText()}`);

  // ---- the image: too large, not what it says, then a real PNG ----
  const upload = page.getByLabel('Upload image');
  const refusal = page.locator('#image-form .field-error[role=alert]');
  await upload.setInputFiles({ name: 'poster.png', mimeType: 'image/png', buffer: Buffer.alloc(2 * 1024 * 1024 + 1, 1) });
  await expectVisible(page, refusal.filter({ hasText: 'poster.png is 2.0 MB; an image may be at most 2 MB' }), 'the too-large file refused at the field');
  await upload.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') });
  await expectVisible(page, refusal.filter({ hasText: 'notes.txt is not a PNG, JPEG, WebP or GIF image' }), 'the text file refused at the field');
  // a file that calls itself a PNG is refused by the server, and said at the field
  await upload.setInputFiles({ name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('this is no PNG at all, only words') });
  const serverRefusal = await expectVisible(page, refusal.filter({ hasText: /not a PNG image|could not be read as a PNG image/ }), "the server's refusal of a false PNG at the field");
  await expect(page, !/image\/png|Content-Type|422/.test(await serverRefusal.innerText()), `the refusal in words: ${await serverRefusal.innerText()}`);
  await expect(page, (await upload.getAttribute('aria-invalid')) === 'true', 'the file field should be marked invalid');
  await shot(page, 'image-refused');
  await upload.setInputFiles({ name: 'banner.png', mimeType: 'image/png', buffer: PNG });
  await expectText(page, 'Image uploaded.');
  await expect(page, (await refusal.count()) === 0, 'the refusal should be gone once an image is taken');
  const preview = await expectVisible(page, '#banner-preview', 'the preview of the uploaded image');
  const src = await preview.getAttribute('src');
  await expect(page, new RegExp(`/v1/events/${eventId}/image\\?v=`).test(src), `the preview shows the image at its new URL: ${src}`);
  await expect(page, await preview.evaluate(async (img) => { await img.decode(); return img.naturalWidth === 32; }), 'the preview should load the 32 px wide PNG');
  await expect(page, (await details.getByLabel(/^Banner image URL/).inputValue()) === src, 'the banner URL field follows the upload');
  saved = await apiExpect(200, 'GET', `/v1/admin/events/${eventId}`, { token });
  await expect(page, saved.banner === src, `the API's banner should be the preview's: ${saved.banner}`);
  const served = await fetch(new URL(new URL(src).pathname + new URL(src).search, BASE_URL));
  const bytes = Buffer.from(await served.arrayBuffer());
  await expect(page, served.status === 200 && served.headers.get('content-type') === 'image/png' && /max-age=\d+/.test(served.headers.get('cache-control') || '') && bytes.equals(PNG),
    `the image should be served as it was sent, with caching: ${served.status} ${served.headers.get('content-type')} ${served.headers.get('cache-control')} (${bytes.length} bytes)`);
  await shot(page, 'image-uploaded');
  // removed, then put back for the event page
  await page.getByRole('button', { name: 'Remove image' }).click();
  await expectText(page, 'Image removed.');
  await expectText(page, 'No image yet: buyers see a plain banner.');
  await expect(page, (await apiExpect(200, 'GET', `/v1/admin/events/${eventId}`, { token })).banner === null, 'the API should have no banner after Remove image');
  await upload.setInputFiles({ name: 'banner.png', mimeType: 'image/png', buffer: PNG });
  await expectText(page, 'Image uploaded.');
  const banner = await (await expectVisible(page, '#banner-preview', 'the image again')).getAttribute('src');
  // a save of the details keeps the uploaded image (its URL is the server's, sent only if edited)
  await details.getByLabel('Title (a line under the name)').fill('A summer night');
  await details.getByRole('button', { name: 'Save changes' }).click();
  await expectText(page, 'Saved.');
  saved = await apiExpect(200, 'GET', `/v1/admin/events/${eventId}`, { token });
  await expect(page, saved.banner === banner && saved.title === 'A summer night', `the save keeps the image: ${saved.banner}`);

  // ---- a seat-mapped type and its map, then published ----
  const types = page.locator('#ticket-type-form');
  await types.getByLabel('Name').fill('Stalls');
  await types.getByLabel('Price').fill('45');
  await types.getByLabel('Seat-mapped').check();
  await types.getByRole('button', { name: 'Add ticket type' }).click();
  const map = page.locator('section[data-seat-map]');
  await expectVisible(page, map, 'the seat map editor');
  await map.getByLabel(/^Rows/).fill('A-B');
  await map.getByRole('button', { name: 'Create seat map' }).click();
  await expectVisible(page, 'section[data-seat-map] > svg.seatmap', 'the saved seat map');
  await page.getByRole('button', { name: 'Publish' }).click();
  await expectVisible(page, '#event-status:text("published")', 'the published event');
  const [type] = (await apiExpect(200, 'GET', `/v1/events/${eventId}`)).ticket_types;
  await expect(page, type?.number_seats === 20, `Stalls should have 2 x 10 seats: ${JSON.stringify(type)}`);
  // the public page shows the uploaded banner
  await page.getByRole('link', { name: 'See the public page' }).click();
  await page.waitForURL((url) => url.pathname === `/events/${eventId}`);
  const hero = await expectVisible(page, 'main img.hero', 'the banner on the event page');
  await expect(page, (await hero.getAttribute('src')) === banner, `the event page shows the uploaded image: ${await hero.getAttribute('src')}`);

  // ---- the dashboard, open while the buyer pays ----
  await openDashboard();
  await expectTitle(page, `Dashboard: ${NAME} · boxoffice`);
  await expectVisible(page, '#sold-total:text-is("0 of 20")', 'nothing sold yet');
  await expectVisible(page, '#checkins:text-is("0 / 0 in")', 'nobody in yet');
  await expectVisible(page, '#chart-empty', 'no chart before the first sale');
  await expectText(page, /Jul 10, 2027.*7:00\s?PM MDT/);
  const tickets = await buyTwoNamed(eventId, type.id);
  const seatOf = (t) => `${t.seat.section} ${t.seat.row}${t.seat.label}`;
  log(`tickets ${tickets.map((t) => `${t.short_code} ${seatOf(t)} ${t.attendee_name}`).join('; ')}`);
  await expect(page, tickets.map((t) => t.attendee_name).join() === NAMES.join() && tickets.every((t) => /^[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(t.short_code || '')),
    `each ticket carries its name and a short code: ${JSON.stringify(tickets.map((t) => [t.attendee_name, t.short_code]))}`);
  await expectVisible(page, '#sold-total:text-is("2 of 20")', 'the sale, live on the dashboard', { timeout: 10_000 });
  await expectVisible(page, '#revenue:text-is("$90.00")', 'the revenue');
  await expectVisible(page, '#checkins:text-is("0 / 2 in")', 'two tickets issued, none in');
  const chart = await expectVisible(page, 'svg.chart[role=img]', 'the chart of sales over time');
  await expect(page, (await page.locator('svg.chart rect.bar').count()) >= 1, 'the chart should have a bar');
  const summary = await chart.locator('title').first().textContent();
  await expect(page, /^Tickets sold by the hour: 2 tickets(, all in the hour of| from) .*MST/.test(summary), `the chart's summary: ${summary}`);
  const tableRows = await page.locator('#chart-table tbody tr').allTextContents();
  await expect(page, tableRows.length === 1 && /MST2\$90\.00$/.test(tableRows[0].trim()), `the screen readers' table has the hour's 2 tickets and $90.00: ${JSON.stringify(tableRows)}`);
  await shot(page, 'dashboard-sold');

  // ---- the desk: a short code typed, then again ----
  const [ada, alan] = tickets;
  await page.getByRole('link', { name: 'Check-in desk' }).click();
  await page.waitForURL((url) => url.pathname === '/organizer/checkin');
  await expectTitle(page, 'Check-in · boxoffice');
  await page.getByLabel(/^Ticket code/).fill(ada.short_code.toLowerCase().replace('-', ''));
  await page.getByRole('button', { name: 'Check in' }).click();
  const valid = await expectVisible(page, '.verdict.valid', 'the valid verdict');
  await expect(page, (await valid.innerText()).trim() === `✔ Checked in: ${seatOf(ada)}, Ada Lovelace`, `the verdict in words: ${await valid.innerText()}`);
  await shot(page, 'checkin-typed');
  await page.getByLabel(/^Ticket code/).fill(ada.short_code);
  await page.getByRole('button', { name: 'Check in' }).click();
  const used = await expectVisible(page, '.verdict.used', 'the already-used verdict');
  await expect(page, /^⚠ Already checked in at \d{1,2}:\d\d\s?[AP]M MST$/.test((await used.innerText()).trim()), `when, in the event's zone and in words: ${await used.innerText()}`);
  await expect(page, !/\d{4}-\d\d-\d\dT/.test(await page.locator('#verdict').innerText()), 'no ISO time on the desk');
  await page.getByLabel(/^Ticket code/).fill('ZZZZ-ZZZZ');
  await page.getByRole('button', { name: 'Check in' }).click();
  await expectVisible(page, '.verdict.invalid', 'an unknown code refused');
  await shot(page, 'checkin-used');

  await openDashboard();
  await expectVisible(page, '#checkins:text-is("1 / 2 in")', 'one of two in, on the dashboard');

  // ---- the camera reads the other ticket's QR ----
  await page.getByRole('link', { name: 'Check-in desk' }).click();
  await page.getByRole('button', { name: 'Scan with camera' }).click();
  await expectVisible(page, 'video.scanner', 'the camera preview');
  // the detector is made once the camera's stream plays, which may follow the preview
  await page.waitForFunction(() => window.__formats !== undefined, null, { timeout: 15_000 }).catch(() => {});
  await expect(page, JSON.stringify(await page.evaluate(() => window.__formats)) === '["qr_code"]', 'the detector should look for QR codes');
  await page.evaluate((code) => { window.__scan = code; }, alan.code);
  const scanned = await expectVisible(page, '.verdict.valid', 'the scanned ticket checked in');
  await expect(page, (await scanned.innerText()).trim() === `✔ Checked in: ${seatOf(alan)}, Alan Turing`, `the scanned verdict: ${await scanned.innerText()}`);
  // the code stays in view: looked at again and again, it is not checked in again
  const looks = await page.evaluate(() => window.__looks);
  await page.waitForFunction((n) => window.__looks >= n + 5, looks);
  await expect(page, (await page.locator('.verdict.valid').count()) === 1 && (await page.locator('.verdict.used').count()) === 0, 'a code held up is checked in once');
  await shot(page, 'checkin-camera');
  await page.evaluate(() => { window.__scan = null; });
  await page.getByRole('button', { name: 'Stop camera' }).click();
  await expectCount(page, 'video.scanner:visible', 0, 'camera previews after Stop');
  await expect(page, await page.evaluate(() => window.__stream.getTracks().every((t) => t.readyState === 'ended')), 'Stop camera should stop the camera');
  // started again and left by a link: the camera goes off with the page
  await page.getByRole('button', { name: 'Scan with camera' }).click();
  await expectVisible(page, 'video.scanner', 'the camera preview again');
  await page.getByRole('link', { name: 'Organizer' }).click();
  await page.waitForURL((url) => url.pathname === '/organizer');
  await page.waitForFunction(() => window.__stream.getTracks().every((t) => t.readyState === 'ended'));

  await openDashboard();
  await expectVisible(page, '#checkins:text-is("2 / 2 in")', 'both in, on the dashboard');
  await shot(page, 'dashboard-in');

  // ---- the attendee list and its CSV ----
  await page.getByRole('link', { name: 'Attendees' }).click();
  await page.waitForURL((url) => url.pathname === `/organizer/events/${eventId}/attendees`);
  await expectTitle(page, `Attendees: ${NAME} · boxoffice`);
  for (const t of tickets) {
    const row = page.locator(`#attendees tr[data-ticket="${t.id}"]`);
    await expectVisible(page, row.locator(`td.attendee-name:text-is("${t.attendee_name}")`), `${t.attendee_name} in the attendee list`);
    await expectVisible(page, row.locator('td.short-code code').filter({ hasText: new RegExp(`^${t.short_code}$`) }), `${t.attendee_name}'s short code`);
  }
  await shot(page, 'attendees');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  const rows = parseCsv(await fs.promises.readFile(await download.path(), 'utf8'));
  const [header, ...lines] = rows;
  const col = (name) => header.indexOf(name);
  await expect(page, col('attendee_name') >= 0 && col('seat') >= 0 && col('status') >= 0, `the CSV's header names the columns: ${header}`);
  await expect(page, lines.length === 2, `the CSV has a line per ticket: ${JSON.stringify(lines)}`);
  const adaLine = lines.find((l) => l[col('attendee_name')] === 'Ada Lovelace');
  await expect(page, adaLine && adaLine[col('seat')] === seatOf(ada) && adaLine[col('status')] === 'checked_in', `Ada's line has her seat, checked in: ${JSON.stringify(adaLine)}`);

  // ---- a published event with sales is not deleted: cancelling it is the way ----
  await page.getByRole('link', { name: 'Sales dashboard' }).click();
  await page.getByRole('link', { name: 'Edit', exact: true }).click();
  await expectVisible(page, '#event-status:text("published")', 'the editor');
  await page.getByRole('button', { name: 'Delete event' }).click();
  const kept = await expectVisible(page, page.locator('[role=alert]', { hasText: "can't be deleted" }), 'the refused delete');
  await expect(page, (await kept.innerText()).trim() === "A published event can't be deleted; cancel it instead.", `the refusal in words: ${await kept.innerText()}`);
  await expect(page, await page.getByRole('button', { name: 'Cancel event' }).evaluate((b) => b === document.activeElement), 'the Cancel button is next');
  await shot(page, 'delete-refused');
});
