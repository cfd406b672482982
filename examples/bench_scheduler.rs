//! Placement cost of the scheduler's task graph, with simulated workers (no
//! MPI, no threads): one JSON line per graph shape and worker count, with the
//! time per placement decision (ns) and the graph events handled per second.
//! The first worker count of each shape (2 by default) is the baseline;
//! `vs_baseline` is the time per decision relative to it.
//!
//! Shapes: `independent` (tasks with no inputs, submitted in batches of
//! 10,000, results released in batches as they finish) and `reduce` (a wide
//! layer of tasks, then a tree reduction with fan-in 16 to one result the
//! client holds; the client releases the rest at once).
//!
//! Each simulated worker has one thread and finishes its queued tasks in
//! order, one `Finished` event per task, round robin over the busy workers;
//! at its next turn it answers steal requests with the tasks still queued. The run checks
//! that every task ran exactly once and that the graph is empty at the end.
//!
//! ```text
//! cargo run --release --example bench_scheduler -- [tasks] [workers,...]
//! target/release/examples/bench_scheduler 1000000 2,100,1000,10000
//! ```

use rankflow::protocol::Outcome;
use rankflow::scheduler::graph::{sim, Effects, TaskGraph};
use rankflow::Key;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// Keys the client submits per `Submit` event.
const BATCH: usize = 10_000;
/// Inputs per reduction task.
const FAN_IN: usize = 16;
/// Size of every simulated result.
const NBYTES: u64 = 1_000;
/// Run time reported for every simulated task.
const MICROS: u64 = 1_000;
const FIRST_WORKER: usize = 2;

/// The simulated cluster around one graph.
struct Sim {
    graph: TaskGraph,
    /// Tasks handed to each worker, oldest (running) first.
    queues: HashMap<usize, VecDeque<Key>>,
    /// Workers with tasks, in the order they finish their next one.
    busy: VecDeque<usize>,
    /// Unanswered steal requests, by worker.
    steals: HashMap<usize, Vec<Key>>,
    /// How often each key was handed out and finished.
    ran: HashMap<Key, u32>,
    /// Tasks submitted.
    submitted: usize,
    /// Tasks handed to a worker (a stolen task is handed out again).
    decisions: u64,
    events: u64,
}

impl Sim {
    fn new(workers: usize) -> Self {
        let mut graph = TaskGraph::new();
        for w in 0..workers {
            graph.add_worker(FIRST_WORKER + w, 1);
        }
        Sim {
            graph,
            queues: HashMap::new(),
            busy: VecDeque::new(),
            steals: HashMap::new(),
            ran: HashMap::new(),
            submitted: 0,
            decisions: 0,
            events: 0,
        }
    }

    /// Applies what the graph asked for: new tasks queue on their worker;
    /// steal requests wait for the worker's next turn.
    fn apply(&mut self, fx: Effects) {
        assert!(
            fx.failures.is_empty(),
            "a task failed: {:?}",
            fx.failures[0]
        );
        for (w, specs) in fx.compute {
            self.decisions += specs.len() as u64;
            let q = self.queues.entry(w).or_default();
            if q.is_empty() {
                self.busy.push_back(w);
            }
            q.extend(specs.iter().map(|s| s.key));
        }
        for (w, keys) in fx.steal {
            self.steals.entry(w).or_default().extend(keys);
        }
    }

    /// Worker `w` hands back the requested tasks it has not started.
    fn answer_steal(&mut self, w: usize) {
        let Some(keys) = self.steals.remove(&w) else {
            return;
        };
        let q = self.queues.entry(w).or_default();
        let mut back = Vec::new();
        for &k in &keys {
            if let Some(i) = q.iter().skip(1).position(|q| *q == k) {
                q.remove(i + 1);
                back.push(k);
            }
        }
        let mut fx = Effects::default();
        self.graph.stolen(w, &keys, &back, &mut fx);
        self.events += 1;
        self.apply(fx);
    }

    fn submit(&mut self, specs: Vec<rankflow::protocol::TaskSpec>) {
        self.submitted += specs.len();
        let mut fx = Effects::default();
        self.graph.submit(specs, vec![], &mut fx);
        self.events += 1;
        self.apply(fx);
    }

    fn release(&mut self, keys: &[Key]) {
        let mut fx = Effects::default();
        self.graph.release(keys, &mut fx);
        self.events += 1;
        self.apply(fx);
    }

