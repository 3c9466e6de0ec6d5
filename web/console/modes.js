// modes.js - changing a route's mode: the form (legacy / shadow / canary N / new, and the
// migration hold), then a confirmation step that says exactly what will change, then one
// PATCH to the admin API. Also used by the migration panel for a domain's next step
// (several routes in one install: PATCH /routes).
import { useState, useEffect, useRef } from 'preact/hooks';
import { html, Dialog, ErrorNote } from './ui.js';
import { admin } from './api.js';

export const MODES = ['legacy', 'shadow', 'canary', 'new'];

export function describe(r) {
  if (r.static) return `pages: ${r.static}`; // served by the gateway itself, no mode
  const mode = r.mode || 'legacy'; // the table's default
  const m = mode === 'canary' ? `canary ${r.canary_percent ?? 0} %` : mode;
  return r.hold ? `${m}, writes held` : m;
}

// {name -> changes} of a plan, applied in one install.
export async function applyPlan(plan) {
  const names = Object.keys(plan);
  if (names.length === 1) return admin(`/routes/${encodeURIComponent(names[0])}`, { method: 'PATCH', body: plan[names[0]] });
  return admin('/routes', { method: 'PATCH', body: { routes: plan } });
}

// The dialog for one route (route) or a prepared plan (plan: {name: changes}, summary).
export function ModeDialog({ route, plan, summary, onClose, onDone }) {
  const [mode, setMode] = useState((route && route.mode) || 'legacy');
  const [pct, setPct] = useState(route && route.canary_percent ? route.canary_percent : 10);
  const [hold, setHold] = useState(route ? !!route.hold : false);
  const [step, setStep] = useState(plan ? 'confirm' : 'choose');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const open = !!(route || plan);
  const confirmButton = useRef(null);
  useEffect(() => { // the step changed under the focus: put it on what the step asks
    if (open && step === 'confirm' && confirmButton.current) confirmButton.current.focus();
  }, [open, step]);
  useEffect(() => { // a new route or plan: start again from its current state
    if (route) {
      setMode(route.mode || 'legacy');
      setPct(route.canary_percent || 10);
      setHold(!!route.hold);
    }
    setStep(plan ? 'confirm' : 'choose');
    setError(null);
  }, [route && route.name, plan && summary]);
  const title = route ? `Change route ${route.name}` : 'Next migration step';

  const changes = () => {
    if (plan) return plan;
    const ch = { mode };
    if (mode === 'canary') ch.canary_percent = Number(pct);
    if (hold !== !!route.hold) ch.hold = hold;
    return { [route.name]: ch };
  };
  const wanted = () => (plan ? summary : describe({ mode, canary_percent: Number(pct), hold }));
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      const res = await applyPlan(changes());
      onDone(res);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const close = () => {
    setError(null);
    setStep(plan ? 'confirm' : 'choose');
    onClose();
  };

  return html`<${Dialog} id="mode-dialog" open=${open} title=${title} onClose=${close}>
    ${step === 'choose' && route
      ? html`<form onSubmit=${(e) => { e.preventDefault(); setStep('confirm'); }}>
          <fieldset>
            <legend>Mode</legend>
            ${MODES.map((m) => html`<label class="radio"><input type="radio" name="mode" value=${m}
              checked=${mode === m} onChange=${() => setMode(m)} /> ${m}</label>`)}
          </fieldset>
          ${mode === 'canary'
            ? html`<label>Canary share (% of users on new)
                <input type="number" name="canary_percent" min="0" max="100" required value=${pct}
                  onInput=${(e) => setPct(e.currentTarget.value)} /></label>`
            : null}
          <label class="check"><input type="checkbox" name="hold" checked=${hold}
            onChange=${(e) => setHold(e.currentTarget.checked)} /> Hold writes (a cutover's fence)</label>
          <div class="buttons">
            <button type="submit" class="primary">Review change</button>
            <button type="button" onClick=${close}>Cancel</button>
          </div>
        </form>`
      : html`<div>
          <p class="confirm-text">${route
            ? html`Route <strong>${route.name}</strong> (${route.path}) goes from <strong>${describe(route)}</strong> to <strong>${wanted()}</strong>.`
            : html`${summary}`}</p>
          <p>This changes live traffic at once and is written to the routes file.</p>
          <${ErrorNote} error=${error} />
          <div class="buttons">
            <button type="button" class="primary" ref=${confirmButton} disabled=${busy} onClick=${confirm}>Confirm</button>
            ${route ? html`<button type="button" onClick=${() => setStep('choose')}>Back</button>` : null}
            <button type="button" onClick=${close}>Cancel</button>
          </div>
        </div>`}
  <//>`;
}
