// api.js - the one way the storefront talks to souk: same-origin fetch of the public v1/v2 API
// through the gateway, JSON in and out, problems (RFC 9457) turned into ApiError. The bearer
// token comes from auth.js (tokenSource), so this file knows nothing about sessions.

let tokenSource = () => null;
let onUnauthorized = () => {};

// auth.js registers where the token comes from (async: it may refresh first) and what a
// refused token means.
export function setAuth(source, unauthorized) {
  tokenSource = source;
  onUnauthorized = unauthorized;
}

export class ApiError extends Error {
  constructor(status, problem, headers) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.headers = headers;
  }

  // The problem type's slug: "payment-declined", "out-of-stock", ...
  get slug() {
    return String(this.problem.type || '').split('/').pop();
  }
}

// api(method, path, {body, auth, headers}) -> {status, data, headers}; throws ApiError on 4xx/5xx
// and on a network failure (status 0). auth: send the token when signed in.
export async function api(method, path, o = {}) {
  const headers = { Accept: 'application/json', ...(o.headers || {}) };
  const token = o.auth ? await tokenSource() : null;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (o.body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: o.body !== undefined ? JSON.stringify(o.body) : undefined,
      credentials: 'same-origin',
    });
  } catch (e) {
    throw new ApiError(0, { detail: 'the shop could not be reached; check your connection' });
  }
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    if (res.status === 401 && token) onUnauthorized();
    throw new ApiError(res.status, data, res.headers);
  }
  return { status: res.status, data, headers: res.headers };
}

// A query string from an object, leaving out empty values; arrays repeat the name.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    for (const x of Array.isArray(v) ? v : [v]) u.append(k, String(x));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

const fmt = new Map();
export function money(m) {
  if (!m) return '';
  if (!fmt.has(m.currency)) {
    fmt.set(m.currency, new Intl.NumberFormat('en-IE', { style: 'currency', currency: m.currency }));
  }
  return fmt.get(m.currency).format(m.amount / 100);
}
