//! Naming a function by where it sits in this executable, so that another rank
//! running the same binary can call it. All of rankflow's `unsafe` for this
//! lives here.
//!
//! # How
//!
//! Every rank runs the same executable (checked at start-up by comparing
//! fingerprints), so a function's offset from a fixed symbol, [`anchor`], is
//! the same on every rank even when address-space layout randomisation puts
//! the code at a different base. A task ships two offsets:
//!
//! * the user's function, a plain `fn(A) -> R` (non-capturing closures coerce
//!   to one), and
//! * a trampoline, `trampoline::<X, A, R>`, monomorphised at the submit site,
//!   that decodes the argument parts, calls the function and encodes the
//!   result, all behind one fixed signature, [`Trampoline`].
//!
//! # Why not registration by name
//!
//! The alternative, collecting named functions at link time (lamellar does it
//! with `inventory`), needs an attribute on every task function. Offsets need
//! nothing from the user, and the executable check already guarantees the one
//! thing they rely on. Captured state travels as an explicit serde value
//! (`submit_with`).
//!
//! The trampolines for tasks, fallible tasks, `Client::run` (`fn() -> R`),
//! `Client::run_with` (`fn(A) -> R`) and SPMD sections (`fn(&Group, A) -> R`)
//! live here too, beside the unsafe they use.
//!
//! # Guarding against bad offsets
//!
//! A message with a corrupted offset would make a worker jump to an arbitrary
//! address. Each [`FnRef`] therefore carries a check value, a keyed hash of
//! both offsets whose key is the executable fingerprint; a worker refuses a
//! task whose check does not match before it turns anything into a pointer.

use super::args::Args;
use crate::comm::codec;
use crate::comm::group::Group;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fmt;
use std::hash::{Hash, Hasher};

/// The fixed symbol that function offsets are measured from.
#[inline(never)]
pub fn anchor() {}

/// The one signature every trampoline has: the user's function address and
/// the encoded argument parts in, the encoded result or a message out.
pub type Trampoline = fn(usize, &[&[u8]]) -> Result<Vec<u8>, String>;

/// A function and its trampoline, as offsets from [`anchor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FnRef {
    function: i64,
    trampoline: i64,
    check: u64,
}

fn offset(addr: usize) -> i64 {
    (addr as i64).wrapping_sub(anchor as fn() as usize as i64)
}

fn address(offset: i64) -> usize {
    (anchor as fn() as usize as i64).wrapping_add(offset) as usize
}

fn check_value(function: i64, trampoline: i64, key: u64) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (function, trampoline, key, "rankflow-fnref").hash(&mut h);
    h.finish()
}

impl FnRef {
    /// Names `function` (a fn pointer cast to `usize`) and its `trampoline`;
    /// `key` is the executable fingerprint shared by all ranks.
    pub fn new(function: usize, trampoline: Trampoline, key: u64) -> Self {
        let function = offset(function);
        let trampoline = offset(trampoline as usize);
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
    pub fn call(&self, key: u64, parts: &[&[u8]]) -> Result<Vec<u8>, String> {
        if check_value(self.function, self.trampoline, key) != self.check {
            return Err(
                "refused a function reference that was not made by this executable \
                 (corrupted message or a different binary)"
                    .to_string(),
            );
        }
        let addr = address(self.trampoline);
        // SAFETY: the check value proves (up to a 64-bit hash collision) that
        // this offset was computed by `FnRef::new` from a `Trampoline` in an
        // executable with the same fingerprint, i.e. this very executable; the
        // offset from `anchor` is layout-independent, so `addr` is the address
        // of that same trampoline here, and `Trampoline` is its exact type.
        let trampoline: Trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(addr) };
        trampoline(address(self.function), parts)
    }
}

/// Turns the address of a `fn(A) -> R` back into the pointer.
///
/// # Safety
///
/// `addr` must be the address of a function of exactly type `fn(A) -> R` in
/// this executable. Trampolines uphold this: they are monomorphised together
/// with the function type at the submit site, and [`FnRef::call`] hands them
/// only the address that was shipped with them.
pub unsafe fn function_at<A, R>(addr: usize) -> fn(A) -> R {
    // SAFETY: the caller's guarantee is this function's own.
    unsafe { pointer_at::<fn(A) -> R>(addr) }
}

/// Turns the address of a function pointer of type `F` (a `fn(..) -> ..`
/// type of any arity) back into the pointer.
///
/// # Safety
///
/// `F` must be a function-pointer type, and `addr` the address of a function
/// of exactly that type in this executable (see [`function_at`]).
pub unsafe fn pointer_at<F: Copy>(addr: usize) -> F {
    debug_assert_ne!(addr, 0);
    debug_assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<usize>());
    // SAFETY: the caller guarantees `F` is a fn-pointer type and `addr` a
    // function of that type here; fn pointers are address-sized.
    unsafe { std::mem::transmute_copy::<usize, F>(&addr) }
}

/// Decodes the arguments, calls `fn(A) -> R` at `f`, encodes the result.
fn trampoline<X: Args<A>, A, R: Serialize>(f: usize, parts: &[&[u8]]) -> Result<Vec<u8>, String> {
    let arg = X::assemble(parts)?;
    // SAFETY: `FnRef::call` hands this trampoline only the address shipped with
    // it, and `function_ref` below builds both from one `fn(A) -> R`.
    let f: fn(A) -> R = unsafe { function_at::<A, R>(f) };
    codec::encode(&f(arg)).map_err(|e| format!("cannot encode the result: {}", e.message()))
}

