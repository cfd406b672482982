//! Element types: the [`Element`] trait the typed front end is generic
//! over, and [`Values`], a chunk of any element type, which is what chunk
//! tasks pass each other and evaluate (one generic task function serves
//! every element type: the type travels as a tag in the data).

use crate::ndarray::{ArrayD, ArrayViewD, IxDyn, SliceInfoElem};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The element type of an array, as a tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DType {
    /// `f64`.
    F64,
    /// `f32`.
    F32,
    /// `i64`.
    I64,
    /// `i32`.
    I32,
    /// `u8`.
    U8,
    /// `bool`.
    Bool,
}

impl DType {
    /// The type's name (`"f64"`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "f64",
            DType::F32 => "f32",
            DType::I64 => "i64",
            DType::I32 => "i32",
            DType::U8 => "u8",
            DType::Bool => "bool",
        }
    }

    /// The size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::U8 | DType::Bool => 1,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value of some element type on its way to another: every element type
/// converts to and from it (`as` casts; non-zero is `true`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[doc(hidden)]
pub enum Num {
    F(f64),
    I(i64),
    B(bool),
}

mod sealed {
    pub trait Sealed {}
}

/// An element type of a [`DArray`](super::DArray): `f64`, `f32`, `i64`,
/// `i32`, `u8` or `bool`. Sealed: the chunk codec and the evaluator know
/// exactly these.
pub trait Element: sealed::Sealed + Copy + PartialOrd + fmt::Debug + Send + Sync + 'static {
    /// The tag.
    const DTYPE: DType;
    #[doc(hidden)]
    fn wrap(a: ArrayD<Self>) -> Values;
    #[doc(hidden)]
    fn unwrap(v: Values) -> ArrayD<Self>;
    #[doc(hidden)]
    fn array(v: &Values) -> &ArrayD<Self>;
    #[doc(hidden)]
    fn array_mut(v: &mut Values) -> &mut ArrayD<Self>;
    #[doc(hidden)]
    fn to_num(self) -> Num;
    #[doc(hidden)]
    fn from_num(n: Num) -> Self;
    #[doc(hidden)]
    fn read(bytes: &[u8]) -> Vec<Self>;
    #[doc(hidden)]
    fn write(values: &[Self], out: &mut Vec<u8>);
    #[doc(hidden)]
    fn fold(op: Fold, a: Self, b: Self) -> Self;
    #[doc(hidden)]
    fn identity(op: Fold) -> Self;
    #[doc(hidden)]
    fn arith(op: Arith, a: Self, b: Self) -> Self;
    #[doc(hidden)]
    fn unary(op: super::eval::Unary, x: Self) -> Self;
}

/// Elements with arithmetic: every [`Element`] but `bool`.
pub trait Numeric: Element {
    /// What sums and products of these are kept in (NumPy's choice: 64
    /// bits for integers; `f32` stays `f32`).
    type Acc: Numeric;
}

/// `f64` and `f32`: the elements `sin`, `sqrt`, `powf` ... apply to.
pub trait Float: Numeric {
    #[doc(hidden)]
    fn from_f64(x: f64) -> Self;
}

/// A fold of a reduction: how two partial values combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fold {
    /// `+` (wrapping for integers).
    Sum,
    /// `*` (wrapping for integers).
    Prod,
    /// The smaller (NaN skipped).
    Min,
    /// The larger (NaN skipped).
    Max,
    /// Or (`!= 0` for numbers).
    Any,
    /// And.
    All,
}

/// Elementwise arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arith {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `powf` (floats only).
    Pow,
}

/// A chunk of `found` where the plan said `planned`: a bug in the planner.
#[cold]
fn planned_otherwise(found: DType, planned: &str) -> ! {
    panic!("array chunk of {found} where {planned} was planned")
}

