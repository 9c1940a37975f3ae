//! Rules the schema cannot express: name formats, derived-name limits, regions, quantities,
//! images, environment variables, and conflicts between specs (issue #2).

use std::collections::HashMap;

use crate::input::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::input::yaml::{Document, Path};
use crate::model::names::Names;
use crate::model::spec::{NexusAICapability, Workload};

/// AWS regions known when this was written; one a typo away from a known region is refused
/// with a suggestion, any other with the list.
pub const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

/// Variables nexus-dev sets on every workload itself, per profile (DESIGN.md §5).
pub const RESERVED_ENV: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "NEXUS_CAPABILITY",
    "NEXUS_ENVIRONMENT",
    "NEXUS_VERSION",
    "NEXUS_SSM_PREFIX",
];

/// Checks one capability; every problem found is appended.
pub fn spec(doc: &Document, cr: &NexusAICapability, out: &mut Vec<Diagnostic>) {
    let s = &cr.spec;
    let spec = Path::root().key("spec");
    let mut names_ok = true;
    for (field, value) in [("capabilityName", &s.capability_name), ("environment", &s.environment)] {
        if let Err(why) = dns_label(value) {
            names_ok = false;
            let suggestion = suggest_label(value);
            let hint = if suggestion.is_empty() || suggestion == *value {
                "use lowercase letters, digits and '-', starting with a letter and ending with a letter or digit"
                    .to_owned()
            } else {
                format!("use lowercase letters, digits and '-', starting with a letter, for example `{suggestion}`")
            };
            out.push(doc.diag(&spec.key(field), format!("invalid {field} `{value}`: {why}")).with_hint(hint));
        }
    }
    if names_ok {
        derived_names(doc, cr, out);
        reserved_namespace(doc, cr, out);
    }
    if let Some(meta_name) = cr.metadata.name.as_deref()
        && let Err(why) = dns_subdomain(meta_name)
    {
        out.push(
            doc.diag(&Path::parse("metadata.name"), format!("invalid name `{meta_name}`: {why}"))
                .with_hint("use lowercase letters, digits, '-' and '.'"),
        );
    }
    if let Some(ns) = cr.metadata.namespace.as_deref()
        && let Err(why) = dns_label(ns)
    {
        out.push(
            doc.diag(&Path::parse("metadata.namespace"), format!("invalid namespace `{ns}`: {why}"))
                .with_hint("use a DNS label such as `myapp-dev`"),
        );
    }
    region(doc, &s.region, out);
    if !s.version.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        || !s.version.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !s.version.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        out.push(
            doc.diag(
                &spec.key("version"),
                format!("invalid version `{}`: it becomes the `app.kubernetes.io/version` label", s.version),
            )
            .with_hint(
                "use letters, digits, '.', '-' and '_', starting and ending with a letter or digit, such as \"2.5.0\"",
            ),
        );
    }
    component(doc, &spec.key("frontend"), &s.frontend, out);
    component(doc, &spec.key("backend"), &s.backend, out);
    let ing = spec.key("ingress");
    if let Some(p) = &s.ingress.health_check_path {
        http_path(doc, &ing.key("healthCheckPath"), p, out);
    }
    if let Some(arn) = &s.ingress.certificate_arn
        && !is_acm_arn(arn)
    {
        out.push(
            doc.diag(&ing.key("certificateArn"), format!("invalid certificate ARN `{arn}`"))
                .with_hint("use an ACM certificate ARN: arn:aws:acm:REGION:ACCOUNT:certificate/ID"),
        );
    }
    if let Some(host) = &s.ingress.host {
        let bare = host.strip_prefix("*.").unwrap_or(host);
        if let Err(why) = dns_subdomain(bare) {
            out.push(
                doc.diag(&ing.key("host"), format!("invalid host `{host}`: {why}"))
                    .with_hint("use a DNS name such as app.example.com, without scheme or port"),
            );
        }
    }
}

/// Namespaces Kubernetes and its distributions keep for themselves: a capability there would
/// mix its workloads with the cluster's, and deleting it would take the cluster's with it.
fn reserved(ns: &str) -> bool {
    ns.starts_with("kube-") || matches!(ns, "default" | "kube-system" | "kube-public" | "kube-node-lease")
}

