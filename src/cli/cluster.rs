//! `verify`: a capability checked end to end (`status` is status.rs, `operator` operator.rs).

use std::process::ExitCode;

use clap::Args;
use kube::{Api, ResourceExt};

use super::{ProfileArgs, SpecArgs, load_profile, load_specs};
use crate::model::spec::NexusAICapability;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A capability already in the cluster, as NAMESPACE/NAME (NAME alone with `-n`): its live
    /// spec is verified (the seed's `verify-capability`).
    #[arg(value_name = "NS/NAME", conflicts_with = "files")]
    pub capability: Option<String>,
    /// Capability spec: a YAML file, a directory of them, or `-` for stdin. Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required_unless_present_any = ["capability", "namespace"])]
    pub files: Vec<std::path::PathBuf>,
    /// Every capability of this namespace, as it is in the cluster (with NS/NAME: its namespace).
    #[arg(short, long, conflicts_with = "files")]
    pub namespace: Option<String>,
    /// The project environment (nexus-dev.yaml `environments:`), with `-f`: its settings are
    /// layered under each spec's, and its profile is the default profile.
    #[arg(long = "env", value_name = "NAME", env = crate::input::settings::ENVIRONMENT_ENV)]
    pub environment: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[arg(short = 'o', long, value_enum, default_value_t = super::output::Output::Text)]
    pub output: super::output::Output,
}

/// The capabilities to verify: the specs of `-f`, each with the built-image pins of its live
/// copy, or the live custom resources of NS/NAME or `-n`.
async fn capabilities_to_verify(args: &VerifyArgs, client: &kube::Client) -> anyhow::Result<Vec<NexusAICapability>> {
    if args.files.is_empty() {
        let one = args.capability.as_deref().map(|c| super::status::capability_ref(c, args.namespace.as_deref()));
        return match (one.transpose()?, &args.namespace) {
            (Some((ns, name)), _) => {
                let api: Api<NexusAICapability> = Api::namespaced(client.clone(), &ns);
                match api.get_opt(&name).await? {
                    Some(cr) => Ok(vec![cr]),
                    None => anyhow::bail!(
                        "capability {ns}/{name} not found (`nexus-dev status -n {ns}` lists that namespace's)"
                    ),
                }
            }
            (None, Some(ns)) => {
                let api: Api<NexusAICapability> = Api::namespaced(client.clone(), ns);
                let items = api.list(&Default::default()).await?.items;
                if items.is_empty() {
                    anyhow::bail!("no capabilities in namespace {ns}");
                }
                Ok(items)
            }
            (None, None) => anyhow::bail!("name a capability (NS/NAME), a namespace (-n) or specs (-f)"),
        };
    }
    let specs = load_specs(&SpecArgs { files: args.files.clone(), environment: args.environment.clone() })?;
    let mut crs = Vec::new();
    for s in specs {
        // Images built by nexus-dev are pinned on the live capability (watch mode, `up`): the
        // plan to compare with is the one the reconciler applies, with those pins.
        let mut cr = s.cr;
        let names = crate::model::names::Names::of(&cr.spec);
        let namespace = cr.metadata.namespace.clone().unwrap_or_else(|| names.namespace());
        let live: Api<NexusAICapability> = Api::namespaced(client.clone(), &namespace);
        if let Ok(Some(live)) = live.get_opt(&cr.name_any()).await {
            let pins =
                live.annotations().iter().filter(|(k, _)| k.starts_with(crate::model::plan::BUILT_IMAGE_ANNOTATION));
            let pins: Vec<(String, String)> = pins.map(|(k, v)| (k.clone(), v.clone())).collect();
            cr.annotations_mut().extend(pins);
        }
        crs.push(cr);
    }
    Ok(crs)
}

pub async fn run_verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let environment = if args.files.is_empty() { None } else { args.environment.as_deref() };
    let profile = load_profile(&args.profile, environment)?;
    let client = crate::provision::kube::client::for_profile(&profile.profile).await?;
    let mut all_ok = true;
    let mut json = Vec::new();
    for cr in capabilities_to_verify(&args, &client).await? {
        let plan = crate::model::plan::build(&cr, &profile.profile);
        crate::provision::aws::coverage::check(&profile.profile, &plan.aws_services()).await?;
        let clients = crate::provision::aws::Clients::connect(&crate::provision::aws::Target::of(
            &profile.profile,
            &plan.target.region,
        ))
        .await;
        let aws = crate::provision::aws::Ctx::new(clients, profile.profile.aws.account.clone());
        let checks = crate::reconcile::verify::verify(&plan, &aws, &client, &crate::reconcile::key(&cr)).await;
        let failed = checks.iter().filter(|c| !c.ok).count();
        all_ok &= failed == 0;
        if args.output.is_text() {
            println!(
                "{} ({}) on {}: {} checks, {} failed",
                plan.capability,
                plan.environment,
                profile.profile.name,
                checks.len(),
                failed
            );
            for c in checks.iter().filter(|c| !c.ok) {
                println!("  FAIL {}: {}", c.check, c.detail);
            }
        } else {
            json.push(serde_json::json!({"capability": plan.capability, "environment": plan.environment, "ok": failed == 0, "checks": checks}));
        }
    }
    if !args.output.is_text() {
        println!("{}", serde_json::to_string_pretty(&json)?);
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
