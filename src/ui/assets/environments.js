// Environments: the daemon's local profile beside one EKS profile for the same specs. The
// environments' facts, then per capability the digests each side runs (drift coloured) and the
// profile-scoped differences of the two plans. Local is live; EKS is what the last promotion
// recorded: the dashboard never contacts an EKS cluster (docs/design/ui.md, "Environments").
import { get, h } from "/assets/api.js";

let latest = null;
let inFlight = null;

/** Fetches the view again (at most one request at a time) and redraws with it. */
function refresh(view, chosen) {
  if (inFlight) return;
  inFlight = get("environments")
    .then((v) => { latest = v; draw(view, chosen); })
    .catch((e) => view.replaceChildren(h("p", { class: "error" }, `cannot read the environments: ${e.message}`)))
    .finally(() => { inFlight = null; });
}

/** `#/environments[/PROFILE]`: redrawn from the last answer at once, then from a new one. */
export function environmentsView(view, chosen) {
  if (latest) draw(view, chosen);
  else view.replaceChildren(h("p", { class: "muted" }, "reading the environments…"));
  refresh(view, chosen);
}

/** The EKS profile shown: the one in the URL, else the first with a promotion, else the first. */
function pick(v, chosen) {
  const names = v.eks.map((e) => e.profile);
  if (names.includes(chosen)) return chosen;
  const promoted = v.eks.find((e) => v.capabilities.some((c) => c.comparisons.some((x) => x.profile === e.profile && x.promoted)));
  return (promoted ?? v.eks[0])?.profile;
}

function draw(view, chosen) {
  const v = latest;
  const profile = pick(v, chosen);
  const eks = v.eks.find((e) => e.profile === profile);
  const tabs = h("nav", { class: "env-tabs" }, "compare local with ",
    v.eks.map((e) => h("a", { href: `#/environments/${e.profile}`, class: e.profile === profile ? "chosen" : "", "data-profile": e.profile }, e.profile)));
  // replaceChildren takes nodes only: h() flattens the lists and drops the nulls.
  view.replaceChildren(h("div", { class: "environments" },
    h("h1", {}, "Environments"),
    h("p", { class: "muted env-note" },
      "Local is live: what this machine's cluster runs now. ",
      h("strong", {}, "EKS is recorded, not live"),
      ": what the last successful promotion wrote under .nexus-dev/releases/. The dashboard never contacts an EKS cluster."),
    v.problems.length ? h("ul", { class: "error small env-problems" }, v.problems.map((p) => h("li", {}, p))) : null,
    eks ? tabs : h("p", { class: "muted" }, "no EKS profile: add one under profiles/ (provider: eks) to compare with it"),
    facts(v.local, eks),
    v.capabilities.length === 0
      ? h("p", { class: "muted" }, "no capabilities in this project yet (`nexus-dev up` applies them)")
      : v.capabilities.map((c) => capability(c, v.local, eks)),
  ));
}

const FACTS = [
  ["provider", (e) => e.provider],
  ["cluster", (e) => e.cluster],
  ["context", (e) => e.context],
  ["account", (e) => e.account],
  ["region", (e) => e.region ?? "each capability's"],
  ["AWS", (e) => (e.emulator ? `${e.emulator} at ${e.endpoint}` : e.endpoint ? `AWS at ${e.endpoint}` : "AWS")],
  ["registry", (e) => e.registry],
  ["ingress", (e) => `${e.ingressClass}${e.domain ? ` · *.${e.domain}` : ""}${e.tls ? " · TLS" : ""}`],
  ["from", (e) => (e.source === "live" ? "live: the local cluster" : "recorded: the promotion history")],
];

function facts(local, eks) {
  const envs = eks ? [local, eks] : [local];
  return h("table", { class: "env-facts" },
    h("thead", {}, h("tr", {}, h("th", {}, ""), envs.map((e) =>
      h("th", { class: e.source }, e.profile, e.production ? h("span", { class: "badge prod" }, "production") : null,
        h("div", { class: "muted small" }, e.origin))))),
    h("tbody", {}, FACTS.map(([label, f]) =>
      h("tr", {}, h("th", {}, label), envs.map((e) => h("td", { class: "mono" }, f(e) ?? "—"))))));
}

