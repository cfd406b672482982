//! The catalogue of bad input (`docs/bad-input.md`) names a test for every
//! row: each named test must exist, so that the page cannot point at a test
//! that was renamed or removed.

use std::path::Path;

const PAGE: &str = include_str!("../docs/bad-input.md");

/// Every `path.rs::name` the page names.
fn named_tests() -> Vec<(String, String)> {
    PAGE.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|quoted| {
            let (file, name) = quoted.split_once(".rs::")?;
            Some((format!("{file}.rs"), name.to_string()))
        })
        .collect()
}

#[test]
fn the_catalogue_has_at_least_25_rows_each_with_a_test() {
    let rows: Vec<&str> = PAGE
        .lines()
        .filter(|l| {
            l.strip_prefix("| ")
                .and_then(|r| r.split(' ').next())
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .collect();
    assert!(rows.len() >= 25, "{} rows", rows.len());
    for row in rows {
        assert!(row.contains(".rs::"), "a row without a test: {row}");
    }
}

#[test]
fn every_test_the_catalogue_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let named = named_tests();
    assert!(named.len() >= 25, "{named:?}");
    for (file, name) in named {
        let text = std::fs::read_to_string(root.join(&file))
            .unwrap_or_else(|e| panic!("{file} (named for {name}): {e}"));
        let defined = [format!("fn {name}("), format!("fn {name}<")]
            .iter()
            .any(|d| text.contains(d.as_str()));
        assert!(defined, "{file} has no fn {name}");
    }
}
