//! Word frequencies over generated text files: `read_text` (one partition
//! per file, half of them gzip-compressed), `flat_map` into words,
//! `frequencies`, checked against a serial count of the same text.
//!
//! ```text
//! mpirun -n 4 target/release/examples/wordcount [FILES] [LINES]   # FILES = 8, LINES = 20,000
//! ```
//!
//! The dask version:
//!
//! ```python
//! db.read_text('texts/*').map(str.split).flatten().frequencies().compute()
//! ```

use rankflow::{bag, Config, Error};
use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

const WORDS: [&str; 12] = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "mpi", "rank", "task", "bag",
];

/// Line `l` of file `f`: a few words picked by a simple hash.
fn line(f: usize, l: usize) -> String {
    let mut h = (f * 1_000_003 + l) as u64;
    let n = 3 + (l % 7);
    (0..n)
        .map(|_| {
            h = h
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            WORDS[((h >> 33) % WORDS.len() as u64) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn words(line: String) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let files: usize = args
        .next()
        .map_or(8, |a| a.parse().expect("FILES is a whole number"));
    let lines: usize = args
        .next()
        .map_or(20_000, |a| a.parse().expect("LINES is a whole number"));

    // After initialize: only the client writes the files.
    let client = rankflow::initialize(Config::new())?;
    let dir = std::env::temp_dir().join(format!("rankflow-wordcount-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let mut serial: HashMap<String, u64> = HashMap::new();
    for f in 0..files {
        let gz = f % 2 == 1;
        let path = dir.join(format!("text.{f}.txt{}", if gz { ".gz" } else { "" }));
        let file = std::fs::File::create(&path).expect("a text file");
        let mut out: Box<dyn Write> = if gz {
            Box::new(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::fast(),
            ))
        } else {
            Box::new(std::io::BufWriter::new(file))
        };
        for l in 0..lines {
            let text = line(f, l);
            for w in text.split_whitespace() {
                *serial.entry(w.to_string()).or_insert(0) += 1;
            }
            writeln!(out, "{text}").expect("writing a text file");
        }
        out.flush().expect("writing a text file");
    }

    let start = Instant::now();
    let pattern = dir.join("text.*");
    let counts = bag::read_text(pattern.to_str().expect("a UTF-8 path"))?
        .flat_map(words)
        .frequencies()
        .compute(&client)?;
    let cluster = start.elapsed();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(counts, serial, "cluster and serial word counts differ");
    println!(
        "wordcount: files={files} lines={lines} words={} distinct={} cluster={:.3}s: ok",
        counts.values().sum::<u64>(),
        counts.len(),
        cluster.as_secs_f64()
    );
    client.shutdown()
}