function capability(c, local, eks) {
  const x = eks && c.comparisons.find((k) => k.profile === eks.profile);
  const head = h("h2", {}, c.key, h("span", { class: "muted small" }, ` ${c.capability} · environment ${c.environment} · ${c.region}`));
  if (!x) return h("section", { class: "env-cap", "data-key": c.key }, head);
  return h("section", { class: "env-cap", "data-key": c.key }, head,
    promotion(x),
    digests(x, local, eks),
    differences(x.plan, local, eks));
}

function promotion(x) {
  const p = x.promoted;
  const line = p
    ? h("p", { class: "env-promoted" }, `last promoted to ${x.profile} `, h("strong", {}, p.time),
      h("span", { class: "muted small" }, ` · release ${p.release} · account ${p.account} · ${p.clusterArn}`),
      p.sameSpec ? null : h("span", { class: "badge differs" }, "from another version of the spec"))
    : h("p", { class: "env-promoted muted" }, `never promoted to ${x.profile}`);
  const failed = x.failedSince.map((f) => h("p", { class: "error small" }, `${f.time}: promotion of ${f.release} ${f.outcome}`));
  return h("div", {}, line, failed);
}

const DRIFT = { same: "same digest", differs: "differs", unknown: "unknown" };

function digests(x, local, eks) {
  return h("table", { class: "env-digests" },
    h("thead", {}, h("tr", {}, h("th", {}, "component"), h("th", {}, `${local.profile} (live)`),
      h("th", {}, `${eks.profile} (recorded)`), h("th", {}, "drift"))),
    h("tbody", {}, x.components.map((d) =>
      h("tr", { "data-component": d.component, class: `drift-${d.drift}` },
        h("td", {}, d.component),
        h("td", { class: "mono" }, image(d.local)),
        h("td", { class: "mono" }, image(d.eks)),
        h("td", {}, h("span", { class: `badge ${d.drift}`, title: d.why }, DRIFT[d.drift]),
          h("div", { class: "muted small" }, d.why))))));
}

/** `host/repository@sha256:…`: the repository, and the digest cut to 12 digits (the full one in the title). */
function image(ref) {
  if (!ref) return h("span", { class: "muted" }, "—");
  const at = ref.indexOf("@");
  if (at < 0) return h("span", { title: ref }, ref);
  return h("span", { title: ref }, ref.slice(0, at), h("br"), h("span", { class: "digest" }, ref.slice(at + 1, at + 8 + 12)), "…");
}

/** A plan value as text: strings bare, the rest as JSON. */
function text(v) {
  if (v === null || v === undefined) return "—";
  return typeof v === "string" ? v : JSON.stringify(v, null, 1).replace(/\n\s*/g, " ");
}

function differences(plan, local, eks) {
  const rows = [
    ...plan.onlyIn.map((o) => h("tr", { class: "only-in" },
      h("td", { class: "mono" }, o.resource), h("td", { class: "muted" }, "the resource"),
      h("td", {}, o.profile === local.profile ? "planned" : "—"),
      h("td", {}, o.profile === eks.profile ? "planned" : "—"))),
    ...plan.settings.map((s) => h("tr", {},
      h("td", { class: "mono" }, s.resource), h("td", { class: "mono" }, s.field.replace(/^settings\./, "")),
      h("td", { class: "mono value" }, text(s.from)), h("td", { class: "mono value" }, text(s.to)))),
  ];
  return h("div", {},
    h("h3", {}, `Plan differences (${rows.length})`,
      h("span", { class: "muted small" }, " profile-scoped: endpoints, account, registry, ingress, IRSA")),
    plan.outsideScope.length
      ? h("ul", { class: "error small" }, h("li", {}, "outside the profile-scoped fields (the parity contract is broken):"),
        plan.outsideScope.map((d) => h("li", { class: "mono" }, d)))
      : null,
    rows.length
      ? h("table", { class: "env-plan" },
        h("thead", {}, h("tr", {}, h("th", {}, "resource"), h("th", {}, "field"), h("th", {}, local.profile), h("th", {}, eks.profile))),
        h("tbody", {}, rows))
      : h("p", { class: "muted" }, "the two plans are the same"));
}
