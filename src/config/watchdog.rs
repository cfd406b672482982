//! The scheduler's watchdog time (see `scheduler::watchdog`): off unless
//! set, as a stuck worker cannot be told from a long `run` function without
//! knowing how long those take (SPMD sections and broadcasts send beats).

use crate::error::{Error, Result};
use std::time::Duration;

/// Longest watchdog time accepted: a day.
const MAX_SECONDS: f64 = 86_400.0;

/// The watchdog from the builder or `RANKFLOW_WATCHDOG` (seconds, or `off`),
/// with where it came from.
pub(super) fn resolve(
    builder: Option<Option<Duration>>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Option<Duration>, &'static str)> {
    const VAR: &str = "RANKFLOW_WATCHDOG";
    match (builder, env(VAR)) {
        (Some(Some(d)), _) if d.is_zero() => Err(Error::config(
            "watchdog must be longer than 0 s (None turns it off)",
        )),
        (Some(Some(d)), _) if d.as_secs_f64() > MAX_SECONDS => Err(Error::config(format!(
            "watchdog of {} s is longer than the {MAX_SECONDS} s allowed",
            d.as_secs_f64()
        ))),
        (Some(d), _) => Ok((d, "builder")),
        (None, Some(v)) => {
            let t = v.trim().to_ascii_lowercase();
            if t == "off" {
                return Ok((None, VAR));
            }
            match t.parse::<f64>() {
                Ok(s) if s > 0.0 && s <= MAX_SECONDS => Ok((Some(Duration::from_secs_f64(s)), VAR)),
                _ => Err(Error::config(format!(
                    "{VAR}={v:?} is not a time in seconds between 0 and {MAX_SECONDS} \
                     (examples: 30, 2.5) or off"
                ))),
            }
        }
        (None, None) => Ok((None, "default")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: &'static str) -> impl Fn(&str) -> Option<String> {
        move |k| (k == "RANKFLOW_WATCHDOG").then(|| v.to_string())
    }

    #[test]
    fn off_by_default_seconds_or_off_from_the_environment() {
        assert_eq!(resolve(None, &|_| None).unwrap(), (None, "default"));
        let (d, _) = resolve(None, &env("2.5")).unwrap();
        assert_eq!(d, Some(Duration::from_millis(2500)));
        assert_eq!(resolve(None, &env(" OFF ")).unwrap().0, None);
        let builder = Some(Some(Duration::from_secs(3)));
        assert_eq!(
            resolve(builder, &env("off")).unwrap().0,
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn bad_values_are_errors_naming_them() {
        for v in ["0", "-1", "soon", "1e9", "NaN", ""] {
            let e = resolve(None, &env(v)).unwrap_err();
            assert!(
                e.message().contains(&format!("RANKFLOW_WATCHDOG={v:?}")),
                "{e}"
            );
        }
        assert!(resolve(Some(Some(Duration::ZERO)), &|_| None).is_err());
        let e = resolve(Some(Some(Duration::MAX)), &|_| None).unwrap_err();
        assert!(e.message().contains("longer than"), "{e}");
    }
}
