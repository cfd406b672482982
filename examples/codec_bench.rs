//! Measures the serde codecs we considered on rankflow's control messages:
//! postcard 1 (the one in use, behind `comm::codec`, measured through it) and
//! bincode 2.0.1. Prints one
//! JSON line with encode and decode nanoseconds per message (median of 7
//! runs) and encoded sizes.
//!
//! `cargo run --release --example codec_bench`

use rankflow::protocol::{ClientToScheduler, SchedulerToClient, WorkerInfo, WorkerToScheduler};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::hint::black_box;
use std::time::Instant;

/// The shape of a batched task submission (the task API's main message).
#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
struct TaskSpec {
    key: u64,
    function: u64,
    trampoline: u64,
    args: Vec<u8>,
    dependencies: Vec<u64>,
    priority: i32,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
enum Message {
    Ping(ClientToScheduler),
    Welcome(SchedulerToClient),
    Register(WorkerToScheduler),
    Submit(Vec<TaskSpec>),
}

fn messages() -> Vec<Message> {
    let info = |rank| WorkerInfo {
        rank,
        hostname: format!("node{:03}.cluster", rank / 16),
        pid: 40_000 + rank as u32,
        threads: 4,
        memory_limit: 1 << 30,
    };
    vec![
        Message::Ping(ClientToScheduler::Ping { id: 123_456 }),
        Message::Register(WorkerToScheduler::Register {
            info: info(7),
            fingerprint: 0x1234_5678_9abc_def0,
        }),
        Message::Welcome(SchedulerToClient::Welcome {
            workers: (2..66).map(info).collect(),
            dashboard: None,
        }),
        Message::Submit(
            (0..100)
                .map(|i| TaskSpec {
                    key: 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i + 1),
                    function: 0x4_2000 + i,
                    trampoline: 0x4_1000,
                    args: (0..16).map(|b| (b * i) as u8).collect(),
                    dependencies: if i % 3 == 0 { vec![i, i + 1] } else { vec![] },
                    priority: 0,
                })
                .collect(),
        ),
    ]
}

struct Figures {
    encode_ns: f64,
    decode_ns: f64,
    bytes: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure<E, D>(msgs: &[Message], encode: E, decode: D) -> Figures
where
    E: Fn(&Message) -> Vec<u8>,
    D: Fn(&[u8]) -> Message,
{
    let encoded: Vec<Vec<u8>> = msgs.iter().map(&encode).collect();
    for (m, b) in msgs.iter().zip(&encoded) {
        assert_eq!(&decode(b), m, "round trip");
    }
    let iters = 2_000;
    let per = (iters * msgs.len()) as f64;
    let (mut enc, mut dec) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..iters {
            for m in msgs {
                black_box(encode(black_box(m)));
            }
        }
        enc.push(t.elapsed().as_nanos() as f64 / per);
        let t = Instant::now();
        for _ in 0..iters {
            for b in &encoded {
                black_box(decode(black_box(b)));
            }
        }
        dec.push(t.elapsed().as_nanos() as f64 / per);
    }
    Figures {
        encode_ns: median(enc),
        decode_ns: median(dec),
        bytes: encoded.iter().map(Vec::len).sum(),
    }
}

fn bincode_decode<T: DeserializeOwned>(b: &[u8]) -> T {
    let config = bincode::config::standard();
    bincode::serde::decode_from_slice(b, config)
        .expect("bincode decode")
        .0
}

fn main() {
    let msgs = messages();
    let bincode = measure(
        &msgs,
        |m| bincode::serde::encode_to_vec(m, bincode::config::standard()).expect("bincode encode"),
        bincode_decode,
    );
    let postcard = measure(
        &msgs,
        |m| rankflow::comm::codec::encode(m).expect("postcard encode"),
        |b| rankflow::comm::codec::decode(b).expect("postcard decode"),
    );
    println!(
        "{{\"bench\":\"codec\",\"messages\":{},\"bincode2_encode_ns\":{:.0},\"bincode2_decode_ns\":{:.0},\
         \"bincode2_bytes\":{},\"postcard_encode_ns\":{:.0},\"postcard_decode_ns\":{:.0},\"postcard_bytes\":{}}}",
        msgs.len(),
        bincode.encode_ns,
        bincode.decode_ns,
        bincode.bytes,
        postcard.encode_ns,
        postcard.decode_ns,
        postcard.bytes
    );
}
