//! Communication: the transport between ranks, the codec, and the typed
//! collectives that user code calls.
//!
//! | module | job |
//! |---|---|
//! | [`transport`] | the `Transport` trait: tagged byte messages between ranks |
//! | [`local`] | the in-process transport (embedded cluster, tests) |
//! | `mpi_transport` | the MPI transport and its progress thread (feature `mpi`) |
//! | [`backoff`] | how idle progress threads wait without burning a core |
//! | `wake` | nudging a sleeping progress thread on the same host when a message is on its way |
//! | [`flow`] | send windows per destination (backpressure) and why they cannot deadlock |
//! | `credit` | a rank's send windows shared with its MPI progress thread (feature `mpi`) |
//! | `pieces` | large payloads across MPI in pieces, reassembled in order (feature `mpi`) |
//! | `inbound` | the bounded queue from a progress thread to its readers (feature `mpi`) |
//! | `bytes` | byte payloads in serde messages as one byte string, not a `u8` at a time |
//! | [`codec`] | serde encoding with size limits; raw bytes of plain numbers |
//! | [`plain`] | the plain-number element types and reduction operations |
//! | [`group`] | `Group`: typed collectives, serde and zero-copy flavours, over MPI or in-process |

pub mod backoff;
pub(crate) mod bytes;
pub mod codec;
#[cfg(feature = "mpi")]
pub(crate) mod credit;
pub mod flow;
pub mod group;
#[cfg(feature = "mpi")]
pub(crate) mod inbound;
pub mod local;
#[cfg(feature = "mpi")]
pub mod mpi_transport;
#[cfg(feature = "mpi")]
pub(crate) mod pieces;
pub mod plain;
pub mod transport;
#[cfg(feature = "mpi")]
pub(crate) mod wake;
