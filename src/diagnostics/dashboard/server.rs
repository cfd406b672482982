//! The dashboard's request loop: routing, the token check, responses.

use super::auth::{self, Pass};
use super::{json, pages};
use crate::scheduler::monitor::Shared;
use std::io::Cursor;
use std::sync::Arc;
use tiny_http::{Header, Method, Request, Response};

/// Most task-stream bars one `/api/stream` answer carries.
const STREAM_ANSWER_LIMIT: usize = 5000;

/// The server thread's state.
pub(super) struct Serving {
    pub(super) server: Arc<tiny_http::Server>,
    pub(super) shared: Arc<Shared>,
    pub(super) token: Option<String>,
    /// This machine's name (where the scheduler runs), for the pages.
    pub(super) host: String,
}

/// The parts of a URL the dashboard reads.
struct Target<'a> {
    path: &'a str,
    query: Vec<(&'a str, &'a str)>,
}

impl<'a> Target<'a> {
    fn parse(url: &'a str) -> Self {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        Target {
            path,
            query: query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').unwrap_or((p, "")))
                .collect(),
        }
    }

    fn param(&self, name: &str) -> Option<&'a str> {
        self.query.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn text(status: u16, body: &str) -> Response<Cursor<Vec<u8>>> {
    let mut r = Response::from_string(body).with_status_code(status);
    if let Some(h) = header("Content-Type", "text/plain; charset=utf-8") {
        r.add_header(h);
    }
    r
}

impl Serving {
    /// Answers requests until the server is unblocked (the dashboard dropped).
    pub(super) fn run(self) {
        for request in self.server.incoming_requests() {
            let response = self.answer(&request);
            let _ = request.respond(response);
        }
    }

    fn answer(&self, request: &Request) -> Response<Cursor<Vec<u8>>> {
        if !matches!(request.method(), Method::Get | Method::Head) {
            return text(405, "405: the dashboard only answers GET\n");
        }
        let target = Target::parse(request.url());
        let cookies = request
            .headers()
            .iter()
            .filter(|h| h.field.equiv("Cookie"))
            .map(|h| h.value.as_str());
        let Some(pass) = auth::check(self.token.as_deref(), target.param("token"), cookies) else {
            return text(
                403,
                "403: this dashboard listens on more than loopback, so it needs its token: \
                 open the link from the start-up log line or client.dashboard_link() \
                 (it ends in ?token=...)\n",
            );
        };
        let mut response = self.route(&target);
        for (name, value) in [
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            (
                "Content-Security-Policy",
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; img-src 'self' data:",
            ),
        ] {
            if let Some(h) = header(name, value) {
                response.add_header(h);
            }
        }
        if pass == Pass::Query {
            if let Some(t) = &self.token {
                let cookie = format!("{}={t}; Path=/; HttpOnly; SameSite=Strict", auth::COOKIE);
                if let Some(h) = header("Set-Cookie", &cookie) {
                    response.add_header(h);
                }
            }
        }
        response
    }

    fn route(&self, target: &Target<'_>) -> Response<Cursor<Vec<u8>>> {
        let content = |body: String, kind: &str| {
            let mut r = Response::from_string(body);
            if let Some(h) = header("Content-Type", kind) {
                r.add_header(h);
            }
            r
        };
        match target.path {
            "/" => {
                let mut r = Response::from_string("").with_status_code(302);
                if let Some(h) = header("Location", "/status") {
                    r.add_header(h);
                }
                r
            }
            "/status" | "/workers" | "/graph" => {
                let page = match target.path {
                    "/status" => pages::Page::Status,
                    "/workers" => pages::Page::Workers,
                    _ => pages::Page::Graph,
                };
                if page == pages::Page::Graph {
                    self.shared.want_edges();
                }
                let snapshot = json::snapshot(&self.shared.fresh(), &self.host);
                let bars = match page {
                    pages::Page::Status => self.shared.stream_since(0, STREAM_ANSWER_LIMIT),
                    _ => Vec::new(),
                };
                let initial = format!(
                    "{{\"snapshot\":{snapshot},\"stream\":{}}}",
                    json::stream(&bars, &self.shared.names())
                );
                content(pages::render(page, &initial), "text/html; charset=utf-8")
            }
            "/api/snapshot" => {
                if target.param("edges").is_some() {
                    self.shared.want_edges();
                }
                content(
                    json::snapshot(&self.shared.fresh(), &self.host),
                    "application/json",
                )
            }
            "/api/stream" => {
                let since = match target.param("since").map(str::parse::<u64>) {
                    None => 0,
                    Some(Ok(n)) => n,
                    Some(Err(_)) => return text(400, "400: since must be a whole number\n"),
                };
                let bars = self.shared.stream_since(since, STREAM_ANSWER_LIMIT);
                content(
                    json::stream(&bars, &self.shared.names()),
                    "application/json",
                )
            }
            _ => text(404, "404: no such page; try /status, /workers or /graph\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_path_and_query() {
        let t = Target::parse("/api/stream?since=5&token=ab&flag");
        assert_eq!(t.path, "/api/stream");
        assert_eq!(t.param("since"), Some("5"));
        assert_eq!(t.param("token"), Some("ab"));
        assert_eq!(t.param("flag"), Some(""));
        assert_eq!(t.param("x"), None);
        assert_eq!(Target::parse("/status").query.len(), 0);
    }
}
