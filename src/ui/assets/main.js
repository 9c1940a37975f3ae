// The page: a hash route per view, redrawn from the stream's state on every change.
import { follow, h } from "/assets/api.js";
import { overview } from "/assets/overview.js";
import { capabilityView, leaveCapability } from "/assets/capability.js";
import { graphView } from "/assets/graph.js";
import { logsView, leaveLogs } from "/assets/logs.js";
import { buildsView, leaveBuilds } from "/assets/builds.js";
import { environmentsView } from "/assets/environments.js";

const view = document.getElementById("view");
const crumbs = document.getElementById("crumbs");
const connection = document.getElementById("connection");
let capabilities = new Map();
let received = false;

function render() {
  const [, page, namespace, name] = (location.hash || "#/").split("/");
  const key = `${namespace}/${name}`;
  const cap = capabilities.get(key);
  crumbs.replaceChildren();
  // The logs have their own stream: they need no capabilities, and are not redrawn with them.
  if (page === "logs") {
    const selector = location.hash.slice("#/logs/".length);
    if (selector) crumbs.append(h("a", { href: "#/logs" }, "logs"), ` › ${selector}`);
    logsView(view, selector);
    return;
  }
  leaveLogs();
  // The environments are their own REST object; they are read again when the capabilities change.
  if (page === "environments") {
    environmentsView(view, namespace);
    return;
  }
  // So do the builds.
  if (page === "builds") {
    buildsView(view);
    return;
  }
  leaveBuilds();
  if (page !== "capability") leaveCapability();
  if (!received) {
    view.replaceChildren(h("p", { class: "muted" }, "waiting for the daemon…"));
  } else if ((page === "capability" || page === "graph") && !cap) {
    view.replaceChildren(h("p", { class: "muted" }, `no capability ${key} in this project`));
  } else if (page === "capability") {
    crumbs.append(h("a", { href: `#/capability/${key}` }, key));
    capabilityView(view, cap);
  } else if (page === "graph") {
    crumbs.append(h("a", { href: `#/capability/${key}` }, key), " › graph");
    graphView(view, cap);
  } else {
    overview(view, capabilities);
  }
}

follow(
  (caps) => {
    capabilities = caps;
    received = true;
    render();
  },
  (state) => {
    connection.textContent = state;
    connection.dataset.state = state === "live" ? "live" : "down";
  },
);
addEventListener("hashchange", render);
render();
