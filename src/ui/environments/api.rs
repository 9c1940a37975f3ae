//! The environments' endpoints (docs/design/ui.md, "Environments"). The view reads profile and
//! release files, so it is made on a blocking thread. Nothing here contacts an EKS cluster.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{Environments, View};
use crate::ui::server::error;

type Shared = State<Arc<Environments>>;

/// `GET /api/v1/environments` and `GET /api/v1/environments/{namespace}/{name}`.
pub fn routes(environments: Arc<Environments>) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/environments", get(all))
        .route("/api/v1/environments/{namespace}/{name}", get(one))
        .with_state(environments)
}

async fn view(environments: Arc<Environments>) -> Result<View, Response> {
    tokio::task::spawn_blocking(move || environments.view())
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, &format!("the environments view failed: {e}")))
}

async fn all(State(s): Shared) -> Response {
    match view(s).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

/// One capability: the environments' facts and its comparisons.
async fn one(State(s): Shared, Path((namespace, name)): Path<(String, String)>) -> Response {
    let key = format!("{namespace}/{name}");
    match view(s).await {
        Ok(mut v) => match v.capabilities.iter().position(|c| c.key == key) {
            Some(i) => {
                v.capabilities = vec![v.capabilities.swap_remove(i)];
                Json(v).into_response()
            }
            None => error(StatusCode::NOT_FOUND, &format!("no capability {key} in this project")),
        },
        Err(r) => r,
    }
}
