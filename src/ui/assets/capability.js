// Capability: the step timeline, the resources with their state and their AWS drift, the pods,
// the recent events, the endpoints, ready-made commands, and two actions: re-run the reconcile
// and check drift. Redrawn from the stream on every change; the drift check is fetched when the
// view opens (once the reconciler has made a pass: before it, everything is missing) and on
// "check drift", and kept per capability across redraws.
import { h, duration, ago, get, post } from "/assets/api.js";
import { mark } from "/assets/overview.js";

// key → { state: "checking" | "done" | "error", drift, error }
const drifts = new Map();
// key → the answer to the last "re-run reconcile"
const reruns = new Map();
let opened = null;
let redraw = () => {};

/** The view is left: opening it again checks drift again. */
export function leaveCapability() {
  opened = null;
}

async function checkDrift(c) {
  const key = c.key;
  drifts.set(key, { ...drifts.get(key), state: "checking" });
  redraw();
  try {
    drifts.set(key, { state: "done", drift: await get(`capabilities/${key}/drift`) });
  } catch (e) {
    drifts.set(key, { ...drifts.get(key), state: "error", error: e.message });
  }
  redraw();
}

async function rerun(c) {
  reruns.set(c.key, "asking…");
  redraw();
  try {
    await post(`capabilities/${c.key}/reconcile`);
    reruns.set(c.key, `reconcile queued at ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    reruns.set(c.key, `refused: ${e.message}`);
  }
  redraw();
}

/** Copies `text`; without the clipboard (an insecure context, a refusal) selects it instead. */
async function copy(button, code) {
  try {
    await navigator.clipboard.writeText(code.textContent);
    button.textContent = "copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(code);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    button.textContent = "selected: press Ctrl+C";
  }
  setTimeout(() => (button.textContent = "copy"), 2000);
}

const DRIFT_MARK = { inSync: "in sync", missing: "missing", differs: "differs", error: "error" };

function driftCell(r, check) {
  if (!r.kind.startsWith("k8s.") && check?.drift) {
    const d = check.drift.resources.find((x) => x.id === r.id);
    if (!d) return h("td", { class: "muted small" }, "");
    return h("td", { class: "small", "data-drift": d.state, title: `planned: ${JSON.stringify(d.planned, null, 1)}` },
      h("span", { class: `drift ${d.state}` }, DRIFT_MARK[d.state]),
      d.changes.map((ch) => h("div", { class: "mono change" }, ch)),
      d.error ? h("div", { class: "error" }, d.error) : null);
  }
  return h("td", { class: "muted small" }, r.kind.startsWith("k8s.") ? "" : check?.state === "checking" ? "…" : "");
}

function driftSummary(c, check) {
  const button = h("button", { class: "check-drift", disabled: check?.state === "checking", onclick: () => checkDrift(c) }, "check drift");
  let text = "";
  if (check?.state === "checking") text = "comparing the planned AWS resources with what is there…";
  else if (check?.state === "error") text = `drift check failed: ${check.error}`;
  else if (check?.drift) {
    const d = check.drift;
    const off = d.resources.length - d.inSync;
    text = `AWS: ${d.inSync}/${d.resources.length} in sync${off ? ` · ${off} drifted` : ""} · checked ${new Date(d.checkedAt).toLocaleTimeString()} in ${duration(d.durationMs)} (${d.region})`;
  }
  return h("div", { class: "drift-summary" }, button, " ",
    h("span", { class: check?.state === "error" || (check?.drift && check.drift.inSync < check.drift.resources.length) ? "error small" : "muted small" }, text));
}

function podsTable(c) {
  if (!c.pods.length) return h("p", { class: "muted small" }, "no pods");
  return h("table", { class: "pods" },
    h("thead", {}, h("tr", {}, ["pod", "phase", "ready", "restarts", "node", "started", "containers"].map((t) => h("th", {}, t)))),
    h("tbody", {}, c.pods.map((p) =>
      h("tr", { "data-pod": p.name },
        h("td", { class: "mono" }, p.name, h("div", { class: "muted small" }, p.workload.split("/")[1])),
        h("td", {}, h("span", { class: `pod-phase ${p.reason ? "bad" : p.phase}` }, p.reason ?? p.phase)),
        h("td", {}, p.ready ? "✓" : "✗"),
        h("td", { class: p.restarts ? "error" : "" }, p.restarts),
        h("td", { class: "muted small" }, p.node ?? ""),
        h("td", { class: "muted small", title: p.startedAt ? new Date(p.startedAt).toISOString() : "" }, ago(p.startedAt)),
        h("td", { class: "small" }, p.containers.map((k) =>
          h("div", { class: "container", "data-container": k.name },
            h("span", { class: `cstate ${k.state}` }, k.state === "running" ? "●" : k.state === "waiting" ? "◌" : "■"), " ",
            h("b", {}, k.name), " ",
            h("span", { class: "mono muted", title: k.image }, k.image.split("/").pop()),
            k.restarts ? h("span", { class: "error" }, ` · ${k.restarts} restarts`) : null,
            k.reason ? h("span", { class: k.state === "running" ? "muted" : "error" }, ` · ${k.reason}`) : null,
            k.lastTermination ? h("span", { class: "muted" }, ` · last: ${k.lastTermination}`) : null,
            k.message ? h("div", { class: "muted" }, k.message) : null)))))));
}

function eventsTable(c) {
  if (!c.events.length) return h("p", { class: "muted small" }, "no recent events");
  return h("table", { class: "events" },
    h("thead", {}, h("tr", {}, ["seen", "type", "reason", "object", "message"].map((t) => h("th", {}, t)))),
    h("tbody", {}, c.events.map((e) =>
      h("tr", { class: e.type === "Warning" ? "warning" : "" },
        h("td", { class: "muted small", title: e.lastSeen ? new Date(e.lastSeen).toISOString() : "" }, ago(e.lastSeen)),
        h("td", { class: "small" }, e.type),
        h("td", { class: "small" }, e.reason, e.count > 1 ? h("span", { class: "muted" }, ` ×${e.count}`) : null),
        h("td", { class: "mono" }, e.object),
        h("td", { class: "small" }, e.message)))));
}

function commandsList(c) {
  return h("ul", { class: "commands" }, c.commands.map((cmd) => {
    const code = h("code", { class: "mono" }, cmd.command);
    const button = h("button", { class: "copy", title: "copy the command", onclick: () => copy(button, code) }, "copy");
    return h("li", {}, h("div", { class: "muted small" }, cmd.label), h("div", { class: "command" }, code, button));
  }));
}

export function capabilityView(view, c) {
  redraw = () => capabilityView(view, c);
  if (opened !== c.key) {
    opened = c.key;
    if (c.observedGeneration !== null && c.observedGeneration !== undefined) {
      checkDrift(c);
      return;
    }
  }
  const check = drifts.get(c.key);
  const timeline = h("ol", { class: "timeline" }, c.steps.map((s) =>
    h("li", { class: `step ${s.state}`, "data-step": s.name },
      h("span", { class: "mark" }, mark(s.state)),
      h("span", { class: "name" }, `${s.number}. ${s.name}`),
      h("span", { class: "muted small" }, `${s.ready}/${s.resources}`),
      h("span", { class: "muted small" }, duration(s.durationMs)),
      s.error ? h("div", { class: "error small" }, s.error) : null)));
  const resources = h("table", { class: "resources" },
    h("thead", {}, h("tr", {}, ["step", "kind", "name", "state", "replicas", "AWS live", "detail"].map((t) => h("th", {}, t)))),
    h("tbody", {}, c.resources.map((r) =>
      h("tr", { "data-id": r.id },
        h("td", { class: "muted" }, r.step),
        h("td", {}, r.kind),
        h("td", { class: "mono" }, r.name),
        h("td", {}, h("span", { class: `health ${r.health}` }, r.state ?? "—")),
        h("td", {}, r.replicas ? `${r.replicas.ready}/${r.replicas.desired}` : ""),
        driftCell(r, check),
        h("td", { class: r.health === "failed" ? "error small" : "muted small" }, r.message ?? r.awsId ?? "")))));
  view.replaceChildren(
    h("h1", {}, c.key, " ", h("span", { class: `phase phase-${c.phase}` }, c.phase)),
    h("p", { class: "muted" }, c.message ? `${c.message} · ` : "", `environment ${c.environment} · profile ${c.profile} · `,
      h("a", { href: `#/graph/${c.key}` }, "dependency graph")),
    h("div", { class: "actions" },
      h("button", { class: "rerun", onclick: () => rerun(c), title: "a pass through the controller, with a full AWS check" }, "re-run reconcile"),
      h("span", { class: "muted small rerun-state" }, reruns.get(c.key) ?? "")),
    h("section", { class: "columns" },
      h("div", {}, h("h2", {}, "Steps"), timeline,
        c.endpoints.length ? h("div", {}, h("h2", {}, "Endpoints"),
          h("ul", {}, c.endpoints.map((e) => h("li", {}, `${e.name}: `, h("span", { class: "mono" }, e.url))))) : null),
      h("div", {},
        h("h2", {}, `Resources (${c.resources.length})`), driftSummary(c, check), resources,
        h("h2", {}, `Pods (${c.pods.length})`), podsTable(c),
        h("h2", {}, "Recent events"), eventsTable(c),
        h("h2", {}, "Commands"), commandsList(c))),
  );
}
