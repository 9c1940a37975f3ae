//! AWS: one connection per target (the emulator of a profile, or real AWS), and one module per
//! resource kind, each of the same shape (observe, ensure, delete).

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_credential_types::Credentials;

use crate::profile::Profile;

/// Where AWS calls go and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Emulator endpoint; `None` for real AWS.
    pub endpoint: Option<String>,
    pub region: String,
    /// Named credentials profile for real AWS.
    pub credentials_profile: Option<String>,
}

impl Target {
    pub fn emulator(endpoint: impl Into<String>, region: impl Into<String>) -> Self {
        Self { endpoint: Some(endpoint.into()), region: region.into(), credentials_profile: None }
    }

    pub fn of(profile: &Profile, region: &str) -> Self {
        Self {
            endpoint: profile.aws.endpoint.clone(),
            region: region.to_owned(),
            credentials_profile: profile.aws.credentials_profile.clone(),
        }
    }
}

/// Per-call timeouts; retries are the executor's (with backoff and jitter), so the SDK's own
/// retry is limited to one attempt there. Here the SDK default (standard, 3 attempts) stays for
/// direct use.
pub async fn sdk_config(target: &Target) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(30))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard());
    if let Some(endpoint) = &target.endpoint {
        // Emulators accept any credentials; these dummy ones keep real ones off the wire.
        loader = loader.endpoint_url(endpoint.clone()).credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "nexus-dev-emulator",
        ));
    } else if let Some(p) = &target.credentials_profile {
        loader = loader.profile_name(p);
    }
    loader.load().await
}

/// S3 needs path-style addressing against emulators (no wildcard DNS for bucket hosts).
pub fn s3_client(config: &SdkConfig, emulated: bool) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(config).force_path_style(emulated).build();
    aws_sdk_s3::Client::from_conf(conf)
}
