//! `gatewayd ctl`: the API from a shell, with tables for people and
//! `--json` for scripts.
//!
//! ```text
//! gatewayd ctl [--url URL] [--token TOKEN | --token-file FILE] [--json] COMMAND
//!
//!   ports | interfaces | neighbors | bridges | stats | audit
//!   macs BRIDGE | macs BRIDGE flush
//!   routes [PREFIX]
//!   route add DST via GW[,GW...] | route add DST unreachable|blackhole
//!   route del DST
//!   neighbors flush
//!   config show [--yaml] | config validate FILE | plan FILE
//!   config commit FILE [--confirm SECONDS] | config confirm | config cancel
//! ```
//!
//! Defaults: `--url` from `$GATEWAYD_URL` or `http://127.0.0.1:8080`; the
//! token from `$GATEWAYD_TOKEN`, or the file in `$GATEWAYD_TOKEN_FILE`.
//! Exit codes: 0 done, 1 the API refused or failed (its problem is
//! printed, field by field), 2 bad usage.

use serde_json::{json, Value};
use std::fmt::Write as _;

pub const USAGE: &str = "usage: gatewayd ctl [--url URL] [--token TOKEN | --token-file FILE] [--json] COMMAND
commands:
  ports | interfaces | neighbors | bridges | stats | audit
  macs BRIDGE                       macs BRIDGE flush
  routes [PREFIX]
  route add DST via GW[,GW...]      route add DST unreachable|blackhole
  route del DST
  neighbors flush
  config show [--yaml]              config validate FILE
  plan FILE                         what committing FILE would change
  config commit FILE [--confirm SECONDS]
  config confirm                    config cancel";

struct Client {
    url: String,
    token: String,
}

/// A failed request: what to print, and the exit code.
pub struct Failure {
    pub message: String,
    pub code: u8,
}

fn usage(msg: &str) -> Failure {
    Failure { message: format!("{msg}\n{USAGE}"), code: 2 }
}

impl Client {
    fn call(&self, method: &str, path: &str, body: Option<(&str, Vec<u8>)>) -> Result<(Value, String), Failure> {
        let req = ureq::request(method, &format!("{}{path}", self.url))
            .set("Authorization", &format!("Bearer {}", self.token))
            .timeout(std::time::Duration::from_secs(30));
        let resp = match body {
            Some((ct, b)) => req.set("Content-Type", ct).send_bytes(&b),
            None => req.call(),
        };
        match resp {
            Ok(r) => {
                let text = r.into_string().map_err(|e| Failure { message: e.to_string(), code: 1 })?;
                Ok((serde_json::from_str(&text).unwrap_or(Value::Null), text))
            }
            Err(ureq::Error::Status(status, r)) => {
                let text = r.into_string().unwrap_or_default();
                Err(Failure { message: problem_text(status, &text), code: 1 })
            }
            Err(e) => Err(Failure { message: format!("{}: {e}", self.url), code: 1 }),
        }
    }

    fn get(&self, path: &str) -> Result<Value, Failure> {
        self.call("GET", path, None).map(|(v, _)| v)
    }