/// The items of [`Element`] every number type shares: its tag, wrapping
/// and unwrapping chunks, and its bytes (native order, as `bytemuck` casts).
macro_rules! number_storage {
    ($t:ty, $tag:ident) => {
        const DTYPE: DType = DType::$tag;
        fn wrap(a: ArrayD<Self>) -> Values {
            Values::$tag(a)
        }
        fn unwrap(v: Values) -> ArrayD<Self> {
            match v {
                Values::$tag(a) => a,
                other => planned_otherwise(other.dtype(), stringify!($t)),
            }
        }
        fn array(v: &Values) -> &ArrayD<Self> {
            match v {
                Values::$tag(a) => a,
                other => planned_otherwise(other.dtype(), stringify!($t)),
            }
        }
        fn array_mut(v: &mut Values) -> &mut ArrayD<Self> {
            match v {
                Values::$tag(a) => a,
                other => planned_otherwise(other.dtype(), stringify!($t)),
            }
        }
        fn read(bytes: &[u8]) -> Vec<Self> {
            const N: usize = std::mem::size_of::<$t>();
            bytes
                .chunks_exact(N)
                .map(|b| <$t>::from_ne_bytes(b.try_into().expect("element size")))
                .collect()
        }
        fn write(values: &[Self], out: &mut Vec<u8>) {
            out.extend_from_slice(bytemuck::cast_slice(values));
        }
    };
}

macro_rules! float {
    ($t:ty, $tag:ident) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            number_storage!($t, $tag);
            fn to_num(self) -> Num {
                Num::F(self as f64)
            }
            fn from_num(n: Num) -> Self {
                match n {
                    Num::F(f) => f as $t,
                    Num::I(i) => i as $t,
                    Num::B(b) => u8::from(b) as $t,
                }
            }
            fn fold(op: Fold, a: Self, b: Self) -> Self {
                match op {
                    Fold::Sum => a + b,
                    Fold::Prod => a * b,
                    Fold::Min => a.min(b),
                    Fold::Max => a.max(b),
                    Fold::Any => <$t>::from(u8::from(a != 0.0 || b != 0.0)),
                    Fold::All => <$t>::from(u8::from(a != 0.0 && b != 0.0)),
                }
            }
            fn identity(op: Fold) -> Self {
                match op {
                    Fold::Sum | Fold::Any => 0.0,
                    Fold::Prod | Fold::All => 1.0,
                    Fold::Min => <$t>::INFINITY,
                    Fold::Max => <$t>::NEG_INFINITY,
                }
            }
            fn arith(op: Arith, a: Self, b: Self) -> Self {
                match op {
                    Arith::Add => a + b,
                    Arith::Sub => a - b,
                    Arith::Mul => a * b,
                    Arith::Div => a / b,
                    Arith::Pow => a.powf(b),
                }
            }
            fn unary(op: super::eval::Unary, x: Self) -> Self {
                use super::eval::Unary;
                match op {
                    Unary::Neg => -x,
                    Unary::Sin => x.sin(),
                    Unary::Cos => x.cos(),
                    Unary::Tan => x.tan(),
                    Unary::Exp => x.exp(),
                    Unary::Ln => x.ln(),
                    Unary::Sqrt => x.sqrt(),
                    Unary::Abs => x.abs(),
                    Unary::Powi(n) => x.powi(n),
                }
            }
        }
        impl Numeric for $t {
            type Acc = $t;
        }
        impl Float for $t {
            fn from_f64(x: f64) -> Self {
                x as $t
            }
        }
    };
}

