//! Large payloads cross MPI in pieces, so that one multi-gigabyte message
//! never holds up the messages behind it, and no MPI count goes past 32
//! bits whatever the message's size.
//!
//! A message is its payload and the bodies sent beside it
//! ([`Outbox::send_with_bodies`](super::transport::Outbox::send_with_bodies)),
//! its *segments*. A message with bodies, or whose payload is over the piece
//! size, is sent as a header on [`TAG_PIECES`] (its tag and its segments'
//! lengths) followed by each segment's pieces on [`TAG_PIECE`], all posted
//! at once and in order; no piece spans two segments. The receiver's
//! progress thread probes with wildcards and takes one piece per probe,
//! straight into its segment's own buffer; between two pieces it receives
//! control messages from other ranks and starts and completes its own
//! sends. The message is delivered whole when its last piece is in: the
//! payload, and each body in a buffer of its own, none copied.
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
use std::sync::Arc;

/// Tag of the header of a message in pieces: its tag (`u16`), its number
/// of segments (`u32`) and each segment's length in bytes (`u64`), all
/// little-endian.
pub const TAG_PIECES: Tag = 4;

/// Tag of a piece of a message whose header came before it.
pub const TAG_PIECE: Tag = 5;

/// Bytes of a header before the segments' lengths.
const HEADER_FIXED: usize = 6;

/// Most segments one message may have (a payload and its bodies).
pub const MAX_SEGMENTS: usize = 1 << 16;

/// The header of a message sent with `tag` whose segments have these
/// lengths.
pub fn header(tag: Tag, lengths: &[usize]) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_FIXED + 8 * lengths.len());
    h.extend_from_slice(&tag.to_le_bytes());
    h.extend_from_slice(&(lengths.len() as u32).to_le_bytes());
    for n in lengths {
        h.extend_from_slice(&(*n as u64).to_le_bytes());
    }
    h
}

/// Reads a header: the tag and the segments' lengths.
fn parse_header(bytes: &[u8]) -> Option<(Tag, Vec<u64>)> {
    let tag = Tag::from_le_bytes(bytes.get(..2)?.try_into().ok()?);
    let count = u32::from_le_bytes(bytes.get(2..HEADER_FIXED)?.try_into().ok()?) as usize;
    let rest = bytes.get(HEADER_FIXED..)?;
    if count == 0 || count > MAX_SEGMENTS || rest.len() != 8 * count {
        return None;
    }
    let lengths = rest
        .chunks_exact(8)
        .map(|c| c.try_into().map(u64::from_le_bytes))
        .collect::<std::result::Result<Vec<u64>, _>>()
        .ok()?;
    Some((tag, lengths))
}

/// The byte ranges of the pieces of a `total`-byte segment.
pub fn ranges(total: usize, piece: usize) -> impl Iterator<Item = Range<usize>> {
    let piece = piece.max(1);
    (0..total)
        .step_by(piece)
        .map(move |start| start..(start + piece).min(total))
}

/// One MPI message of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// The payload whole, with the message's own tag.
    Whole(Tag),
    /// A header on [`TAG_PIECES`].
    Header(Vec<u8>),
    /// Bytes `range` of segment `segment` (0 = the payload, then the
    /// bodies), on [`TAG_PIECE`].
    Piece {
        /// The segment.
        segment: usize,
        /// Its bytes this piece carries.
        range: Range<usize>,
    },
}

/// What a sender puts on the wire, in order, for a message sent with `tag`
/// whose segments (the payload, then the bodies) have these lengths: the
/// payload whole when it is the only segment and fits in a piece, else a
/// header and every segment's pieces, each at most `piece` bytes.
pub fn plan(tag: Tag, lengths: &[usize], piece: usize) -> Vec<Wire> {
    if let [only] = lengths {
        if *only <= piece {
            return vec![Wire::Whole(tag)];
        }
    }
    let mut out = vec![Wire::Header(header(tag, lengths))];
    for (segment, n) in lengths.iter().enumerate() {
        out.extend(ranges(*n, piece).map(|range| Wire::Piece { segment, range }));
    }
    out
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
    Filling(Filling),
    /// Over the message limit: pieces are received and dropped.
    Dropping {
        total: usize,
        seen: usize,
    },
}

/// A message being filled, segment after segment.
#[derive(Debug)]
struct Filling {
    tag: Tag,
    segments: Vec<Vec<u8>>,
    /// The segment the next piece goes into.
    current: usize,
    /// Bytes of `segments[current]` already in.
    filled: usize,
    /// Bytes of the whole message already in.
    received: usize,
}

