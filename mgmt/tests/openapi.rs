//! The OpenAPI document: well formed, every operation described, every
//! schema reference resolved, and every route the router serves in it
//! (and every documented route served).

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use dataplane::{TableDump, WorkerStats};
use mgmt::audit::AuditLog;
use mgmt::auth;
use mgmt::config::{Config, Role, TokenConf};
use mgmt::control::{Controller, Hooks, PortHandle};
use serde_json::Value;
use stack::wire::MacAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tower::ServiceExt;

fn doc() -> Value {
    serde_json::to_value(mgmt::api::openapi()).unwrap()
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// The served document parses as OpenAPI 3.1 with an independent
/// implementation (the `oas3` crate), and every operation and schema
/// reference in it resolves there.
#[test]
fn the_document_is_valid_openapi_3_1() {
    let text = mgmt::api::openapi().to_pretty_json().unwrap();
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"));
    let mut ops = 0;
    for (path, method, op) in spec.operations() {
        ops += 1;
        assert!(op.responses.as_ref().is_some_and(|r| !r.is_empty()), "{method} {path}");
        for p in &op.parameters {
            p.resolve(&spec).unwrap_or_else(|e| panic!("{method} {path}: parameter: {e}"));
        }
        if let Some(b) = &op.request_body {
            b.resolve(&spec).unwrap_or_else(|e| panic!("{method} {path}: body: {e}"));
        }
    }
    assert!(ops >= 28, "{ops} operations");
    let schemas = &spec.components.as_ref().unwrap().schemas;
    for (name, s) in schemas {
        s.resolve(&spec).unwrap_or_else(|e| panic!("schema {name}: {e}"));
    }
}

#[test]
fn the_document_is_complete_and_consistent() {
    let d = doc();
    assert!(d["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(d["info"]["title"], "gatewayd");
    assert!(d["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
    let paths = d["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{} paths", paths.len());
    for (path, item) in paths {
        assert!(path == "/metrics" || path == "/healthz" || path.starts_with("/api/v1/"), "{path}");
        for (method, op) in item.as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let what = format!("{method} {path}");
            let described = op["summary"].as_str().or(op["description"].as_str()).unwrap_or("");
            assert!(described.len() > 10, "{what} is not described");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{what} has no tag");
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{what} has no responses");
            for (code, r) in responses {
                assert!(r["description"].is_string(), "{what} {code} has no description");
            }
            // Every {param} in the path is declared.
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(|c| c == '{' || c == '}');
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                assert!(params.iter().any(|p| p["name"] == name && p["in"] == "path"), "{what}: {name} undeclared");
            }
        }
    }
    let schemas = d["components"]["schemas"].as_object().unwrap();
    for name in ["Config", "RouteConf", "Problem", "Applied", "PortInfo", "AuditEntry", "TokenConf"] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    for (name, s) in schemas {
        assert!(s.is_object(), "schema {name}");
    }
    let mut all = Vec::new();
    refs(&d, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("odd $ref {r}"));
        assert!(schemas.contains_key(name), "$ref {r} does not resolve");
    }
    // Config fields carry their doc comments.
    assert!(schemas["Management"]["properties"]["tokens"]["description"].as_str().unwrap().contains("Bearer"));
}

/// Every handler registered in the router sources (one file per resource
/// under `src/api/`) has an OpenAPI path.
#[test]
fn every_registered_handler_is_documented() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
    let mut sources: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
    sources.sort();
    let mut handlers = 0;
    for src in &sources {
        for chunk in src.split("routes!(").skip(1) {
            let list = chunk.split(')').next().unwrap();
            for h in list.split(',').map(str::trim).filter(|h| !h.is_empty()) {
                handlers += 1;
                let at = src.find(&format!("async fn {h}(")).unwrap_or_else(|| panic!("no handler {h} in its file"));
                let before = &src[..at];
                let attr = before.rfind("#[utoipa::path(").unwrap_or_else(|| panic!("{h} has no #[utoipa::path]"));
                assert!(
                    !before[attr..].contains("async fn "),
                    "{h}'s nearest #[utoipa::path] belongs to another handler"
                );
            }
        }
    }
    assert!(handlers >= 35, "only {handlers} handlers found");
    let src = sources.concat();
    // Routes added outside routes!() must be documented paths too.
    let d = doc();
    for chunk in src.split(".route(\"").skip(1) {
        let path = chunk.split('"').next().unwrap();
        assert!(d["paths"].get(path).is_some(), "{path} is served but not documented");
    }
}

fn controller(dir: &std::path::Path, token: &str) -> Arc<Controller> {
    let mut cfg = Config::parse(include_str!("../../deploy/lab/gateway.yaml")).unwrap();
    cfg.management.tokens = vec![TokenConf { name: "t".into(), role: Role::Admin, sha256: auth::hash_token(token) }];
    let path = dir.join("gateway.yaml");
    std::fs::write(&path, cfg.to_yaml()).unwrap();
    let macs = [MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2])];
    let t = mgmt::tables::build(&cfg, &[0, 1], &macs, 1).unwrap();
    let w = Arc::new(WorkerStats::default());
    w.generation.store(u64::MAX, Relaxed);
    let hooks = Hooks {
        snapshot: Arc::new(ArcSwap::from_pointee(t)),
        nat: Arc::new(ArcSwap::from_pointee(nat::Rules::default())),
        workers: vec![w],
        dumps: vec![Arc::new(TableDump::default())],
        nat_queries: vec![],
        nat_log: None,
        punt: None,
        path_mtus: None,
    };
    let ports = vec![
        PortHandle { name: "lan".into(), id: 60, mac: macs[0] },
        PortHandle { name: "wan".into(), id: 61, mac: macs[1] },
    ];
    Controller::new(cfg, path, ports, hooks, AuditLog::open(&dir.join("audit.jsonl")).unwrap())
}

