//! Slurm's `#SBATCH` directives.

use super::{memory_units, Context, Directives};

pub(super) const SLURM_UNITS: [&str; 4] = ["K", "M", "G", "T"];

/// Writes the directives for `c` into `d`.
pub(super) fn directives(c: &Context, d: &mut Directives) {
    let (name, time, ppn) = (c.name, c.time, c.ppn);
    d.line(format!("--job-name={name}"));
    d.line(format!("--nodes={}", c.spec.nodes));
    d.line(format!("--ntasks-per-node={ppn}"));
    d.line(format!("--cpus-per-task={}", c.spec.cpus_per_task));
    d.line(format!("--time={time}"));
    if let Some(kib) = c.checked.memory_kib {
        d.line(format!("--mem={}", memory_units(kib, &SLURM_UNITS)));
    }
    if let Some(q) = &c.spec.queue {
        d.line(format!("--partition={q}"));
    }
    if let Some(a) = &c.spec.account {
        d.line(format!("--account={a}"));
    }
}
