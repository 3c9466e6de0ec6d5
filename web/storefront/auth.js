// auth.js - the shopper's session, in one module: the rest of the pages use signIn, register,
// signOut, currentUser, refreshUser, subscribe and restored; api.js asks tokenSource for the
// bearer.
//
// v2 sessions (souk-users, POST /api/v2/sessions): the short-lived access token lives in
// memory only; the rotating refresh token lives in the HttpOnly souk_refresh cookie the API
// sets (Path=/api/v2/sessions, SameSite=Strict), never in script-readable storage. A reload
// gets a new access token from the cookie; one is refreshed a minute before it expires. A
// refresh token works once, so the tabs of one browser refresh under a Web Lock and hand the
// new access token to each other (BroadcastChannel): two tabs presenting one token would
// look like a stolen token and end the session.
//
// v1 login, when the v2 session API is not routed (a shop still on the monolith): the token
// is kept in sessionStorage for the tab's life, as before the sessions existed.
import { api, setAuth } from './api.js';

const V1 = 'souk.session'; // sessionStorage: the v1 session
const HINT = 'souk.session.v2'; // localStorage: a refresh cookie may exist (nothing secret)
const EARLY_MS = 60000; // refresh this long before the access token expires
const listeners = new Set();
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('souk-session') : null;
let session = null; // {token, expires_at, user, sid (v2), v2}
let timer = null;
let refreshing = null;

function notify(why) {
  for (const fn of listeners) fn(session ? session.user : null, why);
}

function schedule() {
  clearTimeout(timer);
  if (session && session.v2) {
    timer = setTimeout(() => refresh().catch(() => {}), Math.max(1000, session.expires_at - Date.now() - EARLY_MS));
  }
}

function end(why, tell = true) {
  const had = session;
  session = null;
  clearTimeout(timer);
  sessionStorage.removeItem(V1);
  localStorage.removeItem(HINT);
  if (tell && channel) channel.postMessage({ type: 'end' });
  if (had) notify(why);
}

function adopt(s, why) {
  const before = session && session.user && session.user.id;
  session = s;
  if (s.v2) localStorage.setItem(HINT, '1');
  else sessionStorage.setItem(V1, JSON.stringify(s));
  schedule();
  if (why && (before !== (s.user && s.user.id) || why === 'signin')) notify(why);
}

// An answer of POST /api/v2/sessions or /refresh, for user.
function fromTokens(data, user) {
  return { v2: true, token: data.access_token, expires_at: Date.now() + data.expires_in * 1000, sid: data.session.id, user };
}

function share() {
  if (channel && session) channel.postMessage({ type: 'session', session });
}

if (channel) {
  channel.onmessage = (e) => {
    if (e.data.type === 'session') adopt(e.data.session, 'signin');
    else if (e.data.type === 'end') end('signout', false);
  };
}

// A new access token from the cookie; under a lock across tabs, and not at all when another
// tab refreshed while this one waited. 1 when signed in afterwards.
function refresh() {
  const run = async () => {
    if (session && session.v2 && session.expires_at - Date.now() > EARLY_MS) return true;
    try {
      const { data } = await api('POST', '/api/v2/sessions/refresh');
      const user = session ? session.user : (await api('GET', '/api/v1/accounts/me', { headers: { Authorization: `Bearer ${data.access_token}` } })).data;
      adopt(fromTokens(data, user), 'restore');
      share();
      return true;
    } catch (e) {
      if (e.status === 401 || e.status === 404) end('expired');
      return false;
    }
  };
  refreshing ||= (navigator.locks ? navigator.locks.request('souk-refresh', run) : run()).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function token() {
  if (session && session.v2 && session.expires_at - Date.now() < EARLY_MS) await refresh();
  if (session && session.expires_at <= Date.now()) end('expired');
  return session ? session.token : null;
}

setAuth(token, () => end('expired'));

// The session of an earlier page load, if any: resolves once it is known either way.
export const restored = (async () => {
  try {
    const v1 = JSON.parse(sessionStorage.getItem(V1) || 'null');
    if (v1 && v1.expires_at > Date.now()) adopt(v1);
    else if (localStorage.getItem(HINT)) await refresh();
  } catch {
    end('expired', false);
  }
})();

export function currentUser() {
  return session && session.expires_at > Date.now() ? session.user : null;
}

// fn(user, why) after every change; why is 'signin', 'restore', 'signout' or 'expired'.
// Returns the unsubscribe function (what useEffect wants).
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// The v2 API is not there (the route goes to the monolith, or nowhere): v1 login.
const NO_V2 = new Set([404, 405, 502, 503, 504]);

export async function signIn(email, password) {
  let data;
  try {
    data = (await api('POST', '/api/v2/sessions', { body: { email, password } })).data;
  } catch (e) {
    if (!NO_V2.has(e.status)) throw e;
    const v1 = (await api('POST', '/api/v1/accounts/login', { body: { email, password } })).data;
    adopt({ v2: false, token: v1.token, expires_at: Date.now() + v1.expires_in * 1000, user: v1.user }, 'signin');
    return v1.user;
  }
  const me = await api('GET', '/api/v1/accounts/me', { headers: { Authorization: `Bearer ${data.access_token}` } });
  adopt(fromTokens(data, me.data), 'signin');
  share();
  return me.data;
}

export async function register(name, email, password) {
  await api('POST', '/api/v1/accounts/register', { body: { name, email, password } });
  return signIn(email, password);
}

// v2: the session ends on the API (its refresh token stops working, the cookie is cleared).
export async function signOut() {
  const s = session;
  end('signout');
  if (s && s.v2) {
    await api('DELETE', `/api/v2/sessions/${encodeURIComponent(s.sid)}`, { headers: { Authorization: `Bearer ${s.token}` } }).catch(() => {});
  }
}

// The account as the API has it now (the shipping address changes at checkout).
export async function refreshUser() {
  const { data } = await api('GET', '/api/v1/accounts/me', { auth: true });
  if (session) {
    session = { ...session, user: data };
    if (!session.v2) sessionStorage.setItem(V1, JSON.stringify(session));
  }
  return data;
}
