//! A recording stand-in for Cognito and SSM, for the executor's unit tests (issue 20): it
//! answers as an account in which the plan's Cognito resources and their SSM parameters exist
//! exactly as planned, takes one round trip of (tokio's, pausable) time per request, and records
//! when each request was sent. Only what a reconcile of those kinds reads is answered; anything
//! else gets a 500, so a write shows up as a failure as well as in the record.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};

use crate::model::plan::{Plan, Settings};

/// One request as the stand-in saw it: when (since the stand-in started) and which operation.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: Duration,
    pub operation: String,
}

/// The account's state and the record of requests.
#[derive(Debug)]
pub struct FakeAws {
    pub rtt: Duration,
    pub pool_id: String,
    pub client_id: String,
    pool_name: String,
    client: Value,
    domain: String,
    groups: Vec<Value>,
    parameters: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    start: tokio::time::Instant,
    pub sent: Mutex<Vec<Sent>>,
}

impl FakeAws {
    /// An account holding the Cognito part of `plan` as planned, and its ID parameters.
    pub fn holding(plan: &Plan, pool_id: &str, client_id: &str) -> Arc<Self> {
        let mut tags = Vec::new();
        let (mut pool_name, mut client, mut domain, mut groups, mut parameters) =
            (String::new(), Value::Null, String::new(), Vec::new(), Vec::new());
        for r in &plan.resources {
            match &r.settings {
                Settings::CognitoUserPool(p) => {
                    pool_name = r.name.clone();
                    tags = p.tags.clone().into_iter().collect();
                }
                Settings::CognitoUserPoolClient(c) => {
                    client = json!({
                        "ClientId": client_id, "ClientName": r.name, "UserPoolId": pool_id,
                        "AllowedOAuthFlows": c.oauth_flows, "AllowedOAuthScopes": c.scopes,
                        "CallbackURLs": c.callback_urls, "LogoutURLs": c.logout_urls,
                        "SupportedIdentityProviders": c.identity_providers,
                    })
                }
                Settings::CognitoUserPoolDomain(_) => domain = r.name.clone(),
                Settings::CognitoGroup(g) => groups.push(json!({
                    "GroupName": r.name, "UserPoolId": pool_id, "Description": g.description, "Precedence": g.precedence,
                })),
                Settings::SsmParameter(_) => parameters.push(r.name.clone()),
                _ => {}
            }
        }
        let region = &plan.target.region;
        let parameters = parameters
            .into_iter()
            .map(|p| {
                let value = if p.ends_with("user-pool-id") {
                    pool_id.to_owned()
                } else if p.ends_with("app-client-id") {
                    client_id.to_owned()
                } else {
                    format!("{domain}.auth.{region}.amazoncognito.com")
                };
                (p, value)
            })
            .collect();
        Arc::new(Self {
            rtt: Duration::from_millis(50),
            pool_id: pool_id.into(),
            client_id: client_id.into(),
            pool_name,
            client,
            domain,
            groups,
            parameters,
            tags,
            start: tokio::time::Instant::now(),
            sent: Mutex::new(Vec::new()),
        })
    }

