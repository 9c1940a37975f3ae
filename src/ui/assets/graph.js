// Dependency graph: the layout the daemon computed (layered by dependsOn), drawn as SVG, each
// node coloured by its health; a node that waits says on what.
import { get, h } from "/assets/api.js";

const WIDTH = 220;
const HEIGHT = 40;
let shown = null;
let latest = 0;

export async function graphView(view, c) {
  // Redrawn when the capability changes; the layout is fetched once per change.
  const key = `${c.key}@${JSON.stringify(c.resources.map((r) => r.health))}`;
  if (shown === key && view.querySelector("svg.graph")) return;
  shown = key;
  const mine = ++latest;
  let g;
  try {
    g = await get(`capabilities/${c.key}/graph`);
  } catch (e) {
    g = { error: e.message };
  }
  // A newer change, or the reader went to another view, while this one loaded.
  if (mine !== latest || location.hash !== `#/graph/${c.key}`) return;
  if (g.error) {
    view.replaceChildren(h("p", { class: "error" }, `cannot load the graph: ${g.error}`));
    return;
  }
  const at = new Map(g.nodes.map((n) => [n.id, n]));
  const edges = g.edges.map((e) => {
    const a = at.get(e.from);
    const b = at.get(e.to);
    const [x1, y1, x2, y2] = [a.x + WIDTH, a.y + HEIGHT / 2, b.x, b.y + HEIGHT / 2];
    const mid = (x1 + x2) / 2;
    return h("path", { class: `edge ${b.waitingOn.includes(a.id) ? "blocking" : ""}`, d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` });
  });
  const nodes = g.nodes.map((n) =>
    h("g", { class: `node ${n.health}`, transform: `translate(${n.x},${n.y})`, "data-id": n.id },
      h("title", {}, [n.id, n.message, n.waitingOn.length ? `waits on: ${n.waitingOn.join(", ")}` : null].filter(Boolean).join("\n")),
      h("rect", { width: WIDTH, height: HEIGHT, rx: 6 }),
      h("text", { x: 8, y: 16, class: "kind" }, `${n.step}. ${n.kind}`),
      h("text", { x: 8, y: 32, class: "name" }, short(n.name)),
      n.waitingOn.length ? h("text", { x: WIDTH - 6, y: 16, class: "waits", "text-anchor": "end" }, `waits on ${n.waitingOn.length}`) : null));
  const waiting = g.nodes.filter((n) => n.waitingOn.length);
  // The daemon lays the resources with no edge either way out in a grid under the flow.
  const linked = new Set(g.edges.flatMap((e) => [e.from, e.to]));
  const gridTop = Math.min(...g.nodes.filter((n) => !linked.has(n.id)).map((n) => n.y));
  const gridLabel = Number.isFinite(gridTop)
    ? h("text", { x: 20, y: gridTop - 12, class: "grid-label" }, "no dependsOn either way, by step")
    : null;
  view.replaceChildren(
    h("h1", {}, `${c.key} — dependency graph`),
    h("p", { class: "legend muted small" },
      h("span", { class: "swatch ok" }), "healthy ", h("span", { class: "swatch waiting" }), "coming up ",
      h("span", { class: "swatch pending" }), "pending ", h("span", { class: "swatch failed" }), "failed"),
    h("div", { class: "graph-box" },
      h("svg", { class: "graph", width: g.width, height: g.height, viewBox: `0 0 ${g.width} ${g.height}` },
        h("g", {}, edges), h("g", {}, nodes), gridLabel)),
    // replaceChildren would print a null.
    ...(waiting.length ? [h("div", {}, h("h2", {}, "Waiting"),
      h("ul", { class: "waiting" }, waiting.map((n) => h("li", {}, h("span", { class: "mono" }, n.id), " waits on ",
        n.waitingOn.map((w, i) => [i ? ", " : "", h("span", { class: "mono" }, w)])))))] : []),
  );
}

function short(name) {
  return name.length > 30 ? `${name.slice(0, 29)}…` : name;
}
