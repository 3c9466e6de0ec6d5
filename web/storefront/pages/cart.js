// cart.js (page) - the cart and the checkout. The checkout needs a signed-in shopper with a
// shipping address (asked for here when missing), takes a card (the simulated provider's test
// cards are offered, each with its outcome) and shows what the order became: confirmed,
// pending (the saga has not decided: followed until it does), declined, out of stock or the
// provider unavailable.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { currentUser, refreshUser } from '../auth.js';
import * as cart from '../cart.js';
import { Failure, html, Link, Loading, Money, PageTitle, useAsync, useSubmit } from '../ui.js';
import { getOrder, REASONS } from './orders.js';

// The simulated provider's test cards (contracts/api-v1.yaml, lib/card.h).
export const TEST_CARDS = [
  { number: '4242424242424242', outcome: 'approved' },
  { number: '4000000000000002', outcome: 'declined' },
  { number: '4000000000000119', outcome: 'provider unavailable' },
];

export function useCart() {
  const [c, setC] = useState(cart.get());
  const [error, setError] = useState(null);
  useEffect(() => {
    const off = cart.subscribe(setC);
    cart.load().catch(setError);
    return off;
  }, []);
  return [c, error, setError];
}

function Line({ line, onError }) {
  const change = (e) => {
    const q = Number(e.currentTarget.value);
    if (q >= 1 && q <= 99) cart.setQuantity(line.product_id, q).catch(onError);
  };
  return html`<tr>
    <th scope="row"><${Link} href=${`/product/${line.product_id}`}>${line.name}<//>
      ${line.unavailable && html` <span class="alert-inline">no longer sold</span>`}
      ${line.price_changed && html` <span class="note-inline">price changed</span>`}</th>
    <td><${Money} value=${line.unit_price} /></td>
    <td><label class="sr-only" for=${`q-${line.product_id}`}>Quantity of ${line.name}</label>
      <input id=${`q-${line.product_id}`} type="number" min="1" max="99" value=${line.quantity} onChange=${change} class="qty" /></td>
    <td><${Money} value=${line.line_total} /></td>
    <td><button type="button" onClick=${() => cart.remove(line.product_id).catch(onError)}
      aria-label=${`Remove ${line.name}`}>Remove</button></td>
  </tr>`;
}

export function CartPage() {
  const [c, error, setError] = useCart();
  const user = currentUser();
  return html`<${PageTitle} title="Cart">Your cart<//>
    <${Failure} error=${error} />
    ${c.items.length === 0
      ? html`<p>Your cart is empty. <${Link} href="/">Continue shopping<//></p>`
      : html`<table class="cart">
          <caption class="sr-only">Items in your cart</caption>
          <thead><tr><th scope="col">Product</th><th scope="col">Price</th><th scope="col">Quantity</th><th scope="col">Total</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${c.items.map((l) => html`<${Line} key=${l.product_id} line=${l} onError=${setError} />`)}</tbody>
          <tfoot><tr><th scope="row" colspan="3">Total (${c.item_count} item${c.item_count === 1 ? '' : 's'})</th><td colspan="2"><${Money} value=${c.total} /></td></tr></tfoot>
        </table>
        <p>${user ? html`<${Link} class="button primary" href="/checkout">Check out<//>`
          : html`<${Link} class="button primary" href="/signin?next=/checkout">Sign in to check out<//> Your cart comes with you.`}</p>`}`;
}

