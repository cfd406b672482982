//! Serde encoding of values and control messages, with a size limit, plus the
//! raw path for plain-number slices that never loops over elements.
//!
//! The binary format is postcard 1 (variable-length integers, a documented and
//! stable wire format, actively maintained). It sits behind [`encode`] and
//! [`decode`] alone, so swapping it for another serde codec touches this file
//! only. `examples/codec_bench.rs` measured it against bincode 2.0.1 on our
//! control messages; the README gives the figures.
//!
//! Decoding never allocates more than the input can justify: a length prefix
//! larger than the bytes that follow fails instead of reserving memory.

use crate::comm::plain::Plain;
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// Encodes `value` with the crate's codec.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(value).map_err(|e| Error::codec(format!("cannot encode value: {e}")))
}

/// Decodes a `T` from `bytes`, refusing to allocate more than `limit` bytes and
/// rejecting trailing garbage.
pub fn decode_limited<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T> {
    if bytes.len() > limit {
        return Err(Error::codec(format!(
            "message of {} bytes is over the {limit}-byte limit",
            bytes.len()
        )));
    }
    let (value, rest) = postcard::take_from_bytes::<T>(bytes).map_err(|e| {
        Error::codec(format!(
            "cannot decode {} bytes as {}: {e}",
            bytes.len(),
            std::any::type_name::<T>()
        ))
    })?;
    if !rest.is_empty() {
        return Err(Error::codec(format!(
            "{} bytes left over after decoding {}: sender and receiver disagree on the type",
            rest.len(),
            std::any::type_name::<T>()
        )));
    }
    Ok(value)
}

/// Hard ceiling on one message (1 TiB), a bound on what a length read off
/// the wire may make a rank allocate. MPI counts are 32-bit, but no MPI call
/// carries a whole message over the piece size (at most 1 GiB): larger ones
/// cross in pieces (`comm::pieces`).
pub const MAX_MESSAGE_CEILING: usize = 1 << 40;

/// Decodes a `T` from `bytes` with the largest limit a message may have.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    decode_limited(bytes, MAX_MESSAGE_CEILING)
}

/// [`encode`] for a value of a `'static` type: a `Vec<u8>` (a task's byte
/// argument or result) is written as one byte string, in one copy, instead
/// of a byte at a time; the bytes are the same as [`encode`]'s.
pub fn encode_value<T: Serialize + 'static>(value: &T) -> Result<Vec<u8>> {
    match (value as &dyn std::any::Any).downcast_ref::<Vec<u8>>() {
        Some(v) => encode(&crate::comm::bytes::Bytes(v)),
        None => encode(value),
    }
}

/// [`decode`] for a value of a `'static` type: a `Vec<u8>` is read as one
/// byte string, in one copy, instead of a byte at a time.
pub fn decode_value<T: DeserializeOwned + 'static>(bytes: &[u8]) -> Result<T> {
    if std::any::TypeId::of::<T>() != std::any::TypeId::of::<Vec<u8>>() {
        return decode(bytes);
    }
    let v: Box<dyn std::any::Any> = Box::new(decode::<crate::comm::bytes::ByteBuf>(bytes)?.0);
    v.downcast::<T>()
        .map(|t| *t)
        .map_err(|_| Error::codec("a Vec<u8> that is not one".to_string()))
}

/// [`decode_value`] from a shared buffer: a `Vec<u8>` whose buffer no one
/// else holds is taken, its bytes moved to the front in place, instead of
/// copied into a new allocation (for a large task input that is the
/// difference between a `memmove` and an allocation, its page faults and a
/// copy).
pub fn decode_value_shared<T: DeserializeOwned + 'static>(bytes: Arc<Vec<u8>>) -> Result<T> {
    if std::any::TypeId::of::<T>() != std::any::TypeId::of::<Vec<u8>>() {
        return decode(&bytes);
    }
    let v = match Arc::try_unwrap(bytes) {
        Ok(owned) => take_byte_string(owned)?,
        Err(shared) => return decode_value(&shared),
    };
    let v: Box<dyn std::any::Any> = Box::new(v);
    v.downcast::<T>()
        .map(|t| *t)
        .map_err(|_| Error::codec("a Vec<u8> that is not one".to_string()))
}

/// The byte string that `encoded` holds (its length, then the bytes), in
/// the same buffer; the same errors as decoding it.
fn take_byte_string(mut encoded: Vec<u8>) -> Result<Vec<u8>> {
    let mut len = 0u64;
    let mut prefix = None;
    // A LEB128 length of at most 10 bytes, as postcard writes a usize.
    for (i, b) in encoded.iter().take(10).enumerate() {
        len |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            prefix = Some(i + 1);
            break;
        }
    }
    match prefix {
        Some(p) if usize::try_from(len).ok() == Some(encoded.len() - p) && len > 0 => {
            encoded.copy_within(p.., 0);
            encoded.truncate(len as usize);
            Ok(encoded)
        }
        // Empty, malformed, short or long: the codec says why.
        _ => decode_value(&encoded),
    }
}

