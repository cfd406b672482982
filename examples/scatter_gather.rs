//! The root scatters (x+1)^x, each rank adds 1, the root gathers the results
//! (mpi4py's scatter/gather walk-through), in the serde and zero-copy flavours.
//!
//! `mpirun -n 4 target/release/examples/scatter_gather`

use rankflow::{Config, Error, ErrorKind};

fn main() -> Result<(), Error> {
    rankflow::spmd(Config::new(), |world| -> Result<(), Error> {
        let (rank, size) = (world.rank(), world.size());
        let expect: Vec<u64> = (0..size as u64).map(|x| (x + 1).pow(x as u32)).collect();

        // serde flavour
        let items = (rank == 0).then(|| expect.clone());
        let mine: u64 = world.scatter(items, 0)?;
        assert_eq!(mine, (rank as u64 + 1).pow(rank as u32));
        let gathered = world.gather(&(mine + 1), 0)?;
        if rank == 0 {
            let want: Vec<u64> = expect.iter().map(|v| v + 1).collect();
            assert_eq!(gathered, Some(want));
            println!("gathered {:?}", gathered.unwrap());
        } else {
            assert_eq!(gathered, None);
        }

        // zero-copy flavour: 3 values per rank
        let send: Vec<f64> = (0..3 * size).map(|i| i as f64).collect();
        let mut part = [0.0f64; 3];
        world.scatter_into((rank == 0).then_some(&send[..]), &mut part, 0)?;
        assert_eq!(
            part,
            [
                3.0 * rank as f64,
                3.0 * rank as f64 + 1.0,
                3.0 * rank as f64 + 2.0
            ]
        );
        part.iter_mut().for_each(|v| *v += 1.0);
        let mut all = vec![0.0f64; 3 * size];
        world.gather_into(&part, (rank == 0).then_some(&mut all[..]), 0)?;
        if rank == 0 {
            assert!(all.iter().enumerate().all(|(i, &v)| v == i as f64 + 1.0));
        }

        // scatterv with uneven parts: rank r gets r+1 values
        let counts: Vec<usize> = (1..=size).collect();
        let total: usize = counts.iter().sum();
        let data: Vec<i32> = (0..total as i32).collect();
        let got = world.scatterv_vec((rank == 0).then_some((&data[..], &counts[..])), 0)?;
        assert_eq!(got.len(), rank + 1);
        let back = world.gatherv_vec(&got, 0)?;
        if rank == 0 {
            assert_eq!(back, Some((data.clone(), counts.clone())));
        }

        // serde scatterv and gatherv
        let words: Vec<String> = (0..total).map(|i| format!("w{i}")).collect();
        let got = world.scatterv((rank == 0).then(|| (words.clone(), &counts[..])), 0)?;
        assert_eq!(got.len(), rank + 1);
        let back = world.gatherv(&got, 0)?;
        if rank == 0 {
            assert_eq!(back, Some(words));
        }

        // A vector whose length is not the group size is an error on every rank.
        let wrong = (rank == 0).then(|| vec![1u8; size + 1]);
        let err = world.scatter(wrong, 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("group size"), "{err}");

        if rank == 0 {
            println!("scatter_gather: ok on {size} ranks");
        }
        Ok(())
    })
}
