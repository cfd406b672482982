//! Large payloads cross MPI in pieces, so that one multi-gigabyte message
//! never holds up the messages behind it (and no MPI count goes past 32
//! bits).
//!
//! A payload over the piece size is sent as a header on [`TAG_PIECES`] (its
//! length and its own tag) followed by the payload's pieces on
//! [`TAG_PIECE`], all posted at once and in order. The receiver's progress
//! thread probes with wildcards and takes one piece per probe, straight into
//! the message's buffer; between two pieces it receives control messages
//! from other ranks and starts and completes its own sends. The message is
//! delivered whole when its last piece is in.
//!
//! Order of whole messages per (sender, receiver) pair is kept by MPI's
//! non-overtaking rule: a sender's messages to one receiver are matched in
//! the order they were posted, wildcard probes included, so a message sent
//! after a large one arrives after its last piece. A sender has at most one
//! message in pieces in flight per receiver as far as the receiver can
//! tell, so the receiver keeps one assembly per sender.

use super::transport::{Envelope, Rank, Tag};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::ops::Range;

/// Tag of the header of a message in pieces: its length in bytes (`u64`,
/// little-endian) and its tag (`u16`, little-endian).
pub const TAG_PIECES: Tag = 4;

/// Tag of a piece of a message whose header came before it.
pub const TAG_PIECE: Tag = 5;

const HEADER_BYTES: usize = 10;

/// The header of a message of `total` bytes sent with `tag`.
pub fn header(total: usize, tag: Tag) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_BYTES);
    h.extend_from_slice(&(total as u64).to_le_bytes());
    h.extend_from_slice(&tag.to_le_bytes());
    h
}

/// The byte ranges of the pieces of a `total`-byte payload.
pub fn ranges(total: usize, piece: usize) -> impl Iterator<Item = Range<usize>> {
    let piece = piece.max(1);
    (0..total)
        .step_by(piece)
        .map(move |start| start..(start + piece).min(total))
}

/// Messages from each sender being put together from their pieces.
#[derive(Debug)]
pub struct Assembler {
    max_message_bytes: usize,
    partial: HashMap<Rank, Partial>,
    /// Bytes received into assemblies not yet whole.
    in_progress: usize,
}

#[derive(Debug)]
enum Partial {
    Filling {
        tag: Tag,
        buf: Vec<u8>,
        filled: usize,
    },
    /// Over the message limit: pieces are received and dropped.
    Dropping { total: usize, seen: usize },
}

impl Assembler {
    /// Assemblies of messages up to `max_message_bytes`.
    pub fn new(max_message_bytes: usize) -> Self {
        Assembler {
            max_message_bytes,
            partial: HashMap::new(),
            in_progress: 0,
        }
    }

    /// Bytes received into messages not yet whole (for the readers' queue
    /// level).
    pub fn in_progress(&self) -> usize {
        self.in_progress
    }

    /// A header from `source`. Returns a message at once when the payload is
    /// empty, or an error for a malformed header.
    pub fn header(&mut self, source: Rank, bytes: &[u8]) -> Option<Result<Envelope>> {
        let parsed: Option<([u8; 8], [u8; 2])> = (bytes.len() == HEADER_BYTES)
            .then(|| (bytes[..8].try_into().ok(), bytes[8..].try_into().ok()))
            .and_then(|(a, b)| Some((a?, b?)));
        let Some((len, tag)) = parsed else {
            return Some(Err(Error::protocol(format!(
                "rank {source} sent a {}-byte piece header; a header has {HEADER_BYTES}",
                bytes.len()
            ))));
        };
        let (total, tag) = (u64::from_le_bytes(len), Tag::from_le_bytes(tag));
        let stale = self.drop_partial(source);
        if stale {
            log::warn!("rank {source} began a message before finishing the last one");
        }
        let total = match usize::try_from(total) {
            Ok(t) if t <= self.max_message_bytes => t,
            _ => {
                let total = usize::try_from(total).unwrap_or(usize::MAX);
                self.partial
                    .insert(source, Partial::Dropping { total, seen: 0 });
                return None;
            }
        };
        if total == 0 {
            return Some(Ok(Envelope {
                source,
                tag,
                payload: Vec::new(),
            }));
        }
        // Zeroed memory comes from fresh pages for large sizes: no pass
        // over the bytes before MPI writes them.
        let buf = vec![0u8; total];
        self.partial.insert(
            source,
            Partial::Filling {
                tag,
                buf,
                filled: 0,
            },
        );
        None
    }

