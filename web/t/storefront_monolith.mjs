// storefront_monolith.mjs - the storefront when every route is still the monolith's
// (web/t/61_storefront_monolith.t): no v2 search (v1 search instead, no facets), no anonymous
// cart on the API (401: the cart is kept in the browser), so: search, product, an anonymous
// cart, registration from the cart, the browser's cart added to the new account's, the
// shipping address asked for at checkout, the approved card, my orders CONFIRMED.
// Inputs (environment): SHOP, PRODUCT (id of "Monolith Laptop"), EMAIL (a new account's).
import { session } from './lib/browser.mjs';

const { SHOP, PRODUCT, EMAIL } = process.env;

await session(async (t) => {
  const p = t.page;

  await t.step('search falls back to v1', async () => {
    await p.goto(`${SHOP}/`);
    await p.getByLabel('Search products').fill('monolith lap');
    await p.getByRole('button', { name: 'Search' }).click();
    const results = p.getByRole('list', { name: 'Search results' });
    await results.getByRole('link', { name: 'Monolith Laptop' }).waitFor();
    t.ok(true, 'v1 search finds the laptop');
    t.is(await p.getByRole('region', { name: 'Brand' }).count(), 0, '...without facets (v1 has none)');
  });

  await t.step('anonymous cart in the browser', async () => {
    await p.getByRole('link', { name: 'Monolith Laptop' }).click();
    await p.getByLabel('Quantity').fill('2');
    await p.getByRole('button', { name: 'Add to cart' }).click();
    await p.getByText('Added 2 × Monolith Laptop').waitFor();
    t.is(await p.locator('.count').textContent(), '2', 'the cart holds 2 without an account');
    t.ok(await p.evaluate(() => (localStorage.getItem('souk.cart') || '').includes(`"quantity":2`)),
      '...kept in the browser (the monolith has no anonymous cart)');
  });

  await t.step('register from the cart', async () => {
    await p.getByRole('link', { name: /^Cart/ }).click();
    await p.getByRole('link', { name: 'Sign in to check out' }).click();
    await p.getByRole('link', { name: 'Create an account' }).click();
    await p.getByLabel('Name').fill('Grace Hopper');
    await p.getByLabel('Email').fill(EMAIL);
    await p.getByLabel(/^Password/).fill('correct horse battery');
    await p.getByRole('button', { name: 'Create account' }).click();
    await p.waitForURL(`${SHOP}/checkout`); // the whole URL: "?next=/checkout" ends alike
    await p.getByText('Hello, Grace Hopper').waitFor();
    t.ok(true, 'registered, signed in, on the checkout');
    t.ok(await p.evaluate(() => !!sessionStorage.getItem('souk.session')), 'no v2 sessions on the monolith: the v1 token');
    await p.getByText('2 items').waitFor();
    t.ok(true, 'the browser\'s cart was added to the account\'s');
  });

  await t.step('address and checkout', async () => {
    await p.getByLabel('Address', { exact: true }).fill('1 Compiler Lane');
    await p.getByLabel('City').fill('Arlington');
    await p.getByLabel('Postal code').fill('22201');
    await p.getByLabel(/Country code/).fill('us');
    await p.getByRole('button', { name: 'Save address' }).click();
    await p.getByText('1 Compiler Lane').waitFor();
    t.ok(true, 'the address is saved and shown');
    await p.getByRole('button', { name: 'Place order' }).click();
    await p.getByText(/Order #\d+ is confirmed/).waitFor({ timeout: 30000 });
    t.ok(true, 'the order is confirmed by the monolith');
    await p.getByRole('link', { name: 'My orders' }).click();
    await p.getByRole('cell', { name: 'Confirmed' }).waitFor();
    t.ok(true, 'my orders shows it CONFIRMED');
    await t.axe('my orders (monolith)');
  });
});
