// sagas.js - the Sagas panel: orders by state and age (orders' GET /api/v2/admin/sagas) and
// one order's timeline across services (GET /api/v2/orders/{id}), read through the admin
// listener's route table with the JWT of an admin account (signed in here:
// POST /api/v1/accounts/login). No back door: the services check that JWT as always.
import { useState } from 'preact/hooks';
import { html, usePoll, ErrorNote } from './ui.js';
import { api, tokens } from './api.js';

const STATES = ['PENDING', 'CONFIRMED', 'CANCELLED', 'REJECTED'];
const LIMIT = 50;

function SignIn({ onIn }) {
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setError(null);
    try {
      const r = await api('/api/v1/accounts/login', { method: 'POST', body: { email: f.get('email'), password: f.get('password') } });
      if (!r.user || r.user.role !== 'admin') throw new Error('this account is not an admin');
      tokens.setJwt(r.token);
      onIn();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="signin" onSubmit=${submit} aria-labelledby="signin-h">
    <h3 id="signin-h">Sign in with an admin account</h3>
    <p>The sagas come from the orders service's admin API, which wants an admin's JWT.</p>
    <label>Email <input type="email" name="email" autocomplete="username" required /></label>
    <label>Password <input type="password" name="password" autocomplete="current-password" required /></label>
    <${ErrorNote} error=${error} />
    <button type="submit" class="primary">Sign in</button>
  </form>`;
}

function Timeline({ id }) {
  const { data, error } = usePoll(() => api(`/api/v2/orders/${encodeURIComponent(id)}`), 3000, [id]);
  return html`<div id="timeline">
    <h3>Order ${id}${data ? `: ${data.status}${data.reason ? ` (${data.reason})` : ''}` : ''}</h3>
    <${ErrorNote} error=${error} />
    ${data ? html`<table class="grid"><caption>Timeline of order ${id}, trace ${data.trace_id}</caption>
      <thead><tr><th scope="col">At</th><th scope="col">Direction</th><th scope="col">Event</th><th scope="col">Service</th><th scope="col">Note</th></tr></thead>
      <tbody>${(data.timeline || []).map((e) => html`<tr><td>${e.at}</td><td>${e.direction}</td><th scope="row">${e.type}</th><td>${e.service}</td><td>${e.note}</td></tr>`)}</tbody>
    </table>` : null}
  </div>`;
}

function Sagas() {
  const [filter, setFilter] = useState({ state: 'PENDING', older: 0 });
  const [order, setOrder] = useState(null);
  const counts = usePoll(() => Promise.all(STATES.map((s) => api(`/api/v2/admin/sagas?state=${s}&limit=${LIMIT}`))), 5000);
  const page = usePoll(() => api(`/api/v2/admin/sagas?${filter.state ? `state=${filter.state}&` : ''}older_than=${filter.older}&limit=${LIMIT}`), 2000, [filter.state, filter.older]);
  const err = page.error || counts.error;
  return html`<div>
    ${err && err.status === 401 ? html`<p role="alert">The sign-in expired. <button type="button" onClick=${() => { tokens.setJwt(null); location.reload(); }}>Sign in again</button></p>` : html`<${ErrorNote} error=${err} />`}
    <table class="grid" id="saga-counts"><caption>Orders by state (at most ${LIMIT} counted each)</caption>
      <thead><tr>${STATES.map((s) => html`<th scope="col">${s}</th>`)}</tr></thead>
      <tbody><tr>${STATES.map((s, i) => {
        const n = counts.data ? counts.data[i].items.length : null;
        return html`<td class="num">${n == null ? '–' : n >= LIMIT ? `${LIMIT}+` : n}</td>`;
      })}</tr></tbody>
    </table>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label>State <select value=${filter.state} onChange=${(e) => setFilter({ ...filter, state: e.currentTarget.value })}>
        <option value="">any</option>${STATES.map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
      <label>Older than (s) <input type="number" min="0" value=${filter.older} onInput=${(e) => setFilter({ ...filter, older: Number(e.currentTarget.value) || 0 })} /></label>
    </form>
    <table class="grid" id="sagas-table"><caption>Orders ${filter.state || 'in any state'} older than ${filter.older} s, oldest first</caption>
      <thead><tr><th scope="col">Order</th><th scope="col">State</th><th scope="col">Reason</th><th scope="col">Age</th><th scope="col">Placed</th><th scope="col"><span class="sr">Timeline</span></th></tr></thead>
      <tbody>${((page.data && page.data.items) || []).map((o) => html`<tr>
        <th scope="row">${o.id}</th><td>${o.status}</td><td>${o.reason || '–'}</td><td class="num">${o.age_s} s</td><td>${o.created_at}</td>
        <td><button type="button" onClick=${() => setOrder(o.id)} aria-label=${`Timeline of order ${o.id}`}>Timeline</button></td>
      </tr>`)}</tbody>
    </table>
    ${order ? html`<${Timeline} id=${order} />` : null}
  </div>`;
}

export function SagasPanel() {
  const [signed, setSigned] = useState(!!tokens.jwt());
  return html`<section aria-labelledby="sagas-h">
    <h2 id="sagas-h">Sagas</h2>
    ${signed ? html`<${Sagas} /><p><button type="button" onClick=${() => { tokens.setJwt(null); setSigned(false); }}>Sign out of the API</button></p>` : html`<${SignIn} onIn=${() => setSigned(true)} />`}
    <h3>Dead-letter queues</h3>
    <p class="note">Messages a service's consumer gave up on after its retries wait in that
      service's dead-letter queue (<code>SERVICE.dlq</code>, <code>lib/mq_dlq.c</code>). No HTTP API
      exposes them yet, so this page cannot; inspect and replay them with
      <code>soukctl dlq list SERVICE</code>, <code>soukctl dlq show SERVICE EVENT_ID</code> and
      <code>soukctl dlq replay SERVICE EVENT_ID</code> (<code>tools/soukctl/dlq.c</code>).</p>
  </section>`;
}
