// canary.js - the Canary panel: each canaried route's split (the configured share and the
// decisions actually made), error rates per side over the last minute with their chart, the
// rollback rule, and the automatic rollbacks the gateway made (GET /events).
import { html, fmt, Chart, SIDE_COLOURS } from './ui.js';
import { ChangeLog } from './routes.js';

function rate(series) {
  // errors per 100 requests each second, null where there was no request
  return series.rps.map((n, i) => (n ? (100 * (series.errors[i] || 0)) / n : null));
}

export function CanaryPanel({ state }) {
  const { routes, stats, events } = state;
  const list = ((routes && routes.routes) || []).filter((r) => r.mode === 'canary' || (r.new && stats && stats.routes[r.name] && stats.routes[r.name].canary.new > 0));
  return html`<section aria-labelledby="canary-h">
    <h2 id="canary-h">Canary</h2>
    <table class="grid" id="canary-table">
      <caption>Canaried routes; error rates over the last ${stats ? stats.window_s : 60} s</caption>
      <thead><tr><th scope="col">Route</th><th scope="col">Mode</th><th scope="col">Share on new</th><th scope="col">Decisions new / legacy</th>
        <th scope="col">Errors legacy</th><th scope="col">Errors new</th><th scope="col">Rollback rule</th></tr></thead>
      <tbody>${list.map((r) => {
        const st = stats && stats.routes[r.name];
        const c = st ? st.canary : { new: 0, legacy: 0 };
        const rb = r.rollback;
        return html`<tr data-route=${r.name}>
          <th scope="row">${r.name}</th><td>${r.mode}</td><td class="num">${r.mode === 'canary' ? `${r.canary_percent} %` : '–'}</td>
          <td class="num">${c.new} / ${c.legacy} (${fmt.pct(c.new + c.legacy ? c.new / (c.new + c.legacy) : null)})</td>
          <td class="num">${fmt.pct(st && st.legacy.error_rate)}</td><td class="num">${fmt.pct(st && st.new.error_rate)}</td>
          <td>${rb ? `over ${fmt.pct(rb.error_rate)} in ${rb.window_ms / 1000} s (at least ${rb.min_requests} requests)` : 'none'}</td>
        </tr>`;
      })}</tbody>
    </table>
    ${list.length === 0 ? html`<p>No route is in canary mode.</p>` : null}
    ${list.filter((r) => stats && stats.routes[r.name]).map((r) => {
      const st = stats.routes[r.name];
      return html`<${Chart} title=${`${r.name}: error rate per side`} unit="% errors" range=${[0, 100]} at=${stats.at}
        series=${[
          { label: 'legacy', colour: SIDE_COLOURS.legacy, values: rate(st.legacy.series) },
          { label: 'new', colour: SIDE_COLOURS.new, values: rate(st.new.series) },
        ]}
        summary=${`legacy ${fmt.pct(st.legacy.error_rate)}, new ${fmt.pct(st.new.error_rate)}`} />`;
    })}
    <h3>Automatic rollbacks</h3>
    <${ChangeLog} events=${events} types=${['rollback', 'rollback_failed']} />
  </section>`;
}
