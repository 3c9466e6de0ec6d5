// 00_smoke.mjs - the harness itself: chromium starts, a page renders, axe runs, a failed check
// is reported as failed (SOUK_SMOKE_URL: a page that renders an <h1>).
import { session } from './lib/browser.mjs';

await session(async (t) => {
  await t.step('the page renders', async () => {
    await t.page.goto(process.env.SOUK_SMOKE_URL);
    t.is(await t.page.locator('h1').first().textContent(), process.env.SOUK_SMOKE_H1, 'the heading is rendered by the script');
  });
  await t.axe('smoke page');
});