fn reserved_namespace(doc: &Document, cr: &NexusAICapability, out: &mut Vec<Diagnostic>) {
    let derived = Names::of(&cr.spec).namespace();
    if reserved(&derived) {
        out.push(
            doc.diag(
                &Path::parse("spec.environment"),
                format!("capability `{}` in environment `{}` would live in namespace `{derived}`, which Kubernetes reserves", cr.spec.capability_name, cr.spec.environment),
            )
            .with_hint("choose a capabilityName that does not start with `kube`, or another environment"),
        );
    }
    if let Some(ns) = cr.metadata.namespace.as_deref()
        && reserved(ns)
    {
        out.push(
            doc.diag(&Path::parse("metadata.namespace"), format!("namespace `{ns}` is reserved by Kubernetes"))
                .with_hint(format!("remove metadata.namespace to use `{derived}`")),
        );
    }
}

fn derived_names(doc: &Document, cr: &NexusAICapability, out: &mut Vec<Diagnostic>) {
    let s = &cr.spec;
    let names = Names::of(s);
    let in_use = |resource: &str| match resource {
        r if r.starts_with("DynamoDB") => s.data_services.dynamodb.enabled,
        r if r.starts_with("S3") => s.data_services.s3.enabled,
        r if r.starts_with("Glue") => s.data_services.glue.enabled,
        r if r.starts_with("Cognito") => s.enable_cognito,
        _ => true,
    };
    let broken: Vec<_> = names
        .constrained()
        .into_iter()
        .filter(|c| in_use(c.resource))
        .filter_map(|c| c.rule.check(&c.name).err().map(|why| (c, why)))
        .collect();
    let Some((first, why)) = broken.first() else { return };
    let total = s.capability_name.len() + s.environment.len();
    let over = first.name.chars().count().saturating_sub(first.rule.max_len());
    let mut msg = format!("the {} name `{}` {why}", first.resource, first.name);
    if broken.len() > 1 {
        msg.push_str(&format!(" (and {} more derived names break their limits)", broken.len() - 1));
    }
    let hint = if over > 0 {
        format!(
            "capabilityName and environment are {total} characters together; shorten them by {over} (every derived name must fit)"
        )
    } else {
        "choose another capabilityName or environment".to_owned()
    };
    out.push(doc.diag(&Path::parse("spec.capabilityName"), msg).with_hint(hint));
}

