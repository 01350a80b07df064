//! `/api/v1/config`: the whole config (ETag and If-Match), validation,
//! and commit-confirm.

use super::*;

/// The config routes, for [`api_routes`](super::api_routes).
pub(super) fn routes(r: OpenApiRouter<Arc<Api>>) -> OpenApiRouter<Arc<Api>> {
    r.routes(routes!(get_config, put_config))
        .routes(routes!(validate_config))
        .routes(routes!(plan_config))
        .routes(routes!(commit_config, get_commit, cancel_commit))
        .routes(routes!(confirm_commit))
}

/// The running config, as JSON or (with `Accept: application/yaml`) YAML.
/// The `ETag` header identifies it for `PUT` with `If-Match`.
#[utoipa::path(get, path = "/api/v1/config", tag = "config",
    responses((status = 200, description = "The running config", headers(("ETag" = String, description = "Identifies this config")),
        content((Config = "application/json"), (Config = "application/yaml")))))]
async fn get_config(State(api): St, headers: HeaderMap) -> Response {
    let cfg = api.ctl.running();
    let tag = etag(&cfg);
    let yaml = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("yaml"));
    let mut r = if yaml {
        ([(header::CONTENT_TYPE, "application/yaml")], cfg.to_yaml()).into_response()
    } else {
        Json(&*cfg).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&tag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string())
}

/// Replace the whole running config (JSON, or YAML with
/// `Content-Type: application/yaml`). Needs `If-Match` with the ETag of
/// the config the change was made from: a concurrent change answers 412.
#[utoipa::path(put, path = "/api/v1/config", tag = "config", request_body = Config,
    params(("If-Match" = String, Header, description = "ETag from GET /api/v1/config")),
    responses((status = 200, body = Applied), (status = 412, body = Problem), (status = 428, body = Problem),
        (status = 422, body = Problem), (status = 409, body = Problem)))]
async fn put_config(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    headers: HeaderMap,
    Body(cfg): Body<Config>,
) -> ApiResult<Json<Applied>> {
    let Some(tag) = if_match(&headers) else {
        return Err(Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "if-match-required",
            "Precondition required",
            "send If-Match with the ETag from GET /api/v1/config",
        ));
    };
    Ok(Json(api.ctl.replace(&c.who(), cfg, &tag).await?))
}

/// The outcome of a validation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Validation {
    /// Always true: an invalid config answers 422 with every problem.
    pub valid: bool,
    /// Fields that differ from the running config.
    pub changes: Vec<String>,
}

/// Check a whole config without applying it: every problem, by field,
/// including fields that cannot change without a restart.
#[utoipa::path(post, path = "/api/v1/config/validate", tag = "config", request_body = Config,
    responses((status = 200, body = Validation), (status = 422, body = Problem), (status = 400, body = Problem),
        (status = 503, body = Problem, description = "validation ran past its budget (5 s)")))]
async fn validate_config(State(api): St, Body(cfg): Body<Config>) -> ApiResult<Json<Validation>> {
    crate::control::validate(&cfg).await?;
    let running = api.ctl.running();
    let restart: Vec<ConfigError> = running.restart_only_changes(&cfg);
    if !restart.is_empty() {
        return Err(Problem::invalid(restart));
    }
    Ok(Json(Validation { valid: true, changes: crate::control::diff(&running, &cfg) }))
}

/// What applying a whole config would change, applying nothing: the
/// items each section gains, loses or changes, other settings that
/// change, whether learned neighbors are flushed, and how many NAT
/// sessions would end now. Refused, by field, as a commit would be.
/// Read-only tokens may ask.
#[utoipa::path(post, path = "/api/v1/config/plan", tag = "config", request_body = Config,
    responses((status = 200, body = crate::plan::Plan), (status = 422, body = Problem),
        (status = 503, body = Problem, description = "validation ran past its budget (5 s), or a worker did not answer")))]
async fn plan_config(State(api): St, Body(cfg): Body<Config>) -> ApiResult<Json<crate::plan::Plan>> {
    match api.ctl.plan(&cfg).await {
        Ok(p) => Ok(Json(p)),
        Err(ApplyError::Failed(m)) => {
            Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE, "worker", "Worker did not answer", m))
        }
        Err(e) => Err(e.into()),
    }
}

/// Commit options.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CommitParams {
    /// Roll the change back after this many seconds (1..=3600) unless
    /// `POST /api/v1/config/confirm` is called first. Without it the
    /// commit is final at once.
    confirm: Option<u64>,
}

/// Apply a whole config. With `?confirm=SECONDS` it is applied at once
/// but saved only when confirmed, and rolled back automatically if not.
/// `If-Match` is honoured when sent.
#[utoipa::path(post, path = "/api/v1/config/commit", tag = "config", request_body = Config, params(CommitParams),
    responses((status = 200, body = Applied), (status = 409, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem)))]
async fn commit_config(
    State(api): St,
    axum::Extension(c): axum::Extension<Caller>,
    Query(q): Query<CommitParams>,
    headers: HeaderMap,
    Body(cfg): Body<Config>,
) -> ApiResult<Json<Applied>> {
    if let Some(s) = q.confirm {
        if !(1..=3600).contains(&s) {
            return Err(Problem::bad_request("confirm", format!("{s} is outside 1..=3600 seconds")));
        }
    }
    let w = c.who();
    let tag = if_match(&headers);
    Ok(Json(api.ctl.commit(&w, cfg, q.confirm.map(Duration::from_secs), tag.as_deref()).await?))
}

/// A pending confirmed commit.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingCommit {
    pub pending: bool,
    /// When it is rolled back unless confirmed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_at: Option<String>,
}

/// Is a confirmed commit waiting for confirmation?
#[utoipa::path(get, path = "/api/v1/config/commit", tag = "config", responses((status = 200, body = PendingCommit)))]
async fn get_commit(State(api): St) -> Json<PendingCommit> {
    let p = api.ctl.pending().await;
    Json(PendingCommit {
        pending: p.is_some(),
        rollback_at: p.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
    })
}

/// Roll a pending confirmed commit back now.
#[utoipa::path(delete, path = "/api/v1/config/commit", tag = "config",
    responses((status = 200, body = Applied), (status = 409, body = Problem)))]
async fn cancel_commit(State(api): St, axum::Extension(c): axum::Extension<Caller>) -> ApiResult<Json<Applied>> {
    Ok(Json(api.ctl.cancel(&c.who()).await?))
}

/// Keep a pending confirmed commit: it is saved and stays.
#[utoipa::path(post, path = "/api/v1/config/confirm", tag = "config",
    responses((status = 200, body = Applied), (status = 409, body = Problem)))]
async fn confirm_commit(State(api): St, axum::Extension(c): axum::Extension<Caller>) -> ApiResult<Json<Applied>> {
    Ok(Json(api.ctl.confirm(&c.who()).await?))
}
