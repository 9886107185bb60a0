// The harness's own check: the site's home page renders in the browser, titled, each page the
// router draws titled anew, and the server is healthy; an address nothing answers is the site's
// own "page not found" with a 404, not JSON, from which a search finds events.
import { BASE_URL, allowConsoleError, api, expect, expectVisible, log, run, shot } from './lib.mjs';

await run(async ({ page }) => {
  const response = await page.goto(`${BASE_URL}/`);
  await expect(
    page,
    response?.ok(),
    `GET / answered ${response?.status()} ${response?.headers()['content-type'] ?? ''}, expected the home page`,
  );
  const title = await expectVisible(page, 'main h1', 'the home page heading (main h1)');
  log(`home page heading: ${JSON.stringify((await title.innerText()).trim())}`);
  await shot(page, 'home');
  await expect(page, (await page.title()) === 'Events · boxoffice', `the home page's title: ${await page.title()}`);
  // the router names each page it draws, without a reload
  await page.locator('#nav').getByRole('link', { name: 'Log in' }).click();
  await page.waitForURL((url) => url.pathname === '/login');
  await expectVisible(page, 'main h1:text("Log in")', 'the log in page');
  await expect(page, (await page.title()) === 'Log in · boxoffice', `the log in page's title: ${await page.title()}`);

  for (const address of ['/events/', '/no/such/page']) {
    // the browser logs the 404 this step asks for
    allowConsoleError(`${BASE_URL}${address}`);
    const missing = await page.goto(`${BASE_URL}${address}`);
    await expect(page, missing?.status() === 404, `GET ${address} answered ${missing?.status()}, expected 404`);
    await expectVisible(page, 'main h1:text("Page not found")', `the site's page not found at ${address}`);
    await expectVisible(page, 'main a[href="/"]', 'a way back to the events');
    await expect(page, (await page.title()) === 'Page not found · boxoffice', `the title at ${address}: ${await page.title()}`);
    await shot(page, `not-found${address.replace(/\//g, '-')}`);
  }
  // and a search from there
  await page.getByLabel('Search the events').fill('jazz night');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL((url) => url.pathname === '/' && url.searchParams.get('q') === 'jazz night');
  await expectVisible(page, 'main h1:text("Find your next event")', 'the events found');
  await expect(page, (await page.getByLabel('What').inputValue()) === 'jazz night', 'the search keeps its words');
  await expect(page, (await page.title()) === 'Events · boxoffice', `the title after the search: ${await page.title()}`);

  const health = await api('GET', '/healthz');
  await expect(
    page,
    health.status === 200 && health.body?.status === 'ok',
    `GET /healthz answered ${health.status} ${JSON.stringify(health.body)}`,
  );
});
