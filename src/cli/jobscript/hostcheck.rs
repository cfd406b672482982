//! The host check written into PBS, SGE and LSF job scripts before `mpirun`.
//!
//! The check is `jobscripts/check-hosts.sh`, embedded whole in the generated
//! script (read into a variable from a quoted here-document and run with
//! `bash -c`), so the script runs wherever the batch system copies it and
//! does not depend on where the repository is; a copy written next to the
//! script would be left behind when the batch system spools the script.

use super::System;

/// The text of `jobscripts/check-hosts.sh`.
pub(super) const CHECK_HOSTS: &str = include_str!("../../../jobscripts/check-hosts.sh");

/// Ends the here-document that holds [`CHECK_HOSTS`]; no line of it may be this.
pub(super) const END: &str = "RANKFLOW_CHECK_HOSTS_END";

/// The bash that checks the job's hosts, or `None` for Slurm.
///
/// Slurm gets no check: its scripts launch with `srun`, which starts ranks
/// through Slurm's own daemons (not a remote shell), Slurm allocates only
/// nodes whose daemon answers, and `srun` names a node where a step cannot
/// start.
pub(super) fn block(system: System) -> Option<String> {
    let hosts = match system {
        System::Slurm => return None,
        System::Pbs =>
            "if [ -n \"${PBS_NODEFILE:-}\" ]; then\n    \
             rankflow_check_hosts ssh --hostfile \"$PBS_NODEFILE\"\n\
             else\n    \
             echo \"rankflow job: PBS_NODEFILE is not set; hosts not checked\" >&2\n\
             fi\n",
        System::Sge =>
            "if [ -n \"${PE_HOSTFILE:-}\" ]; then\n    \
             rankflow_check_hosts qrsh --hostfile \"$PE_HOSTFILE\"\n\
             else\n    \
             echo \"rankflow job: PE_HOSTFILE is not set; hosts not checked\" >&2\n\
             fi\n",
        System::Lsf =>
            "if [ -n \"${LSB_DJOB_HOSTFILE:-}\" ]; then\n    \
             rankflow_check_hosts blaunch --hostfile \"$LSB_DJOB_HOSTFILE\"\n\
             elif [ -n \"${LSB_HOSTS:-}\" ]; then\n    \
             # shellcheck disable=SC2086\n    \
             rankflow_check_hosts blaunch $LSB_HOSTS\n\
             else\n    \
             echo \"rankflow job: neither LSB_DJOB_HOSTFILE nor LSB_HOSTS is set; hosts not checked\" >&2\n\
             fi\n",
    };
    let mut out = String::new();
    out.push_str(
        "# Check that every other host of the job answers before mpirun starts, and\n\
         # name those that do not (mpirun's own message names the node its daemons\n\
         # route through, not the one that is down, and may wait without end).\n\
         # Hosts are reached as mpirun reaches them: OMPI_MCA_plm_rsh_agent if set,\n\
         # else the batch system's launcher (qrsh -inherit, blaunch) where there is\n\
         # one, else ssh. RANKFLOW_CHECK_HOSTS=0 skips the check;\n\
         # RANKFLOW_CHECK_HOSTS_TIMEOUT sets the seconds a host has (default 10).\n\
         # The check is rankflow's jobscripts/check-hosts.sh, embedded here.\n",
    );
    out.push_str(&format!(
        "IFS= read -r -d '' RANKFLOW_CHECK_HOSTS_SCRIPT <<'{END}' || true\n{CHECK_HOSTS}"
    ));
    if !CHECK_HOSTS.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("{END}\n"));
    out.push_str(
        "rankflow_check_hosts() {\n    \
         local launcher=\"$1\" agent=\"${OMPI_MCA_plm_rsh_agent:-}\"\n    \
         shift\n    \
         if [ -z \"$agent\" ]; then\n        \
         case \"$launcher\" in\n            \
         qrsh) command -v qrsh >/dev/null 2>&1 && agent=\"qrsh -inherit -nostdin -V\" ;;\n            \
         blaunch) command -v blaunch >/dev/null 2>&1 && agent=\"blaunch\" ;;\n        \
         esac\n    \
         fi\n    \
         if ! bash -c \"$RANKFLOW_CHECK_HOSTS_SCRIPT\" check-hosts.sh --skip-self \\\n        \
         --timeout \"${RANKFLOW_CHECK_HOSTS_TIMEOUT:-10}\" --agent \"$agent\" \"$@\"; then\n        \
         echo \"rankflow job: the host check failed (see above); not starting mpirun\" >&2\n        \
         exit 1\n    \
         fi\n\
         }\n",
    );
    out.push_str("if [ \"${RANKFLOW_CHECK_HOSTS:-1}\" != 0 ]; then\n");
    for line in hosts.lines() {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("fi\n");
    Some(out)
}
