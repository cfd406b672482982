//! Checks of the collective layer that hold for any group size. The same
//! functions run on the in-process backend (`tests/collectives_local.rs`, for
//! sizes 1 to 5) and under mpirun (`examples/collectives_check.rs`), so both
//! backends answer to one specification. Each panics on a wrong answer.

use ndarray::{Array2, ArrayD, IxDyn};
use rankflow::comm::group::{wait_all, LocOp, Request};
use rankflow::{ErrorKind, Group, Op};
use std::collections::BTreeMap;

/// A named check.
pub type Check = (&'static str, fn(&Group));

/// Every check, with its name.
pub const ALL: [Check; 16] = [
    ("empty_values", empty_values),
    ("bcast_serde_and_plain", bcast_serde_and_plain),
    ("bcast_into_wrong_length", bcast_into_wrong_length),
    ("scatter_wrong_count", scatter_wrong_count),
    ("scatterv_and_gatherv_uneven", scatterv_and_gatherv_uneven),
    ("gather_allgather_reduce", gather_allgather_reduce),
    ("uneven_reduce_lengths", uneven_reduce_lengths),
    ("point_to_point", point_to_point),
    ("ndarrays", ndarrays),
    ("split_even_odd", split_even_odd),
    ("sendrecv_ring", sendrecv_ring),
    ("probe_and_iprobe", probe_and_iprobe),
    ("nonblocking_ring", nonblocking_ring),
    ("alltoall_flavours", alltoall_flavours),
    ("scans_and_reduce_scatter", scans_and_reduce_scatter),
    ("logical_bitwise_and_loc", logical_bitwise_and_loc),
];

/// Right and left neighbours in a ring.
fn ring(g: &Group) -> (usize, usize) {
    let (r, n) = (g.rank(), g.size());
    ((r + 1) % n, (r + n - 1) % n)
}

/// Rings of `sendrecv` complete for 1 MiB messages (where blocking sends
/// would deadlock); a replace with the wrong incoming length fails on the
/// receiving rank only.
pub fn sendrecv_ring(g: &Group) {
    let (right, left) = ring(g);
    let r = g.rank();
    let (v, st) = g
        .sendrecv::<_, (usize, String)>(&(r, format!("from {r}")), right, 1, Some(left), Some(1))
        .unwrap();
    assert_eq!((v.0, st.source, st.tag), (left, left, 1));
    let big: Vec<f64> = (0..131_072).map(|i| (r * 131_072 + i) as f64).collect();
    let (got, st) = g.sendrecv_slice(&big, right, 2, None, Some(2)).unwrap();
    assert_eq!(st.source, left);
    assert_eq!(got[131_071], (left * 131_072 + 131_071) as f64);
    let mut buf = big.clone();
    g.sendrecv_replace(&mut buf, right, 3, Some(left), None)
        .unwrap();
    assert_eq!(buf, got);
    // Rank 0 sends 3 elements, everybody else 4, into buffers of their own
    // length: rank 1 (3 into 4) and rank 0 (4 into 3) fail, the rest pass.
    if g.size() > 1 {
        let mut odd = vec![r as u16; if r == 0 { 3 } else { 4 }];
        let res = g.sendrecv_replace(&mut odd, right, 4, Some(left), Some(4));
        if r <= 1 {
            assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidArgument);
            assert_eq!(odd[0], r as u16, "a failed replace keeps the buffer");
        } else {
            res.unwrap();
            assert_eq!(odd, vec![left as u16; 4]);
        }
    }
    assert!(g.sendrecv_slice(&[1u8], g.size(), 0, None, None).is_err());
    assert!(g.sendrecv_slice(&[1u8], 0, 0, None, Some(40_000)).is_err());
    g.barrier().unwrap();
}

