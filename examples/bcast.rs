//! A map like {"a": 1, "b": 2, "c": 3} reaches every rank (mpi4py's `bcast`).
//!
//! `mpirun -n 4 target/release/examples/bcast`

use rankflow::{Config, Error};
use std::collections::BTreeMap;

fn main() -> Result<(), Error> {
    rankflow::spmd(Config::new(), |world| -> Result<(), Error> {
        let expected: BTreeMap<String, i32> =
            [("a".into(), 1), ("b".into(), 2), ("c".into(), 3)].into();
        let data = (world.rank() == 0).then(|| expected.clone());
        let got = world.bcast(data, 0)?;
        assert_eq!(got, expected, "rank {} got the root's map", world.rank());

        // From another root, and a root that passes nothing is an error everywhere.
        let root = world.size() - 1;
        let word = world.bcast((world.rank() == root).then(|| "hi".to_string()), root)?;
        assert_eq!(word, "hi");
        let err = world.bcast::<i32>(None, 0).unwrap_err();
        assert!(err.to_string().contains("no data"), "{err}");

        println!("rank {}: {:?}", world.rank(), got);
        Ok(())
    })
}
