//! The argument forms of a delayed call: [`DelayedArgs`] turns what the user
//! passed into something owned ([`HeldArgs`]) that names the nodes it
//! depends on and becomes the task's [`Args`] once their futures exist.

use super::{Delayed, Done, Node};
use crate::task::args::Args;
use crate::{Future, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// Something that can be passed to [`delayed`](super::delayed) where the
/// function takes a `P`: a value, a `Delayed<P>` or `&Delayed<P>`, a `Vec`
/// or slice of `Delayed<T>` for a `Vec<T>`, or a tuple of up to four
/// positions mixing values and delayed ones.
pub trait DelayedArgs<P> {
    /// The owned form kept in the graph.
    #[doc(hidden)]
    type Held: HeldArgs<P>;
    /// Takes ownership (cloning a borrowed `Delayed`, which is cheap).
    #[doc(hidden)]
    fn hold(self) -> Self::Held;
}

/// The owned form of a delayed call's argument. An implementation detail of
/// [`DelayedArgs`].
#[doc(hidden)]
pub trait HeldArgs<P>: Send + Sync + 'static {
    /// What is submitted: the argument with each `Delayed` replaced by its
    /// future.
    type Submit: Args<P>;
    /// The nodes this argument depends on.
    fn deps(&self, out: &mut Vec<Arc<Node>>);
    /// The argument to submit, once every dependency has a future.
    fn resolve(&self, done: &Done) -> Result<Self::Submit>;
}

/// A plain value.
impl<T> DelayedArgs<T> for T
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    type Held = T;
    fn hold(self) -> T {
        self
    }
}

impl<T> HeldArgs<T> for T
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    type Submit = T;
    fn deps(&self, _: &mut Vec<Arc<Node>>) {}
    fn resolve(&self, _: &Done) -> Result<T> {
        Ok(self.clone())
    }
}

impl<T: DeserializeOwned + Send + 'static> DelayedArgs<T> for Delayed<T> {
    type Held = Delayed<T>;
    fn hold(self) -> Delayed<T> {
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> DelayedArgs<T> for &Delayed<T> {
    type Held = Delayed<T>;
    fn hold(self) -> Delayed<T> {
        self.clone()
    }
}

impl<T: DeserializeOwned + Send + 'static> HeldArgs<T> for Delayed<T> {
    type Submit = Future<T>;
    fn deps(&self, out: &mut Vec<Arc<Node>>) {
        out.push(self.node.clone());
    }
    fn resolve(&self, done: &Done) -> Result<Future<T>> {
        done.future(&self.node)
    }
}

impl<T: DeserializeOwned + Send + 'static> DelayedArgs<Vec<T>> for Vec<Delayed<T>> {
    type Held = Vec<Delayed<T>>;
    fn hold(self) -> Vec<Delayed<T>> {
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> DelayedArgs<Vec<T>> for &[Delayed<T>] {
    type Held = Vec<Delayed<T>>;
    fn hold(self) -> Vec<Delayed<T>> {
        self.to_vec()
    }
}

impl<T: DeserializeOwned + Send + 'static> DelayedArgs<Vec<T>> for &Vec<Delayed<T>> {
    type Held = Vec<Delayed<T>>;
    fn hold(self) -> Vec<Delayed<T>> {
        self.clone()
    }
}

impl<T: DeserializeOwned + Send + 'static> HeldArgs<Vec<T>> for Vec<Delayed<T>> {
    type Submit = Vec<Future<T>>;
    fn deps(&self, out: &mut Vec<Arc<Node>>) {
        out.extend(self.iter().map(|d| d.node.clone()));
    }
    fn resolve(&self, done: &Done) -> Result<Vec<Future<T>>> {
        self.iter().map(|d| done.future(&d.node)).collect()
    }
}