pub fn probe_and_iprobe(g: &Group) {
    let n = g.size();
    if n > 1 {
        if g.rank() == 1 {
            g.send_slice(&[1u32, 2, 3, 4, 5], 0, 7).unwrap();
            g.send(&"probed", 0, 8).unwrap();
        }
        if g.rank() == 0 {
            let p = g.probe(Some(1), Some(7)).unwrap();
            assert_eq!((p.source, p.tag, p.bytes), (1, 7, 20));
            assert_eq!(p.count::<u32>(), Some(5));
            assert_eq!(p.count::<u64>(), None);
            let (v, _) = g.recv_vec::<u32>(Some(p.source), Some(p.tag)).unwrap();
            assert_eq!(v, [1, 2, 3, 4, 5]);
            let p = loop {
                if let Some(p) = g.iprobe(None, Some(8)).unwrap() {
                    break p;
                }
                std::thread::yield_now();
            };
            assert_eq!(p.source, 1);
            let (s, _) = g.recv::<String>(Some(1), Some(8)).unwrap();
            assert_eq!(s, "probed");
        }
    }
    assert_eq!(g.iprobe(None, Some(9)).unwrap(), None);
    assert!(g.iprobe(Some(n), None).is_err());
    g.barrier().unwrap();
}

/// isend + irecv in a ring of 1 MiB messages, completed by `wait_all` or by
/// waiting for the receive first; dropped requests neither hang nor lose
/// the message.
pub fn nonblocking_ring(g: &Group) {
    let (right, left) = ring(g);
    let r = g.rank();
    let mut send = g.isend_vec(vec![r as f64; 131_072], right, 10).unwrap();
    let mut recv = g.irecv_vec::<f64>(Some(left), Some(10)).unwrap();
    wait_all(&mut [&mut send, &mut recv]).unwrap();
    let (got, st) = recv.wait().unwrap();
    assert_eq!((got.len(), got[0], st.source), (131_072, left as f64, left));
    send.wait().unwrap();

    let recv = g.irecv::<Vec<String>>(None, Some(11)).unwrap();
    let send = g.isend(&vec![format!("r{r}"); 3000], right, 11).unwrap();
    let (v, st) = recv.wait().unwrap();
    assert_eq!(
        (v.len(), v[0].clone(), st.source),
        (3000, format!("r{left}"), left)
    );
    send.wait().unwrap();

    let mut small = g.isend(&(r as u8), right, 12).unwrap();
    let mut incoming = g.irecv::<u8>(Some(left), Some(12)).unwrap();
    while !incoming.test().unwrap() {
        std::thread::yield_now();
    }
    while !small.test().unwrap() {
        std::thread::yield_now();
    }
    assert_eq!(incoming.wait().unwrap().0, left as u8);

    drop(g.isend(&(r as u32), right, 13).unwrap());
    drop(g.irecv::<u32>(Some(left), Some(13)).unwrap());
    assert_eq!(g.recv::<u32>(Some(left), Some(13)).unwrap().0, left as u32);
    assert!(g.isend(&1, g.size(), 0).is_err());
    assert!(g.irecv::<u8>(Some(g.size()), None).is_err());
    g.barrier().unwrap();
}

pub fn alltoall_flavours(g: &Group) {
    let (r, n) = (g.rank(), g.size());
    let got = g.alltoall((0..n).map(|i| (r, i)).collect()).unwrap();
    assert_eq!(got, (0..n).map(|j| (j, r)).collect::<Vec<_>>());

    let send: Vec<u32> = (0..n * 2)
        .map(|k| (r * 100 + (k / 2) * 10 + k % 2) as u32)
        .collect();
    let mut recv = vec![0u32; n * 2];
    g.alltoall_into(&send, &mut recv).unwrap();
    let want: Vec<u32> = (0..n * 2)
        .map(|k| ((k / 2) * 100 + r * 10 + k % 2) as u32)
        .collect();
    assert_eq!(recv, want);
    let mut short = vec![0u32; n * 2 - 1];
    assert!(g.alltoall_into(&send, &mut short).is_err());

    // Member r sends (r + i) % 3 copies of r * 10 + i to member i.
    let counts: Vec<usize> = (0..n).map(|i| (r + i) % 3).collect();
    let data: Vec<i64> = (0..n)
        .flat_map(|i| std::iter::repeat_n((r * 10 + i) as i64, (r + i) % 3))
        .collect();
    let (got, from) = g.alltoallv_vec(&data, &counts).unwrap();
    assert_eq!(from, (0..n).map(|j| (j + r) % 3).collect::<Vec<_>>());
    let want: Vec<i64> = (0..n)
        .flat_map(|j| std::iter::repeat_n((j * 10 + r) as i64, (j + r) % 3))
        .collect();
    assert_eq!(got, want);

    // One member's bad counts, or wrong number of items, fail everywhere.
    let mut bad = counts.clone();
    if r == n - 1 {
        bad.push(0);
    }
    let err = g.alltoallv_vec(&data, &bad).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let items: Vec<u8> = vec![0; if r == 0 { n + 1 } else { n }];
    let err = g.alltoall(items).unwrap_err();
    assert!(err.to_string().contains("rank 0"), "{err}");
    g.barrier().unwrap();
}

