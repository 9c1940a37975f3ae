// The page's only way to the daemon: the documented API (docs/design/ui.md), REST for
// snapshots and one WebSocket of numbered deltas. The token comes from the page's URL.
const token = new URLSearchParams(location.search).get("token") ?? "";

/** GET /api/v1/{path} as JSON. */
export async function get(path) {
  return request("GET", path);
}

/** POST /api/v1/{path} (a JSON body when given); the answer as JSON. */
export async function post(path, body) {
  return request("POST", path, body);
}

async function request(method, path, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`/api/v1/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new Error(`${res.status}: ${body.error ?? res.statusText}`);
  }
  return res.json();
}

/**
 * Opens the WebSocket at /api/v1/{path} and keeps it open: `query()` gives its parameters on
 * every (re)connect, so a client resumes where it left off; `onMessage(m)` gets each message
 * as JSON, `onConnection(text)` each change of the connection. A drop is retried after 250 ms,
 * doubling up to 5 s. Returns a function that closes it for good.
 */
export function socket(path, query, onMessage, onConnection = () => {}) {
  let backoff = 250;
  let ws = null;
  let closed = false;
  const connect = () => {
    const params = new URLSearchParams({ token, ...query() });
    ws = new WebSocket(`ws://${location.host}/api/v1/${path}?${params}`);
    ws.onopen = () => {
      backoff = 250;
      onConnection("live");
    };
    ws.onmessage = (event) => onMessage(JSON.parse(event.data));
    ws.onclose = () => {
      if (closed) return;
      onConnection("reconnecting…");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 5000);
    };
  };
  connect();
  return () => {
    closed = true;
    ws.close();
  };
}

/**
 * Follows the stream: `onChange(capabilities, message)` after the snapshot and after every
 * delta (capabilities: a Map by key); `onConnection(text)` when the connection changes. A
 * dropped connection comes back with `since`, so nothing is missed or shown twice.
 */
export function follow(onChange, onConnection) {
  const capabilities = new Map();
  let seq = null;
  socket("stream", () => (seq === null ? {} : { since: seq }), (m) => {
    if (m.type === "snapshot") {
      capabilities.clear();
      for (const c of m.capabilities) capabilities.set(c.key, c);
    } else {
      for (const c of m.upsert) capabilities.set(c.key, c);
      for (const key of m.remove) capabilities.delete(key);
    }
    seq = m.seq;
    onChange(capabilities, m);
  }, onConnection);
}

/** An element with attributes and children (text is always text: nothing is parsed as HTML). */
export function h(tag, attrs = {}, ...children) {
  const svg = ["svg", "g", "rect", "path", "text", "title", "tspan"].includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c !== undefined && c !== null) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

/** "12 s ago", "3 min ago", "2 h ago" from ms since the epoch, or "" when unknown. */
export function ago(ms) {
  if (ms === null || ms === undefined) return "";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** "1.2 s", "340 ms", or "" when unknown. */
export function duration(ms) {
  if (ms === null || ms === undefined) return "";
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}