impl Filling {
    /// Moves past full (or empty) segments; whether the message is whole.
    fn settle(&mut self) -> bool {
        while self
            .segments
            .get(self.current)
            .is_some_and(|s| self.filled == s.len())
        {
            self.current += 1;
            self.filled = 0;
        }
        self.current == self.segments.len()
    }

    /// Bytes the current segment still waits for.
    fn left(&self) -> usize {
        self.segments
            .get(self.current)
            .map_or(0, |s| s.len() - self.filled)
    }

    fn into_envelope(self, source: Rank) -> Envelope {
        let mut segments = self.segments.into_iter();
        Envelope {
            source,
            tag: self.tag,
            payload: segments.next().unwrap_or_default(),
            bodies: segments.map(Arc::new).collect(),
        }
    }
}

impl Assembler {
    /// Assemblies of messages up to `max_message_bytes` (payload and bodies
    /// together).
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

    /// A header from `source`. Returns a message at once when every segment
    /// is empty, or an error for a malformed header.
    pub fn header(&mut self, source: Rank, bytes: &[u8]) -> Option<Result<Envelope>> {
        let Some((tag, lengths)) = parse_header(bytes) else {
            return Some(Err(Error::protocol(format!(
                "rank {source} sent a malformed {}-byte piece header",
                bytes.len()
            ))));
        };
        let stale = self.drop_partial(source);
        if stale {
            log::warn!("rank {source} began a message before finishing the last one");
        }
        let total = lengths
            .iter()
            .try_fold(0u64, |t, n| t.checked_add(*n))
            .and_then(|t| usize::try_from(t).ok());
        let total = match total {
            Some(t) if t <= self.max_message_bytes => t,
            _ => {
                let total = total.unwrap_or(usize::MAX);
                self.partial
                    .insert(source, Partial::Dropping { total, seen: 0 });
                return None;
            }
        };
        // Zeroed memory comes from fresh pages for large sizes: no pass
        // over the bytes before MPI writes them. Every length fits: their
        // sum is under the message limit.
        let mut filling = Filling {
            tag,
            segments: lengths.iter().map(|n| vec![0u8; *n as usize]).collect(),
            current: 0,
            filled: 0,
            received: 0,
        };
        if total == 0 || filling.settle() {
            return Some(Ok(filling.into_envelope(source)));
        }
        self.partial.insert(source, Partial::Filling(filling));
        None
    }

    /// Where the next piece of `count` bytes from `source` goes: the next
    /// `count` bytes of its current segment, or `None` when it must be
    /// received elsewhere and handed to [`discarded`](Self::discarded) (a
    /// message over the limit, no header, or a piece longer than what is
    /// left of its segment).
    pub fn slot(&mut self, source: Rank, count: usize) -> Option<&mut [u8]> {
        match self.partial.get_mut(&source) {
            Some(Partial::Filling(f)) if count <= f.left() => {
                let at = f.filled;
                Some(&mut f.segments[f.current][at..at + count])
            }
            _ => None,
        }
    }

