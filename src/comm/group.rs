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

use super::codec;
use super::plain::{Op, Plain};
use super::transport::Tag;
use crate::error::{Error, ErrorKind, Result};
use ndarray::{ArrayBase, ArrayD, DataMut, Dimension, IxDyn};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Largest user tag: the smallest `MPI_TAG_UB` the MPI standard allows.
pub const MAX_TAG: Tag = 32767;

/// Largest element count of one MPI call: MPI counts are 32-bit.
const MAX_COUNT: usize = i32::MAX as usize;

/// Elements per step when a broadcast is larger than one MPI call can carry.
const BCAST_CHUNK: usize = 1 << 30;

/// Who sent a received message, and with which tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Rank of the sender within the group.
    pub source: usize,
    /// Tag the message was sent with.
    pub tag: Tag,
}

/// The operations a backend provides. Arguments are already checked: counts
/// agree on every member and fit MPI's 32-bit counts.
pub(crate) trait RawGroup: Sized {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;
    fn barrier(&self) -> Result<()>;
    fn bcast<T: Plain>(&self, buf: &mut [T], root: usize) -> Result<()>;
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
}

pub(crate) enum Backend {
    Local(super::group_local::LocalGroup),
    #[cfg(feature = "mpi")]
    Mpi(super::group_mpi::MpiGroup),
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

    /// This rank's index in the group.
    pub fn rank(&self) -> usize {
        raw!(self, g => g.rank())
    }