/// The API router on a controller without DPDK, with an admin token; its
/// files live in a directory removed on drop.
struct TestApi {
    app: axum::Router,
    token: String,
    dir: std::path::PathBuf,
}

impl TestApi {
    fn new(name: &str) -> TestApi {
        let dir = std::env::temp_dir().join(format!("gw-openapi-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = auth::new_token().unwrap();
        TestApi { app: mgmt::api::router(controller(&dir, &token)), token, dir }
    }

    /// Sends a request with the token and a JSON body; status, headers, body.
    async fn call(
        &self,
        method: &str,
        uri: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        self.call_as(method, uri, Some("application/json"), body).await
    }

    /// [`TestApi::call`] with the body's `Content-Type` (None: no header).
    async fn call_as(
        &self,
        method: &str,
        uri: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut req =
            Request::builder().method(method).uri(uri).header("Authorization", format!("Bearer {}", self.token));
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let req = req.body(body.into()).unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, headers, body.to_vec())
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every documented operation is served: none falls through to "no such
/// endpoint" or gets 405.
#[tokio::test]
async fn every_documented_operation_is_served() {
    let api = TestApi::new("served");
    let d = doc();
    let mut n = 0;
    for (path, item) in d["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys().filter(|m| METHODS.contains(&m.as_str())) {
            let concrete = path
                .replace("{name}", "lan")
                .replace("{interface}", "lan")
                .replace("{addr}", "10.0.1.1")
                .replace("{len}", "24")
                .replace("{ip}", "10.0.1.9");
            let (status, _, body) = api.call(&method.to_uppercase(), &concrete, "{}").await;
            let text = String::from_utf8_lossy(&body);
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(!text.contains("no such endpoint"), "{method} {path} is documented but not served");
            n += 1;
        }
    }
    assert!(n >= 28, "{n} operations");
    // And something undocumented is not served.
    assert_eq!(api.call("GET", "/api/v1/nope", Body::empty()).await.0, StatusCode::NOT_FOUND);
}

/// Bad query and path parameters are problems naming what is wrong, like
/// every other error.
#[tokio::test]
async fn bad_parameters_are_problem_details() {
    let api = TestApi::new("params");
    for (uri, field) in [
        ("/api/v1/routes?limit=abc", "limit"),
        ("/api/v1/routes?prefix=10.0.0.0/40", "prefix"),
        ("/api/v1/routes/10.0.0.0/abc", "path"),
        ("/api/v1/config/commit?confirm=-1", "confirm"),
    ] {
        let method = if uri.contains("commit") { "POST" } else { "GET" };
        let (status, headers, body) = api.call(method, uri, "{}").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(headers["content-type"], "application/problem+json", "{uri}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errors"][0]["field"], field, "{uri}: {body}");
    }
}

/// A body over `management.max_body_bytes` gets 413 before it is parsed.
#[tokio::test]
async fn oversized_bodies_are_refused() {
    let api = TestApi::new("body");
    let big = format!("{{\"dst\": \"{}\"}}", "x".repeat(2 << 20));
    let (status, headers, _) = api.call("POST", "/api/v1/routes", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(headers["content-type"], "application/problem+json");
}

/// A body is read only as the media type its sender names: JSON (with
/// or without a charset) or YAML; anything else, or no type, is 415.
#[tokio::test]
async fn a_body_not_sent_as_json_or_yaml_is_415() {
    let api = TestApi::new("media");
    let route = r#"{"dst": "192.0.2.0/24", "type": "blackhole"}"#;
    for ct in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let (status, headers, body) = api.call_as("POST", "/api/v1/routes", ct, route).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        assert_eq!(headers["content-type"], "application/problem+json");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["status"], 415, "{body}");
    }
    let (status, ..) = api.call_as("POST", "/api/v1/routes", Some("application/json; charset=utf-8"), route).await;
    assert_eq!(status, StatusCode::CREATED);
    let yaml = "dst: 192.0.2.128/25\ntype: blackhole\n";
    let (status, ..) = api.call_as("POST", "/api/v1/routes", Some("application/yaml"), yaml).await;
    assert_eq!(status, StatusCode::CREATED);
}

