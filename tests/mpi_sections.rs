//! SPMD sections under mpirun while the transport is busy. Each case is a
//! program in this file (an ignored test) that its launcher test runs as an
//! MPI job: this test binary started again under `mpirun -n 4` and `-n 5`
//! with `--exact PROGRAM --ignored`. MPI initialises once per process, so
//! every case is its own job, watched from outside with a deadline.
//!
//! * **flood**: every worker waits in a client+workers section for the
//!   client, which first floods them with more messages than their
//!   readers' queue and its own send window hold. Only the stall rule of
//!   `comm::flow` (readers that took nothing for 200 ms let messages in
//!   over their bound) lets the client's sends complete and the section
//!   end; without it the job hangs.
//! * **tags**: user messages with each of the transport's tags (and with
//!   any tag) inside sections on the workers group and on the client+workers
//!   group while tasks run: none is taken by the transport, none of the
//!   transport's reaches the user.
//! * **failing shuffle**: a groupby whose key function panics on one record
//!   is an error at the client naming the panic, leaves no buckets on the
//!   workers, and the next groupby is right.
//! * **failing exchange**: the same with the shuffle's exchange failing on
//!   one worker only, before its first message (a test hook,
//!   `RANKFLOW_TEST_FAIL_EXCHANGE`): the other members do not wait for it.

#![cfg(feature = "mpi")]

mod common;
use common::{mpirun, run_with_deadline};
use rankflow::comm::flow::stats;
use rankflow::{bag, Config, Error, Group, Result, TaskOptions};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long one job may take before it counts as a hang.
const DEADLINE: Duration = Duration::from_secs(90);

/// Set by the launcher: a program run any other way (`--include-ignored`)
/// does nothing.
const LAUNCHED: &str = "RANKFLOW_MPI_SECTIONS_PROGRAM";

fn launched() -> bool {
    std::env::var_os(LAUNCHED).is_some()
}

