//! Profiles: where a spec goes (DESIGN.md §5). A profile names the cluster, the AWS endpoint
//! and account, the registry, the ingress class and the IRSA issuer; the spec never changes
//! between profiles.

use std::path::{Path as FsPath, PathBuf};

use crate::input::diag::{Diagnostic, Diagnostics, Source};
use crate::input::schema_check;
use crate::input::yaml::{Document, Path, parse_documents};
use crate::model::profile::{ClusterProvider, Profile};

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "profile `{name}` not found: looked for {looked}\n  hint: available profiles: {available}; or pass a file path to --profile"
    )]
    NotFound { name: String, looked: String, available: String },
    #[error(transparent)]
    Read(#[from] crate::input::spec::LoadError),
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// A loaded profile and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedProfile {
    pub profile: Profile,
    /// The file, or `built-in:NAME` for the shipped profiles compiled into the binary.
    pub origin: String,
    /// Directory relative paths in the profile are resolved against.
    pub base_dir: Option<PathBuf>,
}

impl LoadedProfile {
    /// What to pass to `--profile` to load this profile again (the daemon is started with it).
    pub fn origin_arg(&self) -> String {
        match self.origin.strip_prefix("built-in:") {
            Some(name) => name.to_owned(),
            None => std::fs::canonicalize(&self.origin)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| self.origin.clone()),
        }
    }
}

/// Profiles shipped in `profiles/`, compiled in so they work outside a project too.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("local", include_str!("../../profiles/local.yaml")),
    ("local-localstack", include_str!("../../profiles/local-localstack.yaml")),
    ("local-moto", include_str!("../../profiles/local-moto.yaml")),
    ("eks-staging", include_str!("../../profiles/eks-staging.yaml")),
    ("eks-prod", include_str!("../../profiles/eks-prod.yaml")),
];

/// A built-in profile by name; `None` for a name that is not built in. The built-ins are
/// constants of the binary, checked by the tests, so they always parse.
pub fn built_in(name: &str) -> Option<Profile> {
    let (name, text) = BUILT_IN.iter().find(|(n, _)| *n == name)?;
    Some(parse(&Source::new(format!("built-in:{name}"), *text)).expect("the built-in profiles are valid"))
}

/// Resolves `--profile`: a path (contains `/` or ends in `.yaml`/`.yml`) is read as a file; a
/// name is looked up as `profiles/NAME.yaml` in the current directory and its parents, then
/// among the built-in profiles.
pub fn resolve(arg: &str, start: &FsPath) -> Result<LoadedProfile, ProfileError> {
    let looks_like_path = arg.contains('/') || arg.ends_with(".yaml") || arg.ends_with(".yml");
    if looks_like_path {
        let path = PathBuf::from(arg);
        let source = crate::input::spec::read_file(&path)?;
        let profile = parse(&source)?;
        return Ok(LoadedProfile { profile, origin: source.name, base_dir: path.parent().map(FsPath::to_path_buf) });
    }
    let mut looked = Vec::new();
    for dir in start.ancestors() {
        for ext in ["yaml", "yml"] {
            let candidate = dir.join("profiles").join(format!("{arg}.{ext}"));
            if candidate.is_file() {
                let source = crate::input::spec::read_file(&candidate)?;
                let profile = parse(&source)?;
                return Ok(LoadedProfile {
                    profile,
                    origin: source.name,
                    base_dir: candidate.parent().map(FsPath::to_path_buf),
                });
            }
        }
        looked.push(dir.join("profiles").join(format!("{arg}.yaml")).display().to_string());
        if dir.join(".git").exists() || dir.join("nexus-dev.yaml").exists() {
            break;
        }
    }
    if let Some(profile) = built_in(arg) {
        return Ok(LoadedProfile { profile, origin: format!("built-in:{arg}"), base_dir: None });
    }
    let mut available: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
    if let Some(dir) = start.ancestors().map(|d| d.join("profiles")).find(|d| d.is_dir())
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        for e in entries.flatten() {
            let p = e.path();
            if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
                && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
            {
                available.push(stem.to_owned());
            }
        }
    }
    available.sort();
    available.dedup();
    let suggestion = crate::input::diag::did_you_mean(arg, available.iter().map(String::as_str))
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    Err(ProfileError::NotFound {
        name: format!("{arg}{suggestion}"),
        looked: looked.into_iter().take(3).collect::<Vec<_>>().join(", "),
        available: available.join(", "),
    })
}

