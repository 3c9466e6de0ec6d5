// orders.js - "My orders" (GET /api/v1/orders: newest first, each with its state) and one
// order; a pending one is looked at again every two seconds until the saga decides.
import { useEffect, useRef } from 'preact/hooks';
import { api, qs } from '../api.js';
import { currentUser } from '../auth.js';
import * as cart from '../cart.js';
import { Failure, html, Link, Loading, Money, PageTitle, useAsync } from '../ui.js';

// One order, with why it failed: v2 (souk-orders) shows every order and its reason; where v2
// is not routed (the monolith) v1, whose orders are all confirmed. v1 on souk-orders hides a
// checkout the saga failed, so following a pending order must use v2.
export async function getOrder(id) {
  try {
    const { data } = await api('GET', `/api/v2/orders/${id}`, { auth: true });
    return data;
  } catch (e) {
    if (e.status !== 404 && e.status !== 502 && e.status !== 503) throw e;
    return (await api('GET', `/api/v1/orders/${id}`, { auth: true })).data;
  }
}

export const REASONS = {
  'payment-declined': 'the card was declined; nothing was charged',
  'payment-unavailable': 'the payment provider did not answer; nothing was charged',
  'out-of-stock': 'some items were out of stock',
  deadline: 'it could not be completed in time; nothing was charged',
};

const STATES = {
  PENDING: 'Pending: waiting for stock and payment',
  CONFIRMED: 'Confirmed',
  CANCELLED: 'Cancelled',
  REJECTED: 'Rejected',
};

export function StateBadge({ status }) {
  return html`<span class=${`badge badge-${status.toLowerCase()}`}>${STATES[status] || status}</span>`;
}

function SignInFirst({ next }) {
  return html`<p><${Link} href=${`/signin?next=${next}`}>Sign in to see your orders<//></p>`;
}

// Reload while anything shown is still pending. An order seen pending here that turns
// CONFIRMED empties the cart (order.confirmed, at the cart service): the checkout that placed
// it stops following once the shopper leaves it, so the badge is reloaded from here.
function usePoll(res, orders) {
  const seenPending = useRef(new Set());
  const pending = orders.some((o) => o.status === 'PENDING');
  useEffect(() => {
    if (orders.some((o) => o.status === 'CONFIRMED' && seenPending.current.has(o.id))) cart.afterOrder().catch(() => {});
    seenPending.current = new Set(orders.filter((o) => o.status === 'PENDING').map((o) => o.id));
    if (!pending) return undefined;
    const t = setTimeout(res.reload, 2000);
    return () => clearTimeout(t);
  }, [res.data, pending]);
}

export function Orders() {
  const user = currentUser();
  const res = useAsync(() => (user ? api('GET', `/api/v1/orders${qs({ limit: 50 })}`, { auth: true }).then((r) => r.data) : Promise.resolve(null)), [user && user.id]);
  const d = res.data;
  usePoll(res, (d && d.items) || []);
  if (!user) return html`<${PageTitle} title="My orders">My orders<//><${SignInFirst} next="/orders" />`;
  return html`<${PageTitle} title="My orders">My orders<//>
    ${res.loading && !d && html`<${Loading} what="your orders" />`}
    <${Failure} error=${res.error} />
    ${d && d.items.length === 0 && html`<p>No orders yet. <${Link} href="/">Start shopping<//></p>`}
    ${d && d.items.length > 0 &&
    html`<table class="orders">
      <caption class="sr-only">Your orders, newest first</caption>
      <thead><tr><th scope="col">Order</th><th scope="col">Placed</th><th scope="col">State</th><th scope="col">Items</th><th scope="col">Total</th></tr></thead>
      <tbody>
        ${d.items.map(
          (o) => html`<tr key=${o.id} data-order=${o.id}>
            <th scope="row"><${Link} href=${`/orders/${o.id}`}>#${o.id}<//></th>
            <td><time datetime=${o.created_at}>${new Date(o.created_at).toLocaleString('en-GB')}</time></td>
            <td><${StateBadge} status=${o.status} /></td>
            <td>${o.items.reduce((n, l) => n + l.quantity, 0)}</td>
            <td><${Money} value=${o.total} /></td>
          </tr>`,
        )}
      </tbody>
    </table>`}`;
}

export function Order({ id }) {
  const user = currentUser();
  const res = useAsync(() => (user ? getOrder(id) : Promise.resolve(null)), [id, user && user.id]);
  const o = res.data;
  usePoll(res, o ? [o] : []);
  if (!user) return html`<${PageTitle} title=${`Order ${id}`}>Order #${id}<//><${SignInFirst} next=${`/orders/${id}`} />`;
  return html`<${PageTitle} title=${`Order ${id}`}>Order #${id}<//>
    ${res.loading && !o && html`<${Loading} what="the order" />`}
    <${Failure} error=${res.error} />
    ${o &&
    html`<p role="status"><${StateBadge} status=${o.status} />${o.reason ? ` ${REASONS[o.reason] || o.reason}` : ''}</p>
      ${o.payment && html`<p>Payment: ${o.payment.status.toLowerCase()}, card ending ${o.payment.card_last4}</p>`}
      ${!o.payment && o.card_last4 && html`<p>Card ending ${o.card_last4}</p>`}
      <table class="cart">
        <caption class="sr-only">Items</caption>
        <thead><tr><th scope="col">Product</th><th scope="col">Price</th><th scope="col">Quantity</th><th scope="col">Total</th></tr></thead>
        <tbody>${o.items.map((l) => html`<tr key=${l.product_id}><th scope="row"><${Link} href=${`/product/${l.product_id}`}>${l.name}<//></th>
          <td><${Money} value=${l.unit_price} /></td><td>${l.quantity}</td><td><${Money} value=${l.line_total} /></td></tr>`)}</tbody>
        <tfoot><tr><th scope="row" colspan="3">Total</th><td><${Money} value=${o.total} /></td></tr></tfoot>
      </table>
      <p>Shipping to ${o.shipping_address.line1}, ${o.shipping_address.postal_code} ${o.shipping_address.city}, ${o.shipping_address.country}</p>
      <p><${Link} href="/orders">All my orders<//></p>`}`;
}
