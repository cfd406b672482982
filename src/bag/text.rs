//! Text files: [`read_text`] and [`read_json`] (one partition per file,
//! `.gz` decompressed transparently) and [`Bag::to_textfiles`] (one file
//! per partition, gzip when the name ends in `.gz`).
//!
//! Files are opened by the worker that runs the partition's task, so under
//! mpirun every worker must see the same paths (a shared file system, as
//! on any cluster). The glob is expanded at the client: `*` and `?` in the
//! file name part of the pattern (not in directories).

use super::step::{self, boxed_vec, items, state, take, Part, StageDef};
use super::{bag_from, step_error, Bag, Input};
use crate::delayed;
use crate::{Client, Error, ErrorKind, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::fmt::Display;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// How [`read_json_with`] treats a line that does not parse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOptions {
    skip_bad_records: bool,
}

impl ReadOptions {
    /// Fail on the first bad record (the default).
    pub fn new() -> Self {
        Self::default()
    }

    /// `true`: leave out lines that do not parse as the requested type
    /// (and blank lines) instead of failing; a corrupt `.gz` file still
    /// fails.
    pub fn skip_bad_records(mut self, skip: bool) -> Self {
        self.skip_bad_records = skip;
        self
    }
}

/// Whether `name` matches `pattern`, where `*` is any run of characters and
/// `?` any one character.
fn matches(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| matches(rest, &name[i..])),
        Some(('?', rest)) => !name.is_empty() && matches(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && matches(rest, &name[1..]),
    }
}

/// The files matching `pattern`, sorted; an error naming the pattern when
/// none does.
pub(crate) fn expand(pattern: &str) -> Result<Vec<PathBuf>> {
    let path = Path::new(pattern);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name: Vec<char> = path
        .file_name()
        .map(|n| n.to_string_lossy().chars().collect())
        .unwrap_or_default();
    let mut found: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .filter(|e| {
                let n: Vec<char> = e.file_name().to_string_lossy().chars().collect();
                matches(&name, &n)
            })
            .map(|e| dir.join(e.file_name()))
            .collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    if found.is_empty() {
        return Err(Error::new(
            ErrorKind::Io,
            format!("no file matches {pattern:?}"),
        ));
    }
    Ok(found)
}

/// The partition inputs for `files`: each file's path and the options.
fn inputs(files: &[PathBuf], options: ReadOptions) -> Result<Vec<Input>> {
    files
        .iter()
        .map(|f| {
            step::encode(&(f.to_string_lossy().into_owned(), options))
                .map(Input::Bytes)
                .map_err(Error::invalid)
        })
        .collect()
}

/// A bag of the lines (without their line ends) of the files matching
/// `pattern`, one partition per file, in file-name order (dask's
/// `read_text`). Files ending in `.gz` are decompressed. A glob that
/// matches nothing is an error naming it; a corrupt `.gz` file or a line
/// that is not UTF-8 fails the compute with the file and line.
pub fn read_text(pattern: &str) -> Result<Bag<String>> {
    let files = expand(pattern)?;
    Ok(bag_from(
        inputs(&files, ReadOptions::new())?,
        StageDef::new(lines_source, "read_text"),
    ))
}

/// A bag of `T`s read from JSON lines (one JSON value per line) of the
/// files matching `pattern`, as `read_text(pattern).map(json.loads)` in
/// dask. A line that does not parse fails the compute with the file, the
/// line number and serde_json's message.
pub fn read_json<T: DeserializeOwned + Serialize + 'static>(pattern: &str) -> Result<Bag<T>> {
    read_json_with(pattern, ReadOptions::new())
}

/// [`read_json`] with options, e.g. skipping bad records.
pub fn read_json_with<T: DeserializeOwned + Serialize + 'static>(
    pattern: &str,
    options: ReadOptions,
) -> Result<Bag<T>> {
    let files = expand(pattern)?;
    Ok(bag_from(
        inputs(&files, options)?,
        StageDef::new(json_source::<T>, "read_json"),
    ))
}

/// Calls `each(line number, line)` for every line of `path`, decompressing
/// `.gz`.
fn for_each_line(
    path: &str,
    mut each: impl FnMut(usize, String) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
    let reader: Box<dyn Read> = if path.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut number = 0;
    loop {
        let mut buf = Vec::new();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| {
            format!(
                "cannot read {path} at line {}: {e} (corrupt or truncated file?)",
                number + 1
            )
        })?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let line = String::from_utf8(buf)
            .map_err(|_| format!("{path}, line {number}: not valid UTF-8"))?;
        each(number, line)?;
    }
}

