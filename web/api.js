// Talking to the API: the signed-in session (kept in localStorage), bearer tokens refreshed once
// when they expire, and failures turned into ApiError with the API's own code and message.

const KEY = 'boxoffice.session';

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || [];
  }
}

export const session = {
  get() {
    try {
      return JSON.parse(localStorage.getItem(KEY)) || null;
    } catch {
      return null;
    }
  },
  save(tokens, email) {
    const previous = this.get() || {};
    localStorage.setItem(KEY, JSON.stringify({
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      email: email || previous.email,
    }));
    window.dispatchEvent(new Event('session'));
  },
  clear() {
    localStorage.removeItem(KEY);
    window.dispatchEvent(new Event('session'));
  },
  /** The roles the access token carries (organizer, admin). */
  roles() {
    const token = this.get()?.access_token;
    if (!token) return [];
    try {
      const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      return payload.roles || [];
    } catch {
      return [];
    }
  },
};

let refreshing = null;
async function refresh() {
  const current = session.get();
  if (!current?.refresh_token) return false;
  refreshing ??= fetch('/v1/auths/refresh_token', {
    method: 'POST',
    cache: 'no-store',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: current.refresh_token }),
  }).then(async (answer) => {
    if (!answer.ok) {
      session.clear();
      return false;
    }
    session.save(await answer.json());
    return true;
  }).finally(() => (refreshing = null));
  return refreshing;
}

/**
 * api('POST', '/v1/bookings/hold', body, {idempotencyKey, cache}) -> parsed JSON (or null for 204). A
 * Blob or File body (an uploaded image) is sent as it is, with its own type.
 */
export async function api(method, path, body, options = {}) {
  const raw = body instanceof Blob;
  const send = () => {
    const headers = { Accept: 'application/json' };
    const token = session.get()?.access_token;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = raw ? body.type || 'application/octet-stream' : 'application/json';
    if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
    // every answer is live state (seats, a booking's status): never one the browser kept; a poll
    // asks with cache: 'no-cache', so the browser revalidates with its ETag and a 304 comes back
    // here as the kept 200
    return fetch(path, { method, headers, cache: options.cache || 'no-store', body: body === undefined || raw ? body : JSON.stringify(body) });
  };
  let answer = await send();
  if (answer.status === 401 && session.get() && !path.startsWith('/v1/auths/') && (await refresh())) {
    answer = await send();
  }
  if (answer.status === 204) return null;
  const text = await answer.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!answer.ok) {
    const error = json?.error;
    if (answer.status === 401 && !path.startsWith('/v1/auths/')) session.clear();
    throw new ApiError(answer.status, error?.code || 'http_' + answer.status,
      error?.message || `The server answered ${answer.status} ${answer.statusText}.`, error?.details);
  }
  return json;
}

/** A fetched image (the QR endpoints need the bearer token) as an object URL. */
export async function imageUrl(url) {
  const token = session.get()?.access_token;
  // the API writes absolute URLs under server.public_url; its own paths are fetched from this
  // origin, so a site opened as localhost still reaches them when public_url says 127.0.0.1
  const target = new URL(url, location.href);
  const path = target.pathname.startsWith('/v1/') ? target.pathname + target.search : url;
  const answer = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!answer.ok) throw new ApiError(answer.status, 'image', `Could not load the image (${answer.status}).`);
  return URL.createObjectURL(await answer.blob());
}

export async function login(email, password) {
  const tokens = await api('POST', '/v1/auths/login', { email, password });
  session.save(tokens, email);
  return tokens;
}

export async function logout() {
  try {
    await api('POST', '/v1/auths/logout', {});
  } catch {
    // signing out locally is what the person asked for, whatever the server says
  }
  session.clear();
}

/** A fresh key for one intended action (one press of "Book", one checkout). */
export function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}
