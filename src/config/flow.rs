//! The transport's flow settings (see `comm::flow`): the send window per
//! destination, in bytes and in messages, and the size of the pieces large
//! payloads cross MPI in.

use super::{parse_bytes, parse_count};
use crate::comm::flow::{
    Limits, DEFAULT_PIECE_BYTES, DEFAULT_WINDOW_BYTES, DEFAULT_WINDOW_MESSAGES, MAX_PIECE_BYTES,
    MIN_PIECE_BYTES,
};
use crate::error::{Error, Result};

/// The builder's values, if set.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Builder {
    pub window_bytes: Option<usize>,
    pub window_messages: Option<usize>,
    pub piece_bytes: Option<usize>,
}

/// Resolves the three settings, recording where each came from in `sources`.
pub(super) fn resolve(
    builder: Builder,
    env: &dyn Fn(&str) -> Option<String>,
    sources: &mut Vec<(&'static str, String)>,
) -> Result<Limits> {
    let window_bytes = bytes(
        "send_window_bytes",
        builder.window_bytes,
        "RANKFLOW_SEND_WINDOW",
        DEFAULT_WINDOW_BYTES,
        env,
        sources,
    )?;
    if window_bytes == 0 {
        return Err(Error::config(
            "send_window_bytes (RANKFLOW_SEND_WINDOW) must be at least 1 byte (a send to an empty window always goes, \
             whatever its size), got 0",
        ));
    }
    let window_messages =
        match (
            builder.window_messages,
            env("RANKFLOW_SEND_WINDOW_MESSAGES"),
        ) {
            (Some(0), _) => return Err(Error::config(
                "send_window_messages (RANKFLOW_SEND_WINDOW_MESSAGES) must be at least 1, got 0",
            )),
            (Some(n), _) => {
                sources.push(("send_window_messages", "builder".to_string()));
                n
            }
            (None, Some(v)) => {
                sources.push((
                    "send_window_messages",
                    "RANKFLOW_SEND_WINDOW_MESSAGES".to_string(),
                ));
                parse_count("RANKFLOW_SEND_WINDOW_MESSAGES", &v)?
            }
            (None, None) => {
                sources.push(("send_window_messages", "default".to_string()));
                DEFAULT_WINDOW_MESSAGES
            }
        };
    let piece_bytes = bytes(
        "piece_bytes",
        builder.piece_bytes,
        "RANKFLOW_PIECE_SIZE",
        DEFAULT_PIECE_BYTES,
        env,
        sources,
    )?;
    if !(MIN_PIECE_BYTES..=MAX_PIECE_BYTES).contains(&piece_bytes) {
        return Err(Error::config(format!(
            "piece_bytes (RANKFLOW_PIECE_SIZE) must be between {MIN_PIECE_BYTES} and {MAX_PIECE_BYTES} bytes \
             (a piece is one MPI message, whose count is 32-bit), got {piece_bytes}"
        )));
    }
    Ok(Limits {
        window_bytes,
        window_messages,
        piece_bytes,
        ..Limits::default()
    })
}

/// A byte size from the builder, else `var`, else `default`.
fn bytes(
    name: &'static str,
    builder: Option<usize>,
    var: &'static str,
    default: usize,
    env: &dyn Fn(&str) -> Option<String>,
    sources: &mut Vec<(&'static str, String)>,
) -> Result<usize> {
    match (builder, env(var)) {
        (Some(n), _) => {
            sources.push((name, "builder".to_string()));
            Ok(n)
        }
        (None, Some(v)) => {
            sources.push((name, var.to_string()));
            let b = parse_bytes(var, &v)?;
            usize::try_from(b)
                .map_err(|_| Error::config(format!("{var}={v:?} does not fit in memory")))
        }
        (None, None) => {
            sources.push((name, "default".to_string()));
            Ok(default)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_env(vars: &'static [(&'static str, &'static str)]) -> Result<Limits> {
        let env = move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        resolve(Builder::default(), &env, &mut Vec::new())
    }

    #[test]
    fn defaults_environment_and_builder() {
        assert_eq!(from_env(&[]).unwrap(), Limits::default());
        let l = from_env(&[
            ("RANKFLOW_SEND_WINDOW", "8MiB"),
            ("RANKFLOW_SEND_WINDOW_MESSAGES", "16"),
            ("RANKFLOW_PIECE_SIZE", "64KiB"),
        ])
        .unwrap();
        assert_eq!(
            (l.window_bytes, l.window_messages, l.piece_bytes),
            (8 << 20, 16, 64 << 10)
        );
        let builder = Builder {
            window_bytes: Some(1000),
            window_messages: Some(3),
            piece_bytes: Some(4096),
        };
        let mut sources = Vec::new();
        let env = |_: &str| Some("junk".to_string());
        let l = resolve(builder, &env, &mut sources).unwrap();
        assert_eq!(
            (l.window_bytes, l.window_messages, l.piece_bytes),
            (1000, 3, 4096)
        );
        assert!(sources.iter().all(|(_, from)| from == "builder"));
    }

    #[test]
    fn bad_values_name_the_variable_and_the_value() {
        for (var, value, says) in [
            ("RANKFLOW_SEND_WINDOW", "lots", "lots"),
            ("RANKFLOW_SEND_WINDOW", "0", "at least 1 byte"),
            ("RANKFLOW_SEND_WINDOW_MESSAGES", "0", "\"0\""),
            ("RANKFLOW_SEND_WINDOW_MESSAGES", "-3", "-3"),
            ("RANKFLOW_PIECE_SIZE", "12", "between 1024"),
            ("RANKFLOW_PIECE_SIZE", "4GiB", "between 1024"),
            ("RANKFLOW_PIECE_SIZE", "1.5MB", "1.5MB"),
        ] {
            let env = move |k: &str| (k == var).then(|| value.to_string());
            let err = resolve(Builder::default(), &env, &mut Vec::new())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(says) && err.contains(var),
                "{var}={value}: {err}"
            );
        }
        let zero = Builder {
            window_messages: Some(0),
            ..Builder::default()
        };
        assert!(resolve(zero, &|_| None, &mut Vec::new()).is_err());
    }
}
