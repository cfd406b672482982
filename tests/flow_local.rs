//! Send windows on the embedded cluster: a client flooding workers with
//! large arguments, and two workers fetching large inputs from each other
//! both ways at once, stay inside their windows (a hard bound on what one
//! rank holds for one destination) and every result is right.
//!
//! One test function: the window counters are per process.

use rankflow::comm::flow::stats;
use rankflow::{Config, Mode, TaskOptions};

const WINDOW: usize = 1 << 20;
const WINDOW_MESSAGES: usize = 4;

fn item(i: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|j| (j * 31 + i * 7) as u8).collect()
}

fn checksum(v: &[u8]) -> u64 {
    v.iter()
        .enumerate()
        .map(|(j, &b)| (j as u64 + 1) * b as u64)
        .sum()
}

fn sum_of(v: Vec<u8>) -> u64 {
    checksum(&v)
}

fn make((i, len): (u64, usize)) -> Vec<u8> {
    item(i, len)
}

#[test]
fn floods_stay_inside_their_windows_and_every_result_is_right() {
    let client = rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(2)
            .threads_per_worker(2)
            .send_window_bytes(WINDOW)
            .send_window_messages(WINDOW_MESSAGES),
    )
    .unwrap();
    let len = 200 << 10;
    let items = 80u64;

    // The client floods the workers with arguments (16 MiB through windows
    // of 1 MiB).
    let futures = client
        .map(sum_of, (0..items).map(|i| item(i, len)))
        .unwrap();
    let sums = client.gather(&futures).unwrap();
    for (i, s) in sums.iter().enumerate() {
        assert_eq!(*s, checksum(&item(i as u64, len)), "item {i}");
    }
    drop(futures);

    // Inputs made on each worker and used on the other: both workers'
    // loops answer the other's fetches at once.
    let ranks: Vec<usize> = client.workers().iter().map(|w| w.rank).collect();
    let on = |r: usize| TaskOptions::new().workers(&[r]).pure(false);
    let made: Vec<_> = (0..items)
        .map(|i| {
            let r = ranks[i as usize % 2];
            let f = client
                .submit_with_options(make, (i + 1000, len), &on(r))
                .unwrap();
            (i, r, f)
        })
        .collect();
    let used: Vec<_> = made
        .iter()
        .map(|(i, r, f)| {
            let other = ranks[usize::from(*r == ranks[0])];
            (
                *i,
                client.submit_with_options(sum_of, f, &on(other)).unwrap(),
            )
        })
        .collect();
    for (i, f) in &used {
        assert_eq!(
            f.result().unwrap(),
            checksum(&item(i + 1000, len)),
            "crossed {i}"
        );
    }

    let s = stats();
    assert!(
        s.peak_window_bytes <= WINDOW && s.peak_window_messages <= WINDOW_MESSAGES,
        "a window held {} bytes in {} messages",
        s.peak_window_bytes,
        s.peak_window_messages
    );
    assert!(
        s.peak_window_bytes >= len,
        "no argument went through a window: {s:?}"
    );
    client.shutdown().unwrap();
}
