// console_sagas.mjs - the Sagas panel against the real saga (web/t/63_console_sagas.t): a
// customer's sign-in refused, an admin's accepted, orders by state, one order's timeline, a
// dead letter inspected and replayed.
// Inputs: CONSOLE_URL, ADMIN_TOKEN, ADMIN_EMAIL, CUSTOMER_EMAIL, PASSWORD, ORDER_ID, POISON_ID.
import { session } from './lib/browser.mjs';

const { CONSOLE_URL, ADMIN_TOKEN, ADMIN_EMAIL, CUSTOMER_EMAIL, PASSWORD, ORDER_ID, POISON_ID } = process.env;

await session(async (t) => {
  const p = t.page;
  await t.step('the admin token, then the Sagas panel', async () => {
    await p.goto(`${CONSOLE_URL}#/sagas`);
    await p.getByLabel('Token').fill(ADMIN_TOKEN);
    await p.getByRole('button', { name: 'Open the control room' }).click();
    await p.getByLabel('Email').waitFor();
    t.ok(true, 'the panel asks for an admin account');
  });

  await t.step('a customer account is refused', async () => {
    await p.getByLabel('Email').fill(CUSTOMER_EMAIL);
    await p.getByLabel('Password').fill(PASSWORD);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('alert').filter({ hasText: 'not an admin' }).waitFor();
    t.ok(true, 'with the reason');
    t.is(await p.evaluate(() => sessionStorage.getItem('souk.console.jwt')), null, 'and no JWT is kept');
  });

  await t.step('an admin signs in and sees the orders by state', async () => {
    await p.getByLabel('Email').fill(ADMIN_EMAIL);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.locator('#saga-counts').waitFor();
    await p.waitForFunction(() => /^[1-9]/.test(document.querySelectorAll('#saga-counts td')[1].textContent));
    t.ok(true, 'at least one CONFIRMED order is counted');
    await p.getByLabel('State').selectOption('CONFIRMED');
    const row = p.locator('#sagas-table tbody tr', { has: p.locator(`th:text-is("${ORDER_ID}")`) });
    await row.waitFor();
    t.ok(/CONFIRMED/.test(await row.textContent()), 'the order is listed as CONFIRMED, with its age');
    await row.getByRole('button', { name: `Timeline of order ${ORDER_ID}` }).click();
    const tl = p.locator('#timeline');
    await tl.locator('tbody tr').first().waitFor();
    const text = await tl.textContent();
    t.ok(/payment\./.test(text) && /inventory\./.test(text), 'the timeline crosses orders, inventory and payments', text.slice(0, 400));
    t.ok(/CONFIRMED/.test(await tl.locator('h3').textContent()), 'with the order\'s state');
    await t.axe('sagas panel');
    await t.shot('console-sagas');
  });

  await t.step('a dead letter: inspected, then replayed after a confirmation', async () => {
    const row = p.locator(`#dlq-inventory tr[data-event="${POISON_ID}"]`);
    await row.waitFor();
    t.ok(/order\.created/.test(await row.textContent()), 'inventory\'s parked order.created is listed');
    t.ok((await p.locator('#dlq-orders tbody tr').count()) === 0, 'orders has none');
    await row.getByRole('button', { name: `Inspect ${POISON_ID}` }).click();
    const env = p.getByLabel(`Envelope of ${POISON_ID}`);
    await env.waitFor();
    t.ok(/"quantity": 0/.test(await env.textContent()), 'its envelope shows the line of quantity 0');
    await p.locator('.dlq[data-service="inventory"]').scrollIntoViewIfNeeded();
    await t.shot('console-dlq');
    await row.getByRole('button', { name: `Replay ${POISON_ID}` }).click();
    const d = p.locator('dialog#dlq-dialog-inventory');
    await d.waitFor({ state: 'visible' });
    await t.axe('dead-letter replay dialog');
    await d.getByRole('button', { name: 'Replay', exact: true }).click();
    await d.waitFor({ state: 'hidden' });
    const status = p.locator('.dlq[data-service="inventory"] [role="status"]');
    await status.waitFor();
    t.ok(/1 sent back to inventory's queue/.test(await status.textContent()), 'one message sent back');
  });
});
