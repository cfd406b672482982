//! Random arrays whose chunk values come from (seed, chunk number) alone,
//! generated inside the task that uses them: the same seed gives the same
//! array on any number of workers. The generator is xoshiro256++ seeded
//! through splitmix64, written here (no dependency).

use super::chunks::{grid, ChunkSpec};
use super::expr::Expr;
use super::DArray;
use crate::ndarray::{ArrayD, IxDyn};
use crate::Result;
use serde::{Deserialize, Serialize};

/// A distribution of random values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Dist {
    /// Uniform on `[low, high)`.
    Uniform {
        /// The smallest value.
        low: f64,
        /// The bound no value reaches.
        high: f64,
    },
    /// Normal (Gaussian), by the Box–Muller transform.
    Normal {
        /// The mean.
        mean: f64,
        /// The standard deviation.
        std: f64,
    },
}

/// Uniform values on `[0, 1)` (dask's `da.random.random`).
pub fn random(seed: u64, shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<DArray> {
    uniform(seed, 0.0, 1.0, shape, chunks)
}

/// Uniform values on `[low, high)`.
pub fn uniform(
    seed: u64,
    low: f64,
    high: f64,
    shape: &[usize],
    chunks: impl Into<ChunkSpec>,
) -> Result<DArray> {
    sampled(seed, Dist::Uniform { low, high }, shape, chunks)
}

/// Normally distributed values (dask's `da.random.normal(mean, std, size)`).
pub fn normal(
    seed: u64,
    mean: f64,
    std: f64,
    shape: &[usize],
    chunks: impl Into<ChunkSpec>,
) -> Result<DArray> {
    sampled(seed, Dist::Normal { mean, std }, shape, chunks)
}

/// An array of `dist` values from `seed`.
pub fn sampled(
    seed: u64,
    dist: Dist,
    shape: &[usize],
    chunks: impl Into<ChunkSpec>,
) -> Result<DArray> {
    DArray::leaf(shape, chunks.into(), Expr::Random { dist, seed })
}

/// The same values as [`sampled`]`(seed, dist, shape, chunks)`, made here
/// serially without a cluster: for checking a distributed result.
pub fn sampled_local(
    seed: u64,
    dist: Dist,
    shape: &[usize],
    chunks: impl Into<ChunkSpec>,
) -> Result<ArrayD<f64>> {
    let chunks = chunks.into().resolve(shape)?;
    let mut out = ArrayD::zeros(IxDyn(shape));
    for (n, (_, start, cshape)) in grid(&chunks).into_iter().enumerate() {
        let block = block(seed, dist, n as u64, &cshape);
        let region = super::eval::region(&start, &cshape);
        out.slice_mut(region.as_slice()).assign(&block);
    }
    Ok(out)
}

/// The values of chunk number `chunk` (row-major over the chunk grid) of
/// shape `shape` in an array of `dist` values from `seed`, made here: what
/// the task generating that chunk makes.
pub fn sampled_chunk(seed: u64, dist: Dist, chunk: u64, shape: &[usize]) -> ArrayD<f64> {
    block(seed, dist, chunk, shape)
}

/// The values of chunk number `chunk` (row-major) of shape `shape`.
pub(crate) fn block(seed: u64, dist: Dist, chunk: u64, shape: &[usize]) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let mut values = vec![0.0; n];
    Stream::new(seed, dist, chunk).fill(&mut values);
    ArrayD::from_shape_vec(IxDyn(shape), values).expect("length matches the shape")
}

/// The values of one random chunk in row-major order, made a run at a
/// time: runs of any lengths, one after the other, give the chunk's values
/// to the bit (the tiled evaluator generates a chunk tile by tile).
pub(crate) struct Stream {
    rng: Xoshiro,
    dist: Dist,
    /// The second value of a normal pair whose first ended a run.
    spare: Option<f64>,
}

impl Stream {
    /// The stream of chunk number `chunk` of `dist` values from `seed`.
    pub(crate) fn new(seed: u64, dist: Dist, chunk: u64) -> Self {
        Stream {
            rng: Xoshiro::new(seed, chunk),
            dist,
            spare: None,
        }
    }

    /// The next `out.len()` values into `out`.
    pub(crate) fn fill(&mut self, out: &mut [f64]) {
        match self.dist {
            Dist::Uniform { low, high } => {
                let width = high - low;
                for v in out {
                    *v = low + width * self.rng.unit();
                }
            }
            Dist::Normal { mean, std } => {
                let start = match self.spare {
                    Some(spare) if !out.is_empty() => {
                        out[0] = spare;
                        self.spare = None;
                        1
                    }
                    _ => 0,
                };
                let mut pairs = out[start..].chunks_exact_mut(2);
                for pair in &mut pairs {
                    let (c, s) = self.pair(mean, std);
                    pair[0] = c;
                    pair[1] = s;
                }
                if let [last] = pairs.into_remainder() {
                    let (c, s) = self.pair(mean, std);
                    *last = c;
                    self.spare = Some(s);
                }
            }
        }
    }

    /// Two normal values by the Box–Muller transform.
    fn pair(&mut self, mean: f64, std: f64) -> (f64, f64) {
        let u1 = 1.0 - self.rng.unit();
        let u2 = self.rng.unit();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        (mean + std * r * c, mean + std * r * s)
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++ (Blackman and Vigna), one stream per (seed, chunk).
struct Xoshiro([u64; 4]);

impl Xoshiro {
    fn new(seed: u64, chunk: u64) -> Self {
        let mut s = seed;
        let mixed = splitmix(&mut s) ^ chunk.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut state = mixed;
        Xoshiro([
            splitmix(&mut state),
            splitmix(&mut state),
            splitmix(&mut state),
            splitmix(&mut state),
        ])
    }

    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform on `[0, 1)` with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_differ_and_repeat() {
        let d = Dist::Uniform {
            low: 0.0,
            high: 1.0,
        };
        let a = block(7, d, 0, &[4, 4]);
        assert_eq!(a, block(7, d, 0, &[4, 4]));
        assert_ne!(a, block(7, d, 1, &[4, 4]));
        assert!(a.iter().all(|v| (0.0..1.0).contains(v)));
        let n = block(
            1,
            Dist::Normal {
                mean: 10.0,
                std: 0.1,
            },
            3,
            &[10_001],
        );
        let mean = n.mean().unwrap();
        assert!((mean - 10.0).abs() < 0.01, "{mean}");
    }

    #[test]
    fn a_stream_read_in_runs_of_any_lengths_gives_the_chunk() {
        let dists = [
            Dist::Uniform {
                low: -1.0,
                high: 3.0,
            },
            Dist::Normal {
                mean: 1.0,
                std: 2.0,
            },
        ];
        for dist in dists {
            for n in [0, 1, 2, 7, 33] {
                let whole = block(9, dist, 4, &[n]);
                for run in [1, 2, 3, 8] {
                    let mut stream = Stream::new(9, dist, 4);
                    let mut got = vec![f64::NAN; n];
                    for part in got.chunks_mut(run) {
                        stream.fill(part);
                    }
                    assert_eq!(got, whole.as_slice().unwrap(), "{dist:?} n={n} run={run}");
                }
            }
        }
    }
}
