// ui.js - what the panels share: htm bound to Preact, a polling hook, the uPlot chart, the
// modal dialog (native <dialog>: focus stays inside, Escape closes, focus returns to the
// button that opened it) and number formatting.
import { h } from 'preact';
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import htm from 'htm';
import uPlot from 'uplot';

export const html = htm.bind(h);
export const POLL_MS = 1500;

// Call fetcher now and every ms; {data, error, at, reload}. A failed poll keeps the last data.
export function usePoll(fetcher, ms = POLL_MS, deps = []) {
  const [state, setState] = useState({ data: null, error: null, at: null });
  const alive = useRef(true);
  const run = useCallback(async () => {
    try {
      const data = await fetcher();
      if (alive.current) setState({ data, error: null, at: new Date() });
    } catch (e) {
      if (alive.current) setState((s) => ({ ...s, error: e }));
    }
  }, deps);
  useEffect(() => {
    alive.current = true;
    run();
    const id = setInterval(run, ms);
    return () => {
      alive.current = false;
      clearInterval(id);
    };
  }, [run, ms]);
  return { ...state, reload: run };
}

export const fmt = {
  rps: (v) => (v == null ? '–' : v >= 10 ? v.toFixed(0) : v.toFixed(1)),
  ms: (v) => (v == null ? '–' : v >= 10 ? `${v.toFixed(0)} ms` : `${v.toFixed(2)} ms`),
  pct: (v) => (v == null ? '–' : `${(v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1)} %`),
  time: (d) => (d ? d.toLocaleTimeString('en-GB', { hour12: false }) : '–'),
};

export const SIDE_COLOURS = { legacy: '#1a56a0', new: '#a3400d' }; // 4.5:1 or more on white

// A line chart of one or more series over the last seconds (x: unix seconds). uPlot draws on
// a canvas, so the figure carries a text summary for screen readers.
// x: `times` (unix seconds, one per value), or one a second ending at `at`.
export function Chart({ title, at, times, series, unit, summary, range }) {
  const box = useRef(null);
  const plot = useRef(null);
  const n = series.length ? series[0].values.length : 0;
  const xs = times || Array.from({ length: n }, (_, i) => at - (n - 1 - i));
  const data = [xs, ...series.map((s) => s.values)];
  useEffect(() => {
    if (!box.current) return undefined;
    plot.current = new uPlot(
      {
        width: Math.max(320, box.current.clientWidth || 560),
        height: 180,
        legend: { show: false },
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.colour, width: 2, spanGaps: false, points: { show: true, size: 5, fill: s.colour } }))],
        axes: [{}, { label: unit, size: 60 }],
        scales: { x: { time: true }, y: { range: range || ((u, min, max) => [0, max > 0 ? max * 1.1 : 1]) } },
      },
      data,
      box.current,
    );
    return () => plot.current && plot.current.destroy();
  }, [series.map((s) => s.label).join()]);
  useEffect(() => {
    if (plot.current) plot.current.setData(data);
  });
  return html`<figure class="chart">
    <figcaption>
      <strong>${title}</strong>
      ${series.map((s) => html` <span class="key"><span class="swatch" style=${{ background: s.colour }}></span>${s.label}</span>`)}
    </figcaption>
    <div ref=${box} role="img" aria-label=${`${title}: ${summary}`}></div>
  </figure>`;
}

// A modal dialog, open while `open` is true; onClose on Escape or a close button.
export function Dialog({ open, title, onClose, children, id }) {
  const ref = useRef(null);
  const opener = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      opener.current = document.activeElement;
      d.showModal();
    } else if (!open && d.open) {
      d.close();
      if (opener.current && opener.current.focus) opener.current.focus();
    }
  }, [open]);
  return html`<dialog ref=${ref} id=${id} aria-labelledby=${`${id}-title`} onCancel=${(e) => { e.preventDefault(); onClose(); }}>
    <h2 id=${`${id}-title`}>${title}</h2>
    ${open ? children : null}
  </dialog>`;
}

export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.status ? `${error.status}: ` : ''}${error.message}</p>`;
}
