//! Kubernetes bearer tokens for EKS, made the way `aws eks get-token` and aws-iam-authenticator
//! make them: a presigned STS `GetCallerIdentity` URL whose signature covers the header
//! `x-k8s-aws-id: <cluster>`, as `k8s-aws-v1.` + base64url without padding. EKS accepts one for
//! 15 minutes after its signing time; [`TokenSource`] makes a new one before that.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// How long the presigned URL says it is valid (what awscli sets; EKS ignores it and allows 15
/// minutes from the signing time).
const EXPIRES: Duration = Duration::from_secs(60);
/// How long EKS accepts a token after its signing time.
pub const LIFETIME: Duration = Duration::from_secs(15 * 60);
/// A token is made anew this long before EKS would refuse it.
const REFRESH_BEFORE: Duration = Duration::from_secs(60);
const PREFIX: &str = "k8s-aws-v1.";
/// Header the signature binds the token to the cluster with.
const CLUSTER_HEADER: &str = "x-k8s-aws-id";

/// Everything but RFC 3986's unreserved characters, as SigV4 and botocore encode query values.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// What a token is made from.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub credentials: &'a Credentials,
    pub region: &'a str,
    pub cluster: &'a str,
    /// The STS endpoint, such as `https://sts.eu-west-1.amazonaws.com/` (the default for
    /// `region` when `None`) or an emulator's.
    pub endpoint: Option<&'a str>,
    pub time: SystemTime,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot sign the EKS token for cluster {cluster}: {reason}")]
    Sign { cluster: String, reason: String },
}

/// The presigned `GetCallerIdentity` URL, its query in botocore's order (the operation's
/// parameters, then `X-Amz-Algorithm` … `X-Amz-SignedHeaders`, `X-Amz-Security-Token`, and
/// `X-Amz-Signature` last).
pub fn presigned_url(r: &Request<'_>) -> Result<String, TokenError> {
    let fail = |reason: String| TokenError::Sign { cluster: r.cluster.to_owned(), reason };
    let base = match r.endpoint {
        Some(e) => format!("{}/", e.trim_end_matches('/')),
        None => format!("https://sts.{}.amazonaws.com/", r.region),
    };
    let operation = [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")];
    let unsigned = format!("{base}?{}", query(operation.iter().map(|(k, v)| (*k, Cow::Borrowed(*v)))));

    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(EXPIRES);
    let identity = r.credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(r.region)
        .name("sts")
        .time(r.time)
        .settings(settings)
        .build()
        .map_err(|e| fail(e.to_string()))?
        .into();
    let headers = [(CLUSTER_HEADER, r.cluster)];
    let signable = SignableRequest::new("GET", &unsigned, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|e| fail(e.to_string()))?;
    let (instructions, _) = sign(signable, &params).map_err(|e| fail(e.to_string()))?.into_parts();
    let signed = instructions.params();
    let order = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
    ];
    let ordered = order.iter().filter_map(|name| signed.iter().find(|(n, _)| n == name).map(|(n, v)| (*n, v.clone())));
    Ok(format!("{unsigned}&{}", query(ordered)))
}

fn query<'v>(pairs: impl Iterator<Item = (&'v str, Cow<'v, str>)>) -> String {
    pairs.map(|(k, v)| format!("{k}={}", utf8_percent_encode(&v, QUERY_VALUE))).collect::<Vec<_>>().join("&")
}

/// The bearer token for `r`.
pub fn token(r: &Request<'_>) -> Result<String, TokenError> {
    let url = presigned_url(r)?;
    Ok(format!("{PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)))
}

/// A token for one cluster, made anew a minute before EKS would refuse it: for a client that
/// lives longer than 15 minutes (a promote that waits for a rollout), not one token at start-up.
#[derive(Debug)]
pub struct TokenSource {
    credentials: Credentials,
    region: String,
    cluster: String,
    endpoint: Option<String>,
    current: std::sync::Mutex<Option<(String, SystemTime)>>,
}

impl TokenSource {
    pub fn new(credentials: Credentials, region: &str, cluster: &str, endpoint: Option<&str>) -> Self {
        Self {
            credentials,
            region: region.to_owned(),
            cluster: cluster.to_owned(),
            endpoint: endpoint.map(str::to_owned),
            current: std::sync::Mutex::new(None),
        }
    }

    /// A token valid for at least another minute at `now`.
    pub fn token_at(&self, now: SystemTime) -> Result<String, TokenError> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((token, signed)) = current.as_ref()
            && now.duration_since(*signed).is_ok_and(|age| age + REFRESH_BEFORE < LIFETIME)
        {
            return Ok(token.clone());
        }
        let made = token(&Request {
            credentials: &self.credentials,
            region: &self.region,
            cluster: &self.cluster,
            endpoint: self.endpoint.as_deref(),
            time: now,
        })?;
        *current = Some((made.clone(), now));
        Ok(made)
    }

    pub fn token(&self) -> Result<String, TokenError> {
        self.token_at(SystemTime::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// testbed/eks/token-vectors.json: made by botocore's presigner (what `aws eks get-token`
    /// runs) and a from-the-spec SigV4, and checked against awscli's own output
    /// (docs/design/testbed.md, "Known-answer vectors").
    const VECTORS: &str = include_str!("../../testbed/eks/token-vectors.json");

    #[test]
    fn tokens_match_botocores_for_every_known_answer_vector() {
        let vectors: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        let vectors = vectors["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 3);
        for v in vectors {
            let i = &v["inputs"];
            let s = |k: &str| i[k].as_str().map(str::to_owned);
            let credentials = Credentials::new(
                s("accessKeyId").unwrap(),
                s("secretAccessKey").unwrap(),
                s("sessionToken"),
                None,
                "vectors",
            );
            let time: SystemTime = humantime::parse_rfc3339(&s("time").unwrap()).unwrap();
            let endpoint = s("endpoint");
            let r = Request {
                credentials: &credentials,
                region: &s("region").unwrap(),
                cluster: &s("clusterName").unwrap(),
                endpoint: endpoint.as_deref(),
                time,
            };
            let name = s("name").unwrap();
            assert_eq!(presigned_url(&r).unwrap(), v["expected"]["url"].as_str().unwrap(), "{name}");
            assert_eq!(token(&r).unwrap(), v["expected"]["token"].as_str().unwrap(), "{name}");
        }
    }

    #[test]
    fn a_source_keeps_its_token_until_a_minute_before_eks_would_refuse_it() {
        let source = TokenSource::new(Credentials::new("AKID", "SECRET", None, None, "t"), "eu-west-1", "c", None);
        let t0 = humantime::parse_rfc3339("2026-01-02T03:04:05Z").unwrap();
        let first = source.token_at(t0).unwrap();
        assert_eq!(source.token_at(t0 + Duration::from_secs(13 * 60)).unwrap(), first);
        let later = source.token_at(t0 + Duration::from_secs(14 * 60)).unwrap();
        assert_ne!(later, first, "made anew with a minute left");
    }
}
