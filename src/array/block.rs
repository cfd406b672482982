//! What array tasks pass each other: a chunk of values ([`Chunk`], sent as
//! raw bytes, not element by element) and a [`Block`], a chunk that may
//! still be a partial reduction.

use super::reduce::Partial;
use crate::ndarray::{ArrayD, IxDyn};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A chunk's values; serialized as its shape and then its values' bytes in
/// one piece.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Chunk(pub ArrayD<f64>);

/// Writes `array` (any layout) as a shape and one byte string.
pub(crate) fn serialize_array<S: Serializer>(
    array: crate::ndarray::ArrayViewD<'_, f64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let standard = array.as_standard_layout();
    let values = standard.as_slice().expect("standard layout is contiguous");
    let bytes: &[u8] = bytemuck::cast_slice(values);
    let mut t = s.serialize_tuple(2)?;
    t.serialize_element(array.shape())?;
    t.serialize_element(&Bytes(bytes))?;
    t.end()
}

/// A byte slice that serializes as bytes (not as a sequence of numbers).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Bytes read back into `f64`s (copied: the input need not be aligned).
struct F64s(Vec<f64>);

impl<'de> Deserialize<'de> for F64s {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = F64s;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the bytes of f64 values")
            }
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<F64s, E> {
                if bytes.len() % 8 != 0 {
                    return Err(E::custom(format!("{} bytes are not f64s", bytes.len())));
                }
                Ok(F64s(
                    bytes
                        .chunks_exact(8)
                        .map(|b| f64::from_ne_bytes(b.try_into().expect("8 bytes")))
                        .collect(),
                ))
            }
        }
        d.deserialize_bytes(V)
    }
}

impl Serialize for Chunk {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_array(self.0.view(), s)
    }
}

impl<'de> Deserialize<'de> for Chunk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Chunk;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a chunk: shape and values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Chunk, A::Error> {
                let shape: Vec<usize> = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let values: F64s = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                ArrayD::from_shape_vec(IxDyn(&shape), values.0)
                    .map(Chunk)
                    .map_err(|e| de::Error::custom(format!("chunk of shape {shape:?}: {e}")))
            }
        }
        d.deserialize_tuple(2, V)
    }
}

/// A task's result: values, or the partial state of a reduction whose
/// [`finish`](Block::finish) gives the values.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Block {
    pub values: Chunk,
    pub partial: Option<Partial>,
}

impl Block {
    /// Plain values.
    pub fn values(values: ArrayD<f64>) -> Self {
        Block {
            values: Chunk(values),
            partial: None,
        }
    }

    /// The values, a partial reduction finished.
    pub fn finish(self) -> ArrayD<f64> {
        match self.partial {
            None => self.values.0,
            Some(p) => p.finish(self.values.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_round_trips_as_bytes() {
        let a = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| (i[0] * 10 + i[1]) as f64);
        let t = a.clone().reversed_axes();
        for array in [a, t] {
            let bytes = postcard::to_stdvec(&Chunk(array.clone())).unwrap();
            assert!(bytes.len() < 12 * 8 + 8);
            let back: Chunk = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back.0, array);
        }
    }
}
