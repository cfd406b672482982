//! Large values between the client and a worker travel beside their
//! messages: a client with a recording outbox in place of a transport.

use super::state::{Inner, Status};
use crate::comm::codec;
use crate::comm::transport::{Envelope, Outbox, Rank, Tag, TAG_CONTROL};
use crate::protocol::{ClientToWorker, WorkerToClient, BESIDE_BYTES};
use crate::task::{FailureKind, Key};
use std::sync::{Arc, Mutex};

/// One message sent: where to, its payload and the bodies beside it.
type Sent = (Rank, Vec<u8>, Vec<Arc<Vec<u8>>>);

/// Every message sent, in order.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<Sent>>,
}

impl Outbox for Recorder {
    fn send(&self, dest: Rank, tag: Tag, payload: Vec<u8>) -> crate::Result<()> {
        self.send_with_bodies(dest, tag, payload, Vec::new())
    }

    fn send_with_bodies(
        &self,
        dest: Rank,
        _tag: Tag,
        payload: Vec<u8>,
        bodies: Vec<Arc<Vec<u8>>>,
    ) -> crate::Result<()> {
        self.sent.lock().unwrap().push((dest, payload, bodies));
        Ok(())
    }
}

fn inner(recorder: Arc<Recorder>) -> Inner {
    Inner::new(None, recorder, 0, vec![2])
}

#[test]
fn a_large_put_goes_beside_its_message_in_the_callers_buffer() {
    let recorder = Arc::new(Recorder::default());
    let c = inner(recorder.clone());
    let big: Vec<u8> = (0..BESIDE_BYTES).map(|i| (i % 13) as u8).collect();
    let (start, copy) = (big.as_ptr(), big.clone());
    let placed = c.put_on(3, Key(1), big).unwrap();
    assert_eq!((placed.worker, placed.nbytes), (3, BESIDE_BYTES as u64));
    c.put_on(3, Key(2), vec![4u8; BESIDE_BYTES - 1]).unwrap();
    let sent = recorder.sent.lock().unwrap();
    assert_eq!(sent.len(), 2);
    let (dest, payload, bodies) = &sent[0];
    assert_eq!(*dest, 3);
    assert_eq!(
        codec::decode::<ClientToWorker>(payload).unwrap(),
        ClientToWorker::PutBeside { key: Key(1) }
    );
    assert_eq!(bodies.len(), 1);
    assert_eq!(*bodies[0], copy);
    assert_eq!(bodies[0].as_ptr(), start, "the caller's buffer, not a copy");
    assert!(payload.len() < 64, "the value is not in the message");
    let (_, payload, bodies) = &sent[1];
    assert!(bodies.is_empty(), "a small value goes inside");
    assert_eq!(
        codec::decode::<ClientToWorker>(payload).unwrap(),
        ClientToWorker::Put {
            key: Key(2),
            bytes: vec![4u8; BESIDE_BYTES - 1]
        }
    );
}

fn fetching(c: &Inner, key: Key) {
    c.hold(
        key,
        Status::Stored {
            worker: 2,
            fetching: true,
        },
    );
}

fn answer(key: Key, bodies: Vec<Arc<Vec<u8>>>) -> Envelope {
    let mut e = Envelope::new(
        2,
        TAG_CONTROL,
        codec::encode(&WorkerToClient::DataBeside { key }).unwrap(),
    );
    e.bodies = bodies;
    e
}

#[test]
fn a_large_result_fetched_is_the_received_buffer() {
    let c = inner(Arc::new(Recorder::default()));
    let value: Vec<u8> = (0..3 * BESIDE_BYTES).map(|i| (i % 7) as u8).collect();
    let body = Arc::new(codec::encode_value(&value).unwrap());
    fetching(&c, Key(1));
    fetching(&c, Key(2));
    let mut st = c.lock();
    c.handle(&mut st, answer(Key(1), vec![body.clone()]));
    match &st.entries[&Key(1)].status {
        Status::Value(b) => {
            assert!(Arc::ptr_eq(b, &body), "the received buffer itself");
            assert_eq!(codec::decode_value::<Vec<u8>>(b).unwrap(), value);
        }
        _ => panic!("the value arrived"),
    }
    // No body where one is announced: the fetch fails, it does not wait.
    c.handle(&mut st, answer(Key(2), Vec::new()));
    match &st.entries[&Key(2)].status {
        Status::Failed(f) => {
            assert_eq!(f.kind, FailureKind::Refused);
            assert!(f.message.contains("0 values beside"), "{}", f.message);
        }
        _ => panic!("the fetch failed"),
    }
}
