// console.mjs - the operator's journey through the control room (web/t/62_console.t starts a
// gateway on two fake upstreams that answer the same product differently): sign in with the
// admin token, switch products to shadow, see the recorded diff side by side, canary 10 %,
// move it back to legacy; the error rates per side after an automatic rollback; new, with the
// catalog server's breaker shown open after its 503s; a hold set and
// ended through the dialog and its time under Cutover holds; the Migration panel's next-step
// buttons (to shadow and back); axe on every panel and the dialog; screenshots of the main pages.
// Inputs: CONSOLE_URL, ADMIN_URL, ADMIN_TOKEN, PUBLIC_URL.
import { session } from './lib/browser.mjs';

const { CONSOLE_URL, ADMIN_URL, ADMIN_TOKEN, PUBLIC_URL } = process.env;

async function adminGet(path) {
  const r = await fetch(ADMIN_URL + path, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  return r.json();
}
const route = async (name) => (await adminGet('/routes')).routes.find((r) => r.name === name);

// Reads of a product through the public listener, each a new anonymous client.
async function traffic(n, id = 1) {
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${PUBLIC_URL}/api/v1/products/${id}`);
    await r.arrayBuffer();
  }
}

// Change a route's mode through the dialog: choose, review, confirm.
async function changeMode(t, name, mode, pct) {
  const p = t.page;
  await p.getByRole('button', { name: `Change mode of ${name}` }).click();
  const d = p.locator('dialog#mode-dialog');
  await d.waitFor({ state: 'visible' });
  await d.getByLabel(mode, { exact: true }).check();
  if (pct !== undefined) await d.getByLabel(/Canary share/).fill(String(pct));
  await d.getByRole('button', { name: 'Review change' }).click();
  return d;
}

await session(async (t) => {
  const p = t.page;
  await t.step('the token is asked for, and a wrong one refused', async () => {
    await p.goto(CONSOLE_URL);
    await p.getByLabel('Token').waitFor();
    await t.axe('token form');
    await p.getByLabel('Token').fill('not-the-token');
    await p.getByRole('button', { name: 'Open the control room' }).click();
    await p.getByRole('alert').waitFor();
    t.ok(/not the admin token/.test(await p.getByRole('alert').textContent()), 'a wrong token is refused with a reason');
    await p.getByLabel('Token').fill(ADMIN_TOKEN);
    await p.getByRole('button', { name: 'Open the control room' }).click();
    await p.locator('#routes-table tr[data-route="products"]').waitFor();
    t.ok(true, 'the right token opens the Routes panel');
  });

  await t.step('the Routes panel shows modes, upstreams, rates and a chart', async () => {
    const row = p.locator('#routes-table tr[data-route="products"]');
    t.ok(/legacy/.test(await row.locator('td.mode').textContent()), 'products starts in legacy');
    t.ok(/up/.test(await row.textContent()), 'its upstreams are shown with their health');
    const shop = p.locator('#routes-table tr[data-route="shop"]');
    t.ok(/pages: storefront/.test(await shop.locator('td.mode').textContent()), 'a static route shows its pages');
    t.is(await shop.getByRole('button', { name: /Change mode/ }).count(), 0, 'and has no mode to change');
    await t.axe('routes panel');
  });

  await t.step('switch products to shadow, with a confirmation step', async () => {
    const d = await changeMode(t, 'products', 'shadow');
    const text = await d.locator('.confirm-text').textContent();
    t.ok(/from legacy to shadow/.test(text), 'the confirmation says what changes', text);
    t.is((await route('products')).mode, 'legacy', 'nothing changed before Confirm');
    // The dialog focuses Confirm in an effect, a frame after the review step is drawn.
    await t.until('the review step puts the focus on Confirm',
      () => d.getByRole('button', { name: 'Confirm' }).evaluate((b) => b === document.activeElement), (v) => v);
    await t.axe('mode dialog');
    await d.getByRole('button', { name: 'Confirm' }).click();
    await d.waitFor({ state: 'hidden' });
    await p.locator('#routes-table tr[data-route="products"] td.mode', { hasText: 'shadow' }).waitFor();
    t.is((await route('products')).mode, 'shadow', 'the gateway has products in shadow');
    t.ok(await p.getByRole('button', { name: 'Change mode of products' }).evaluate((b) => b === document.activeElement),
      'focus returns to the button that opened the dialog');
  });

  await t.step('the recorded diff, side by side', async () => {
    await traffic(6);
    await p.getByRole('link', { name: 'Shadow' }).click();
    await p.locator('#shadow-table tr[data-route="products"] td.mismatches').filter({ hasText: /^[1-9]/ }).waitFor();
    await p.locator('.samples button').first().click();
    const view = p.locator('#diff-view');
    await view.waitFor();
    const paths = await view.locator('code.path').allTextContents();
    t.ok(paths.includes('/price') && paths.includes('/tags/1'), 'the differing paths are named', JSON.stringify(paths));
    t.ok(!paths.includes('/name'), 'an equal member is not', JSON.stringify(paths));
    const marks = await view.locator('.side').nth(0).locator('mark.diff').allTextContents();
    t.ok(marks.some((m) => /"price": 10/.test(m)), 'the legacy side highlights its price', JSON.stringify(marks));
    const marksNew = await view.locator('.side').nth(1).locator('mark.diff').allTextContents();
    t.ok(marksNew.some((m) => /"price": 11/.test(m)) && marksNew.some((m) => /"b"/.test(m)), 'the new side highlights its price and the extra tag', JSON.stringify(marksNew));
    await t.axe('shadow panel');
    await t.shot('console-shadow');
  });

  await t.step('canary 10 %', async () => {
    await p.getByRole('link', { name: 'Routes' }).click();
    const d = await changeMode(t, 'products', 'canary', 10);
    t.ok(/from shadow to canary 10 %/.test(await d.locator('.confirm-text').textContent()), 'the confirmation names the share');
    await d.getByRole('button', { name: 'Confirm' }).click();
    await d.waitFor({ state: 'hidden' });
    const r = await route('products');
    t.ok(r.mode === 'canary' && r.canary_percent === 10, 'the gateway has products on canary 10 %', JSON.stringify(r));
    await traffic(40);
    await p.getByRole('link', { name: 'Canary' }).click();
    const row = p.locator('#canary-table tr[data-route="products"]');
    await row.waitFor();
    t.ok(/10 %/.test(await row.textContent()), 'the Canary panel shows the split');
    await p.waitForFunction(() => {
      const c = document.querySelector('#canary-table tr[data-route="products"] td:nth-of-type(3)');
      return c && /^\d+ \/ [1-9]/.test(c.textContent);
    });
    t.ok(true, 'and the decisions counted per pool');
    await t.axe('canary panel');
    await t.shot('console-canary');
  });

  await t.step('back to legacy, and the change log', async () => {
    await p.getByRole('link', { name: 'Routes' }).click();
    const d = await changeMode(t, 'products', 'legacy');
    await d.getByRole('button', { name: 'Confirm' }).click();
    await d.waitFor({ state: 'hidden' });
    t.is((await route('products')).mode, 'legacy', 'products is back on legacy');
    await p.locator('#routes-table tr[data-route="products"] td.mode', { hasText: 'legacy' }).waitFor();
    await p.waitForFunction(() => document.querySelectorAll('ol.log li').length >= 3);
    t.ok((await p.locator('ol.log li').count()) >= 3, 'the change log lists the three changes');
    await p.waitForFunction(() => /\d/.test(document.querySelector('#routes-table tr[data-route="products"] td.num').textContent));
    // uPlot draws its canvas in an effect, after the figure is in the page.
    await t.until('the req/s and p99 charts of products are drawn', () => p.locator('figure.chart canvas').count(), (n) => n >= 2);
    await t.shot('console-routes');
  });

  await t.step('an automatic rollback shows on the Canary panel', async () => {
    const d = await changeMode(t, 'products', 'canary', 50);
    await d.getByRole('button', { name: 'Confirm' }).click();
    await d.waitFor({ state: 'hidden' });
    await traffic(80, 'broken'); // the new side answers 500: over the rule's 50 % in 20 requests
    // The rollback is asked for by the failing answers and made on the gateway's control loop
    // (install, fsync): 20 s, not 5 s, for a sanitizer build on a loaded machine.
    await t.until('the gateway rolled products back to legacy', async () => (await route('products')).mode, (m) => m === 'legacy');
    await p.getByRole('link', { name: 'Canary' }).click();
    const log = p.locator('ol.log li', { hasText: 'rollback' });
    await log.first().waitFor();
    t.ok(/products/.test(await log.first().textContent()), 'the rollback is listed with its route');
    // the columns: mode, share, decisions, errors legacy, errors new, rule
    const errNew = p.locator('#canary-table tr[data-route="products"] td:nth-of-type(5)');
    await p.waitForFunction(() => {
      const c = document.querySelector('#canary-table tr[data-route="products"] td:nth-of-type(5)');
      return c && /[1-9]/.test(c.textContent);
    });
    t.ok(true, `the new side's error rate is shown (${(await errNew.textContent()).trim()})`);
    t.ok(/^0(\.0)? ?%$/.test((await p.locator('#canary-table tr[data-route="products"] td:nth-of-type(4)').textContent()).trim()),
      'the legacy side\'s is 0 %');
    t.ok((await p.locator('figure.chart figcaption', { hasText: 'products: error rate per side' }).count()) === 1,
      'the error rates per side are charted');
    await p.getByRole('link', { name: 'Routes' }).click();
    await p.locator('#routes-table tr[data-route="products"] td.mode', { hasText: 'legacy' }).waitFor();
  });

  await t.step('new through the dialog; a tripped breaker shows; back', async () => {
    const d = await changeMode(t, 'products', 'new');
    t.ok(/from legacy to new/.test(await d.locator('.confirm-text').textContent()), 'the confirmation says legacy to new');
    await d.getByRole('button', { name: 'Confirm' }).click();
    await d.waitFor({ state: 'hidden' });
    t.is((await route('products')).mode, 'new', 'the gateway has products on new');
    await traffic(6, 'down'); // the catalog answers 503: five in a row open its breaker
    // the columns: path, mode, legacy upstream, new upstream
    const br = p.locator('#routes-table tr[data-route="products"] td:nth-of-type(4) .bad', { hasText: /breaker/ });
    await br.first().waitFor();
    t.ok(/breaker (open|half_open)/.test(await br.first().textContent()), 'the catalog server\'s breaker is shown open',
      await br.first().textContent());
    const back = await changeMode(t, 'products', 'legacy');
    await back.getByRole('button', { name: 'Confirm' }).click();
    await back.waitFor({ state: 'hidden' });
    t.is((await route('products')).mode, 'legacy', 'and on legacy again');
  });

  await t.step('the form refuses a share over 100 %, and Escape changes nothing', async () => {
    const d = await changeMode(t, 'products', 'canary', 101);
    t.ok(!(await d.getByRole('button', { name: 'Confirm' }).isVisible()), 'no confirmation for 101 %');
    await p.keyboard.press('Escape');
    await d.waitFor({ state: 'hidden' });
    t.is((await route('products')).mode, 'legacy', 'Escape changed nothing');
  });

  await t.step('a hold through the dialog, and its time under Cutover holds', async () => {
    for (const on of [true, false]) {
      await p.getByRole('button', { name: 'Change mode of products' }).click();
      const d = p.locator('dialog#mode-dialog');
      await d.waitFor({ state: 'visible' });
      await d.getByLabel(/Hold writes/).setChecked(on);
      await d.getByRole('button', { name: 'Review change' }).click();
      const to = await d.locator('.confirm-text strong').last().textContent();
      t.is(to, on ? 'legacy, writes held' : 'legacy', `the confirmation says the hold ${on ? 'starts' : 'ends'}`);
      await d.getByRole('button', { name: 'Confirm' }).click();
      await d.waitFor({ state: 'hidden' });
      t.is(!!(await route('products')).hold, on, `the gateway has products ${on ? 'held' : 'no longer held'}`);
    }
    await p.getByRole('link', { name: 'Migration' }).click();
    const held = p.locator('ol.log li', { hasText: 'hold_end' });
    await held.first().waitFor();
    t.ok(/route products: writes held \d+ ms/.test(await held.first().textContent()), 'Cutover holds lists how long products was held',
      await held.first().textContent());
  });

  await t.step('the Migration panel\'s next step, and back', async () => {
    const row = p.locator('#domains-table tr[data-domain="catalog"]');
    await row.getByRole('button', { name: /To shadow/ }).click();
    const d = p.locator('dialog#mode-dialog');
    await d.waitFor({ state: 'visible' });
    t.ok(/Move every route of catalog \(products\) to shadow/.test(await d.textContent()), 'the dialog says what the step changes');
    await d.getByRole('button', { name: 'Confirm' }).click();
    await d.waitFor({ state: 'hidden' });
    t.is((await route('products')).mode, 'shadow', 'the gateway has the catalog domain in shadow');
    await row.getByRole('button', { name: /To canary 10 %/ }).waitFor();
    t.ok(true, 'the next step offered is canary 10 %');
    await row.getByRole('button', { name: /Back to legacy/ }).click();
    await d.waitFor({ state: 'visible' });
    await d.getByRole('button', { name: 'Confirm' }).click();
    await d.waitFor({ state: 'hidden' });
    t.is((await route('products')).mode, 'legacy', 'and back to legacy');
  });

  await t.step('the Migration and Sagas panels', async () => {
    await p.getByRole('link', { name: 'Migration' }).click();
    await p.locator('#domains-table tr[data-domain="catalog"]').waitFor();
    t.ok(/To shadow/.test(await p.locator('#domains-table tr[data-domain="catalog"]').textContent()), 'the next step is offered');
    const sync = p.locator('#sync-table tr[data-domain="catalog"]');
    await sync.filter({ hasText: '3 s' }).waitFor();
    t.ok(/up/.test(await sync.textContent()) && /250/.test(await sync.textContent()), 'the catalog sync: up, its lag and applied rate');
    const rec = p.locator('#record-table tr[data-domain="catalog"]');
    await rec.waitFor();
    t.ok(/differed/.test(await rec.locator('td.verify').textContent()) && /products id 17: differs/.test(await rec.textContent()),
      'the migration record: the last verify differed, with the ids');
    await p.locator('figure.chart canvas').first().waitFor();
    t.ok(/sync lag/.test(await p.locator('figure.chart figcaption').first().textContent()), 'the sync lag is charted');
    await t.axe('migration panel');
    await t.shot('console-migration');
    await p.getByRole('link', { name: 'Sagas' }).click();
    await p.getByLabel('Email').waitFor();
    await t.axe('sagas panel (sign-in)');
    await t.shot('console-sagas');
  });
});
