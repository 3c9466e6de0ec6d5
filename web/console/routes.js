// routes.js - the Routes panel: every route's mode, upstreams with health and breakers, req/s
// and p99 per side (GET /stats), a chart of the chosen route over the last minute, the mode
// change (modes.js) and the change log (GET /events).
import { useState } from 'preact/hooks';
import { html, fmt, Chart, SIDE_COLOURS } from './ui.js';
import { ModeDialog, describe } from './modes.js';

function poolHealth(pools, name) {
  const p = pools && pools.find((x) => x.name === name);
  if (!p) return html`<span>–</span>`;
  return html`<ul class="servers">${p.servers.map((s) => html`<li>
    <span class=${s.healthy ? 'ok' : 'bad'}>${s.healthy ? 'up' : 'down'}</span> ${s.address}
    ${s.breaker && s.breaker.state !== 'closed' ? html` <span class="bad">breaker ${s.breaker.state}</span>` : null}
  </li>`)}</ul>`;
}

export function sideCells(st) {
  const l = st ? st.legacy : null;
  const n = st ? st.new : null;
  return html`<td class="num">${fmt.rps(l && l.rps)}</td><td class="num">${fmt.rps(n && n.rps)}</td>
    <td class="num">${fmt.ms(l && l.p99_ms)}</td><td class="num">${fmt.ms(n && n.p99_ms)}</td>`;
}

export function SideCharts({ name, stats }) {
  const st = stats && stats.routes[name];
  if (!st) return html`<p>No traffic on ${name} yet.</p>`;
  const series = (key) => [
    { label: 'legacy', colour: SIDE_COLOURS.legacy, values: st.legacy.series[key] },
    { label: 'new', colour: SIDE_COLOURS.new, values: st.new.series[key] },
  ];
  return html`<div class="charts">
    <${Chart} title=${`${name}: requests per second`} unit="req/s" at=${stats.at} series=${series('rps')}
      summary=${`legacy ${fmt.rps(st.legacy.rps)}, new ${fmt.rps(st.new.rps)} req/s over ${stats.window_s} s`} />
    <${Chart} title=${`${name}: p99 latency`} unit="ms" at=${stats.at} series=${series('p99_ms')}
      summary=${`legacy ${fmt.ms(st.legacy.p99_ms)}, new ${fmt.ms(st.new.p99_ms)}`} />
  </div>`;
}

export function ChangeLog({ events, limit = 30, types }) {
  const list = ((events && events.events) || []).filter((e) => !types || types.includes(e.type)).slice(0, limit);
  if (!list.length) return html`<p>Nothing yet.</p>`;
  return html`<ol class="log">${list.map((e) => html`<li>
    <time datetime=${e.at}>${e.at.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')}</time>
    <span class=${`tag ${e.type}`}>${e.type}</span> ${e.detail}</li>`)}</ol>`;
}

export function RoutesPanel({ state, refresh }) {
  const { routes, stats, upstreams, events } = state;
  const [editing, setEditing] = useState(null);
  const [chart, setChart] = useState(null);
  const [done, setDone] = useState(null);
  const list = (routes && routes.routes) || [];
  const shown = chart || (list.find((r) => r.new) || list[0] || {}).name;
  return html`<section aria-labelledby="routes-h">
    <h2 id="routes-h">Routes</h2>
    ${done ? html`<p class="note" role="status">${done}</p>` : null}
    <div class="scroll"><table class="grid" id="routes-table">
      <caption>Every route of the installed table; req/s and p99 over the last ${stats ? stats.window_s : 60} s</caption>
      <thead>
        <tr><th scope="col" rowspan="2">Route</th><th scope="col" rowspan="2">Path</th><th scope="col" rowspan="2">Mode</th>
          <th scope="col" rowspan="2">Legacy upstream</th><th scope="col" rowspan="2">New upstream</th>
          <th scope="colgroup" colspan="2">req/s</th><th scope="colgroup" colspan="2">p99</th><th scope="col" rowspan="2"><span class="sr">Actions</span></th></tr>
        <tr><th scope="col">legacy</th><th scope="col">new</th><th scope="col">legacy</th><th scope="col">new</th></tr>
      </thead>
      <tbody>${list.map((r) => html`<tr data-route=${r.name}>
        <th scope="row">${r.name}</th>
        <td><code>${r.path}</code></td>
        <td class="mode"><span class=${`mode-${r.static ? 'static' : r.mode || 'legacy'}`}>${describe(r)}</span></td>
        <td>${r.legacy || '–'} ${poolHealth(upstreams && upstreams.pools, r.legacy)}</td>
        <td>${r.new || '–'} ${r.new ? poolHealth(upstreams && upstreams.pools, r.new) : null}</td>
        ${sideCells(stats && stats.routes[r.name])}
        <td class="actions">
          ${r.static ? null : html`<button type="button" onClick=${() => setEditing(r)} aria-label=${`Change mode of ${r.name}`}>Change mode…</button>`}
          <button type="button" onClick=${() => setChart(r.name)} aria-label=${`Chart ${r.name}`} aria-pressed=${shown === r.name}>Chart</button>
        </td>
      </tr>`)}</tbody>
    </table></div>
    ${shown ? html`<${SideCharts} name=${shown} stats=${stats} />` : null}
    <h3>Change log</h3>
    <${ChangeLog} events=${events} />
    <${ModeDialog} route=${editing} onClose=${() => setEditing(null)}
      onDone=${(res) => { setDone(`Installed routes version ${res.version}.`); setEditing(null); refresh(); }} />
  </section>`;
}
