//! The two memory fractions: above `spill_fraction` of the memory limit a
//! worker writes its least recently used results to `local_directory`; above
//! `pause_fraction` it takes no new tasks until it is back below. The
//! defaults are dask.distributed's (0.6 and 0.8).

use crate::error::{Error, Result};

/// Default fraction of the memory limit above which results are spilled.
pub const DEFAULT_SPILL_FRACTION: f64 = 0.6;

/// Default fraction of the memory limit above which a worker pauses.
pub const DEFAULT_PAUSE_FRACTION: f64 = 0.8;

/// A fraction from the builder (`Some`) or from `var` in `env`, else
/// `default`; returns it with where it came from.
pub(super) fn resolve_fraction(
    name: &'static str,
    builder: Option<f64>,
    var: &'static str,
    env: &dyn Fn(&str) -> Option<String>,
    default: f64,
) -> Result<(f64, &'static str)> {
    let (value, from) = match (builder, env(var)) {
        (Some(f), _) => (f, "builder"),
        (None, Some(v)) => (parse_fraction(var, &v)?, var),
        (None, None) => (default, "default"),
    };
    if !(0.0..=1.0).contains(&value) {
        return Err(Error::config(format!(
            "{name} must be a fraction of the memory limit between 0 and 1, got {value}"
        )));
    }
    Ok((value, from))
}

/// Checks that spilling starts no later than pausing.
pub(super) fn check_order(spill: f64, pause: f64) -> Result<()> {
    if spill > pause {
        return Err(Error::config(format!(
            "spill_fraction ({spill}) is above pause_fraction ({pause}): a worker must \
             spill before it pauses"
        )));
    }
    Ok(())
}

fn parse_fraction(var: &str, v: &str) -> Result<f64> {
    match v.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(Error::config(format!(
            "{var}={v:?} is not a fraction between 0 and 1 (examples: 0.6, 0.85)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::collections::HashMap;

    fn resolve(config: Config, vars: &[(&str, &str)]) -> crate::Result<crate::config::Settings> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config.resolve_with(&move |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_dasks() {
        let s = resolve(Config::new(), &[]).unwrap();
        assert_eq!((s.spill_fraction, s.pause_fraction), (0.6, 0.8));
    }

    #[test]
    fn environment_then_builder() {
        let vars = [
            ("RANKFLOW_MEMORY_SPILL", "0.5"),
            ("RANKFLOW_MEMORY_PAUSE", " 0.9 "),
        ];
        let s = resolve(Config::new(), &vars).unwrap();
        assert_eq!((s.spill_fraction, s.pause_fraction), (0.5, 0.9));
        let from = |n: &str| s.sources.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        assert_eq!(from("spill_fraction"), "RANKFLOW_MEMORY_SPILL");
        let s = resolve(Config::new().spill_fraction(0.7), &vars).unwrap();
        assert_eq!(s.spill_fraction, 0.7);
    }

    #[test]
    fn bad_values_name_the_variable_and_the_value() {
        for (var, v) in [
            ("RANKFLOW_MEMORY_SPILL", "1.5"),
            ("RANKFLOW_MEMORY_SPILL", "-0.1"),
            ("RANKFLOW_MEMORY_PAUSE", "60%"),
            ("RANKFLOW_MEMORY_PAUSE", "NaN"),
            ("RANKFLOW_MEMORY_PAUSE", ""),
        ] {
            let e = resolve(Config::new(), &[(var, v)]).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config);
            assert!(e.message().contains(var), "{e}");
            assert!(e.message().contains(&format!("{v:?}")), "{e}");
        }
        for config in [
            Config::new().pause_fraction(2.0),
            Config::new().spill_fraction(f64::NAN),
        ] {
            let e = resolve(config, &[]).unwrap_err();
            assert!(e.message().contains("between 0 and 1"), "{e}");
        }
    }

    #[test]
    fn spilling_after_pausing_is_an_error() {
        let e = resolve(Config::new().spill_fraction(0.9), &[]).unwrap_err();
        assert!(e.message().contains("spill_fraction (0.9)"), "{e}");
        assert!(e.message().contains("pause_fraction (0.8)"), "{e}");
        let e = resolve(
            Config::new(),
            &[
                ("RANKFLOW_MEMORY_SPILL", "0.5"),
                ("RANKFLOW_MEMORY_PAUSE", "0.4"),
            ],
        )
        .unwrap_err();
        assert!(e.message().contains("must spill before it pauses"), "{e}");
        resolve(Config::new().spill_fraction(0.8), &[]).unwrap();
    }
}
