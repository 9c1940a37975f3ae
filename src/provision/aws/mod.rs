//! AWS: one connection per target (the emulator of a profile, or real AWS), and one module per
//! resource kind, each of the same shape: `observe` reads the actual state, a pure `changes`
//! compares it with the plan, `ensure` applies those changes (or only reports them in a dry
//! run), `delete` removes (not-found is success).

pub mod cognito;
pub mod coverage;
pub mod dynamodb;
pub mod error;
pub mod glue;
pub mod iam;
pub mod s3;
pub mod secrets;
pub mod ssm;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

pub use error::AwsError;

use crate::model::profile::Profile;

/// Where AWS calls go and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Emulator endpoint; `None` for real AWS.
    pub endpoint: Option<String>,
    pub region: String,
    /// Named credentials profile for real AWS.
    pub credentials_profile: Option<String>,
    /// Sign with the usual credential chain even though `endpoint` is set. An EKS profile is
    /// real AWS wherever its endpoint points (a VPC endpoint, or the test bed's stand-ins); an
    /// emulator gets dummy credentials, so that real ones never go on the wire.
    pub real_credentials: bool,
}

impl Target {
    pub fn emulator(endpoint: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            endpoint: Some(endpoint.into()),
            region: region.into(),
            credentials_profile: None,
            real_credentials: false,
        }
    }

    pub fn of(profile: &Profile, region: &str) -> Self {
        Self {
            endpoint: profile.aws.endpoint.clone(),
            region: region.to_owned(),
            credentials_profile: profile.aws.credentials_profile.clone(),
            real_credentials: !profile.is_emulated(),
        }
    }
}

