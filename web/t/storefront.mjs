// storefront.mjs - the shopper's journey in chromium against the real shop (web/t/60_storefront.t
// starts it): home, suggestions, a misspelt search corrected, a facet filter, a category filter,
// the product page, an anonymous cart merged at sign-in, a review, the cart, a checkout with
// the approved card, my orders showing CONFIRMED, then every other outcome of a checkout: the
// declined card, the provider unavailable, out of stock (named; also when decided after the
// checkout's wait, souk-inventory paused with SIGSTOP), and pending (souk-payments
// paused with SIGSTOP, so the provider's answer comes late: the page says the order is
// pending, my orders shows it Pending, and once payments is resumed, Confirmed without a
// reload, the cart badge then empty). axe on home, search, product, cart, checkout, pending
// and my orders.
// Inputs (environment): SHOP (base URL), EMAIL, PASSWORD, LAPTOP (id of "Zenbook Laptop 14"),
// MOUSE (id of "Wireless Mouse"), LAMP (id of "Desk Lamp", 1 in stock), CATEGORY (slug),
// PAYMENTS_PID, INVENTORY_PID (the services' processes, paused and resumed by the steps).
import { session } from './lib/browser.mjs';

const { SHOP, EMAIL, PASSWORD, LAPTOP, MOUSE, LAMP, CATEGORY, PAYMENTS_PID, INVENTORY_PID } = process.env;

