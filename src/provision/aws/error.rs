//! AWS errors, typed: what failed (operation and resource), the AWS error code, and whether a
//! retry can help.

use std::fmt::Debug;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// AWS answered with an error.
    #[error("{op} {resource}: {code}: {message}")]
    Service { op: &'static str, resource: String, code: String, message: String, retryable: bool },
    /// The endpoint could not be reached (connection refused, DNS, TLS).
    #[error("{op} {resource}: cannot reach the AWS endpoint: {detail}")]
    Unreachable { op: &'static str, resource: String, detail: String },
    #[error("{op} {resource}: no answer within the time allowed")]
    Timeout { op: &'static str, resource: String },
    /// The resource exists in a state nexus-dev must not or cannot change.
    #[error("{resource}: {message}")]
    Conflict { resource: String, message: String },
    /// The resource exists but is not this capability's (issue #11): never changed or deleted.
    #[error("{resource}: {message}")]
    NotOwned { resource: String, message: String },
    /// A value another resource should have provided is missing.
    #[error("{resource}: {message}")]
    Missing { resource: String, message: String },
}

/// Codes AWS uses for throttling and transient server trouble.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "ConcurrentModificationException",
    "OperationAbortedException",
    "ResourceInUseException",
];

impl AwsError {
    pub fn is_retryable(&self) -> bool {
        match self {
            AwsError::Service { retryable, .. } => *retryable,
            AwsError::Unreachable { .. } => true,
            // The SDK retried it already; another round would only multiply the wait.
            AwsError::Timeout { .. } => false,
            AwsError::Conflict { .. } | AwsError::NotOwned { .. } | AwsError::Missing { .. } => false,
        }
    }

    /// The AWS error code, or a short label for errors without one (for reports).
    pub fn code(&self) -> &str {
        match self {
            AwsError::Service { code, .. } => code,
            AwsError::Unreachable { .. } => "Unreachable",
            AwsError::Timeout { .. } => "Timeout",
            AwsError::Conflict { .. } => "Conflict",
            AwsError::NotOwned { .. } => "NotOwned",
            AwsError::Missing { .. } => "Missing",
        }
    }

    pub fn conflict(resource: &str, message: impl Into<String>) -> Self {
        AwsError::Conflict { resource: resource.to_owned(), message: message.into() }
    }
}

/// Classifies an SDK error of operation `op` on `resource`.
pub fn sdk<E, R>(op: &'static str, resource: &str, err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let resource = resource.to_owned();
    match &err {
        SdkError::TimeoutError(_) => AwsError::Timeout { op, resource },
        // A connection made but never answered (the read timeout) is a stall, not a refusal.
        SdkError::DispatchFailure(d) if d.is_timeout() => AwsError::Timeout { op, resource },
        SdkError::DispatchFailure(d) => {
            let detail = std::error::Error::source(&err).map(chain).unwrap_or_else(|| format!("{d:?}"));
            AwsError::Unreachable { op, resource, detail }
        }
        SdkError::ServiceError(s) => {
            let e = s.err();
            let code = e.code().unwrap_or("Unknown").to_owned();
            let message = e.message().map(str::to_owned).unwrap_or_else(|| e.to_string());
            let retryable = RETRYABLE_CODES.contains(&code.as_str());
            AwsError::Service { op, resource, code, message, retryable }
        }
        SdkError::ResponseError(_) => {
            AwsError::Service { op, resource, code: "ResponseError".into(), message: chain(&err), retryable: true }
        }
        _ => AwsError::Service { op, resource, code: "ClientError".into(), message: chain(&err), retryable: false },
    }
}

/// An error and its sources on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// The error code of an SDK error, when AWS sent one.
pub fn code_of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    err.as_service_error().and_then(|e| e.code())
}
