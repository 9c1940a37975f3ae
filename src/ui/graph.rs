//! The dependency graph of a capability, laid out by the daemon (issue 16: "a layered DAG,
//! drawn as SVG; no graph library"): one node per planned resource, an edge from each resource
//! a resource `dependsOn` to it, layers by the longest path from the roots, order within a layer
//! by the mean position of a node's neighbours (sweeps down, up and down; plan order breaking
//! ties). Resources with no edge either way (most AWS resources: nothing in the plan waits on a
//! parameter or a bucket) are not part of that flow: they sit under it in a grid, a row per step,
//! so the graph is as tall as its widest layer and not as the forty AWS roots. Pure.

use std::collections::HashMap;

use serde::Serialize;

use super::model::{Capability, Health, ResourceView};

/// Horizontal distance between layers, vertical between nodes, and the margin (SVG units).
pub const COLUMN: u32 = 260;
pub const ROW: u32 = 56;
pub const MARGIN: u32 = 20;
/// The page draws each node as a box this large.
pub const NODE_WIDTH: u32 = 220;
pub const NODE_HEIGHT: u32 = 40;
/// Unlinked resources per row of the grid, at least (as many as the layers when there are more).
pub const GRID_COLUMNS: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub step: usize,
    pub health: Health,
    pub message: Option<String>,
    /// Its longest path from a root (0 for a root).
    pub layer: usize,
    /// Its place in its layer, for a resource with edges.
    pub order: usize,
    /// Where the page draws it: by layer and order, or in the grid of unlinked resources.
    pub x: u32,
    pub y: u32,
    /// For a node not yet healthy: the resources it depends on that are not healthy either.
    pub waiting_on: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// The resource depended on.
    pub from: String,
    /// The resource that depends on it.
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub width: u32,
    pub height: u32,
}

/// The layer of each resource: 0 for a root, else one more than its deepest dependency.
/// Dependencies outside the list are ignored; a cycle (the plan has none) is cut where found.
fn layers(resources: &[ResourceView], index: &HashMap<&str, usize>) -> Vec<usize> {
    fn visit(
        i: usize,
        rs: &[ResourceView],
        index: &HashMap<&str, usize>,
        memo: &mut [Option<usize>],
        on: &mut [bool],
    ) -> usize {
        if let Some(l) = memo[i] {
            return l;
        }
        on[i] = true;
        let mut layer = 0;
        for d in &rs[i].depends_on {
            if let Some(&j) = index.get(d.as_str())
                && !on[j]
            {
                layer = layer.max(visit(j, rs, index, memo, on) + 1);
            }
        }
        on[i] = false;
        memo[i] = Some(layer);
        layer
    }
    let mut memo = vec![None; resources.len()];
    let mut on = vec![false; resources.len()];
    (0..resources.len()).map(|i| visit(i, resources, index, &mut memo, &mut on)).collect()
}