    /// Number of ranks in the group.
    pub fn size(&self) -> usize {
        raw!(self, g => g.size())
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

    /// Waits until every member has called `barrier`.
    pub fn barrier(&self) -> Result<()> {
        raw!(self, g => g.barrier())
    }

    /// Splits the group: members passing the same `color` form a new group,
    /// ordered by `key` then by rank here; `None` takes no part and gets `None`.
    /// Every member must call it (MPI_Comm_split).
    pub fn split(&self, color: Option<u16>, key: i32) -> Result<Option<Group>> {
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

    // ----- zero-copy flavour --------------------------------------------------

    /// Fills every member's `buf` with the root's. A member whose `buf` has a
    /// different length than the root's still takes part, then gets an error.
    ///
    /// # Examples — see `examples/bcast_array.rs`.
    pub fn bcast_into<T: Plain>(&self, buf: &mut [T], root: usize) -> Result<()> {
        self.check_root(root)?;
        let len = self.bcast_header(buf.len() as u64, root)? as usize;
        if len == buf.len() {
            self.bcast_chunked(buf, root)
        } else {
            let mut scratch = vec![T::zeroed(); len];
            self.bcast_chunked(&mut scratch, root)?;
            Err(Error::invalid(format!(
                "bcast_into: root {root} sent {len} elements into a buffer of {}",
                buf.len()
            )))
        }
    }

    fn bcast_chunked<T: Plain>(&self, buf: &mut [T], root: usize) -> Result<()> {
        for chunk in buf.chunks_mut(BCAST_CHUNK) {
            raw!(self, g => g.bcast(chunk, root))?;
        }
        Ok(())
    }

    /// Sends the root's `send` in equal consecutive parts, part `i` into member
    /// `i`'s `recv`. `send` must hold `size × recv.len()` elements.
    pub fn scatter_into<T: Plain>(
        &self,
        send: Option<&[T]>,
        recv: &mut [T],
        root: usize,
    ) -> Result<()> {
        self.check_root(root)?;
        let counts = if self.rank() == root {
            send.map(|s| vec![s.len() / self.size(); self.size()])
        } else {
            None
        };
        let refusal = match (self.rank() == root, send) {
            (true, None) => Some(Refusal::Missing),
            (true, Some(s)) if s.len() % self.size() != 0 => Some(Refusal::WrongCount),
            _ => None,
        };
        self.scatterv_checked(send, counts.as_deref(), refusal, recv, root)
    }

    /// Sends `counts[i]` consecutive elements of the root's `data` into member
    /// `i`'s `recv` (MPI_Scatterv). Uneven parts are fine.
    pub fn scatterv_into<T: Plain>(
        &self,
        send: Option<(&[T], &[usize])>,
        recv: &mut [T],
        root: usize,
    ) -> Result<()> {
        self.check_root(root)?;
        let refusal = match (self.rank() == root, send) {
            (true, None) => Some(Refusal::Missing),
            (true, Some((data, counts)))
                if counts.len() != self.size() || counts.iter().sum::<usize>() != data.len() =>
            {
                Some(Refusal::BadCounts)
            }
            _ => None,
        };
        self.scatterv_checked(send.map(|s| s.0), send.map(|s| s.1), refusal, recv, root)
    }

    /// Like [`scatterv_into`](Self::scatterv_into), into a new vector of the right length.
    pub fn scatterv_vec<T: Plain>(
        &self,
        send: Option<(&[T], &[usize])>,
        root: usize,
    ) -> Result<Vec<T>> {
        self.check_root(root)?;
        let refusal = match (self.rank() == root, send) {
            (true, None) => Some(Refusal::Missing),
            (true, Some((data, counts)))
                if counts.len() != self.size() || counts.iter().sum::<usize>() != data.len() =>
            {
                Some(Refusal::BadCounts)
            }
            _ => None,
        };
        let (data, counts) = (send.map(|s| s.0), send.map(|s| s.1));
        let mine = self.send_scatter_headers(data, counts, refusal, root)?;
        let mut out = vec![T::zeroed(); mine];
        raw!(self, g => g.scatterv(data.zip(counts).filter(|_| self.rank() == root), &mut out, root))?;
        Ok(out)
    }

    /// Root: checks and scatters the counts (or a refusal); everyone: returns
    /// their own count or the refusal as an error.
    fn send_scatter_headers<T: Plain>(
        &self,
        data: Option<&[T]>,
        counts: Option<&[usize]>,
        mut refusal: Option<Refusal>,
        root: usize,
    ) -> Result<usize> {
        let headers = if self.rank() == root {
            if refusal.is_none() {
                let total = data.map_or(0, |d| d.len());
                if total > MAX_COUNT {
                    refusal = Some(Refusal::TooLarge);
                }
            }
            Some(match (refusal, counts) {
                (None, Some(c)) => c.iter().map(|&n| n as u64).collect::<Vec<_>>(),
                (r, _) => vec![r.unwrap_or(Refusal::Missing).code(); self.size()],
            })
        } else {
            None
        };
        let mine = self.scatter_headers(headers.as_deref(), root)?;
        if let Some(r) = Refusal::from_code(mine) {
            return Err(r.error("scatter", root));
        }
        Ok(mine as usize)
    }

    fn scatterv_checked<T: Plain>(
        &self,
        data: Option<&[T]>,
        counts: Option<&[usize]>,
        refusal: Option<Refusal>,
        recv: &mut [T],
        root: usize,
    ) -> Result<()> {
        let mine = self.send_scatter_headers(data, counts, refusal, root)?;
        let send = data.zip(counts).filter(|_| self.rank() == root);
        if mine == recv.len() {
            raw!(self, g => g.scatterv(send, recv, root))
        } else {
            let mut scratch = vec![T::zeroed(); mine];
            raw!(self, g => g.scatterv(send, &mut scratch, root))?;
            Err(Error::invalid(format!(
                "scatter: root {root} sent {mine} elements into a buffer of {}",
                recv.len()
            )))
        }
    }

    /// Gathers every member's `send` into the root's `recv`, in rank order
    /// (MPI_Gatherv). Members may send different lengths; the root's `recv`
    /// must hold their sum. Returns the counts on every member.
    pub fn gather_into<T: Plain>(
        &self,
        send: &[T],
        recv: Option<&mut [T]>,
        root: usize,
    ) -> Result<Vec<usize>> {
        self.check_root(root)?;
        let counts = self.all_counts(send.len())?;
        let total: usize = counts.iter().sum();
        if total > MAX_COUNT {
            return Err(Error::invalid(format!(
                "gather of {total} elements is over MPI's 2^31-element limit for one call"
            )));
        }
        if self.rank() != root {
            raw!(self, g => g.gatherv(send, None, root))?;
            return Ok(counts);
        }
        match recv {
            Some(buf) if buf.len() == total => {
                raw!(self, g => g.gatherv(send, Some((buf, &counts)), root))?;
                Ok(counts)
            }
            other => {
                let mut scratch = vec![T::zeroed(); total];
                raw!(self, g => g.gatherv(send, Some((&mut scratch, &counts)), root))?;
                Err(Error::invalid(format!(
                    "gather_into: {total} elements arrived at root {root} for a buffer of {}",
                    other.map_or(0, |b| b.len())
                )))
            }
        }
    }

    /// Gathers every member's `send` at the root into a new vector, with each
    /// member's count. Non-roots get `None`.
    pub fn gatherv_vec<T: Plain>(
        &self,
        send: &[T],
        root: usize,
    ) -> Result<Option<(Vec<T>, Vec<usize>)>> {
        self.check_root(root)?;
        let counts = self.all_counts(send.len())?;
        let total: usize = counts.iter().sum();
        if total > MAX_COUNT {
            return Err(Error::invalid(format!(
                "gather of {total} elements is over MPI's 2^31-element limit for one call"
            )));
        }
        if self.rank() == root {
            let mut out = vec![T::zeroed(); total];
            raw!(self, g => g.gatherv(send, Some((&mut out, &counts)), root))?;
            Ok(Some((out, counts)))
        } else {
            raw!(self, g => g.gatherv(send, None, root))?;
            Ok(None)
        }
    }

    /// Every member's `send`, concatenated in rank order, into every member's
    /// `recv` (MPI_Allgatherv). Returns the counts.
    pub fn allgather_into<T: Plain>(&self, send: &[T], recv: &mut [T]) -> Result<Vec<usize>> {
        let counts = self.all_counts(send.len())?;
        let total: usize = counts.iter().sum();
        if total > MAX_COUNT {
            return Err(Error::invalid(format!(
                "allgather of {total} elements is over MPI's 2^31-element limit for one call"
            )));
        }
        if recv.len() == total {
            raw!(self, g => g.allgatherv(send, recv, &counts))?;
            Ok(counts)
        } else {
            let mut scratch = vec![T::zeroed(); total];
            raw!(self, g => g.allgatherv(send, &mut scratch, &counts))?;
            Err(Error::invalid(format!(
                "allgather_into: {total} elements arrived for a buffer of {}",
                recv.len()
            )))
        }
    }

    /// Every member's `send`, concatenated in rank order, as a new vector.
    pub fn allgather_vec<T: Plain>(&self, send: &[T]) -> Result<(Vec<T>, Vec<usize>)> {
        let counts = self.all_counts(send.len())?;
        let total: usize = counts.iter().sum();
        if total > MAX_COUNT {
            return Err(Error::invalid(format!(
                "allgather of {total} elements is over MPI's 2^31-element limit for one call"
            )));
        }
        let mut out = vec![T::zeroed(); total];
        raw!(self, g => g.allgatherv(send, &mut out, &counts))?;
        Ok((out, counts))
    }

    /// Checks that every member passes the same length; the same verdict on all.
    fn agree_on_length(&self, len: usize, what: &str) -> Result<()> {
        let counts = self.all_counts(len)?;
        if counts.iter().any(|&c| c != counts[0]) {
            return Err(Error::invalid(format!(
                "{what}: members passed different lengths {counts:?}"
            )));
        }
        if len > MAX_COUNT {
            return Err(Error::invalid(format!(
                "{what} of {len} elements is over MPI's 2^31-element limit for one call"
            )));
        }
        Ok(())
    }

    /// Combines every member's `send` element by element with `op` into the
    /// root's `recv` (MPI_Reduce). All `send`s must have one length.
    pub fn reduce_into<T: Plain>(
        &self,
        send: &[T],
        recv: Option<&mut [T]>,
        op: Op,
        root: usize,
    ) -> Result<()> {
        self.check_root(root)?;
        self.agree_on_length(send.len(), "reduce")?;
        if self.rank() != root {
            return raw!(self, g => g.reduce(send, None, op, root));
        }
        match recv {
            Some(buf) if buf.len() == send.len() => {
                raw!(self, g => g.reduce(send, Some(buf), op, root))
            }
            other => {
                let mut scratch = vec![T::zeroed(); send.len()];
                raw!(self, g => g.reduce(send, Some(&mut scratch), op, root))?;
                Err(Error::invalid(format!(
                    "reduce_into: result of {} elements for a buffer of {}",
                    send.len(),
                    other.map_or(0, |b| b.len())
                )))
            }
        }
    }

    /// Combines every member's `send` element by element with `op` into every
    /// member's `recv` (MPI_Allreduce).
    pub fn allreduce_into<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op) -> Result<()> {
        self.agree_on_length(send.len(), "allreduce")?;
        if recv.len() == send.len() {
            raw!(self, g => g.allreduce(send, recv, op))
        } else {
            let mut scratch = vec![T::zeroed(); send.len()];
            raw!(self, g => g.allreduce(send, &mut scratch, op))?;
            Err(Error::invalid(format!(
                "allreduce_into: result of {} elements for a buffer of {}",
                send.len(),
                recv.len()
            )))
        }
    }

    /// Sends a slice of plain numbers to `dest` (MPI_Send semantics: may wait
    /// for the matching receive when the message is large).
    pub fn send_slice<T: Plain>(&self, data: &[T], dest: usize, tag: Tag) -> Result<()> {
        self.check_peer(dest, tag)?;
        if data.len() > MAX_COUNT {
            return Err(Error::invalid("send of over 2^31 elements"));
        }
        raw!(self, g => g.send(data, dest, tag))
    }

    /// Receives a message of exactly `buf.len()` elements into `buf`. `None`
    /// matches any source or tag. A message of another length is received,
    /// dropped and reported as an error.
    pub fn recv_into<T: Plain>(
        &self,
        buf: &mut [T],
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<Status> {
        if let Some(s) = source {
            self.check_peer(s, tag.unwrap_or(0))?;
        }
        raw!(self, g => g.recv_into(buf, source, tag))
    }

    /// Receives a message of plain numbers of any length.
    pub fn recv_vec<T: Plain>(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<(Vec<T>, Status)> {
        if let Some(s) = source {
            self.check_peer(s, tag.unwrap_or(0))?;
        }
        raw!(self, g => g.recv_vec(source, tag))
    }

    /// Broadcasts an ndarray in place: every member's array takes the root's
    /// values. Standard-layout arrays go to MPI as their own memory; others
    /// are copied through a contiguous buffer. Shapes must match the root's.
    pub fn bcast_array_into<T, S, D>(&self, array: &mut ArrayBase<S, D>, root: usize) -> Result<()>
    where
        T: Plain,
        S: DataMut<Elem = T>,
        D: Dimension,
    {
        let shape: Vec<u64> = array.shape().iter().map(|&n| n as u64).collect();
        let root_shape = self.bcast_vec_header(&shape, root)?;
        let shape_ok = root_shape == shape;
        if let (true, Some(slice)) = (shape_ok, array.as_slice_mut()) {
            return self.bcast_into(slice, root);
        }
        let mut tmp: Vec<T> = if self.rank() == root {
            array.iter().copied().collect()
        } else {
            vec![T::zeroed(); root_shape.iter().product::<u64>() as usize]
        };
        self.bcast_into(&mut tmp, root)?;
        if !shape_ok {
            return Err(Error::invalid(format!(
                "bcast_array_into: root {root} has shape {root_shape:?}, this rank {shape:?}"
            )));
        }
        array.iter_mut().zip(tmp).for_each(|(a, b)| *a = b);
        Ok(())
    }

    /// Broadcasts the root's array (shape and values) to every member, which
    /// gets a new array; non-roots pass `None`.
    pub fn bcast_array<T: Plain>(
        &self,
        array: Option<ArrayD<T>>,
        root: usize,
    ) -> Result<ArrayD<T>> {
        self.check_root(root)?;
        let is_root = self.rank() == root;
        let shape: Vec<u64> = match (&array, is_root) {
            (Some(a), true) => a.shape().iter().map(|&n| n as u64).collect(),
            _ => Vec::new(),
        };
        let missing = is_root && array.is_none();
        let header = if missing {
            vec![Refusal::Missing.code()]
        } else {
            shape
        };
        let shape = self.bcast_vec_header(&header, root)?;
        if shape.len() == 1 && Refusal::from_code(shape[0]).is_some() {
            return Err(Refusal::Missing.error("bcast_array", root));
        }
        let dims: Vec<usize> = shape.iter().map(|&n| n as usize).collect();
        match array.filter(|_| is_root) {
            Some(mut a) => {
                if !a.is_standard_layout() {
                    a = a.as_standard_layout().into_owned();
                }
                let slice = a
                    .as_slice_mut()
                    .ok_or_else(|| Error::invalid("array is not contiguous"))?;
                self.bcast_into(slice, root)?;
                Ok(a)
            }
            None => {
                let mut data = vec![T::zeroed(); dims.iter().product()];
                self.bcast_into(&mut data, root)?;
                ArrayD::from_shape_vec(IxDyn(&dims), data)
                    .map_err(|e| Error::invalid(format!("bcast_array: bad shape {dims:?}: {e}")))
            }
        }
    }

    /// The root's short `u64` list reaches every member (length, then values).
    fn bcast_vec_header(&self, values: &[u64], root: usize) -> Result<Vec<u64>> {
        self.check_root(root)?;
        let n = self.bcast_header(values.len() as u64, root)? as usize;
        let mut out = if self.rank() == root {
            values.to_vec()
        } else {
            vec![0u64; n]
        };
        raw!(self, g => g.bcast(&mut out, root))?;
        Ok(out)
    }

    // ----- serde flavour -------------------------------------------------------

    /// Broadcasts the root's value to every member (mpi4py's `bcast`).
    /// Non-roots pass `None`; what they pass is ignored.
    pub fn bcast<T: Serialize + DeserializeOwned>(
        &self,
        value: Option<T>,
        root: usize,
    ) -> Result<T> {
        self.check_root(root)?;
        if self.rank() == root {
            let encoded = match &value {
                None => Err(Refusal::Missing),
                Some(v) => codec::encode(v).map_err(|_| Refusal::Encode),
            };
            let header = match &encoded {
                Ok(b) => b.len() as u64,
                Err(r) => r.code(),
            };
            self.bcast_header(header, root)?;
            let mut bytes = encoded.map_err(|r| r.error("bcast", root))?;
            self.bcast_chunked(&mut bytes, root)?;
            value.ok_or_else(|| Refusal::Missing.error("bcast", root))
        } else {
            let header = self.bcast_header(0, root)?;
            if let Some(r) = Refusal::from_code(header) {
                return Err(r.error("bcast", root));
            }
            let mut bytes = vec![0u8; header as usize];
            self.bcast_chunked(&mut bytes, root)?;
            codec::decode(&bytes)
        }
    }

    /// Sends item `i` of the root's `items` to member `i` (mpi4py's `scatter`).
    /// The root's vector must have exactly one item per member: otherwise every
    /// member gets an error.
    pub fn scatter<T: Serialize + DeserializeOwned>(
        &self,
        items: Option<Vec<T>>,
        root: usize,
    ) -> Result<T> {
        self.check_root(root)?;
        let parts = if self.rank() == root {
            Some(match items {
                None => Err(Refusal::Missing),
                Some(v) if v.len() != self.size() => Err(Refusal::WrongCount),
                Some(v) => v
                    .iter()
                    .map(|x| codec::encode(x).map_err(|_| Refusal::Encode))
                    .collect(),
            })
        } else {
            None
        };
        let bytes = self.scatter_encoded(parts, root, "scatter")?;
        codec::decode(&bytes)
    }

    /// Sends `counts[i]` consecutive items of the root's `items` to member `i`
    /// as a vector. Uneven counts are fine; they must sum to the item count.
    pub fn scatterv<T: Serialize + DeserializeOwned>(
        &self,
        items: Option<(Vec<T>, &[usize])>,
        root: usize,
    ) -> Result<Vec<T>> {
        self.check_root(root)?;
        let parts = if self.rank() == root {
            Some(match items {
                None => Err(Refusal::Missing),
                Some((v, c)) if c.len() != self.size() || c.iter().sum::<usize>() != v.len() => {
                    Err(Refusal::BadCounts)
                }
                Some((v, counts)) => {
                    let mut at = 0;
                    counts
                        .iter()
                        .map(|&n| {
                            let part = &v[at..at + n];
                            at += n;
                            codec::encode(part).map_err(|_| Refusal::Encode)
                        })
                        .collect()
                }
            })
        } else {
            None
        };
        let bytes = self.scatter_encoded(parts, root, "scatterv")?;
        codec::decode(&bytes)
    }

    fn scatter_encoded(
        &self,
        parts: Option<std::result::Result<Vec<Vec<u8>>, Refusal>>,
        root: usize,
        what: &str,
    ) -> Result<Vec<u8>> {
        let (flat, counts, refusal) = match parts {
            Some(Ok(p)) => {
                let counts: Vec<usize> = p.iter().map(Vec::len).collect();
                (Some(p.concat()), Some(counts), None)
            }
            Some(Err(r)) => (None, None, Some(r)),
            None => (None, None, None),
        };
        let mine = self
            .send_scatter_headers(flat.as_deref(), counts.as_deref(), refusal, root)
            .map_err(|e| Error::new(e.kind(), e.message().replacen("scatter", what, 1)))?;
        let mut out = vec![0u8; mine];
        let send = flat
            .as_deref()
            .zip(counts.as_deref())
            .filter(|_| self.rank() == root);
        raw!(self, g => g.scatterv(send, &mut out, root))?;
        Ok(out)
    }

    /// Every member's encoded value, in rank order, on the members that want
    /// them; an encoding failure anywhere is an error everywhere.
    fn gather_encoded<T: Serialize + ?Sized>(
        &self,
        value: &T,
        root: Option<usize>,
        what: &str,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let encoded = codec::encode(value);
        let mine = encoded
            .as_ref()
            .map_or(Refusal::Encode.code() as usize, Vec::len);
        let counts = self.all_counts(mine)?;
        if let Some(bad) = counts
            .iter()
            .position(|&c| c as u64 == Refusal::Encode.code())
        {
            return Err(Error::new(
                ErrorKind::Codec,
                format!("{what}: rank {bad} could not encode its value"),
            ));
        }
        let total: usize = counts.iter().sum();
        if total > MAX_COUNT {
            return Err(Error::invalid(format!(
                "{what} of {total} bytes is over MPI's 2 GiB limit for one call"
            )));
        }
        let bytes = encoded?;
        let split = |flat: Vec<u8>| {
            let mut at = 0;
            counts
                .iter()
                .map(|&n| {
                    let part = flat[at..at + n].to_vec();
                    at += n;
                    part
                })
                .collect::<Vec<_>>()
        };
        match root {
            Some(r) if r == self.rank() => {
                let mut flat = vec![0u8; total];
                raw!(self, g => g.gatherv(&bytes, Some((&mut flat, &counts)), r))?;
                Ok(Some(split(flat)))
            }
            Some(r) => {
                raw!(self, g => g.gatherv(&bytes, None, r))?;
                Ok(None)
            }
            None => {
                let mut flat = vec![0u8; total];
                raw!(self, g => g.allgatherv(&bytes, &mut flat, &counts))?;
                Ok(Some(split(flat)))
            }
        }
    }

    /// Every member's value at the root, in rank order (mpi4py's `gather`);
    /// `None` elsewhere.
    pub fn gather<T: Serialize + DeserializeOwned>(
        &self,
        value: &T,
        root: usize,
    ) -> Result<Option<Vec<T>>> {
        self.check_root(root)?;
        self.gather_encoded(value, Some(root), "gather")?
            .map(|parts| parts.iter().map(|b| codec::decode(b)).collect())
            .transpose()
    }

    /// Every member's slice at the root, concatenated in rank order; members
    /// may pass different lengths. `None` elsewhere.
    pub fn gatherv<T: Serialize + DeserializeOwned>(
        &self,
        values: &[T],
        root: usize,
    ) -> Result<Option<Vec<T>>> {
        self.check_root(root)?;
        let parts = self.gather_encoded(values, Some(root), "gatherv")?;
        parts
            .map(|parts| {
                let mut all = Vec::new();
                for b in parts {
                    all.extend(codec::decode::<Vec<T>>(&b)?);
                }
                Ok(all)
            })
            .transpose()
    }

    /// Every member's value on every member, in rank order (mpi4py's `allgather`).
    pub fn allgather<T: Serialize + DeserializeOwned>(&self, value: &T) -> Result<Vec<T>> {
        let parts = self
            .gather_encoded(value, None, "allgather")?
            .unwrap_or_default();
        parts.iter().map(|b| codec::decode(b)).collect()
    }

    /// Folds every member's value with `op` in rank order at the root
    /// (mpi4py's `reduce`); `None` elsewhere.
    pub fn reduce<T, F>(&self, value: T, op: F, root: usize) -> Result<Option<T>>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(T, T) -> T,
    {
        Ok(self
            .gather(&value, root)?
            .and_then(|all| all.into_iter().reduce(op)))
    }

    /// Folds every member's value with `op` in rank order on every member
    /// (mpi4py's `allreduce`); every member gets the same result.
    pub fn allreduce<T, F>(&self, value: T, op: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(T, T) -> T,
    {
        self.allgather(&value)?
            .into_iter()
            .reduce(op)
            .ok_or_else(|| Error::invalid("allreduce over an empty group"))
    }

    /// Sends any serde value to `dest` with `tag` (mpi4py's `send`).
    pub fn send<T: Serialize + ?Sized>(&self, value: &T, dest: usize, tag: Tag) -> Result<()> {
        self.check_peer(dest, tag)?;
        let bytes = codec::encode(value)?;
        if bytes.len() > MAX_COUNT {
            return Err(Error::codec(format!(
                "message of {} bytes is over 2 GiB",
                bytes.len()
            )));
        }
        raw!(self, g => g.send(&bytes, dest, tag))
    }

    /// Receives a serde value (mpi4py's `recv`); `None` matches any source or
    /// tag. A message that does not decode as `T` is an error.
    pub fn recv<T: DeserializeOwned>(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<(T, Status)> {
        let (bytes, status) = self.recv_vec::<u8>(source, tag)?;
        let value = codec::decode(&bytes).map_err(|e| {
            Error::new(
                e.kind(),
                format!(
                    "message from rank {} tag {}: {}",
                    status.source,
                    status.tag,
                    e.message()
                ),
            )
        })?;
        Ok((value, status))
    }
}
