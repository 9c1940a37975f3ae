//! ECR for a promotion: the repository made when missing (scan on push, immutable tags, as
//! production wants them), and registry credentials from `GetAuthorizationToken`, kept until
//! shortly before they expire.

use std::time::{Duration, SystemTime};

use base64::Engine as _;

use super::registry::{Registry, RegistryError};

#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    #[error("ECR {op} {what}: {reason}")]
    Api { op: &'static str, what: String, reason: String },
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// What was done to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Repository {
    Created,
    Present,
}

/// The ECR of one account and region, and the registry host its images go to.
pub struct Ecr {
    api: aws_sdk_ecr::Client,
    account: String,
    /// `scheme://host[:port]` of the registry: https for ECR, http for a stand-in on loopback.
    base: String,
    /// Credentials and when they stop working.
    auth: tokio::sync::Mutex<Option<((String, String), SystemTime)>>,
}

/// Credentials are fetched again this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

fn api_error<E: std::error::Error + 'static>(op: &'static str, what: &str, e: E) -> EcrError {
    EcrError::Api { op, what: what.to_owned(), reason: crate::error_chain(&e) }
}

impl Ecr {
    /// `host` is the profile's `registry.host`, such as `123456789012.dkr.ecr.eu-west-1.amazonaws.com`.
    pub fn new(api: aws_sdk_ecr::Client, account: &str, host: &str) -> Self {
        Self {
            api,
            account: account.to_owned(),
            base: super::registry::base_url(host),
            auth: tokio::sync::Mutex::new(None),
        }
    }

    /// Makes repository `name` unless it is there.
    pub async fn ensure_repository(&self, name: &str) -> Result<Repository, EcrError> {
        let found = self.api.describe_repositories().registry_id(&self.account).repository_names(name).send().await;
        match found {
            Ok(_) => Ok(Repository::Present),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_repository_not_found_exception()) => {
                let scanning = aws_sdk_ecr::types::ImageScanningConfiguration::builder().scan_on_push(true).build();
                self.api
                    .create_repository()
                    .registry_id(&self.account)
                    .repository_name(name)
                    .image_scanning_configuration(scanning)
                    .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Immutable)
                    .send()
                    .await
                    .map_err(|e| api_error("CreateRepository", name, e))?;
                Ok(Repository::Created)
            }
            Err(e) => Err(api_error("DescribeRepositories", name, e)),
        }
    }

    /// The registry client, with credentials valid for at least five more minutes.
    pub async fn registry(&self) -> Result<Registry, EcrError> {
        let mut auth = self.auth.lock().await;
        let now = SystemTime::now();
        let fresh = auth.as_ref().is_some_and(|(_, expires)| now + RENEW_BEFORE < *expires);
        if !fresh {
            let token = self
                .api
                .get_authorization_token()
                .send()
                .await
                .map_err(|e| api_error("GetAuthorizationToken", &self.account, e))?;
            let data = token.authorization_data().first().ok_or_else(|| EcrError::Api {
                op: "GetAuthorizationToken",
                what: self.account.clone(),
                reason: "no authorization data".into(),
            })?;
            let bad = |reason: &str| EcrError::Api {
                op: "GetAuthorizationToken",
                what: self.account.clone(),
                reason: reason.to_owned(),
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(data.authorization_token().unwrap_or_default())
                .map_err(|_| bad("the token is not base64"))?;
            let decoded = String::from_utf8(decoded).map_err(|_| bad("the token is not text"))?;
            let (user, password) = decoded.split_once(':').ok_or_else(|| bad("the token is not USER:PASSWORD"))?;
            // ECR's tokens last 12 hours; one that says it has expired already (moto's) is used
            // for this call and fetched again for the next.
            let expires = data.expires_at().and_then(|t| SystemTime::try_from(*t).ok()).unwrap_or(now);
            *auth = Some(((user.to_owned(), password.to_owned()), expires));
        }
        let ((user, password), _) = auth.as_ref().expect("set above");
        Ok(Registry::new(&self.base, Some((user, password)), None)?)
    }
}
