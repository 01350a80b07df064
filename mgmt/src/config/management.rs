//! The `management` section: where the API listens, its tokens and roles,
//! the audit log and the body limit.

use super::*;

/// The management listener: the REST API, `/metrics` and `/healthz`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Management {
    /// `ADDRESS:PORT` to listen on. Default `127.0.0.1:8080`: only local
    /// processes reach the API unless you say otherwise.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// API tokens. Every endpoint but `/healthz` needs one, sent as
    /// `Authorization: Bearer TOKEN`; with no tokens, nothing but
    /// `/healthz` answers. `gatewayd token add` creates one.
    #[serde(default)]
    pub tokens: Vec<TokenConf>,
    /// Append-only audit log of every change (JSON lines). Default: empty,
    /// meaning `gatewayd-audit.jsonl` beside the config file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub audit_log: String,
    /// Largest request body the API accepts, in bytes (1024..=67108864).
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

fn default_max_body() -> usize {
    1 << 20
}

impl Default for Management {
    fn default() -> Self {
        Management {
            listen: default_listen(),
            tokens: vec![],
            audit_log: String::new(),
            max_body_bytes: default_max_body(),
        }
    }
}

/// What a token may do.
#[derive(Copy, Clone, Debug, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read everything: GET endpoints and `/metrics`.
    Readonly,
    /// Read and change everything.
    Admin,
}

/// An API token. Only the token's SHA-256 is stored: the token itself is
/// 32 random bytes shown once, when it is made.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenConf {
    /// Name recorded in the audit log.
    pub name: String,
    pub role: Role,
    /// Lower-case hex SHA-256 of the token (64 characters).
    pub sha256: String,
}

impl Config {
    /// The listen address parses; token names and hashes are well formed and
    /// unique; the body limit is in range.
    pub(super) fn validate_management(&self, errs: &mut Vec<ConfigError>) {
        if self.management.listen.parse::<SocketAddr>().is_err() {
            errs.push(err("management.listen", format!("'{}' is not ADDRESS:PORT", self.management.listen)));
        }
        let mut token_names = HashSet::new();
        let mut hashes = HashSet::new();
        for (i, t) in self.management.tokens.iter().enumerate() {
            let f = |s: &str| format!("management.tokens[{i}].{s}");
            if t.name.is_empty() || !t.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                errs.push(err(f("name"), "must be non-empty letters, digits, '-', '_' or '.'"));
            } else if !token_names.insert(t.name.as_str()) {
                errs.push(err(f("name"), format!("token name '{}' is used twice", t.name)));
            }
            if t.sha256.len() != 64 || !t.sha256.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
                errs.push(err(f("sha256"), "must be 64 lower-case hex digits (a SHA-256)"));
            } else if !hashes.insert(t.sha256.as_str()) {
                errs.push(err(f("sha256"), "two tokens have the same hash"));
            }
        }
        if !(1024..=64 << 20).contains(&self.management.max_body_bytes) {
            errs.push(err(
                "management.max_body_bytes",
                format!("{} is outside 1024..=67108864", self.management.max_body_bytes),
            ));
        }
    }
}
