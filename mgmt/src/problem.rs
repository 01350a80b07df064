//! API errors as RFC 9457 problem details (`application/problem+json`).

use crate::config::ConfigError;
use crate::control::ApplyError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem. `errors` names every offending field.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:gatewayd:problem:...`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// Each offending field, by its path in the request body (or in the
    /// config, for whole-config requests).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ConfigError>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:gatewayd:problem:{kind}"),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: vec![],
        }
    }

    pub fn invalid(errors: Vec<ConfigError>) -> Problem {
        let detail = match errors.as_slice() {
            [one] => one.to_string(),
            many => format!("{} problems; see errors", many.len()),
        };
        Problem { errors, ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "Invalid configuration", detail) }
    }

    pub fn bad_request(field: &str, message: impl Into<String>) -> Problem {
        let message = message.into();
        let e = ConfigError { field: field.into(), message: message.clone() };
        Problem {
            errors: vec![e],
            ..Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Malformed request", format!("{field}: {message}"))
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }
}

impl From<ApplyError> for Problem {
    fn from(e: ApplyError) -> Problem {
        match e {
            ApplyError::Invalid(errs) => Problem::invalid(errs),
            ApplyError::NotFound(m) => Problem::not_found(m),
            ApplyError::Conflict(m) => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", m),
            ApplyError::PreconditionFailed(m) => {
                Problem::new(StatusCode::PRECONDITION_FAILED, "etag-mismatch", "Precondition failed", m)
            }
            ApplyError::Failed(m) => {
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "apply-failed", "The change could not be applied", m)
            }
            ApplyError::TooSlow(m) => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "validation-timeout", "Validation took too long", m)
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response()
    }
}