/// Parses and validates one profile document.
pub fn parse(source: &Source) -> Result<Profile, ProfileError> {
    let docs = parse_documents(source).map_err(|d| ProfileError::Invalid(d.into()))?;
    let [doc] = docs.as_slice() else {
        let d = Diagnostic::new(
            source,
            crate::input::diag::Pos { line: 1, col: 1 },
            "",
            format!("a profile file holds exactly one document, found {}", docs.len()),
        )
        .with_hint("put each profile in its own file: profiles/NAME.yaml");
        return Err(ProfileError::Invalid(d.into()));
    };
    let mut out = Vec::new();
    let schema = schema_check::schema_for::<Profile>();
    schema_check::check(doc, &doc.root, &Path::root(), &schema, &mut out);
    if !out.is_empty() {
        return Err(ProfileError::Invalid(Diagnostics(out)));
    }
    let mut json = doc.root.to_json();
    strip_nulls(&mut json);
    let profile: Profile = serde_path_to_error::deserialize(json).map_err(|e| {
        ProfileError::Invalid(doc.diag(&Path::parse(&e.path().to_string()), e.inner().to_string()).into())
    })?;
    validate(doc, &profile, &mut out);
    if out.is_empty() { Ok(profile) } else { Err(ProfileError::Invalid(Diagnostics(out))) }
}

fn strip_nulls(v: &mut serde_json::Value) {
    if let serde_json::Value::Object(m) = v {
        m.retain(|_, v| !v.is_null());
        m.values_mut().for_each(strip_nulls);
    }
}

/// Checks the shape of a container image reference (`[host[:port]/]path[:tag][@digest]`):
/// what `docker`/`kind` would refuse, said before anything runs.
pub fn image_reference(image: &str) -> Result<(), String> {
    if image.is_empty() {
        return Err("it is empty".into());
    }
    if let Some(c) = image.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("it contains {c:?}"));
    }
    if image.starts_with('-') {
        return Err("it starts with `-` (it would be read as a flag)".into());
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let ok = d
            .strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        if !ok {
            return Err(format!("`@{d}` is not a sha256 digest"));
        }
    }
    // A tag follows the last `:` after the last `/` (a `:` before it is a registry port).
    let last = rest.rsplit('/').next().unwrap_or(rest);
    let (path, tag) = match last.rsplit_once(':') {
        Some((_, t)) => (&rest[..rest.len() - t.len() - 1], Some(t)),
        None => (rest, None),
    };
    if let Some(t) = tag
        && (t.is_empty()
            || t.len() > 128
            || t.starts_with(['.', '-'])
            || !t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!("`{t}` is not a valid tag"));
    }
    if path.is_empty() || path.split('/').any(str::is_empty) {
        return Err("the repository name is empty".into());
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        parts.remove(0); // the registry host
    }
    for part in parts {
        let ok = part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
            && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(format!("`{part}` is not a valid repository component (lowercase letters, digits, . _ -)"));
        }
    }
    Ok(())
}