pub fn scans_and_reduce_scatter(g: &Group) {
    let (r, n) = (g.rank(), g.size());
    let mut out = [0i64; 3];
    g.scan_into(&[r as i64 + 1; 3], &mut out, Op::Sum).unwrap();
    assert_eq!(out, [((r + 1) * (r + 2) / 2) as i64; 3]);
    let mut ex = [99.0f64; 2];
    g.exscan_into(&[r as f64 + 1.0; 2], &mut ex, Op::Sum)
        .unwrap();
    let want = if r == 0 {
        99.0
    } else {
        (r * (r + 1) / 2) as f64
    };
    assert_eq!(ex, [want; 2]);
    let mut mx = [0u8];
    g.scan_into(&[(r * 7 % 5) as u8], &mut mx, Op::Max).unwrap();
    assert_eq!(mx[0], (0..=r).map(|i| (i * 7 % 5) as u8).max().unwrap());
    let mut wrong = [0i64; 2];
    assert!(g.scan_into(&[1i64; 3], &mut wrong, Op::Sum).is_err());

    let s = g.scan(format!("{r}"), |a, b| a + &b).unwrap();
    assert_eq!(s, (0..=r).map(|i| i.to_string()).collect::<String>());
    let e = g.exscan(r as u64 + 1, |a, b| a * b).unwrap();
    assert_eq!(e, (r > 0).then(|| (1..=r as u64).product()));

    // Block i of member r's send holds r + i + t at offset t.
    let send: Vec<u32> = (0..n * 2).map(|k| (r + k / 2 + k % 2) as u32).collect();
    let mut mine = [0u32; 2];
    g.reduce_scatter_block_into(&send, &mut mine, Op::Sum)
        .unwrap();
    let base = (n * (n - 1) / 2) as u32;
    assert_eq!(mine, [base + (n * r) as u32, base + (n * (r + 1)) as u32]);
    let mut three = [0u32; 3];
    assert!(g
        .reduce_scatter_block_into(&send, &mut three, Op::Sum)
        .is_err());
    let uneven = vec![1u32; n * 2 + usize::from(n > 1 && r == 0)];
    let err = g.reduce_scatter_block_into(&uneven, &mut mine, Op::Sum);
    assert_eq!(err.is_err(), n > 1);
    g.barrier().unwrap();
}