/// `impl DelayedArgs<(A0, ..)>` for a tuple whose positions are values
/// (`V`), delayed values (`D`) or borrowed delayed values (`R`), and the
/// matching `HeldArgs` for the owned tuple (values and `Delayed`s).
macro_rules! delayed_tuple {
    ($( ($kind:ident $A:ident $i:tt) )+) => {
        impl<'a, $($A),+> DelayedArgs<($($A,)+)> for ($(delayed_tuple!(@ty $kind $A 'a),)+)
        where
            $($A: Serialize + DeserializeOwned + Clone + Send + Sync + 'static),+
        {
            type Held = ($(delayed_tuple!(@held $kind $A),)+);
            fn hold(self) -> Self::Held {
                ($(delayed_tuple!(@hold $kind self.$i),)+)
            }
        }
    };
    (@ty V $A:ident $l:lifetime) => { $A };
    (@ty D $A:ident $l:lifetime) => { Delayed<$A> };
    (@ty R $A:ident $l:lifetime) => { &$l Delayed<$A> };
    (@held V $A:ident) => { $A };
    (@held D $A:ident) => { Delayed<$A> };
    (@held R $A:ident) => { Delayed<$A> };
    (@hold V $e:expr) => { $e };
    (@hold D $e:expr) => { $e };
    (@hold R $e:expr) => { $e.clone() };
}

/// `impl HeldArgs<(A0, ..)>` for an owned tuple of values (`V`) and
/// `Delayed`s (`D`) with at least one `Delayed`.
macro_rules! held_tuple {
    ($( ($kind:ident $A:ident $i:tt) )+) => {
        impl<$($A),+> HeldArgs<($($A,)+)> for ($(held_tuple!(@ty $kind $A),)+)
        where
            $($A: Serialize + DeserializeOwned + Clone + Send + Sync + 'static),+
        {
            type Submit = ($(held_tuple!(@sub $kind $A),)+);
            fn deps(&self, out: &mut Vec<Arc<Node>>) {
                $(held_tuple!(@dep $kind self.$i, out);)+
            }
            fn resolve(&self, done: &Done) -> Result<Self::Submit> {
                Ok(($(held_tuple!(@resolve $kind self.$i, done),)+))
            }
        }
    };
    (@ty V $A:ident) => { $A };
    (@ty D $A:ident) => { Delayed<$A> };
    (@sub V $A:ident) => { $A };
    (@sub D $A:ident) => { Future<$A> };
    (@dep V $e:expr, $out:ident) => { let _ = &$e; };
    (@dep D $e:expr, $out:ident) => { $out.push($e.node.clone()) };
    (@resolve V $e:expr, $done:ident) => { $e.clone() };
    (@resolve D $e:expr, $done:ident) => { $done.future(&$e.node)? };
}

/// Every mix of kinds over the given positions with at least one delayed
/// one (a tuple of values only is a value, served by the blanket impls):
/// `V`, `D` and `R` for [`delayed_tuple!`], `V` and `D` for [`held_tuple!`].
macro_rules! tuples {
    ($mac:ident $($kinds:ident)? ; $(($A:ident $i:tt))+) => {
        tuples!(@go $mac [$($kinds)?] no [] [$(($A $i))+]);
    };
    (@go $mac:ident [$($r:ident)?] no [$($done:tt)*] []) => {};
    (@go $mac:ident [$($r:ident)?] yes [$($done:tt)*] []) => { $mac!($($done)*); };
    (@go $mac:ident [] $seen:ident [$($done:tt)*] [($A:ident $i:tt) $($rest:tt)*]) => {
        tuples!(@go $mac [] $seen [$($done)* (V $A $i)] [$($rest)*]);
        tuples!(@go $mac [] yes [$($done)* (D $A $i)] [$($rest)*]);
    };
    (@go $mac:ident [R] $seen:ident [$($done:tt)*] [($A:ident $i:tt) $($rest:tt)*]) => {
        tuples!(@go $mac [R] $seen [$($done)* (V $A $i)] [$($rest)*]);
        tuples!(@go $mac [R] yes [$($done)* (D $A $i)] [$($rest)*]);
        tuples!(@go $mac [R] yes [$($done)* (R $A $i)] [$($rest)*]);
    };
}

tuples!(delayed_tuple R; (A0 0) (A1 1));
tuples!(delayed_tuple R; (A0 0) (A1 1) (A2 2));
tuples!(delayed_tuple R; (A0 0) (A1 1) (A2 2) (A3 3));
tuples!(held_tuple; (A0 0) (A1 1));
tuples!(held_tuple; (A0 0) (A1 1) (A2 2));
tuples!(held_tuple; (A0 0) (A1 1) (A2 2) (A3 3));