fn region(doc: &Document, region: &str, out: &mut Vec<Diagnostic>) {
    if KNOWN_REGIONS.contains(&region) {
        return;
    }
    let path = Path::parse("spec.region");
    let well_formed = {
        let parts: Vec<&str> = region.split('-').collect();
        parts.len() >= 3
            && parts[0].len() == 2
            && parts[0].chars().all(|c| c.is_ascii_lowercase())
            && parts[1..parts.len() - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
            && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
            && !parts[parts.len() - 1].is_empty()
    };
    match did_you_mean(region, KNOWN_REGIONS.iter().copied()) {
        Some(s) => {
            out.push(doc.diag(&path, format!("invalid region `{region}`")).with_hint(format!("did you mean `{s}`?")))
        }
        None if !well_formed => out.push(
            doc.diag(&path, format!("invalid region `{region}`"))
                .with_hint("use an AWS region code such as us-east-1 or ap-southeast-1"),
        ),
        // Well-formed but unknown: every AWS call would fail with an endpoint error, one per
        // resource. Refused here, before anything is touched.
        None => out.push(doc.diag(&path, format!("unknown region `{region}`")).with_hint(format!(
            "use one of the AWS regions: {} (a region AWS added since this release of nexus-dev is not known yet)",
            KNOWN_REGIONS.join(", ")
        ))),
    }
}

fn component(doc: &Document, path: &Path, c: &Workload, out: &mut Vec<Diagnostic>) {
    if let Err(why) = image_reference(&c.image) {
        out.push(
            doc.diag(&path.key("image"), format!("invalid image `{}`: {why}", c.image))
                .with_hint("use REGISTRY/REPOSITORY:TAG or REPOSITORY@sha256:DIGEST, such as ghcr.io/acme/api:1.2.0"),
        );
    }
    if let Some(p) = &c.health_check_path {
        http_path(doc, &path.key("healthCheckPath"), p, out);
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, e) in c.env.iter().enumerate() {
        let p = path.key("env").index(i).key("name");
        if !e.name.starts_with(|ch: char| ch.is_ascii_alphabetic() || ch == '_' || ch == '.' || ch == '-')
            || !e.name.chars().all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch))
        {
            out.push(
                doc.diag(&p, format!("invalid environment variable name `{}`", e.name))
                    .with_hint("use letters, digits and '_', not starting with a digit, such as LOG_LEVEL"),
            );
        } else if RESERVED_ENV.contains(&e.name.as_str()) {
            out.push(
                doc.diag(&p, format!("`{}` is set by nexus-dev from the profile", e.name))
                    .with_hint("remove it: locally pods get the emulator endpoint and region, on EKS they get IRSA"),
            );
        }
        if let Some(first) = seen.insert(&e.name, i) {
            out.push(
                doc.diag(&p, format!("environment variable `{}` is set twice (also at env[{first}])", e.name))
                    .with_hint("keep one of them"),
            );
        }
    }
    if let Some(probes) = &c.probes {
        for (which, probe) in
            [("startup", &probes.startup), ("readiness", &probes.readiness), ("liveness", &probes.liveness)]
        {
            if let Some(p) = probe.as_ref().and_then(|p| p.path.as_ref()) {
                http_path(doc, &path.key("probes").key(which).key("path"), p, out);
            }
        }
    }
    if let Some(a) = &c.autoscaling
        && a.min > a.max
    {
        out.push(
            doc.diag(&path.key("autoscaling").key("min"), format!("min {} is larger than max {}", a.min, a.max))
                .with_hint("raise max or lower min"),
        );
    }
    if let Some(sec) = &c.security_context {
        for (i, p) in sec.writable_paths.iter().enumerate() {
            if p.trim_end_matches('/').is_empty() || !p.starts_with('/') || p.contains("..") {
                out.push(
                    doc.diag(
                        &path.key("securityContext").key("writablePaths").index(i),
                        format!("invalid writable path `{p}`"),
                    )
                    .with_hint("use an absolute directory other than `/`, such as /app/cache"),
                );
            }
        }
    }
    if let Some(res) = &c.resources {
        let rp = path.key("resources");
        let mut cpu = [None, None];
        let mut mem = [None, None];
        for (i, (which, list)) in [("requests", &res.requests), ("limits", &res.limits)].into_iter().enumerate() {
            let Some(list) = list else { continue };
            if let Some(v) = &list.cpu {
                match parse_quantity(v) {
                    Some(q) => cpu[i] = Some(q),
                    None => out.push(
                        doc.diag(&rp.key(which).key("cpu"), format!("invalid CPU quantity `{v}`"))
                            .with_hint("use cores or millicores, such as 0.5 or 500m"),
                    ),
                }
            }
            if let Some(v) = &list.memory {
                match parse_quantity(v) {
                    Some(q) => mem[i] = Some(q),
                    None => out.push(
                        doc.diag(&rp.key(which).key("memory"), format!("invalid memory quantity `{v}`"))
                            .with_hint("use a size such as 256Mi or 1Gi"),
                    ),
                }
            }
        }
        for (name, [req, lim]) in [("cpu", cpu), ("memory", mem)] {
            if let (Some(r), Some(l)) = (req, lim)
                && r > l
            {
                out.push(
                    doc.diag(&rp.key("requests").key(name), format!("request is larger than the limit for {name}"))
                        .with_hint("raise the limit or lower the request"),
                );
            }
        }
    }
}

fn http_path(doc: &Document, path: &Path, value: &str, out: &mut Vec<Diagnostic>) {
    if !value.starts_with('/') || value.contains(char::is_whitespace) {
        out.push(
            doc.diag(path, format!("invalid HTTP path `{value}`")).with_hint("use an absolute path such as /health"),
        );
    }
}

/// Conflicts between specs: two specs yielding the same names would fight over the same
/// resources, so both are refused, each pointing at the other.
pub fn across(specs: &[super::spec::LoadedSpec], out: &mut Diagnostics) {
    let mut by_stem: HashMap<String, &super::spec::LoadedSpec> = HashMap::new();
    let mut by_object: HashMap<(String, String), &super::spec::LoadedSpec> = HashMap::new();
    for s in specs {
        let names = Names::of(s.spec());
        if let Some(first) = by_stem.insert(names.stem(), s) {
            out.push(
                s.doc
                    .diag(&Path::parse("spec.capabilityName"), format!(
                        "capability `{}` in environment `{}` is also defined at {}; both would produce the same resources (namespace `{}`, tables, buckets, role)",
                        names.capability(), names.environment(), first.origin(), names.namespace()
                    ))
                    .with_hint("give one of them a different capabilityName or environment"),
            );
        }
        let ns = s.cr.metadata.namespace.clone().unwrap_or_else(|| names.namespace());
        let key = (ns.clone(), s.cr.metadata.name.clone().unwrap_or_default());
        if let Some(first) = by_object.insert(key.clone(), s)
            && Names::of(first.spec()).stem() != names.stem()
        {
            out.push(
                s.doc
                    .diag(
                        &Path::parse("metadata.name"),
                        format!("`{}/{}` is also defined at {}", key.0, key.1, first.origin()),
                    )
                    .with_hint("give each capability its own metadata.name"),
            );
        }
    }
}

