// Builds and watch: per component its builds and syncs, newest first, with what triggered
// each, the time of each stage, the digest, the result and a failure's output; a Rebuild button
// when a watch session (`up`, `watch`) watches the component. Live from the builds stream
// (docs/design/ui.md, "Builds"), which resumes from the last run and seq it sent.
import { h, socket, post, duration } from "/assets/api.js";

let state = null;

/** Shows the builds in `view`, following the stream until another view is shown. */
export function buildsView(view) {
  if (state && view.contains(state.root)) return;
  leaveBuilds();
  const root = h("section", { class: "builds" }, h("p", { class: "muted" }, "waiting for the daemon…"));
  view.replaceChildren(root);
  const s = { root, run: null, seq: null, keep: 50, components: [], sessions: [], builds: new Map(), notes: new Map(), close: () => {} };
  state = s;
  const query = () => (s.seq === null ? {} : { run: s.run, since: s.seq });
  s.close = socket("builds/stream", query, (m) => {
    if (state !== s) return;
    if (m.type === "snapshot") s.builds.clear();
    for (const b of m.builds) s.builds.set(b.id, b);
    Object.assign(s, { run: m.run, seq: m.seq, keep: m.keep, components: m.components, sessions: m.sessions });
    render(s);
  });
}

/** Closes the stream when another view is shown. */
export function leaveBuilds() {
  if (state) state.close();
  state = null;
}

function render(s) {
  const byComponent = new Map(s.components.map((c) => [c.name, []]));
  for (const b of [...s.builds.values()].sort((a, b) => b.id - a.id)) {
    if (!byComponent.has(b.component)) byComponent.set(b.component, []);
    byComponent.get(b.component).push(b);
  }
  // The server keeps `keep` per component; so does the page.
  for (const [, list] of byComponent) for (const old of list.splice(s.keep)) s.builds.delete(old.id);
  const watched = new Set(s.components.filter((c) => c.watched).map((c) => c.name));
  s.root.replaceChildren(
    h("h1", {}, "Builds"),
    sessions(s.sessions),
    ...(byComponent.size === 0
      ? [h("p", { class: "muted" }, "the project file lists no components (see README, \"Watch mode\")")]
      : [...byComponent].map(([name, list]) => component(s, name, list, watched.has(name)))),
  );
}

function sessions(list) {
  if (list.length === 0) {
    return h("p", { class: "muted watch-state", "data-watching": "no" },
      "Watch mode is not running: `nexus-dev up` goes on watching, or run `nexus-dev watch` in the project.");
  }
  return h("p", { class: "muted watch-state", "data-watching": "yes" },
    list.map((x, i) => [i ? " · " : "", `watching ${x.components.join(", ")} since ${clock(x.since)}`]));
}

function component(s, name, list, watched) {
  const note = s.notes.get(name);
  const button = h("button", {
    class: "rebuild", "data-component": name, disabled: !watched,
    title: watched ? `build ${name} again and deploy it` : "no watch session watches this component",
    onclick: () => rebuild(s, name),
  }, "Rebuild");
  return h("section", { class: "component", "data-component": name },
    h("h2", {}, name, " ", button, note ? h("span", { class: `note small ${note.error ? "error" : "muted"}` }, note.text) : null),
    list.length === 0
      ? h("p", { class: "muted small" }, watched ? "no build yet" : "no build heard of since the daemon started")
      : h("table", { class: "builds-table" },
        h("thead", {}, h("tr", {}, ["#", "", "trigger", "started", "stages", "total", "image", "result"].map((t) => h("th", {}, t)))),
        h("tbody", {}, list.map(row))));
}

async function rebuild(s, name) {
  try {
    await post(`builds/${encodeURIComponent(name)}/rebuild`);
    s.notes.set(name, { text: "asked; the build shows here when it starts" });
  } catch (e) {
    s.notes.set(name, { text: e.message, error: true });
  }
  if (state === s) render(s);
}

function row(b) {
  const total = b.endedAt === null ? null : b.endedAt - b.startedAt;
  const stages = b.stages.map((st) => h("span", { class: "stage" }, `${st.name} `, h("b", {}, duration(st.ms))));
  if (b.stage) stages.push(h("span", { class: "stage running" }, `${b.stage}…`));
  const main = h("tr", { class: `build ${b.result}`, "data-id": b.id, "data-result": b.result },
    h("td", { class: "muted" }, b.id),
    h("td", { class: "muted small" }, b.kind),
    h("td", { class: "trigger" }, trigger(b.trigger)),
    h("td", { class: "muted small", title: new Date(b.startedAt).toISOString() }, clock(b.startedAt)),
    h("td", { class: "stages small" }, stages),
    h("td", { class: "small" }, duration(total)),
    h("td", { class: "mono small" }, image(b)),
    h("td", {}, h("span", { class: `result ${b.result}` }, b.result)));
  if (!b.error) return main;
  const e = b.error;
  return [main, h("tr", { class: "failure" }, h("td", {}), h("td", { colspan: 7 },
    h("div", { class: b.result === "failed" ? "error small" : "muted small" }, `${e.stage}: ${e.message}`),
    e.output.length ? h("pre", { class: "output mono" }, e.output.join("\n")) : null,
    e.running ? h("div", { class: "muted small" }, `the previous version keeps running: ${e.running}`) : null))];
}

function trigger(t) {
  if (t.count === 0) return h("span", { class: "muted" }, t.reason ?? "");
  const more = t.count - t.files.length;
  return h("span", { title: t.files.join("\n") },
    h("span", { class: "mono small" }, t.files.join(", ")), more > 0 ? h("span", { class: "muted small" }, ` and ${more} more`) : null);
}

/** The digest, short (its full reference on hover), or the content tag when there is none. */
function image(b) {
  if (b.digest) return h("span", { class: "digest", title: b.image ?? b.digest }, b.digest.slice(0, "sha256:".length + 12));
  if (b.image) return h("span", { title: b.image }, b.image.split("/").pop());
  return "";
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}
