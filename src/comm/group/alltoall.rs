//! All-to-all exchanges (mpi4py's `alltoall`, `Alltoall`, `Alltoallv`):
//! every member sends a part of its data to every member.
//!
//! As with the rooted collectives, bad arguments fail on every member: the
//! counts travel first (a small all-to-all), and a member whose arguments
//! are wrong sends a refusal in place of its counts.

use super::{checked_total, Backend, Group, RawGroup, Refusal, MAX_COUNT};
use crate::comm::codec;
use crate::comm::plain::Plain;
use crate::error::{Error, ErrorKind, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

impl Group {
    /// Sends block `i` of `send` to member `i` and fills `recv` with the
    /// blocks from every member in rank order (MPI_Alltoall). Every member
    /// passes the same `send` length, a multiple of the group size; `recv`
    /// has that length too, else it is an error on that member alone.
    pub fn alltoall_into<T: Plain>(&self, send: &[T], recv: &mut [T]) -> Result<()> {
        let _op = self.op("alltoall_into");
        self.agree_on_length(send.len(), "alltoall_into")?;
        let size = self.size();
        if send.len() % size != 0 {
            return Err(Error::invalid(format!(
                "alltoall_into: {} elements do not split into {size} equal blocks",
                send.len()
            )));
        }
        let counts = vec![send.len() / size; size];
        if recv.len() == send.len() {
            raw!(self, g => g.alltoallv(send, &counts, recv, &counts))
        } else {
            let mut scratch = vec![T::zeroed(); send.len()];
            raw!(self, g => g.alltoallv(send, &counts, &mut scratch, &counts))?;
            Err(Error::invalid(format!(
                "alltoall_into: {} elements arrived for a buffer of {}",
                send.len(),
                recv.len()
            )))
        }
    }

    /// Sends `counts[i]` consecutive elements of `send` to member `i`
    /// (MPI_Alltoallv); returns what arrived, in rank order, and how many
    /// elements came from each member. `counts` must have one entry per
    /// member and sum to `send.len()`: otherwise every member gets an error.
    pub fn alltoallv_vec<T: Plain>(
        &self,
        send: &[T],
        counts: &[usize],
    ) -> Result<(Vec<T>, Vec<usize>)> {
        let _op = self.op("alltoallv_vec");
        let ok = counts.len() == self.size() && checked_total(counts) == Some(send.len());
        let counts = if ok {
            Ok(counts)
        } else {
            Err(Refusal::BadCounts)
        };
        self.alltoallv_checked(send, counts, "alltoallv_vec")
    }

    /// Sends `items[i]` to member `i` and returns the item every member sent
    /// to this one, in rank order (mpi4py's `alltoall`). Every member's
    /// vector must have one item per member: otherwise every member gets an
    /// error.
    pub fn alltoall<T: Serialize + DeserializeOwned>(&self, items: Vec<T>) -> Result<Vec<T>> {
        let _op = self.op("alltoall");
        let parts: std::result::Result<Vec<Vec<u8>>, Refusal> = if items.len() != self.size() {
            Err(Refusal::WrongCount)
        } else {
            items
                .iter()
                .map(|x| codec::encode(x).map_err(|_| Refusal::Encode))
                .collect()
        };
        let counts: Vec<usize> = parts.iter().flatten().map(Vec::len).collect();
        let flat = parts.as_ref().map(|p| p.concat()).unwrap_or_default();
        let counts = parts.as_ref().map(|_| &counts[..]).map_err(|&r| r);
        let (bytes, got) = self.alltoallv_checked(&flat, counts, "alltoall")?;
        let mut at = 0;
        got.iter()
            .map(|&n| {
                let part = &bytes[at..at + n];
                at += n;
                codec::decode(part)
            })
            .collect()
    }

    /// Exchanges the counts (or a refusal), agrees that every member's total
    /// fits one MPI call, then exchanges the data.
    fn alltoallv_checked<T: Plain>(
        &self,
        send: &[T],
        counts: std::result::Result<&[usize], Refusal>,
        what: &str,
    ) -> Result<(Vec<T>, Vec<usize>)> {
        let size = self.size();
        let header: Vec<u64> = match counts {
            Ok(c) => c.iter().map(|&n| n as u64).collect(),
            Err(r) => vec![r.code(); size],
        };
        let ones = vec![1; size];
        let mut incoming = vec![0u64; size];
        raw!(self, g => g.alltoallv(&header, &ones, &mut incoming, &ones))?;
        if let Some((from, r)) = incoming
            .iter()
            .enumerate()
            .find_map(|(i, &c)| Refusal::from_code(c).map(|r| (i, r)))
        {
            let why = match r {
                Refusal::Encode => {
                    return Err(Error::new(
                        ErrorKind::Codec,
                        format!("{what}: rank {from} could not encode its items"),
                    ))
                }
                Refusal::WrongCount => "its number of items is not the group size",
                _ => "its counts do not match the group size or its data's length",
            };
            return Err(Error::invalid(format!(
                "{what}: rank {from} refused: {why}"
            )));
        }
        let got: Vec<usize> = incoming.iter().map(|&c| c as usize).collect();
        let total = checked_total(&got);
        let fits = [u8::from(total.is_some())];
        let mut all_fit = [0u8];
        raw!(self, g => g.allreduce(&fits, &mut all_fit, crate::comm::plain::Op::Min))?;
        if all_fit[0] == 0 {
            return Err(Error::invalid(format!(
                "{what}: a member would receive over MPI's 2^31-element limit for one call ({MAX_COUNT})"
            )));
        }
        let mut out = vec![T::zeroed(); total.unwrap_or(0)];
        let counts = counts.unwrap_or(&[]);
        raw!(self, g => g.alltoallv(send, counts, &mut out, &got))?;
        Ok((out, got))
    }
}
