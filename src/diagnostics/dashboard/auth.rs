//! The dashboard's token, for addresses other than loopback: random, shown
//! in the link, then kept by the browser in a cookie.

use std::hash::{BuildHasher, Hasher};
use std::io::Read;

/// The cookie that carries the token.
pub(super) const COOKIE: &str = "rankflow_token";

/// 128 random bits as 32 hex digits: from the operating system's random
/// source, else from std's randomly seeded hasher keys.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !from_os {
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// How a request proved it knows the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pass {
    /// No token is needed (loopback).
    Open,
    /// In the query: answer with the cookie.
    Query,
    /// In the cookie.
    Cookie,
}

/// Checks a request's query parameter and `Cookie` headers against `token`.
pub(super) fn check<'a>(
    token: Option<&str>,
    query_token: Option<&str>,
    cookies: impl Iterator<Item = &'a str>,
) -> Option<Pass> {
    let Some(token) = token else {
        return Some(Pass::Open);
    };
    if query_token.is_some_and(|q| same(q, token)) {
        return Some(Pass::Query);
    }
    let in_cookie = cookies
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && same(value, token));
    in_cookie.then_some(Pass::Cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn checks_query_then_cookie() {
        let none = std::iter::empty();
        assert_eq!(check(None, None, none.clone()), Some(Pass::Open));
        assert_eq!(check(Some("abc"), None, none.clone()), None);
        assert_eq!(check(Some("abc"), Some("abd"), none.clone()), None);
        assert_eq!(check(Some("abc"), Some("ab"), none), None);
        assert_eq!(
            check(Some("abc"), Some("abc"), std::iter::empty()),
            Some(Pass::Query)
        );
        let cookies = ["x=1; rankflow_token=abc"];
        assert_eq!(
            check(Some("abc"), None, cookies.into_iter()),
            Some(Pass::Cookie)
        );
        let wrong = ["rankflow_token=abd", "other=abc"];
        assert_eq!(check(Some("abc"), None, wrong.into_iter()), None);
    }
}
