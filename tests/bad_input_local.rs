//! Bad input that the catalogue (`docs/bad-input.md`) lists and no other
//! test checks by its message: each gives a clear error, never a hang or a
//! panic.

use rankflow::comm::codec;
use rankflow::protocol::ClientToScheduler;
use rankflow::{Config, ErrorKind, Mode, TaskOptions};

fn local() -> Config {
    Config::new().mode(Mode::Local)
}

fn square(x: u64) -> u64 {
    x * x
}

fn one() -> u64 {
    1
}

#[test]
fn bad_builder_values_are_config_errors_naming_the_setting() {
    for (config, want) in [
        (
            local().threads_per_worker(0),
            "threads_per_worker must be at least 1, got 0",
        ),
        (
            local().local_workers(0),
            "local_workers must be between 1 and 4096, got 0",
        ),
        (
            local().max_message_bytes(1),
            "max_message_bytes must be between 1 MiB",
        ),
        (
            local().pause_fraction(2.0),
            "pause_fraction must be a fraction of the memory limit between 0 and 1, got 2",
        ),
    ] {
        let e = config.resolve().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert!(e.to_string().contains(want), "{want:?} not in {e}");
        match rankflow::initialize(config) {
            Err(e) => assert_eq!(e.kind(), ErrorKind::Config, "initialize: {e}"),
            Ok(_) => panic!("initialize accepted {want:?}"),
        }
    }
}

#[test]
fn an_unknown_worker_rank_is_refused_before_anything_is_sent() {
    let c = rankflow::initialize(local().local_workers(2)).unwrap();
    let on_99 = TaskOptions::new().workers(&[99]);
    let errors = [
        c.submit_with_options(square, 4u64, &on_99).map(|_| ()),
        c.ping_worker(99).map(|_| ()),
        c.run(one, Some(&[99])).map(|_| ()),
    ];
    for e in errors {
        let e = e.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains("rank 99 is not a worker"), "{e}");
    }
    assert_eq!(c.submit(square, 4u64).unwrap().result().unwrap(), 16);
    c.shutdown().unwrap();
}

#[test]
fn a_result_read_as_the_wrong_type_names_both() {
    let c = rankflow::initialize(local().local_workers(1)).unwrap();
    let f = c.submit(square, 3u64).unwrap();
    let e = f.result_as::<String>().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Codec, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("does not decode as alloc::string::String"),
        "{text}"
    );
    assert!(
        text.contains(&format!("the result of task {}", f.key())),
        "{text}"
    );
    assert_eq!(f.result().unwrap(), 9, "the future still holds the value");
    c.shutdown().unwrap();
}

#[test]
fn collective_arguments_outside_the_group_are_invalid_on_the_rank_that_passed_them() {
    let root = rankflow::spmd(local(), |g| g.bcast_into(&mut [0u8; 3], 9)).unwrap_err();
    assert_eq!(root.kind(), ErrorKind::InvalidArgument, "{root}");
    assert!(
        root.to_string().contains("root 9 is outside a group of 4"),
        "{root}"
    );
    let peer = rankflow::spmd(local(), |g| g.send(&1u64, 7, 0)).unwrap_err();
    assert!(
        peer.to_string().contains("rank 7 is outside a group of 4"),
        "{peer}"
    );
}

#[test]
fn malformed_and_oversized_messages_are_codec_errors_naming_them() {
    let e = codec::decode::<ClientToScheduler>(&[0x77, 1, 2]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Codec);
    assert!(
        e.to_string()
            .contains("cannot decode 3 bytes as rankflow::protocol::ClientToScheduler"),
        "{e}"
    );
    let bytes = codec::encode(&vec![0u8; 4096]).unwrap();
    let e = codec::decode_limited::<Vec<u8>>(&bytes, 1024).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Codec);
    assert!(
        e.to_string()
            .contains("message of 4098 bytes is over the 1024-byte limit"),
        "{e}"
    );
}
