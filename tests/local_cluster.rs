//! The embedded cluster (no mpirun): start-up, pings, shutdown by call and by
//! drop, and a scheduler that keeps going after a malformed message.

use rankflow::comm::codec;
use rankflow::comm::local::LocalTransport;
use rankflow::comm::transport::{Transport, TAG_CONTROL};
use rankflow::protocol::{
    ClientToScheduler, SchedulerToClient, SchedulerToWorker, WorkerInfo, WorkerToScheduler,
};
use rankflow::{Config, ErrorKind, Mode};

fn local(workers: usize) -> Config {
    Config::new().mode(Mode::Local).local_workers(workers)
}

#[test]
fn every_worker_is_registered_when_initialize_returns() {
    let client = rankflow::initialize(local(3).threads_per_worker(2)).unwrap();
    let ranks: Vec<usize> = client.workers().iter().map(|w| w.rank).collect();
    assert_eq!(ranks, vec![2, 3, 4]);
    assert!(client.workers().iter().all(|w| w.threads == 2));
    assert!(client.workers().iter().all(|w| w.pid == std::process::id()));
    client.ping().unwrap();
    for r in 2..5 {
        client.ping_worker(r).unwrap();
    }
    let err = client.ping_worker(1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    client.shutdown().unwrap();
}

#[test]
fn dropping_the_client_stops_the_cluster_and_clusters_can_follow() {
    for n in [1, 2, 4] {
        let client = rankflow::initialize(local(n)).unwrap();
        assert_eq!(client.workers().len(), n);
        client.ping().unwrap();
        drop(client);
    }
}

#[test]
fn a_panic_in_the_users_code_still_shuts_down() {
    let outcome = std::panic::catch_unwind(|| {
        let _client = rankflow::initialize(local(2)).unwrap();
        panic!("user code failed");
    });
    assert!(outcome.is_err());
    // The cluster threads were joined by the drop during unwinding; a new one starts.
    rankflow::initialize(local(2)).unwrap().shutdown().unwrap();
}

#[test]
fn zero_local_workers_is_a_config_error() {
    let err = rankflow::initialize(local(0)).err().expect("an error");
    assert_eq!(err.kind(), ErrorKind::Config);
}

fn send<T: serde::Serialize>(t: &dyn Transport, to: usize, msg: &T) {
    t.outbox()
        .send(to, TAG_CONTROL, codec::encode(msg).unwrap())
        .unwrap();
}

#[test]
fn scheduler_survives_malformed_messages() {
    let mut ends = LocalTransport::world(3).into_iter();
    let mut sched = ends.next().unwrap();
    let mut client = ends.next().unwrap();
    let mut worker = ends.next().unwrap();
    let thread = std::thread::spawn(move || rankflow::scheduler::run(&mut sched, 5));

    // Garbage, an over-long length prefix, and an empty message.
    client
        .outbox()
        .send(0, TAG_CONTROL, vec![0xff, 0x13, 0x37])
        .unwrap();
    client
        .outbox()
        .send(0, TAG_CONTROL, vec![252, 255, 255, 255, 255])
        .unwrap();
    worker.outbox().send(0, TAG_CONTROL, vec![]).unwrap();

    let info = WorkerInfo {
        rank: 2,
        hostname: "h".into(),
        pid: 1,
        threads: 1,
        memory_limit: 1 << 30,
    };
    send(
        &worker,
        0,
        &WorkerToScheduler::Register {
            info: info.clone(),
            fingerprint: 5,
        },
    );
    send(&client, 0, &ClientToScheduler::Hello { fingerprint: 5 });
    let welcome: SchedulerToClient = codec::decode(&client.recv().unwrap().payload).unwrap();
    assert_eq!(
        welcome,
        SchedulerToClient::Welcome {
            workers: vec![info],
            dashboard: None,
        }
    );

    send(&client, 0, &ClientToScheduler::Shutdown);
    let told: SchedulerToWorker = codec::decode(&worker.recv().unwrap().payload).unwrap();
    assert_eq!(told, SchedulerToWorker::Shutdown);
    send(&worker, 0, &WorkerToScheduler::Goodbye);
    let done: SchedulerToClient = codec::decode(&client.recv().unwrap().payload).unwrap();
    assert_eq!(done, SchedulerToClient::Finished);
    thread.join().unwrap().unwrap();
}

#[test]
fn mismatched_fingerprint_fails_initialize_style_handshake() {
    let mut ends = LocalTransport::world(3).into_iter();
    let mut sched = ends.next().unwrap();
    let mut client = ends.next().unwrap();
    let mut worker = ends.next().unwrap();
    let thread = std::thread::spawn(move || rankflow::scheduler::run(&mut sched, 5));
    send(
        &worker,
        0,
        &WorkerToScheduler::Register {
            info: WorkerInfo {
                rank: 2,
                hostname: "h".into(),
                pid: 1,
                threads: 1,
                memory_limit: 1 << 30,
            },
            fingerprint: 6,
        },
    );
    send(&client, 0, &ClientToScheduler::Hello { fingerprint: 5 });
    let abort: SchedulerToClient = codec::decode(&client.recv().unwrap().payload).unwrap();
    assert!(matches!(abort, SchedulerToClient::Abort { reason } if reason.contains("[2]")));
    let told: SchedulerToWorker = codec::decode(&worker.recv().unwrap().payload).unwrap();
    assert!(matches!(told, SchedulerToWorker::Abort { .. }));
    let err = thread.join().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BinaryMismatch);
}
