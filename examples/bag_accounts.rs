//! dask.bag's accounts tutorial: JSON-lines files `accounts.N.json.gz` of
//! records with an id, a name, an amount and a list of transactions are
//! generated into a temporary directory, read back with `read_json`, then
//! counted by name with `foldby`, totalled by name with `groupby` (a
//! shuffle), the ten largest amounts taken with `topk`, and the accounts
//! with a positive amount written with `to_textfiles` and read again.
//! Every figure is checked against a serial computation.
//!
//! ```text
//! mpirun -n 4 target/release/examples/bag_accounts [FILES] [RECORDS]   # FILES = 3, RECORDS = 10,000 per file
//! ```
//!
//! The dask version:
//!
//! ```python
//! b = db.read_text('data/accounts.*.json.gz').map(json.loads)
//! b.foldby('name', lambda n, x: n + 1, 0, lambda a, b: a + b, 0).compute()
//! b.groupby('name').map(lambda kv: (kv[0], sum(x['amount'] for x in kv[1]))).compute()
//! b.pluck('amount').topk(10).compute()
//! b.filter(lambda r: r['amount'] > 0).map(json.dumps).to_textfiles('out/*.json.gz')
//! ```

use rankflow::{bag, Config, Error};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Transaction {
    transaction_id: u64,
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Account {
    id: u64,
    name: String,
    amount: i64,
    transactions: Vec<Transaction>,
}

const NAMES: [&str; 8] = [
    "Alice", "Bob", "Charlie", "Dan", "Edith", "Frank", "Gina", "Hannah",
];

fn account(file: u64, i: u64) -> Account {
    let mut h = (file << 32 | i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut next = || {
        h ^= h >> 29;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h
    };
    let name = NAMES[(next() % NAMES.len() as u64) as usize].to_string();
    let transactions = (0..next() % 4)
        .map(|t| Transaction {
            transaction_id: i * 10 + t,
            amount: (next() % 2000) as i64 - 1000,
        })
        .collect();
    Account {
        id: file * 1_000_000 + i,
        name,
        amount: (next() % 10_000) as i64 - 2_000,
        transactions,
    }
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let files: u64 = args
        .next()
        .map_or(3, |a| a.parse().expect("FILES is a whole number"));
    let records: u64 = args
        .next()
        .map_or(10_000, |a| a.parse().expect("RECORDS is a whole number"));

    let client = rankflow::initialize(Config::new())?;
    let dir = std::env::temp_dir().join(format!("rankflow-accounts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let mut all = Vec::new();
    for f in 0..files {
        let file = std::fs::File::create(dir.join(format!("accounts.{f}.json.gz")))
            .expect("an accounts file");
        let mut out = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        for i in 0..records {
            let a = account(f, i);
            writeln!(out, "{}", serde_json::to_string(&a).expect("JSON")).expect("writing");
            all.push(a);
        }
        out.finish().expect("writing an accounts file");
    }

    let pattern = dir.join("accounts.*.json.gz");
    let b = bag::read_json::<Account>(pattern.to_str().expect("a UTF-8 path"))?;

    // Count by name with foldby (no shuffle).
    let counts = b
        .foldby(
            |a: &Account| a.name.clone(),
            0u64,
            |n, _| n + 1,
            |x, y| x + y,
        )
        .compute(&client)?;
    let mut serial_counts: HashMap<String, u64> = HashMap::new();
    for a in &all {
        *serial_counts.entry(a.name.clone()).or_insert(0) += 1;
    }
    assert_eq!(counts, serial_counts, "counts by name");

    // Total amount by name with groupby (a full shuffle).
    let grouped = b.groupby(|a: &Account| a.name.clone());
    let totals: HashMap<String, i64> = grouped
        .map(|(name, accounts): (String, Vec<Account>)| {
            (name, accounts.iter().map(|a| a.amount).sum::<i64>())
        })
        .compute(&client)?
        .into_iter()
        .collect();
    let mut serial_totals: HashMap<String, i64> = HashMap::new();
    for a in &all {
        *serial_totals.entry(a.name.clone()).or_insert(0) += a.amount;
    }
    assert_eq!(totals, serial_totals, "totals by name");
    let moved = grouped.shuffled_bytes();

    // The ten largest amounts.
    let top = b
        .map(|a: Account| a.amount)
        .topk(10, |x| *x)
        .compute(&client)?;
    let mut amounts: Vec<i64> = all.iter().map(|a| a.amount).collect();
    amounts.sort_by(|x, y| y.cmp(x));
    assert_eq!(top, amounts[..10], "top 10 amounts");

    // Write the positive accounts and read them back.
    let out = dir.join("out/*.json.gz");
    let written = b
        .filter(|a: &Account| a.amount > 0)
        .map(|a: Account| serde_json::to_string(&a).expect("JSON"))
        .to_textfiles(&client, out.to_str().expect("a UTF-8 path"))?;
    let positive: Vec<Account> = all.iter().filter(|a| a.amount > 0).cloned().collect();
    assert_eq!(
        written.iter().map(|(_, n)| n).sum::<u64>(),
        positive.len() as u64
    );
    let back = bag::read_json::<Account>(out.to_str().expect("a UTF-8 path"))?.compute(&client)?;
    assert_eq!(back, positive, "written and read again");

    std::fs::remove_dir_all(&dir).ok();
    println!(
        "bag_accounts: files={files} records={} names={} shuffled {moved} bytes \
         ({:.1} per record) written={}: ok",
        all.len(),
        counts.len(),
        moved as f64 / all.len() as f64,
        positive.len()
    );
    client.shutdown()
}
