// browser.mjs - what every browser test script (web/t/*.mjs) shares: Debian's chromium driven by
// playwright-core (headless, no download: SOUK_CHROMIUM or /usr/bin/chromium), results as JSON
// lines that tests/lib/Souk/Browser.pm turns into TAP, axe-core's accessibility check, and
// screenshots. A script exports nothing; it calls `session(async (t) => { ... })`.
//
//   t.page                 the page (a fresh context: no cookies, 1280x900)
//   t.ok(cond, name, diag) one check; t.is(got, want, name)
//   t.until(name, read, cond, diag)
//                          one check on what the page shows once it has settled: read() again
//                          (every 100 ms, up to SOUK_BROWSER_SETTLE_MS, 20 s) until cond(value)
//                          holds, then the check is cond on the last value. The page answers
//                          asynchronously, so a value read once may still be the previous
//                          render's (a list before its new fetch, focus before an effect ran)
//   t.step(name, fn)       a named step: a throw inside it is one failed check with the step's
//                          name and the error, and the script goes on to the end of the session
//   t.axe(name)            axe-core on the page as it is: a failed check per serious or critical
//                          violation (rule, impact, the first nodes' selectors)
//   t.shot(name)           a PNG in SOUK_SCREENSHOT_DIR (docs/screenshots when it is set so,
//                          else the test's temp dir)
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

function emit(o) {
  process.stdout.write(JSON.stringify(o) + '\n');
}

export async function session(body) {
  const browser = await chromium.launch({
    executablePath: process.env.SOUK_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // root in CI: chromium's sandbox needs a user namespace it is not given there
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(Number(process.env.SOUK_BROWSER_TIMEOUT_MS || 10000));
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const t = {
    page,
    context,
    browser,
    ok(cond, name, diag) {
      emit({ ok: !!cond, name, diag: cond ? undefined : diag });
      return !!cond;
    },
    is(got, want, name) {
      return t.ok(got === want, name, `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    },
    async until(name, read, cond, diag = (v) => JSON.stringify(v)) {
      const end = Date.now() + Number(process.env.SOUK_BROWSER_SETTLE_MS || 20000);
      let v = await read();
      while (!cond(v) && Date.now() < end) {
        await page.waitForTimeout(100);
        v = await read();
      }
      return t.ok(cond(v), name, diag(v));
    },
    async step(name, fn) {
      try {
        await fn();
      } catch (e) {
        emit({ ok: false, name, diag: String(e && e.stack ? e.stack : e) });
        try {
          await t.shot(`failed-${name.replace(/[^a-z0-9]+/gi, '-')}`);
        } catch {}
      }
    },
    async axe(name) {
      // Evaluated through the DevTools protocol, not injected as a <script>: a page whose
      // Content-Security-Policy allows only its own scripts (the gateway's) refuses inline ones.
      await page.evaluate(AXE);
      const r = await page.evaluate(async () =>
        // eslint-disable-next-line no-undef
        (await axe.run(document, { resultTypes: ['violations'] })).violations.map((v) => ({
          id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
        })));
      const bad = r.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      t.ok(bad.length === 0, `axe: ${name}: no serious or critical violation`, JSON.stringify(bad, null, 1));
      return r;
    },
    async shot(name) {
      const dir = process.env.SOUK_SCREENSHOT_DIR;
      if (!dir) return;
      await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false });
    },
  };
  try {
    await body(t);
  } catch (e) {
    emit({ ok: false, name: 'the script ran to its end', diag: String(e && e.stack ? e.stack : e) });
  } finally {
    emit({ ok: errors.length === 0, name: 'no uncaught error in the page', diag: errors.join('\n') });
    await browser.close();
  }
}