fn validate(doc: &Document, p: &Profile, out: &mut Vec<Diagnostic>) {
    use crate::input::validate::{dns_label, dns_subdomain};
    if let Err(why) = dns_label(&p.name) {
        out.push(
            doc.diag(&Path::parse("name"), format!("invalid profile name `{}`: {why}", p.name))
                .with_hint("use a short lowercase name such as local or eks-prod"),
        );
    }
    if p.aws.account.len() != 12 || !p.aws.account.chars().all(|c| c.is_ascii_digit()) {
        out.push(
            doc.diag(&Path::parse("aws.account"), format!("invalid AWS account `{}`", p.aws.account)).with_hint(
                "use the twelve-digit account ID, quoted: \"123456789012\" (LocalStack uses \"000000000000\")",
            ),
        );
    }
    for (field, value) in
        [("aws.endpoint", &p.aws.endpoint), ("aws.podEndpoint", &p.aws.pod_endpoint), ("irsa.issuer", &p.irsa.issuer)]
    {
        if let Some(v) = value {
            match url::Url::parse(v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => out.push(
                    doc.diag(&Path::parse(field), format!("invalid URL `{v}`"))
                        .with_hint("use an absolute http(s) URL such as http://localhost:4566"),
                ),
            }
        }
    }
    if p.aws.emulator.is_some() && p.aws.endpoint.is_none() {
        out.push(
            doc.diag_at_key(&Path::parse("aws"), "an emulator needs `endpoint`")
                .with_hint("add `endpoint: http://localhost:4566` (LocalStack) or the moto server's address"),
        );
    }
    if let Some(env) = &p.aws.auth_token_env
        && (env.is_empty() || !env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        out.push(
            doc.diag(&Path::parse("aws.authTokenEnv"), format!("`{env}` is not an environment variable name"))
                .with_hint(
                    "name the variable that holds the token, such as LOCALSTACK_AUTH_TOKEN; never the token itself",
                ),
        );
    }
    let c = &p.cluster;
    let cluster = Path::parse("cluster");
    match c.provider {
        ClusterProvider::Kind | ClusterProvider::Eks if c.name.is_none() => {
            out.push(
                doc.diag_at_key(&cluster, "this cluster provider needs `name`")
                    .with_hint("add `name: nexus-dev` (the KinD or EKS cluster name)"),
            );
        }
        ClusterProvider::Existing if c.context.is_none() => {
            out.push(
                doc.diag_at_key(&cluster, "`provider: existing` needs `context`").with_hint(
                    "add `context:` naming a context of your kubeconfig (see `kubectl config get-contexts`)",
                ),
            );
        }
        _ => {}
    }
    if let Some(name) = &c.name
        && let Err(why) = dns_label(name)
    {
        out.push(doc.diag(&cluster.key("name"), format!("invalid cluster name `{name}`: {why}")));
    }
    if c.config.is_some() && c.provider != ClusterProvider::Kind {
        out.push(
            doc.diag(&cluster.key("config"), "`config` applies to KinD clusters only")
                .with_hint("remove it, or use `provider: kind`"),
        );
    }
    if let Some(image) = &c.image {
        if c.provider != ClusterProvider::Kind {
            out.push(
                doc.diag(&cluster.key("image"), "`image` applies to KinD clusters only")
                    .with_hint("remove it, or use `provider: kind`"),
            );
        } else if let Err(why) = image_reference(image) {
            out.push(
                doc.diag(&cluster.key("image"), format!("invalid node image `{image}`: {why}"))
                    .with_hint("use an image reference such as kindest/node:v1.34.0 (a tag or @sha256: digest)"),
            );
        }
    }
    if let Some(r) = &p.registry {
        let host = r.host.split_once(':').map_or(r.host.as_str(), |(h, port)| {
            if port.parse::<u16>().is_err() {
                out.push(
                    doc.diag(&Path::parse("registry.host"), format!("invalid port in `{}`", r.host))
                        .with_hint("use HOST or HOST:PORT, such as localhost:5001"),
                );
            }
            h
        });
        if host != "localhost" && dns_subdomain(host).is_err() && host.parse::<std::net::IpAddr>().is_err() {
            out.push(
                doc.diag(&Path::parse("registry.host"), format!("invalid registry host `{}`", r.host))
                    .with_hint("use HOST or HOST:PORT, without scheme or path"),
            );
        }
    }
    if let Some(d) = &p.ingress.domain
        && let Err(why) = dns_subdomain(d)
    {
        out.push(doc.diag(&Path::parse("ingress.domain"), format!("invalid domain `{d}`: {why}")));
    }
    if let Err(why) = dns_subdomain(&p.ingress.class) {
        out.push(
            doc.diag(&Path::parse("ingress.class"), format!("invalid ingress class `{}`: {why}", p.ingress.class))
                .with_hint("use nginx locally or alb on EKS"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Profile, ProfileError> {
        parse(&Source::new("p.yaml", text))
    }

    #[test]
    fn shipped_profiles_are_valid() {
        for (name, text) in BUILT_IN {
            let p = parse(&Source::new(*name, *text)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.name, *name);
        }
    }

    #[test]
    fn errors_name_field_and_line() {
        let err =
            parse_str("name: x\ncluster: {provider: kind, name: a}\naws:\n  account: 12345\n").unwrap_err().to_string();
        assert!(err.contains("p.yaml:4:12: aws.account: expected a string"), "{err}");
        let err = parse_str("name: x\ncluster: {provider: knd, name: a}\naws: {account: \"000000000000\"}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.yaml:2:21: cluster.provider: invalid value `knd`"), "{err}");
        assert!(err.contains("did you mean `kind`"), "{err}");
        let err = parse_str(
            "name: x\ncluster: {provider: existing}\naws: {account: \"000000000000\", endpoint: \"localhost:4566\"}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("needs `context`"), "{err}");
        assert!(err.contains("aws.endpoint: invalid URL"), "{err}");
        let err = parse_str(
            "name: x\ncluster: {provider: kind, name: a}\naws: {account: \"000000000000\"}\nregistri: {host: x}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("p.yaml:4:1: registri: unknown field `registri`"), "{err}");
        assert!(err.contains("did you mean `registry`"), "{err}");
    }

    #[test]
    fn names_resolve_to_project_files_then_built_ins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("profiles")).unwrap();
        std::fs::write(
            dir.path().join("profiles/mine.yaml"),
            "name: mine\ncluster: {provider: existing, context: ctx}\naws: {account: \"111111111111\", endpoint: \"http://127.0.0.1:5000\"}\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        let p = resolve("mine", &nested).unwrap();
        assert_eq!(p.profile.cluster.context.as_deref(), Some("ctx"));
        let p = resolve("local-moto", &nested).unwrap();
        assert_eq!(p.origin, "built-in:local-moto");
        let err = resolve("loacl", &nested).unwrap_err().to_string();
        assert!(err.contains("did you mean `local`"), "{err}");
        assert!(err.contains("mine"), "{err}");
    }

    #[test]
    fn node_image_is_checked() {
        for ok in [
            "kindest/node:v1.34.0",
            "nexus-dev.local/testbed/kind-node:v1.34.4",
            "localhost:5001/kind/node",
            "mirror.example:8443/kindest/node:v1.34.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(image_reference(ok), Ok(()), "{ok}");
        }
        for bad in ["", "Kindest/node:v1", "kindest/node:", "-rm", "kindest//node", "a b", "kindest/node@sha256:12"] {
            assert!(image_reference(bad).is_err(), "{bad}");
        }
        let p = parse_str("name: x\ncluster: {provider: kind, name: a, image: \"kindest/node:v1.34.0\"}\naws: {account: \"000000000000\"}\n")
            .unwrap();
        assert_eq!(p.cluster.image.as_deref(), Some("kindest/node:v1.34.0"));
        let err = parse_str(
            "name: x\ncluster: {provider: kind, name: a, image: \"Kind/Node\"}\naws: {account: \"000000000000\"}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cluster.image: invalid node image `Kind/Node`"), "{err}");
        let err = parse_str(
            "name: x\ncluster: {provider: existing, context: c, image: \"a/b:1\"}\naws: {account: \"000000000000\"}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`image` applies to KinD clusters only"), "{err}");
    }
}
