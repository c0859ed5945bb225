// The one way the app talks to the daemon: same-origin fetch with the session cookie, the
// CSRF token on every write, and problem+json answers turned into ApiError objects that the
// pages show next to the field they name. A 401 in the middle of a session (signed out in
// another tab, revoked by an admin, expired) does not navigate away: it flags the session
// as ended so the app can ask for the password in a dialog over the page, which keeps
// whatever the user had typed.
import { signal } from './signal.js';

// The signed-in session (GET /v1/session's answer) or null; `ended` is true after a 401
// while a session was held.
export const session = signal(null);
export const sessionEnded = signal(false);

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `The server answered ${status}.`);
    this.status = status;
    this.problem = problem || {};
    this.errors = (problem && Array.isArray(problem.errors) && problem.errors) || [];
  }
  // The messages of the fields the problem names, by field name.
  fieldErrors() {
    const out = {};
    for (const e of this.errors) if (e && e.field) out[e.field] = e.message;
    return out;
  }
  get isCsrf() {
    return this.status === 403 && /\/csrf$/.test(this.problem.type || '');
  }
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// Builds "/v1/x?a=1" from a path and an object of parameters, leaving out empty ones.
export function url(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

// Calls the API. opts: {method, body (an object, sent as JSON), accept, headers}.
// Resolves to the parsed JSON (or text for non-JSON answers, null for 204); rejects with
// ApiError for every answer of 400 and above, and for a network failure.
export async function api(path, opts = {}) {
  const method = (opts.method || 'GET').toUpperCase();
  const headers = { Accept: opts.accept || 'application/json', ...(opts.headers || {}) };
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = opts.contentType || 'application/json';
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  if (WRITES.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(path, { method, headers, body, credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, {
      title: 'No answer',
      detail: 'The server could not be reached. Check your connection and try again.',
    });
  }
  const type = res.headers.get('Content-Type') || '';
  let data = null;
  if (res.status !== 204) {
    data = /json/.test(type) ? await res.json().catch(() => null) : await res.text();
  }
  if (res.ok) return data;
  const problem = data && typeof data === 'object' ? data : { detail: typeof data === 'string' ? data : '' };
  const err = new ApiError(res.status, problem);
  if (res.status === 401 && session.value && !opts.signingIn) {
    sessionEnded.value = true;
    err.message = 'Your session has ended. Sign in again; what you typed is kept.';
  }
  if (err.isCsrf) {
    // Fetch a fresh token so that the user's next try goes through; the write itself is
    // not repeated behind their back.
    err.message = 'The page had an out-of-date security token. It has been renewed: submit again.';
    refreshSession().catch(() => {});
  }
  throw err;
}

// Loads the session; resolves to it, or to null when there is none (401).
export async function refreshSession() {
  try {
    const s = await api('/v1/session', { signingIn: true });
    adopt(s);
    return s;
  } catch (e) {
    if (e.status === 401) {
      session.value = null;
      csrfToken = null;
      return null;
    }
    throw e;
  }
}

function adopt(s) {
  csrfToken = (s && s.csrf_token) || null;
  session.value = s;
  sessionEnded.value = false;
}

export async function signIn(email, password, workspace) {
  const body = { email, password };
  if (workspace) body.workspace = workspace;
  const s = await api('/v1/session', { method: 'POST', body, signingIn: true });
  adopt(s);
  return s;
}

export async function acceptInvitation(token, password) {
  const s = await api('/v1/invitations/accept', { method: 'POST', body: { token, password }, signingIn: true });
  adopt(s);
  return s;
}

export async function signOut() {
  try {
    await api('/v1/session', { method: 'DELETE' });
  } finally {
    csrfToken = null;
    session.value = null;
    sessionEnded.value = false;
  }
}

// Reads every page of a list (for small lists: users, reasons, keys, campaigns for pickers).
export async function listAll(path, params = {}, max = 5000) {
  const out = [];
  let cursor;
  do {
    const page = await api(url(path, { ...params, limit: 500, cursor }));
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

// What the signed-in role may do; the API enforces the same rules.
export function can(what) {
  const role = session.value && session.value.role;
  switch (what) {
    case 'campaigns': // create and edit campaigns
      return role === 'admin' || role === 'marketing';
    case 'leads': // create and edit leads, move their stage
      return role === 'admin' || role === 'marketing' || role === 'sales';
    case 'feedback': // sales' word on a lead
      return role === 'admin' || role === 'sales';
    case 'admin':
      return role === 'admin';
    default:
      return false;
  }
}
