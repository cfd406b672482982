//! The collectives' framing: before its data, a rooted collective sends each
//! member one `u64` header, the number of bytes or elements coming, or a
//! [`Refusal`] code in its place when the root cannot send (so that every
//! member returns an error instead of waiting). A member reads the header
//! here before it makes a buffer of that size: a refusal is the root's
//! error, and a count no call could carry (over MPI's 2^31-element limit)
//! is refused as corrupt rather than allocated.

use super::{Refusal, MAX_COUNT};
use crate::error::{Error, Result};

/// The count a member was sent in `header` for collective `what` from
/// `root`, or the error it stands for.
pub(super) fn count(header: u64, what: &str, root: usize) -> Result<usize> {
    if let Some(r) = Refusal::from_code(header) {
        return Err(r.error(what, root));
    }
    if header > MAX_COUNT as u64 {
        return Err(Error::invalid(format!(
            "{what} from root {root}: a header announcing {header} items is over MPI's \
             2^31-element limit for one call (a corrupt message)"
        )));
    }
    Ok(header as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// Inputs per run; `RANKFLOW_FUZZ_INPUTS` sets more (the soak script).
    fn inputs() -> u64 {
        std::env::var("RANKFLOW_FUZZ_INPUTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000)
    }

    #[test]
    fn random_and_edge_headers_give_a_count_in_bounds_or_an_error() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut edges = vec![0, 1, MAX_COUNT as u64, MAX_COUNT as u64 + 1, u64::MAX];
        edges.extend((0..=17).map(|i| u64::MAX - i));
        let (mut counts, mut refused) = (0u64, 0u64);
        for i in 0..inputs() + edges.len() as u64 {
            let header = match edges.get(i as usize) {
                Some(&e) => e,
                None => {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Small counts, near the limit, and anything at all.
                    match x % 3 {
                        0 => x % 4096,
                        1 => MAX_COUNT as u64 - 8 + x % 16,
                        _ => x,
                    }
                }
            };
            match count(header, "bcast", 2) {
                Ok(n) => {
                    assert!(n <= MAX_COUNT, "{header} gave {n}");
                    assert_eq!(n as u64, header);
                    counts += 1;
                }
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
                    assert!(e.message().contains("bcast from root 2"), "{e}");
                    assert!(header > MAX_COUNT as u64, "{header} refused: {e}");
                    refused += 1;
                }
            }
        }
        assert!(
            counts > 0 && refused > 0,
            "{counts} counts, {refused} refused"
        );
        let e = count(Refusal::WrongCount.code(), "scatter", 0).unwrap_err();
        assert!(e.message().contains("different from the group size"), "{e}");
    }
}
