//! Who is calling: bearer tokens checked against the configured hashes,
//! read-only tokens kept to reads, and the caller recorded for the audit
//! log.

use super::*;

/// The caller, as authentication found it, and what it asked.
#[derive(Clone, Debug)]
pub(super) struct Caller {
    token: String,
    remote: SocketAddr,
    /// `METHOD /path`, for the audit log.
    request: String,
}

impl Caller {
    /// Who asked for a change, for the controller's audit record.
    pub(super) fn who(&self) -> Who {
        Who { token: self.token.clone(), remote: self.remote.to_string(), request: self.request.clone() }
    }
}

pub(super) async fn authenticate(State(api): St, mut req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let running = api.ctl.running();
    let Some((token, role)) = presented.and_then(|t| auth::authenticate(&running.management.tokens, t)) else {
        let mut r = Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            if presented.is_some() { "the token is not valid" } else { "send Authorization: Bearer TOKEN" },
        )
        .into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"gatewayd\""));
        return r;
    };
    if role == Role::Readonly && method_writes(req.method().clone(), req.uri().path()) {
        return Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            format!("token '{token}' is read-only; {} needs an admin token", req.method()),
        )
        .into_response();
    }
    let remote = req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
    let request = format!("{} {}", req.method(), req.uri().path());
    req.extensions_mut().insert(Caller { token, remote, request });
    next.run(req).await
}

/// Whether `method` on `path` changes something, and so needs an admin
/// token: every method but GET and HEAD, except validating a config and
/// planning one.
pub(super) fn method_writes(method: Method, path: &str) -> bool {
    !matches!(method, Method::GET | Method::HEAD) && !["/api/v1/config/validate", "/api/v1/config/plan"].contains(&path)
}
