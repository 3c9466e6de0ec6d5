// product.js - one product: its details, add to cart, its reviews with the average rating, and
// the review form for a signed-in shopper (one review per product: 409 already-reviewed).
import { useState } from 'preact/hooks';
import { api, qs } from '../api.js';
import { currentUser } from '../auth.js';
import * as cart from '../cart.js';
import { Failure, html, Link, Loading, Money, PageTitle, Stars, useAsync, useSubmit } from '../ui.js';

function AddToCart({ product }) {
  const [qty, setQty] = useState(1);
  const [state, setState] = useState({});
  const soldOut = product.stock === 0;
  const add = async (e) => {
    e.preventDefault();
    setState({ busy: true });
    try {
      await cart.add(product, qty);
      setState({ done: `Added ${qty} × ${product.name} to your cart.` });
    } catch (err) {
      setState({ error: err });
    }
  };
  return html`<form class="buy" onSubmit=${add}>
    <div class="field">
      <label for="qty">Quantity</label>
      <input id="qty" type="number" min="1" max="99" value=${qty} required
        onInput=${(e) => setQty(Math.max(1, Math.min(99, Number(e.currentTarget.value) || 1)))} />
    </div>
    <button type="submit" class="primary" disabled=${state.busy || soldOut}>${soldOut ? 'Out of stock' : 'Add to cart'}</button>
    <p role="status" class="ok">${state.done ? html`${state.done} <${Link} href="/cart">View cart<//>` : ''}</p>
    <${Failure} error=${state.error} />
  </form>`;
}

function ReviewForm({ productId, onDone }) {
  // Controlled: a re-render (the cart or the session changing) must not reset the choice.
  const [rating, setRating] = useState(5);
  const [state, submit] = useSubmit(async (f) => {
    const body = { rating: Number(f.rating), body: f.body };
    if (f.title) body.title = f.title;
    try {
      await api('POST', `/api/v1/products/${productId}/reviews`, { body, auth: true });
    } catch (err) {
      throw err.slug === 'already-reviewed' ? new Error('You have already reviewed this product.') : err;
    }
    onDone();
    return { done: 'Thank you: your review is published.' };
  });
  if (state.done) return html`<p role="status" class="ok">${state.done}</p>`;
  return html`<form class="review-form" onSubmit=${submit} aria-labelledby="write-h">
    <h3 id="write-h">Write a review</h3>
    <fieldset>
      <legend>Rating</legend>
      ${[5, 4, 3, 2, 1].map(
        (n) => html`<label class="inline" key=${n}>
          <input type="radio" name="rating" value=${n} required checked=${n === rating} onChange=${() => setRating(n)} /> ${n} star${n > 1 ? 's' : ''}
        </label>`,
      )}
    </fieldset>
    <div class="field">
      <label for="r-title">Title (optional)</label>
      <input id="r-title" name="title" maxlength="200" />
    </div>
    <div class="field">
      <label for="r-body">Your review</label>
      <textarea id="r-body" name="body" rows="4" required maxlength="5000"></textarea>
    </div>
    <button type="submit" disabled=${state.busy}>Publish review</button>
    <${Failure} error=${state.error} />
  </form>`;
}

function Reviews({ productId }) {
  const res = useAsync(() => api('GET', `/api/v1/products/${productId}/reviews${qs({ limit: 20 })}`).then((r) => r.data), [productId]);
  const user = currentUser();
  const d = res.data;
  return html`<section aria-labelledby="reviews-h" class="reviews">
    <h2 id="reviews-h">Reviews</h2>
    ${res.loading && !d && html`<${Loading} what="reviews" />`}
    <${Failure} error=${res.error} />
    ${d &&
    html`<p class="rating">
        <${Stars} value=${d.average_rating} /> <span>${Number(d.average_rating).toFixed(1)} out of 5, ${d.count} review${d.count === 1 ? '' : 's'}</span>
      </p>
      <ul class="review-list">
        ${d.items.map(
          (r) => html`<li key=${r.id}>
            <article aria-label=${`Review by ${r.author || 'a customer'}`}>
              <h3><${Stars} value=${r.rating} label=${`${r.rating} out of 5 stars`} /> ${r.title}</h3>
              <p>${r.body}</p>
              <p class="muted">${r.author || 'A customer'}, <time datetime=${r.created_at}>${new Date(r.created_at).toLocaleDateString('en-GB')}</time></p>
            </article>
          </li>`,
        )}
      </ul>`}
    ${user ? html`<${ReviewForm} productId=${productId} onDone=${res.reload} />`
      : html`<p><${Link} href=${`/signin?next=/product/${productId}`}>Sign in to write a review<//></p>`}
  </section>`;
}

export function Product({ id }) {
  const res = useAsync(() => api('GET', `/api/v1/products/${id}`).then((r) => r.data), [id]);
  const p = res.data;
  if (res.error) {
    return html`<${PageTitle} title="Product">Product not available<//><${Failure} error=${res.error} />`;
  }
  if (!p) return html`<${PageTitle} title="Product">Product<//><${Loading} what="the product" />`;
  return html`<${PageTitle} title=${p.name}>${p.name}<//>
    <div class="product">
      <section aria-label="Details">
        <p class="muted">${p.brand}${p.category ? html` · <${Link} href=${`/category/${p.category.slug}`}>${p.category.name}<//>` : ''}</p>
        <p class="price"><${Money} value=${p.price} /></p>
        ${p.rating && html`<p><${Stars} value=${p.rating.average} /> <span class="muted">(${p.rating.count})</span></p>`}
        ${p.stock !== undefined && html`<p>${p.stock > 0 ? `${p.stock} in stock` : 'Out of stock'}</p>`}
        <p>${p.description}</p>
        ${Object.keys(p.attributes || {}).length > 0 &&
        html`<table class="attrs">
          <caption>Specifications</caption>
          <tbody>
            ${Object.entries(p.attributes).map(([k, v]) => html`<tr key=${k}><th scope="row">${k.replace(/_/g, ' ')}</th><td>${v}</td></tr>`)}
          </tbody>
        </table>`}
      </section>
      <${AddToCart} product=${p} />
    </div>
    <${Reviews} productId=${p.id} />`;
}
