//! The messages between roles: one enum per direction, encoded with the codec
//! and sent with [`TAG_CONTROL`](crate::comm::transport::TAG_CONTROL).
//!
//! Start-up: every worker sends `Register`, the client sends `Hello`; once all
//! are in and every executable fingerprint matches, the scheduler answers the
//! client with `Welcome` (so `initialize` returns with every worker known).
//! Shutdown: client `Shutdown` -> scheduler `Shutdown` to each worker -> each
//! worker `Goodbye` -> scheduler `Finished` to the client -> every rank exits.

use crate::comm::transport::Rank;
use crate::diagnostics::events::EventBatch;
use crate::diagnostics::packed::PackedTasks;
use crate::task::args::Part;
use crate::task::shipping::FnRef;
use crate::task::{Key, TaskFailure};
use serde::{Deserialize, Serialize};

/// Rank of the scheduler.
pub const SCHEDULER: Rank = 0;
/// Rank of the client.
pub const CLIENT: Rank = 1;
/// Rank of the first worker.
pub const FIRST_WORKER: Rank = 2;

/// The largest inline argument position or pushed result: the client puts
/// larger arguments on a worker directly, and a worker keeps larger results
/// for the client to fetch.
pub const INLINE_LIMIT: usize = 64 * 1024;

/// A task as the client submits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Its key.
    pub key: Key,
    /// What to run.
    pub function: FnRef,
    /// The argument's positions: inline values (at most the inline limit) or
    /// keys of tasks and placed data.
    pub parts: Vec<Part>,
    /// Higher runs first.
    pub priority: i32,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Worker ranks it may run on; `None` for any.
    pub workers: Option<Vec<usize>>,
    /// With `workers`: others may run it too.
    pub allow_other_workers: bool,
}

/// Data the client put on a worker itself (arguments over the inline limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    /// The data's key.
    pub key: Key,
    /// The worker holding it.
    pub worker: usize,
    /// Its size.
    pub nbytes: u64,
}

/// Where a worker finds one argument position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// The encoded value itself (shared with the scheduler's copy of the
    /// task: handing it out again copies nothing).
    Inline(#[serde(with = "crate::comm::bytes::shared")] std::sync::Arc<Vec<u8>>),
    /// In this worker's store (or about to be put there by the client).
    Local(Key),
    /// In another worker's store.
    Remote {
        /// The data's key.
        key: Key,
        /// The worker holding it.
        worker: usize,
    },
}

/// A task as the scheduler hands it to a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputeSpec {
    /// Its key.
    pub key: Key,
    /// What to run.
    pub function: FnRef,
    /// Where each argument position is.
    pub inputs: Vec<Input>,
    /// Tell the client when it ends (with the value, if small): the client
    /// holds a future for it. Results nobody at the client asked for (the
    /// inside of a graph) are not pushed.
    pub push: bool,
}

/// How one task ended on a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// It produced a result of `nbytes`, in `micros` of run time.
    Done {
        /// Its key.
        key: Key,
        /// Encoded size of the result.
        nbytes: u64,
        /// Run time in microseconds.
        micros: u64,
    },
    /// It failed.
    Failed(TaskFailure),
}

/// A result as the worker hands it to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivered {
    /// The encoded value (small results come straight away).
    Value(#[serde(with = "crate::comm::bytes")] Vec<u8>),
    /// Kept on the worker; fetch it when needed.
    Stored {
        /// Encoded size.
        nbytes: u64,
    },
}

/// What a worker rank reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Rank in the world.
    pub rank: usize,
    /// Host it runs on.
    pub hostname: String,
    /// Process id (the same for every worker of the embedded cluster).
    pub pid: u32,
    /// Executor threads.
    pub threads: usize,
    /// Bytes of data it may hold: `memory_limit` from the configuration, else
    /// its host's available memory at start-up shared among the ranks there.
    pub memory_limit: u64,
}