    /// An SDK configuration whose every request goes to this stand-in.
    pub fn sdk_config(self: &Arc<Self>, region: &str) -> SdkConfig {
        let me = self.clone();
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url("http://fake-aws.invalid")
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "fake")))
            .http_client(http_client_fn(move |_, _| SharedHttpConnector::new(Connector(me.clone()))))
            .build()
    }

    /// The operations sent, grouped by round trip: the requests of wave `n` were sent during
    /// the `n`-th round trip of the run.
    pub fn waves(&self) -> Vec<Vec<String>> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let mut waves: Vec<Vec<String>> = Vec::new();
        for s in sent.iter() {
            let n = (s.at.as_nanos() / self.rtt.as_nanos()) as usize;
            if waves.len() <= n {
                waves.resize(n + 1, Vec::new());
            }
            waves[n].push(s.operation.clone());
        }
        for w in &mut waves {
            w.sort();
        }
        waves
    }

    fn tag_list(&self) -> Value {
        Value::Array(self.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect())
    }

    fn answer(&self, operation: &str, input: &Value) -> (u16, Value) {
        let s = |k: &str| input.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let not_found = |what: &str| (400, json!({"__type": "ResourceNotFoundException", "message": what}));
        let pool_ok = || s("UserPoolId") == self.pool_id;
        match operation {
            "ListUserPools" => (200, json!({"UserPools": [{"Id": self.pool_id, "Name": self.pool_name}]})),
            "DescribeUserPool" if pool_ok() => (
                200,
                json!({"UserPool": {
                    "Id": self.pool_id, "Name": self.pool_name,
                    "Arn": format!("arn:aws:cognito-idp:eu-west-1:000000000000:userpool/{}", self.pool_id),
                    "UserPoolTags": self.tags.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                }}),
            ),
            "ListUserPoolClients" if pool_ok() => (
                200,
                json!({"UserPoolClients": [{"ClientId": self.client_id, "ClientName": self.client["ClientName"], "UserPoolId": self.pool_id}]}),
            ),
            "DescribeUserPoolClient" if pool_ok() && s("ClientId") == self.client_id => {
                (200, json!({"UserPoolClient": self.client}))
            }
            "DescribeUserPoolDomain" if s("Domain") == self.domain => {
                (200, json!({"DomainDescription": {"Domain": self.domain, "UserPoolId": self.pool_id}}))
            }
            "DescribeUserPoolDomain" => (200, json!({"DomainDescription": {}})),
            "GetGroup" if pool_ok() => match self.groups.iter().find(|g| g["GroupName"] == s("GroupName")) {
                Some(g) => (200, json!({"Group": g})),
                None => not_found("no such group"),
            },
            "DescribeUserPool" | "ListUserPoolClients" | "DescribeUserPoolClient" | "GetGroup" => {
                not_found("no such pool")
            }
            "GetParameter" => match self.parameters.iter().find(|(n, _)| *n == s("Name")) {
                Some((n, v)) => (200, json!({"Parameter": {"Name": n, "Value": v, "Type": "String"}})),
                None => (400, json!({"__type": "ParameterNotFound"})),
            },
            "GetParameters" => {
                let names: Vec<String> = input["Names"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                let found: Vec<Value> = self
                    .parameters
                    .iter()
                    .filter(|(n, _)| names.contains(n))
                    .map(|(n, v)| json!({"Name": n, "Value": v, "Type": "String"}))
                    .collect();
                let invalid: Vec<&String> =
                    names.iter().filter(|n| !self.parameters.iter().any(|(p, _)| p == *n)).collect();
                (200, json!({"Parameters": found, "InvalidParameters": invalid}))
            }
            "ListTagsForResource" if input.get("ResourceType").is_some() => (200, json!({"TagList": self.tag_list()})),
            _ => {
                (500, json!({"__type": "InternalFailure", "message": format!("the stand-in does not do {operation}")}))
            }
        }
    }
}

#[derive(Debug)]
struct Connector(Arc<FakeAws>);

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let fake = self.0.clone();
        // `X-Amz-Target: AWSCognitoIdentityProviderService.DescribeUserPool` (JSON protocols).
        let operation =
            request.headers().get("x-amz-target").and_then(|t| t.rsplit('.').next()).unwrap_or("unknown").to_owned();
        let input: Value = request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
        let at = fake.start.elapsed();
        fake.sent.lock().unwrap_or_else(|p| p.into_inner()).push(Sent { at, operation: operation.clone() });
        HttpConnectorFuture::new(async move {
            tokio::time::sleep(fake.rtt).await;
            let (status, body) = fake.answer(&operation, &input);
            let mut response =
                HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body.to_string()));
            response.headers_mut().insert("content-type", "application/x-amz-json-1.1");
            Ok(response)
        })
    }
}
