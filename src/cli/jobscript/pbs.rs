//! PBS/Torque's `#PBS` directives (memory for the whole job).

use super::invalid;
use super::{memory_units, Context, Directives};
use crate::Result;

pub(super) const PBS_UNITS: [&str; 4] = ["kb", "mb", "gb", "tb"];

/// Writes the directives for `c` into `d`.
pub(super) fn directives(c: &Context, d: &mut Directives) -> Result<()> {
    let (name, time, ppn) = (c.name, c.time, c.ppn);
    d.line(format!("-N {name}"));
    d.line(format!("-l nodes={}:ppn={ppn}", c.spec.nodes));
    d.line(format!("-l walltime={time}"));
    if let Some(kib) = c.checked.memory_kib {
        let job_kib = kib.checked_mul(u64::from(c.spec.nodes)).ok_or_else(|| {
            invalid(format!(
                "memory {:?} per node times {} nodes is too large",
                c.spec.memory.as_deref().unwrap_or_default(),
                c.spec.nodes
            ))
        })?;
        d.line(format!("-l mem={}", memory_units(job_kib, &PBS_UNITS)));
    }
    if let Some(q) = &c.spec.queue {
        d.line(format!("-q {q}"));
    }
    if let Some(a) = &c.spec.account {
        d.line(format!("-A {a}"));
    }
    Ok(())
}
