//! The serde flavour (mpi4py's lowercase `bcast`, `scatter`, ...): any
//! `Serialize + DeserializeOwned` value, encoded with the crate's codec; the
//! bytes then travel with the zero-copy primitives.

use super::{checked_total, Backend, Group, RawGroup, Refusal, MAX_COUNT};
use crate::comm::codec;
use crate::comm::group::Status;
use crate::comm::transport::Tag;
use crate::error::{Error, ErrorKind, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

impl Group {
    /// Broadcasts the root's value to every member (mpi4py's `bcast`).
    /// Non-roots pass `None`; what they pass is ignored.
    pub fn bcast<T: Serialize + DeserializeOwned>(
        &self,
        value: Option<T>,
        root: usize,
    ) -> Result<T> {
        let _op = self.op("bcast");
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
            let mut bytes = vec![0u8; super::header::count(header, "bcast", root)?];
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
        let _op = self.op("scatter");
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
        let _op = self.op("scatterv");
        self.check_root(root)?;
        let parts = if self.rank() == root {
            Some(match items {
                None => Err(Refusal::Missing),
                Some((v, c)) if c.len() != self.size() || checked_total(c) != Some(v.len()) => {
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
        let total = counts.iter().fold(0usize, |a, &c| a.saturating_add(c));
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
        let _op = self.op("gather");
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
        let _op = self.op("gatherv");
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
        let _op = self.op("allgather");
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
        let _op = self.op("reduce");
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
        let _op = self.op("allreduce");
        self.allgather(&value)?
            .into_iter()
            .reduce(op)
            .ok_or_else(|| Error::invalid("allreduce over an empty group"))
    }

    /// Sends any serde value to `dest` with `tag` (mpi4py's `send`).
    pub fn send<T: Serialize + ?Sized>(&self, value: &T, dest: usize, tag: Tag) -> Result<()> {
        let _op = self.op("send");
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
        let _op = self.op("recv");
        let (bytes, status) = self.recv_vec::<u8>(source, tag)?;
        let value = super::decode_serde(bytes, status)?;
        Ok((value, status))
    }
}
