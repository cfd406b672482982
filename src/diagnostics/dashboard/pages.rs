//! The dashboard's pages: self-contained HTML with inline style and script
//! (no CDN, no other request than the page's own JSON), each carrying the
//! data it first shows so that it renders at once.

/// A page of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Page {
    /// Tasks by state, the task stream, progress per function, memory.
    Status,
    /// One row per worker.
    Workers,
    /// The current computation's graph, by function.
    Graph,
}

const CSS: &str = include_str!("page.css");
const COMMON_JS: &str = include_str!("common.js");

/// The page, with `initial` (a JSON object with `snapshot` and `stream`)
/// built in.
pub(super) fn render(page: Page, initial: &str) -> String {
    let (title, body, script) = match page {
        Page::Status => (
            "status",
            include_str!("status.html"),
            include_str!("status.js"),
        ),
        Page::Workers => (
            "workers",
            include_str!("workers.html"),
            include_str!("workers.js"),
        ),
        Page::Graph => (
            "graph",
            include_str!("graph.html"),
            include_str!("graph.js"),
        ),
    };
    let nav = |name: &str| {
        let class = if name == title { " class=\"here\"" } else { "" };
        format!("<a href=\"/{name}\"{class}>{name}</a>")
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>rankflow {title}</title><style>{CSS}</style></head><body>\
         <header><strong>rankflow</strong>{}{}{}<span class=\"age\" id=\"age\"></span></header>\
         <main>{body}</main><script>const INITIAL = {initial};\n{COMMON_JS}\n{script}</script>\
         </body></html>\n",
        nav("status"),
        nav("workers"),
        nav("graph")
    )
}
