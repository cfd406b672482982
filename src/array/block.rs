//! What array tasks pass each other: a chunk of values of any element type
//! ([`Chunk`], sent as a type tag, a shape and the values' bytes in one
//! piece, not element by element) and a [`Block`], a chunk that may still
//! be a partial reduction.

use super::dtype::{to_bytes, with, DType, Element, Values};
use super::reduce::Partial;
use crate::ndarray::{ArrayD, ArrayViewD, IxDyn};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A chunk's values.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Chunk(pub Values);

/// Writes a view (any layout) as a type tag, a shape and one byte string.
pub(crate) fn serialize_view<T: Element, S: Serializer>(
    array: ArrayViewD<'_, T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut t = s.serialize_tuple(3)?;
    t.serialize_element(&T::DTYPE)?;
    t.serialize_element(array.shape())?;
    t.serialize_element(&Bytes(&to_bytes(array)))?;
    t.end()
}

/// Writes `values` as [`serialize_view`] does.
pub(crate) fn serialize_values<S: Serializer>(values: &Values, s: S) -> Result<S::Ok, S::Error> {
    with!(values, a: _T => serialize_view(a.view(), s))
}

/// A byte slice that serializes as bytes (not as a sequence of numbers).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Bytes, read as they come.
struct Raw(Vec<u8>);

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the bytes of array values")
            }
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Raw, E> {
                Ok(Raw(bytes.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Raw, E> {
                Ok(Raw(bytes))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// `bytes` as values of type `T` in `shape`.
fn decode<T: Element>(shape: &[usize], bytes: &[u8]) -> Result<Values, String> {
    let size = std::mem::size_of::<T>();
    if bytes.len() % size != 0 {
        return Err(format!("{} bytes are not {} values", bytes.len(), T::DTYPE));
    }
    ArrayD::from_shape_vec(IxDyn(shape), T::read(bytes))
        .map(T::wrap)
        .map_err(|e| format!("chunk of shape {shape:?}: {e}"))
}

impl Serialize for Chunk {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_values(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Chunk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Chunk;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a chunk: element type, shape and values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Chunk, A::Error> {
                let dtype: DType = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let shape: Vec<usize> = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let Raw(bytes) = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(2, &self))?;
                let values = match dtype {
                    DType::F64 => decode::<f64>(&shape, &bytes),
                    DType::F32 => decode::<f32>(&shape, &bytes),
                    DType::I64 => decode::<i64>(&shape, &bytes),
                    DType::I32 => decode::<i32>(&shape, &bytes),
                    DType::U8 => decode::<u8>(&shape, &bytes),
                    DType::Bool => decode::<bool>(&shape, &bytes),
                };
                values.map(Chunk).map_err(de::Error::custom)
            }
        }
        d.deserialize_tuple(3, V)
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
    pub fn values(values: Values) -> Self {
        Block {
            values: Chunk(values),
            partial: None,
        }
    }

    /// The values, a partial reduction finished.
    pub fn finish(self) -> Values {
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
            let bytes = postcard::to_stdvec(&Chunk(Values::F64(array.clone()))).unwrap();
            assert!(bytes.len() < 12 * 8 + 9);
            let back: Chunk = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back.0, Values::F64(array));
        }
        let flags = ArrayD::from_shape_fn(IxDyn(&[5]), |i| i[0] % 2 == 0);
        let small = ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| (i[0] * 3 + i[1]) as i32 - 2);
        for values in [Values::Bool(flags), Values::I32(small)] {
            let bytes = postcard::to_stdvec(&Chunk(values.clone())).unwrap();
            let back: Chunk = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back.0, values);
        }
    }
}