    /// Every item of a paginated list.
    fn get_all(&self, path: &str) -> Result<Vec<Value>, Failure> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        loop {
            let v = self.get(&format!("{path}{sep}offset={}&limit=1000", items.len()))?;
            let page = v["items"].as_array().cloned().unwrap_or_default();
            let total = v["total"].as_u64().unwrap_or(0) as usize;
            let empty = page.is_empty();
            items.extend(page);
            if empty || items.len() >= total {
                return Ok(items);
            }
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Failure> {
        let body = body.map(|b| ("application/json", serde_json::to_vec(&b).unwrap_or_default()));
        self.call(method, path, body).map(|(v, _)| v)
    }
}

fn problem_text(status: u16, body: &str) -> String {
    let Ok(p) = serde_json::from_str::<Value>(body) else {
        return format!("HTTP {status}: {body}");
    };
    let mut out =
        format!("{} ({status}): {}", p["title"].as_str().unwrap_or("error"), p["detail"].as_str().unwrap_or(""));
    for e in p["errors"].as_array().into_iter().flatten() {
        let _ = write!(out, "\n  {}: {}", e["field"].as_str().unwrap_or("?"), e["message"].as_str().unwrap_or(""));
    }
    out
}

/// Renders rows as an aligned table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let s: Vec<String> = cells.iter().zip(&width).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", s.join("  ").trim_end());
    };
    line(header.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn applied_text(v: &Value) -> String {
    let mut out = format!("applied: generation {}", s(&v["generation"]));
    if let Some(t) = v["rollback_at"].as_str() {
        let _ = write!(out, ", rolled back at {t} unless confirmed (gatewayd ctl config confirm)");
    }
    for c in v["changes"].as_array().into_iter().flatten() {
        let _ = write!(out, "\n  {}", s(c));
    }
    out + "\n"
}

fn read_file(path: &str) -> Result<(String, Vec<u8>), Failure> {
    let b = std::fs::read(path).map_err(|e| Failure { message: format!("{path}: {e}"), code: 2 })?;
    let ct = if path.ends_with(".json") { "application/json" } else { "application/yaml" };
    Ok((ct.to_string(), b))
}

/// Runs `gatewayd ctl ARGS`; returns what to print.
pub fn run(args: &[String]) -> Result<String, Failure> {
    let mut url = std::env::var("GATEWAYD_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let mut token = std::env::var("GATEWAYD_TOKEN").ok();
    let mut token_file = std::env::var("GATEWAYD_TOKEN_FILE").ok();
    let (mut json_out, mut yaml, mut confirm) = (false, false, None);
    let mut words = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| usage(&format!("{name} needs a value")));
        match a.as_str() {
            "--url" => url = value("--url")?,
            "--token" => token = Some(value("--token")?),
            "--token-file" => token_file = Some(value("--token-file")?),
            "--json" => json_out = true,
            "--yaml" => yaml = true,
            "--confirm" => {
                let v = value("--confirm")?;
                confirm = Some(v.parse::<u64>().map_err(|_| usage("--confirm takes seconds"))?);
            }
            "-h" | "--help" => return Ok(format!("{USAGE}\n")),
            w => words.push(w.to_string()),
        }
    }
    let token = match (token, token_file) {
        (Some(t), _) => t,
        (None, Some(f)) => std::fs::read_to_string(&f)
            .map_err(|e| Failure { message: format!("token file {f}: {e}"), code: 2 })?
            .trim()
            .to_string(),
        (None, None) => {
            return Err(usage("no token: use --token, --token-file, $GATEWAYD_TOKEN or $GATEWAYD_TOKEN_FILE"))
        }
    };
    let c = Client { url: url.trim_end_matches('/').to_string(), token };
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let out = |v: Value, human: &dyn Fn(&Value) -> String| -> String {
        if json_out {
            format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
        } else {
            human(&v)
        }
    };
    match w.as_slice() {
        ["ports"] => {
            let items = c.get_all("/api/v1/ports")?;
            Ok(out(Value::from(items.clone()), &|_| {
                let rows: Vec<Vec<String>> = items
                    .iter()
                    .map(|p| {
                        vec![
                            s(&p["name"]),
                            s(&p["id"]),
                            s(&p["mac"]),
                            if p["link"]["up"] == true { "up".into() } else { "down".into() },
                            s(&p["stats"]["rx_packets"]),
                            s(&p["stats"]["tx_packets"]),
                            s(&p["stats"]["rx_missed"]),
                            s(&p["stats"]["rx_errors"]),
                        ]
                    })
                    .collect();
                table(&["NAME", "ID", "MAC", "LINK", "RX_PACKETS", "TX_PACKETS", "RX_MISSED", "RX_ERRORS"], &rows)
            }))
        }
        ["interfaces"] => {
            let items = c.get_all("/api/v1/interfaces")?;
            Ok(out(Value::from(items.clone()), &|_| {
                let rows: Vec<Vec<String>> = items
                    .iter()
                    .map(|i| {
                        let addrs: Vec<String> = ["ipv4", "ipv6"]
                            .iter()
                            .flat_map(|f| i[*f].as_array().into_iter().flatten().map(s))
                            .collect();
                        // A port (with its VLAN), or `bridge br0` for a bridge's interface.
                        let on = match (i["bridge"].as_str(), i["vlan"].as_u64()) {
                            (Some(b), _) => format!("bridge {b}"),
                            (None, Some(v)) => format!("{} vlan {v}", s(&i["port"])),
                            (None, None) => s(&i["port"]),
                        };
                        vec![s(&i["name"]), on, s(&i["mac"]), s(&i["mtu"]), addrs.join(" ")]
                    })
                    .collect();
                table(&["NAME", "ON", "MAC", "MTU", "ADDRESSES"], &rows)
            }))
        }
        ["routes"] | ["routes", _] => {
            let path = match w.get(1) {
                Some(p) => format!("/api/v1/routes?prefix={p}"),
                None => "/api/v1/routes".into(),
            };
            let items = c.get_all(&path)?;
            Ok(out(Value::from(items.clone()), &|_| {
                let rows: Vec<Vec<String>> = items
                    .iter()
                    .map(|r| {
                        let via: Vec<String> = r["via"].as_array().into_iter().flatten().map(s).collect();
                        let stale = if r["stale"] == true { " (stale)" } else { "" };
                        let protocol = format!("{}{stale}", s(&r["protocol"]));
                        vec![s(&r["dst"]), s(&r["type"]), via.join(","), protocol]
                    })
                    .collect();
                table(&["DESTINATION", "TYPE", "VIA", "PROTOCOL"], &rows)
            }))
        }
        ["route", "add", dst, "via", gws] => {
            let via: Vec<&str> = gws.split(',').collect();
            let v = c.send("POST", "/api/v1/routes", Some(json!({"dst": dst, "via": via})))?;
            Ok(out(v.clone(), &applied_text))
        }
        ["route", "add", dst, kind @ ("unreachable" | "blackhole")] => {
            let v = c.send("POST", "/api/v1/routes", Some(json!({"dst": dst, "type": kind})))?;
            Ok(out(v.clone(), &applied_text))
        }
        ["route", "del", dst] if !dst.contains('/') => Err(usage("route del takes a prefix, e.g. 198.51.100.0/24")),
        ["route", "del", dst] => {
            let v = c.send("DELETE", &format!("/api/v1/routes/{dst}"), None)?;
            Ok(out(v.clone(), &applied_text))
        }
        ["neighbors"] => {
            let items = c.get_all("/api/v1/neighbors")?;
            Ok(out(Value::from(items.clone()), &|_| {
                let rows: Vec<Vec<String>> = items
                    .iter()
                    .map(|n| vec![s(&n["interface"]), s(&n["ip"]), s(&n["mac"]), s(&n["state"]), s(&n["workers"])])
                    .collect();
                table(&["INTERFACE", "IP", "MAC", "STATE", "WORKERS"], &rows)
            }))
        }
        ["neighbors", "flush"] => Ok(out(c.send("DELETE", "/api/v1/neighbors", None)?, &applied_text)),
        ["bridges"] => {
            let items = c.get_all("/api/v1/bridges")?;
            Ok(out(Value::from(items.clone()), &|_| {
                let rows: Vec<Vec<String>> = items
                    .iter()
                    .map(|b| {
                        let members: Vec<String> = b["members"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|m| match m["vlan"].as_u64() {
                                Some(v) => format!("{}.{v}", s(&m["port"])),
                                None => s(&m["port"]),
                            })
                            .collect();
                        vec![s(&b["name"]), s(&b["interface"]), s(&b["mac_limit"]), s(&b["aging_s"]), members.join(",")]
                    })
                    .collect();
                table(&["NAME", "INTERFACE", "MAC_LIMIT", "AGING_S", "MEMBERS"], &rows)
            }))
        }
        ["macs", bridge] => {
            let items = c.get_all(&format!("/api/v1/bridges/{bridge}/macs"))?;
            Ok(out(Value::from(items.clone()), &|_| {
                let rows: Vec<Vec<String>> = items
                    .iter()
                    .map(|m| {
                        let age = m["age_s"].as_f64().map_or("-".into(), |a| format!("{a:.1}"));
                        vec![s(&m["mac"]), s(&m["port"]), s(&m["vlan"]), age, s(&m["workers"])]
                    })
                    .collect();
                table(&["MAC", "PORT", "VLAN", "AGE_S", "WORKERS"], &rows)
            }))
        }
        ["macs", bridge, "flush"] => {
            Ok(out(c.send("DELETE", &format!("/api/v1/bridges/{bridge}/macs"), None)?, &applied_text))
        }
        ["stats"] => {
            let v = c.get("/api/v1/stats")?;
            Ok(out(v.clone(), &|v| {
                let mut o = format!(
                    "generation {}  forwarded {}  local {}  icmp_errors {}  neighbors {}\n",
                    s(&v["generation"]),
                    s(&v["forwarded"]),
                    s(&v["local"]),
                    s(&v["icmp_errors"]),
                    s(&v["neighbors"])
                );
                let rows: Vec<Vec<String>> = v["workers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|w| {
                        let load = w["load"].as_f64().unwrap_or(0.0) * 100.0;
                        vec![s(&w["worker"]), s(&w["packets"]), format!("{load:.1}%"), s(&w["generation"])]
                    })
                    .collect();
                o += &table(&["WORKER", "PACKETS", "LOAD", "GENERATION"], &rows);
                let drops: Vec<Vec<String>> =
                    v["drops"].as_object().into_iter().flatten().map(|(k, n)| vec![k.clone(), s(n)]).collect();
                if !drops.is_empty() {
                    o += &table(&["DROP_REASON", "PACKETS"], &drops);
                }
                o
            }))
        }
        ["audit"] => {
            let v = c.get("/api/v1/audit?limit=50")?;
            Ok(out(v.clone(), &|v| {
                let rows: Vec<Vec<String>> = v["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| vec![s(&e["seq"]), s(&e["time"]), s(&e["token"]), s(&e["outcome"]), s(&e["action"])])
                    .collect();
                table(&["SEQ", "TIME", "TOKEN", "OUTCOME", "ACTION"], &rows)
            }))
        }
        ["config", "show"] => {
            if yaml && !json_out {
                let r = ureq::get(&format!("{}/api/v1/config", c.url))
                    .set("Authorization", &format!("Bearer {}", c.token))
                    .set("Accept", "application/yaml")
                    .call();
                return match r {
                    Ok(r) => r.into_string().map_err(|e| Failure { message: e.to_string(), code: 1 }),
                    Err(ureq::Error::Status(st, r)) => {
                        Err(Failure { message: problem_text(st, &r.into_string().unwrap_or_default()), code: 1 })
                    }
                    Err(e) => Err(Failure { message: e.to_string(), code: 1 }),
                };
            }
            let v = c.get("/api/v1/config")?;
            Ok(format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default()))
        }
        ["config", "validate", file] => {
            let (ct, b) = read_file(file)?;
            let (v, _) = c.call("POST", "/api/v1/config/validate", Some((&ct, b)))?;
            Ok(out(v.clone(), &|v| {
                let mut o = "valid\n".to_string();
                for ch in v["changes"].as_array().into_iter().flatten() {
                    let _ = writeln!(o, "  {}", s(ch));
                }
                o
            }))
        }
        ["plan", file] | ["config", "plan", file] => {
            let (ct, b) = read_file(file)?;
            let (v, _) = c.call("POST", "/api/v1/config/plan", Some((&ct, b)))?;
            Ok(out(v.clone(), &crate::plan::text))
        }
        ["config", "commit", file] => {
            let (ct, b) = read_file(file)?;
            let path = match confirm {
                Some(secs) => format!("/api/v1/config/commit?confirm={secs}"),
                None => "/api/v1/config/commit".into(),
            };
            let (v, _) = c.call("POST", &path, Some((&ct, b)))?;
            Ok(out(v.clone(), &applied_text))
        }
        ["config", "confirm"] => Ok(out(c.send("POST", "/api/v1/config/confirm", None)?, &applied_text)),
        ["config", "cancel"] => Ok(out(c.send("DELETE", "/api/v1/config/commit", None)?, &applied_text)),
        [] => Err(usage("no command")),
        other => Err(usage(&format!("unknown command: {}", other.join(" ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(&["A", "LONGER"], &[vec!["xyz".into(), "1".into()], vec!["q".into(), "22".into()]]);
        assert_eq!(t, "A    LONGER\nxyz  1\nq    22\n");
    }

    #[test]
    fn problems_print_each_field() {
        let body = r#"{"type":"x","title":"Invalid configuration","status":422,"detail":"2 problems",
            "errors":[{"field":"via[0]","message":"not connected"},{"field":"dst","message":"bad"}]}"#;
        assert_eq!(
            problem_text(422, body),
            "Invalid configuration (422): 2 problems\n  via[0]: not connected\n  dst: bad"
        );
    }
}
