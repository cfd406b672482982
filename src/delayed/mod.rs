//! Delayed graphs, as dask.delayed: wrap calls in [`delayed`] to build a
//! graph of tasks without a client, then [`compute`](Delayed::compute) it.
//!
//! ```
//! use rankflow::delayed::{delayed, Delayed};
//!
//! fn inc(x: i64) -> i64 { x + 1 }
//! fn add(a: i64, b: i64) -> i64 { a + b }
//! fn total(xs: Vec<i64>) -> i64 { xs.iter().sum() }
//!
//! # fn main() -> Result<(), rankflow::Error> {
//! // Built without a client: nothing runs yet.
//! let x = delayed(inc, 1);
//! let y = delayed(inc, 2);
//! let z = delayed(add, (&x, &y));
//! let parts: Vec<Delayed<i64>> = (0..4).map(|i| delayed(inc, i)).collect();
//! let s = delayed(total, parts);
//!
//! let client = rankflow::initialize(rankflow::Config::new())?;
//! assert_eq!(z.compute(&client)?, 5);
//! // Several at once: shared parts run once.
//! assert_eq!(rankflow::delayed::compute(&client, (&z, &s))?, (5, 10));
//! client.shutdown()
//! # }
//! ```
//!
//! A delayed call takes the task API's argument forms ([`Args`](crate::Args)), with
//! [`Delayed`] where a [`Future`] would go: plain values, `Delayed<T>` or
//! `&Delayed<T>` where the function takes a `T`, tuples of up to four
//! positions mixing both, and a `Vec` or slice of `Delayed<T>` where it takes
//! a `Vec<T>`. Tasks are pure, so their keys are deterministic: computing a
//! graph twice while the first results' futures live runs it once.
//!
//! Built on the public task API: [`compute`](Delayed::compute) submits every
//! node in depth-first order, finishing one branch before starting the next
//! (dask's ordering, which keeps memory low), all in one message to the
//! scheduler (the one crate-private hook it uses), then keeps only the
//! futures it was asked for.

mod args;
mod dot;

pub use crate::compute::{compute, Computable};
pub use args::{DelayedArgs, HeldArgs};
pub use dot::Visualization;

use crate::compute::{Batch, Pending, Wait};
use crate::{Client, Error, Future, Result, TaskFn};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A call not made yet: a node of a task graph whose result is a `T`.
///
/// Cheap to clone (the graph is shared). Made by [`delayed`].
pub struct Delayed<T> {
    node: Arc<Node>,
    _result: PhantomData<fn() -> T>,
}

impl<T> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        Delayed {
            node: self.node.clone(),
            _result: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Delayed({} #{}, {} tasks)",
            self.node.label,
            self.node.id,
            self.len()
        )
    }
}

/// One call in a delayed graph. Its fields are private; it appears in the
/// public traits only so that argument types can name it.
#[doc(hidden)]
pub struct Node {
    id: u64,
    label: String,
    deps: Vec<Arc<Node>>,
    submit: Submit,
}

type Submit = Box<dyn Fn(&Client, &Done) -> Result<Box<dyn Any + Send + Sync>> + Send + Sync>;

fn dropped(_: &Client, _: &Done) -> Result<Box<dyn Any + Send + Sync>> {
    Err(Error::protocol("a dropped delayed node was submitted"))
}

impl Drop for Node {
    /// Frees a long chain of nodes one by one instead of recursively, so
    /// that dropping a chain of a million calls does not overflow the stack.
    /// A node's call holds its arguments, `Delayed`s among them, so it is
    /// dropped first; `deps` then holds the last reference to any node only
    /// this one used.
    fn drop(&mut self) {
        drop(std::mem::replace(&mut self.submit, Box::new(dropped)));
        let mut stack = std::mem::take(&mut self.deps);
        while let Some(dep) = stack.pop() {
            if let Ok(mut node) = Arc::try_unwrap(dep) {
                drop(std::mem::replace(&mut node.submit, Box::new(dropped)));
                stack.append(&mut node.deps);
            }
        }
    }
}

/// The futures of the nodes submitted so far, by node id.
#[doc(hidden)]
#[derive(Default)]
pub struct Done(HashMap<u64, Box<dyn Any + Send + Sync>>);

impl Done {
    /// The future of `node`, which was submitted before its dependents.
    pub(crate) fn future<T: 'static>(&self, node: &Node) -> Result<Future<T>> {
        self.0
            .get(&node.id)
            .and_then(|f| f.downcast_ref::<Future<T>>())
            .cloned()
            .ok_or_else(|| {
                Error::protocol(format!(
                    "delayed node {} #{} was not submitted before its dependents",
                    node.label, node.id
                ))
            })
    }
}

