//! Naming a function by where it sits in this executable, so that another rank
//! running the same binary can call it. All of rankflow's `unsafe` for this
//! lives here.
//!
//! # How
//!
//! Every rank runs the same executable (checked at start-up by comparing
//! fingerprints), so a function's offset from a fixed symbol, [`anchor`], is
//! the same on every rank even when address-space layout randomisation puts
//! the code at a different base.
//!
//! A task function is a function item or a closure that captures nothing
//! ([`TaskFn`]): a zero-sized type whose type alone names its code. The
//! submitting rank monomorphises a trampoline for it,
//! `trampoline::<F, M, X>`, which decodes the argument parts, makes the
//! (zero-sized) function value, calls it and encodes the result, all behind
//! one fixed signature, [`Trampoline`]; the task ships the trampoline's
//! offset. A fn pointer held in a variable or a capturing closure is not
//! zero-sized and fails to compile (see `assert_zero_sized`).
//!
//! # Why not registration by name
//!
//! The alternative, collecting named functions at link time (lamellar does it
//! with `inventory`), needs an attribute on every task function. Offsets need
//! nothing from the user, and the executable check already guarantees the one
//! thing they rely on. Captured state travels as an explicit serde value
//! (`submit_with`).
//!
//! The trampolines for tasks (which also serve `Client::run` and
//! `Client::run_with`), fallible tasks and SPMD sections live here too,
//! beside the unsafe they use.
//!
//! # Guarding against bad offsets
//!
//! A message with a corrupted offset would make a worker jump to an arbitrary
//! address. Each [`FnRef`] therefore carries a check value, a keyed hash of
//! both offsets whose key is the executable fingerprint; a worker refuses a
//! task whose check does not match before it turns anything into a pointer.

use super::args::Args;
use super::function::TaskFn;
use crate::comm::codec;
use crate::comm::group::Group;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The fixed symbol that function offsets are measured from.
#[inline(never)]
pub(crate) fn anchor() {}

/// The one signature every trampoline has: the user's function address and
/// the encoded argument parts in, the encoded result or a message out.
pub(crate) type Trampoline = fn(usize, Vec<Arc<Vec<u8>>>) -> Result<Vec<u8>, String>;

/// A function and its trampoline, as offsets from [`anchor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FnRef {
    function: i64,
    trampoline: i64,
    check: u64,
}

/// The address of [`anchor`], its provenance exposed so that addresses
/// computed from it can be turned back into pointers.
fn anchor_address() -> usize {
    (anchor as fn() as *const ()).expose_provenance()
}

fn offset(addr: usize) -> i64 {
    (addr as i64).wrapping_sub(anchor_address() as i64)
}

/// The code at `offset` from [`anchor`], as a pointer with the provenance
/// exposed by [`anchor_address`] and [`FnRef::new`].
fn address(offset: i64) -> *const () {
    std::ptr::with_exposed_provenance((anchor_address() as i64).wrapping_add(offset) as usize)
}

/// Checks that rankflow's code lies in the main executable, not in a shared
/// library. Offsets from [`anchor`] name the same code on every rank only
/// within one executable image: a Rust dylib (`crate-type = ["dylib"]`,
/// `-C prefer-dynamic` with rankflow built as a dylib) is loaded at its own
/// randomised base, so an offset into it would point elsewhere on another
/// rank. Only Linux can tell (it reads `/proc/self/maps`); elsewhere this
/// returns `Ok`.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn check_linked_into_executable() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        let (Ok(exe), Ok(maps)) = (
            std::fs::read_link("/proc/self/exe"),
            std::fs::read_to_string("/proc/self/maps"),
        ) else {
            return Ok(());
        };
        if let Some(object) = mapped_object(&maps, anchor_address()) {
            if std::path::Path::new(object) != exe {
                return Err(format!(
                    "rankflow's code is in the shared library {object}, not in the executable \
                     {}: dynamic linking of Rust crates (dylib, prefer-dynamic) is not \
                     supported, because tasks name functions by their offset inside one \
                     executable; link rankflow and the task functions statically (cargo's default)",
                    exe.display()
                ));
            }
        }
    }
    Ok(())
}

