//! Random and mutated inputs for every decoder a peer's bytes reach: the
//! protocol messages of each direction (through the codec), plain-number
//! slices, and the serde flavour of point-to-point receives in an
//! in-process group. None may panic, and none may make a single allocation
//! larger than 1 MiB (serde's cap on what a length prefix may reserve) plus
//! the input's own length: a forged length prefix must not reserve memory.
//!
//! `RANKFLOW_FUZZ_INPUTS` sets the number of inputs per decoder target
//! (default 10,000: over 100,000 inputs in all; a soak run can ask for millions).

use rankflow::comm::codec;
use rankflow::protocol::{
    ClientToScheduler, ClientToWorker, SchedulerToClient, SchedulerToWorker, WorkerToClient,
    WorkerToScheduler, WorkerToWorker,
};
use serde::de::DeserializeOwned;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the largest single allocation made on threads that ask for it.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static WATCHED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is passed straight to the system allocator with the
// caller's layout; the bookkeeping beside it touches only an atomic and a
// const-initialised thread-local flag, neither of which allocates.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if WATCHED.with(Cell::get) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's layout, as GlobalAlloc requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if WATCHED.with(Cell::get) {
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// What serde lets a length prefix reserve before the elements arrive.
const PREALLOC_CAP: usize = 1 << 20;

/// splitmix64: a small, seeded, reproducible generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn inputs_per_target() -> usize {
    std::env::var("RANKFLOW_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// A random input: mostly short (where a tag and a few fields decode), now
/// and then long, sometimes led by a huge varint (a forged length).
fn random_input(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(10) {
        0 => rng.below(4096),
        _ => rng.below(48),
    };
    let mut b = rng.bytes(len);
    if rng.below(4) == 0 && !b.is_empty() {
        let tag = rng.below(24) as u8;
        b[0] = tag;
        if b.len() > 6 {
            b[1..6].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        }
    }
    b
}

/// One mutation of a valid encoding: a bit flip, a truncation, a forged
/// varint, a duplicated or deleted run.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    match rng.below(6) {
        0 if !b.is_empty() => {
            let i = rng.below(b.len());
            b[i] ^= 1 << rng.below(8);
        }
        1 => b.truncate(rng.below(b.len() + 1)),
        2 => {
            let i = rng.below(b.len() + 1);
            b.splice(
                i..i,
                [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            );
        }
        3 if !b.is_empty() => {
            let i = rng.below(b.len());
            let j = (i + rng.below(16)).min(b.len());
            let run = b[i..j].to_vec();
            b.splice(i..i, run);
        }
        4 if !b.is_empty() => {
            let i = rng.below(b.len());
            let j = (i + rng.below(8)).min(b.len());
            b.drain(i..j);
        }
        _ => {
            let i = rng.below(b.len() + 1);
            let len = 1 + rng.below(8);
            let extra = rng.bytes(len);
            b.splice(i..i, extra);
        }
    }
    b
}

/// Decodes `input` as a `T` on a watched thread and checks the largest
/// allocation it made.
fn decode_watched<T: DeserializeOwned>(input: &[u8]) -> bool {
    LARGEST.store(0, Ordering::Relaxed);
    WATCHED.with(|w| w.set(true));
    let ok = codec::decode::<T>(input).is_ok();
    WATCHED.with(|w| w.set(false));
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= PREALLOC_CAP + input.len() * 8,
        "decoding {} bytes as {} allocated {largest} bytes at once: {:02x?}",
        input.len(),
        std::any::type_name::<T>(),
        &input[..input.len().min(64)]
    );
    ok
}

/// Random inputs first; those that decode become seeds for mutations.
/// Returns how many inputs decoded.
fn fuzz<T: DeserializeOwned>(seed: u64) -> usize {
    let n = inputs_per_target();
    let mut rng = Rng(seed);
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    let mut decoded = 0;
    let mut tried = 0;
    while tried < n {
        let input = if tried < n / 2 || seeds.is_empty() {
            random_input(&mut rng)
        } else {
            let s = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, s)
        };
        // Every prefix of a short input: trailing bytes are refused, so a
        // valid message is far more often a prefix of random bytes than
        // all of them.
        let shortest = if input.len() <= 48 { 0 } else { input.len() };
        for end in shortest..=input.len() {
            tried += 1;
            if decode_watched::<T>(&input[..end]) {
                decoded += 1;
                if seeds.len() < 256 {
                    seeds.push(input[..end].to_vec());
                }
            }
        }
    }
    decoded
}

#[test]
fn protocol_messages_of_every_direction() {
    let counts = [
        ("ClientToScheduler", fuzz::<ClientToScheduler>(1)),
        ("SchedulerToClient", fuzz::<SchedulerToClient>(2)),
        ("WorkerToScheduler", fuzz::<WorkerToScheduler>(3)),
        ("SchedulerToWorker", fuzz::<SchedulerToWorker>(4)),
        ("ClientToWorker", fuzz::<ClientToWorker>(5)),
        ("WorkerToClient", fuzz::<WorkerToClient>(6)),
        ("WorkerToWorker", fuzz::<WorkerToWorker>(7)),
    ];
    // The mutation phase only means something if some inputs decoded.
    for (name, decoded) in counts {
        assert!(decoded > 0, "no random input decoded as {name}");
    }
}

#[test]
fn plain_slices_and_values() {
    fuzz::<Vec<String>>(11);
    fuzz::<(u64, Vec<f64>, Option<String>)>(12);
    let mut rng = Rng(13);
    for _ in 0..inputs_per_target() {
        let input = random_input(&mut rng);
        let as_f64 = codec::plain_vec_from_bytes::<f64>(&input);
        assert_eq!(
            as_f64.is_ok(),
            input.len() % 8 == 0,
            "{} bytes",
            input.len()
        );
    }
}

#[test]
fn a_forged_length_prefix_reserves_nothing() {
    // A Vec<u64> claiming 2^35 elements, followed by 3 bytes.
    let forged = [0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 1, 2, 3];
    assert!(!decode_watched::<Vec<u64>>(&forged));
    let forged_strings = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x05, b'h', b'e', b'l', b'l', b'o',
    ];
    assert!(!decode_watched::<Vec<String>>(&forged_strings));
    // Over the limit is refused before decoding.
    assert!(codec::decode_limited::<Vec<u8>>(&[0u8; 100], 99).is_err());
}

#[test]
fn point_to_point_receives_of_malformed_messages() {
    let n = inputs_per_target() / 8;
    let config = rankflow::Config::new()
        .mode(rankflow::Mode::Local)
        .local_workers(2);
    let received = rankflow::spmd(config, |g| {
        let mut rng = Rng(21);
        let mut ok = 0usize;
        for i in 0..n {
            let input = if i % 2 == 0 {
                random_input(&mut rng)
            } else {
                mutate(
                    &mut rng,
                    &codec::encode(&(i as u64, "seed", vec![1.5f64; 3]))?,
                )
            };
            if g.rank() == 0 {
                g.send_slice(&input, 1, 7)?;
            } else {
                WATCHED.with(|w| w.set(true));
                LARGEST.store(0, Ordering::Relaxed);
                let r = g.recv::<(u64, String, Vec<f64>)>(Some(0), Some(7));
                WATCHED.with(|w| w.set(false));
                assert!(LARGEST.load(Ordering::Relaxed) <= PREALLOC_CAP + input.len() * 8);
                ok += usize::from(r.is_ok());
            }
        }
        Ok(ok)
    })
    .unwrap();
    assert!(received < n, "every malformed message decoded?");
}
