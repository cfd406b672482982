//! Task events in the compact form a worker sends them in and the scheduler
//! keeps them in: [`PackedTasks`], one worker's events in the order they
//! were recorded, about 13 bytes each instead of a [`TaskEvent`]'s 40-odd
//! bytes of postcard (and its field-by-field decoding).
//!
//! A batch names its worker once and its functions once (a table; each event
//! holds the index). Each event is then its key (8 bytes, little-endian:
//! keys are hashes, which a varint would stretch to 10 bytes) and four
//! LEB128 varints: the function's index, `thread << 1 | failed`, its start
//! less the previous event's start (zigzag: executor threads interleave, so
//! a start may be earlier than the one before it), and its run time. The
//! whole is one byte string in the message, so decoding a batch is one copy;
//! events are expanded only when something reads them (a report, a
//! dashboard's stream), by [`PackedTasks::iter`].
//!
//! A batch from the network is checked once by [`PackedTasks::check`]
//! before anything iterates it; iterating a batch that fails the check stops
//! at the first bad event.

use super::events::TaskEvent;
use crate::task::shipping::FnRef;
use crate::task::Key;
use serde::{Deserialize, Serialize};

/// One worker's task events, packed (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackedTasks {
    /// The worker's rank.
    worker: usize,
    /// The functions the events ran, referred to by index.
    functions: Vec<FnRef>,
    /// The first event's start, µs since the Unix epoch.
    first_us: u64,
    /// The last event's start (where the next event's delta counts from).
    last_us: u64,
    /// Events held.
    count: u32,
    /// The events.
    #[serde(with = "crate::comm::bytes")]
    bytes: Vec<u8>,
}

impl PackedTasks {
    /// An empty batch for worker `worker`, with room for `events` events.
    pub fn with_capacity(worker: usize, events: usize) -> Self {
        PackedTasks {
            worker,
            bytes: Vec::with_capacity(events * 14),
            ..PackedTasks::default()
        }
    }

    /// The worker whose events these are.
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether it holds no event.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the events take (the function table aside).
    pub fn packed_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Adds one task's run on executor thread `thread`, from `start_us` to
    /// `stop_us` (µs since the Unix epoch; a stop before the start counts as
    /// the start).
    pub fn push(
        &mut self,
        key: Key,
        function: FnRef,
        thread: u32,
        start_us: u64,
        stop_us: u64,
        failed: bool,
    ) {
        // Tasks of one batch run a handful of functions: the last one is the
        // usual hit, a short scan the rare miss.
        let index = match self.functions.iter().rposition(|f| *f == function) {
            Some(i) => i,
            None => {
                self.functions.push(function);
                self.functions.len() - 1
            }
        };
        if self.count == 0 {
            self.first_us = start_us;
            self.last_us = start_us;
        }
        let delta = start_us.wrapping_sub(self.last_us) as i64;
        self.last_us = start_us;
        self.bytes.extend_from_slice(&key.0.to_le_bytes());
        put_varint(&mut self.bytes, index as u64);
        put_varint(
            &mut self.bytes,
            (u64::from(thread) << 1) | u64::from(failed),
        );
        put_varint(&mut self.bytes, zigzag(delta));
        put_varint(&mut self.bytes, stop_us.saturating_sub(start_us));
        self.count += 1;
    }

    /// The events held, leaving this batch empty (for the same worker, with
    /// room for as many events).
    pub fn take(&mut self) -> PackedTasks {
        let room = self.bytes.len();
        let mut full = std::mem::replace(
            self,
            PackedTasks {
                worker: self.worker,
                bytes: Vec::with_capacity(room),
                ..PackedTasks::default()
            },
        );
        full.bytes.shrink_to_fit();
        full
    }

    /// Adds `event` (its worker is this batch's).
    pub fn push_event(&mut self, event: &TaskEvent) {
        self.push(
            event.key,
            event.function,
            event.thread,
            event.start_us,
            event.stop_us,
            event.failed,
        );
    }

    /// The events, in the order they were recorded.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            packed: self,
            at: 0,
            start_us: self.first_us,
            left: self.count,
        }
    }

    /// Checks a batch that came over the network: every event whole, every
    /// function index in the table, the count right and nothing after the
    /// last event.
    pub fn check(&self) -> Result<(), String> {
        let mut it = self.iter();
        for n in 0..self.count {
            if it.next().is_none() {
                return Err(format!(
                    "packed task events of worker {}: event {n} of {} is malformed",
                    self.worker, self.count
                ));
            }
        }
        if it.at != self.bytes.len() {
            return Err(format!(
                "packed task events of worker {}: {} bytes after the last of {} events",
                self.worker,
                self.bytes.len() - it.at,
                self.count
            ));
        }
        Ok(())
    }
}

/// The events of a [`PackedTasks`], expanded one by one.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    packed: &'a PackedTasks,
    /// Where the next event starts in the bytes.
    at: usize,
    /// The previous event's start.
    start_us: u64,
    /// Events not yet read.
    left: u32,
}