function AddressForm({ onDone }) {
  const [state, submit] = useSubmit(async (f) => {
    await api('PUT', '/api/v1/accounts/me/address', { body: { ...f, country: f.country.toUpperCase() }, auth: true });
    await refreshUser();
    onDone();
  });
  return html`<form onSubmit=${submit} aria-labelledby="addr-h" class="stack">
    <h2 id="addr-h">Shipping address</h2>
    <div class="field"><label for="a-line1">Address</label><input id="a-line1" name="line1" required maxlength="200" autocomplete="address-line1" /></div>
    <div class="field"><label for="a-line2">Address line 2 (optional)</label><input id="a-line2" name="line2" maxlength="200" autocomplete="address-line2" /></div>
    <div class="field"><label for="a-city">City</label><input id="a-city" name="city" required maxlength="100" autocomplete="address-level2" /></div>
    <div class="field"><label for="a-postal">Postal code</label><input id="a-postal" name="postal_code" required maxlength="20" autocomplete="postal-code" /></div>
    <div class="field"><label for="a-country">Country code (2 letters)</label><input id="a-country" name="country" required pattern="[A-Za-z]{2}" maxlength="2" autocomplete="country" /></div>
    <button type="submit" disabled=${state.busy}>Save address</button>
    <${Failure} error=${state.error} />
  </form>`;
}

const OUTCOMES = {
  'payment-declined': 'Your card was declined. Nothing was charged: try another card.',
  'payment-unavailable': 'The payment provider is not answering. Nothing was charged: try again in a moment.',
  'out-of-stock': 'Some items are out of stock',
  'cart-empty': 'Your cart is empty.',
  unprocessable: 'Add a shipping address first.',
};

// What the order became, in words; null while it is pending. A rejected order names what was
// short, as the checkout's own 409 does (withNames).
export function orderOutcome(o) {
  if (o.status === 'CONFIRMED') return { ok: true, text: `Order #${o.id} is confirmed. Thank you!` };
  if (o.status === 'PENDING') return null;
  if (o.reason === 'out-of-stock' && o.shortage) {
    const s = o.shortage;
    const what = withNames(`only ${s.available} of product ${s.product_id} left, ${s.requested} wanted`, o.items || []);
    return { ok: false, text: `Order #${o.id} was rejected: some items are out of stock: ${what}.` };
  }
  const why = o.reason ? REASONS[o.reason] || o.reason : o.payment && o.payment.status === 'DECLINED' ? REASONS['payment-declined'] : '';
  return { ok: false, text: `Order #${o.id} was ${o.status.toLowerCase()}${why ? `: ${why}` : ''}.` };
}

// An Idempotency-Key per attempt (getRandomValues: also outside a secure context).
function randomHex() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

