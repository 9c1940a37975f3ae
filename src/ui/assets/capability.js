// Capability: the step timeline, the resources with their state, the endpoints.
import { h, duration } from "/assets/api.js";
import { mark } from "/assets/overview.js";

export function capabilityView(view, c) {
  const timeline = h("ol", { class: "timeline" }, c.steps.map((s) =>
    h("li", { class: `step ${s.state}`, "data-step": s.name },
      h("span", { class: "mark" }, mark(s.state)),
      h("span", { class: "name" }, `${s.number}. ${s.name}`),
      h("span", { class: "muted small" }, `${s.ready}/${s.resources}`),
      h("span", { class: "muted small" }, duration(s.durationMs)),
      s.error ? h("div", { class: "error small" }, s.error) : null)));
  const resources = h("table", { class: "resources" },
    h("thead", {}, h("tr", {}, ["step", "kind", "name", "state", "replicas", "detail"].map((t) => h("th", {}, t)))),
    h("tbody", {}, c.resources.map((r) =>
      h("tr", { "data-id": r.id },
        h("td", { class: "muted" }, r.step),
        h("td", {}, r.kind),
        h("td", { class: "mono" }, r.name),
        h("td", {}, h("span", { class: `health ${r.health}` }, r.state ?? "—")),
        h("td", {}, r.replicas ? `${r.replicas.ready}/${r.replicas.desired}` : ""),
        h("td", { class: r.health === "failed" ? "error small" : "muted small" }, r.message ?? r.awsId ?? "")))));
  view.replaceChildren(
    h("h1", {}, c.key, " ", h("span", { class: `phase phase-${c.phase}` }, c.phase)),
    h("p", { class: "muted" }, c.message ? `${c.message} · ` : "", `environment ${c.environment} · profile ${c.profile} · `,
      h("a", { href: `#/graph/${c.key}` }, "dependency graph")),
    h("section", { class: "columns" },
      h("div", {}, h("h2", {}, "Steps"), timeline,
        c.endpoints.length ? h("div", {}, h("h2", {}, "Endpoints"),
          h("ul", {}, c.endpoints.map((e) => h("li", {}, `${e.name}: `, h("span", { class: "mono" }, e.url))))) : null),
      h("div", {}, h("h2", {}, `Resources (${c.resources.length})`), resources)),
  );
}
