// search.js - the results page (v2 search: ranked, facets, typo correction; v1 search without
// facets when v2 is not routed) and the header's search box with type-ahead suggestions
// (GET /api/v2/search/suggest).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, qs } from '../api.js';
import { Failure, html, Link, Loading, navigate, PageTitle, query, useAsync } from '../ui.js';
import { ProductGrid } from './catalog.js';

async function search(params) {
  try {
    return (await api('GET', `/api/v2/search${qs({ ...params, limit: 24 })}`)).data;
  } catch (e) {
    if (e.status !== 404 && e.status !== 502 && e.status !== 503) throw e;
    const v1 = { ...params, limit: 24 };
    for (const k of Object.keys(v1)) {
      if (k.startsWith('attr.')) {
        v1[k.slice(5)] = v1[k];
        delete v1[k];
      }
    }
    delete v1.brand;
    return (await api('GET', `/api/v1/search${qs(v1)}`)).data;
  }
}

const priceLabel = (b) =>
  b.max === null ? `${(b.min / 100).toFixed(0)} € and up` : `${(b.min / 100).toFixed(0)}–${(b.max / 100).toFixed(0)} €`;

// One facet group: each value is a link that sets (or, when set, clears) its filter.
function Facet({ title, values, param, params, label = (v) => v.value }) {
  if (!values || !values.length) return null;
  return html`<section class="facet" aria-label=${title}>
    <h3>${title}</h3>
    <ul>
      ${values.map((v) => {
        const on = params[param] === v.value;
        const next = { ...params, page: undefined, [param]: on ? undefined : v.value };
        return html`<li key=${v.value}>
          <${Link} href=${`/search${qs(next)}`} aria-current=${on ? 'true' : undefined}>
            ${on ? '✓ ' : ''}${label(v)} <span class="muted">(${v.count})</span>
          <//>
        </li>`;
      })}
    </ul>
  </section>`;
}

function PriceFacet({ values, params }) {
  const used = (values || []).filter((b) => b.count > 0);
  if (!used.length) return null;
  return html`<section class="facet" aria-label="Price">
    <h3>Price</h3>
    <ul>
      ${used.map((b) => {
        const on = params.min_price === String(b.min);
        const next = { ...params, page: undefined, min_price: on ? undefined : b.min, max_price: on || b.max === null ? undefined : b.max - 1 };
        return html`<li key=${b.min}>
          <${Link} href=${`/search${qs(next)}`} aria-current=${on ? 'true' : undefined}>${on ? '✓ ' : ''}${priceLabel(b)} <span class="muted">(${b.count})</span><//>
        </li>`;
      })}
    </ul>
  </section>`;
}

export function Search() {
  const params = query();
  const key = location.search;
  const res = useAsync(() => (params.q ? search(params) : Promise.resolve(null)), [key]);
  const d = res.data;
  const f = d && d.facets;
  return html`<${PageTitle} title=${`Search: ${params.q || ''}`}>Results for “${params.q || ''}”<//>
    ${d && d.corrected_query &&
    html`<p class="note" role="status">No results for “${d.query}”. Showing results for “<strong>${d.corrected_query}</strong>”.</p>`}
    <div class="with-aside">
      <aside aria-label="Refine">
        ${f &&
        html`<${Facet} title="Category" values=${f.category} param="category" params=${params} label=${(v) => v.name} />
          <${Facet} title="Brand" values=${f.brand} param="brand" params=${params} />
          <${PriceFacet} values=${f.price} params=${params} />
          ${Object.entries(f.attributes || {}).map(
            ([name, values]) => html`<${Facet} key=${name} title=${name.replace(/_/g, ' ')} values=${values} param=${`attr.${name}`} params=${params} />`,
          )}`}
      </aside>
      <section aria-label="Search results" aria-busy=${res.loading ? 'true' : 'false'}>
        ${res.loading && html`<${Loading} what="results" />`}
        <${Failure} error=${res.error} />
        ${d && html`<p class="muted" role="status">${d.total}${d.total_exact === false ? '+' : ''} result${d.total === 1 ? '' : 's'}</p>
          <${ProductGrid} items=${d.items} label="Search results" />`}
      </section>
    </div>`;
}

// The header's search form: suggestions appear as links under the box as one types.
export function SearchBox() {
  const [text, setText] = useState(query().q || '');
  const [suggestions, setSuggestions] = useState([]);
  const timer = useRef();
  useEffect(() => {
    clearTimeout(timer.current);
    if (text.trim().length < 2) {
      setSuggestions([]);
      return undefined;
    }
    timer.current = setTimeout(() => {
      api('GET', `/api/v2/search/suggest${qs({ q: text, limit: 6 })}`).then(
        (r) => setSuggestions(r.data.suggestions),
        () => setSuggestions([]),
      );
    }, 150);
    return () => clearTimeout(timer.current);
  }, [text]);
  const submit = (e) => {
    e.preventDefault();
    if (!text.trim()) return;
    setSuggestions([]);
    navigate(`/search${qs({ q: text.trim() })}`);
  };
  return html`<form role="search" class="searchbox" onSubmit=${submit}>
    <label for="q" class="sr-only">Search products</label>
    <input id="q" type="search" name="q" placeholder="Search products" autocomplete="off"
      value=${text} onInput=${(e) => setText(e.currentTarget.value)}
      aria-describedby=${suggestions.length ? 'suggest-h' : undefined} />
    <button type="submit">Search</button>
    ${suggestions.length > 0 &&
    html`<div class="suggest">
      <p id="suggest-h" class="sr-only" aria-live="polite">${suggestions.length} suggestions below</p>
      <ul aria-label="Suggestions">
        ${suggestions.map((s) => html`<li key=${s.id}><${Link} href=${`/product/${s.id}`} onClick=${() => setSuggestions([])}>${s.name}<//></li>`)}
      </ul>
    </div>`}
  </form>`;
}