/// The file mapped at `addr` according to a `/proc/self/maps` listing.
#[cfg_attr(any(not(target_os = "linux"), not(feature = "mpi")), allow(dead_code))]
fn mapped_object(maps: &str, addr: usize) -> Option<&str> {
    maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (lo, hi) = fields.next()?.split_once('-')?;
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).ok()?,
            usize::from_str_radix(hi, 16).ok()?,
        );
        let path = fields.nth(4)?;
        (lo <= addr && addr < hi).then_some(path)
    })
}

fn check_value(function: i64, trampoline: i64, key: u64) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (function, trampoline, key, "rankflow-fnref").hash(&mut h);
    h.finish()
}

impl FnRef {
    /// Names `function` (a fn pointer cast to `usize`) and its `trampoline`;
    /// `key` is the executable fingerprint shared by all ranks.
    pub(crate) fn new(function: usize, trampoline: Trampoline, key: u64) -> Self {
        let function = offset(function);
        let trampoline = offset((trampoline as *const ()).expose_provenance());
        FnRef {
            function,
            trampoline,
            check: check_value(function, trampoline, key),
        }
    }

    /// An identity for keys: the same function and trampoline give the same
    /// value on every rank.
    pub fn identity(&self) -> (i64, i64) {
        (self.function, self.trampoline)
    }

    /// Calls the function on `parts` through its trampoline, after checking
    /// that this reference was made by a rank with executable fingerprint `key`.
    pub(crate) fn call(&self, key: u64, parts: Vec<Arc<Vec<u8>>>) -> Result<Vec<u8>, String> {
        if check_value(self.function, self.trampoline, key) != self.check {
            return Err(
                "refused a function reference that was not made by this executable \
                 (corrupted message or a different binary)"
                    .to_string(),
            );
        }
        let ptr = address(self.trampoline);
        // SAFETY: the check value proves (up to a 64-bit hash collision) that
        // this offset was computed by `FnRef::new` from a `Trampoline` in an
        // executable with the same fingerprint, i.e. this very executable
        // (start-up checked that rankflow's code is in the executable, not a
        // dylib); the offset from `anchor` is layout-independent, so `ptr`
        // points at that same trampoline here, with the provenance that
        // `anchor_address` exposed, and `Trampoline` is its exact type. A
        // fn pointer has the size and representation of a data pointer on
        // every platform Rust's std supports.
        let trampoline: Trampoline = unsafe { std::mem::transmute::<*const (), Trampoline>(ptr) };
        trampoline(address(self.function).addr(), parts)
    }
}

/// Fails to compile unless `F` is zero-sized: a function item or a closure
/// that captures nothing, whose type alone names its code.
const fn assert_zero_sized<F>() {
    const {
        assert!(
            std::mem::size_of::<F>() == 0,
            "rankflow: a task function must be a function item or a closure that captures \
             nothing (not a fn pointer held in a variable, not a capturing closure); pass \
             what it would capture in the argument instead"
        )
    }
}

/// A value of the zero-sized function type `F`, made on the rank that runs it.
fn conjure<F: Copy>() -> F {
    assert_zero_sized::<F>();
    // SAFETY: `F` is zero-sized (checked at compile time above), so a value
    // of it has no bytes that could be invalid, and every value of it is the
    // same value. `F: Copy`, and the submitting rank held one (the task was
    // built from it by `task_function_ref` in this same executable, checked
    // by the fingerprint), so this is a copy of that value, which `Copy`
    // allows.
    unsafe { std::mem::zeroed::<F>() }
}

fn encode_result<R: Serialize + 'static>(r: &R) -> Result<Vec<u8>, String> {
    codec::encode_value(r).map_err(|e| format!("cannot encode the result: {}", e.message()))
}

/// Decodes the arguments, calls the zero-sized function `F`, encodes the
/// result. The shipped address is unused: `F`'s type names the code.
fn trampoline<F, M, X>(_f: usize, parts: Vec<Arc<Vec<u8>>>) -> Result<Vec<u8>, String>
where
    F: TaskFn<M>,
    X: Args<F::Params>,
    F::Output: Serialize + 'static,
{
    let params = X::assemble_shared(parts)?;
    encode_result(&conjure::<F>().call_with(params))
}

/// Like [`trampoline`] for a function returning `Result<T, E>`: an `Err`
/// fails the task with the error's text.
fn trampoline_fallible<F, M, X, T, E>(
    _f: usize,
    parts: Vec<Arc<Vec<u8>>>,
) -> Result<Vec<u8>, String>
where
    F: TaskFn<M, Output = Result<T, E>>,
    X: Args<F::Params>,
    T: Serialize + 'static,
    E: fmt::Display,
{
    let params = X::assemble_shared(parts)?;
    match conjure::<F>().call_with(params) {
        Ok(v) => encode_result(&v),
        Err(e) => Err(format!("{RETURNED_ERR}{e}")),
    }
}

