//! What a test command of `nexus-dev ci` gets: the environment as variables, under the names
//! documented in docs/ci.md, and the same as a JSON file whose path is `NEXUS_DEV_ENV_FILE`.
//!
//! A capability's names are its SSM parameter tree (`/<capability>/<environment>/…`), the
//! contract its workloads read too: `/myapp/dev/dynamodb/license-table` becomes
//! `NEXUS_MYAPP_DYNAMODB_LICENSE_TABLE`, `/myapp/dev/cognito/user-pool-id` (filled from the
//! user pool) `NEXUS_MYAPP_COGNITO_USER_POOL_ID`. Nothing is named twice.

use std::collections::BTreeMap;

use serde::Serialize;

/// The AWS a test command talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Aws {
    /// The emulator's endpoint on this machine; `None` for real AWS (the SDK's default chain).
    pub endpoint: Option<String>,
    pub region: String,
    pub account: String,
}

/// One capability as the test command sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capability {
    /// `capabilityName`.
    pub name: String,
    pub environment: String,
    pub namespace: String,
    pub region: String,
    /// Every SSM parameter of the capability, by full name, with its value.
    pub parameters: BTreeMap<String, String>,
    /// Local URL of each component's Service (`backend`, `frontend`), through the daemon.
    pub urls: BTreeMap<String, String>,
}

/// Everything written to `NEXUS_DEV_ENV_FILE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub run_id: String,
    pub profile: String,
    pub kubeconfig: String,
    pub aws: Aws,
    pub capabilities: Vec<Capability>,
}

/// The credentials every emulator accepts (they check no signature).
const EMULATOR_KEY: &str = "test";

/// `NEXUS_<CAPABILITY>_`: the capability name in capitals, `-` as `_`.
pub fn prefix(capability: &str) -> String {
    format!("NEXUS_{}_", shout(capability))
}

fn shout(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

impl Environment {
    /// The variables, each documented in docs/ci.md. `env_file` and `junit` are the paths the
    /// command finds in `NEXUS_DEV_ENV_FILE` and `NEXUS_DEV_JUNIT`.
    pub fn variables(&self, env_file: &str, junit: &str) -> BTreeMap<String, String> {
        let mut v = BTreeMap::new();
        let mut set = |k: String, val: &str| {
            v.insert(k, val.to_owned());
        };
        set("NEXUS_DEV_RUN_ID".into(), &self.run_id);
        set("NEXUS_DEV_PROFILE".into(), &self.profile);
        set("NEXUS_DEV_ENV_FILE".into(), env_file);
        set("NEXUS_DEV_JUNIT".into(), junit);
        set("KUBECONFIG".into(), &self.kubeconfig);
        set("AWS_REGION".into(), &self.aws.region);
        set("AWS_DEFAULT_REGION".into(), &self.aws.region);
        if let Some(endpoint) = &self.aws.endpoint {
            set("AWS_ENDPOINT_URL".into(), endpoint);
            set("AWS_ACCESS_KEY_ID".into(), EMULATOR_KEY);
            set("AWS_SECRET_ACCESS_KEY".into(), EMULATOR_KEY);
        }
        for c in &self.capabilities {
            let p = prefix(&c.name);
            set(format!("{p}NAMESPACE"), &c.namespace);
            set(format!("{p}REGION"), &c.region);
            let root = format!("/{}/{}/", c.name, c.environment);
            for (name, value) in &c.parameters {
                if let Some(rest) = name.strip_prefix(&root) {
                    set(format!("{p}{}", shout(rest)), value);
                }
            }
            for (component, url) in &c.urls {
                set(format!("{p}URL_{}", shout(component)), url);
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(endpoint: Option<&str>) -> Environment {
        Environment {
            run_id: "r1".into(),
            profile: "local".into(),
            kubeconfig: "/k".into(),
            aws: Aws { endpoint: endpoint.map(str::to_owned), region: "eu-west-1".into(), account: "0".into() },
            capabilities: vec![Capability {
                name: "my-app".into(),
                environment: "dev".into(),
                namespace: "my-app-dev".into(),
                region: "eu-west-1".into(),
                parameters: BTreeMap::from([
                    ("/my-app/dev/dynamodb/license-table".into(), "my-app-dev-license".into()),
                    ("/my-app/dev/cognito/user-pool-id".into(), "eu-west-1_abc".into()),
                    ("/other/dev/x".into(), "not ours".into()),
                ]),
                urls: BTreeMap::from([("backend".into(), "http://127.0.0.1:4001/".into())]),
            }],
        }
    }

    #[test]
    fn the_parameter_tree_flattens_under_the_capability_prefix() {
        let v = env(Some("http://localhost:4566")).variables("/f.json", "/j.xml");
        assert_eq!(v["NEXUS_MY_APP_DYNAMODB_LICENSE_TABLE"], "my-app-dev-license");
        assert_eq!(v["NEXUS_MY_APP_COGNITO_USER_POOL_ID"], "eu-west-1_abc");
        assert_eq!(v["NEXUS_MY_APP_URL_BACKEND"], "http://127.0.0.1:4001/");
        assert_eq!(v["NEXUS_MY_APP_NAMESPACE"], "my-app-dev");
        assert_eq!(v["AWS_ENDPOINT_URL"], "http://localhost:4566");
        assert_eq!(v["NEXUS_DEV_ENV_FILE"], "/f.json");
        assert!(!v.values().any(|x| x == "not ours"), "a parameter outside the tree is not the capability's");
        assert_eq!(v.len(), 15, "{v:#?}");
    }

    #[test]
    fn real_aws_gets_no_endpoint_and_no_credentials() {
        let v = env(None).variables("/f.json", "/j.xml");
        assert!(!v.contains_key("AWS_ENDPOINT_URL") && !v.contains_key("AWS_ACCESS_KEY_ID"));
        assert_eq!(v["AWS_REGION"], "eu-west-1");
    }
}
