//! `verify` (the seed's `verify-capability`): AWS resources present and as planned, workloads
//! available, services with endpoints, the IRSA annotation matching the role and its trust.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::ListParams;
use kube::{Api, Client};
use serde::Serialize;

use crate::model::outcome::Outcome;
use crate::model::plan::{Kind, Plan, Settings};
use crate::provision::aws::Ctx as AwsCtx;
use crate::provision::kube::apply::{self as k8s_apply, Rollout};
use crate::provision::kube::objects;
use crate::provision::{self, Options};

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

fn check(out: &mut Vec<Check>, check: impl Into<String>, ok: bool, detail: impl Into<String>) {
    out.push(Check { check: check.into(), ok, detail: detail.into() });
}

/// Runs every check; reads only.
pub async fn verify(plan: &Plan, aws: &AwsCtx, client: &Client, owner: &str) -> Vec<Check> {
    let mut out = Vec::new();
    // AWS: a dry run finds every resource present and unchanged.
    let dry = AwsCtx { dry_run: true, ..aws.clone() };
    let report = provision::apply(plan, &dry, &Options::default()).await;
    for r in &report.resources {
        let ok = r.outcome == Outcome::Unchanged;
        let detail = match r.outcome {
            Outcome::Unchanged => "present, as planned".to_owned(),
            Outcome::Created => "missing".to_owned(),
            Outcome::Updated => format!("differs from the plan: {}", r.changes.join("; ")),
            _ => r.error.clone().unwrap_or_else(|| r.outcome.to_string()),
        };
        check(&mut out, format!("{} {}", r.kind, r.name), ok, detail);
    }
    // Kubernetes objects present and as planned.
    for (r, obj) in objects::objects(plan, owner) {
        let label = format!("{} {}", r.kind, r.name);
        match k8s_apply::apply(client, &obj, k8s_apply::Mode::DRY_RUN).await {
            Ok(d) if d.outcome == crate::model::outcome::Outcome::Unchanged => {
                check(&mut out, label, true, "present, as planned")
            }
            Ok(d) if d.outcome == crate::model::outcome::Outcome::Created => check(&mut out, label, false, "missing"),
            Ok(d) => check(&mut out, label, false, format!("differs from the plan: {}", d.changes.join(", "))),
            Err(e) => check(&mut out, label, false, e.to_string()),
        }
    }
    for d in plan.of_kind(Kind::Deployment) {
        let label = format!("rollout {}", d.name);
        match k8s_apply::deployment_rollout(client, &plan.namespace, &d.name).await {
            Ok(Rollout::Available) => check(&mut out, label, true, "available"),
            Ok(Rollout::Progressing(w)) => check(&mut out, label, false, w),
            Ok(Rollout::Stuck(w)) => check(&mut out, label, false, w),
            Err(e) => check(&mut out, label, false, e.to_string()),
        }
    }
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &plan.namespace);
    for s in plan.of_kind(Kind::Service) {
        let label = format!("endpoints {}", s.name);
        let lp = ListParams::default().labels(&format!("kubernetes.io/service-name={}", s.name));
        match slices.list(&lp).await {
            Ok(list) => {
                let ready = list
                    .items
                    .iter()
                    .flat_map(|sl| sl.endpoints.iter())
                    .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
                    .count();
                check(&mut out, label, ready > 0, format!("{ready} ready endpoints"));
            }
            Err(e) => check(&mut out, label, false, e.to_string()),
        }
    }
    // The apps answer: each Service's health path, through the API server's service proxy (no
    // port-forward, no ingress controller needed), as the readiness probe asks it.
    for svc in plan.of_kind(Kind::Service) {
        let Settings::Service(s) = &svc.settings else { continue };
        let probe = plan.of_kind(Kind::Deployment).find_map(|d| match &d.settings {
            Settings::Deployment(dep) if dep.component == s.component => Some(dep.readiness_probe.path.clone()),
            _ => None,
        });
        let Some(path) = probe else { continue };
        let label = format!("http {}{path}", svc.name);
        let url = format!("/api/v1/namespaces/{}/services/{}:{}/proxy{path}", s.namespace, svc.name, s.port);
        let answer = match http::Request::get(&url).body(Vec::new()) {
            Ok(req) => tokio::time::timeout(std::time::Duration::from_secs(10), client.request_text(req)).await,
            Err(e) => {
                check(&mut out, label, false, e.to_string());
                continue;
            }
        };
        match answer {
            Ok(Ok(_)) => check(&mut out, label, true, "answers"),
            Ok(Err(e)) => check(&mut out, label, false, crate::provision::kube::describe(&e)),
            Err(_) => check(&mut out, label, false, "no answer within 10s"),
        }
    }
    // IRSA: the service account names the role that exists, and the role trusts that account.
    if let (Some(sa), Some(role)) = (plan.of_kind(Kind::ServiceAccount).next(), plan.of_kind(Kind::IamRole).next()) {
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &plan.namespace);
        let annotated = accounts
            .get_opt(&sa.name)
            .await
            .ok()
            .flatten()
            .and_then(|a| a.metadata.annotations.and_then(|m| m.get("eks.amazonaws.com/role-arn").cloned()));
        let actual = aws.clients.iam.get_role().role_name(&role.name).send().await.ok().and_then(|r| r.role);
        match (annotated, actual) {
            (Some(a), Some(r)) => {
                let trust =
                    r.assume_role_policy_document.as_deref().and_then(crate::provision::aws::iam::parse_document);
                let subject = match &role.settings {
                    Settings::IamRole(s) => s.trust.subject.clone(),
                    _ => String::new(),
                };
                let trusts = trust.is_some_and(|t| t.to_string().contains(&format!("\"{subject}\"")));
                check(&mut out, "IRSA annotation", a == r.arn, format!("service account → {a}; role is {}", r.arn));
                check(&mut out, "IRSA trust", trusts, format!("role trusts {subject}: {trusts}"));
            }
            (a, r) => check(
                &mut out,
                "IRSA annotation",
                false,
                format!("annotation {a:?}, role {}", if r.is_some() { "present" } else { "missing" }),
            ),
        }
    }
    out
}
