// The harness's own check: the site's home page renders in the browser and the server is healthy.
import { BASE_URL, api, expect, expectVisible, log, run, shot } from './lib.mjs';

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

  const health = await api('GET', '/healthz');
  await expect(
    page,
    health.status === 200 && health.body?.status === 'ok',
    `GET /healthz answered ${health.status} ${JSON.stringify(health.body)}`,
  );
});