    /// Where the next piece of `count` bytes from `source` goes: the next
    /// `count` bytes of its message, or `None` when it must be received
    /// elsewhere and handed to [`discarded`](Self::discarded) (a message
    /// over the limit, no header, or a piece longer than what is left).
    pub fn slot(&mut self, source: Rank, count: usize) -> Option<&mut [u8]> {
        match self.partial.get_mut(&source) {
            Some(Partial::Filling { buf, filled, .. }) if count <= buf.len() - *filled => {
                Some(&mut buf[*filled..*filled + count])
            }
            _ => None,
        }
    }

    /// `count` bytes were received into [`slot`](Self::slot); returns the
    /// message when it is whole.
    pub fn filled(&mut self, source: Rank, count: usize) -> Option<Result<Envelope>> {
        let Some(Partial::Filling { buf, filled, .. }) = self.partial.get_mut(&source) else {
            return Some(Err(Error::protocol(format!(
                "piece from rank {source} filled with no message to fill"
            ))));
        };
        *filled += count;
        self.in_progress += count;
        if *filled < buf.len() {
            return None;
        }
        match self.partial.remove(&source) {
            Some(Partial::Filling { tag, buf, .. }) => {
                self.in_progress -= buf.len();
                Some(Ok(Envelope {
                    source,
                    tag,
                    payload: buf,
                }))
            }
            _ => None,
        }
    }

    /// A piece of `count` bytes from `source` that had no slot was received
    /// and dropped. Returns the error to report, if this is the moment to.
    pub fn discarded(&mut self, source: Rank, count: usize) -> Option<Result<Envelope>> {
        match self.partial.get_mut(&source) {
            Some(Partial::Dropping { total, seen }) => {
                *seen = seen.saturating_add(count);
                if *seen < *total {
                    return None;
                }
                let total = *total;
                self.partial.remove(&source);
                Some(Err(Error::codec(format!(
                    "rank {source} sent a message of {total} bytes, over the {}-byte limit \
                     (RANKFLOW_MAX_MESSAGE); it was dropped",
                    self.max_message_bytes
                ))))
            }
            Some(Partial::Filling { buf, filled, .. }) => {
                let left = buf.len() - *filled;
                self.drop_partial(source);
                Some(Err(Error::protocol(format!(
                    "rank {source} sent a piece of {count} bytes where {left} were left; \
                     the message was dropped"
                ))))
            }
            None => Some(Err(Error::protocol(format!(
                "rank {source} sent a piece of {count} bytes with no header before it"
            )))),
        }
    }

