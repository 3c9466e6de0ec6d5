// shadow.js - the Shadow panel: per route, how many mirrored reads matched, mismatched or were
// dropped (GET /shadow), and the latest mismatches side by side: the legacy answer and the
// new one, pretty-printed, with every differing JSON path highlighted (the route's
// shadow.ignore pointers left out, as the gateway does).
import { useState } from 'preact/hooks';
import { html, fmt, usePoll, ErrorNote } from './ui.js';
import { admin } from './api.js';
import { diffPaths, jsonLines, parseBody } from './jsondiff.js';

function Side({ label, side, other, ignore }) {
  const mine = parseBody(side.body);
  const theirs = parseBody(other.body);
  let lines;
  if (mine === undefined || theirs === undefined) {
    lines = [{ text: side.body || '(empty)', hit: side.body !== other.body }];
  } else {
    lines = jsonLines(mine, diffPaths(mine, theirs, ignore));
  }
  return html`<div class="side">
    <h4>${label}: status ${side.status}${side.truncated ? ' (body cut)' : ''}</h4>
    <pre class="json" tabindex="0" aria-label=${`${label} answer`}>${lines.map((l) =>
      l.hit ? html`<mark class="diff line">${l.text}</mark>` : html`<span class="line">${l.text}</span>`)}</pre>
  </div>`;
}

export function Diff({ sample, ignore }) {
  const paths = (() => {
    const a = parseBody(sample.legacy.body);
    const b = parseBody(sample.new.body);
    return a === undefined || b === undefined ? [] : [...diffPaths(a, b, ignore)];
  })();
  return html`<div class="diff-view" id="diff-view">
    <p><strong>${sample.request}</strong> at ${sample.at}: the gateway saw the first difference at <code>${sample.where}</code>.
      ${paths.length ? html` Differing paths: ${paths.map((p, i) => html`${i ? ', ' : ''}<code class="path">${p || '(root)'}</code>`)}.` : null}</p>
    <div class="sides">
      <${Side} label="legacy" side=${sample.legacy} other=${sample.new} ignore=${ignore} />
      <${Side} label="new" side=${sample.new} other=${sample.legacy} ignore=${ignore} />
    </div>
  </div>`;
}

export function ShadowPanel({ state }) {
  const { data, error } = usePoll(() => admin('/shadow'), 2000);
  const [pick, setPick] = useState(null);
  const routes = (state.routes && state.routes.routes) || [];
  const byName = Object.fromEntries(routes.map((r) => [r.name, r]));
  const rows = Object.entries((data && data.routes) || {});
  // A pick names its sample by time and request: new samples push the old ones down the list.
  const sel = pick && data && data.routes[pick.route]
    ? data.routes[pick.route].samples.find((x) => x.at === pick.at && x.request === pick.request) || null
    : null;
  return html`<section aria-labelledby="shadow-h">
    <h2 id="shadow-h">Shadow</h2>
    <${ErrorNote} error=${error} />
    <p>Routes in <strong>shadow</strong> mode now: ${routes.filter((r) => r.mode === 'shadow').map((r) => r.name).join(', ') || 'none'}.</p>
    <table class="grid" id="shadow-table">
      <caption>Mirrored reads compared since the gateway started</caption>
      <thead><tr><th scope="col">Route</th><th scope="col">Mode</th><th scope="col">Matches</th><th scope="col">Mismatches</th>
        <th scope="col">Dropped</th><th scope="col">Mismatch rate</th></tr></thead>
      <tbody>${rows.map(([name, s]) => html`<tr data-route=${name}>
        <th scope="row">${name}</th><td>${byName[name] ? byName[name].mode : '–'}</td>
        <td class="num">${s.matches}</td><td class="num mismatches">${s.mismatches}</td><td class="num">${s.dropped}</td>
        <td class="num">${fmt.pct(s.matches + s.mismatches ? s.mismatches / (s.matches + s.mismatches) : null)}</td>
      </tr>`)}</tbody>
    </table>
    ${rows.length === 0 ? html`<p>No route has been shadowed yet.</p>` : null}
    <h3>Latest differences</h3>
    ${rows.filter(([, s]) => s.samples.length).map(([name, s]) => html`<div class="samples">
      <h4>${name}</h4>
      <ul>${s.samples.map((x) => html`<li><button type="button" class="link"
        aria-pressed=${!!(sel && sel === x)}
        onClick=${() => setPick({ route: name, at: x.at, request: x.request })}>${x.at} ${x.request} (${x.where})</button></li>`)}</ul>
    </div>`)}
    ${sel ? html`<${Diff} sample=${sel} ignore=${(byName[pick.route] && byName[pick.route].shadow && byName[pick.route].shadow.ignore) || []} />` : null}
  </section>`;
}
