//! How much CPU a rank burns while it waits for a message, with a raw MPI
//! blocking receive (the baseline: Open MPI spins) and with rankflow's
//! transport (progress thread with backoff), while the other ranks compute.
//! Prints one JSON line.
//!
//! ```text
//! mpirun -n 4 target/release/examples/idle_cpu [seconds]
//! ```
//!
//! Rank 0 waits; rank 1 sleeps, then sends (so rank 1 is an idle rank that
//! holds a transport too); ranks 2.. spin on arithmetic as busy workers do.

#[cfg(feature = "mpi")]
mod measure {
    use rankflow::comm::mpi_transport::MpiTransport;
    use rankflow::comm::transport::Transport;
    use rankflow::Group;
    use std::time::{Duration, Instant};

    /// CPU seconds this process has used (all threads), from /proc.
    fn cpu_seconds() -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
        // Fields after the parenthesised command name; utime and stime are 14 and 15.
        let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        ticks / 100.0
    }

    fn busy(d: Duration) -> f64 {
        let end = Instant::now() + d;
        let mut x = 1.0f64;
        while Instant::now() < end {
            for _ in 0..10_000 {
                x = (x * 1.000001).sqrt() + 0.5;
            }
        }
        x
    }

    /// CPU percent of `f` on this rank.
    fn cpu_pct(f: impl FnOnce()) -> f64 {
        let (c0, t0) = (cpu_seconds(), Instant::now());
        f();
        100.0 * (cpu_seconds() - c0) / t0.elapsed().as_secs_f64()
    }

    pub fn run(world: &Group, secs: f64) -> rankflow::Result<()> {
        use mpi::point_to_point::{Destination, Source};
        use mpi::topology::{Communicator, SimpleCommunicator};
        let d = Duration::from_secs_f64(secs);
        let rank = world.rank();
        assert!(world.size() >= 2, "idle_cpu needs at least 2 ranks");

        // Baseline: a raw blocking receive.
        world.barrier()?;
        let raw = {
            let comm = SimpleCommunicator::world();
            match rank {
                0 => cpu_pct(|| {
                    let (v, _) = comm.process_at_rank(1).receive::<u64>();
                    assert_eq!(v, 42);
                }),
                1 => {
                    std::thread::sleep(d);
                    comm.process_at_rank(0).send(&42u64);
                    0.0
                }
                _ => {
                    std::hint::black_box(busy(d));
                    0.0
                }
            }
        };
        world.barrier()?;

        // rankflow: the progress thread owns MPI and backs off when idle.
        let mut t = MpiTransport::start(1 << 20, rankflow::comm::flow::Limits::default())?;
        let (waiting, sleeping) = match rank {
            0 => {
                let pct = cpu_pct(|| {
                    let e = t.recv().expect("a message from rank 1");
                    assert_eq!((e.source, e.payload), (1, vec![42]));
                });
                (pct, 0.0)
            }
            1 => {
                let pct = cpu_pct(|| std::thread::sleep(d));
                t.outbox().send(0, 1, vec![42])?;
                (0.0, pct)
            }
            _ => {
                std::hint::black_box(busy(d));
                (0.0, 0.0)
            }
        };
        Box::new(t).close()?;
        let sleeping_on_1 = world.bcast((rank == 1).then_some(sleeping), 1)?;
        if rank == 0 {
            println!(
                "{{\"bench\":\"idle_cpu\",\"ranks\":{},\"seconds\":{secs},\
                 \"raw_mpi_recv_cpu_pct\":{raw:.1},\"rankflow_recv_cpu_pct\":{waiting:.1},\
                 \"rankflow_idle_sender_cpu_pct\":{sleeping_on_1:.1}}}",
                world.size()
            );
        }
        Ok(())
    }
}

#[cfg(feature = "mpi")]
fn main() -> rankflow::Result<()> {
    let secs: f64 = std::env::args()
        .nth(1)
        .map_or(Ok(3.0), |a| a.parse())
        .expect("seconds is a number");
    if std::env::var_os("OMPI_COMM_WORLD_SIZE")
        .or(std::env::var_os("PMI_SIZE"))
        .is_none()
    {
        println!("idle_cpu measures MPI ranks; run it under mpirun -n 4");
        return Ok(());
    }
    rankflow::spmd(rankflow::Config::new(), |world| measure::run(world, secs))
}

#[cfg(not(feature = "mpi"))]
fn main() {
    println!("idle_cpu measures MPI ranks; build with the mpi feature");
}