/// RFC 1035 label (as Kubernetes Services need): lowercase alphanumerics and '-', starting with
/// a letter, ending with an alphanumeric, at most 63 characters.
pub fn dns_label(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 63 {
        return Err(format!("is {} characters long; at most 63 are allowed", s.len()));
    }
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Err(format!("contains `{c}`"));
    }
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lowercase letter".into());
    }
    if s.ends_with('-') {
        return Err("must not end with '-'".into());
    }
    Ok(())
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub fn dns_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 253 {
        return Err(format!("is {} characters long; at most 253 are allowed", s.len()));
    }
    for label in s.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("every dot-separated part must be 1 to 63 characters".into());
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
            return Err(format!("contains `{c}`"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("parts must start and end with a letter or digit".into());
        }
    }
    Ok(())
}

fn suggest_label(s: &str) -> String {
    let mut out: String =
        s.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let trimmed = out.trim_matches('-').trim_start_matches(|c: char| c.is_ascii_digit()).trim_start_matches('-');
    trimmed.chars().take(40).collect::<String>().trim_end_matches('-').to_owned()
}

fn is_acm_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "acm"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].strip_prefix("certificate/").is_some_and(|id| !id.is_empty())
}

/// A light check of an OCI image reference: what would certainly fail to pull.
pub fn image_reference(image: &str) -> Result<(), String> {
    if image.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace".into());
    }
    if image.contains("://") {
        return Err("must not include a URL scheme".into());
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let ok = d.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()));
        if !ok {
            return Err("the digest must be sha256: followed by 64 hex digits".into());
        }
    }
    // A tag is what follows the last ':' after the last '/', so registry ports are not tags.
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if let Some(t) = tag
        && (t.is_empty()
            || t.len() > 128
            || !t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            || t.starts_with(['.', '-']))
    {
        return Err(format!("invalid tag `{t}`"));
    }
    let path = match repo.split_once('/') {
        // The first part is a registry when it looks like a host.
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => rest,
        _ => repo,
    };
    if path.is_empty() || path.split('/').any(|p| p.is_empty()) {
        return Err("has an empty path component".into());
    }
    if let Some(c) = path.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(*c))) {
        return Err(format!("repository names may not contain `{c}` (lowercase only)"));
    }
    Ok(())
}

/// Parses a Kubernetes quantity into a comparable number (cores or bytes).
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() || num.matches('.').count() > 1 {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        _ => return None,
    };
    Some(n * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(dns_label("nexus-ai").is_ok());
        assert!(dns_label("Nexus").is_err());
        assert!(dns_label("1abc").is_err());
        assert!(dns_label("abc-").is_err());
        assert!(dns_label("a_b").is_err());
        assert_eq!(suggest_label("Nexus_AI"), "nexus-ai");
    }

    #[test]
    fn images() {
        for ok in [
            "nginx",
            "764119721991.dkr.ecr.ap-southeast-1.amazonaws.com/nexus-ui:latest",
            "localhost:5001/app:dev",
            "ghcr.io/acme/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(image_reference(ok).is_ok(), "{ok}");
        }
        for bad in ["", "My/App:1", "app:", "https://x/y", "a b", "x@sha256:12", "a//b"] {
            assert!(image_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1Gi"), Some(1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse_quantity("0.25"), Some(0.25));
        assert_eq!(parse_quantity("1.2.3"), None);
        assert_eq!(parse_quantity("lots"), None);
    }

    #[test]
    fn acm_arns() {
        assert!(is_acm_arn("arn:aws:acm:ap-southeast-1:123456789012:certificate/abc-123"));
        assert!(!is_acm_arn("arn:aws:iam::123456789012:role/x"));
    }
}
