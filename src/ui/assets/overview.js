// Overview: the capabilities × the eleven steps, live; a row opens its capability.
import { h, duration } from "/assets/api.js";

const STEPS = ["DynamoDB", "S3", "Glue", "SSM", "Secrets", "IAM", "Namespace", "ServiceAccount", "Backend", "Frontend", "Ingress"];

export function overview(view, capabilities) {
  if (capabilities.size === 0) {
    view.replaceChildren(h("p", { class: "muted" }, "no capabilities in this project yet (`nexus-dev up` applies them)"));
    return;
  }
  const rows = [...capabilities.values()].sort((a, b) => a.key.localeCompare(b.key)).map((c) =>
    h("tr", { class: "link", "data-key": c.key, onclick: () => (location.hash = `#/capability/${c.key}`) },
      h("th", {}, h("a", { href: `#/capability/${c.key}` }, c.key), h("div", { class: "muted small" }, c.environment)),
      h("td", {}, h("span", { class: `phase phase-${c.phase}` }, c.phase)),
      c.steps.map((s) =>
        h("td", { class: `step ${s.state}`, "data-step": s.name, title: stepTitle(s) }, mark(s.state))),
    ));
  view.replaceChildren(
    h("h1", {}, "Capabilities"),
    h("table", { class: "matrix" },
      h("thead", {}, h("tr", {}, h("th", {}, "capability"), h("th", {}, "phase"),
        STEPS.map((s, i) => h("th", { class: "step-head" }, `${i + 1}. ${s}`)))),
      h("tbody", {}, rows)),
    h("p", { class: "legend muted small" }, "✓ done · ● running · ✗ failed · ○ pending · – not planned"),
  );
}

export function mark(state) {
  return { done: "✓", running: "●", failed: "✗", pending: "○", skipped: "–" }[state] ?? "?";
}

export function stepTitle(s) {
  const parts = [`${s.number}. ${s.name}: ${s.state}`, `${s.ready}/${s.resources} resources ready`];
  if (s.durationMs !== null) parts.push(`took ${duration(s.durationMs)}`);
  if (s.error) parts.push(s.error);
  return parts.join("\n");
}
