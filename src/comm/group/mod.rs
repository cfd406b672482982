//! Typed collectives on a [`Group`] of ranks: the world, or a part of it made by
//! [`Group::split`].
//!
//! Two flavours, as in mpi4py:
//!
//! * **serde** (mpi4py's lowercase `bcast`, `scatter`, ...): any
//!   `Serialize + DeserializeOwned` value, encoded with the crate's codec.
//! * **zero-copy** (mpi4py's uppercase `Bcast`, `Scatterv`, ...): slices and
//!   ndarrays of [`Plain`] numbers, handed to MPI as their own memory. Names say
//!   what happens to the buffer: `bcast_into` fills it, `gather_into` fills the
//!   root's.
//!
//! Every member of the group must call the same collective in the same order,
//! as in MPI. Arguments that only one rank can check (the root's item count, a
//! receive buffer's length) are checked so that every member returns: a bad
//! scatter at the root is an error on every rank, a receive buffer of the wrong
//! length is an error on the rank that passed it, and nobody is left waiting.
//! To make that possible most collectives first exchange a few bytes of counts.
//!
//! Arguments that must agree by definition (the root, the order of calls) are
//! the caller's to keep consistent; a rank that passes a different root than
//! the others waits forever, as it would in MPI.

use super::plain::{Op, Plain};
use super::transport::Tag;
use crate::error::{Error, Result};

/// Largest user tag: the smallest `MPI_TAG_UB` the MPI standard allows.
pub const MAX_TAG: Tag = 32767;

/// Largest element count of one MPI call: MPI counts are 32-bit.
const MAX_COUNT: usize = i32::MAX as usize;

/// Elements per step when a broadcast is larger than one MPI call can carry.
const BCAST_CHUNK: usize = 1 << 30;

/// The sum of `counts` if it fits in one MPI call, else `None`.
pub(crate) fn checked_total(counts: &[usize]) -> Option<usize> {
    counts
        .iter()
        .try_fold(0usize, |acc, &c| acc.checked_add(c))
        .filter(|&t| t <= MAX_COUNT)
}

/// The elements of a received message, or an error naming its sender, tag
/// and size when its bytes are not a whole number of `T`.
pub(crate) fn decode_plain<T: Plain>(bytes: Vec<u8>, status: Status) -> Result<Vec<T>> {
    crate::comm::codec::plain_vec_from_bytes(&bytes).map_err(|e| {
        Error::invalid(format!(
            "rank {} sent {} bytes (tag {}): {}",
            status.source,
            bytes.len(),
            status.tag,
            e.message()
        ))
    })
}

/// A received serde message as a `T`, or a codec error naming its sender
/// and tag.
pub(crate) fn decode_serde<T: serde::de::DeserializeOwned>(
    bytes: Vec<u8>,
    status: Status,
) -> Result<T> {
    crate::comm::codec::decode(&bytes).map_err(|e| {
        Error::new(
            e.kind(),
            format!(
                "message from rank {} tag {}: {}",
                status.source,
                status.tag,
                e.message()
            ),
        )
    })
}

/// Who sent a received message, and with which tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Rank of the sender within the group.
    pub source: usize,
    /// Tag the message was sent with.
    pub tag: Tag,
}

/// The envelope of a message waiting to be received: see [`Group::probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Rank of the sender within the group.
    pub source: usize,
    /// Tag the message was sent with.
    pub tag: Tag,
    /// Length of the message in bytes (of the encoded value, for the serde
    /// flavour).
    pub bytes: usize,
}

impl Probe {
    /// Who sent it, and with which tag.
    pub fn status(&self) -> Status {
        Status {
            source: self.source,
            tag: self.tag,
        }
    }

    /// Its length in elements of `T`, if it is a whole number of them.
    pub fn count<T: Plain>(&self) -> Option<usize> {
        let size = std::mem::size_of::<T>();
        (self.bytes % size == 0).then(|| self.bytes / size)
    }
}

