//! LSF's `#BSUB` directives (wall time in minutes, rounded up).

use super::{memory_units, Context, Directives};

pub(super) const LSF_UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];

/// Writes the directives for `c` into `d`.
pub(super) fn directives(c: &Context, d: &mut Directives) {
    let (name, total, ppn) = (c.name, c.total, c.ppn);
    let minutes = c.checked.seconds.div_ceil(60);
    d.line(format!("-J {name}"));
    d.line(format!("-n {total}"));
    d.line(format!("-R \"span[ptile={ppn}]\""));
    d.line(format!("-W {:02}:{:02}", minutes / 60, minutes % 60));
    if let Some(kib) = c.checked.memory_kib {
        d.line(format!(
            "-R \"rusage[mem={}]\"",
            memory_units(kib, &LSF_UNITS)
        ));
    }
    if let Some(q) = &c.spec.queue {
        d.line(format!("-q {q}"));
    }
    if let Some(a) = &c.spec.account {
        d.line(format!("-P {a}"));
    }
    d.line(format!("-o {name}.%J.out"));
    d.line(format!("-e {name}.%J.err"));
}
