use std::process::ExitCode;

use clap::Args;

use super::output::Output;
use super::{ProfileArgs, SpecArgs, load_profile, load_specs};
use crate::model::plan::{self, ParamValue, Plan, Settings};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub specs: SpecArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// `table` for people; `json` and `yaml` for scripts (one object per capability; a list
    /// when there are several).
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let specs = load_specs(&args.specs)?;
    let profile = load_profile(&args.profile)?;
    let plans: Vec<Plan> = specs.iter().map(|s| plan::build(&s.cr, &profile.profile)).collect();
    match args.output {
        Output::Json | Output::Yaml => args.output.documents(&plans)?,
        Output::Text => {
            for (i, p) in plans.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                print!("{}", render_table(p));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
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
    let header = ["PHASE", "KIND", "NAME", "SETTINGS"].map(String::from);
    let widths: Vec<usize> =
        (0..3).map(|i| rows.iter().chain([&header]).map(|r| r[i].len()).max().unwrap_or(0)).collect();
    for row in std::iter::once(&header).chain(rows.iter()) {
        out.push_str(&format!(
            "{:w0$}  {:w1$}  {:w2$}  {}\n",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        ));
    }
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
        Settings::Namespace(_) => String::new(),
        Settings::ServiceAccount(a) => {
            a.annotations.get("eks.amazonaws.com/role-arn").map(|r| format!("role {r}")).unwrap_or_default()
        }
        Settings::Deployment(d) => format!("{} ×{} port {}", d.image, d.replicas, d.port),
        Settings::Service(s) => format!("{} :{} → {}", s.service_type, s.port, s.component),
        Settings::Ingress(i) => format!(
            "class {}{}: {}",
            i.ingress_class_name,
            i.host.as_ref().map(|h| format!(", host {h}")).unwrap_or_default(),
            i.paths.iter().map(|p| format!("{} → {}", p.path, p.service)).collect::<Vec<_>>().join(", ")
        ),
    }
}