    /// The next busy worker finishes its oldest task; returns its key.
    fn step(&mut self) -> Option<Key> {
        let w = self.busy.pop_front()?;
        self.answer_steal(w);
        let q = self.queues.get_mut(&w).expect("a busy worker has a queue");
        let key = q.pop_front().expect("a busy worker has a task");
        if !q.is_empty() {
            self.busy.push_back(w);
        }
        *self.ran.entry(key).or_default() += 1;
        let mut fx = Effects::default();
        let done = Outcome::Done {
            key,
            nbytes: NBYTES,
            micros: MICROS,
        };
        self.graph.finished(w, vec![done], &mut fx);
        self.events += 1;
        self.apply(fx);
        Some(key)
    }
}

/// Runs `tasks` independent tasks; returns the simulation at the end.
fn independent(workers: usize, tasks: usize) -> Sim {
    let mut sim = Sim::new(workers);
    let keys: Vec<Key> = (0..tasks as u64).map(Key).collect();
    for chunk in keys.chunks(BATCH) {
        sim.submit(chunk.iter().map(|&k| sim::task(k, &[])).collect());
    }
    let mut finished = Vec::new();
    while let Some(k) = sim.step() {
        finished.push(k);
        if finished.len() == BATCH {
            sim.release(&finished);
            finished.clear();
        }
    }
    sim.release(&finished);
    sim
}

/// Runs a wide layer and a tree reduction, `tasks` tasks in all (about).
fn reduce(workers: usize, tasks: usize) -> Sim {
    let mut sim = Sim::new(workers);
    let leaves = (tasks * (FAN_IN - 1) / FAN_IN).max(1);
    let mut next = 0u64;
    let mut specs = Vec::new();
    let mut layer: Vec<Key> = (0..leaves)
        .map(|_| {
            next += 1;
            specs.push(sim::task(Key(next), &[]));
            Key(next)
        })
        .collect();
    while layer.len() > 1 {
        layer = layer
            .chunks(FAN_IN)
            .map(|inputs| {
                next += 1;
                specs.push(sim::task(Key(next), inputs));
                Key(next)
            })
            .collect();
    }
    let root = layer[0];
    let others: Vec<Key> = specs.iter().map(|s| s.key).filter(|&k| k != root).collect();
    sim.submit(specs);
    sim.release(&others);
    while sim.step().is_some() {}
    sim.release(&[root]);
    sim
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tasks: usize = args
        .first()
        .map(|a| a.parse().expect("tasks: a whole number"))
        .unwrap_or(1_000_000);
    let sizes: Vec<usize> = args
        .get(1)
        .map(|a| {
            a.split(',')
                .map(|w| w.parse().expect("workers: comma-separated whole numbers"))
                .collect()
        })
        .unwrap_or_else(|| vec![2, 100, 1_000, 10_000]);
    assert!(
        tasks > 0 && sizes.iter().all(|&w| w > 0),
        "tasks and workers must be positive"
    );
    type Shape = fn(usize, usize) -> Sim;
    let shapes: [(&str, Shape); 2] = [("independent", independent), ("reduce", reduce)];
    for (name, run) in shapes {
        let mut baseline = None;
        for &workers in &sizes {
            let start = Instant::now();
            let sim = run(workers, tasks);
            let secs = start.elapsed().as_secs_f64();
            assert!(
                sim.graph.is_empty(),
                "{name} at {workers} workers: {} tasks left in the graph",
                sim.graph.len()
            );
            assert!(
                sim.ran.values().all(|&n| n == 1),
                "{name}: a task ran twice"
            );
            assert_eq!(sim.ran.len(), sim.submitted, "{name}: a task never ran");
            let ns = secs * 1e9 / sim.decisions as f64;
            let base = *baseline.get_or_insert(ns);
            println!(
                "{{\"bench\":\"scheduler\",\"shape\":\"{name}\",\"workers\":{workers},\
                 \"tasks\":{},\"decisions\":{},\"events\":{},\"ns_per_decision\":{ns:.0},\
                 \"events_per_sec\":{:.0},\"vs_baseline\":{:.2}}}",
                sim.ran.len(),
                sim.decisions,
                sim.events,
                sim.events as f64 / secs,
                ns / base
            );
        }
    }
}
