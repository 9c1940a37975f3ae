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
use crate::provision::{self, Options, Report};

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

fn check(out: &mut Vec<Check>, check: impl Into<String>, ok: bool, detail: impl Into<String>) {
    out.push(Check { check: check.into(), ok, detail: detail.into() });
}

/// Runs every check; reads only. The sections run at once, each check of a section too; the
/// checks come out in a fixed order: AWS, objects, rollouts, endpoints, HTTP, IRSA.
pub async fn verify(plan: &Plan, aws: &AwsCtx, client: &Client, owner: &str) -> Vec<Check> {
    let (a, objects, rollouts, endpoints, http, irsa) = futures::join!(
        aws_checks(plan, aws),
        object_checks(plan, aws, client, owner),
        rollout_checks(plan, client),
        endpoint_checks(plan, client),
        http_checks(plan, client),
        irsa_checks(plan, aws, client),
    );
    [a, objects, rollouts, endpoints, http, irsa].concat()
}

/// How one AWS resource compares with the plan, from a dry run's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AwsState {
    /// Present, as planned.
    InSync,
    /// Not there: an apply would create it.
    Missing,
    /// There, with settings an apply would change (the report's `changes`).
    Differs,
    /// It could not be read.
    Error,
}

impl AwsState {
    pub fn of(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Unchanged => Self::InSync,
            Outcome::Created => Self::Missing,
            Outcome::Updated => Self::Differs,
            _ => Self::Error,
        }
    }
}

/// A dry run of the plan's AWS part: what an apply would do to each resource, and why (its
/// `changes`). Reads only. `verify` and the dashboard's drift view (issue 16) both ask this.
pub async fn aws_dry_run(plan: &Plan, aws: &AwsCtx) -> Report {
    let dry = AwsCtx { dry_run: true, ..aws.clone() };
    provision::apply(plan, &dry, &Options::default()).await
}

/// AWS: a dry run finds every resource present and unchanged.
async fn aws_checks(plan: &Plan, aws: &AwsCtx) -> Vec<Check> {
    let mut out = Vec::new();
    let report = aws_dry_run(plan, aws).await;
    for r in &report.resources {
        let state = AwsState::of(r.outcome);
        let detail = match state {
            AwsState::InSync => "present, as planned".to_owned(),
            AwsState::Missing => "missing".to_owned(),
            AwsState::Differs => format!("differs from the plan: {}", r.changes.join("; ")),
            AwsState::Error => r.error.clone().unwrap_or_else(|| r.outcome.to_string()),
        };
        check(&mut out, format!("{} {}", r.kind, r.name), state == AwsState::InSync, detail);
    }
    out
}

/// Kubernetes objects present and as planned (the pods' Secret with the current values).
async fn object_checks(plan: &Plan, aws: &AwsCtx, client: &Client, owner: &str) -> Vec<Check> {
    let mut objects = objects::objects(plan, owner);
    // Unreadable values fail their own check; the objects are still compared (the pods' Secret
    // and, in env mode, the Deployments then show as differing).
    let values = crate::provision::kube::secrets::fill(&mut objects, aws).await.err().map(|e| Check {
        check: "secret values for the pods".into(),
        ok: false,
        detail: e.to_string(),
    });
    let each = objects.iter().map(|(r, obj)| async move {
        let label = format!("{} {}", r.kind, r.name);
        let (ok, detail) = match k8s_apply::apply(client, obj, k8s_apply::Mode::DRY_RUN).await {
            Ok(d) if d.outcome == Outcome::Unchanged => (true, "present, as planned".to_owned()),
            Ok(d) if d.outcome == Outcome::Created => (false, "missing".to_owned()),
            Ok(d) => (false, format!("differs from the plan: {}", d.changes.join(", "))),
            Err(e) => (false, e.to_string()),
        };
        Check { check: label, ok, detail }
    });
    values.into_iter().chain(futures::future::join_all(each).await).collect()
}

async fn rollout_checks(plan: &Plan, client: &Client) -> Vec<Check> {
    let each = plan.of_kind(Kind::Deployment).map(|d| async move {
        let check = format!("rollout {}", d.name);
        let (ok, detail) = match k8s_apply::deployment_rollout(client, &plan.namespace, &d.name).await {
            Ok(Rollout::Available) => (true, "available".to_owned()),
            Ok(Rollout::Progressing(w)) | Ok(Rollout::Stuck(w)) => (false, w),
            Err(e) => (false, e.to_string()),
        };
        Check { check, ok, detail }
    });
    futures::future::join_all(each).await
}

async fn endpoint_checks(plan: &Plan, client: &Client) -> Vec<Check> {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &plan.namespace);
    let each = plan.of_kind(Kind::Service).map(|s| {
        let slices = &slices;
        async move {
            let check = format!("endpoints {}", s.name);
            let lp = ListParams::default().labels(&format!("kubernetes.io/service-name={}", s.name));
            match slices.list(&lp).await {
                Ok(list) => {
                    let ready = list
                        .items
                        .iter()
                        .flat_map(|sl| sl.endpoints.iter())
                        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
                        .count();
                    Check { check, ok: ready > 0, detail: format!("{ready} ready endpoints") }
                }
                Err(e) => Check { check, ok: false, detail: e.to_string() },
            }
        }
    });
    futures::future::join_all(each).await
}

/// The apps answer: each Service's health path, through the API server's service proxy (no
/// port-forward, no ingress controller needed), as the readiness probe asks it.
async fn http_checks(plan: &Plan, client: &Client) -> Vec<Check> {
    let each = plan.of_kind(Kind::Service).filter_map(|svc| {
        let Settings::Service(s) = &svc.settings else { return None };
        let path = plan.of_kind(Kind::Deployment).find_map(|d| match &d.settings {
            Settings::Deployment(dep) if dep.component == s.component => Some(dep.readiness_probe.path.clone()),
            _ => None,
        })?;
        Some(async move {
            let check = format!("http {}{path}", svc.name);
            let url = format!("/api/v1/namespaces/{}/services/{}:{}/proxy{path}", s.namespace, svc.name, s.port);
            let answer = match http::Request::get(&url).body(Vec::new()) {
                Ok(req) => tokio::time::timeout(std::time::Duration::from_secs(10), client.request_text(req)).await,
                Err(e) => return Check { check, ok: false, detail: e.to_string() },
            };
            let (ok, detail) = match answer {
                Ok(Ok(_)) => (true, "answers".to_owned()),
                Ok(Err(e)) => (false, crate::provision::kube::describe(&e)),
                Err(_) => (false, "no answer within 10s".to_owned()),
            };
            Check { check, ok, detail }
        })
    });
    futures::future::join_all(each).await
}

/// IRSA: the service account names the role that exists, and the role trusts that account.
async fn irsa_checks(plan: &Plan, aws: &AwsCtx, client: &Client) -> Vec<Check> {
    let mut out = Vec::new();
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
