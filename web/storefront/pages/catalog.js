// catalog.js - the home page (categories, new arrivals) and a category's products with their
// filters: sort, price range and attribute values (v1 GET /api/v1/products, whose unknown
// query parameters are attribute filters). v1 lists have no facets, so the values offered
// are those of the category's first 100 products.
import { useState } from 'preact/hooks';
import { api, qs } from '../api.js';
import { Failure, html, Link, Loading, Money, navigate, PageTitle, query, useAsync } from '../ui.js';

const RESERVED = new Set(['page', 'limit', 'category', 'min_price', 'max_price', 'sort', 'q']);

export function categoriesTree(items) {
  const top = items.filter((c) => c.parent_id === null);
  return top.map((c) => ({ ...c, children: items.filter((k) => k.parent_id === c.id) }));
}

export function ProductGrid({ items, label }) {
  if (!items.length) return html`<p>No products match.</p>`;
  return html`<ul class="grid" aria-label=${label}>
    ${items.map(
      (p) => html`<li class="card" key=${p.id}>
        <${Link} href=${`/product/${p.id}`}>${p.name}<//>
        <p class="muted">${p.brand}${p.brand && p.category ? ' · ' : ''}${p.category && p.category.name}</p>
        <p><${Money} value=${p.price} /></p>
      </li>`,
    )}
  </ul>`;
}

export function Home() {
  const cats = useAsync(() => api('GET', '/api/v1/categories').then((r) => r.data.items), []);
  const fresh = useAsync(() => api('GET', '/api/v1/products?limit=12').then((r) => r.data.items), []);
  return html`<${PageTitle} title="Shop">Welcome to souk<//>
    <section aria-labelledby="cats-h">
      <h2 id="cats-h">Categories</h2>
      ${cats.loading ? html`<${Loading} what="categories" />` : html`<${Failure} error=${cats.error} />`}
      ${cats.data &&
      html`<ul class="cats">
        ${categoriesTree(cats.data).map(
          (c) => html`<li key=${c.id}>
            <${Link} href=${`/category/${c.slug}`}>${c.name}<//>
            ${c.children.length > 0 &&
            html`<ul>
              ${c.children.map((k) => html`<li key=${k.id}><${Link} href=${`/category/${k.slug}`}>${k.name}<//></li>`)}
            </ul>`}
          </li>`,
        )}
      </ul>`}
    </section>
    <section aria-labelledby="new-h">
      <h2 id="new-h">New arrivals</h2>
      ${fresh.loading ? html`<${Loading} what="products" />` : html`<${Failure} error=${fresh.error} />`}
      ${fresh.data && html`<${ProductGrid} items=${fresh.data} label="New arrivals" />`}
    </section>`;
}

// Attribute name -> sorted distinct values, over items.
function attributeValues(items) {
  const out = {};
  for (const p of items) {
    for (const [k, v] of Object.entries(p.attributes || {})) (out[k] ||= new Set()).add(v);
  }
  return Object.fromEntries(Object.entries(out).map(([k, s]) => [k, [...s].sort()]));
}

const euros = (minor) => (minor === undefined || minor === '' ? '' : String(Number(minor) / 100));
const minor = (eur) => (eur === '' ? '' : String(Math.round(Number(eur) * 100)));

// The filters as a form: applied, they become the URL's query, which drives the list. The
// fields are controlled (state), so a re-render before "Apply" keeps what was chosen.
function Filters({ base, params, attrs }) {
  const [f, setF] = useState({ ...params, min_price: euros(params.min_price), max_price: euros(params.max_price) });
  const field = (name) => ({ value: f[name] || '', onChange: (e) => setF({ ...f, [name]: e.currentTarget.value }) });
  const apply = (e) => {
    e.preventDefault();
    const next = {};
    for (const [k, v] of Object.entries(f)) {
      if (v === '' || v === undefined) continue;
      next[k] = k === 'min_price' || k === 'max_price' ? minor(v) : v;
    }
    navigate(`${base}${qs(next)}`);
  };
  return html`<form class="filters" onSubmit=${apply} aria-label="Filters">
    <div class="field">
      <label for="f-sort">Sort by</label>
      <select id="f-sort" name="sort" ...${field('sort')}>
        <option value="">Newest</option>
        <option value="price_asc">Price, low to high</option>
        <option value="price_desc">Price, high to low</option>
        <option value="name">Name</option>
      </select>
    </div>
    <div class="field">
      <label for="f-min">Min price (€)</label>
      <input id="f-min" name="min_price" type="number" min="0" step="0.01" ...${field('min_price')} />
    </div>
    <div class="field">
      <label for="f-max">Max price (€)</label>
      <input id="f-max" name="max_price" type="number" min="0" step="0.01" ...${field('max_price')} />
    </div>
    ${Object.entries(attrs).map(
      ([name, values]) => html`<div class="field" key=${name}>
        <label for=${`f-${name}`}>${name.replace(/_/g, ' ')}</label>
        <select id=${`f-${name}`} name=${name} ...${field(name)}>
          <option value="">Any</option>
          ${values.map((v) => html`<option value=${v}>${v}</option>`)}
        </select>
      </div>`,
    )}
    <button type="submit">Apply filters</button>
  </form>`;
}

export function Category({ slug }) {
  const params = query();
  const key = location.search;
  const cats = useAsync(() => api('GET', '/api/v1/categories').then((r) => r.data.items), []);
  const all = useAsync(() => api('GET', `/api/v1/products${qs({ category: slug, limit: 100 })}`).then((r) => r.data.items), [slug]);
  const list = useAsync(() => {
    const p = { ...params, category: slug, limit: 24 };
    return api('GET', `/api/v1/products${qs(p)}`).then((r) => r.data);
  }, [slug, key]);
  const cat = cats.data && cats.data.find((c) => c.slug === slug);
  const attrs = all.data ? attributeValues(all.data) : {};
  for (const k of Object.keys(attrs)) if (RESERVED.has(k)) delete attrs[k];
  return html`<${PageTitle} title=${cat ? cat.name : slug}>${cat ? cat.name : slug}<//>
    <div class="with-aside">
      <aside><${Filters} base=${`/category/${slug}`} params=${params} attrs=${attrs} key=${key} /></aside>
      <section aria-label="Products" aria-busy=${list.loading ? 'true' : 'false'}>
        ${list.loading && html`<${Loading} what="products" />`}
        <${Failure} error=${list.error} />
        ${list.data &&
        html`<p class="muted" role="status">${list.data.total} product${list.data.total === 1 ? '' : 's'}</p>
          <${ProductGrid} items=${list.data.items} label=${`Products in ${cat ? cat.name : slug}`} />`}
      </section>
    </div>`;
}