/// Prefix that marks an `Err` returned by a task, as opposed to a decode failure.
pub(crate) const RETURNED_ERR: &str = "\u{1}returned:";

/// The reference to ship for the task function `F` called with an `X`.
pub(crate) fn task_function_ref<F, M, X>(_f: F, key: u64) -> FnRef
where
    F: TaskFn<M>,
    X: Args<F::Params>,
    F::Output: Serialize + 'static,
{
    assert_zero_sized::<F>();
    let t: Trampoline = trampoline::<F, M, X>;
    let r = FnRef::new((t as *const ()).expose_provenance(), t, key);
    super::names::remember::<F>(r);
    r
}

/// The reference to ship for a fallible task function `F` called with an `X`.
pub(crate) fn fallible_function_ref<F, M, X, T, E>(_f: F, key: u64) -> FnRef
where
    F: TaskFn<M, Output = Result<T, E>>,
    X: Args<F::Params>,
    T: Serialize + 'static,
    E: fmt::Display,
{
    assert_zero_sized::<F>();
    let t: Trampoline = trampoline_fallible::<F, M, X, T, E>;
    let r = FnRef::new((t as *const ()).expose_provenance(), t, key);
    super::names::remember::<F>(r);
    r
}

/// One step of a chain of steps run inside a single task on values in
/// memory (a bag's fused `map`/`filter`/... chain): the value so far and the
/// step's own encoded state in, the next value out.
pub(crate) type Step = fn(Box<dyn Any>, &[u8]) -> Result<Box<dyn Any>, String>;

/// A [`Step`] as an offset from [`anchor`], with a check value as
/// [`FnRef`]'s, so that a chain of steps travels inside a task's argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StepRef {
    step: i64,
    check: u64,
}

impl StepRef {
    /// Names `step`; `key` is the executable fingerprint shared by all ranks.
    pub(crate) fn new(step: Step, key: u64) -> Self {
        let step = offset((step as *const ()).expose_provenance());
        StepRef {
            step,
            check: check_value(step, 0, key ^ 0x5354_4550),
        }
    }

    /// The step, after checking that this reference was made by a rank with
    /// executable fingerprint `key`.
    pub(crate) fn get(&self, key: u64) -> Result<Step, String> {
        if check_value(self.step, 0, key ^ 0x5354_4550) != self.check {
            return Err(
                "refused a step reference that was not made by this executable \
                 (corrupted message or a different binary)"
                    .to_string(),
            );
        }
        let ptr = address(self.step);
        // SAFETY: as in `FnRef::call`: the check value proves (up to a 64-bit
        // hash collision) that this offset was computed by `StepRef::new`
        // from a `Step` in this very executable, so `ptr` points at that
        // function here, with the provenance `anchor_address` exposed, and
        // `Step` is its exact type.
        Ok(unsafe { std::mem::transmute::<*const (), Step>(ptr) })
    }
}

/// A value of the zero-sized closure or function type `F` (a bag step's
/// user function), made on the rank that runs it. Fails to compile unless
/// `F` is zero-sized.
pub(crate) fn conjure_fn<F: Copy>() -> F {
    conjure::<F>()
}

/// Fails to compile unless `F` is zero-sized (a function item or a closure
/// that captures nothing).
pub(crate) const fn require_zero_sized<F>() {
    assert_zero_sized::<F>()
}

thread_local! {
    /// The workers group, while this thread runs an SPMD section.
    static SECTION_GROUP: RefCell<Option<Group>> = const { RefCell::new(None) };
}

/// Runs `f` with `group` available to section trampolines on this thread,
/// then puts the group back.
pub(crate) fn with_section_group<T>(group: &mut Option<Group>, f: impl FnOnce() -> T) -> T {
    SECTION_GROUP.with(|g| *g.borrow_mut() = group.take());
    let out = f();
    *group = SECTION_GROUP.with(|g| g.borrow_mut().take());
    out
}

