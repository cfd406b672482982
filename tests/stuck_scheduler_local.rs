//! The client's watchdog of the scheduler on the embedded cluster: a
//! scheduler whose loop stops (a test hook, `RANKFLOW_TEST_STALL_SCHEDULER`)
//! ends the client's calls with an error naming rank 0 within about the
//! watchdog time. Its own process, as the hook is read from the environment.

use rankflow::{Config, ErrorKind, Mode};
use std::time::{Duration, Instant};

#[test]
fn a_stuck_scheduler_ends_the_job_naming_rank_0() {
    std::env::set_var("RANKFLOW_TEST_STALL_SCHEDULER", "4");
    let c = rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(1)
            .watchdog(Some(Duration::from_millis(500))),
    )
    .unwrap();
    let start = Instant::now();
    let e = c.ping().unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::ShutDown, "{e}");
    assert!(e.message().contains("scheduler (rank 0)"), "{e}");
    assert!(e.message().contains("stuck"), "{e}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(c.submit(|x: u64| x, 1).is_err(), "the job is over");
}