/// Launches `name` on `ranks` ranks with `env` set and checks it printed
/// `name: ok`.
fn passes_with(name: &str, ranks: usize, env: &[(&str, &str)]) {
    let mut cmd = mpirun(ranks);
    cmd.arg(std::env::current_exe().expect("this test binary"))
        .args(["--exact", name, "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env("RUST_BACKTRACE", "0")
        .env(LAUNCHED, "1")
        .envs(env.iter().copied());
    let out = run_with_deadline(cmd, DEADLINE);
    assert_eq!(out.code, Some(0), "{}", out.all_output());
    assert!(
        out.stdout.contains(&format!("{name}: ok")),
        "{}",
        out.all_output()
    );
}

/// Launches `name` on `ranks` ranks and checks it printed `name: ok`.
fn passes(name: &str, ranks: usize) {
    passes_with(name, ranks, &[]);
}

// ---- flood: the stall rule -------------------------------------------------

/// Bytes the client may have in flight to one worker.
const WINDOW: usize = 1 << 20;
/// Bytes of one flooded item.
const ITEM: usize = 1000;
/// Items per worker: over the readers' queue bound (4096 messages) plus a
/// window of items (about 1,000), with room to spare.
const ITEMS_PER_WORKER: usize = 8000;

fn item(i: usize) -> Vec<u8> {
    (0..ITEM).map(|j| (i * 7 + j * 31) as u8).collect()
}

fn checksum(v: Vec<u8>) -> u64 {
    v.iter()
        .enumerate()
        .map(|(j, &b)| (j as u64 + 1) * u64::from(b))
        .sum()
}

/// The workers' side: wait in a barrier for the client.
fn wait_for_client(group: &Group, _: ()) -> Result<usize> {
    group.barrier()?;
    Ok(group.rank())
}

/// What a worker holds and its flow counters.
fn held_and_over_bound() -> ((usize, u64), u64) {
    (
        rankflow::stored_results().expect("inside a worker"),
        stats().over_bound,
    )
}

#[test]
#[ignore = "a program: flood_passes_the_stall_rule_* runs it under mpirun"]
fn flood() {
    if !launched() {
        return;
    }
    let client = rankflow::initialize(Config::new().send_window_bytes(WINDOW)).unwrap();
    let workers = client.workers().len();
    let n = workers * ITEMS_PER_WORKER;
    let started = Instant::now();
    let (futures, ranks) = client
        .with_workers(wait_for_client, (), |group| {
            // Every worker's loop goes into the barrier and reads nothing
            // more until the client gets there.
            let futures = client.scatter((0..n).map(item).collect())?;
            group.barrier()?;
            Ok(futures)
        })
        .unwrap();
    assert_eq!(ranks, (1..=workers).collect::<Vec<_>>());
    println!(
        "flood: {n} items of {ITEM} bytes to {workers} workers in a section in {:?}",
        started.elapsed()
    );
    let held = client.run(held_and_over_bound, None).unwrap();
    assert_eq!(
        held.iter().map(|(_, ((items, _), _))| items).sum::<usize>(),
        n,
        "{held:?}"
    );
    for (rank, ((items, _), over)) in &held {
        assert!(
            *items == ITEMS_PER_WORKER && *over > 0,
            "worker {rank} holds {items} items, {over} let in over its bound"
        );
    }
    for i in (0..n).step_by(997) {
        let sum = client.submit(checksum, &futures[i]).unwrap();
        assert_eq!(sum.result().unwrap(), checksum(item(i)), "item {i}");
    }
    drop(futures);
    println!("flood: ok");
    client.shutdown().unwrap();
}

#[test]
fn flood_passes_the_stall_rule_on_four_ranks() {
    passes("flood", 4);
}

#[test]
fn flood_passes_the_stall_rule_on_five_ranks() {
    passes("flood", 5);
}

// ---- tags: user messages beside the transport ------------------------------

/// The transport's tags: control, abort, local, and the two of pieces.
const TRANSPORT_TAGS: [u16; 5] = [1, 2, 3, 4, 5];
/// Rounds of messages per section, a few milliseconds apart, so that they
/// overlap the tasks' traffic.
const ROUNDS: u64 = 20;

/// A message of the user's: who sent it, with which tag, in which round.
type Note = (usize, u16, u64);

fn square(i: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(2));
    i * i
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

/// Once every member has received all the user's messages (after a
/// barrier), nothing may arrive on `group` while tasks keep the transport
/// busy: a few probes over some milliseconds find nothing.
fn nothing_stray(group: &Group) -> Result<()> {
    group.barrier()?;
    for _ in 0..10 {
        if let Some(p) = group.iprobe(None, None)? {
            return Err(Error::new(
                rankflow::ErrorKind::Protocol,
                format!("a stray message on the user's group: {p:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    group.barrier()
}

/// A ring over the workers group: each round, a message with each transport
/// tag to the next member, received by tag from the previous one; then one
/// more received with any tag.
fn ring(group: &Group, rounds: u64) -> Result<u64> {
    let (me, n) = (group.rank(), group.size());
    let (next, prev) = ((me + 1) % n, (me + n - 1) % n);
    let mut got = 0;
    for round in 0..rounds {
        for tag in TRANSPORT_TAGS {
            let (note, status): (Note, _) =
                group.sendrecv(&(me, tag, round), next, tag, Some(prev), Some(tag))?;
            assert_eq!(note, (prev, tag, round), "tag {tag}");
            assert_eq!((status.source, status.tag), (prev, tag));
            got += 1;
        }
        let tag = TRANSPORT_TAGS[round as usize % TRANSPORT_TAGS.len()];
        let (note, status): (Note, _) = group.sendrecv(&(me, tag, round), next, tag, None, None)?;
        assert_eq!((note, status.tag), ((prev, tag, round), tag));
        std::thread::sleep(Duration::from_millis(3));
    }
    nothing_stray(group)?;
    Ok(got)
}

/// A worker's side of the client+workers star: receives each tag from the
/// client (member 0) and answers with the same tag.
fn star_worker(group: &Group, rounds: u64) -> Result<u64> {
    let me = group.rank();
    for round in 0..rounds {
        for tag in TRANSPORT_TAGS {
            let (note, _): (Note, _) = group.recv(Some(0), Some(tag))?;
            assert_eq!(note, (0, tag, round));
            group.send(&(me, tag, round), 0, tag)?;
        }
    }
    nothing_stray(group)?;
    Ok(rounds)
}

/// The client's side: each round, every tag to every worker, and the
/// answers received with any source and any tag.
fn star_client(group: &Group, rounds: u64) -> Result<usize> {
    let mut got = 0;
    for round in 0..rounds {
        for tag in TRANSPORT_TAGS {
            for w in 1..group.size() {
                group.send(&(0usize, tag, round), w, tag)?;
            }
            for _ in 1..group.size() {
                let ((from, t, r), status): (Note, _) = group.recv(None, None)?;
                assert_eq!((t, r, status.tag, status.source), (tag, round, tag, from));
                got += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    nothing_stray(group)?;
    Ok(got)
}

#[test]
#[ignore = "a program: user_tags_* runs it under mpirun"]
fn tags() {
    if !launched() {
        return;
    }
    let client = rankflow::initialize(Config::new()).unwrap();
    let workers = client.workers().len() as u64;
    let tasks = |n: u64| {
        let squares = client.map(square, 0..n).unwrap();
        let pairs = squares
            .chunks(2)
            .map(|p| client.submit(add, (&p[0], &p[1])).unwrap())
            .collect::<Vec<_>>();
        (squares, pairs)
    };
    let (squares, pairs) = tasks(400);
    let rings = client.spmd(ring, ROUNDS).unwrap();
    assert_eq!(rings, vec![ROUNDS * 5; workers as usize]);
    let (more_squares, more_pairs) = tasks(400);
    let (mine, theirs) = client
        .with_workers(star_worker, ROUNDS, |g| star_client(g, ROUNDS))
        .unwrap();
    assert_eq!(mine, (ROUNDS * 5 * workers) as usize);
    assert_eq!(theirs, vec![ROUNDS; workers as usize]);
    for (s, p) in [(squares, pairs), (more_squares, more_pairs)] {
        let s = client.gather(&s).unwrap();
        let p = client.gather(&p).unwrap();
        assert_eq!(s, (0..400).map(|i| i * i).collect::<Vec<u64>>());
        let want: Vec<u64> = (0..200u64)
            .map(|i| 4 * i * i + (2 * i + 1).pow(2))
            .collect();
        assert_eq!(p, want);
    }
    println!("tags: ok");
    client.shutdown().unwrap();
}

#[test]
fn user_tags_pass_the_transport_by_on_four_ranks() {
    passes("tags", 4);
}

#[test]
fn user_tags_pass_the_transport_by_on_five_ranks() {
    passes("tags", 5);
}

// ---- a groupby whose key function panics ----------------------------------

const RECORDS: u64 = 20_000;

/// The first record of the first partition fails at once, while
/// the other partitions take a while: their splits are still running when
/// the failure reaches the client.
fn key(x: &u64) -> u64 {
    assert!(*x != 0, "record 0 is bad");
    std::thread::sleep(Duration::from_micros(100));
    x % 13
}

fn good_key(x: &u64) -> u64 {
    x % 13
}

fn held_here() -> (usize, u64) {
    rankflow::stored_results().expect("inside a worker")
}

fn noop(_: usize) {}

/// Waits until no worker holds anything (frees go out asynchronously).
fn nothing_held(client: &rankflow::Client) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        client.has_what().unwrap();
        let held = client.run(held_here, None).unwrap();
        if held.iter().all(|(_, (items, _))| *items == 0) {
            return;
        }
        assert!(Instant::now() < deadline, "still held: {held:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "a program: failing_shuffle_* runs it under mpirun"]
fn failing_shuffle() {
    if !launched() {
        return;
    }
    let client = rankflow::initialize(Config::new().threads_per_worker(1)).unwrap();
    let records = bag::range(RECORDS, 8).unwrap();
    let started = Instant::now();
    let e = records
        .groupby(key)
        .map(|(k, v): (u64, Vec<u64>)| (k, v.len()))
        .compute(&client)
        .unwrap_err();
    println!("failing_shuffle: error after {:?}: {e}", started.elapsed());
    assert!(e.to_string().contains("record 0 is bad"), "{e}");
    // A split still running when the error came has ended once a task
    // submitted after it has run on its worker (one thread each).
    for w in client.workers().iter().map(|w| w.rank) {
        let on = TaskOptions::new().workers(&[w]).pure(false);
        client
            .submit_with_options(noop, w, &on)
            .unwrap()
            .result()
            .unwrap();
    }
    nothing_held(&client);
    let sizes: HashMap<u64, usize> = records
        .groupby(good_key)
        .map(|(k, v): (u64, Vec<u64>)| (k, v.len()))
        .compute(&client)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(sizes.len(), 13);
    for (k, n) in sizes {
        assert_eq!(
            n as u64,
            (0..RECORDS).filter(|x| x % 13 == k).count() as u64
        );
    }
    println!("failing_shuffle: ok");
    client.shutdown().unwrap();
}

#[test]
fn failing_shuffle_is_an_error_at_the_client_on_four_ranks() {
    passes("failing_shuffle", 4);
}

#[test]
fn failing_shuffle_is_an_error_at_the_client_on_five_ranks() {
    passes("failing_shuffle", 5);
}

// ---- a shuffle whose exchange fails on one worker ---------------------------

/// The worker whose exchange the hook makes fail.
const FAILING_WORKER: &str = "3";

#[test]
#[ignore = "a program: failing_exchange_* runs it under mpirun"]
fn failing_exchange() {
    if !launched() {
        return;
    }
    let client = rankflow::initialize(Config::new()).unwrap();
    let records = bag::range(RECORDS, 8).unwrap();
    let started = Instant::now();
    let e = records
        .groupby(good_key)
        .map(|(k, v): (u64, Vec<u64>)| (k, v.len()))
        .compute(&client)
        .unwrap_err();
    println!("failing_exchange: error after {:?}: {e}", started.elapsed());
    let named = format!("made to fail on worker {FAILING_WORKER}");
    assert!(e.to_string().contains(&named), "{e}");
    nothing_held(&client);
    let total: usize = records.map(|x: u64| x + 1).compute(&client).unwrap().len();
    assert_eq!(total as u64, RECORDS, "the cluster still serves");
    println!("failing_exchange: ok");
    client.shutdown().unwrap();
}

#[test]
fn failing_exchange_is_an_error_at_the_client_on_four_ranks() {
    passes_with(
        "failing_exchange",
        4,
        &[("RANKFLOW_TEST_FAIL_EXCHANGE", FAILING_WORKER)],
    );
}

#[test]
fn failing_exchange_is_an_error_at_the_client_on_five_ranks() {
    passes_with(
        "failing_exchange",
        5,
        &[("RANKFLOW_TEST_FAIL_EXCHANGE", FAILING_WORKER)],
    );
}
