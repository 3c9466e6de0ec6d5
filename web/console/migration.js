// migration.js - the Migration panel, with what the gateway's admin API can tell: each domain
// (the routes that share a new upstream) and the step its routes are at, their holds and the
// writes in flight (GET /holds), each domain's souk-sync as the gateway reads it (GET /sync:
// lag over time, applied rate), the migration record soukctl migrate reports (GET /migration:
// step, who, when, the last verify with the differing ids, the log), the cutover hold times
// (hold_end events), and the buttons for the steps the gateway alone may take (legacy ->
// shadow -> canary 10 %, and back to legacy). The cutover itself stays `soukctl migrate
// DOMAIN cutover`: it syncs, fences, verifies and records, which a route PATCH does not.
import { useState } from 'preact/hooks';
import { html, usePoll, Chart, ErrorNote } from './ui.js';
import { admin } from './api.js';
import { ModeDialog, describe } from './modes.js';
import { ChangeLog } from './routes.js';

const ORDER = ['legacy', 'shadow', 'canary', 'new'];

function domains(routes) {
  const out = {};
  for (const r of routes) if (r.new && r.legacy) (out[r.new] = out[r.new] || []).push(r);
  return out;
}

// The step a domain is at: its least advanced route.
function stepOf(rs) {
  return rs.reduce((m, r) => (ORDER.indexOf(r.mode) < ORDER.indexOf(m.mode) ? r : m), rs[0]);
}

function nextPlan(rs) {
  const step = stepOf(rs).mode;
  const to = step === 'legacy' ? { mode: 'shadow' } : step === 'shadow' ? { mode: 'canary', canary_percent: 10 } : null;
  if (!to) return null;
  return { plan: Object.fromEntries(rs.map((r) => [r.name, to])), label: to.mode === 'canary' ? 'canary 10 %' : to.mode };
}

const num = (v, unit = '') => (v == null ? '–' : `${Number.isInteger(v) ? v : v.toFixed(1)}${unit}`);

function SyncPanel() {
  const { data, error } = usePoll(() => admin('/sync'), 2000);
  const doms = Object.entries((data && data.domains) || {});
  return html`<div>
    <${ErrorNote} error=${error} />
    ${doms.length === 0
      ? html`<p class="note">The gateway watches no souk-sync (<code>SOUK_GATEWAY_SYNC</code> is empty).</p>`
      : html`<table class="grid" id="sync-table">
      <caption>Each domain's souk-sync, read from its /metrics every ${data.every_ms / 1000} s</caption>
      <thead><tr><th scope="col">Domain</th><th scope="col">Sync</th><th scope="col">Lag</th><th scope="col">Lag (events)</th>
        <th scope="col">Applied/s</th><th scope="col">Applied</th><th scope="col">Errors</th></tr></thead>
      <tbody>${doms.map(([d, s]) => html`<tr data-domain=${d}>
        <th scope="row">${d}</th>
        <td><span class=${s.up ? 'ok' : 'bad'}>${s.up ? 'up' : 'down'}</span> ${s.address}${s.refused ? html` <span class="bad">refused</span>` : null}
          ${s.error ? html`<div class="small">${s.error}</div>` : null}</td>
        <td class="num">${num(s.lag_seconds, ' s')}</td><td class="num">${num(s.lag_events)}</td>
        <td class="num">${num(s.applied_per_second)}</td><td class="num">${num(s.applied_total)}</td><td class="num">${num(s.errors_total)}</td>
      </tr>`)}</tbody></table>
      ${doms.filter(([, s]) => s.series.at.length > 1).map(([d, s]) => html`<div class="charts">
        <${Chart} title=${`${d}: sync lag`} unit="s" times=${s.series.at}
          series=${[{ label: 'lag', colour: '#1a56a0', values: s.series.lag_seconds }]}
          summary=${`lag now ${num(s.lag_seconds, ' s')}`} />
        <${Chart} title=${`${d}: applied per second`} unit="rows/s" times=${s.series.at}
          series=${[{ label: 'applied/s', colour: '#17663a', values: s.series.applied_per_second }]}
          summary=${`${num(s.applied_per_second)} applied per second now`} />
      </div>`)}`}
  </div>`;
}