macro_rules! integer {
    ($t:ty, $tag:ident, $abs:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            number_storage!($t, $tag);
            fn to_num(self) -> Num {
                Num::I(self as i64)
            }
            fn from_num(n: Num) -> Self {
                match n {
                    Num::F(f) => f as $t,
                    Num::I(i) => i as $t,
                    Num::B(b) => <$t>::from(b),
                }
            }
            fn fold(op: Fold, a: Self, b: Self) -> Self {
                match op {
                    Fold::Sum => a.wrapping_add(b),
                    Fold::Prod => a.wrapping_mul(b),
                    Fold::Min => a.min(b),
                    Fold::Max => a.max(b),
                    Fold::Any => <$t>::from(a != 0 || b != 0),
                    Fold::All => <$t>::from(a != 0 && b != 0),
                }
            }
            fn identity(op: Fold) -> Self {
                match op {
                    Fold::Sum | Fold::Any => 0,
                    Fold::Prod | Fold::All => 1,
                    Fold::Min => <$t>::MAX,
                    Fold::Max => <$t>::MIN,
                }
            }
            /// Wrapping, as NumPy's; division truncates and a division by
            /// zero gives 0 (NumPy's value, without its warning).
            fn arith(op: Arith, a: Self, b: Self) -> Self {
                match op {
                    Arith::Add => a.wrapping_add(b),
                    Arith::Sub => a.wrapping_sub(b),
                    Arith::Mul => a.wrapping_mul(b),
                    Arith::Div => a.checked_div(b).unwrap_or(0),
                    Arith::Pow => unreachable!("powf is planned for floats only"),
                }
            }
            fn unary(op: super::eval::Unary, x: Self) -> Self {
                use super::eval::Unary;
                match op {
                    Unary::Neg => (0 as $t).wrapping_sub(x),
                    Unary::Abs => $abs(x),
                    _ => unreachable!("float functions are planned for floats only"),
                }
            }
        }
        impl Numeric for $t {
            type Acc = i64;
        }
    };
}

float!(f64, F64);
float!(f32, F32);
integer!(i64, I64, i64::wrapping_abs);
integer!(i32, I32, i32::wrapping_abs);
integer!(u8, U8, std::convert::identity::<u8>);

impl sealed::Sealed for bool {}
impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn wrap(a: ArrayD<Self>) -> Values {
        Values::Bool(a)
    }
    fn unwrap(v: Values) -> ArrayD<Self> {
        match v {
            Values::Bool(a) => a,
            other => planned_otherwise(other.dtype(), "bool"),
        }
    }
    fn array(v: &Values) -> &ArrayD<Self> {
        match v {
            Values::Bool(a) => a,
            other => planned_otherwise(other.dtype(), "bool"),
        }
    }
    fn array_mut(v: &mut Values) -> &mut ArrayD<Self> {
        match v {
            Values::Bool(a) => a,
            other => planned_otherwise(other.dtype(), "bool"),
        }
    }
    fn to_num(self) -> Num {
        Num::B(self)
    }
    fn from_num(n: Num) -> Self {
        match n {
            Num::F(f) => f != 0.0,
            Num::I(i) => i != 0,
            Num::B(b) => b,
        }
    }
    fn read(bytes: &[u8]) -> Vec<Self> {
        bytes.iter().map(|&b| b != 0).collect()
    }
    fn write(values: &[Self], out: &mut Vec<u8>) {
        out.extend(values.iter().map(|&b| u8::from(b)));
    }
    fn fold(op: Fold, a: Self, b: Self) -> Self {
        match op {
            Fold::Sum | Fold::Max | Fold::Any => a || b,
            Fold::Prod | Fold::Min | Fold::All => a && b,
        }
    }
    fn identity(op: Fold) -> Self {
        matches!(op, Fold::Prod | Fold::Min | Fold::All)
    }
    fn arith(_: Arith, _: Self, _: Self) -> Self {
        unreachable!("arithmetic is planned for numbers only")
    }
    fn unary(_: super::eval::Unary, _: Self) -> Self {
        unreachable!("elementwise functions are planned for numbers only")
    }
}

/// One chunk of values of any element type.
#[derive(Clone, Debug, PartialEq)]
#[doc(hidden)]
pub enum Values {
    F64(ArrayD<f64>),
    F32(ArrayD<f32>),
    I64(ArrayD<i64>),
    I32(ArrayD<i32>),
    U8(ArrayD<u8>),
    Bool(ArrayD<bool>),
}

impl Default for Values {
    fn default() -> Self {
        Values::F64(ArrayD::default(IxDyn(&[0])))
    }
}