/// The operations a backend provides. Arguments are already checked: counts
/// agree on every member and fit MPI's 32-bit counts.
pub(crate) trait RawGroup: Sized {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;
    fn barrier(&self) -> Result<()>;
    fn bcast<T: Plain>(&self, buf: &mut [T], root: usize) -> Result<()>;
    /// The root's side of [`bcast`](Self::bcast), reading `buf` only: the
    /// other members call `bcast` with this member's rank as root.
    fn bcast_send<T: Plain>(&self, buf: &[T]) -> Result<()>;
    fn gatherv<T: Plain>(
        &self,
        send: &[T],
        recv: Option<(&mut [T], &[usize])>,
        root: usize,
    ) -> Result<()>;
    fn scatterv<T: Plain>(
        &self,
        send: Option<(&[T], &[usize])>,
        recv: &mut [T],
        root: usize,
    ) -> Result<()>;
    fn allgatherv<T: Plain>(&self, send: &[T], recv: &mut [T], counts: &[usize]) -> Result<()>;
    fn reduce<T: Plain>(
        &self,
        send: &[T],
        recv: Option<&mut [T]>,
        op: Op,
        root: usize,
    ) -> Result<()>;
    fn allreduce<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op) -> Result<()>;
    fn send<T: Plain>(&self, data: &[T], dest: usize, tag: Tag) -> Result<()>;
    fn recv_vec<T: Plain>(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<(Vec<T>, Status)>;
    fn recv_into<T: Plain>(
        &self,
        buf: &mut [T],
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<Status>;
    fn split(&self, color: Option<u16>, key: i32) -> Result<Option<Self>>;
    /// Sends `send` to `dest` while receiving one message of any length.
    fn sendrecv<T: Plain>(
        &self,
        send: &[T],
        dest: usize,
        sendtag: Tag,
        source: Option<usize>,
        recvtag: Option<Tag>,
    ) -> Result<(Vec<u8>, Status)>;
    /// The envelope of the first matching message, waiting for one if `wait`.
    fn probe(&self, source: Option<usize>, tag: Option<Tag>, wait: bool) -> Result<Option<Probe>>;
    fn alltoallv<T: Plain>(
        &self,
        send: &[T],
        send_counts: &[usize],
        recv: &mut [T],
        recv_counts: &[usize],
    ) -> Result<()>;
    /// Inclusive (or exclusive) prefix reduction; an exclusive scan leaves
    /// rank 0's `recv` untouched.
    fn scan<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op, exclusive: bool) -> Result<()>;
    /// Reduces `send` (size × `recv.len()` elements) and leaves block `i` of
    /// the result on member `i`.
    fn reduce_scatter_block<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op) -> Result<()>;
}

pub(crate) enum Backend {
    Local(local::LocalGroup),
    #[cfg(feature = "mpi")]
    Mpi(mpi::MpiGroup),
}

macro_rules! raw {
    ($self:ident, $g:ident => $e:expr) => {
        match &$self.backend {
            Backend::Local($g) => $e,
            #[cfg(feature = "mpi")]
            Backend::Mpi($g) => $e,
        }
    };
}

// The flavours below use `raw!`, so they are declared after it.
mod alltoall;
mod arrays;
mod header;
mod loc;
pub mod local;
#[cfg(feature = "mpi")]
pub mod mpi;
mod p2p;
pub mod requests;
mod scan;
mod serde_flavour;
mod zero_copy;

pub use loc::LocOp;
pub use requests::{wait_all, RecvRequest, Request, SendRequest};

/// Names the public call a member is in, for the in-process backend's error
/// reports ("rank 0 blocked in send_slice to 1 ..."); the outermost call wins.
pub(crate) struct OpGuard<'a>(Option<&'a local::LocalGroup>);

impl Drop for OpGuard<'_> {
    fn drop(&mut self) {
        if let Some(g) = self.0 {
            g.end_op();
        }
    }
}

/// A set of ranks that run collectives together: the world in
/// [`spmd`](crate::spmd), or a subgroup made with [`Group::split`].
pub struct Group {
    pub(crate) backend: Backend,
}

/// Why the root refused a rooted collective; sent to every member in place of
/// a count so that all of them return an error instead of waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    Missing = 1,
    WrongCount = 2,
    Encode = 3,
    TooLarge = 4,
    BadCounts = 5,
}

const REFUSAL_BASE: u64 = u64::MAX - 16;

impl Refusal {
    fn code(self) -> u64 {
        REFUSAL_BASE + self as u64
    }

    fn from_code(code: u64) -> Option<Self> {
        [
            Refusal::Missing,
            Refusal::WrongCount,
            Refusal::Encode,
            Refusal::TooLarge,
            Refusal::BadCounts,
        ]
        .into_iter()
        .find(|r| r.code() == code)
    }