function RecordPanel() {
  const { data, error } = usePoll(() => admin('/migration'), 3000);
  const doms = Object.entries((data && data.domains) || {});
  return html`<div>
    <${ErrorNote} error=${error} />
    ${doms.length === 0
      ? html`<p class="note">No step reported yet: <code>soukctl migrate</code> reports each step here as it runs, and
          <code>soukctl migrate status</code> sends every domain again.</p>`
      : html`<table class="grid" id="record-table">
      <caption>The migration record, as soukctl migrate reported it</caption>
      <thead><tr><th scope="col">Domain</th><th scope="col">At step</th><th scope="col">Last run</th><th scope="col">By, at</th>
        <th scope="col">Last verify</th><th scope="col">Log</th></tr></thead>
      <tbody>${doms.map(([d, r]) => html`<tr data-domain=${d}>
        <th scope="row">${d}</th>
        <td>${r.done_step || '–'}${r.done_step === 'canary' && r.canary_percent != null ? ` ${r.canary_percent} %` : ''}</td>
        <td><span class=${r.status === 'failed' ? 'bad' : r.status === 'done' ? 'ok' : ''}>${r.step} ${r.status}</span>
          ${r.detail ? html`<div class="small">${r.detail}</div>` : null}</td>
        <td>${r.updated_by || '–'}<div class="small">${r.updated_at || ''}</div></td>
        <td class="verify">${r.verify_ok == null ? 'never'
          : html`<span class=${r.verify_ok ? 'ok' : 'bad'}>${r.verify_ok ? 'agreed' : 'differed'}</span> <span class="small">${r.verify_at}</span>
            ${r.verify_detail ? html`<div class="small">${r.verify_detail}</div>` : null}`}</td>
        <td>${r.log && r.log.length ? html`<details><summary>${r.log.length} lines</summary><pre class="log">${r.log.join('\n')}</pre></details>` : '–'}</td>
      </tr>`)}</tbody></table>`}
  </div>`;
}

export function MigrationPanel({ state, refresh }) {
  const { routes, holds, events } = state;
  const [plan, setPlan] = useState(null);
  const list = (routes && routes.routes) || [];
  const doms = Object.entries(domains(list));
  return html`<section aria-labelledby="migration-h">
    <h2 id="migration-h">Migration</h2>
    <table class="grid" id="domains-table">
      <caption>Domains (routes sharing a new upstream) and their step at the gateway</caption>
      <thead><tr><th scope="col">Domain</th><th scope="col">Routes</th><th scope="col">Step</th><th scope="col">Writes held / in flight</th><th scope="col">Next step</th></tr></thead>
      <tbody>${doms.map(([d, rs]) => {
        const next = nextPlan(rs);
        const held = rs.reduce((n, r) => n + ((holds && holds.routes[r.name] && holds.routes[r.name].held) || 0), 0);
        const out = rs.reduce((n, r) => n + ((holds && holds.routes[r.name] && holds.routes[r.name].writes_in_flight) || 0), 0);
        return html`<tr data-domain=${d}>
          <th scope="row">${d}</th>
          <td>${rs.map((r) => html`<div>${r.name}: ${describe(r)}</div>`)}</td>
          <td>${stepOf(rs).mode}${rs.some((r) => r.hold) ? ', held' : ''}</td>
          <td class="num">${held} / ${out}</td>
          <td>
            ${next ? html`<button type="button" onClick=${() => setPlan({ plan: next.plan, summary: `Move every route of ${d} (${rs.map((r) => r.name).join(', ')}) to ${next.label}. This changes the routes only; soukctl migrate ${d} ${next.plan[rs[0].name].mode} also records the step.` })}>To ${next.label}…</button>` : html`<span>${stepOf(rs).mode === 'new' ? 'then' : 'cutover:'} <code>soukctl migrate ${d} ${stepOf(rs).mode === 'new' ? 'finish' : 'cutover'}</code></span>`}
            ${stepOf(rs).mode !== 'legacy' || rs.some((r) => r.mode !== 'legacy')
              ? html` <button type="button" onClick=${() => setPlan({ plan: Object.fromEntries(rs.map((r) => [r.name, { mode: 'legacy' }])), summary: `Move every route of ${d} back to legacy.` })}>Back to legacy…</button>`
              : null}
          </td>
        </tr>`;
      })}</tbody>
    </table>
    <h3>The migration record</h3>
    <${RecordPanel} />
    <h3>Cutover holds</h3>
    <${ChangeLog} events=${events} types=${['hold_start', 'hold_end']} />
    <h3>Sync</h3>
    <${SyncPanel} />
    <${ModeDialog} plan=${plan && plan.plan} summary=${plan && plan.summary} onClose=${() => setPlan(null)}
      onDone=${() => { setPlan(null); refresh(); }} />
  </section>`;
}
