//! Who may talk to the dashboard: whoever holds the session token (issue 16), carried in the
//! URL (`?token=`, what the printed URL and the WebSocket use) or a header
//! (`Authorization: Bearer …`, for scripts). The WebSocket also checks the Origin, because a
//! browser lets any page open a WebSocket to 127.0.0.1 (cross-site WebSocket hijacking).

use std::fmt;

/// A random session token: 32 bytes from the OS, as 64 hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this token, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Never printed by accident (logs, panics).
impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(…)")
    }
}

/// The token a request carries: `token` in its query, else its `Authorization: Bearer` header.
pub fn presented<'a>(query: Option<&'a str>, authorization: Option<&'a str>) -> Option<&'a str> {
    let from_query = query.into_iter().flat_map(|q| q.split('&')).find_map(|kv| kv.strip_prefix("token="));
    from_query.or_else(|| authorization.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim))
}

/// Whether a WebSocket upgrade with `origin` may go on, for the server on `port`. Browsers
/// always send an Origin; it must be this server's own (by either name of the loopback
/// address). A client that sends none is no browser (a script): the token alone decides.
pub fn origin_allowed(origin: Option<&str>, port: u16) -> bool {
    match origin {
        None => true,
        Some(o) => o == format!("http://127.0.0.1:{port}") || o == format!("http://localhost:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_compared_whole() {
        let (a, b) = (Token::random().unwrap(), Token::random().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert!(a.as_str().chars().all(|c| c.is_ascii_hexdigit()));
        assert!(a.matches(a.as_str()));
        assert!(!a.matches(b.as_str()));
        assert!(!a.matches(&a.as_str()[..63]));
        assert!(!a.matches(""));
        assert_eq!(format!("{a:?}"), "Token(…)", "never in logs");
    }

    #[test]
    fn the_token_comes_from_the_query_or_a_bearer_header() {
        assert_eq!(presented(Some("since=3&token=abc"), None), Some("abc"));
        assert_eq!(presented(Some("since=3"), Some("Bearer xyz")), Some("xyz"));
        assert_eq!(presented(None, Some("Basic xyz")), None);
        assert_eq!(presented(Some("tokens=abc"), None), None);
        assert_eq!(presented(None, None), None);
    }

    #[test]
    fn only_this_servers_origin_may_open_the_stream() {
        assert!(origin_allowed(Some("http://127.0.0.1:4000"), 4000));
        assert!(origin_allowed(Some("http://localhost:4000"), 4000));
        assert!(origin_allowed(None, 4000), "not a browser");
        for foreign in ["http://127.0.0.1:4001", "https://127.0.0.1:4000", "http://evil.example", "null", ""] {
            assert!(!origin_allowed(Some(foreign), 4000), "{foreign}");
        }
    }
}