/// How long one attempt of a call may take. Real AWS and the emulators answer in milliseconds;
/// an endpoint silent this long has stalled (issue #11: a stopped emulator took 383 s to fail).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Per-attempt timeouts bound every call; the SDK's standard retry (3 attempts, backoff with
/// jitter) handles throttling and transient errors within a call.
pub async fn sdk_config(target: &Target) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(ATTEMPT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(ATTEMPT_TIMEOUT * 3)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(endpoint) = &target.endpoint {
        loader = loader.endpoint_url(endpoint.clone());
    }
    if target.endpoint.is_some() && !target.real_credentials {
        // Emulators accept any credentials; these dummy ones keep real ones off the wire.
        loader = loader.credentials_provider(Credentials::new("test", "test", None, None, "nexus-dev-emulator"));
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

/// Counts requests put on the wire, by whether they change anything. Every client of
/// [`Clients`] reports here, so "zero mutating calls" is measured, not assumed.
#[derive(Debug, Default)]
pub struct CallCounter {
    reads: AtomicU64,
    writes: AtomicU64,
    by_operation: Mutex<HashMap<String, u64>>,
}

/// Operation-name prefixes that only read.
const READ_PREFIXES: &[&str] = &["Get", "List", "Describe", "Head", "Query", "Scan", "BatchGet", "Lookup", "Search"];

pub fn is_mutating(operation: &str) -> bool {
    !READ_PREFIXES.iter().any(|p| operation.starts_with(p))
}

impl CallCounter {
    pub fn mutating(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Mutating operations seen, as `service.Operation` → count (for reports and tests).
    pub fn mutating_operations(&self) -> Vec<(String, u64)> {
        let map = self.by_operation.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = map.iter().map(|(k, n)| (k.clone(), *n)).collect();
        v.sort();
        v
    }

    fn record(&self, service: &str, operation: &str) {
        if is_mutating(operation) {
            self.writes.fetch_add(1, Ordering::Relaxed);
            let mut map = self.by_operation.lock().unwrap_or_else(|p| p.into_inner());
            *map.entry(format!("{service}.{operation}")).or_default() += 1;
        } else {
            self.reads.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Labels of the process-wide count of AWS calls (the operator's `/metrics`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct CallLabels {
    /// `service.Operation`, such as `DynamoDB.DescribeTable`.
    pub operation: String,
    /// `true` or `false`.
    pub mutating: String,
}

/// Every AWS call this process made, by operation and whether it changes anything.
pub fn calls()
-> &'static prometheus_client::metrics::family::Family<CallLabels, prometheus_client::metrics::counter::Counter> {
    static CALLS: std::sync::OnceLock<
        prometheus_client::metrics::family::Family<CallLabels, prometheus_client::metrics::counter::Counter>,
    > = std::sync::OnceLock::new();
    CALLS.get_or_init(Default::default)
}

tokio::task_local! {
    /// The counter of the run this task belongs to, so that concurrent runs sharing clients
    /// each count their own calls.
    static RUN_COUNTER: Arc<CallCounter>;
}

/// Runs `fut`, counting the AWS calls it makes (and only those) into a fresh counter.
pub async fn counted<F: Future>(fut: F) -> (F::Output, Arc<CallCounter>) {
    let counter = Arc::new(CallCounter::default());
    let out = RUN_COUNTER.scope(counter.clone(), fut).await;
    (out, counter)
}

/// How many requests one resource has waited on one after another (issue 20): the benchmark's
/// machine-independent measure of a run's critical path. A request sent at depth `d` leaves its
/// resource at depth `d + 1` at least once it is answered; requests started together (before any
/// of them is answered) share a depth. A resource starts at the depth of its deepest dependency.
#[derive(Debug, Default)]
pub struct Depth(AtomicU32);

impl Depth {
    pub fn starting_at(d: u32) -> Arc<Self> {
        Arc::new(Self(AtomicU32::new(d)))
    }

    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

tokio::task_local! {
    /// The depth of the resource this task is reading or converging.
    static RESOURCE_DEPTH: Arc<Depth>;
}

/// Runs `fut` as the work of one resource, whose requests follow on from `depth`'s.
pub async fn at_depth<F: Future>(depth: Arc<Depth>, fut: F) -> F::Output {
    RESOURCE_DEPTH.scope(depth, fut).await
}

/// The depth a request was sent at, and the resource that sent it, kept in its config bag until
/// it is answered. The answer deepens that resource, even when another one's task polls it to
/// completion (a shared batch of SSM reads): awaiting another's request is not sending one.
#[derive(Debug, Clone)]
struct SentAt(u32, Arc<Depth>);

impl Storable for SentAt {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug, Clone)]
struct Counting(Arc<CallCounter>);

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "nexus-dev-call-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            self.0.record(m.service(), m.name());
            let labels = CallLabels {
                operation: format!("{}.{}", m.service(), m.name()),
                mutating: is_mutating(m.name()).to_string(),
            };
            calls().get_or_create(&labels).inc();
            let _ = RUN_COUNTER.try_with(|c| c.record(m.service(), m.name()));
        }
        Ok(())
    }

    // The depth is taken when the call starts, not when it goes on the wire: calls started
    // together share it even if one is answered before another has its connection.
    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Ok(sent) = RESOURCE_DEPTH.try_with(|d| SentAt(d.get(), d.clone())) {
            cfg.interceptor_state().store_put(sent);
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(SentAt(d, sender)) = cfg.load::<SentAt>().cloned() {
            sender.0.fetch_max(d + 1, Ordering::Relaxed);
            // A retry goes after this answer.
            cfg.interceptor_state().store_put(SentAt(d + 1, sender));
        }
        Ok(())
    }
}

/// The clients of one target, all counting their calls into one [`CallCounter`].
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub glue: aws_sdk_glue::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub iam: aws_sdk_iam::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub eks: aws_sdk_eks::Client,
    pub sts: aws_sdk_sts::Client,
    pub counter: Arc<CallCounter>,
    pub emulated: bool,
    /// The endpoint calls go to (`None`: AWS's own), for messages.
    pub endpoint: Option<String>,
    pub region: String,
    /// Bounds the resources being read or converged at once by every run sharing these clients,
    /// so that many capabilities applied together queue here instead of swamping an emulator.
    pub limiter: Arc<tokio::sync::Semaphore>,
}

/// Resources in flight per set of clients, across runs: room for the whole first wave of a
/// large capability (the full example has 48 AWS resources) and what runs beside it, such as
/// `apply`'s probe for orphans, so that neither waits a round trip for the other (issue 20).
/// A few requests each, so still well within a process's open files.
pub const DEFAULT_IN_FLIGHT: usize = 128;

impl Clients {
    pub async fn connect(target: &Target) -> Self {
        let config = sdk_config(target).await;
        Self::from_config(&config, target.endpoint.is_some())
    }

    pub fn from_config(config: &SdkConfig, emulated: bool) -> Self {
        let counter = Arc::new(CallCounter::default());
        let i = Counting(counter.clone());
        macro_rules! client {
            ($krate:ident) => {
                $krate::Client::from_conf($krate::config::Builder::from(config).interceptor(i.clone()).build())
            };
        }
        Self {
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config).force_path_style(emulated).interceptor(i.clone()).build(),
            ),
            dynamodb: client!(aws_sdk_dynamodb),
            glue: client!(aws_sdk_glue),
            ssm: client!(aws_sdk_ssm),
            secrets: client!(aws_sdk_secretsmanager),
            iam: client!(aws_sdk_iam),
            cognito: client!(aws_sdk_cognitoidentityprovider),
            eks: client!(aws_sdk_eks),
            sts: client!(aws_sdk_sts),
            counter,
            emulated,
            endpoint: config.endpoint_url().map(str::to_owned),
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
            limiter: Arc::new(tokio::sync::Semaphore::new(DEFAULT_IN_FLIGHT)),
        }
    }
}

