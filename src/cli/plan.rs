use std::process::ExitCode;

use clap::Args;

use super::output::Output;
use super::{ProfileArgs, SpecArgs, load_profile, load_specs};
use crate::input::layers::Origin;
use crate::model::plan::{self, ParamValue, Plan, Settings};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub specs: SpecArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Also show, for each layered setting (replicas, images, env, resources, ingress), the
    /// level it came from: the spec, its environment, the project's defaults, or built in.
    #[arg(long)]
    pub explain: bool,
    /// `table` for people; `json` and `yaml` for scripts (one object per capability; a list
    /// when there are several).
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let specs = load_specs(&args.specs)?;
    let profile = load_profile(&args.profile, args.specs.environment.as_deref())?;
    let plans: Vec<Plan> = specs.iter().map(|s| plan::build(&s.cr, &profile.profile)).collect();
    match (args.output, args.explain) {
        (Output::Json | Output::Yaml, false) => args.output.documents(&plans)?,
        (Output::Json | Output::Yaml, true) => {
            let explained: Vec<Explained> =
                plans.iter().zip(&specs).map(|(plan, s)| Explained { plan, explain: &s.origins }).collect();
            args.output.documents(&explained)?
        }
        (Output::Text, _) => {
            for (i, (p, s)) in plans.iter().zip(&specs).enumerate() {
                if i > 0 {
                    println!();
                }
                print!("{}", render_table(p));
                if args.explain {
                    print!("{}", render_origins(&s.origins));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A plan with where its layered settings came from.
#[derive(serde::Serialize)]
struct Explained<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    explain: &'a [Origin],
}

/// The layered settings, one line each: the setting, its value, the level and where it is written.
pub fn render_origins(origins: &[Origin]) -> String {
    let rows: Vec<[String; 4]> = origins
        .iter()
        .map(|o| {
            let value = match &o.value {
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            [o.setting.clone(), value, o.level.clone(), o.at.clone().unwrap_or_default()]
        })
        .collect();
    let mut out =
        String::from("\nwhere the layered settings come from (spec > environment > project defaults > built in):\n");
    out.push_str(&table(["SETTING", "VALUE", "FROM", "WHERE"], &rows));
    out
}

/// Four columns, the first three padded to their widest cell, a header first.
fn table(header: [&str; 4], rows: &[[String; 4]]) -> String {
    let header = header.map(String::from);
    let widths: Vec<usize> =
        (0..3).map(|i| rows.iter().chain([&header]).map(|r| r[i].len()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The plan as a table: one line per resource, in apply order.
pub fn render_table(p: &Plan) -> String {
    let mut out = format!(
        "capability {} ({}) version {}  →  profile {}: cluster {}, AWS {} account {} region {}\n",
        p.capability,
        p.environment,
        p.version,
        p.profile,
        p.target.cluster,
        p.target.aws_endpoint.as_deref().unwrap_or("(real AWS)"),
        p.target.account,
        p.target.region
    );
    let rows: Vec<[String; 4]> = p
        .resources
        .iter()
        .map(|r| [r.phase.to_string(), r.kind.to_string(), r.name.clone(), summary(&r.settings)])
        .collect();
    out.push_str(&table(["PHASE", "KIND", "NAME", "SETTINGS"], &rows));
    out.push_str(&format!(
        "{} resources ({} AWS, {} Kubernetes); deletionPolicy {}\n",
        p.resources.len(),
        p.resources.iter().filter(|r| r.kind.is_aws()).count(),
        p.resources.iter().filter(|r| !r.kind.is_aws()).count(),
        p.deletion_policy
    ));
    out
}

fn summary(s: &Settings) -> String {
    match s {
        Settings::DynamoTable(t) => format!("on-demand, key {}/{}", t.partition_key.name, t.sort_key.name),
        Settings::S3Bucket(b) => format!(
            "{}{}{}",
            b.encryption,
            if b.versioning { ", versioned" } else { "" },
            if b.block_public_access { ", public access blocked" } else { "" }
        ),
        Settings::GlueDatabase(_) => "catalog database".into(),
        Settings::GlueTable(t) => format!("{} columns at {}", t.columns.len(), t.location),
        Settings::SsmParameter(p) => match &p.value {
            ParamValue::Literal { value } => value.clone(),
            ParamValue::From { value_from } => format!("<{} of {}>", value_from.field, value_from.resource),
        },
        Settings::Secret(s) => format!("placeholder {{{}}}, never overwritten", s.placeholder_keys.join(", ")),
        Settings::IamOidcProvider(o) => format!("OIDC provider {}", o.url),
        Settings::IamRole(r) => format!("IRSA for {}; {} policy statements", r.trust.subject, r.statements.len()),
        Settings::CognitoUserPool(_) => "email sign-in".into(),
        Settings::CognitoUserPoolClient(c) => format!("code + PKCE, no secret, callback {}", c.callback_urls.join(" ")),
        Settings::CognitoUserPoolDomain(d) => format!("hosted UI of {}", d.user_pool),
        Settings::CognitoGroup(g) => format!("precedence {}", g.precedence),
        Settings::ServiceAccount(a) => {
            a.annotations.get("eks.amazonaws.com/role-arn").map(|r| format!("role {r}")).unwrap_or_default()
        }
        Settings::Namespace(n) => n
            .labels
            .get(crate::model::plan::POD_SECURITY_LABEL)
            .map(|level| format!("pod security {level}"))
            .unwrap_or_default(),
        Settings::Deployment(d) => format!(
            "{} {} port {}",
            d.image,
            if d.autoscaled { "autoscaled".to_owned() } else { format!("×{}", d.replicas) },
            d.port
        ),
        Settings::Service(s) => format!("{} :{} → {}", s.service_type, s.port, s.component),
        Settings::Ingress(i) => format!(
            "class {}{}: {}",
            i.ingress_class_name,
            i.host.as_ref().map(|h| format!(", host {h}")).unwrap_or_default(),
            i.paths.iter().map(|p| format!("{} → {}", p.path, p.service)).collect::<Vec<_>>().join(", ")
        ),
        Settings::Autoscaler(a) => format!(
            "{} {}–{} replicas at cpu {}%, memory {}%",
            a.deployment, a.min_replicas, a.max_replicas, a.cpu_percent, a.memory_percent
        ),
        Settings::DisruptionBudget(b) => format!("{}: at most {} unavailable", b.component, b.max_unavailable),
        Settings::PodSecret(s) => format!(
            "{} secrets as {}, values read when applied",
            s.sources.len(),
            if s.mount == "env" { "environment variables" } else { "files" }
        ),
        Settings::NetworkPolicy(p) if p.ingress.is_empty() && p.egress.is_empty() => "deny all".into(),
        Settings::NetworkPolicy(p) => {
            let rules: Vec<&str> =
                p.ingress.iter().chain(&p.egress).chain(&p.aws_egress).map(|r| r.purpose.as_str()).collect();
            format!("allow {}", rules.join(", "))
        }
    }
}
