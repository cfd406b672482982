//! Byte payloads inside serde messages, encoded as one byte string instead of
//! a sequence of `u8` values: postcard then writes and reads them with one
//! copy instead of a call per byte. The wire format is the same as a
//! `Vec<u8>`'s (a length, then the bytes), so only the speed changes.
//!
//! Use with `#[serde(with = "crate::comm::bytes")]` on a `Vec<u8>` field, or
//! the submodules for an `Option<Vec<u8>>`, a `Result<Vec<u8>, E>` and a
//! `Vec<(K, Vec<u8>)>`.

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Borrowed bytes that serialize as a byte string.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Owned bytes that deserialize from a byte string (or, from formats that
/// write one, a sequence of `u8`).
pub(crate) struct ByteBuf(pub Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_byte_buf(ByteBufVisitor).map(ByteBuf)
    }
}

struct ByteBufVisitor;

impl<'de> Visitor<'de> for ByteBufVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a byte string")
    }
    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }
    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(b) = seq.next_element()? {
            v.push(b);
        }
        Ok(v)
    }
}

/// Serializes a `Vec<u8>` field as a byte string.
pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    Bytes(v).serialize(s)
}

/// Deserializes a `Vec<u8>` field from a byte string.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    ByteBuf::deserialize(d).map(|b| b.0)
}

/// For an `Option<Vec<u8>>` field.
pub(crate) mod option {
    use super::{ByteBuf, Bytes};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes the bytes, if any, as a byte string.
    pub(crate) fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_deref().map(Bytes).serialize(s)
    }

    /// Deserializes an optional byte string.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<ByteBuf>::deserialize(d).map(|o| o.map(|b| b.0))
    }
}

/// For an `Arc<Vec<u8>>` field: bytes shared with other owners, encoded as
/// a `Vec<u8>` field is.
pub(crate) mod shared {
    use super::{ByteBuf, Bytes};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    /// Serializes the bytes as a byte string.
    pub(crate) fn serialize<S: Serializer>(v: &Arc<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        Bytes(v).serialize(s)
    }

    /// Deserializes a byte string into a new shared buffer.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Vec<u8>>, D::Error> {
        ByteBuf::deserialize(d).map(|b| Arc::new(b.0))
    }
}

/// For a `Result<Vec<u8>, E>` field.
pub(crate) mod result {
    use super::{ByteBuf, Bytes};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes the bytes of `Ok` as a byte string.
    pub(crate) fn serialize<S: Serializer, E: Serialize>(
        v: &Result<Vec<u8>, E>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        v.as_deref().map(Bytes).serialize(s)
    }

    /// Deserializes `Ok` bytes from a byte string.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>, E: Deserialize<'de>>(
        d: D,
    ) -> Result<Result<Vec<u8>, E>, D::Error> {
        Result::<ByteBuf, E>::deserialize(d).map(|r| r.map(|b| b.0))
    }
}

/// For a `Vec<(K, Vec<u8>)>` field.
pub(crate) mod keyed {
    use super::{ByteBuf, Bytes, SerializeSeq, SerializeTuple};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    struct Pair<'a, K>(&'a K, &'a [u8]);

    impl<K: Serialize> Serialize for Pair<'_, K> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut t = s.serialize_tuple(2)?;
            t.serialize_element(self.0)?;
            t.serialize_element(&Bytes(self.1))?;
            t.end()
        }
    }

    /// Serializes each pair's bytes as a byte string.
    pub(crate) fn serialize<S: Serializer, K: Serialize>(
        v: &[(K, Vec<u8>)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for (k, b) in v {
            seq.serialize_element(&Pair(k, b))?;
        }
        seq.end()
    }

    /// Deserializes pairs whose bytes are byte strings.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>, K: Deserialize<'de>>(
        d: D,
    ) -> Result<Vec<(K, Vec<u8>)>, D::Error> {
        Vec::<(K, ByteBuf)>::deserialize(d).map(|v| v.into_iter().map(|(k, b)| (k, b.0)).collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::comm::codec::{decode, encode};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Plain {
        a: Vec<u8>,
        b: Option<Vec<u8>>,
        c: Result<Vec<u8>, String>,
        d: Vec<(u64, Vec<u8>)>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct AsBytes {
        #[serde(with = "super")]
        a: Vec<u8>,
        #[serde(with = "super::option")]
        b: Option<Vec<u8>>,
        #[serde(with = "super::result")]
        c: Result<Vec<u8>, String>,
        #[serde(with = "super::keyed")]
        d: Vec<(u64, Vec<u8>)>,
    }

    #[test]
    fn same_wire_format_as_vec_u8_both_ways() {
        let big: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        for (b, c) in [
            (None, Err("no".to_string())),
            (Some(big.clone()), Ok(vec![1, 2, 3])),
        ] {
            let plain = Plain {
                a: big.clone(),
                b: b.clone(),
                c: c.clone(),
                d: vec![(5, big.clone()), (6, vec![])],
            };
            let fast = AsBytes {
                a: big.clone(),
                b,
                c,
                d: vec![(5, big.clone()), (6, vec![])],
            };
            let wire = encode(&plain).unwrap();
            assert_eq!(encode(&fast).unwrap(), wire);
            assert_eq!(decode::<AsBytes>(&wire).unwrap(), fast);
            assert_eq!(decode::<Plain>(&encode(&fast).unwrap()).unwrap(), plain);
        }
    }

    #[test]
    fn a_length_past_the_end_is_an_error() {
        let fast = AsBytes {
            a: vec![1; 300],
            b: None,
            c: Ok(vec![]),
            d: vec![],
        };
        let wire = encode(&fast).unwrap();
        assert!(decode::<AsBytes>(&wire[..100]).is_err());
    }
}
