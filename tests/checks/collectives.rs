//! Checks of the collective layer that hold for any group size. The same
//! functions run on the in-process backend (`tests/collectives_local.rs`, for
//! sizes 1 to 5) and under mpirun (`examples/collectives_check.rs`), so both
//! backends answer to one specification. Each panics on a wrong answer.

use ndarray::{Array2, ArrayD, IxDyn};
use rankflow::{ErrorKind, Group, Op};
use std::collections::BTreeMap;

/// A named check.
pub type Check = (&'static str, fn(&Group));

/// Every check, with its name.
pub const ALL: [Check; 10] = [
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
];

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
