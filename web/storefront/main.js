// main.js - the storefront: the page frame (skip link, header with the search box, the cart
// and the account, main, footer) and the route table that picks a page by path. The gateway
// answers index.html for any of these paths (its single-page fallback), so every page can be
// opened, reloaded and bookmarked directly.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { currentUser, restored, signOut, subscribe as onAuth } from './auth.js';
import * as cart from './cart.js';
import { html, Link, Loading, navigate, PageTitle, useLocation } from './ui.js';
import { Category, Home } from './pages/catalog.js';
import { Search, SearchBox } from './pages/search.js';
import { Product } from './pages/product.js';
import { CartPage, Checkout } from './pages/cart.js';
import { Order, Orders } from './pages/orders.js';
import { Register, SignIn } from './pages/account.js';

// path pattern -> page; the groups are the page's props, in order.
const ROUTES = [
  [/^\/$/, Home, []],
  [/^\/category\/([A-Za-z0-9_-]+)$/, Category, ['slug']],
  [/^\/search$/, Search, []],
  [/^\/product\/(\d+)$/, Product, ['id']],
  [/^\/cart$/, CartPage, []],
  [/^\/checkout$/, Checkout, []],
  [/^\/orders$/, Orders, []],
  [/^\/orders\/(\d+)$/, Order, ['id']],
  [/^\/signin$/, SignIn, []],
  [/^\/register$/, Register, []],
];

function NotFound() {
  return html`<${PageTitle} title="Not found">Page not found<//><p><${Link} href="/">Back to the shop<//></p>`;
}

function route(path) {
  for (const [re, page, names] of ROUTES) {
    const m = path.match(re);
    if (m) return [page, Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])]))];
  }
  return [NotFound, {}];
}

function CartLink() {
  const [c, setC] = useState(cart.get());
  useEffect(() => {
    const off = cart.subscribe(setC);
    restored.then(() => cart.load()).catch(() => {}); // as the session says, once it is known
    return off;
  }, []);
  return html`<${Link} href="/cart">Cart <span class="count" aria-label=${`${c.item_count} items`}>${c.item_count}</span><//>`;
}

function Header({ user, notice }) {
  const out = () => {
    signOut();
    navigate('/');
  };
  return html`<header class="top">
    <a class="skip" href="#main">Skip to content</a>
    <${Link} href="/" class="brand">souk<//>
    <${SearchBox} />
    <nav aria-label="Account">
      <ul>
        <li><${CartLink} /></li>
        ${user && html`<li><${Link} href="/orders">My orders<//></li>`}
        ${user
          ? html`<li><span class="muted">Hello, ${user.name}</span> <button type="button" class="link" onClick=${out}>Sign out</button></li>`
          : html`<li><${Link} href="/signin">Sign in<//></li><li><${Link} href="/register">Register<//></li>`}
      </ul>
    </nav>
    ${notice && html`<p class="note" role="status">${notice}</p>`}
  </header>`;
}

function App() {
  const loc = useLocation();
  const [user, setUser] = useState(currentUser());
  const [notice, setNotice] = useState('');
  const [ready, setReady] = useState(false);
  useEffect(() => {
    restored.then(() => {
      setUser(currentUser());
      setReady(true);
    });
  }, []);
  useEffect(
    () =>
      onAuth((u, why) => {
        setUser(u);
        setNotice(why === 'expired' ? 'Your session has ended: please sign in again.' : '');
      }),
    [],
  );
  const [Page, props] = route(loc.split('?')[0]);
  return html`<${Header} user=${user} notice=${notice} />
    <main id="main">${ready ? html`<${Page} key=${loc} ...${props} />` : html`<${Loading} what="the shop" />`}</main>
    <footer><p>souk · a demo shop. Payments use the simulated provider's test cards.</p></footer>`;
}

render(html`<${App} />`, document.getElementById('app'));
