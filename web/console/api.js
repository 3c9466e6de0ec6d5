// api.js - the console's only way out: the gateway's admin API (bearer admin token) and the
// public API on the same listener (bearer JWT of an admin account). Both tokens live in
// sessionStorage, so closing the tab forgets them. A 4xx/5xx becomes an ApiError carrying the
// problem+json the server sent.
const ADMIN_KEY = 'souk.console.admin-token';
const JWT_KEY = 'souk.console.jwt';

export const tokens = {
  admin: () => sessionStorage.getItem(ADMIN_KEY),
  setAdmin: (t) => (t ? sessionStorage.setItem(ADMIN_KEY, t) : sessionStorage.removeItem(ADMIN_KEY)),
  jwt: () => sessionStorage.getItem(JWT_KEY),
  setJwt: (t) => (t ? sessionStorage.setItem(JWT_KEY, t) : sessionStorage.removeItem(JWT_KEY)),
};

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function call(path, bearer, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

// The admin API: /routes, /stats, /shadow, /events, /holds, /upstreams.
export const admin = (path, opts) => call(path, tokens.admin(), opts);
// The public API (/api/v1, /api/v2), through the admin listener's route table.
export const api = (path, opts) => call(path, tokens.jwt(), opts);