    fn error(self, what: &str, root: usize) -> Error {
        let why = match self {
            Refusal::Missing => "the root passed no data",
            Refusal::WrongCount => {
                "the root passed a number of items different from the group size"
            }
            Refusal::Encode => "the root could not encode its data",
            Refusal::TooLarge => "the data is over MPI's 2^31-element limit for one call",
            Refusal::BadCounts => {
                "the root's counts do not match the group size or the data's length"
            }
        };
        Error::invalid(format!("{what} from root {root} refused: {why}"))
    }
}

impl Group {
    pub(crate) fn from_backend(backend: Backend) -> Self {
        Group { backend }
    }

    /// Marks the start of public call `name` (see [`OpGuard`]).
    pub(crate) fn op(&self, name: &'static str) -> OpGuard<'_> {
        match &self.backend {
            Backend::Local(g) if g.begin_op(name) => OpGuard(Some(g)),
            _ => OpGuard(None),
        }
    }

    /// This rank's index in the group.
    pub fn rank(&self) -> usize {
        raw!(self, g => g.rank())
    }

    /// Number of ranks in the group.
    pub fn size(&self) -> usize {
        raw!(self, g => g.size())
    }

    /// The MPI communicator underneath, for calls rankflow does not wrap
    /// (raw rsmpi, as mpi4py users reach for `comm`); `None` in the
    /// in-process backend. Messages sent on it bypass rankflow's checks.
    #[cfg(feature = "mpi")]
    pub fn as_mpi(&self) -> Option<&::mpi::topology::SimpleCommunicator> {
        match &self.backend {
            Backend::Mpi(g) => Some(g.communicator()),
            Backend::Local(_) => None,
        }
    }

    fn check_root(&self, root: usize) -> Result<()> {
        if root >= self.size() {
            return Err(Error::invalid(format!(
                "root {root} is outside a group of {}",
                self.size()
            )));
        }
        Ok(())
    }

    fn check_peer(&self, rank: usize, tag: Tag) -> Result<()> {
        if rank >= self.size() {
            return Err(Error::invalid(format!(
                "rank {rank} is outside a group of {}",
                self.size()
            )));
        }
        if tag > MAX_TAG {
            return Err(Error::invalid(format!(
                "tag {tag} is over the largest, {MAX_TAG}"
            )));
        }
        Ok(())
    }

    /// Gives up on the group after a member failed in a way the others cannot
    /// hear about: in-process, every member's pending and later collectives
    /// fail with `why`; under MPI, where a member blocked in a collective
    /// cannot be woken, the whole job is aborted with `why` on stderr.
    pub fn fail(&self, why: &str) {
        match &self.backend {
            Backend::Local(g) => g.poison(why),
            #[cfg(feature = "mpi")]
            Backend::Mpi(g) => g.abort(why),
        }
    }

    /// Waits until every member has called `barrier`.
    pub fn barrier(&self) -> Result<()> {
        let _op = self.op("barrier");
        raw!(self, g => g.barrier())
    }

    /// Splits the group: members passing the same `color` form a new group,
    /// ordered by `key` then by rank here; `None` takes no part and gets `None`.
    /// Every member must call it (MPI_Comm_split).
    pub fn split(&self, color: Option<u16>, key: i32) -> Result<Option<Group>> {
        let _op = self.op("split");
        Ok(match &self.backend {
            Backend::Local(g) => g.split(color, key)?.map(|g| Group {
                backend: Backend::Local(g),
            }),
            #[cfg(feature = "mpi")]
            Backend::Mpi(g) => g.split(color, key)?.map(|g| Group {
                backend: Backend::Mpi(g),
            }),
        })
    }

    /// Every member's `n`, in rank order (a small allgather).
    fn all_counts(&self, n: usize) -> Result<Vec<usize>> {
        let size = self.size();
        let mut out = vec![0u64; size];
        raw!(self, g => g.allgatherv(&[n as u64], &mut out, &vec![1; size]))?;
        Ok(out.into_iter().map(|c| c as usize).collect())
    }

    /// The root's `u64` header reaches every member.
    fn bcast_header(&self, header: u64, root: usize) -> Result<u64> {
        let mut h = [header];
        raw!(self, g => g.bcast(&mut h, root))?;
        Ok(h[0])
    }

    /// Member `i` gets `headers[i]` from the root.
    fn scatter_headers(&self, headers: Option<&[u64]>, root: usize) -> Result<u64> {
        let ones = vec![1; self.size()];
        let mut mine = [0u64];
        let send = headers.map(|h| (h, ones.as_slice()));
        raw!(self, g => g.scatterv(send, &mut mine, root))?;
        Ok(mine[0])
    }
}
