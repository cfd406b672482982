//! Checks of each job-script field, with messages that name the field.

use crate::{Error, ErrorKind, Result};

pub(super) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

pub(super) fn check_no_newline(what: &str, value: &str) -> Result<()> {
    if value.contains(['\n', '\r']) {
        return Err(invalid(format!(
            "{what} {value:?} contains a line break, which would end the directive line"
        )));
    }
    Ok(())
}

pub(super) fn check_job_name(name: &str) -> Result<()> {
    check_no_newline("job name", name)?;
    if name.is_empty() {
        return Err(invalid("job name is empty"));
    }
    if name.contains(char::is_whitespace) {
        return Err(invalid(format!("job name {name:?} contains whitespace")));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "_.-+".contains(c)))
    {
        return Err(invalid(format!(
            "job name {name:?} contains {c:?}; use only letters, digits, '_', '.', '-' and '+'"
        )));
    }
    Ok(())
}

pub(super) fn check_directive_value(what: &str, value: &str) -> Result<()> {
    check_no_newline(what, value)?;
    if value.is_empty() {
        return Err(invalid(format!("{what} is empty")));
    }
    if value.contains(char::is_whitespace) {
        return Err(invalid(format!("{what} {value:?} contains whitespace")));
    }
    if let Some(c) = value
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "_.-+@:,/=%".contains(c)))
    {
        return Err(invalid(format!(
            "{what} {value:?} contains {c:?}; use only letters, digits and '_.-+@:,/=%'"
        )));
    }
    Ok(())
}

pub(super) fn check_command(command: &[String]) -> Result<()> {
    let Some(program) = command.first() else {
        return Err(invalid(
            "the command to run is empty; give a program and its arguments",
        ));
    };
    if program.is_empty() {
        return Err(invalid("the program name in the command is empty"));
    }
    for word in command {
        check_no_newline("command word", word)?;
        if word.contains('\0') {
            return Err(invalid(format!(
                "command word {word:?} contains a NUL byte"
            )));
        }
    }
    Ok(())
}

/// Parses `H+:MM:SS` into seconds; zero is rejected.
pub(super) fn parse_time(time: &str) -> Result<u64> {
    check_no_newline("time", time)?;
    let bad = || {
        invalid(format!(
            "time {time:?} is not H:MM:SS (hours, then minutes and seconds as two digits below 60, e.g. 01:30:00)"
        ))
    };
    let parts: Vec<&str> = time.split(':').collect();
    let [h, m, s] = parts.as_slice() else {
        return Err(bad());
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || m.len() != 2 || s.len() != 2 || !digits(m) || !digits(s) {
        return Err(bad());
    }
    let hours: u64 = h
        .parse()
        .ok()
        .filter(|&h| h <= 1_000_000)
        .ok_or_else(|| invalid(format!("time {time:?} has too many hours")))?;
    let minutes: u64 = m.parse().map_err(|_| bad())?;
    let seconds: u64 = s.parse().map_err(|_| bad())?;
    if minutes >= 60 || seconds >= 60 {
        return Err(bad());
    }
    let total = hours * 3600 + minutes * 60 + seconds;
    if total == 0 {
        return Err(invalid(format!(
            "time {time:?} is zero; give a positive wall time"
        )));
    }
    Ok(total)
}

/// Parses memory such as `4G`, `512MB` or `2048` (megabytes) into KiB.
pub(super) fn parse_memory(memory: &str) -> Result<u64> {
    check_no_newline("memory", memory)?;
    let bytes = crate::config::parse_size(memory, 1 << 20).map_err(|why| {
        invalid(format!(
            "memory {memory:?} is not a whole number with an optional unit K, M, G or T \
             (e.g. 4G, 512M): {why}"
        ))
    })?;
    if bytes == 0 {
        return Err(invalid(format!("memory {memory:?} is zero")));
    }
    if bytes % 1024 != 0 {
        return Err(invalid(format!(
            "memory {memory:?} is not a whole number of KiB, the smallest unit batch systems take"
        )));
    }
    Ok(bytes / 1024)
}
