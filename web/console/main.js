// The control room (served by the gateway's admin listener at /): asks for the admin token,
// then polls the admin API every 1.5 s and shows the panel the location's hash names. Hash
// routes (#/shadow) keep the page's own paths apart from the admin API's (/routes, /stats).
import { render } from 'preact';
import { useState, useEffect } from 'preact/hooks';
import { html, usePoll, fmt, ErrorNote } from './ui.js';
import { admin, tokens, ApiError } from './api.js';
import { RoutesPanel } from './routes.js';
import { ShadowPanel } from './shadow.js';
import { CanaryPanel } from './canary.js';
import { MigrationPanel } from './migration.js';
import { SagasPanel } from './sagas.js';

const PANELS = [
  ['routes', 'Routes', RoutesPanel],
  ['shadow', 'Shadow', ShadowPanel],
  ['canary', 'Canary', CanaryPanel],
  ['migration', 'Migration', MigrationPanel],
  ['sagas', 'Sagas', SagasPanel],
];

function useHash() {
  const get = () => (location.hash.replace(/^#\/?/, '') || 'routes');
  const [h, setH] = useState(get());
  useEffect(() => {
    const on = () => setH(get());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return h;
}

function TokenForm({ onOk }) {
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const t = new FormData(e.currentTarget).get('token');
    tokens.setAdmin(t);
    try {
      await admin('/routes');
      onOk();
    } catch (err) {
      tokens.setAdmin(null);
      setError(err.status === 401 ? new ApiError(401, { detail: 'that token is not the admin token' }) : err);
    }
  };
  return html`<main id="main"><form class="token" onSubmit=${submit}>
    <h2>Admin token</h2>
    <p>The control room talks to the gateway's admin API with its token (<code>SOUK_GATEWAY_ADMIN_TOKEN</code>). It is kept for this tab only.</p>
    <label>Token <input type="password" name="token" autocomplete="off" required /></label>
    <${ErrorNote} error=${error} />
    <button type="submit" class="primary">Open the control room</button>
  </form></main>`;
}

async function fetchState() {
  const [routes, stats, upstreams, events, holds] = await Promise.all(
    ['/routes', '/stats?window=60', '/upstreams', '/events', '/holds'].map((p) => admin(p)),
  );
  return { routes, stats, upstreams, events, holds };
}

function Room({ onLogout }) {
  const panel = useHash();
  const { data, error, at, reload } = usePoll(fetchState);
  useEffect(() => {
    if (error && error.status === 401) onLogout();
  }, [error]);
  const [, , Panel] = PANELS.find(([k]) => k === panel) || PANELS[0];
  return html`<nav aria-label="Panels"><ul>${PANELS.map(([k, label]) => html`<li>
      <a href=${`#/${k}`} aria-current=${k === panel ? 'page' : undefined}>${label}</a></li>`)}</ul>
      <p class="live">Updated <span id="updated">${fmt.time(at)}</span>${' '}
        <button type="button" class="link" onClick=${onLogout}>Forget token</button></p>
    </nav>
    <main id="main">
      <${ErrorNote} error=${error} />
      ${data ? html`<${Panel} state=${data} refresh=${reload} />` : html`<p>Loading…</p>`}
    </main>`;
}

function App() {
  const [ok, setOk] = useState(!!tokens.admin());
  return html`<header><h1>souk control room</h1></header>
    ${ok ? html`<${Room} onLogout=${() => { tokens.setAdmin(null); setOk(false); }} />` : html`<${TokenForm} onOk=${() => setOk(true)} />`}`;
}

render(html`<${App} />`, document.getElementById('app'));
