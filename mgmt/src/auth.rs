//! API tokens: making them, hashing them, checking them.
//!
//! A token is 32 random bytes from the kernel, shown once as 64 hex
//! digits. The config keeps only its SHA-256: tokens are random, not
//! passwords, so a fast hash is enough (nothing to brute-force), and a
//! leaked config does not leak access. Checks compare against every
//! configured hash in constant time, so timing says nothing about which
//! bytes matched or which token was close.

use crate::config::{Role, TokenConf};
use sha2::{Digest, Sha256};
use std::io::Read;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a token, as stored in the config.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new random token (64 hex digits).
pub fn new_token() -> std::io::Result<String> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(hex(&b))
}

/// Equality whose time depends only on the lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Who a presented token belongs to: (name, role). Every configured hash
/// is compared, match or not.
pub fn authenticate(tokens: &[TokenConf], presented: &str) -> Option<(String, Role)> {
    let h = hash_token(presented);
    let mut found = None;
    for t in tokens {
        if ct_eq(h.as_bytes(), t.sha256.as_bytes()) && found.is_none() {
            found = Some((t.name.clone(), t.role));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_a_known_string() {
        // FIPS 180-2 test vector "abc".
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn tokens_authenticate_by_hash_only() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        let tokens = vec![
            TokenConf { name: "ops".into(), role: Role::Admin, sha256: hash_token(&a) },
            TokenConf { name: "grafana".into(), role: Role::Readonly, sha256: hash_token(&b) },
        ];
        assert_eq!(authenticate(&tokens, &a), Some(("ops".into(), Role::Admin)));
        assert_eq!(authenticate(&tokens, &b), Some(("grafana".into(), Role::Readonly)));
        assert_eq!(authenticate(&tokens, &tokens[0].sha256), None, "the hash is not a token");
        assert_eq!(authenticate(&tokens, ""), None);
        assert!(!ct_eq(b"ab", b"abc"));
        assert!(ct_eq(b"abc", b"abc"));
    }
}
