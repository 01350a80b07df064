//! Request extractors whose errors are RFC 9457 problems naming the
//! field: JSON or YAML bodies, query and path parameters, paging.

use super::*;

/// A JSON (or, with `Content-Type: application/yaml`, YAML) body whose
/// decoding errors name the field. Any other content type, or none, is
/// 415: a body is read only as what its sender says it is.
pub(super) struct Body<T>(pub(super) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let yaml = is_yaml(req.headers().get(header::CONTENT_TYPE))?;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            Problem::new(status, "body", "Unreadable body", e.body_text())
        })?;
        decode(&bytes, yaml).map(Body)
    }
}

/// Whether the body is YAML (or JSON), by its media type, parameters
/// such as `charset` aside.
fn is_yaml(ct: Option<&HeaderValue>) -> Result<bool, Problem> {
    let media =
        ct.and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).map(|m| m.trim().to_ascii_lowercase());
    match media.as_deref() {
        Some("application/json") => Ok(false),
        Some("application/yaml" | "application/x-yaml" | "text/yaml") => Ok(true),
        other => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            match other {
                Some(m) => format!("a body of type {m}: send application/json (or application/yaml)"),
                None => "no Content-Type: send application/json (or application/yaml)".to_string(),
            },
        )),
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8], yaml: bool) -> Result<T, Problem> {
    fn field(p: &serde_path_to_error::Path) -> String {
        let s = p.to_string();
        if s == "." {
            "body".into()
        } else {
            s
        }
    }
    // Every body this API takes is an object: serde would also build a
    // struct from an array of its fields in order (`[]` for one whose
    // fields all have defaults), which the OpenAPI document does not allow.
    let not_object = || Problem::bad_request("body", "expected an object");
    if yaml {
        let text = std::str::from_utf8(bytes).map_err(|_| Problem::bad_request("body", "not UTF-8"))?;
        if matches!(serde_yaml::from_str::<serde_yaml::Value>(text), Ok(v) if !v.is_mapping()) {
            return Err(not_object());
        }
        serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text))
            .map_err(|e| Problem::bad_request(&field(e.path()), e.inner().to_string()))
    } else {
        if bytes.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|&b| b != b'{') {
            return Err(not_object());
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut de)
            .map_err(|e| Problem::bad_request(&field(e.path()), e.inner().to_string()))
    }
}

/// Query parameters whose decoding errors are problems, not plain text.
pub(super) struct Query<T>(pub(super) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(q) => Ok(Query(q.0)),
            Err(e) => {
                let text = e.body_text();
                let msg = text.trim_start_matches("Failed to deserialize query string: ");
                let (field, why) = msg.split_once(": ").unwrap_or(("query", msg));
                Err(Problem::bad_request(field, why))
            }
        }
    }
}

/// Path parameters whose decoding errors are problems, not plain text.
pub(super) struct Path<T>(pub(super) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(p) => Ok(Path(p.0)),
            Err(e) => Err(Problem::bad_request("path", e.body_text())),
        }
    }
}

/// Offset pagination for lists that can grow large.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Paging {
    /// Items to skip (default 0).
    pub(super) offset: Option<usize>,
    /// Items to return, 1..=1000 (default 100).
    pub(super) limit: Option<usize>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items in the whole list.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

impl Paging {
    /// The offset and limit asked for, the limit checked.
    pub(super) fn window(&self) -> Result<(usize, usize), Problem> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(Problem::bad_request("limit", format!("{limit} is outside 1..=1000")));
        }
        Ok((self.offset.unwrap_or(0), limit))
    }
}

pub(super) fn page<T>(all: Vec<T>, p: &Paging) -> ApiResult<Json<Page<T>>> {
    let (offset, limit) = p.window()?;
    let total = all.len();
    Ok(Json(Page { items: all.into_iter().skip(offset).take(limit).collect(), total, offset, limit }))
}

#[cfg(test)]
mod tests {
    use super::decode;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        #[serde(default)]
        remove: Vec<String>,
    }

    /// An array (JSON or YAML) is refused where an object is taken, even
    /// one that serde could read as the struct's fields in order.
    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        for (body, yaml) in [("[]", false), (" [[\"10.0.0.0/8\"]]", false), ("- [a]", true), ("[]", true), ("7", false)]
        {
            let e = decode::<Batch>(body.as_bytes(), yaml).unwrap_err();
            assert_eq!((e.status, e.detail.as_str()), (400, "body: expected an object"), "{body}");
        }
        assert_eq!(decode::<Batch>(b" {}", false).unwrap(), Batch { remove: vec![] });
        assert_eq!(decode::<Batch>(b"remove: [a]", true).unwrap(), Batch { remove: vec!["a".into()] });
    }
}