await session(async (t) => {
  const p = t.page;
  const heading = async () => (await p.locator('h1').first().textContent()).trim();

  await t.step('home', async () => {
    await p.goto(`${SHOP}/`);
    t.is(await heading(), 'Welcome to souk', 'home: the heading');
    await p.getByRole('link', { name: 'Saga' }).first().waitFor();
    t.ok(true, 'home: the categories are listed');
    await p.getByRole('list', { name: 'New arrivals' }).getByRole('link', { name: 'Zenbook Laptop 14' }).waitFor();
    t.ok(true, 'home: new arrivals list the products');
    await t.axe('home');
    await t.shot('storefront-home');
  });

  await t.step('suggestions', async () => {
    await p.getByLabel('Search products').fill('zenb');
    const s = p.getByRole('list', { name: 'Suggestions' }).getByRole('link', { name: 'Zenbook Laptop 14' });
    await s.waitFor();
    t.ok(true, 'typing "zenb" suggests "Zenbook Laptop 14"');
  });

  await t.step('search with a typo', async () => {
    await p.getByLabel('Search products').fill('lapotp');
    await p.getByRole('button', { name: 'Search' }).click();
    await p.waitForURL(/\/search\?q=lapotp/);
    await p.getByText('Showing results for').waitFor();
    t.ok((await p.locator('.note').textContent()).includes('laptop'), 'the misspelt "lapotp" is corrected to "laptop"');
    const results = p.getByRole('list', { name: 'Search results' }).getByRole('listitem');
    await results.nth(1).waitFor();
    t.is(await results.count(), 2, 'both laptops are found');
    t.is(await p.evaluate(() => document.activeElement && document.activeElement.tagName), 'H1', 'the results heading has the focus');
    await t.axe('search results');
    await t.shot('storefront-search');
  });

  await t.step('filter by a facet', async () => {
    await p.getByRole('region', { name: 'Brand' }).getByRole('link', { name: /Asus/ }).click();
    await p.waitForURL(/brand=Asus/);
    const results = p.getByRole('list', { name: 'Search results' }).getByRole('listitem');
    await p.waitForFunction(() => document.querySelectorAll('[aria-label="Search results"] li').length === 1);
    t.is(await results.count(), 1, 'the Asus facet leaves one laptop');
    t.ok((await results.first().textContent()).includes('Zenbook'), '...the Zenbook');
  });

  await t.step('filter a category by an attribute', async () => {
    await p.goto(`${SHOP}/category/${CATEGORY}`);
    await p.getByRole('list', { name: /^Products in/ }).waitFor();
    await p.getByLabel('colour').selectOption('black');
    await p.getByRole('button', { name: 'Apply filters' }).click();
    await p.waitForURL(/colour=black/);
    // Not "nothing is aria-busy": the URL changes first, and until the list's effect starts the
    // filtered fetch the page still shows the unfiltered list, busy with nothing.
    await t.until('colour = black lists the two black products',
      () => p.getByRole('list', { name: /^Products in/ }).getByRole('link').allTextContents(),
      (names) => names.length === 2 && names.includes('Wireless Mouse') && !names.includes('Zenbook Laptop 14'));
  });

  await t.step('product page and an anonymous cart', async () => {
    await p.goto(`${SHOP}/product/${LAPTOP}`);
    await p.getByRole('heading', { level: 1, name: 'Zenbook Laptop 14' }).waitFor();
    t.ok(true, 'the product page (opened directly: the gateway\'s fallback)');
    await p.getByRole('table', { name: 'Specifications' }).waitFor();
    t.ok(true, 'its specifications');
    await p.getByRole('heading', { name: 'Reviews' }).waitFor();
    await t.axe('product');
    await t.shot('storefront-product');
    await p.getByRole('button', { name: 'Add to cart' }).click();
    await p.getByText('Added 1 × Zenbook Laptop 14').waitFor();
    t.is(await p.locator('.count').textContent(), '1', 'the anonymous cart holds it');
  });

  await t.step('sign in: the cart comes along', async () => {
    await p.getByRole('link', { name: 'Sign in to write a review' }).click();
    await p.getByLabel('Email').fill(EMAIL);
    await p.getByLabel('Password').fill(PASSWORD);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.waitForURL(`${SHOP}/product/${LAPTOP}`); // the whole URL: "?next=/product/N" ends alike
    await p.getByText('Hello,').waitFor();
    t.ok(true, 'signed in, back on the product');
    await p.waitForFunction(() => document.querySelector('.count').textContent === '1');
    t.is(await p.locator('.count').textContent(), '1', 'the cart was merged into the account\'s');
  });

  await t.step('the session is v2 and survives a reload', async () => {
    t.ok(await p.evaluate(() => !sessionStorage.getItem('souk.session') && localStorage.getItem('souk.session.v2') === '1'),
      'a v2 session: no token in storage a script can read');
    const cookie = (await t.context.cookies()).find((c) => c.name === 'souk_refresh');
    t.ok(cookie && cookie.httpOnly && cookie.path === '/api/v2/sessions', 'the refresh token is an HttpOnly cookie on the sessions path',
      JSON.stringify(cookie));
    await p.reload();
    await p.getByText('Hello,').waitFor();
    t.ok(true, 'a reload stays signed in (a new access token from the cookie)');
  });

  await t.step('write a review', async () => {
    await p.getByLabel('4 stars').check();
    await p.getByLabel('Title (optional)').fill('Quick and quiet');
    const body = `Boots in seconds; the fan stays quiet (${EMAIL}).`;
    await p.getByLabel('Your review').fill(body);
    await p.getByRole('button', { name: 'Publish review' }).click();
    await p.getByText('Thank you: your review is published.').waitFor();
    await p.getByRole('article', { name: /^Review by/ }).getByText(body).waitFor();
    t.ok(true, 'the review is published and listed');
    await p.locator('.rating', { hasText: '4.0 out of 5, 1 review' }).waitFor();
    t.ok(true, 'the rating is 4.0 from 1 review');
  });

  await t.step('cart', async () => {
    await p.getByRole('link', { name: /^Cart/ }).click();
    await p.waitForURL(`${SHOP}/cart`);
    const row = p.getByRole('row', { name: /Zenbook Laptop 14/ });
    await row.waitFor();
    t.ok((await row.textContent()).includes('1,299.00'), 'the cart line at the product\'s price');
    await t.axe('cart');
    await t.shot('storefront-cart');
  });

  let orderId;
  await t.step('checkout: approved', async () => {
    await p.getByRole('link', { name: 'Check out' }).click();
    await p.getByRole('heading', { name: 'Payment' }).waitFor();
    await p.getByLabel(/4242 4242 4242 4242/).check();
    await t.axe('checkout');
    await p.getByRole('button', { name: 'Place order' }).click();
    const ok = p.getByText(/Order #\d+ is confirmed/);
    await ok.waitFor({ timeout: 30000 });
    orderId = (await ok.textContent()).match(/#(\d+)/)[1];
    t.ok(true, `order ${orderId} is confirmed`);
    await t.shot('storefront-checkout');
    await p.waitForFunction(() => document.querySelector('.count').textContent === '0');
    t.ok(true, 'the cart is empty after the order');
  });

  await t.step('my orders', async () => {
    await p.getByRole('link', { name: 'My orders' }).click();
    const row = p.locator(`tr[data-order="${orderId}"]`);
    await row.waitFor();
    t.ok((await row.textContent()).includes('Confirmed'), 'my orders shows the order CONFIRMED');
    await t.axe('my orders');
    await t.shot('storefront-orders');
  });

  // A checkout with a card that fails: its alert says what happened.
  const failedCheckout = async (card, re, name) => {
    await p.goto(`${SHOP}/checkout`);
    await p.getByLabel(card).check();
    await p.getByRole('button', { name: 'Place order' }).click();
    const alert = p.getByRole('alert').first();
    await alert.waitFor({ timeout: 40000 });
    const text = await alert.textContent();
    t.ok(re.test(text), name, text);
  };

  await t.step('checkout: declined', async () => {
    await p.goto(`${SHOP}/product/${MOUSE}`);
    await p.getByRole('button', { name: 'Add to cart' }).click();
    await p.getByText('Added 1 × Wireless Mouse').waitFor();
    await failedCheckout(/4000 0000 0000 0002/, /declined/i, 'the declined card shows the decline');
    await p.goto(`${SHOP}/cart`);
    await p.getByRole('row', { name: /Wireless Mouse/ }).waitFor();
    t.ok(true, 'the cart keeps its line after a decline');
  });

  await t.step('checkout: provider unavailable', async () => {
    await failedCheckout(/4000 0000 0000 0119/, /not answering|did not answer/i, 'the unavailable provider is told');
    await t.shot('storefront-unavailable');
  });

  await t.step('checkout: out of stock', async () => {
    await p.goto(`${SHOP}/product/${LAMP}`);
    await p.getByRole('button', { name: 'Add to cart' }).click();
    await p.getByText('Added 1 × Desk Lamp').waitFor();
    await p.goto(`${SHOP}/cart`);
    const qty = p.getByLabel('Quantity of Desk Lamp');
    await qty.fill('2');
    await qty.press('Enter');
    await p.waitForFunction(() => document.querySelector('.count').textContent === '3');
    t.ok(true, 'two lamps and the mouse in the cart (one lamp in stock)');
    await failedCheckout(/4242 4242 4242 4242/, /out of stock: only 1 of “Desk Lamp” left, 2 wanted/i,
      'out of stock is told, naming the product');
    // Again with souk-inventory paused past the checkout's wait: the order is pending, then
    // rejected once inventory is resumed; the page, following it, names the shortage the same.
    await p.goto(`${SHOP}/checkout`);
    await p.getByLabel(/4242 4242 4242 4242/).check();
    process.kill(Number(INVENTORY_PID), 'SIGSTOP');
    try {
      await p.getByRole('button', { name: 'Place order' }).click();
      await p.getByRole('status').getByText(/Order #\d+ is pending/).waitFor({ timeout: 25000 });
    } finally {
      process.kill(Number(INVENTORY_PID), 'SIGCONT');
    }
    const alert = p.getByRole('alert').first();
    await alert.waitFor({ timeout: 25000 });
    const said = await alert.textContent();
    t.ok(/rejected: some items are out of stock: only 1 of “Desk Lamp” left, 2 wanted/.test(said),
      'decided after the wait, the rejection names the product too', said);
    await p.goto(`${SHOP}/cart`);
    await p.getByRole('button', { name: 'Remove Desk Lamp' }).click();
    await p.waitForFunction(() => document.querySelector('.count').textContent === '1');
    t.ok(true, 'the lamps are taken out of the cart; the mouse stays');
  });

  await t.step('checkout: pending, then decided', async () => {
    await p.goto(`${SHOP}/checkout`);
    await p.getByLabel(/4242 4242 4242 4242/).check();
    let id;
    // souk-payments stopped: the order is reserved but its payment is not decided, past the
    // checkout's wait. Resumed in every case (finally), so the shop goes on.
    process.kill(Number(PAYMENTS_PID), 'SIGSTOP');
    try {
      await p.getByRole('button', { name: 'Place order' }).click();
      const note = p.getByRole('status').getByText(/Order #\d+ is pending/);
      await note.waitFor({ timeout: 25000 });
      id = (await note.textContent()).match(/#(\d+)/)[1];
      const said = await note.textContent();
      t.ok(/pending: waiting for stock and payment\. Nothing more to do/.test(said), `order ${id}: the checkout says it is pending`, said);
      await t.axe('checkout pending');
      await t.shot('storefront-pending');
      await p.getByRole('link', { name: 'My orders' }).click();
      const row = p.locator(`tr[data-order="${id}"]`);
      await row.waitFor();
      t.ok((await row.textContent()).includes('Pending'), 'my orders shows it Pending', await row.textContent());
    } finally {
      process.kill(Number(PAYMENTS_PID), 'SIGCONT');
    }
    await p.locator(`tr[data-order="${id}"]`, { hasText: 'Confirmed' }).waitFor({ timeout: 25000 });
    t.ok(true, 'payments resumed: my orders shows the order Confirmed, without a reload');
    // The checkout was left while pending: my orders, seeing it confirmed, reloads the cart,
    // which the cart service empties on order.confirmed (the mouse was in it).
    await p.waitForFunction(() => document.querySelector('.count').textContent === '0', null, { timeout: 30000 });
    t.ok(true, 'the cart badge shows the cart empty once the pending order is confirmed');
  });

  await t.step('sign out ends the session', async () => {
    // The page forgets the session at once and tells the API after (DELETE): the refresh
    // below must come after the API's answer, or it races the DELETE and may be honoured.
    const ended = p.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes('/api/v2/sessions/'));
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.getByRole('link', { name: 'Sign in' }).waitFor();
    t.is((await ended).status(), 204, 'the API ended the session');
    t.is(await p.evaluate(() => fetch('/api/v2/sessions/refresh', { method: 'POST' }).then((r) => r.status)), 401,
      'the refresh cookie no longer works');
    await p.reload();
    await p.getByRole('link', { name: 'Sign in' }).waitFor();
    t.ok(true, 'a reload stays signed out');
  });
});
