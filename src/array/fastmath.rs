//! `sin` and `cos` over whole slices of `f64`, in lanes the compiler turns
//! into vector instructions, for the elementwise evaluation of chunks.
//!
//! libm computes one value per call; here eight values go through the same
//! straight-line code: the argument is reduced by the nearest multiple of
//! π/2 (Cody–Waite, with π/2 in three parts whose first two have trailing
//! zeros, so `k · part` is exact for every `k` used), then the minimax
//! polynomials of fdlibm/musl's `__sin` and `__cos` kernels (error under
//! one ulp on `[-π/4, π/4]`) are evaluated and picked by the quadrant,
//! without branches. Values beyond [`LIMIT`] in magnitude, NaN and the
//! infinities go to libm, so the results agree with libm's within 1e-12
//! relative everywhere (a test checks random, edge and large inputs).
//!
//! On x86-64 the same code is also compiled for AVX2 and AVX-512 and picked
//! at run time. Rust never fuses a multiply and an add on its own, so every
//! variant gives the same bits: a result does not depend on the machine a
//! chunk ran on.

// The constants below are fdlibm's, digit for digit as published.
#![allow(clippy::excessive_precision)]

/// Magnitudes up to this go through the vector path (so `k` stays far
/// below 2^20, where `k` times the first two parts of π/2 is exact);
/// larger ones, NaN and the infinities go to libm.
pub(crate) const LIMIT: f64 = 1.0e5;

/// Values per group: one AVX-512 register, two AVX2 ones.
const LANES: usize = 8;

/// 1.5 · 2^52: adding it rounds a value under 2^51 to an integer, found in
/// the low bits.
const ROUND: f64 = 6_755_399_441_055_744.0;
/// The first 33 bits of π/2.
const PIO2_1: f64 = 1.570_796_326_734_125_614_17e0;
/// The next 33 bits.
const PIO2_2: f64 = 6.077_100_506_303_965_976_6e-11;
/// π/2 − `PIO2_1` − `PIO2_2`, to 53 bits.
const PIO2_2T: f64 = 2.022_266_248_795_950_631_54e-21;

const S1: f64 = -1.666_666_666_666_663_243_48e-1;
const S2: f64 = 8.333_333_333_322_489_461_24e-3;
const S3: f64 = -1.984_126_982_985_794_931_34e-4;
const S4: f64 = 2.755_731_370_707_006_767_89e-6;
const S5: f64 = -2.505_076_025_340_686_341_95e-8;
const S6: f64 = 1.589_690_995_211_550_102_21e-10;

const C1: f64 = 4.166_666_666_666_660_190_37e-2;
const C2: f64 = -1.388_888_888_887_410_957_49e-3;
const C3: f64 = 2.480_158_728_947_672_941_78e-5;
const C4: f64 = -2.755_731_435_139_066_330_35e-7;
const C5: f64 = 2.087_572_321_298_174_827_90e-9;
const C6: f64 = -1.135_964_755_778_819_482_65e-11;

/// Which function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trig {
    Sin,
    Cos,
}

/// Every value of `xs` replaced by its sine.
pub fn sin_in_place(xs: &mut [f64]) {
    dispatch(xs, Trig::Sin);
}

/// Every value of `xs` replaced by its cosine.
pub fn cos_in_place(xs: &mut [f64]) {
    dispatch(xs, Trig::Cos);
}

fn dispatch(xs: &mut [f64], f: Trig) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, the only requirement of `avx512`.
            unsafe { avx512(xs, f) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, the only requirement of `avx2`.
            unsafe { avx2(xs, f) };
            return;
        }
    }
    apply(xs, f);
}

/// [`apply`] compiled for AVX-512.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512(xs: &mut [f64], f: Trig) {
    apply(xs, f);
}

/// [`apply`] compiled for AVX2.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2(xs: &mut [f64], f: Trig) {
    apply(xs, f);
}

#[inline(always)]
fn apply(xs: &mut [f64], f: Trig) {
    let mut groups = xs.chunks_exact_mut(LANES);
    for group in &mut groups {
        let group: &mut [f64; LANES] = group.try_into().expect("LANES values");
        lanes(group, f);
    }
    for x in groups.into_remainder() {
        *x = one(*x, f);
    }
}

/// One group of values, all through the vector path, then libm for those
/// out of its range (rare).
#[inline(always)]
fn lanes(xs: &mut [f64; LANES], f: Trig) {
    let mut out = [0.0; LANES];
    let mut inside = true;
    for (o, &x) in out.iter_mut().zip(xs.iter()) {
        *o = reduced(x, f);
        inside &= in_range(x);
    }
    if !inside {
        outside(&mut out, xs, f);
    }
    *xs = out;
}

/// The values of `xs` out of the vector path's range, by libm into `out`.
/// Never inlined: inlined, the compiler may call libm for every lane (it
/// knows `sin` has no side effects) and keep the results it needs.
#[cold]
#[inline(never)]
fn outside(out: &mut [f64; LANES], xs: &[f64; LANES], f: Trig) {
    for (o, &x) in out.iter_mut().zip(xs) {
        if !in_range(x) {
            *o = libm(x, f);
        }
    }
}

/// One value: the vector path's formula inside [`LIMIT`], else libm.
pub(crate) fn one(x: f64, f: Trig) -> f64 {
    if in_range(x) {
        reduced(x, f)
    } else {
        libm(x, f)
    }
}

