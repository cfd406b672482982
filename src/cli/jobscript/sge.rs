//! SGE's `#$` directives (memory per slot, whole MiB).

use super::invalid;
use super::{memory_units, Context, Directives};
use crate::Result;

pub(super) const SGE_UNITS: [&str; 3] = ["K", "M", "G"];

/// Writes the directives for `c` into `d`.
pub(super) fn directives(c: &Context, d: &mut Directives) -> Result<()> {
    let (name, time, total, ppn) = (c.name, c.time, c.total, c.ppn);
    d.line(format!("-N {name}"));
    d.line("-S /bin/bash".to_string());
    d.line("-cwd".to_string());
    d.line(format!("-pe mpi {total}"));
    d.line(format!("-l h_rt={time}"));
    if let Some(kib) = c.checked.memory_kib {
        let mut slot_kib = kib / u64::from(ppn);
        if slot_kib >= 1024 {
            slot_kib -= slot_kib % 1024;
        }
        if slot_kib == 0 {
            return Err(invalid(format!(
                "memory {:?} per node is less than 1K per rank for {ppn} ranks per node",
                c.spec.memory.as_deref().unwrap_or_default()
            )));
        }
        d.line(format!("-l h_vmem={}", memory_units(slot_kib, &SGE_UNITS)));
    }
    if let Some(q) = &c.spec.queue {
        d.line(format!("-q {q}"));
    }
    if let Some(a) = &c.spec.account {
        d.line(format!("-A {a}"));
    }
    Ok(())
}
