// JSON requests to Loket's own API. Staff pages authenticate with the session cookie (and send
// the CSRF token with every write); the applicant's page has no session and names its
// consultation with its token in the Authorization header (never in the address).

/** The page's CSRF token: the one its forms carry, else Django's csrftoken cookie. */
export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input && input.value) return input.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/**
 * A JSON request: {ok, status, body}; a network failure is status 0 with an empty body, and an
 * answer that is not JSON has an empty body. Never throws.
 *
 * @param {string} path
 * @param {object} [options]
 * @param {string} [options.method]  GET unless given
 * @param {object} [options.body]  sent as JSON
 * @param {string|null} [options.token]  the applicant's token (a bearer credential): no CSRF
 * @param {boolean} [options.keepalive]  for a request that must outlive the page
 */
export async function request(path, { method = "GET", body, token = null, keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    const response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      keepalive,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, body: data };
  } catch {
    return { ok: false, status: 0, body: {} };
  }
}

/** The error code of a refused request's body ("" when it has none). */
export function errorCode(body) {
  return body && body.error && body.error.code ? body.error.code : "";
}