/// Client -> scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientToScheduler {
    /// The client is up; `fingerprint` identifies its executable.
    Hello {
        /// Executable fingerprint.
        fingerprint: u64,
    },
    /// Round-trip probe.
    Ping {
        /// Echoed back in `Pong`.
        id: u64,
    },
    /// Stop every rank.
    Shutdown,
    /// Readable names of task functions, sent once per function just before
    /// the first `Submit` that uses it (tasks themselves carry no name), for
    /// the live dashboard.
    Names {
        /// Each function and its Rust path (`my_crate::simulate`).
        names: Vec<(FnRef, String)>,
    },
    /// New tasks, and the data their large arguments were put in.
    Submit {
        /// The tasks.
        tasks: Vec<TaskSpec>,
        /// Data the client put on workers for them (large arguments). The
        /// client holds each, for later batches to share, until it releases
        /// the key; the same key placed again is one more copy.
        placed: Vec<Placed>,
    },
    /// The client holds no more futures for these keys.
    Release {
        /// The keys.
        keys: Vec<Key>,
    },
    /// Do not run these if they have not started.
    Cancel {
        /// The keys.
        keys: Vec<Key>,
    },
    /// Make sure at least `n` workers hold a copy of `key` (answered with
    /// `Replicated`).
    Replicate {
        /// Echoed in the answer.
        id: u64,
        /// The result to copy.
        key: Key,
        /// How many workers should hold it.
        n: usize,
    },
    /// A value the client broadcast to every listed worker; it holds a future.
    AdoptReplicated {
        /// Its key.
        key: Key,
        /// The workers holding a copy.
        workers: Vec<usize>,
        /// Its size.
        nbytes: u64,
    },
    /// Data the client put on workers itself (`scatter`), for which it holds
    /// futures.
    Adopt {
        /// Where each piece is.
        placed: Vec<Placed>,
    },
    /// Run these failed tasks again, with the failed tasks they depend on
    /// (answered with `Retried`, and later their outcomes).
    Retry {
        /// The keys.
        keys: Vec<Key>,
    },
    /// Run these to completion even after the client releases them.
    FireAndForget {
        /// The keys.
        keys: Vec<Key>,
    },
    /// Which workers hold these keys' results, or every result when `keys`
    /// is `None` (answered with `Holders`).
    WhoHas {
        /// Echoed in the answer.
        id: u64,
        /// The keys asked about; `None` for all.
        keys: Option<Vec<Key>>,
        /// Keys whose results the client has already seen: the answer waits
        /// until the scheduler has heard they finished.
        done: Vec<Key>,
    },
    /// Task events: workers record them or not, and the scheduler keeps the
    /// newest `history` of each kind (at least 1).
    EventSettings {
        /// Workers record events (unchanged when `None`).
        record: Option<bool>,
        /// The history's limit (unchanged when `None`).
        history: Option<usize>,
    },
    /// The events that ended at or after `since_us` (answered with `Events`
    /// once every worker has sent what it had recorded).
    GetEvents {
        /// Echoed in the answer.
        id: u64,
        /// µs since the Unix epoch; 0 for the whole history.
        since_us: u64,
    },
}

/// Scheduler -> client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerToClient {
    /// Every worker has registered.
    Welcome {
        /// The workers, by rank.
        workers: Vec<WorkerInfo>,
        /// The live dashboard's link, if the scheduler serves one.
        dashboard: Option<String>,
    },
    /// Answer to `Ping`.
    Pong {
        /// The ping's id.
        id: u64,
    },
    /// Every worker has stopped; the client may finalize.
    Finished,
    /// Answer to `Replicate`: how many workers hold the key now, or why not.
    Replicated {
        /// The request's id.
        id: u64,
        /// Copies held, or the reason it could not be done.
        outcome: std::result::Result<usize, String>,
    },
    /// Results the client asked for again after their worker had already
    /// pushed them (a pure task submitted again): where to fetch each.
    Located {
        /// Key and the worker holding it.
        items: Vec<(Key, usize)>,
    },
    /// Failed tasks the client holds that run again (after `Retry`: the
    /// keys asked for and the failed tasks they depend on).
    Retried {
        /// The keys.
        keys: Vec<Key>,
    },
    /// Answer to `WhoHas`: the workers holding each key, by key.
    Holders {
        /// The request's id.
        id: u64,
        /// Key and the worker ranks holding it (empty when none does).
        holders: Vec<(Key, Vec<usize>)>,
    },
    /// Tasks that will not produce a result (failed after their retries,
    /// failed dependencies). Cancels are not reported: the client marks
    /// those itself when it asks.
    Failed {
        /// Why, per task.
        failures: Vec<TaskFailure>,
    },
    /// The job cannot go on; every rank exits non-zero.
    Abort {
        /// What happened.
        reason: String,
    },
    /// Answer to `GetEvents`.
    Events {
        /// The request's id.
        id: u64,
        /// The events.
        batch: EventBatch,
    },
}

