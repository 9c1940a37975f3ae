// Logs: every source together, one workload's pods or one container, followed live from the
// daemon's buffers (docs/design/ui.md, "Logs"). The page holds at most CAP lines and puts only
// the visible rows in the DOM (fixed height, absolutely placed, a pool reused on every frame),
// so 10,000 lines a second cost a few messages and one redraw per frame.
import { h, socket } from "/assets/api.js";

const ROW = 18; // px: a row's top is its index × ROW
const OVERSCAN = 10; // rows drawn above and below the visible ones
const CAP = 50_000; // lines the page keeps; the oldest go first

let state = null;

/** Shows the logs of `selector` (a source id, a workload, or "" for all) in `view`. */
export function logsView(view, selector) {
  if (state && view.contains(state.root)) {
    if (state.selector !== selector) subscribe(selector);
    return;
  }
  leaveLogs();
  mount(view);
  subscribe(selector);
}

/** Closes the stream when another view is shown. */
export function leaveLogs() {
  if (state) state.close();
  state = null;
}

function mount(view) {
  const picker = h("select", { class: "logs-source", title: "source", onchange: (e) => (location.hash = e.target.value ? `#/logs/${e.target.value}` : "#/logs") });
  const filter = h("input", { class: "logs-filter", type: "search", placeholder: "filter (text, or a regular expression; any case)", oninput: () => refilter() });
  const regex = h("input", { type: "checkbox", class: "logs-regex", onchange: () => refilter() });
  const follow = h("input", { type: "checkbox", class: "logs-follow", checked: true, onchange: (e) => setFollow(e.target.checked) });
  const sinceBuild = h("input", { type: "checkbox", class: "logs-since-build", disabled: true, onchange: () => refilter() });
  const sinceLabel = h("span", {}, "since the last build");
  const count = h("span", { class: "logs-count muted small" });
  const problems = h("div", { class: "logs-problems error small" });
  const pool = h("div", { class: "logs-rows" });
  const spacer = h("div", { class: "logs-spacer" });
  const viewport = h("div", { class: "logs-viewport mono", onscroll: () => onScroll() }, spacer, pool);
  const root = h("section", { class: "logs" },
    h("div", { class: "logs-bar" }, picker, filter,
      h("label", {}, regex, "regex"), h("label", {}, follow, "follow"), h("label", { class: "since" }, sinceBuild, sinceLabel),
      count),
    problems,
    viewport);
  view.replaceChildren(root);
  state = {
    root, picker, filter, regex, follow, sinceBuild, sinceLabel, count, problems, pool, spacer, viewport,
    selector: null, close: () => {}, next: null,
    lines: [], shown: [], sources: [], marks: [], match: () => true,
    following: true, placed: 0, frame: 0, rows: [], find: null, filtered: 0,
  };
}

/** (Re)subscribes to `selector`: lines from the newest, then live ones. */
function subscribe(selector) {
  const s = state;
  s.close();
  s.selector = selector;
  s.lines = [];
  s.shown = [];
  s.next = null;
  renderPicker();
  const query = () => ({ ...(selector ? { source: selector } : {}), ...(s.next === null ? {} : { after: s.next }) });
  s.close = socket("logs/stream", query, (m) => {
    // A message of a selection (or a view) left since is not this one's.
    if (state !== s || s.selector !== selector) return;
    if (m.type === "sources") onSources(m);
    else onChunk(m);
  });
  schedule();
}

function onSources(m) {
  state.sources = m.sources;
  state.marks = m.marks;
  renderPicker();
  const mark = m.marks.at(-1);
  state.sinceBuild.disabled = !mark;
  state.sinceLabel.textContent = mark ? `since the last build (${mark.label}, ${clock(mark.at)})` : "since the last build (none marked yet)";
  if (state.sinceBuild.checked) refilter();
}

function onChunk(m) {
  const s = state;
  if (m.reset) {
    s.lines = [];
    s.shown = [];
  }
  if (m.gap && m.lines.length) {
    add({ seq: m.lines[0].seq - 0.5, src: "", ts: m.lines[0].ts, text: "… lines dropped from the daemon's buffer before they were shown", gap: true });
  }
  for (const l of m.lines) add({ seq: l.seq, src: m.sources[l.source], ts: l.ts, text: l.text });
  s.next = m.next;
  trim();
  schedule();
}

function add(line) {
  state.lines.push(line);
  if (state.match(line)) state.shown.push(line);
}

/** Drops the oldest lines beyond CAP (in steps of a tenth, not on every chunk). */
function trim() {
  const s = state;
  if (s.lines.length <= CAP * 1.1) return;
  const first = s.lines[s.lines.length - CAP].seq;
  s.lines = s.lines.slice(-CAP);
  const gone = s.shown.findIndex((l) => l.seq >= first);
  const removed = gone === -1 ? s.shown.length : gone;
  s.shown = s.shown.slice(removed);
  // Keep the rows the reader looks at in place.
  if (!s.following) {
    s.viewport.scrollTop -= removed * ROW;
    s.placed = s.viewport.scrollTop;
  }
}