    /// `count` bytes were received into [`slot`](Self::slot); returns the
    /// message when it is whole.
    pub fn filled(&mut self, source: Rank, count: usize) -> Option<Result<Envelope>> {
        let Some(Partial::Filling(f)) = self.partial.get_mut(&source) else {
            return Some(Err(Error::protocol(format!(
                "piece from rank {source} filled with no message to fill"
            ))));
        };
        f.filled += count;
        f.received += count;
        self.in_progress += count;
        if !f.settle() {
            return None;
        }
        match self.partial.remove(&source) {
            Some(Partial::Filling(f)) => {
                self.in_progress -= f.received;
                Some(Ok(f.into_envelope(source)))
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
            Some(Partial::Filling(f)) => {
                let left = f.left();
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
            Some(Partial::Filling(f)) => {
                self.in_progress -= f.received;
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

    /// What one sender puts on the wire for `payload` and `bodies` sent
    /// with `tag`, as the MPI transport plans it.
    fn wire_with(tag: Tag, payload: &[u8], bodies: &[&[u8]], piece: usize) -> Vec<(Tag, Vec<u8>)> {
        let segments: Vec<&[u8]> = std::iter::once(payload)
            .chain(bodies.iter().copied())
            .collect();
        let lengths: Vec<usize> = segments.iter().map(|s| s.len()).collect();
        plan(tag, &lengths, piece)
            .into_iter()
            .map(|w| match w {
                Wire::Whole(t) => (t, payload.to_vec()),
                Wire::Header(h) => (TAG_PIECES, h),
                Wire::Piece { segment, range } => (TAG_PIECE, segments[segment][range].to_vec()),
            })
            .collect()
    }

    fn wire(tag: Tag, payload: &[u8], piece: usize) -> Vec<(Tag, Vec<u8>)> {
        wire_with(tag, payload, &[], piece)
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
            _ => Some(Ok(Envelope::new(source, tag, data.to_vec()))),
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
        let mut bad = header(1, &[4]);
        bad.push(0);
        let e = receive(&mut a, 2, TAG_PIECES, &bad).unwrap().unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
        let e = receive(&mut a, 2, TAG_PIECES, &header(1, &[]))
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
        assert!(receive(&mut a, 2, TAG_PIECES, &header(1, &[4])).is_none());
        assert!(receive(&mut a, 2, TAG_PIECE, &[1, 2]).is_none());
        assert_eq!(a.in_progress(), 2);
        let e = receive(&mut a, 2, TAG_PIECE, &[1, 2, 3])
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().contains("where 2 were left"), "{e}");
        assert_eq!(a.in_progress(), 0);
        let empty = receive(&mut a, 2, TAG_PIECES, &header(7, &[0, 0]))
            .unwrap()
            .unwrap();
        assert_eq!(
            (empty.tag, empty.payload.len(), empty.bodies.len()),
            (7, 0, 1)
        );
    }

    #[test]
    fn bodies_arrive_in_buffers_of_their_own_in_order_between_control_messages() {
        let piece = 16;
        let (head, big, small) = (payload(5, 1), payload(100, 2), payload(3, 3));
        let mut stream = wire(1, &payload(4, 9), piece);
        stream.extend(wire_with(1, &head, &[&big, &[], &small], piece));
        stream.extend(wire(1, &payload(2, 8), piece));
        let pieces = stream.iter().filter(|(t, _)| *t == TAG_PIECE).count();
        assert_eq!(pieces, 1 + 7 + 1, "payload, 100 bytes in 16s, empty, small");
        let mut a = Assembler::new(1 << 20);
        let got: Vec<Envelope> = stream
            .iter()
            .filter_map(|(t, d)| receive(&mut a, 2, *t, d))
            .map(Result::unwrap)
            .collect();
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].payload.clone(), got[0].bodies.len()),
            (payload(4, 9), 0)
        );
        assert_eq!(got[1].payload, head);
        let bodies: Vec<&[u8]> = got[1].bodies.iter().map(|b| b.as_slice()).collect();
        assert_eq!(bodies, vec![&big[..], &[][..], &small[..]]);
        assert_eq!(got[1].len(), 5 + 100 + 3);
        assert_eq!(got[2].payload, payload(2, 8));
        assert_eq!(a.in_progress(), 0);
    }

    #[test]
    fn a_payload_over_the_mpi_count_is_planned_in_pieces_under_it() {
        let piece = 1 << 30;
        let total = (5usize << 30) + 7;
        let p = plan(3, &[total], piece);
        assert_eq!(p.len(), 1 + 6);
        let mut next = 0;
        for w in &p[1..] {
            let Wire::Piece { segment: 0, range } = w else {
                panic!("{w:?}")
            };
            assert_eq!(range.start, next);
            assert!(range.len() <= i32::MAX as usize);
            next = range.end;
        }
        assert_eq!(next, total);
        assert_eq!(plan(3, &[piece], piece), vec![Wire::Whole(3)]);
        assert_eq!(plan(3, &[4, 0], piece).len(), 2, "header and one piece");
    }

    #[test]
    fn bodies_over_the_limit_together_are_dropped_and_reported() {
        let mut a = Assembler::new(64);
        let mut out = Vec::new();
        let stream = wire_with(1, &payload(10, 1), &[&payload(40, 2), &payload(40, 3)], 16);
        for (tag, data) in stream.into_iter().chain(wire(1, &[5], 16)) {
            out.extend(receive(&mut a, 3, tag, &data));
        }
        assert_eq!(out.len(), 2, "{out:?}");
        let err = out[0].as_ref().unwrap_err().to_string();
        assert!(err.contains("90 bytes"), "{err}");
        assert_eq!(out[1].as_ref().unwrap().payload, vec![5]);
    }
}