static NEXT_NODE: AtomicU64 = AtomicU64::new(1);

/// A call of `f` on `args` for later: nothing runs until the graph is
/// computed. `args` takes the same forms as [`Client::submit`]'s, with
/// [`Delayed`] where a future would go.
pub fn delayed<F, M, X>(f: F, args: X) -> Delayed<F::Output>
where
    F: TaskFn<M>,
    X: DelayedArgs<F::Params>,
    F::Output: Serialize + DeserializeOwned + Send + 'static,
{
    let held = args.hold();
    let mut deps = Vec::new();
    held.deps(&mut deps);
    let submit: Submit = Box::new(move |client: &Client, done: &Done| {
        let future = client.submit(f, held.resolve(done)?)?;
        Ok(Box::new(future) as Box<dyn Any + Send + Sync>)
    });
    Delayed {
        node: Arc::new(Node {
            id: NEXT_NODE.fetch_add(1, Ordering::Relaxed),
            label: short_name(std::any::type_name::<F>()),
            deps,
            submit,
        }),
        _result: PhantomData,
    }
}

/// A node standing for a result that is already submitted (dask's
/// persisted values in a graph): computing a graph that uses it submits
/// nothing for it and hands its tasks `future`.
pub fn from_future<T: DeserializeOwned + Send + 'static>(future: Future<T>) -> Delayed<T> {
    let submit: Submit = Box::new(move |_: &Client, _: &Done| {
        Ok(Box::new(future.clone()) as Box<dyn Any + Send + Sync>)
    });
    Delayed {
        node: Arc::new(Node {
            id: NEXT_NODE.fetch_add(1, Ordering::Relaxed),
            label: "future".to_string(),
            deps: Vec::new(),
            submit,
        }),
        _result: PhantomData,
    }
}

/// `path::to::inc` → `inc`; a closure keeps its enclosing function's name.
fn short_name(full: &str) -> String {
    let trimmed = full.trim_end_matches("::{{closure}}");
    let name = trimmed.rsplit("::").next().unwrap_or(trimmed);
    if trimmed.len() < full.len() {
        format!("{name}::<closure>")
    } else {
        name.to_string()
    }
}

impl<T: DeserializeOwned + Send + 'static> Delayed<T> {
    /// Runs the graph on `client` and returns this node's result.
    pub fn compute(&self, client: &Client) -> Result<T> {
        self.submit(client)?.result()
    }

    /// Submits the graph and returns the future of this node's result
    /// (dask's `persist`): the result stays on its worker while the future
    /// lives.
    pub fn submit(&self, client: &Client) -> Result<Future<T>> {
        let done = submit_graph(client, std::slice::from_ref(&self.node))?;
        done.future(&self.node)
    }
}

impl<T> Delayed<T> {
    /// The same call with the label `visualize` shows for it (a
    /// collection's name for what the task does); a node already shared
    /// keeps its label.
    pub(crate) fn labelled(mut self, label: impl Into<String>) -> Self {
        if let Some(node) = Arc::get_mut(&mut self.node) {
            node.label = label.into();
        }
        self
    }

    /// The graph node (for the collections' lowering).
    pub(crate) fn node(&self) -> Arc<Node> {
        self.node.clone()
    }

    /// The number of calls in the graph that computing this runs.
    pub fn len(&self) -> usize {
        postorder(std::slice::from_ref(&self.node)).len()
    }

    /// Always `false`: a delayed value is at least its own call.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes this graph as Graphviz DOT to `path` with the extension
    /// `.dot`, and as SVG beside it when the `dot` program is installed; see
    /// [`Visualization`].
    pub fn visualize(&self, path: impl AsRef<Path>) -> Result<Visualization> {
        dot::write(&postorder(std::slice::from_ref(&self.node)), path.as_ref())
    }
}

/// Every node reachable from `roots`, each after all of its dependencies
/// and once, depth first (a branch is finished before the next starts).
/// Iterative, so a chain of a million calls does not overflow the stack.
fn postorder(roots: &[Arc<Node>]) -> Vec<Arc<Node>> {
    let mut seen = std::collections::HashSet::new();
    let mut order = Vec::new();
    let mut stack: Vec<(Arc<Node>, usize)> = Vec::new();
    for root in roots {
        if !seen.insert(root.id) {
            continue;
        }
        stack.push((root.clone(), 0));
        while let Some((node, next)) = stack.pop() {
            match node.deps.get(next).cloned() {
                Some(dep) => {
                    stack.push((node, next + 1));
                    if seen.insert(dep.id) {
                        stack.push((dep, 0));
                    }
                }
                None => order.push(node),
            }
        }
    }
    order
}