/** The filter as typed (text, or a regular expression), the selected build mark: a test of a line. */
function refilter() {
  const s = state;
  const text = s.filter.value;
  let test = () => true;
  s.find = null;
  s.filter.classList.remove("invalid");
  s.filter.title = "";
  if (text && s.regex.checked) {
    try {
      const re = new RegExp(text, "i");
      test = (l) => re.test(l.text);
      s.find = new RegExp(text, "gi");
    } catch (e) {
      s.filter.classList.add("invalid");
      s.filter.title = e.message;
    }
  } else if (text) {
    const needle = text.toLowerCase();
    test = (l) => l.text.toLowerCase().includes(needle);
    s.find = new RegExp(needle.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
  }
  const mark = s.sinceBuild.checked ? s.marks.at(-1) : null;
  s.match = mark ? (l) => l.seq > mark.seq && test(l) : test;
  s.shown = s.lines.filter(s.match);
  // Every row is refilled, with the new matches marked.
  s.filtered += 1;
  schedule();
}

/** `text` with what `find` matches in <mark>s (at most 20; none for empty matches). */
function marked(text, find) {
  if (!find) return [text];
  const out = [];
  let at = 0;
  for (const m of text.matchAll(find)) {
    if (!m[0] || out.length >= 40) break;
    out.push(text.slice(at, m.index), h("mark", {}, m[0]));
    at = m.index + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}

function setFollow(on) {
  state.following = on;
  state.follow.checked = on;
  schedule();
}

/** A reader who scrolls up stops following; back at the bottom, follows again. */
function onScroll() {
  const v = state.viewport;
  // The page's own scrolling (following, trimming) is no reader's choice.
  if (v.scrollTop !== state.placed) {
    const atBottom = v.scrollTop + v.clientHeight >= v.scrollHeight - ROW;
    if (atBottom !== state.following) setFollow(atBottom);
  }
  schedule();
}

function schedule() {
  if (state && !state.frame) state.frame = requestAnimationFrame(draw);
}

/** Places the pool's rows on the visible lines: the only DOM work, once a frame. */
function draw() {
  const s = state;
  if (!s) return;
  s.frame = 0;
  const v = s.viewport;
  s.spacer.style.height = `${s.shown.length * ROW}px`;
  if (s.following) {
    v.scrollTop = v.scrollHeight;
    s.placed = v.scrollTop;
  }
  const first = Math.max(0, Math.floor(v.scrollTop / ROW) - OVERSCAN);
  const last = Math.min(s.shown.length, Math.ceil((v.scrollTop + v.clientHeight) / ROW) + OVERSCAN);
  while (s.rows.length < last - first) {
    const row = h("div", { class: "logs-row" }, h("span", { class: "ts" }), h("span", { class: "src" }), h("span", { class: "text" }));
    s.rows.push(row);
    s.pool.append(row);
  }
  s.rows.forEach((row, i) => {
    const line = s.shown[first + i];
    row.style.display = line ? "" : "none";
    if (!line) return;
    row.style.transform = `translateY(${(first + i) * ROW}px)`;
    const key = `${line.seq}/${s.filtered}`;
    if (row.dataset.key === key) return;
    row.dataset.key = key;
    row.dataset.seq = line.seq;
    row.classList.toggle("gap", !!line.gap);
    const [ts, src, text] = row.children;
    ts.textContent = clock(line.ts);
    src.textContent = label(line.src);
    src.title = line.src;
    src.style.color = colour(line.src);
    text.replaceChildren(...marked(line.text, s.find));
  });
  s.root.dataset.total = s.lines.length;
  s.root.dataset.shown = s.shown.length;
  s.count.textContent = s.shown.length === s.lines.length
    ? `${s.lines.length.toLocaleString()} lines`
    : `${s.shown.length.toLocaleString()} of ${s.lines.length.toLocaleString()} lines`;
}

/** The picker: all sources, then each workload with its pods' containers. */
function renderPicker() {
  const s = state;
  const workloads = new Map();
  for (const src of s.sources) {
    if (!workloads.has(src.workload)) workloads.set(src.workload, []);
    workloads.get(src.workload).push(src);
  }
  const known = s.selector === "" || s.sources.some((src) => src.id === s.selector || src.workload === s.selector);
  const groups = [...workloads].map(([workload, sources]) => h("optgroup", { label: workload },
    h("option", { value: workload }, `${workload}: all pods`),
    sources.map((src) => h("option", { value: src.id, title: src.error ?? "" },
      `${src.pod} / ${src.container}${src.live ? "" : " (ended)"}${src.error ? " (no logs)" : ""}`))));
  s.picker.replaceChildren(
    h("option", { value: "" }, `all sources (${s.sources.length})`),
    ...(known ? [] : [h("option", { value: s.selector }, `${s.selector} (not seen yet)`)]),
    ...groups,
  );
  s.picker.value = s.selector;
  // Why a chosen source (or a pod of the chosen workload) shows nothing.
  const failing = s.sources.filter((src) => src.error && (!s.selector || src.id === s.selector || src.workload === s.selector));
  s.problems.replaceChildren(...failing.map((src) => h("div", {}, h("span", { class: "mono" }, src.id), `: ${src.error}`)));
}

/** A source's short name: its container and what tells its pod from the others (the name's last part). */
function label(id) {
  if (!id) return "";
  const [, pod, container] = id.split("/");
  return `${container} ${pod.split("-").at(-1)}`;
}

const hues = new Map();
function colour(id) {
  if (!hues.has(id)) {
    let hash = 0;
    for (const c of id) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
    hues.set(id, `hsl(${hash % 360} 55% 38%)`);
  }
  return hues.get(id);
}

function clock(ms) {
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