/// Whether `x` goes through the vector path (false for NaN).
#[inline(always)]
fn in_range(x: f64) -> bool {
    x.abs() <= LIMIT
}

fn libm(x: f64, f: Trig) -> f64 {
    match f {
        Trig::Sin => x.sin(),
        Trig::Cos => x.cos(),
    }
}

/// sin or cos of `x` (|x| ≤ [`LIMIT`]) by reduction and the kernels. The
/// quadrant picks the kernel and the sign by bit masks, not branches, so
/// that groups of lanes become vector code.
#[inline(always)]
fn reduced(x: f64, f: Trig) -> f64 {
    let shifted = x * std::f64::consts::FRAC_2_PI + ROUND;
    let k = shifted - ROUND;
    let quadrant = shifted.to_bits().wrapping_add(u64::from(f == Trig::Cos));
    let r = ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_2T;
    let (s, c) = (kernel_sin(r).to_bits(), kernel_cos(r).to_bits());
    let odd = (quadrant & 1).wrapping_neg();
    let v = (s & !odd) | (c & odd);
    f64::from_bits(v ^ ((quadrant & 2) << 62))
}

/// sin(r) for |r| ≤ π/4 (musl's `__sin` without the tail).
#[inline(always)]
fn kernel_sin(r: f64) -> f64 {
    let z = r * r;
    let w = z * z;
    let p = S2 + z * (S3 + z * S4) + z * w * (S5 + z * S6);
    let v = z * r;
    r + v * (S1 + z * p)
}

/// cos(r) for |r| ≤ π/4 (musl's `__cos` without the tail).
#[inline(always)]
fn kernel_cos(r: f64) -> f64 {
    let z = r * r;
    let w = z * z;
    let p = z * (C1 + z * (C2 + z * C3)) + w * w * (C4 + z * (C5 + z * C6));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    w + (((1.0 - w) - hz) + z * p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

    /// Random values over many magnitudes, both signs (splitmix64 bits).
    fn random_inputs(n: usize) -> Vec<f64> {
        let mut state = 0x1234_5678_u64;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        (0..n)
            .map(|i| {
                let unit = (next() >> 11) as f64 / (1u64 << 53) as f64;
                let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
                match i % 4 {
                    0 | 1 => sign * unit * 2.0 * PI,
                    2 => sign * unit * 2.0 * LIMIT,
                    _ => sign * 10f64.powf(unit * 40.0 - 20.0),
                }
            })
            .collect()
    }

    fn edge_inputs() -> Vec<f64> {
        let mut xs = vec![
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            1e-300,
            f64::EPSILON,
            FRAC_PI_4,
            -FRAC_PI_4,
            LIMIT,
            -LIMIT,
            f64::from_bits(LIMIT.to_bits() + 1),
            1e6,
            1e22,
            -1e300,
            f64::MAX,
            f64::MIN,
        ];
        for k in -2000..=2000 {
            let k = f64::from(k);
            xs.extend([k * PI, k * FRAC_PI_2, k * FRAC_PI_4, k * PI + 1e-9]);
        }
        for k in [10_000.0, 31_831.0, 63_661.0, 63_662.0] {
            xs.extend([k * FRAC_PI_2, f64::from_bits((k * FRAC_PI_2).to_bits() + 1)]);
        }
        xs
    }

    fn agrees(f: Trig, inputs: &[f64]) {
        let mut fast = inputs.to_vec();
        match f {
            Trig::Sin => sin_in_place(&mut fast),
            Trig::Cos => cos_in_place(&mut fast),
        }
        let mut portable = inputs.to_vec();
        apply(&mut portable, f);
        for ((&x, &got), &plain) in inputs.iter().zip(&fast).zip(&portable) {
            let want = libm(x, f);
            assert_eq!(
                got.to_bits(),
                plain.to_bits(),
                "{f:?}({x:e}): the dispatched {got:e} and the portable {plain:e} differ"
            );
            assert_eq!(
                got.to_bits(),
                one(x, f).to_bits(),
                "{f:?}({x:e}): the lane and one-value paths differ"
            );
            if want.is_nan() {
                assert!(got.is_nan(), "{f:?}({x:e}) = {got:e}, libm says NaN");
            } else {
                let relative = ((got - want) / want).abs();
                assert!(
                    got == want || relative <= 1e-12,
                    "{f:?}({x:e}) = {got:e}, libm {want:e}, relative {relative:e}"
                );
            }
        }
    }

    #[test]
    fn sin_and_cos_agree_with_libm_on_random_inputs() {
        let xs = random_inputs(200_003);
        agrees(Trig::Sin, &xs);
        agrees(Trig::Cos, &xs);
    }

    #[test]
    fn sin_and_cos_agree_with_libm_on_edge_inputs() {
        let xs = edge_inputs();
        agrees(Trig::Sin, &xs);
        agrees(Trig::Cos, &xs);
    }

    #[test]
    fn a_nan_among_a_group_leaves_the_others_alone() {
        let mut xs = [0.5, f64::NAN, 1.0, f64::INFINITY, 2.0, 3.0, 1e9, 4.0, 5.0];
        sin_in_place(&mut xs);
        assert!(xs[1].is_nan() && xs[3].is_nan());
        assert!((xs[0] - 0.5f64.sin()).abs() < 1e-16);
        assert_eq!(xs[6], 1e9f64.sin());
        assert!((xs[8] - 5.0f64.sin()).abs() < 1e-15);
    }
}