/// Like [`trampoline`] for `fn(A) -> Result<T, E>`: an `Err` fails the task
/// with the error's text.
fn trampoline_fallible<X: Args<A>, A, T: Serialize, E: fmt::Display>(
    f: usize,
    parts: &[&[u8]],
) -> Result<Vec<u8>, String> {
    let arg = X::assemble(parts)?;
    // SAFETY: as in `trampoline`, built together with a `fn(A) -> Result<T, E>`.
    let f: fn(A) -> Result<T, E> = unsafe { function_at::<A, Result<T, E>>(f) };
    match f(arg) {
        Ok(v) => {
            codec::encode(&v).map_err(|e| format!("cannot encode the result: {}", e.message()))
        }
        Err(e) => Err(format!("{RETURNED_ERR}{e}")),
    }
}

/// Prefix that marks an `Err` returned by a task, as opposed to a decode failure.
pub(crate) const RETURNED_ERR: &str = "\u{1}returned:";

/// The reference to ship for `f` called with an `X`.
pub fn function_ref<X: Args<A>, A, R: Serialize + DeserializeOwned>(
    f: fn(A) -> R,
    key: u64,
) -> FnRef {
    let t: Trampoline = trampoline::<X, A, R>;
    FnRef::new(f as usize, t, key)
}

/// The reference to ship for a fallible `f` called with an `X`.
pub fn fallible_function_ref<X: Args<A>, A, T: Serialize, E: fmt::Display>(
    f: fn(A) -> Result<T, E>,
    key: u64,
) -> FnRef {
    let t: Trampoline = trampoline_fallible::<X, A, T, E>;
    FnRef::new(f as usize, t, key)
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

/// Calls `fn() -> R` at `f` and encodes the result (for `Client::run`).
fn nullary_trampoline<R: Serialize>(f: usize, _parts: &[&[u8]]) -> Result<Vec<u8>, String> {
    // SAFETY: `nullary_ref` ships this trampoline with a `fn() -> R`.
    let f: fn() -> R = unsafe { pointer_at::<fn() -> R>(f) };
    codec::encode(&f()).map_err(|e| format!("cannot encode the result: {}", e.message()))
}

/// The reference to ship for `Client::run`'s `fn() -> R`.
pub fn nullary_ref<R: Serialize>(f: fn() -> R, key: u64) -> FnRef {
    let t: Trampoline = nullary_trampoline::<R>;
    FnRef::new(f as usize, t, key)
}

/// Decodes `A`, calls `fn(A) -> R` at `f` and encodes the result (for
/// `Client::run_with`).
fn unary_trampoline<A: DeserializeOwned, R: Serialize>(
    f: usize,
    parts: &[&[u8]],
) -> Result<Vec<u8>, String> {
    let bytes = parts
        .first()
        .ok_or("the run function's argument is missing")?;
    let arg: A = codec::decode(bytes).map_err(|e| format!("run argument: {}", e.message()))?;
    // SAFETY: `unary_ref` ships this trampoline with a `fn(A) -> R`.
    let f: fn(A) -> R = unsafe { pointer_at::<fn(A) -> R>(f) };
    codec::encode(&f(arg)).map_err(|e| format!("cannot encode the result: {}", e.message()))
}

/// The reference to ship for `Client::run_with`'s `fn(A) -> R`.
pub fn unary_ref<A: DeserializeOwned, R: Serialize>(f: fn(A) -> R, key: u64) -> FnRef {
    let t: Trampoline = unary_trampoline::<A, R>;
    FnRef::new(f as usize, t, key)
}

/// Decodes `A`, calls `fn(&Group, A) -> R` at `f` with the section's group,
/// encodes the result (for `Client::spmd`).
fn section_trampoline<A: DeserializeOwned, R: Serialize>(
    f: usize,
    parts: &[&[u8]],
) -> Result<Vec<u8>, String> {
    let bytes = parts.first().ok_or("the section's argument is missing")?;
    let arg: A = codec::decode(bytes).map_err(|e| format!("section argument: {}", e.message()))?;
    // SAFETY: `section_ref` ships this trampoline with a `fn(&Group, A) -> R`.
    let f: fn(&Group, A) -> R = unsafe { pointer_at::<fn(&Group, A) -> R>(f) };
    SECTION_GROUP.with(|g| {
        let g = g.borrow();
        let group = g
            .as_ref()
            .ok_or("this worker has no workers group for SPMD sections")?;
        codec::encode(&f(group, arg))
            .map_err(|e| format!("cannot encode the result: {}", e.message()))
    })
}

/// The reference to ship for an SPMD section's `fn(&Group, A) -> R`.
pub fn section_ref<A: DeserializeOwned, R: Serialize>(f: fn(&Group, A) -> R, key: u64) -> FnRef {
    let t: Trampoline = section_trampoline::<A, R>;
    FnRef::new(f as usize, t, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(bytes: Vec<u8>) -> Vec<u8> {
        bytes.iter().map(|b| b * 2).collect()
    }

    fn tramp(f: usize, parts: &[&[u8]]) -> Result<Vec<u8>, String> {
        // SAFETY: the tests below only ship `double` with this trampoline.
        let f: fn(Vec<u8>) -> Vec<u8> = unsafe { function_at(f) };
        Ok(f(parts[0].to_vec()))
    }

    fn double_ref() -> FnRef {
        FnRef::new(double as fn(Vec<u8>) -> Vec<u8> as usize, tramp, 42)
    }

    #[test]
    fn round_trip_through_offsets() {
        assert_eq!(double_ref().call(42, &[&[1, 2, 3]]).unwrap(), vec![2, 4, 6]);
    }

    #[test]
    fn a_corrupted_reference_is_refused() {
        let mut r = double_ref();
        r.trampoline += 16;
        assert!(r.call(42, &[&[1]]).unwrap_err().contains("refused"));
        assert!(
            double_ref().call(43, &[&[1]]).is_err(),
            "another executable's reference"
        );
    }
}
