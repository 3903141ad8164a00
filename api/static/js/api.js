// Calls to the service's JSON API with the signed-in user's bearer token.
// The token lives in sessionStorage (this tab only) and travels only in the Authorization header.

const TOKEN_KEY = "modic.token";
export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, body, headers) {
    super(typeof body?.detail === "string" ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.body = body ?? {};
    this.headers = headers;
  }

  // Per-endplate problems of a 422 grading answer: [{endplate, field, message}].
  get fieldErrors() {
    return Array.isArray(this.body.errors) ? this.body.errors : [];
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

let onUnauthorized = () => {};

// Called when the service rejects the token (401), e.g. to send the user back to sign-in.
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

function authHeaders(extra = {}) {
  const headers = { ...extra };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

async function readBody(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("application/json")) {
    try {
      return await response.json();
    } catch {
      return {};
    }
  }
  const text = await response.text();
  return text ? { detail: text } : {};
}

// One JSON request; resolves to {status, body, etag} or throws ApiError.
export async function request(method, path, { json, headers = {} } = {}) {
  const init = { method, headers: authHeaders({ Accept: "application/json", ...headers }) };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch (error) {
    throw new ApiError(0, { detail: `the service cannot be reached (${error.message})` }, new Headers());
  }
  const body = await readBody(response);
  if (!response.ok) {
    const failure = new ApiError(response.status, body, response.headers);
    if (response.status === 401) onUnauthorized(failure);
    throw failure;
  }
  return { status: response.status, body, etag: response.headers.get("ETag") };
}

export const get = (path, options) => request("GET", path, options);

// An image fetched with the token, as an object URL (revoke it when done). Throws ApiError.
// ``path`` is relative to the API base, or a full path the API handed out (starting /api/).
export async function fetchImageUrl(path) {
  const url = path.startsWith(`${API}/`) ? path : API + path;
  const response = await fetch(url, { headers: authHeaders({ Accept: "image/png" }) });
  if (!response.ok) {
    const failure = new ApiError(response.status, await readBody(response), response.headers);
    if (response.status === 401) onUnauthorized(failure);
    throw failure;
  }
  return { url: URL.createObjectURL(await response.blob()) };
}