/// A path and query over 8 KiB is 414 as a problem detail.
#[tokio::test]
async fn an_over_long_uri_is_414_with_a_problem_body() {
    let api = TestApi::new("uri");
    let uri = format!("/api/v1/routes?prefix={}", "1".repeat(mgmt::api::MAX_URI_BYTES));
    let (status, headers, body) = api.call("GET", &uri, "").await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    assert_eq!(headers["content-type"], "application/problem+json");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["status"], 414, "{body}");
}

/// The document says what the server sends: errors as problem details;
/// 401 for every operation that needs a token, 403 for every one that
/// needs an admin token, 400 for parameters and bodies, 415 for bodies,
/// 414 everywhere.
#[test]
fn errors_are_documented_as_the_server_sends_them() {
    let d = doc();
    for (path, item) in d["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for (code, r) in responses {
                if !code.starts_with('2') {
                    assert!(r["content"].get("application/json").is_none(), "{method} {path} {code}: {r}");
                }
            }
            if path != "/healthz" {
                let unauth = &responses["401"];
                assert!(unauth["content"].get("application/problem+json").is_some(), "{method} {path}: {unauth}");
            }
            if op.get("requestBody").is_some() {
                assert!(responses.contains_key("400") && responses.contains_key("415"), "{method} {path}");
            }
            if op.get("parameters").and_then(Value::as_array).is_some_and(|p| !p.is_empty()) {
                assert!(responses.contains_key("400"), "{method} {path}");
            }
            assert!(responses.contains_key("414"), "{method} {path}");
            let writes =
                method != "get" && !["/api/v1/config/validate", "/api/v1/config/plan"].contains(&path.as_str());
            assert_eq!(responses.contains_key("403"), writes && path != "/healthz", "{method} {path}");
        }
    }
}

/// A method an endpoint does not take gets 405 as a problem detail.
#[tokio::test]
async fn an_unknown_method_is_405_with_a_problem_body() {
    let api = TestApi::new("method");
    let (status, headers, body) = api.call("PATCH", "/api/v1/routes", "{}").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["content-type"], "application/problem+json");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["status"], 405, "{body}");
}

/// Every integer the API takes or gives is unsigned, and the document
/// says its range (not the signed one a client would otherwise assume).
#[test]
fn every_integer_has_its_unsigned_range() {
    fn walk(v: &Value, at: &str, n: &mut usize) {
        match v {
            Value::Object(m) => {
                let integer = m
                    .get("type")
                    .is_some_and(|t| t == "integer" || t.as_array().is_some_and(|a| a.iter().any(|t| t == "integer")));
                if integer {
                    *n += 1;
                    assert_eq!(m.get("minimum"), Some(&Value::from(0)), "{at}");
                    let max = m.get("maximum").and_then(Value::as_u64).unwrap_or_else(|| panic!("{at}: no maximum"));
                    let format = m["format"].as_str().unwrap();
                    let expect = match format {
                        "uint8" => u8::MAX.into(),
                        "uint16" => u16::MAX.into(),
                        "uint32" => u32::MAX.into(),
                        _ => u64::MAX,
                    };
                    assert!(max <= expect, "{at}: {format} up to {max}");
                }
                for (k, v) in m {
                    walk(v, &format!("{at}/{k}"), n);
                }
            }
            Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"), n)),
            _ => {}
        }
    }
    let mut n = 0;
    walk(&doc(), "", &mut n);
    assert!(n > 100, "{n} integers");
}

/// A view that adds fields to a config item is one object that allows
/// them, not `allOf` of the item (which forbids unknown fields) and the
/// additions, which nothing the server sends could match.
#[test]
fn views_of_config_items_are_single_objects() {
    fn walk(v: &Value, at: &str) {
        match v {
            Value::Object(m) => {
                assert!(m.get("allOf").is_none(), "{at}: {v}");
                m.iter().for_each(|(k, v)| walk(v, &format!("{at}/{k}")));
            }
            Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"))),
            _ => {}
        }
    }
    let d = doc();
    walk(&d, "");
    let info = &d["components"]["schemas"]["InterfaceInfo"];
    assert!(info["properties"].get("mac").is_some() && info["properties"].get("mtu").is_some(), "{info}");
}
