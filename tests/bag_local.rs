//! Bags on the embedded cluster: fused chains, reductions as trees, files,
//! the shuffle, and every bad input the issue lists.

use rankflow::bag::{self, Bag, ReadOptions};
use rankflow::delayed::delayed;
use rankflow::{Config, ErrorKind, Mode};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

fn cluster() -> rankflow::Client {
    rankflow::initialize(Config::new().mode(Mode::Local).local_workers(2)).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rankflow-bag-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_chain_is_one_task_per_partition_and_keeps_order() {
    let client = cluster();
    let b = bag::from_vec((0..100i64).collect(), 7).unwrap();
    assert_eq!(b.npartitions(), 7);
    let c = b
        .map(|x| x * 3)
        .filter(|x| x % 2 == 0)
        .flat_map(|x| vec![x, -x])
        .map_partitions(|mut v: Vec<i64>| {
            v.push(1000);
            v
        });
    let got = c.compute(&client).unwrap();
    let mut want = Vec::new();
    for part in 0..7 {
        let (base, extra) = (100 / 7, 100 % 7);
        let start = part * base + part.min(extra);
        let len = base + usize::from(part < extra);
        for x in start as i64..(start + len) as i64 {
            let y = x * 3;
            if y % 2 == 0 {
                want.extend([y, -y]);
            }
        }
        want.push(1000);
    }
    assert_eq!(got, want);
    let dir = scratch("viz");
    let v = c.visualize(dir.join("graph")).unwrap();
    let dot = std::fs::read_to_string(&v.dot).unwrap();
    // Each partition's task is named by the operations fused into it.
    assert_eq!(
        dot.matches("\"from_vec-map-filter-flat_map-map_partitions\"")
            .count(),
        7,
        "{dot}"
    );
    assert!(!dot.contains("run_partition"), "{dot}");
    client.shutdown().unwrap();
}

#[test]
fn visualize_names_reductions_and_shuffles_by_their_operations() {
    fn digit(x: u64) -> u64 {
        x % 10
    }
    let dir = scratch("labels");
    let f = bag::range(100, 10).unwrap().map(digit).frequencies();
    let dot = std::fs::read_to_string(f.visualize(dir.join("freq")).unwrap().dot).unwrap();
    assert_eq!(
        dot.matches("\"range-map-frequencies\"").count(),
        10,
        "{dot}"
    );
    // 10 partials, 8 at a time: two nodes, then one above them.
    assert_eq!(dot.matches("\"frequencies-aggregate\"").count(), 3, "{dot}");
    let g = bag::range(100, 3).unwrap().groupby(|x| x % 4);
    let dot = std::fs::read_to_string(g.visualize(dir.join("group")).unwrap().dot).unwrap();
    assert_eq!(dot.matches("\"range-split\"").count(), 3, "{dot}");
    assert_eq!(
        dot.matches("\"shuffled-group-collect\"").count(),
        0,
        "{dot}"
    );
    assert_eq!(dot.matches("\"shuffled-group\"").count(), 3, "{dot}");
}

#[test]
fn range_from_delayed_and_persist() {
    let client = cluster();
    let r = bag::range(10, 3).unwrap();
    assert_eq!(r.compute(&client).unwrap(), (0..10).collect::<Vec<u64>>());
    fn make(n: u32) -> Vec<String> {
        (0..n).map(|i| format!("s{i}")).collect()
    }
    let d = bag::from_delayed(vec![delayed(make, 2), delayed(make, 1)]).unwrap();
    assert_eq!(d.compute(&client).unwrap(), vec!["s0", "s1", "s0"]);
    let p = r.map(|x| x + 1).persist(&client).unwrap();
    assert_eq!(p.sum().compute(&client).unwrap(), 55);
    assert_eq!(p.count().compute(&client).unwrap(), 10);
    client.shutdown().unwrap();
}

#[test]
fn reductions_match_serial_ones() {
    let client = cluster();
    let xs: Vec<i64> = (0..1000).map(|i| (i * 7919) % 113 - 50).collect();
    let b = bag::from_vec(xs.clone(), 20).unwrap();
    assert_eq!(b.sum().compute(&client).unwrap(), xs.iter().sum::<i64>());
    assert_eq!(b.count().compute(&client).unwrap(), 1000);
    assert_eq!(b.min().compute(&client).unwrap(), *xs.iter().min().unwrap());
    assert_eq!(b.max().compute(&client).unwrap(), *xs.iter().max().unwrap());
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<i64>() as f64 / n;
    let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    assert!((b.mean().compute(&client).unwrap() - mean).abs() < 1e-9);
    assert!((b.std(1).compute(&client).unwrap() - var.sqrt()).abs() < 1e-9);
    let folded = b.fold(0i64, |a, x| a + x * x, |a, b| a + b);
    assert_eq!(
        folded.compute(&client).unwrap(),
        xs.iter().map(|x| x * x).sum::<i64>()
    );
    let red = b.reduction(
        |v: Vec<i64>| v.len() as u64,
        |v: Vec<u64>| v.iter().sum(),
        3,
    );
    assert_eq!(red.compute(&client).unwrap(), 1000);
    let mut freq = HashMap::new();
    for &x in &xs {
        *freq.entry(x).or_insert(0u64) += 1;
    }
    assert_eq!(b.frequencies().compute(&client).unwrap(), freq);
    let mut distinct = b.distinct().compute(&client).unwrap();
    distinct.sort();
    let mut want: Vec<i64> = freq.keys().copied().collect();
    want.sort();
    assert_eq!(distinct, want);
    let top = b
        .map(|x| x * 10 + 1)
        .topk(5, |x| *x)
        .compute(&client)
        .unwrap();
    let mut sorted: Vec<i64> = xs.iter().map(|x| x * 10 + 1).collect();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(top, sorted[..5]);
    let by = b
        .foldby(|x| x.rem_euclid(3), 0i64, |a, x| a + x, |a, b| a + b)
        .compute(&client)
        .unwrap();
    for k in 0..3 {
        let s: i64 = xs.iter().filter(|x| x.rem_euclid(3) == k).sum();
        assert_eq!(by[&k], s);
    }
    client.shutdown().unwrap();
}

#[test]
fn take_reads_only_what_it_needs_and_refuses_too_many() {
    let client = cluster();
    let b = bag::range(100, 10).unwrap();
    // Partition 5 and later would panic: take(15) must not run them.
    let guarded = b.map(|x| {
        assert!(x < 50, "partition beyond the first ones was computed");
        x
    });
    assert_eq!(
        guarded.take(&client, 15).unwrap(),
        (0..15).collect::<Vec<u64>>()
    );
    let err = b.take(&client, 101).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("only 100 records"), "{err}");
    client.shutdown().unwrap();
}

