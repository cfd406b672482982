//! What a task can run: [`TaskFn`], a function item or a closure that
//! captures nothing, with 0 to 4 parameters.
//!
//! `client.submit(add, (x, y))` calls `fn add(a: i64, b: i64) -> i64` with
//! the two positions of the argument tuple as its two parameters; a
//! one-parameter function gets the whole argument (`fn add((a, b): (i64,
//! i64))` takes the same tuple as one value). Any position may be a future.
//!
//! Such functions are zero-sized types: the type alone names the code, so a
//! task ships no address of the function itself, only that of a trampoline
//! monomorphised for it (see [`shipping`](super::shipping)). A function
//! pointer held in a variable, or a closure that captures something, is not
//! zero-sized and is refused at compile time; put what a closure would
//! capture in the argument instead (`submit_with`):
//!
//! ```compile_fail
//! fn offset_all(client: &rankflow::Client, offset: u64) -> Result<(), rankflow::Error> {
//!     // Captures `offset`: "a task function must be a function item or a
//!     // closure that captures nothing".
//!     client.submit(move |x: u64| x + offset, 1u64)?;
//!     Ok(())
//! }
//! # fn main() {
//! #     let client = rankflow::initialize(rankflow::Config::new()).unwrap();
//! #     offset_all(&client, 5).unwrap();
//! # }
//! ```

/// A function a task can run: a function item or a closure that captures
/// nothing, taking 0 to 4 parameters. `M` stands for its signature and is
/// always inferred; user code never names it.
///
/// [`Params`](Self::Params) is the argument a submit passes: `()` for no
/// parameter, `A` for one, `(A, B)` for two, up to `(A, B, C, D)`.
pub trait TaskFn<M>: Copy + Send + Sync + 'static {
    /// The parameters, as the one value a submit passes.
    type Params;
    /// What the function returns.
    type Output;
    /// Calls the function with its parameters spread out.
    fn call_with(self, params: Self::Params) -> Self::Output;
}

impl<F, R> TaskFn<fn() -> R> for F
where
    F: Fn() -> R + Copy + Send + Sync + 'static,
{
    type Params = ();
    type Output = R;
    fn call_with(self, _: ()) -> R {
        self()
    }
}

impl<F, A, R> TaskFn<fn(A) -> R> for F
where
    F: Fn(A) -> R + Copy + Send + Sync + 'static,
{
    type Params = A;
    type Output = R;
    fn call_with(self, a: A) -> R {
        self(a)
    }
}

impl<F, A, B, R> TaskFn<fn(A, B) -> R> for F
where
    F: Fn(A, B) -> R + Copy + Send + Sync + 'static,
{
    type Params = (A, B);
    type Output = R;
    fn call_with(self, (a, b): (A, B)) -> R {
        self(a, b)
    }
}

impl<F, A, B, C, R> TaskFn<fn(A, B, C) -> R> for F
where
    F: Fn(A, B, C) -> R + Copy + Send + Sync + 'static,
{
    type Params = (A, B, C);
    type Output = R;
    fn call_with(self, (a, b, c): (A, B, C)) -> R {
        self(a, b, c)
    }
}

impl<F, A, B, C, D, R> TaskFn<fn(A, B, C, D) -> R> for F
where
    F: Fn(A, B, C, D) -> R + Copy + Send + Sync + 'static,
{
    type Params = (A, B, C, D);
    type Output = R;
    fn call_with(self, (a, b, c, d): (A, B, C, D)) -> R {
        self(a, b, c, d)
    }
}

#[cfg(test)]
mod tests {
    use super::TaskFn;

    fn none() -> u8 {
        7
    }
    fn one(a: i64) -> i64 {
        a + 1
    }
    fn pair((a, b): (i64, i64)) -> i64 {
        a - b
    }
    fn two(a: i64, b: i64) -> i64 {
        a - b
    }
    fn four(a: i64, b: u8, c: String, d: bool) -> String {
        format!("{a}{b}{c}{d}")
    }

    fn call<M, F: TaskFn<M>>(f: F, p: F::Params) -> F::Output {
        f.call_with(p)
    }

    #[test]
    fn parameters_are_spread() {
        assert_eq!(call(none, ()), 7);
        assert_eq!(call(one, 1), 2);
        assert_eq!(call(pair, (5, 3)), 2);
        assert_eq!(call(two, (5, 3)), 2);
        assert_eq!(call(four, (1, 2, "c".into(), true)), "12ctrue");
        assert_eq!(call(|x: u32| x * 3, 4), 12);
    }

    #[test]
    fn function_items_and_plain_closures_are_zero_sized() {
        fn size<M, F: TaskFn<M>>(_: F) -> usize {
            std::mem::size_of::<F>()
        }
        assert_eq!(size(two), 0);
        assert_eq!(size(|a: i64, b: i64| a * b), 0);
    }
}