/// Orders the nodes of one layer by the mean order of their `neighbours` (in the layer before or
/// after); a node without any keeps its place. Stable: ties keep the current order.
fn sweep(members: &[usize], neighbours: &[Vec<usize>], order: &mut [usize]) {
    let mut keyed: Vec<(f64, usize, usize)> = members
        .iter()
        .map(|&i| {
            let ns = &neighbours[i];
            let key = if ns.is_empty() {
                order[i] as f64
            } else {
                ns.iter().map(|&j| order[j]).sum::<usize>() as f64 / ns.len() as f64
            };
            (key, order[i], i)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (pos, (_, _, i)) in keyed.into_iter().enumerate() {
        order[i] = pos;
    }
}

/// The graph of a capability's resources.
pub fn layout(cap: &Capability) -> Graph {
    let rs = &cap.resources;
    let index: HashMap<&str, usize> = rs.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
    let layer = layers(rs, &index);
    let depth = layer.iter().max().map_or(0, |m| m + 1);
    let parents: Vec<Vec<usize>> =
        rs.iter().map(|r| r.depends_on.iter().filter_map(|d| index.get(d.as_str()).copied()).collect()).collect();
    let mut children = vec![Vec::new(); rs.len()];
    for (i, ps) in parents.iter().enumerate() {
        for &p in ps {
            children[p].push(i);
        }
    }
    let unlinked: Vec<bool> = (0..rs.len()).map(|i| parents[i].is_empty() && children[i].is_empty()).collect();
    let by_layer: Vec<Vec<usize>> =
        (0..depth).map(|l| (0..rs.len()).filter(|&i| layer[i] == l && !unlinked[i]).collect()).collect();
    // Plan order first, then three sweeps: down (by parents), up (by children: roots that feed
    // much sit next to what they feed), down again.
    let mut order = vec![0usize; rs.len()];
    for members in &by_layer {
        for (pos, &i) in members.iter().enumerate() {
            order[i] = pos;
        }
    }
    let down: Vec<usize> = (1..depth).collect();
    let up: Vec<usize> = (0..depth.saturating_sub(1)).rev().collect();
    for (layers, neighbours) in [(&down, &parents), (&up, &children), (&down, &parents)] {
        for &l in layers {
            sweep(&by_layer[l], neighbours, &mut order);
        }
    }
    let widest = by_layer.iter().map(Vec::len).max().unwrap_or(0);
    let mut spot: Vec<(u32, u32)> = (0..rs.len()).map(|i| (layer[i] as u32, order[i] as u32)).collect();
    // The unlinked resources: a row per step (wrapping), one empty row under the flow.
    let columns = depth.max(GRID_COLUMNS) as u32;
    let mut grid: Vec<usize> = (0..rs.len()).filter(|&i| unlinked[i]).collect();
    grid.sort_by_key(|&i| rs[i].step);
    let (mut row, mut column, mut step) = (widest as u32, columns, None);
    for &i in &grid {
        if column == columns || step != Some(rs[i].step) {
            (row, column, step) = (row + 1, 0, Some(rs[i].step));
        }
        spot[i] = (column, row);
        column += 1;
    }
    let rows = if grid.is_empty() { widest as u32 } else { row + 1 };
    let used_columns = if grid.is_empty() { depth as u32 } else { columns.max(depth as u32) };
    let healthy = |id: &str| index.get(id).is_some_and(|&j| rs[j].health == Health::Ok);
    let nodes = rs
        .iter()
        .enumerate()
        .map(|(i, r)| Node {
            id: r.id.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
            step: r.step,
            health: r.health,
            message: r.message.clone(),
            layer: layer[i],
            order: order[i],
            x: MARGIN + spot[i].0 * COLUMN,
            y: MARGIN + spot[i].1 * ROW,
            waiting_on: if r.health == Health::Ok {
                Vec::new()
            } else {
                r.depends_on.iter().filter(|d| index.contains_key(d.as_str()) && !healthy(d)).cloned().collect()
            },
        })
        .collect();
    let edges = rs
        .iter()
        .flat_map(|r| {
            r.depends_on
                .iter()
                .filter(|d| index.contains_key(d.as_str()))
                .map(|d| Edge { from: d.clone(), to: r.id.clone() })
        })
        .collect();
    Graph {
        nodes,
        edges,
        width: 2 * MARGIN + used_columns.saturating_sub(1) * COLUMN + NODE_WIDTH,
        height: 2 * MARGIN + rows.saturating_sub(1) * ROW + NODE_HEIGHT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::Phase;
    use crate::ui::model::tests::{all, minimal};
    use crate::ui::steps::Timeline;

    fn graph_of(example: &str) -> (crate::model::plan::Plan, Graph) {
        let mut cr = crate::input::examples::example(example);
        cr.metadata.namespace = Some("ns".into());
        cr.metadata.name = Some("n".into());
        let plan = crate::model::plan::build(&cr, &crate::input::examples::profile("local"));
        let cap = crate::ui::model::capability(&cr, &plan, None, &Timeline::default());
        (plan, layout(&cap))
    }

    #[test]
    fn one_node_per_planned_resource_and_one_edge_per_depends_on() {
        for example in crate::input::examples::names() {
            let (plan, g) = graph_of(example);
            let ids: Vec<String> = plan.resources.iter().map(|r| r.id()).collect();
            assert_eq!(g.nodes.iter().map(|n| n.id.clone()).collect::<Vec<_>>(), ids, "{example}");
            let mut expected: Vec<Edge> = plan
                .resources
                .iter()
                .flat_map(|r| r.depends_on.iter().map(|d| Edge { from: d.clone(), to: r.id() }))
                .collect();
            let mut edges = g.edges.clone();
            expected.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
            edges.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
            assert_eq!(edges, expected, "{example}: every dependsOn is a planned resource");
            assert!(!edges.is_empty());
        }
    }

    #[test]
    fn layers_respect_edges_and_nodes_do_not_overlap() {
        for example in crate::input::examples::names() {
            let (_, g) = graph_of(example);
            let node = |id: &str| g.nodes.iter().find(|n| n.id == id).unwrap();
            for e in &g.edges {
                assert!(node(&e.from).layer < node(&e.to).layer, "{example}: {} → {}", e.from, e.to);
            }
            for n in &g.nodes {
                let deepest = g.edges.iter().filter(|e| e.to == n.id).map(|e| node(&e.from).layer + 1).max();
                assert_eq!(n.layer, deepest.unwrap_or(0), "{example}: {} sits right after its deepest parent", n.id);
                assert!(n.x < g.width && n.y < g.height);
            }
            let mut spots: Vec<(u32, u32)> = g.nodes.iter().map(|n| (n.x, n.y)).collect();
            spots.sort_unstable();
            spots.dedup();
            assert_eq!(spots.len(), g.nodes.len(), "{example}: one node per spot");
        }
    }

    #[test]
    fn the_chain_runs_from_aws_through_iam_and_the_service_account_to_the_ingress() {
        let (_, g) = graph_of("minimal");
        let layer = |kind: &str| g.nodes.iter().find(|n| n.kind == kind).unwrap().layer;
        assert!(layer("iam.role") < layer("k8s.serviceaccount"));
        assert!(layer("k8s.serviceaccount") < layer("k8s.deployment"));
        assert!(layer("k8s.service") < layer("k8s.ingress"));
        // The namespace feeds most of the next layer: it sits beside it, not after the forty
        // AWS roots that feed nothing there.
        let namespace = g.nodes.iter().find(|n| n.kind == "k8s.namespace").unwrap();
        assert!(namespace.order < 10, "namespace at {} of layer 0", namespace.order);
    }

    #[test]
    fn resources_without_edges_sit_under_the_flow_a_row_per_step() {
        let (_, g) = graph_of("nexus-ai-complete");
        let linked: Vec<&Node> =
            g.nodes.iter().filter(|n| g.edges.iter().any(|e| e.from == n.id || e.to == n.id)).collect();
        let unlinked: Vec<&Node> = g.nodes.iter().filter(|n| !linked.iter().any(|l| l.id == n.id)).collect();
        assert!(unlinked.len() > 20, "the AWS resources nothing waits on: {}", unlinked.len());
        let flow_bottom = linked.iter().map(|n| n.y).max().unwrap();
        assert!(unlinked.iter().all(|n| n.y > flow_bottom + ROW / 2), "under the flow, a row apart");
        for a in &unlinked {
            for b in unlinked.iter().filter(|b| b.y == a.y) {
                assert_eq!(a.step, b.step, "one step per row: {} {}", a.id, b.id);
            }
        }
        let rows = {
            let mut ys: Vec<u32> = g.nodes.iter().map(|n| n.y).collect();
            ys.dedup();
            ys.sort_unstable();
            ys.dedup();
            ys.len()
        };
        assert!(rows * 3 < g.nodes.len(), "{rows} rows for {} nodes", g.nodes.len());
        assert!(g.nodes.iter().all(|n| n.x + NODE_WIDTH <= g.width && n.y + NODE_HEIGHT <= g.height));
    }

    #[test]
    fn a_waiting_node_names_the_unhealthy_resources_it_depends_on() {
        let (_, plan) = minimal(None);
        let mut status = all(&plan, "Ready", Phase::ProvisioningIam);
        let role = status.resources.iter_mut().find(|r| r.kind == "iam.role").unwrap();
        role.state = "Pending".into();
        let role_id = format!("iam.role/{}", role.name);
        let (cr, plan) = minimal(Some(status.clone()));
        let sa = plan.of_kind(crate::model::plan::Kind::ServiceAccount).next().unwrap().id();
        for r in status.resources.iter_mut().filter(|r| r.kind == "k8s.serviceaccount") {
            r.state = "Pending".into();
        }
        let (cr2, _) = minimal(Some(status));
        let g = layout(&crate::ui::model::capability(&cr2, &plan, None, &Timeline::default()));
        let node = g.nodes.iter().find(|n| n.id == sa).unwrap();
        assert_eq!(node.waiting_on, vec![role_id], "the namespace is Ready, the role is not");
        let g = layout(&crate::ui::model::capability(&cr, &plan, None, &Timeline::default()));
        assert!(g.nodes.iter().find(|n| n.id == sa).unwrap().waiting_on.is_empty(), "a healthy node waits on nothing");
    }
}