pub fn logical_bitwise_and_loc(g: &Group) {
    let (r, n) = (g.rank(), g.size());
    let any_nonzero_rank = u8::from(n > 1);
    let mut out = [7i32; 3];
    g.allreduce_into(&[r as i32, 5, 0], &mut out, Op::LAnd)
        .unwrap();
    assert_eq!(out, [0, 1, 0]);
    g.allreduce_into(&[r as i32, 5, 0], &mut out, Op::LOr)
        .unwrap();
    assert_eq!(out, [i32::from(any_nonzero_rank), 1, 0]);
    let mut f = [7.0f64; 3];
    g.allreduce_into(&[r as f64, 2.5, 0.0], &mut f, Op::LOr)
        .unwrap();
    assert_eq!(f, [f64::from(any_nonzero_rank), 1.0, 0.0]);
    let mut root_f = [7.0f32; 2];
    let is_root = r == n - 1;
    g.reduce_into(
        &[r as f32 + 0.5, 0.0],
        is_root.then_some(&mut root_f[..]),
        Op::LAnd,
        n - 1,
    )
    .unwrap();
    if is_root {
        assert_eq!(root_f, [1.0, 0.0]);
    }
    let mut sf = [0.0f32];
    g.scan_into(&[r as f32], &mut sf, Op::LOr).unwrap();
    assert_eq!(sf[0], if r == 0 { 0.0 } else { 1.0 });

    let mut bits = [0u32; 2];
    g.allreduce_into(&[(1 << r) | 1, 0xff], &mut bits, Op::BOr)
        .unwrap();
    assert_eq!(bits, [(1 << n) - 1, 0xff]);
    g.allreduce_into(&[(1 << r) | 1, 0xf0 | r as u32], &mut bits, Op::BAnd)
        .unwrap();
    let and_low = (0..n as u32).fold(0xff, |a, i| a & (0xf0 | i));
    assert_eq!(bits, [1, and_low]);
    let mut fb = [0.0f64];
    let err = g.allreduce_into(&[1.0], &mut fb, Op::BAnd).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(g.scan_into(&[1.0f32], &mut [0.0], Op::BOr).is_err());

    // |r - 1.5|: ranks 1 and 2 tie for the minimum (smaller index wins).
    let pairs = [
        ((r as f64 - 1.5).abs(), (r * 10) as i32),
        (r as f64, -(r as i32)),
    ];
    let best = |op: LocOp| -> Vec<(f64, i32)> {
        (0..2)
            .map(|j| {
                let all: Vec<(f64, i32)> = (0..n)
                    .map(|q| {
                        [
                            ((q as f64 - 1.5).abs(), (q * 10) as i32),
                            (q as f64, -(q as i32)),
                        ][j]
                    })
                    .collect();
                let key = |p: &(f64, i32)| match op {
                    LocOp::MinLoc => p.0,
                    LocOp::MaxLoc => -p.0,
                };
                *all.iter()
                    .min_by(|a, b| key(a).total_cmp(&key(b)).then(a.1.cmp(&b.1)))
                    .unwrap()
            })
            .collect()
    };
    for op in [LocOp::MinLoc, LocOp::MaxLoc] {
        assert_eq!(g.allreduce_loc(&pairs, op).unwrap(), best(op), "{op:?}");
        let at_root = g.reduce_loc(&pairs, op, 0).unwrap();
        assert_eq!(at_root, (r == 0).then(|| best(op)), "{op:?}");
    }
    if n > 1 {
        let uneven = vec![(1u8, 0); r];
        assert!(g.allreduce_loc(&uneven, LocOp::MinLoc).is_err());
    }
    g.barrier().unwrap();
}

pub fn bcast_serde_and_plain(g: &Group) {
    let n = g.size();
    let m: BTreeMap<String, i32> = [("a".into(), 1), ("b".into(), 2)].into();
    let got = g.bcast((g.rank() == 0).then(|| m.clone()), 0).unwrap();
    assert_eq!(got, m);
    let mut buf = if g.rank() == n - 1 {
        vec![1.5f64; 100]
    } else {
        vec![0.0; 100]
    };
    g.bcast_into(&mut buf, n - 1).unwrap();
    assert!(buf.iter().all(|&x| x == 1.5));
}

/// A receive buffer of the wrong length is an error on that rank only, and
/// the group stays in step.
pub fn bcast_into_wrong_length(g: &Group) {
    let odd = g.size() - 1;
    let mut buf = vec![7u32; if g.rank() == odd && odd != 0 { 4 } else { 5 }];
    let r = g.bcast_into(&mut buf, 0);
    if g.rank() == odd && odd != 0 {
        assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidArgument);
    } else {
        r.unwrap();
    }
    assert_eq!(g.allreduce(1u32, |a, b| a + b).unwrap(), g.size() as u32);
}

