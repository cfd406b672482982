//! `visualize`: a delayed graph as Graphviz DOT, and as SVG when Graphviz's
//! `dot` program is installed.

use super::Node;
use crate::{Error, ErrorKind, Result};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// What [`visualize`](super::Delayed::visualize) wrote. Its `Display` says
/// where, and how to render the DOT file when Graphviz is not installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visualization {
    /// The Graphviz DOT file, always written.
    pub dot: PathBuf,
    /// The SVG rendering, when the `dot` program was found and succeeded.
    pub svg: Option<PathBuf>,
    /// Why there is no SVG, when there is none.
    pub why_no_svg: Option<String>,
}

impl fmt::Display for Visualization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.svg, &self.why_no_svg) {
            (Some(svg), _) => write!(f, "wrote {} and {}", self.dot.display(), svg.display()),
            (None, why) => write!(
                f,
                "wrote {} ({}; install Graphviz, e.g. `apt-get install graphviz`, \
                 and run `dot -Tsvg {} -o {}`)",
                self.dot.display(),
                why.as_deref().unwrap_or("no SVG"),
                self.dot.display(),
                self.dot.with_extension("svg").display()
            ),
        }
    }
}

/// The DOT text of `nodes` (each after its dependencies): one box per call,
/// labelled with the function's name, and an edge from each input to its
/// user.
pub(super) fn to_dot(nodes: &[Arc<Node>]) -> String {
    let mut out = String::from("digraph delayed {\n  rankdir=BT;\n  node [shape=box];\n");
    for n in nodes {
        let label = n.label.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str(&format!("  n{} [label=\"{label}\"];\n", n.id));
    }
    for n in nodes {
        for d in &n.deps {
            out.push_str(&format!("  n{} -> n{};\n", d.id, n.id));
        }
    }
    out.push_str("}\n");
    out
}

/// Writes `nodes` to `path` with the extension `.dot`, then tries `dot`.
pub(super) fn write(nodes: &[Arc<Node>], path: &Path) -> Result<Visualization> {
    let dot = path.with_extension("dot");
    std::fs::write(&dot, to_dot(nodes)).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot write {}: {e}", dot.display()),
        )
    })?;
    let svg = path.with_extension("svg");
    let (svg, why_no_svg) = match Command::new("dot")
        .arg("-Tsvg")
        .arg(&dot)
        .arg("-o")
        .arg(&svg)
        .output()
    {
        Ok(out) if out.status.success() => (Some(svg), None),
        Ok(out) => (
            None,
            Some(format!(
                "dot failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        ),
        Err(e) => (
            None,
            Some(format!("Graphviz's dot program was not found ({e})")),
        ),
    };
    if let Some(why) = &why_no_svg {
        log::warn!("visualize: {why}; {} written", dot.display());
    }
    Ok(Visualization {
        dot,
        svg,
        why_no_svg,
    })
}