/// Worker -> scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerToScheduler {
    /// The worker is up.
    Register {
        /// About the worker.
        info: WorkerInfo,
        /// Executable fingerprint.
        fingerprint: u64,
    },
    /// Answer to `Shutdown`: the worker is about to exit.
    Goodbye,
    /// Tasks that ended.
    Finished {
        /// One per task.
        outcomes: Vec<Outcome>,
    },
    /// A copy of `key` is now kept here (answer to `Acquire`).
    Acquired {
        /// The key.
        key: Key,
    },
    /// `Acquire` could not be done: rank `from` answered that it no longer
    /// holds `key`.
    AcquireFailed {
        /// The key.
        key: Key,
        /// The rank that was asked for it.
        from: Rank,
    },
    /// Answer to `Steal`: the tasks taken off the queue unstarted.
    Stolen {
        /// The keys that `Steal` asked for (echoed, so that each answer
        /// says which request it answers when several are in flight).
        asked: Vec<Key>,
        /// Those taken back (the others had started or finished).
        keys: Vec<Key>,
    },
    /// Answer to `Heartbeat`: the worker's loop is answering.
    Alive {
        /// CPU time the worker has used since it started, in µs (its
        /// process's, or on the embedded cluster its own threads'); `None`
        /// where it cannot be read (not Linux).
        cpu_us: Option<u64>,
    },
    /// The worker's memory went over its pause fraction (`paused: true`):
    /// give it no new tasks (the scheduler may take back its queued ones)
    /// until it says it is back below (`paused: false`).
    Paused {
        /// Paused or resumed.
        paused: bool,
    },
    /// Tasks handed back unstarted because an input they were to fetch is
    /// gone from the worker that was said to hold it (freed there).
    InputsGone {
        /// The tasks.
        tasks: Vec<Key>,
        /// The inputs found gone.
        keys: Vec<Key>,
    },
    /// Task events recorded since the last batch (see
    /// [`diagnostics::events`](crate::diagnostics::events)); sent before the
    /// `Finished` of the same flush.
    Events {
        /// The tasks' runs, packed (see
        /// [`diagnostics::packed`](crate::diagnostics::packed)).
        tasks: PackedTasks,
        /// The other events (transfers, collective sections, memory
        /// samples; its `tasks` are empty).
        batch: EventBatch,
    },
    /// Answer to `FlushEvents`: every event recorded before it was sent.
    FlushedEvents {
        /// The request's id.
        id: u64,
    },
}

/// Scheduler -> worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerToWorker {
    /// Stop serving and exit.
    Shutdown,
    /// Run these.
    Compute {
        /// The tasks, in the order to start them.
        tasks: Vec<ComputeSpec>,
    },
    /// Drop these results from the store.
    Free {
        /// The keys.
        keys: Vec<Key>,
    },
    /// Fetch `key` from worker `from` and keep a copy (for `replicate`).
    Acquire {
        /// The key.
        key: Key,
        /// A worker that holds it.
        from: usize,
    },
    /// Hand back these queued tasks if they have not started.
    Steal {
        /// The keys.
        keys: Vec<Key>,
    },
    /// Answer `Alive` (the scheduler's watchdog; see `Config::watchdog`).
    Heartbeat,
    /// The job cannot go on; exit non-zero.
    Abort {
        /// What happened.
        reason: String,
    },
    /// Record task events from now on (`true`) or stop (`false`).
    RecordEvents {
        /// On or off.
        on: bool,
    },
    /// Send the events recorded so far, then answer `FlushedEvents`.
    FlushEvents {
        /// Echoed in the answer.
        id: u64,
    },
}

