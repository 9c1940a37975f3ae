//! Settings from outside the files a command is pointed at, resolved in one place and one order:
//! the flag, then its `NEXUS_DEV_*` variable (clap reads those for flags), then the project file,
//! then the profile, then the built-in default. Nothing else in nexus-dev reads a `NEXUS_DEV_*`
//! variable.

use std::path::PathBuf;

use crate::model::profile::Profile;
use crate::model::project::LoadedProject;

/// `--profile`'s variable.
pub const PROFILE_ENV: &str = "NEXUS_DEV_PROFILE";
/// `--env`'s variable: the project environment to use.
pub const ENVIRONMENT_ENV: &str = "NEXUS_DEV_ENV";
/// Where nexus-dev keeps its state (daemons, locks, the regions a capability was applied to).
pub const STATE_DIR_ENV: &str = "NEXUS_DEV_STATE_DIR";
/// The emulator's image, replacing the profile's emulator default (a mirror, the test bed's).
pub const EMULATOR_IMAGE_ENV: &str = "NEXUS_DEV_EMULATOR_IMAGE";
/// The local registry's image.
pub const REGISTRY_IMAGE_ENV: &str = "NEXUS_DEV_REGISTRY_IMAGE";
/// The KinD node image; wins over the profile's `cluster.image`.
pub const KIND_IMAGE_ENV: &str = "NEXUS_DEV_KIND_IMAGE";
/// Set, progress lines are printed even when stderr is not a terminal.
pub const PROGRESS_ENV: &str = "NEXUS_DEV_PROGRESS";

/// The built-in profile outside a project.
pub const DEFAULT_PROFILE: &str = "local";

/// The profile to use: `--profile` (or `NEXUS_DEV_PROFILE`), else the profile of the project
/// environment `--env` (or `NEXUS_DEV_ENV`) selects, else the project file's, else
/// [`DEFAULT_PROFILE`].
pub fn profile_name(flag: Option<&str>, project: Option<&LoadedProject>, environment: Option<&str>) -> String {
    let of_environment = || {
        let p = project?;
        p.project.environments.get(environment?)?.profile.clone()
    };
    match (flag, project) {
        (Some(name), _) => name.to_owned(),
        (None, Some(p)) => of_environment().unwrap_or_else(|| p.project.profile.clone()),
        (None, None) => DEFAULT_PROFILE.to_owned(),
    }
}

/// nexus-dev's state directory: `$NEXUS_DEV_STATE_DIR`, else `$XDG_STATE_HOME/nexus-dev`, else
/// `~/.local/state/nexus-dev`.
pub fn state_dir() -> PathBuf {
    state_dir_from(|k| std::env::var_os(k).map(PathBuf::from))
}

pub(crate) fn state_dir_from(var: impl Fn(&str) -> Option<PathBuf>) -> PathBuf {
    var(STATE_DIR_ENV).unwrap_or_else(|| {
        var("XDG_STATE_HOME")
            .map(|x| x.join("nexus-dev"))
            .or_else(|| var("HOME").map(|h| h.join(".local/state/nexus-dev")))
            .unwrap_or_else(|| std::env::temp_dir().join("nexus-dev"))
    })
}

/// A variable that is set and not empty.
fn set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The node image for `kind create cluster --image`: `NEXUS_DEV_KIND_IMAGE`, else the profile's
/// `cluster.image`; checked like the profile field.
pub fn kind_node_image(profile: &Profile) -> Result<Option<String>, String> {
    match set(KIND_IMAGE_ENV) {
        Some(v) => crate::input::profile::image_reference(&v)
            .map(|_| Some(v.clone()))
            .map_err(|why| format!("{KIND_IMAGE_ENV}: invalid node image `{v}`: {why}")),
        None => Ok(profile.cluster.image.clone()),
    }
}

/// `NEXUS_DEV_EMULATOR_IMAGE`, when set.
pub fn emulator_image() -> Option<String> {
    set(EMULATOR_IMAGE_ENV)
}

/// Where the writers' Leases live (`reconcile::lease`): `NEXUS_DEV_LEASE_NAMESPACE`, else the
/// operator pod's own namespace (`POD_NAMESPACE`, from the downward API), else `nexus-system`.
pub fn lease_namespace() -> String {
    set("NEXUS_DEV_LEASE_NAMESPACE")
        .or_else(|| set("POD_NAMESPACE"))
        .unwrap_or_else(|| crate::reconcile::lease::NAMESPACE.to_owned())
}

/// `NEXUS_DEV_REGISTRY_IMAGE`, when set.
pub fn registry_image() -> Option<String> {
    set(REGISTRY_IMAGE_ENV)
}

/// Whether progress is wanted on a stderr that is not a terminal.
pub fn progress_forced() -> bool {
    std::env::var_os(PROGRESS_ENV).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_project_then_local() {
        let text = "specs: [app.yaml]\nprofile: eks-staging\nenvironments:\n  prod: {profile: eks-prod}\n  qa: {}\n";
        let source = crate::input::diag::Source::new("nexus-dev.yaml", text);
        let project = LoadedProject {
            file: PathBuf::from("/p/nexus-dev.yaml"),
            dir: PathBuf::from("/p"),
            project: serde_yaml::from_str(text).unwrap(),
            doc: crate::input::yaml::parse_documents(&source).unwrap().remove(0),
        };
        assert_eq!(profile_name(Some("x"), Some(&project), Some("prod")), "x");
        assert_eq!(profile_name(None, Some(&project), Some("prod")), "eks-prod", "the environment's");
        assert_eq!(profile_name(None, Some(&project), Some("qa")), "eks-staging", "qa names none");
        assert_eq!(profile_name(None, Some(&project), None), "eks-staging");
        assert_eq!(profile_name(None, None, None), "local");
    }

    #[test]
    fn the_state_directory_follows_the_variables_in_order() {
        let vars = |set: &'static [(&'static str, &'static str)]| {
            move |k: &str| set.iter().find(|(n, _)| *n == k).map(|(_, v)| PathBuf::from(v))
        };
        assert_eq!(state_dir_from(vars(&[(STATE_DIR_ENV, "/s"), ("HOME", "/h")])), PathBuf::from("/s"));
        assert_eq!(state_dir_from(vars(&[("XDG_STATE_HOME", "/x"), ("HOME", "/h")])), PathBuf::from("/x/nexus-dev"));
        assert_eq!(state_dir_from(vars(&[("HOME", "/h")])), PathBuf::from("/h/.local/state/nexus-dev"));
    }
}
