//! Flow control and large payloads under load, with small send windows and
//! pieces so that all of it is exercised at CI sizes:
//!
//! 1. the client floods the workers with large task arguments;
//! 2. two workers fetch large inputs from each other both ways at once (each
//!    one's loop sends to the other while the other sends to it);
//! 3. one payload crosses MPI in dozens of pieces, worker to worker and then
//!    to the client, while the client pings the scheduler.
//!
//! Every result is checked, and no send window of any rank (client and
//! workers) ever held more than its limit (a message larger than the window,
//! such as a worker's answer to a fetch of many inputs at once, goes alone
//! and is counted apart). Prints one JSON line with the
//! counters. Needs two workers for parts 2 and 3.
//!
//! ```text
//! mpirun -n 4 target/release/examples/flow_flood [ITEMS] [KiB per item]
//! ```

use rankflow::comm::flow::{stats, FlowStats};
use rankflow::{Config, Error, ErrorKind, TaskOptions};

/// Bytes one rank may have queued or in flight to one destination.
const WINDOW: usize = 2 << 20;
/// Messages one rank may have queued or in flight to one destination.
const WINDOW_MESSAGES: usize = 8;
/// Payloads over this cross MPI in pieces of this size.
const PIECE: usize = 64 << 10;
/// The payload of part 3: 24 pieces and a bit, under the window.
const BIG: usize = 24 * PIECE + 123;

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

fn check_window(who: &str, s: &FlowStats) {
    assert!(
        s.peak_window_bytes <= WINDOW && s.peak_window_messages <= WINDOW_MESSAGES,
        "{who}: a send window held {} bytes in {} messages, over {WINDOW} bytes or \
         {WINDOW_MESSAGES} messages",
        s.peak_window_bytes,
        s.peak_window_messages
    );
}

fn main() -> Result<(), Error> {
    let arg = |i: usize, default: usize| -> Result<usize, Error> {
        std::env::args().nth(i).map_or(Ok(default), |a| {
            a.parse().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("usage: flow_flood [items] [KiB per item], not {a:?}"),
                )
            })
        })
    };
    let (items, kib) = (arg(1, 64)? as u64, arg(2, 256)?);
    let len = kib << 10;
    assert!(len < WINDOW, "an item must fit in a window");
    let client = rankflow::initialize(
        Config::new()
            .send_window_bytes(WINDOW)
            .send_window_messages(WINDOW_MESSAGES)
            .piece_bytes(PIECE),
    )?;

    // 1. The client floods the workers with arguments.
    let futures = client.map(sum_of, (0..items).map(|i| item(i, len)))?;
    let sums = client.gather(&futures)?;
    for (i, s) in sums.iter().enumerate() {
        assert_eq!(*s, checksum(&item(i as u64, len)), "flooded item {i}");
    }
    drop(futures);

    let ranks: Vec<usize> = client.workers().iter().map(|w| w.rank).collect();
    let mut pings = 0u64;
    if ranks.len() >= 2 {
        // 2. Inputs made on each of two workers, used on the other.
        let on = |r: usize| TaskOptions::new().workers(&[r]).pure(false);
        let made = (0..items)
            .map(|i| {
                let r = ranks[i as usize % 2];
                Ok((
                    i,
                    r,
                    client.submit_with_options(make, (i + 1000, len), &on(r))?,
                ))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let used = made
            .iter()
            .map(|(i, r, f)| {
                let other = if *r == ranks[0] { ranks[1] } else { ranks[0] };
                Ok((*i, client.submit_with_options(sum_of, f, &on(other))?))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        for (i, f) in &used {
            assert_eq!(
                f.result()?,
                checksum(&item(i + 1000, len)),
                "crossed item {i}"
            );
        }
        drop((made, used));

        // 3. One payload in many pieces, while control messages go on.
        let big = client.submit_with_options(make, (7, BIG), &on(ranks[0]))?;
        let moved = client.submit_with_options(sum_of, &big, &on(ranks[1]))?;
        while !moved.done() {
            client.ping()?;
            pings += 1;
        }
        assert_eq!(moved.result()?, checksum(&item(7, BIG)));
        assert!(
            big.result()? == item(7, BIG),
            "the big payload came back wrong"
        );
    }

    let mine = stats();
    check_window("client", &mine);
    let mut waits = mine.waits;
    let mut over_bound = mine.over_bound;
    for (rank, s) in client.run(stats, None)? {
        check_window(&format!("worker {rank}"), &s);
        waits += s.waits;
        over_bound += s.over_bound;
    }
    println!(
        "{{\"example\":\"flow_flood\",\"items\":{items},\"kib\":{kib},\"pings\":{pings},\
         \"peak_window_bytes\":{},\"largest_alone\":{},\"waits\":{waits},\
         \"over_bound\":{over_bound}}}",
        mine.peak_window_bytes, mine.largest_alone
    );
    println!("flow_flood: ok");
    client.shutdown()
}
