// The few Client-Server API calls the demo makes, with fetch from the page. A homeserver on
// another origin must answer with CORS headers (Synapse does, for the client API).
//
// Every failure is thrown as a MatrixError with a string `code`: the homeserver's `errcode`
// (M_FORBIDDEN, M_UNKNOWN_TOKEN, …), HTTP_<status> when it sent none, NETWORK_ERROR when no
// answer came (down, wrong URL, or refused by CORS: the browser does not say which), and
// BAD_RESPONSE when the answer is not the JSON asked for.

const THUMBNAIL_SIZE = 64;

export class MatrixError extends Error {
  constructor(code, message, { status, retryAfterMs } = {}) {
    super(message);
    this.name = "MatrixError";
    this.code = code;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** `{ base, error }`: the normalised base URL of a homeserver input (no trailing slash). */
export function normaliseHomeserver(input) {
  const value = input.trim();
  if (value === "") return { base: null, error: null };
  let url;
  try {
    url = new URL(value);
  } catch {
    return { base: null, error: "not a URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { base: null, error: "only http: and https: URLs" };
  }
  if (url.username || url.password || url.search || url.hash) {
    return { base: null, error: "no credentials, query or fragment" };
  }
  return { base: `${url.origin}${url.pathname.replace(/\/+$/, "")}`, error: null };
}

/**
 * One request: resolves with the answer's JSON, or throws a MatrixError (an AbortError when
 * `signal` aborted it). `session` is `{ homeserver, accessToken? }`.
 */
export async function request(session, method, path, { body, query, signal } = {}) {
  const url = new URL(`${session.homeserver}${path}`);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
  }
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (session.accessToken) headers.authorization = `Bearer ${session.accessToken}`;
  const what = `${method} ${url.pathname}`;

  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch (error) {
    if (signal?.aborted) throw signal.reason ?? error;
    throw new MatrixError("NETWORK_ERROR",
      `${what}: no answer from ${url.origin} (${error.message}). Is it running, and does it ` +
      "allow this page's origin (CORS)?");
  }
  let text;
  try {
    text = await response.text();
  } catch (error) {
    if (signal?.aborted) throw signal.reason ?? error;
    throw new MatrixError("NETWORK_ERROR", `${what}: the answer broke off (${error.message})`);
  }
  let json;
  try {
    json = text === "" ? {} : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const errcode = typeof json?.errcode === "string" && json.errcode !== "" ? json.errcode : null;
    const reason = typeof json?.error === "string" ? json.error : text.slice(0, 200);
    throw new MatrixError(errcode ?? `HTTP_${response.status}`,
      `${what}: HTTP ${response.status}${reason ? `: ${reason}` : ""}`,
      { status: response.status, retryAfterMs: Number.isSafeInteger(json?.retry_after_ms) ? json.retry_after_ms : undefined });
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new MatrixError("BAD_RESPONSE", `${what}: the answer is not a JSON object: ${text.slice(0, 200)}`,
      { status: response.status });
  }
  return json;
}

/** Logs in with a password: `{ homeserver, userId, accessToken, deviceId, loggedInHere }`. */
export async function login(homeserver, user, password) {
  const answer = await request({ homeserver }, "POST", "/_matrix/client/v3/login", {
    body: {
      type: "m.login.password",
      identifier: { type: "m.id.user", user },
      password,
      initial_device_display_name: "prejoin demo",
    },
  });
  if (typeof answer.access_token !== "string" || typeof answer.user_id !== "string") {
    throw new MatrixError("BAD_RESPONSE", "POST /_matrix/client/v3/login: no access_token or user_id in the answer");
  }
  return {
    homeserver,
    userId: answer.user_id,
    accessToken: answer.access_token,
    deviceId: answer.device_id ?? null,
    loggedInHere: true,
  };
}

/** A session from an access token the user gave: checks it and asks whose it is. */
export async function sessionFromToken(homeserver, accessToken) {
  const answer = await request({ homeserver, accessToken }, "GET", "/_matrix/client/v3/account/whoami");
  if (typeof answer.user_id !== "string") {
    throw new MatrixError("BAD_RESPONSE", "GET /_matrix/client/v3/account/whoami: no user_id in the answer");
  }
  return { homeserver, userId: answer.user_id, accessToken, deviceId: answer.device_id ?? null, loggedInHere: false };
}

/** Ends a session this page logged in. */
export function logout(session) {
  return request(session, "POST", "/_matrix/client/v3/logout", { body: {} });
}

/** The timeline of each room in an initial sync is limited to this many events. */
const INITIAL_FILTER = JSON.stringify({ room: { timeline: { limit: 20 } } });

/** One /sync: long-polls `timeoutMs` when `since` is given; the first sync does not wait. */
export function sync(session, since, { timeoutMs = 30_000, signal } = {}) {
  return request(session, "GET", "/_matrix/client/v3/sync", {
    query: {
      since,
      timeout: since ? timeoutMs : 0,
      filter: INITIAL_FILTER,
      set_presence: "offline",
    },
    signal,
  });
}

export function joinRoom(session, roomId) {
  return request(session, "POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, { body: {} });
}

/** Declines an invite, withdraws a knock, or leaves a room. */
export function leaveRoom(session, roomId) {
  return request(session, "POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, { body: {} });
}

// ---------------------------------------------------------------------------------------------
// Avatars.

/** `{ server, mediaId }` of a well-formed mxc:// URI, else null. */
export function parseMxc(uri) {
  if (typeof uri !== "string") return null;
  const match = /^mxc:\/\/([A-Za-z0-9.\-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?)\/([A-Za-z0-9_\-]+)$/
    .exec(uri);
  return match ? { server: match[1], mediaId: match[2] } : null;
}

function thumbnailPath(prefix, mxc) {
  const parsed = parseMxc(mxc);
  if (parsed === null) return null;
  return `${prefix}/${encodeURIComponent(parsed.server)}/${encodeURIComponent(parsed.mediaId)}` +
    `?width=${THUMBNAIL_SIZE}&height=${THUMBNAIL_SIZE}&method=crop`;
}

/** The unauthenticated (legacy) thumbnail URL of an mxc:// URI on a homeserver, or null. */
export function legacyThumbnailUrl(homeserver, mxc) {
  const path = thumbnailPath("/_matrix/media/v3/thumbnail", mxc);
  return homeserver === null || path === null ? null : `${homeserver}${path}`;
}

const thumbnails = new Map();

/**
 * An object URL of an mxc:// URI's thumbnail through authenticated media (which current
 * homeservers require for new media; an <img> cannot send the token), fetched once per session.
 */
export function authenticatedThumbnail(session, mxc) {
  const path = thumbnailPath("/_matrix/client/v1/media/thumbnail", mxc);
  if (path === null) return Promise.reject(new MatrixError("BAD_MXC", `not an mxc:// URI: ${mxc}`));
  const key = `${session.homeserver}\n${session.accessToken}\n${mxc}`;
  if (!thumbnails.has(key)) {
    thumbnails.set(key, (async () => {
      const response = await fetch(`${session.homeserver}${path}`, {
        headers: { authorization: `Bearer ${session.accessToken}` },
        referrerPolicy: "no-referrer",
      });
      if (!response.ok) throw new MatrixError(`HTTP_${response.status}`, `thumbnail of ${mxc}: HTTP ${response.status}`);
      return URL.createObjectURL(await response.blob());
    })());
  }
  return thumbnails.get(key);
}