#[test]
fn empty_bags_and_zero_partitions() {
    let client = cluster();
    assert!(bag::from_vec(vec![1u8], 0).is_err());
    assert!(bag::range(5, 0).is_err());
    let e: Bag<u64> = bag::range(0, 4).unwrap();
    assert_eq!(e.sum().compute(&client).unwrap(), 0);
    let err = e.max().compute(&client).unwrap_err();
    assert!(err.message().contains("max of an empty bag"), "{err}");
    assert!(e.mean().compute(&client).is_err());
    client.shutdown().unwrap();
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Rec {
    name: String,
    amount: i64,
}

#[test]
fn text_and_json_files_round_trip_with_gzip() {
    let client = cluster();
    let dir = scratch("files");
    let recs: Vec<Rec> = (0..50)
        .map(|i| Rec {
            name: ["alice", "bob", "carol"][i % 3].to_string(),
            amount: i as i64,
        })
        .collect();
    let lines = bag::from_vec(recs.clone(), 4)
        .unwrap()
        .map(|r| serde_json::to_string(&r).unwrap());
    let pattern = dir.join("out/*.json.gz");
    let written = lines
        .to_textfiles(&client, pattern.to_str().unwrap())
        .unwrap();
    assert_eq!(written.len(), 4);
    assert_eq!(written.iter().map(|(_, n)| n).sum::<u64>(), 50);
    let back: Vec<Rec> = bag::read_json(pattern.to_str().unwrap())
        .unwrap()
        .compute(&client)
        .unwrap();
    assert_eq!(back, recs);
    let plain = dir.join("plain/*.txt");
    bag::from_vec(vec!["a b".to_string(), "c".to_string()], 1)
        .unwrap()
        .to_textfiles(&client, plain.to_str().unwrap())
        .unwrap();
    let text = bag::read_text(dir.join("plain/0.txt").to_str().unwrap()).unwrap();
    assert_eq!(text.compute(&client).unwrap(), vec!["a b", "c"]);
    client.shutdown().unwrap();
}

#[test]
fn bad_files_are_clear_errors() {
    let client = cluster();
    let dir = scratch("bad");
    let none = dir.join("nothing-*.txt");
    let err = bag::read_text(none.to_str().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.message().contains("nothing-*.txt"), "{err}");

    std::fs::write(
        dir.join("corrupt.gz"),
        b"\x1f\x8b\x08\x00garbage that is not deflate",
    )
    .unwrap();
    let err = bag::read_text(dir.join("corrupt.gz").to_str().unwrap())
        .unwrap()
        .compute(&client)
        .unwrap_err();
    assert!(err.message().contains("corrupt.gz"), "{err}");

    let mut f = std::fs::File::create(dir.join("recs.json")).unwrap();
    writeln!(f, r#"{{"name": "a", "amount": 1}}"#).unwrap();
    writeln!(f, r#"{{"name": "b", "amount": "two"}}"#).unwrap();
    writeln!(f, r#"{{"name": "c", "amount": 3}}"#).unwrap();
    drop(f);
    let path = dir.join("recs.json");
    let err = bag::read_json::<Rec>(path.to_str().unwrap())
        .unwrap()
        .compute(&client)
        .unwrap_err();
    assert!(err.message().contains("recs.json, line 2"), "{err}");
    let skipped: Vec<Rec> = bag::read_json_with(
        path.to_str().unwrap(),
        ReadOptions::new().skip_bad_records(true),
    )
    .unwrap()
    .compute(&client)
    .unwrap();
    assert_eq!(
        skipped.iter().map(|r| r.amount).collect::<Vec<_>>(),
        vec![1, 3]
    );

    std::fs::write(dir.join("a-file"), b"x").unwrap();
    let unwritable = dir.join("a-file/sub/*.txt");
    let err = bag::from_vec(vec![1, 2], 1)
        .unwrap()
        .to_textfiles(&client, unwritable.to_str().unwrap())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.message().contains("a-file"), "{err}");
    let err = bag::from_vec(vec![1, 2], 1)
        .unwrap()
        .to_textfiles(&client, "no-star.txt")
        .unwrap_err();
    assert!(err.message().contains("exactly one '*'"), "{err}");
    client.shutdown().unwrap();
}

#[test]
fn groupby_and_repartition_shuffle_every_record_once() {
    let client = cluster();
    let xs: Vec<u64> = (0..2000).map(|i| (i * 37) % 101).collect();
    let b = bag::from_vec(xs.clone(), 6).unwrap();
    let g = b.groupby(|x| x % 10);
    assert_eq!(g.shuffle_stats(), None, "not run yet");
    let mut groups = g.compute(&client).unwrap();
    assert!(g.shuffled_bytes() > 0);
    let st = g.shuffle_stats().unwrap();
    assert!(st.moved_bytes < st.total_bytes, "{st:?}");
    assert!(st.rounds >= 1, "{st:?}");
    // The exchange holds about two output partitions beyond a worker's share.
    let partition = st.total_bytes / 6;
    assert!(
        st.peak_bytes <= st.share_bytes + 3 * partition,
        "{st:?}, partition {partition}"
    );
    groups.sort_by_key(|(k, _)| *k);
    assert_eq!(groups.len(), 10);
    for (k, mut members) in groups {
        let mut want: Vec<u64> = xs.iter().copied().filter(|x| x % 10 == k).collect();
        members.sort();
        want.sort();
        assert_eq!(members, want);
    }
    let r = b.map(|x| x * 2).repartition(4).unwrap();
    assert_eq!(r.npartitions(), 4);
    let mut got = r.compute(&client).unwrap();
    got.sort();
    let mut want: Vec<u64> = xs.iter().map(|x| x * 2).collect();
    want.sort();
    assert_eq!(got, want);
    // Computed again from the kept outputs.
    assert_eq!(r.count().compute(&client).unwrap(), 2000);
    assert!(b.repartition(0).is_err());
    client.shutdown().unwrap();
}

#[test]
fn a_failing_function_fails_the_compute_with_its_message() {
    let client = cluster();
    let b = bag::range(100, 4).unwrap().map(|x| {
        assert!(x != 77, "seventy-seven is not allowed");
        x
    });
    let err = b.sum().compute(&client).unwrap_err();
    assert!(err.message().contains("seventy-seven"), "{err}");
    let err = b.groupby(|x| x % 3).compute(&client).unwrap_err();
    assert!(err.message().contains("seventy-seven"), "{err}");
    // The last combine runs at the client: a panic there is an error too.
    let err = bag::range(100, 4)
        .unwrap()
        .fold(0u64, |a, x| a + x, |_, _| panic!("no combining today"))
        .compute(&client)
        .unwrap_err();
    assert!(err.message().contains("no combining today"), "{err}");
    // The cluster still serves.
    assert_eq!(
        bag::range(10, 2).unwrap().sum().compute(&client).unwrap(),
        45
    );
    client.shutdown().unwrap();
}

#[test]
fn a_shuffle_leaves_no_buckets_behind() {
    let client = cluster();
    {
        let b = bag::range(5000, 5).unwrap();
        let g = b.groupby(|x| x % 7);
        assert_eq!(g.count().compute(&client).unwrap(), 7);
        let r = b.repartition(3).unwrap();
        assert_eq!(r.sum().compute(&client).unwrap(), 5000 * 4999 / 2);
    }
    // With the bags dropped, every worker's store empties: no bucket or
    // emptied variable stays.
    fn held_here() -> (usize, u64) {
        rankflow::stored_results().unwrap()
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        client.has_what().unwrap();
        let held = client.run(held_here, None).unwrap();
        if held.iter().all(|(_, (n, _))| *n == 0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still held: {held:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    client.shutdown().unwrap();
}
