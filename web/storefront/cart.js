// cart.js - the cart, signed in or not, whichever side serves /api/v1/cart:
// - signed in: the user's cart on the API (bearer token).
// - anonymous, cart service behind the route: its anonymous cart, named by the HttpOnly
//   souk_cart cookie it sets on the first add; the service merges it into the user's cart at
//   the first request that carries both the cookie and a token (services/cart/README.md).
// - anonymous, and the API refuses without a token (the monolith, or a gateway route with
//   auth "user"): a cart kept in this browser (localStorage), added to the user's cart line
//   by line at sign-in.
// The pages see one store: get(), add(), setQuantity(), remove(), subscribe().
import { api } from './api.js';
import { currentUser, subscribe as onAuth } from './auth.js';

const LOCAL = 'souk.cart';
const EMPTY = { items: [], total: { amount: 0, currency: 'EUR' }, item_count: 0 };
const listeners = new Set();
let cart = EMPTY;
let anonymousLocal = false; // the API answered 401 to an anonymous cart call

function publish(c) {
  cart = c;
  for (const fn of listeners) fn(c);
  return c;
}

function localLines() {
  try {
    return JSON.parse(localStorage.getItem(LOCAL) || '[]');
  } catch {
    return [];
  }
}

function localCart(lines) {
  localStorage.setItem(LOCAL, JSON.stringify(lines));
  const items = lines.map((l) => ({
    ...l,
    line_total: { amount: l.unit_price.amount * l.quantity, currency: l.unit_price.currency },
  }));
  return {
    items,
    total: { amount: items.reduce((n, l) => n + l.line_total.amount, 0), currency: 'EUR' },
    item_count: items.reduce((n, l) => n + l.quantity, 0),
  };
}

function local() {
  return !currentUser() && anonymousLocal;
}

// An anonymous call the API refuses switches this browser to its local cart.
async function remote(method, path, body) {
  try {
    const { data } = await api(method, path, { body, auth: true });
    return data;
  } catch (e) {
    if (e.status === 401 && !currentUser()) {
      anonymousLocal = true;
      return null;
    }
    throw e;
  }
}

export function get() {
  return cart;
}

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export async function load() {
  if (local()) return publish(localCart(localLines()));
  const data = await remote('GET', '/api/v1/cart');
  return publish(data || localCart(localLines()));
}

// product: {id, name, price}
export async function add(product, quantity) {
  if (!local()) {
    const data = await remote('POST', '/api/v1/cart/items', { product_id: product.id, quantity });
    if (data) return publish(data);
  }
  const lines = localLines();
  const line = lines.find((l) => l.product_id === product.id);
  if (line) line.quantity = Math.min(99, line.quantity + quantity);
  else lines.push({ product_id: product.id, name: product.name, quantity, unit_price: product.price });
  return publish(localCart(lines));
}

export async function setQuantity(productId, quantity) {
  if (!local()) return publish(await remote('PUT', `/api/v1/cart/items/${productId}`, { quantity }));
  const lines = localLines();
  const line = lines.find((l) => l.product_id === productId);
  if (line) line.quantity = quantity;
  return publish(localCart(lines));
}

export async function remove(productId) {
  if (!local()) return publish(await remote('DELETE', `/api/v1/cart/items/${productId}`));
  return publish(localCart(localLines().filter((l) => l.product_id !== productId)));
}

// After a confirmed order: the cart service empties the cart when order.confirmed reaches it
// (an event, so a moment later, seconds on a busy shop); the monolith at once. Reload until it
// is empty, backing off from 250 ms to 2 s, for 30 s at most (wall clock: a slow load counts).
export async function afterOrder() {
  const deadline = Date.now() + 30000;
  for (let step = 250; ; step = Math.min(step * 2, 2000)) {
    const c = await load();
    if (c.item_count === 0 || Date.now() >= deadline) return c;
    await new Promise((r) => setTimeout(r, Math.min(step, deadline - Date.now())));
  }
}

// At sign-in the browser's lines join the user's cart (quantities add up, as the cart
// service's own merge does); a line the API refuses (product gone, 99 reached) is dropped.
async function mergeLocal() {
  const lines = localLines();
  localStorage.removeItem(LOCAL);
  for (const l of lines) {
    try {
      await api('POST', '/api/v1/cart/items', { body: { product_id: l.product_id, quantity: l.quantity }, auth: true });
    } catch (e) {
      if (e.status === 401) throw e;
    }
  }
}

let settling = Promise.resolve();

// Resolves when the cart has caught up with the last sign-in or sign-out (the merge done).
export function settled() {
  return settling;
}

onAuth((user) => {
  settling = (async () => {
    try {
      if (user) await mergeLocal();
      else anonymousLocal = false; // signed out: ask the API again
      await load();
    } catch {
      publish(EMPTY);
    }
  })();
});