pub fn scatter_wrong_count(g: &Group) {
    let n = g.size();
    let items = (g.rank() == 0).then(|| vec![0u8; n + 1]);
    let err = g.scatter(items, 0).unwrap_err();
    assert!(err.to_string().contains("group size"), "{err}");
    let missing = g.scatter::<u8>(None, 0).unwrap_err();
    assert!(missing.to_string().contains("no data"), "{missing}");
    let ok = g
        .scatter((g.rank() == 0).then(|| (0..n as u64).collect()), 0)
        .unwrap();
    assert_eq!(ok, g.rank() as u64);
}

pub fn scatterv_and_gatherv_uneven(g: &Group) {
    let n = g.size();
    let counts: Vec<usize> = (0..n).map(|r| r * 2 + 1).collect();
    let total: usize = counts.iter().sum();
    let data: Vec<i64> = (0..total as i64).collect();
    let mut mine = vec![0i64; counts[g.rank()]];
    g.scatterv_into(
        (g.rank() == 0).then_some((&data[..], &counts[..])),
        &mut mine,
        0,
    )
    .unwrap();
    let start: usize = counts[..g.rank()].iter().sum();
    assert_eq!(mine, data[start..start + counts[g.rank()]]);
    let back = g.gatherv_vec(&mine, 0).unwrap();
    if g.rank() == 0 {
        assert_eq!(back, Some((data.clone(), counts.clone())));
    }
    let bad = vec![total + 1; n];
    let err = g
        .scatterv_vec((g.rank() == 0).then_some((&data[..], &bad[..])), 0)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

pub fn gather_allgather_reduce(g: &Group) {
    let (r, n) = (g.rank(), g.size());
    let all = g.allgather(&format!("r{r}")).unwrap();
    assert_eq!(all, (0..n).map(|i| format!("r{i}")).collect::<Vec<_>>());
    let gathered = g.gather(&(r * r), n - 1).unwrap();
    if r == n - 1 {
        assert_eq!(gathered.unwrap(), (0..n).map(|i| i * i).collect::<Vec<_>>());
    } else {
        assert!(gathered.is_none());
    }
    let (flat, counts) = g.allgather_vec(&vec![r as u16; r]).unwrap();
    assert_eq!(counts, (0..n).collect::<Vec<_>>());
    assert_eq!(flat.len(), n * (n - 1) / 2);
    let s = g.reduce(r as u64, |a, b| a + b, 0).unwrap();
    if r == 0 {
        assert_eq!(s, Some((n * (n - 1) / 2) as u64));
    }
    for (op, want) in [
        (Op::Sum, (n * (n - 1) / 2) as f32),
        (Op::Max, (n - 1) as f32),
        (Op::Min, 0.0),
        (Op::Product, 0.0),
    ] {
        let mut out = [9.0f32; 3];
        g.allreduce_into(&[r as f32; 3], &mut out, op).unwrap();
        assert_eq!(out, [want; 3], "{op:?}");
    }
    let mut big = [0u32; 2];
    g.reduce_into(
        &[r as u32 + 1, 1],
        (r == 0).then_some(&mut big[..]),
        Op::Product,
        0,
    )
    .unwrap();
    if r == 0 {
        assert_eq!(big, [(1..=n as u32).product::<u32>(), 1]);
    }
}

/// Lengths that differ between ranks fail on every rank, and nobody waits.
pub fn uneven_reduce_lengths(g: &Group) {
    if g.size() < 2 {
        return;
    }
    let send = vec![1i32; g.rank() + 1];
    let mut out = vec![0i32; g.rank() + 1];
    assert!(g.allreduce_into(&send, &mut out, Op::Sum).is_err());
    assert!(g.reduce_into(&send, Some(&mut out), Op::Sum, 0).is_err());
    g.barrier().unwrap();
}

pub fn point_to_point(g: &Group) {
    let n = g.size();
    if g.rank() == 0 {
        let mut from = Vec::new();
        for _ in 1..n {
            let (v, st) = g.recv::<(usize, String)>(None, Some(3)).unwrap();
            assert_eq!(v.0, st.source);
            assert_eq!(st.tag, 3);
            from.push(st.source);
        }
        from.sort();
        assert_eq!(from, (1..n).collect::<Vec<_>>());
        if n > 1 {
            let err = g.recv::<Vec<f64>>(Some(1), Some(4)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Codec);
            // 3 bytes are not a whole f64: an error, not an abort.
            let err = g.recv_vec::<f64>(Some(1), Some(5)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
            let mut two = [0u16; 2];
            assert!(g.recv_into(&mut two, Some(1), Some(6)).is_err());
        }
    } else {
        g.send(&(g.rank(), "hi".to_string()), 0, 3).unwrap();
        if g.rank() == 1 {
            g.send(&"text", 0, 4).unwrap();
            g.send_slice(&[1u8, 2, 3], 0, 5).unwrap();
            g.send_slice(&[1u8, 2, 3], 0, 6).unwrap();
        }
    }
    assert!(g.send(&1, n, 0).is_err());
    assert!(g.send_slice(&[1u8], 0, 50_000).is_err());
    g.barrier().unwrap();
}

pub fn ndarrays(g: &Group) {
    let root = g.size() - 1;
    let value = (g.rank() == root).then(|| {
        ArrayD::from_shape_fn(IxDyn(&[3, 4, 2]), |i| {
            (i[0] * 100 + i[1] * 10 + i[2]) as f64
        })
    });
    let got = g.bcast_array(value, root).unwrap();
    assert_eq!(got.shape(), &[3, 4, 2]);
    assert_eq!(got[[2, 3, 1]], 231.0);

    // A transposed (non-contiguous) array still receives the right values.
    let mut a = Array2::<i32>::zeros((4, 3));
    if g.rank() == 0 {
        a = Array2::from_shape_fn((4, 3), |(i, j)| (i * 3 + j) as i32);
    }
    let mut t = a.clone().reversed_axes();
    g.bcast_array_into(&mut t, 0).unwrap();
    assert_eq!(t[[2, 3]], 11);
    let side = if g.rank() == 0 { 3 } else { 2 };
    let mut wrong = Array2::<i32>::zeros((side, side));
    let r = g.bcast_array_into(&mut wrong, 0);
    assert_eq!(r.is_err(), g.rank() != 0);
}

pub fn split_even_odd(g: &Group) {
    let n = g.size();
    let color = (g.rank() % 2) as u16;
    let sub = g.split(Some(color), -(g.rank() as i32)).unwrap().unwrap();
    let same: Vec<usize> = (0..n).filter(|r| r % 2 == g.rank() % 2).collect();
    assert_eq!(sub.size(), same.len());
    // Keys are negated ranks, so the highest world rank comes first.
    let members = sub.allgather(&g.rank()).unwrap();
    let mut want = same.clone();
    want.reverse();
    assert_eq!(members, want);
    let sum = sub.allreduce(g.rank(), |a, b| a + b).unwrap();
    assert_eq!(sum, same.iter().sum::<usize>());
    let none = g
        .split(if g.rank() == 0 { None } else { Some(1) }, 0)
        .unwrap();
    assert_eq!(none.is_none(), g.rank() == 0);
}

/// Values that encode to no bytes and empty slices (whose dangling address
/// Open MPI could mistake for MPI_IN_PLACE) go through every collective.
pub fn empty_values(g: &Group) {
    let n = g.size();
    assert_eq!(
        g.gather(&(), 0).unwrap().map(|v| v.len()),
        (g.rank() == 0).then_some(n)
    );
    assert_eq!(g.allgather(&()).unwrap().len(), n);
    g.bcast((g.rank() == 0).then_some(()), 0).unwrap();
    let units = (g.rank() == 0).then(|| vec![(); n]);
    g.scatter(units, 0).unwrap();
    let mut none: [u8; 0] = [];
    g.bcast_into(&mut none, 0).unwrap();
    let (all, counts) = g.allgather_vec::<u8>(&[]).unwrap();
    assert!(all.is_empty() && counts == vec![0; n]);
    let mut out: [i8; 0] = [];
    g.allreduce_into(&[], &mut out, Op::Sum).unwrap();
    g.barrier().unwrap();
}