/// Client -> worker, directly (never through the scheduler).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientToWorker {
    /// Round-trip probe.
    Ping {
        /// Echoed back in `Pong`.
        id: u64,
    },
    /// Send me this result (answered with `Data`).
    Fetch {
        /// The key.
        key: Key,
    },
    /// Keep this data (a large task argument, or a scattered item).
    Put {
        /// Its key.
        key: Key,
        /// The encoded value.
        #[serde(with = "crate::comm::bytes")]
        bytes: Vec<u8>,
    },
    /// Keep the value that travels beside this message, its one body
    /// ([`BESIDE_BYTES`] or more: a large task argument or scattered item,
    /// sent without copying it into the message).
    PutBeside {
        /// Its key.
        key: Key,
    },
    /// Call this function now, on the worker's own loop, and reply.
    Run {
        /// Echoed in the reply.
        id: u64,
        /// The function's trampoline (a task trampoline).
        function: FnRef,
        /// The encoded argument: `()` for `run`, the `A` of `run_with`.
        #[serde(with = "crate::comm::bytes")]
        arg: Vec<u8>,
    },
    /// Keep a named variable (answered with an empty reply).
    SetVar {
        /// Echoed in the reply.
        id: u64,
        /// Its name.
        name: String,
        /// The encoded value.
        #[serde(with = "crate::comm::bytes")]
        bytes: Vec<u8>,
    },
    /// Send a named variable's value.
    GetVar {
        /// Echoed in the reply.
        id: u64,
        /// Its name.
        name: String,
    },
    /// Take part in a broadcast from the client over the client+workers
    /// group: receive `prefix_len` bytes, then `data_len` bytes, keep them
    /// under `key` (if any), and reply.
    Bcast {
        /// Echoed in the reply.
        id: u64,
        /// Where to keep the value; `None` to drop it (benchmarks).
        key: Option<Key>,
        /// Bytes of the first broadcast (an encoding prefix; may be 0).
        prefix_len: u64,
        /// Bytes of the second broadcast.
        data_len: u64,
    },
    /// Take part in the client's scatterv of an array's rows over the
    /// client+workers group; keep this worker's rows as variable `name`.
    ScatterArray {
        /// Echoed in the reply.
        id: u64,
        /// The variable to keep the rows in.
        name: String,
        /// The array's shape after axis 0.
        trailing: Vec<u64>,
        /// Bytes per element.
        elem_size: u64,
    },
    /// Reply with the shape of array variable `name` (before `GatherArray`).
    ArrayShape {
        /// Echoed in the reply.
        id: u64,
        /// The variable.
        name: String,
    },
    /// Take part in the client's gatherv of array variable `name`'s rows.
    GatherArray {
        /// Echoed in the reply.
        id: u64,
        /// The variable.
        name: String,
    },
    /// Run an SPMD section: every worker gets the same message, in the same
    /// order, and calls the function with the workers group.
    Section {
        /// Echoed in the reply.
        id: u64,
        /// A `fn(&Group, A) -> R` and its trampoline.
        function: FnRef,
        /// The encoded `A`.
        #[serde(with = "crate::comm::bytes")]
        arg: Vec<u8>,
    },
    /// Run an SPMD section over the client+workers group, the client being
    /// member 0 (`Client::with_workers`): like `Section`, with that group.
    MembersSection {
        /// Echoed in the reply.
        id: u64,
        /// A `fn(&Group, A) -> R` and its trampoline.
        function: FnRef,
        /// The encoded `A`.
        #[serde(with = "crate::comm::bytes")]
        arg: Vec<u8>,
    },
}

/// Worker -> client, directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerToClient {
    /// Answer to `Ping`.
    Pong {
        /// The ping's id.
        id: u64,
    },
    /// Tasks that succeeded here.
    Results {
        /// Per task: the value, or where it is kept.
        results: Vec<(Key, Delivered)>,
    },
    /// Answer to `Fetch`; `None` if the worker does not hold the key.
    Data {
        /// The key.
        key: Key,
        /// The encoded value.
        #[serde(with = "crate::comm::bytes::option")]
        bytes: Option<Vec<u8>>,
    },
    /// Answer to `Fetch` with a value of [`BESIDE_BYTES`] or more: it
    /// travels beside the message, its one body, shared with the worker's
    /// store and received into a buffer of its own.
    DataBeside {
        /// The key.
        key: Key,
    },
    /// Answer to `Run`, `SetVar`, `GetVar` and `Section`.
    Reply {
        /// The request's id.
        id: u64,
        /// The encoded result, or why there is none.
        #[serde(with = "crate::comm::bytes::result")]
        outcome: std::result::Result<Vec<u8>, TaskFailure>,
    },
}