/// What every provisioner gets: the clients, whether to change anything, and the account.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub clients: Clients,
    pub dry_run: bool,
    pub account: String,
    /// Make a resource's reads one after another instead of together (the benchmark's
    /// baseline of "the same calls, one after another").
    pub serial: bool,
}

impl Ctx {
    pub fn new(clients: Clients, account: impl Into<String>) -> Self {
        Self { clients, dry_run: false, account: account.into(), serial: false }
    }

    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }

    pub fn serial(mut self, on: bool) -> Self {
        self.serial = on;
        self
    }

    /// The ARN of a regional resource of `service` in this account and region.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        let region = &self.clients.region;
        format!("arn:{}:{service}:{region}:{}:{resource}", crate::model::plan::partition(region), self.account)
    }
}

/// Tags of `want` that `current` lacks or holds with another value. Tags people added are kept.
pub(crate) fn missing_tags<'a>(
    current: &BTreeMap<String, String>,
    want: &'a BTreeMap<String, String>,
) -> Vec<(&'a str, &'a str)> {
    want.iter().filter(|(k, v)| current.get(*k) != Some(*v)).map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Awaits two reads together, or one after the other when `serial`. The futures are boxed: SDK
/// request futures are large, and nesting them inline overflows small (test) stacks.
pub(crate) async fn both<A, B>(serial: bool, a: impl Future<Output = A>, b: impl Future<Output = B>) -> (A, B) {
    let (a, b) = (Box::pin(a), Box::pin(b));
    if serial {
        let a = a.await;
        (a, b.await)
    } else {
        tokio::join!(a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_classify() {
        for op in ["GetItem", "ListBuckets", "DescribeTable", "HeadBucket", "GetParameter", "BatchGetItem"] {
            assert!(!is_mutating(op), "{op}");
        }
        for op in
            ["CreateBucket", "PutBucketVersioning", "UpdateTable", "DeleteObjects", "TagResource", "BatchWriteItem"]
        {
            assert!(is_mutating(op), "{op}");
        }
    }
}
