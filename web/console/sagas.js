// sagas.js - the Sagas panel: orders by state and age (orders' GET /api/v2/admin/sagas), one
// order's timeline across services (GET /api/v2/orders/{id}), and the saga services' dead
// letters, inspected and replayed (GET /api/v2/admin/dlq/<service>, POST .../replay), read
// through the admin listener's route table with the JWT of an admin account (signed in here:
// POST /api/v1/accounts/login). No back door: the services check that JWT as always.
import { useState } from 'preact/hooks';
import { html, usePoll, ErrorNote, Dialog } from './ui.js';
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

const DLQ_SERVICES = ['orders', 'inventory', 'payments'];

// One service's dead letters: each with its reason, the envelope on demand, and replay (one
// or all) behind a confirmation.
function DeadLetters({ service }) {
  const { data, error, reload } = usePoll(() => api(`/api/v2/admin/dlq/${service}`), 5000, [service]);
  const [open, setOpen] = useState(null); // event id whose envelope is shown
  const [ask, setAsk] = useState(null); // {event_id} or {all: true}
  const [done, setDone] = useState(null);
  const [failed, setFailed] = useState(null);
  const items = (data && data.items) || [];
  const replay = async () => {
    setFailed(null);
    try {
      const r = await api(`/api/v2/admin/dlq/${service}/replay`, { method: 'POST', body: ask });
      setDone(`${r.replayed} sent back to ${service}'s queue.`);
      setAsk(null);
      reload();
    } catch (e) {
      setFailed(e);
    }
  };
  return html`<div class="dlq" data-service=${service}>
    <h4>${service}: ${data ? data.count : '–'} parked</h4>
    <${ErrorNote} error=${error} />
    ${done ? html`<p class="note" role="status">${done}</p>` : null}
    ${items.length ? html`<table class="grid" id=${`dlq-${service}`}>
      <caption>Dead letters of ${service}, oldest first</caption>
      <thead><tr><th scope="col">Event</th><th scope="col">Type</th><th scope="col">Attempts</th><th scope="col">Parked at</th>
        <th scope="col">Last error</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>${items.map((d) => html`<tr data-event=${d.event_id}>
        <th scope="row"><code>${d.event_id}</code></th><td>${d.type}</td><td class="num">${d.attempts}</td><td>${d.died_at}</td><td>${d.error}</td>
        <td class="actions">
          <button type="button" aria-expanded=${open === d.event_id} onClick=${() => setOpen(open === d.event_id ? null : d.event_id)}
            aria-label=${`Inspect ${d.event_id}`}>Inspect</button>
          <button type="button" onClick=${() => { setDone(null); setAsk({ event_id: d.event_id }); }} aria-label=${`Replay ${d.event_id}`}>Replay…</button>
        </td>
      </tr>${open === d.event_id ? html`<tr class="envelope"><td colspan="6"><pre class="json" tabindex="0" aria-label=${`Envelope of ${d.event_id}`}>${JSON.stringify(d.envelope, null, 2)}</pre></td></tr>` : null}`)}</tbody>
    </table>
    <button type="button" onClick=${() => { setDone(null); setAsk({ all: true }); }}>Replay all of ${service}…</button>` : null}
    <${Dialog} id=${`dlq-dialog-${service}`} open=${!!ask} title=${`Replay ${service}'s dead letters`} onClose=${() => { setAsk(null); setFailed(null); }}>
      <p class="confirm-text">${ask && ask.all ? `Send all ${items.length} parked messages` : html`Send <code>${ask && ask.event_id}</code>`} back to
        ${' '}${service}'s queue, with a fresh attempt count?</p>
      <p>If the cause is not fixed, they fail again and come back here after their retries.</p>
      <${ErrorNote} error=${failed} />
      <div class="buttons">
        <button type="button" class="primary" onClick=${replay}>Replay</button>
        <button type="button" onClick=${() => { setAsk(null); setFailed(null); }}>Cancel</button>
      </div>
    <//>
  </div>`;
}

export function SagasPanel() {
  const [signed, setSigned] = useState(!!tokens.jwt());
  return html`<section aria-labelledby="sagas-h">
    <h2 id="sagas-h">Sagas</h2>
    ${signed ? html`<${Sagas} /><p><button type="button" onClick=${() => { tokens.setJwt(null); setSigned(false); }}>Sign out of the API</button></p>` : html`<${SignIn} onIn=${() => setSigned(true)} />`}
    <h3>Dead-letter queues</h3>
    ${signed
      ? DLQ_SERVICES.map((s) => html`<${DeadLetters} service=${s} />`)
      : html`<p>Sign in to see the messages the saga's consumers gave up on.</p>`}
  </section>`;
}