    /// Forgets `source`'s assembly; whether there was one.
    fn drop_partial(&mut self, source: Rank) -> bool {
        match self.partial.remove(&source) {
            Some(Partial::Filling { filled, .. }) => {
                self.in_progress -= filled;
                true
            }
            Some(Partial::Dropping { .. }) => true,
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What one sender puts on the wire for `payload` sent with `tag`.
    fn wire(tag: Tag, payload: &[u8], piece: usize) -> Vec<(Tag, Vec<u8>)> {
        if payload.len() <= piece {
            return vec![(tag, payload.to_vec())];
        }
        let mut out = vec![(TAG_PIECES, header(payload.len(), tag))];
        out.extend(ranges(payload.len(), piece).map(|r| (TAG_PIECE, payload[r].to_vec())));
        out
    }

    /// A receiver: what the progress thread does with each message.
    fn receive(a: &mut Assembler, source: Rank, tag: Tag, data: &[u8]) -> Option<Result<Envelope>> {
        match tag {
            TAG_PIECES => a.header(source, data),
            TAG_PIECE => match a.slot(source, data.len()) {
                Some(slot) => {
                    slot.copy_from_slice(data);
                    a.filled(source, data.len())
                }
                None => a.discarded(source, data.len()),
            },
            _ => Some(Ok(Envelope {
                source,
                tag,
                payload: data.to_vec(),
            })),
        }
    }

    fn payload(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn ranges_cover_the_payload_in_order() {
        let r: Vec<_> = ranges(10, 4).collect();
        assert_eq!(r, vec![0..4, 4..8, 8..10]);
        assert_eq!(ranges(8, 4).count(), 2);
        assert_eq!(ranges(0, 4).count(), 0);
    }

    #[test]
    fn two_senders_interleaved_reassemble_whole_and_in_order() {
        let piece = 7;
        let sent: Vec<Vec<(Tag, Vec<u8>)>> = (0..2u8)
            .map(|s| {
                vec![
                    (1, payload(3, s)),
                    (9, payload(50, s + 10)),
                    (1, payload(5, s + 20)),
                    (3, payload(7, s + 30)),
                    (1, payload(8, s + 40)),
                ]
            })
            .collect();
        let streams: Vec<Vec<(Tag, Vec<u8>)>> = sent
            .iter()
            .map(|msgs| msgs.iter().flat_map(|(t, p)| wire(*t, p, piece)).collect())
            .collect();
        assert!(streams[0].iter().filter(|(t, _)| *t == TAG_PIECE).count() > 5);
        // Alternate the two senders' wire messages, as wildcard probes may.
        let mut a = Assembler::new(1 << 20);
        let mut got: Vec<Vec<(Tag, Vec<u8>)>> = vec![Vec::new(), Vec::new()];
        let (mut i, mut j) = (0, 0);
        while i < streams[0].len() || j < streams[1].len() {
            for (source, k) in [(0usize, &mut i), (1, &mut j)] {
                if let Some((tag, data)) = streams[source].get(*k) {
                    *k += 1;
                    if let Some(e) = receive(&mut a, source + 2, *tag, data) {
                        let e = e.unwrap();
                        assert_eq!(e.source, source + 2);
                        got[source].push((e.tag, e.payload));
                    }
                }
            }
            let whole_bytes: usize = a.in_progress();
            assert!(whole_bytes <= 100);
        }
        assert_eq!(got, sent);
        assert_eq!(a.in_progress(), 0);
    }

    #[test]
    fn a_message_over_the_limit_is_drained_and_reported_once() {
        let mut a = Assembler::new(20);
        let big = payload(30, 1);
        let mut out = Vec::new();
        for (tag, data) in wire(1, &big, 8).into_iter().chain(wire(1, &[5], 8)) {
            if let Some(e) = receive(&mut a, 3, tag, &data) {
                out.push(e);
            }
        }
        assert_eq!(out.len(), 2, "{out:?}");
        let err = out[0].as_ref().unwrap_err().to_string();
        assert!(
            err.contains("30 bytes") && err.contains("20-byte limit"),
            "{err}"
        );
        assert_eq!(out[1].as_ref().unwrap().payload, vec![5]);
        assert_eq!(a.in_progress(), 0);
    }

    #[test]
    fn malformed_pieces_are_errors_not_panics() {
        let mut a = Assembler::new(1 << 20);
        let e = receive(&mut a, 2, TAG_PIECE, &[1, 2]).unwrap().unwrap_err();
        assert!(e.to_string().contains("no header"), "{e}");
        let e = receive(&mut a, 2, TAG_PIECES, &[1, 2])
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
        assert!(receive(&mut a, 2, TAG_PIECES, &header(4, 1)).is_none());
        assert!(receive(&mut a, 2, TAG_PIECE, &[1, 2]).is_none());
        assert_eq!(a.in_progress(), 2);
        let e = receive(&mut a, 2, TAG_PIECE, &[1, 2, 3])
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().contains("where 2 were left"), "{e}");
        assert_eq!(a.in_progress(), 0);
        let empty = receive(&mut a, 2, TAG_PIECES, &header(0, 7))
            .unwrap()
            .unwrap();
        assert_eq!((empty.tag, empty.payload.len()), (7, 0));
    }
}
