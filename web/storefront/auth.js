// auth.js - the shopper's session, in one module so that moving from v1 login (a bearer token
// kept in sessionStorage for the tab's life) to the v2 session API (an access token in memory
// and a rotating HttpOnly refresh cookie) changes this file only: the rest of the pages use
// signIn, register, signOut, currentUser, refreshUser and subscribe, and api.js asks
// tokenSource for the bearer.
import { api, setAuth } from './api.js';

const KEY = 'souk.session';
const listeners = new Set();
let session = load();

function load() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return s && s.token && s.expires_at > Date.now() ? s : null;
  } catch {
    return null;
  }
}

function save(s, why) {
  session = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  for (const fn of listeners) fn(s ? s.user : null, why);
}

function token() {
  if (session && session.expires_at <= Date.now()) save(null, 'expired');
  return session ? session.token : null;
}

setAuth(token, () => save(null, 'expired'));

export function currentUser() {
  return token() ? session.user : null;
}

// fn(user, why) after every change; why is 'signin', 'signout' or 'expired'. Returns the
// unsubscribe function (what useEffect wants).
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export async function signIn(email, password) {
  const { data } = await api('POST', '/api/v1/accounts/login', { body: { email, password } });
  save({ token: data.token, user: data.user, expires_at: Date.now() + data.expires_in * 1000 }, 'signin');
  return data.user;
}

export async function register(name, email, password) {
  await api('POST', '/api/v1/accounts/register', { body: { name, email, password } });
  return signIn(email, password);
}

export function signOut() {
  save(null, 'signout');
}

// The account as the API has it now (the shipping address changes at checkout).
export async function refreshUser() {
  const { data } = await api('GET', '/api/v1/accounts/me', { auth: true });
  if (session) {
    session = { ...session, user: data };
    sessionStorage.setItem(KEY, JSON.stringify(session));
  }
  return data;
}
