// ui.js - what every page shares: htm bound to Preact, client-side navigation (History API;
// the gateway answers index.html for these paths), data loading with its states, and the
// small pieces (money, status messages, the page heading that takes focus on navigation).
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { money } from './api.js';

export const html = htm.bind(h);

const routeListeners = new Set();
let focusHeading = false; // a navigation happened: the next page heading takes focus

export function navigate(to, { replace = false } = {}) {
  focusHeading = !replace;
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  for (const fn of routeListeners) fn();
}

export function useLocation() {
  const [loc, setLoc] = useState(location.pathname + location.search);
  useEffect(() => {
    const on = () => setLoc(location.pathname + location.search);
    const back = () => {
      focusHeading = true;
      on();
    };
    routeListeners.add(on);
    addEventListener('popstate', back);
    return () => {
      routeListeners.delete(on);
      removeEventListener('popstate', back);
    };
  }, []);
  return loc;
}

// <${Link} href="/cart">: a real link (open in a new tab works) that navigates in place.
export function Link({ href, children, onClick, ...rest }) {
  const click = (e) => {
    if (onClick) onClick(e);
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${click} ...${rest}>${children}</a>`;
}

// useAsync(fn, deps) -> {data, error, loading, reload}: fn's promise, redone when deps change.
export function useAsync(fn, deps) {
  const [state, setState] = useState({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    fn().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}

// The page's h1: takes focus after a navigation so a screen reader announces the new page.
export function PageTitle({ children, title }) {
  const ref = useRef();
  useEffect(() => {
    document.title = `${title || (typeof children === 'string' ? children : '')} · souk`;
    if (ref.current && focusHeading) {
      focusHeading = false;
      ref.current.focus();
    }
  }, [title, typeof children === 'string' ? children : '']);
  return html`<h1 tabindex="-1" ref=${ref}>${children}</h1>`;
}

// useSubmit(action) -> [state, onSubmit]: a form's submission with its states. action gets the
// form's fields as an object; state is {busy}, then {error} if it threw, else what it returned.
export function useSubmit(action) {
  const [state, setState] = useState({});
  const onSubmit = async (e) => {
    e.preventDefault();
    const fields = Object.fromEntries(new FormData(e.currentTarget));
    setState({ busy: true });
    try {
      setState((await action(fields)) || {});
    } catch (error) {
      setState({ error });
    }
  };
  return [state, onSubmit];
}

export function Money({ value }) {
  return html`<span class="money">${money(value)}</span>`;
}

export function Loading({ what }) {
  return html`<p class="muted" role="status">Loading ${what}…</p>`;
}

// A failed load or action, announced at once.
export function Failure({ error }) {
  if (!error) return null;
  return html`<p class="alert" role="alert">${error.message}</p>`;
}

export function Stars({ value, label }) {
  const n = Math.round(Number(value) || 0);
  return html`<span class="stars" role="img" aria-label=${label || `${Number(value || 0).toFixed(1)} out of 5 stars`}>
    ${'★'.repeat(n)}${'☆'.repeat(5 - n)}</span>`;
}

// The current query string as an object (a name given twice keeps the first).
export function query() {
  return Object.fromEntries(new URLSearchParams(location.search));
}