/// The bytes of a plain-number slice, without copying.
pub fn plain_bytes<T: Plain>(values: &[T]) -> &[u8] {
    bytemuck::cast_slice(values)
}

/// Copies raw bytes into a plain-number slice of the same byte length.
pub fn copy_plain_from_bytes<T: Plain>(bytes: &[u8], out: &mut [T]) -> Result<()> {
    let dest: &mut [u8] = bytemuck::cast_slice_mut(out);
    if dest.len() != bytes.len() {
        return Err(Error::invalid(format!(
            "received {} bytes into a buffer of {} bytes",
            bytes.len(),
            dest.len()
        )));
    }
    dest.copy_from_slice(bytes);
    Ok(())
}

/// A new vector of plain numbers from raw bytes (the length must divide evenly).
pub fn plain_vec_from_bytes<T: Plain>(bytes: &[u8]) -> Result<Vec<T>> {
    let size = std::mem::size_of::<T>();
    if size == 0 || bytes.len() % size != 0 {
        return Err(Error::codec(format!(
            "{} bytes is not a whole number of {}-byte {}",
            bytes.len(),
            size,
            std::any::type_name::<T>()
        )));
    }
    let mut out = vec![T::zeroed(); bytes.len() / size];
    copy_plain_from_bytes(bytes, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn round_trip() {
        let m: BTreeMap<String, i32> = [("a".into(), 1), ("b".into(), 2)].into();
        let bytes = encode(&m).unwrap();
        let back: BTreeMap<String, i32> = decode(&bytes).unwrap();
        assert_eq!(m, back);
    }

    #[test]
    fn wrong_type_is_an_error() {
        let bytes = encode(&(1u64, "hello".to_string())).unwrap();
        let err = decode::<f64>(&bytes).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Codec);
        let err = decode::<Vec<String>>(&[0xff, 0xff, 0xff]).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Codec);
    }

    #[test]
    fn oversized_length_prefix_does_not_allocate() {
        // A vector that claims u32::MAX elements (LEB128 varint) but carries none.
        let bytes = [0xff, 0xff, 0xff, 0xff, 0x0f];
        let err = decode::<Vec<u64>>(&bytes).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Codec);
    }

    #[test]
    fn over_limit_is_refused() {
        let bytes = encode(&vec![0u8; 4096]).unwrap();
        assert!(decode_limited::<Vec<u8>>(&bytes, 1024).is_err());
        assert!(decode_limited::<Vec<u8>>(&bytes, 8192).is_ok());
    }

    #[test]
    fn byte_vectors_take_the_fast_path_with_the_same_bytes() {
        let v: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        assert_eq!(encode_value(&v).unwrap(), encode(&v).unwrap());
        assert_eq!(decode_value::<Vec<u8>>(&encode(&v).unwrap()).unwrap(), v);
        let w = vec![1u16, 2, 3];
        assert_eq!(encode_value(&w).unwrap(), encode(&w).unwrap());
        assert_eq!(decode_value::<Vec<u16>>(&encode(&w).unwrap()).unwrap(), w);
        let bytes = encode(&v).unwrap();
        assert!(decode_value::<Vec<u8>>(&bytes[..1000]).is_err(), "short");
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_value::<Vec<u8>>(&long).is_err(), "trailing bytes");
    }

    #[test]
    fn a_byte_vector_held_once_is_taken_not_copied() {
        for n in [0usize, 1, 127, 128, 100_000] {
            let v: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let shared = Arc::new(encode_value(&v).unwrap());
            let kept = shared.clone();
            assert_eq!(
                decode_value_shared::<Vec<u8>>(shared).unwrap(),
                v,
                "shared {n}"
            );
            let start = kept.as_ptr();
            let got = decode_value_shared::<Vec<u8>>(kept).unwrap();
            assert_eq!(got, v, "owned {n}");
            if n > 0 {
                assert_eq!(got.as_ptr(), start, "the same buffer");
            }
        }
        let bytes = encode(&vec![3u8; 300]).unwrap();
        let short = Arc::new(bytes[..200].to_vec());
        assert!(decode_value_shared::<Vec<u8>>(short).is_err(), "short");
        let mut long = bytes.clone();
        long.push(0);
        assert!(
            decode_value_shared::<Vec<u8>>(Arc::new(long)).is_err(),
            "long"
        );
        assert!(decode_value_shared::<Vec<u8>>(Arc::new(vec![0xff; 12])).is_err());
        let w = Arc::new(encode(&vec![1u16, 2]).unwrap());
        assert_eq!(decode_value_shared::<Vec<u16>>(w).unwrap(), vec![1, 2]);
    }

    #[test]
    fn plain_round_trip() {
        let v = [1.5f64, -2.0, 3.25];
        let bytes = plain_bytes(&v).to_vec();
        assert_eq!(bytes.len(), 24);
        let back: Vec<f64> = plain_vec_from_bytes(&bytes).unwrap();
        assert_eq!(back, v);
        assert!(plain_vec_from_bytes::<f64>(&bytes[..23]).is_err());
    }
}