/// The sending side of [`WorkerToClient::Data`], borrowing the value from
/// the worker's store instead of copying it; encodes exactly as that variant.
#[derive(Debug, Serialize)]
pub(crate) enum DataToClient<'a> {
    /// Holds [`WorkerToClient::Pong`]'s variant index; never sent.
    #[allow(dead_code)]
    Pong,
    /// Holds [`WorkerToClient::Results`]'s variant index; never sent.
    #[allow(dead_code)]
    Results,
    /// Encodes as [`WorkerToClient::Data`].
    Data {
        /// The key.
        key: Key,
        /// The encoded value.
        bytes: Option<crate::comm::bytes::Bytes<'a>>,
    },
}

/// The sending side of [`WorkerToWorker::Data`], borrowing the values from
/// the worker's store instead of copying them; encodes exactly as that
/// variant.
#[derive(Debug, Serialize)]
pub(crate) enum DataToWorker<'a> {
    /// Holds [`WorkerToWorker::Fetch`]'s variant index; never sent.
    #[allow(dead_code)]
    Fetch,
    /// Encodes as [`WorkerToWorker::Data`].
    Data {
        /// The values carried in the message, by key.
        items: Vec<(Key, crate::comm::bytes::Bytes<'a>)>,
        /// The keys whose values travel beside it.
        beside: Vec<Key>,
    },
}

/// Values of at least this many bytes travel beside a
/// [`WorkerToWorker::Data`], [`WorkerToClient::DataBeside`] or
/// [`ClientToWorker::PutBeside`] message, as bodies of their own
/// ([`Outbox::send_with_bodies`](crate::comm::transport::Outbox::send_with_bodies)),
/// instead of inside it: the sender shares the stored buffer and the receiver
/// gets a buffer of its own, so neither copies the value. Smaller values
/// travel inside, one MPI message for all of them.
pub(crate) const BESIDE_BYTES: usize = 64 << 10;

/// Worker -> worker, for task inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerToWorker {
    /// Send me these (answered with `Data`).
    Fetch {
        /// The keys.
        keys: Vec<Key>,
    },
    /// Answer to `Fetch`.
    Data {
        /// The values carried in the message, by key.
        #[serde(with = "crate::comm::bytes::keyed")]
        items: Vec<(Key, Vec<u8>)>,
        /// The keys whose values travel beside the message, one body each
        /// in this order ([`BESIDE_BYTES`]).
        beside: Vec<Key>,
    },
    /// Answer to `Fetch` for keys this worker was told to free: they will
    /// never arrive from here.
    Gone {
        /// The keys.
        keys: Vec<Key>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comm::bytes::Bytes;
    use crate::comm::codec::{decode, encode};

    #[test]
    fn borrowed_data_encodes_as_the_owned_messages() {
        let (a, b) = (vec![1u8; 300], vec![2u8, 3]);
        let sent = encode(&DataToWorker::Data {
            items: vec![(Key(7), Bytes(&a)), (Key(8), Bytes(&b))],
            beside: vec![Key(10)],
        })
        .unwrap();
        let owned = WorkerToWorker::Data {
            items: vec![(Key(7), a.clone()), (Key(8), b)],
            beside: vec![Key(10)],
        };
        assert_eq!(sent, encode(&owned).unwrap());
        assert_eq!(decode::<WorkerToWorker>(&sent).unwrap(), owned);
        for bytes in [None, Some(a)] {
            let sent = encode(&DataToClient::Data {
                key: Key(9),
                bytes: bytes.as_deref().map(Bytes),
            })
            .unwrap();
            let owned = WorkerToClient::Data { key: Key(9), bytes };
            assert_eq!(sent, encode(&owned).unwrap());
            assert_eq!(decode::<WorkerToClient>(&sent).unwrap(), owned);
        }
    }

    #[test]
    fn byte_payloads_are_one_byte_string_on_the_wire() {
        let put = ClientToWorker::Put {
            key: Key(1),
            bytes: vec![5u8; 1000],
        };
        let wire = encode(&put).unwrap();
        assert_eq!(decode::<ClientToWorker>(&wire).unwrap(), put);
        // The payload is the message's last 1000 bytes, as they were.
        assert_eq!(&wire[wire.len() - 1000..], &[5u8; 1000][..]);
    }
}