impl Iterator for Iter<'_> {
    type Item = TaskEvent;

    fn next(&mut self) -> Option<TaskEvent> {
        if self.left == 0 {
            return None;
        }
        let bytes = &self.packed.bytes;
        let key = bytes.get(self.at..self.at + 8)?;
        let key = Key(u64::from_le_bytes(key.try_into().ok()?));
        let mut at = self.at + 8;
        let function = *self
            .packed
            .functions
            .get(usize::try_from(get_varint(bytes, &mut at)?).ok()?)?;
        let thread = get_varint(bytes, &mut at)?;
        let delta = unzigzag(get_varint(bytes, &mut at)?);
        let micros = get_varint(bytes, &mut at)?;
        let start_us = self.start_us.wrapping_add(delta as u64);
        let event = TaskEvent {
            key,
            function,
            worker: self.packed.worker,
            thread: u32::try_from(thread >> 1).ok()?,
            start_us,
            stop_us: start_us.saturating_add(micros),
            failed: thread & 1 == 1,
        };
        self.at = at;
        self.start_us = start_us;
        self.left -= 1;
        Some(event)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The varint at `*at`, moving `*at` past it; `None` if it runs past the
/// end or over 64 bits.
fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return (shift < 63 || b <= 1).then_some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comm::codec;

    fn noop(x: u64) -> u64 {
        x
    }

    fn twice(x: u64) -> u64 {
        2 * x
    }

    fn event(key: u64, function: FnRef, thread: u32, start_us: u64, micros: u64) -> TaskEvent {
        TaskEvent {
            key: Key(key),
            function,
            worker: 5,
            thread,
            start_us,
            stop_us: start_us + micros,
            failed: key % 3 == 0,
        }
    }

    #[test]
    fn events_come_back_as_they_went_in() {
        let (f, g) = (
            crate::task::shipping::task_function_ref::<_, _, u64>(noop, 0),
            crate::task::shipping::task_function_ref::<_, _, u64>(twice, 0),
        );
        let t0 = 1_764_000_000_000_000;
        let events = vec![
            event(u64::MAX, f, 0, t0, 3),
            // A start earlier than the one before (another thread).
            event(1, g, 7, t0 - 2, 0),
            event(0x1234_5678_9abc_def0, f, 1, t0 + 1_000_000, 70_000_000),
            event(3, g, u32::MAX, t0 + 1_000_001, 1),
        ];
        let mut p = PackedTasks::with_capacity(5, 4);
        for e in &events {
            p.push_event(e);
        }
        assert_eq!(p.len(), 4);
        assert_eq!(p.iter().collect::<Vec<_>>(), events);
        assert!(p.check().is_ok());
        let wire: PackedTasks = codec::decode(&codec::encode(&p).unwrap()).unwrap();
        assert_eq!(wire, p);
        assert_eq!(wire.iter().collect::<Vec<_>>(), events);
        // Keys take 8 bytes each; function indexes 1; threads 1, 1, 1 and 5
        // (u32::MAX); start deltas 1, 1, 3 (one second) and 1; run times 1,
        // 1, 4 (70 s) and 1.
        assert_eq!(p.packed_bytes(), 4 * 8 + 4 + 8 + 6 + 7);
        // Pushing onto a batch that crossed the wire continues its deltas.
        let mut more = wire;
        more.push_event(&events[0]);
        assert_eq!(more.iter().last(), Some(events[0].clone()));
    }

    #[test]
    fn a_malformed_batch_fails_its_check_and_iterates_no_further() {
        let f = crate::task::shipping::task_function_ref::<_, _, u64>(noop, 0);
        let mut p = PackedTasks::with_capacity(2, 2);
        p.push_event(&event(1, f, 0, 10, 1));
        p.push_event(&event(2, f, 0, 20, 1));
        let whole = p.clone();

        let mut short = whole.clone();
        short.bytes.pop();
        assert_eq!(short.iter().count(), 1);
        let e = short.check().unwrap_err();
        assert!(e.contains("event 1 of 2 is malformed"), "{e}");

        let mut long = whole.clone();
        long.bytes.push(0);
        let e = long.check().unwrap_err();
        assert!(e.contains("1 bytes after the last of 2 events"), "{e}");

        let mut no_function = whole.clone();
        no_function.functions.clear();
        assert_eq!(no_function.iter().count(), 0);
        assert!(no_function.check().is_err());

        let mut over = whole;
        over.count = 3;
        assert!(over.check().is_err());
    }

    #[test]
    fn varints_round_trip_and_refuse_overlong_input() {
        for v in [
            0,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut at = 0;
            assert_eq!(get_varint(&b, &mut at), Some(v));
            assert_eq!(at, b.len());
        }
        for v in [0, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        let mut at = 0;
        assert_eq!(get_varint(&[0xff; 11], &mut at), None);
        let mut at = 0;
        assert_eq!(get_varint(&[0x80], &mut at), None);
    }
}