/// Decodes `A`, calls the zero-sized section function `F` with the
/// section's group, encodes its value; an `Err` fails the section on this
/// worker with the error's text (for `Client::spmd`).
fn section_trampoline<F, A, R>(_f: usize, parts: Vec<Arc<Vec<u8>>>) -> Result<Vec<u8>, String>
where
    F: Fn(&Group, A) -> crate::Result<R> + Copy,
    A: DeserializeOwned,
    R: Serialize,
{
    let bytes = parts.first().ok_or("the section's argument is missing")?;
    let arg: A = codec::decode(bytes).map_err(|e| format!("section argument: {}", e.message()))?;
    SECTION_GROUP.with(|g| {
        let g = g.borrow();
        let group = g
            .as_ref()
            .ok_or("this worker has no workers group for SPMD sections")?;
        match conjure::<F>()(group, arg) {
            Ok(v) => {
                codec::encode(&v).map_err(|e| format!("cannot encode the result: {}", e.message()))
            }
            Err(e) => Err(format!("{RETURNED_ERR}{}", e.message())),
        }
    })
}

/// The reference to ship for an SPMD section function `F`.
pub(crate) fn section_ref<F, A, R>(_f: F, key: u64) -> FnRef
where
    F: Fn(&Group, A) -> crate::Result<R> + Copy,
    A: DeserializeOwned,
    R: Serialize,
{
    assert_zero_sized::<F>();
    let t: Trampoline = section_trampoline::<F, A, R>;
    let r = FnRef::new((t as *const ()).expose_provenance(), t, key);
    super::names::remember::<F>(r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(bytes: Vec<u8>) -> Vec<u8> {
        bytes.iter().map(|b| b * 2).collect()
    }

    #[test]
    fn the_mapped_object_holding_an_address_is_found() {
        let maps = "55d0c0000000-55d0c0100000 r-xp 00000000 fd:01 12 /opt/app/bin/prog\n\
                    7f1000000000-7f1000200000 r-xp 00000000 fd:01 34 /opt/app/lib/librankflow.so\n\
                    7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0  [stack]\n\
                    7ffe00000000-7ffe00002000 rw-p 00000000 00:00 0\n";
        assert_eq!(
            mapped_object(maps, 0x55d0c0000010),
            Some("/opt/app/bin/prog")
        );
        assert_eq!(
            mapped_object(maps, 0x7f1000000000),
            Some("/opt/app/lib/librankflow.so")
        );
        assert_eq!(mapped_object(maps, 0x7f1000200000), None);
        assert_eq!(mapped_object(maps, 0x7ffe00000001), None);
        assert_eq!(mapped_object(maps, 0x1000), None);
    }

    #[test]
    fn a_statically_linked_test_binary_passes_the_linking_check() {
        assert_eq!(check_linked_into_executable(), Ok(()));
    }

    fn double_ref() -> FnRef {
        task_function_ref::<_, _, Vec<u8>>(double, 42)
    }

    fn call_double(r: &FnRef, key: u64, input: Vec<u8>) -> Result<Vec<u8>, String> {
        let bytes = codec::encode(&input).unwrap();
        let out = r.call(key, vec![Arc::new(bytes)])?;
        Ok(codec::decode(&out).unwrap())
    }

    #[test]
    fn round_trip_through_offsets() {
        assert_eq!(
            call_double(&double_ref(), 42, vec![1, 2, 3]).unwrap(),
            vec![2, 4, 6]
        );
    }

    fn add_one(v: Box<dyn Any>, _: &[u8]) -> Result<Box<dyn Any>, String> {
        let x = v.downcast::<u32>().map_err(|_| "not a u32")?;
        Ok(Box::new(*x + 1))
    }

    #[test]
    fn step_references_round_trip_and_refuse_corruption() {
        let r = StepRef::new(add_one, 42);
        let step = r.get(42).unwrap();
        let out = step(Box::new(1u32), &[]).unwrap();
        assert_eq!(*out.downcast::<u32>().unwrap(), 2);
        assert!(r.get(43).is_err(), "another executable's reference");
        let mut bad = r;
        bad.step += 16;
        assert!(bad.get(42).unwrap_err().contains("refused"));
    }

    #[test]
    fn a_corrupted_reference_is_refused() {
        let mut r = double_ref();
        r.trampoline += 16;
        assert!(call_double(&r, 42, vec![1])
            .unwrap_err()
            .contains("refused"));
        assert!(
            call_double(&double_ref(), 43, vec![1]).is_err(),
            "another executable's reference"
        );
    }
}