/// `$body` with `$a` bound to the array inside `$v` and `$T` to its element
/// type, whatever it is.
macro_rules! with {
    ($v:expr, $a:ident: $T:ident => $body:expr) => {
        match $v {
            Values::F64($a) => {
                type $T = f64;
                $body
            }
            Values::F32($a) => {
                type $T = f32;
                $body
            }
            Values::I64($a) => {
                type $T = i64;
                $body
            }
            Values::I32($a) => {
                type $T = i32;
                $body
            }
            Values::U8($a) => {
                type $T = u8;
                $body
            }
            Values::Bool($a) => {
                type $T = bool;
                $body
            }
        }
    };
}
pub(crate) use with;

/// `$body` with `$x` and `$y` bound to the arrays inside `$a` and `$b`,
/// which the planner gave the same element type `$T`.
macro_rules! with2 {
    ($a:expr, $b:expr, $x:ident, $y:ident: $T:ident => $body:expr) => {
        match ($a, $b) {
            (Values::F64($x), Values::F64($y)) => {
                type $T = f64;
                $body
            }
            (Values::F32($x), Values::F32($y)) => {
                type $T = f32;
                $body
            }
            (Values::I64($x), Values::I64($y)) => {
                type $T = i64;
                $body
            }
            (Values::I32($x), Values::I32($y)) => {
                type $T = i32;
                $body
            }
            (Values::U8($x), Values::U8($y)) => {
                type $T = u8;
                $body
            }
            (Values::Bool($x), Values::Bool($y)) => {
                type $T = bool;
                $body
            }
            (a, b) => panic!(
                "array chunks of {} and {} where one element type was planned",
                a.dtype(),
                b.dtype()
            ),
        }
    };
}
pub(crate) use with2;

impl Values {
    /// The element type.
    pub fn dtype(&self) -> DType {
        with!(self, _a: T => T::DTYPE)
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        with!(self, a: _T => a.shape())
    }

    /// One value everywhere.
    pub fn fill(value: Num, dtype: DType, shape: &[usize]) -> Values {
        let zero = Values::F64(ArrayD::from_elem(IxDyn(&[]), 0.0)).cast(dtype);
        with!(zero, _z: T => T::wrap(ArrayD::from_elem(IxDyn(shape), T::from_num(value))))
    }

    /// The values as another element type (`as` casts; non-zero is `true`).
    pub fn cast(self, to: DType) -> Values {
        if self.dtype() == to {
            return self;
        }
        with!(self, a: T => cast_to::<T>(a, to))
    }

    /// A copy of the region `elems` selects.
    pub fn slice(&self, elems: &[SliceInfoElem]) -> Values {
        with!(self, a: T => T::wrap(a.slice(elems).to_owned()))
    }

    /// The axes permuted.
    pub fn permuted(self, perm: &[usize]) -> Values {
        with!(self, a: T => T::wrap(a.permuted_axes(IxDyn(perm))))
    }
}

fn cast_to<T: Element>(a: ArrayD<T>, to: DType) -> Values {
    fn go<T: Element, U: Element>(a: ArrayD<T>) -> Values {
        U::wrap(a.mapv(|x| U::from_num(x.to_num())))
    }
    match to {
        DType::F64 => go::<T, f64>(a),
        DType::F32 => go::<T, f32>(a),
        DType::I64 => go::<T, i64>(a),
        DType::I32 => go::<T, i32>(a),
        DType::U8 => go::<T, u8>(a),
        DType::Bool => go::<T, bool>(a),
    }
}

/// The shape and the values' bytes of a view of any element type.
pub(crate) fn to_bytes<T: Element>(a: ArrayViewD<'_, T>) -> Vec<u8> {
    let standard = a.as_standard_layout();
    let values = standard.as_slice().expect("standard layout is contiguous");
    let mut out = Vec::with_capacity(std::mem::size_of_val(values));
    T::write(values, &mut out);
    out
}