fn lines_source(v: Box<dyn Any>, _: &[u8]) -> std::result::Result<Box<dyn Any>, String> {
    let part: Part = take(v, "read_text")?;
    let (path, _): (String, ReadOptions) = step::decode(&part)?;
    let mut lines = Vec::new();
    for_each_line(&path, |_, line| {
        lines.push(line);
        Ok(())
    })?;
    Ok(boxed_vec(lines))
}

fn json_source<T: DeserializeOwned + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> std::result::Result<Box<dyn Any>, String> {
    let part: Part = take(v, "read_json")?;
    let (path, options): (String, ReadOptions) = step::decode(&part)?;
    let mut records = Vec::new();
    for_each_line(&path, |number, line| {
        match serde_json::from_str::<T>(&line) {
            Ok(r) => records.push(r),
            Err(_) if options.skip_bad_records => {}
            Err(_) if line.trim().is_empty() => {}
            Err(e) => {
                return Err(format!(
                    "{path}, line {number}: does not parse as {}: {e}",
                    std::any::type_name::<T>()
                ))
            }
        }
        Ok(())
    })?;
    Ok(boxed_vec(records))
}

/// Writes the records, one per line, to the path in the state; gzip when
/// it ends in `.gz`. Writes to a temporary name first, so a file is either
/// whole or absent. Leaves the number of records written.
fn write_step<T: Display + 'static>(
    v: Box<dyn Any>,
    st: &[u8],
) -> std::result::Result<Box<dyn Any>, String> {
    let path: String = state(st)?;
    let tmp = format!("{path}.part");
    let fail = |e: std::io::Error| format!("cannot write {path}: {e}");
    let file = std::fs::File::create(&tmp).map_err(fail)?;
    let mut out: Box<dyn Write> = if path.ends_with(".gz") {
        Box::new(flate2::write::GzEncoder::new(
            std::io::BufWriter::new(file),
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(std::io::BufWriter::new(file))
    };
    let mut n = 0u64;
    for x in items::<T>(v)? {
        writeln!(out, "{x}").map_err(fail)?;
        n += 1;
    }
    out.flush().map_err(fail)?;
    drop(out);
    std::fs::rename(&tmp, &path).map_err(fail)?;
    Ok(Box::new(n))
}

/// The file name for partition `i`: `pattern` with its `*` replaced by `i`.
fn name_for(pattern: &str, i: usize) -> String {
    pattern.replacen('*', &i.to_string(), 1)
}

impl<T: Display + 'static> Bag<T> {
    /// Writes each partition to a text file, one record per line (its
    /// `Display`), gzip-compressed when the name ends in `.gz` (dask's
    /// `to_textfiles`). `pattern` has one `*`, replaced by the partition
    /// number (`out/*.json.gz`). Runs at once and returns the paths and
    /// record counts. The directory is created if missing; an unwritable
    /// path is an error naming it, and on any failure the call returns an
    /// error (files of partitions that succeeded may remain, each complete).
    pub fn to_textfiles(&self, client: &Client, pattern: &str) -> Result<Vec<(PathBuf, u64)>> {
        if pattern.matches('*').count() != 1 {
            return Err(Error::invalid(format!(
                "to_textfiles: the pattern {pattern:?} must have exactly one '*', \
                 replaced by the partition number"
            )));
        }
        let io = |what: String| Error::new(ErrorKind::Io, what);
        if let Some(dir) = Path::new(pattern)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| io(format!("cannot create {}: {e}", dir.display())))?;
        }
        let tail = |i: usize| {
            vec![
                StageDef::with(write_step::<T>, &name_for(pattern, i), "to_textfiles"),
                StageDef::new(step::encode_step::<u64>, "encode"),
            ]
        };
        let parts = self.lower(Some(client), &tail)?;
        let done = delayed::compute(client, &parts).map_err(|e| {
            if e.message().contains("cannot write") {
                io(e.message().to_string())
            } else {
                e
            }
        })?;
        done.iter()
            .enumerate()
            .map(|(i, p)| {
                let n: u64 = step::decode(p).map_err(step_error)?;
                Ok((PathBuf::from(name_for(pattern, i)), n))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        let p: Vec<char> = p.chars().collect();
        let n: Vec<char> = n.chars().collect();
        matches(&p, &n)
    }

    #[test]
    fn globs_match_stars_and_question_marks() {
        assert!(m("accounts.*.json.gz", "accounts.12.json.gz"));
        assert!(!m("accounts.*.json.gz", "accounts.12.json"));
        assert!(m("a?c", "abc") && !m("a?c", "ac"));
        assert!(m("*", "") && m("x", "x") && !m("x", "y"));
    }

    #[test]
    fn names_replace_the_star() {
        assert_eq!(name_for("out/*.txt.gz", 3), "out/3.txt.gz");
    }
}