/// Submits every node reachable from `roots`, dependencies first, to the
/// scheduler in one message.
pub(crate) fn submit_graph(client: &Client, roots: &[Arc<Node>]) -> Result<Done> {
    client.in_one_message(|| {
        let mut done = Done::default();
        for node in postorder(roots) {
            let future = (node.submit)(client, &done)?;
            done.0.insert(node.id, future);
        }
        Ok(done)
    })
}

/// The graph of `nodes` written as [`Delayed::visualize`] writes one.
pub(crate) fn visualize_all<T>(nodes: &[Delayed<T>], path: &Path) -> Result<Visualization> {
    let roots: Vec<Arc<Node>> = nodes.iter().map(|d| d.node.clone()).collect();
    dot::write(&postorder(&roots), path)
}

impl<T: DeserializeOwned + Send + 'static> Delayed<T> {
    /// This node's result, taken from a submitted batch.
    fn pending(&self) -> Pending<T> {
        let node = self.node.clone();
        Pending::new(move |done: &Done| {
            let future = done.future::<T>(&node)?;
            Ok(Box::new(move || future.result()) as Wait<T>)
        })
    }
}

impl<T: DeserializeOwned + Send + 'static> Computable for Delayed<T> {
    type Output = T;
    fn scan(&self, _: &mut Batch<'_>) {}
    fn lower(&self, batch: &mut Batch<'_>) -> Result<Pending<T>> {
        batch.root(self.node.clone());
        Ok(self.pending())
    }
}

impl<T: DeserializeOwned + Send + 'static> Computable for [Delayed<T>] {
    type Output = Vec<T>;
    fn scan(&self, _: &mut Batch<'_>) {}
    fn lower(&self, batch: &mut Batch<'_>) -> Result<Pending<Vec<T>>> {
        let parts: Vec<Pending<T>> = self
            .iter()
            .map(|d| {
                batch.root(d.node.clone());
                d.pending()
            })
            .collect();
        Ok(all(parts))
    }
}

impl<T: DeserializeOwned + Send + 'static> Computable for Vec<Delayed<T>> {
    type Output = Vec<T>;
    fn scan(&self, _: &mut Batch<'_>) {}
    fn lower(&self, batch: &mut Batch<'_>) -> Result<Pending<Vec<T>>> {
        self.as_slice().lower(batch)
    }
}

/// The values of `parts`, in order.
pub(crate) fn all<T: 'static>(parts: Vec<Pending<T>>) -> Pending<Vec<T>> {
    Pending::new(move |done: &Done| {
        let ready = parts
            .into_iter()
            .map(|p| p.take(done))
            .collect::<Result<Vec<_>>>()?;
        let wait: Wait<Vec<T>> = Box::new(move || ready.into_iter().map(|r| r.wait()).collect());
        Ok(wait)
    })
}

/// The number of calls reachable from `roots`.
pub(crate) fn count_graph(roots: &[Arc<Node>]) -> usize {
    postorder(roots).len()
}

/// The graph of `roots` written as [`Delayed::visualize`] writes one.
pub(crate) fn visualize_nodes(roots: &[Arc<Node>], path: &Path) -> Result<Visualization> {
    dot::write(&postorder(roots), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(x: i64) -> i64 {
        x + 1
    }
    fn add(a: i64, b: i64) -> i64 {
        a + b
    }

    #[test]
    fn postorder_puts_dependencies_first_and_shared_nodes_once() {
        let x = delayed(inc, 1);
        let y = delayed(add, (&x, &x));
        let z = delayed(add, (&y, &x));
        let order: Vec<u64> = postorder(std::slice::from_ref(&z.node))
            .iter()
            .map(|n| n.id)
            .collect();
        assert_eq!(order, vec![x.node.id, y.node.id, z.node.id]);
        assert_eq!(z.len(), 3);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let mut d = delayed(inc, 0);
        for _ in 0..200_000 {
            d = delayed(inc, d);
        }
        assert_eq!(d.len(), 200_001);
    }

    #[test]
    fn a_branch_is_finished_before_the_next_starts() {
        let a1 = delayed(inc, 1);
        let a2 = delayed(inc, &a1);
        let b1 = delayed(inc, 2);
        let b2 = delayed(inc, &b1);
        let top = delayed(add, (&a2, &b2));
        let order: Vec<u64> = postorder(std::slice::from_ref(&top.node))
            .iter()
            .map(|n| n.id)
            .collect();
        let ids = [a1.node.id, a2.node.id, b1.node.id, b2.node.id, top.node.id];
        assert_eq!(order, ids);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(short_name("my_crate::module::inc"), "inc");
        assert_eq!(short_name("my_crate::main::{{closure}}"), "main::<closure>");
        assert_eq!(delayed(inc, 1).node.label, "inc");
    }
}
