//! What only the `rankflow` command-line tool uses: batch job scripts. Nothing
//! else in the crate depends on this module.

pub mod jobscript;