// Follow a pending order until the saga decides (at most a minute), while the page is open
// (alive.current): null when it is still pending, or the page was left.
async function follow(id, alive) {
  for (let i = 0; i < 60 && alive.current; i++) {
    const data = await getOrder(id);
    if (data.status !== 'PENDING') return data;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return null;
}

// The checkout's out-of-stock detail names products by id ("only 1 of product 7 left, 2
// wanted"): the shopper knows them by name, from the cart.
function withNames(message, items) {
  return message.replace(/product (\d+)/g, (m, id) => {
    const line = items.find((l) => String(l.product_id) === id);
    return line ? `“${line.name}”` : m;
  });
}

function Payment({ onPlaced, items }) {
  const [card, setCard] = useState(TEST_CARDS[0].number);
  const [other, setOther] = useState('');
  const [state, setState] = useState({});
  const alive = useRef(true);
  useEffect(() => () => { alive.current = false; }, []);
  const place = async (e) => {
    e.preventDefault();
    const number = (card === 'other' ? other : card).replace(/[\s-]/g, '');
    setState({ busy: true, status: 'Placing your order…' });
    try {
      const key = `web-${randomHex()}`;
      const { status, data } = await api('POST', '/api/v1/orders', { body: { card_number: number }, auth: true, headers: { 'Idempotency-Key': key } });
      let o = data;
      if (status === 202 || o.status === 'PENDING') {
        // The shop has not decided in the time the checkout waits (stock or the payment
        // provider slow to answer; the order does not say which): say so, and keep looking.
        setState({ busy: true, following: o });
        o = (await follow(o.id, alive)) || o;
        if (!alive.current) return;
      }
      const out = orderOutcome(o);
      (o.status === 'CONFIRMED' ? cart.afterOrder() : cart.load()).catch(() => {});
      if (o.status === 'CONFIRMED') onPlaced(o); // the checkout shows the confirmation instead
      else setState(out ? { done: out, order: o } : { pending: o });
    } catch (err) {
      const text = OUTCOMES[err.slug];
      setState({ error: text ? new Error(err.slug === 'out-of-stock' ? `${text}: ${withNames(err.message, items)}.` : text) : err });
    }
  };
  return html`<form onSubmit=${place} aria-labelledby="pay-h" class="stack">
    <h2 id="pay-h">Payment</h2>
    <fieldset>
      <legend>Card (test cards of the simulated provider)</legend>
      ${TEST_CARDS.map(
        (c) => html`<label class="inline" key=${c.number}>
          <input type="radio" name="card" value=${c.number} checked=${card === c.number} onChange=${() => setCard(c.number)} />
          ${c.number.replace(/(\d{4})(?=\d)/g, '$1 ')} (${c.outcome})
        </label>`,
      )}
      <label class="inline"><input type="radio" name="card" value="other" checked=${card === 'other'} onChange=${() => setCard('other')} /> Another card</label>
      ${card === 'other' &&
      html`<div class="field"><label for="card-number">Card number</label>
        <input id="card-number" inputmode="numeric" autocomplete="cc-number" required value=${other} onInput=${(e) => setOther(e.currentTarget.value)} /></div>`}
    </fieldset>
    <button type="submit" class="primary" disabled=${state.busy}>Place order</button>
    <div role="status" aria-live="polite">
      ${state.status && state.busy && html`<p>${state.status}</p>`}
      ${state.following && html`<p class="note pending">${`Order #${state.following.id} is pending: waiting for stock and payment. `}
        ${'Nothing more to do: this page shows the outcome as soon as it is known, and '}
        <${Link} href=${`/orders/${state.following.id}`}>the order<//> in My orders shows it too.</p>`}
      ${state.pending && html`<p class="note pending">Order #${state.pending.id} is still pending. <${Link} href="/orders">Follow it in My orders<//></p>`}
    </div>
    ${state.done && !state.done.ok && html`<p class="alert" role="alert">${state.done.text}</p>`}
    <${Failure} error=${state.error} />
  </form>`;
}

export function Checkout() {
  const [c] = useCart();
  const me = useAsync(() => refreshUser(), []);
  const [placed, setPlaced] = useState(null);
  if (!currentUser()) {
    return html`<${PageTitle} title="Checkout">Checkout<//><p><${Link} href="/signin?next=/checkout">Sign in to check out<//></p>`;
  }
  if (placed) {
    return html`<${PageTitle} title="Checkout">Checkout<//>
      <section role="status" aria-live="polite">
        <p class="ok">${orderOutcome(placed).text} <${Link} href=${`/orders/${placed.id}`}>See the order<//></p>
        <p><${Link} href="/">Continue shopping<//></p>
      </section>`;
  }
  return html`<${PageTitle} title="Checkout">Checkout<//>
    <section aria-label="Order summary">
      <p>${c.item_count} item${c.item_count === 1 ? '' : 's'}, total <strong><${Money} value=${c.total} /></strong>. <${Link} href="/cart">Change the cart<//></p>
    </section>
    ${me.loading && !me.data ? html`<${Loading} what="your account" />` : html`<${Failure} error=${me.error} />`}
    ${me.data && !me.data.shipping_address && html`<${AddressForm} onDone=${me.reload} />`}
    ${me.data && me.data.shipping_address &&
    html`<section aria-label="Shipping to"><h2>Shipping to</h2>
        <p>${me.data.name}, ${me.data.shipping_address.line1}, ${me.data.shipping_address.postal_code} ${me.data.shipping_address.city}, ${me.data.shipping_address.country}</p></section>
      ${c.items.length > 0 && html`<${Payment} onPlaced=${setPlaced} items=${c.items} />`}
      ${c.items.length === 0 && html`<p>Your cart is empty. <${Link} href="/">Continue shopping<//></p>`}`}`;
}
