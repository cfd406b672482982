use super::*;

fn policy(limit: u64, dir: &std::path::Path) -> MemoryPolicy {
    MemoryPolicy {
        limit,
        spill_fraction: 0.5,
        pause_fraction: 0.8,
        directory: dir.to_path_buf(),
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rankflow-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The spill file of `key`'s entry now held.
fn file_of(s: &Store, key: Key) -> PathBuf {
    let serial = s.lock().entries[&key].serial;
    s.dir.file(key, serial)
}

fn value(k: u64, len: usize) -> Arc<Vec<u8>> {
    Arc::new((0..len).map(|i| (i as u64 * 31 + k) as u8).collect())
}

#[test]
fn counts_bytes_in_and_out() {
    let dir = scratch("count");
    let s = Store::new(2, policy(1000, &dir));
    s.put(Key(1), value(1, 100));
    s.put(Key(2), value(2, 200));
    assert_eq!(s.stats().in_memory, 300);
    s.put(Key(1), value(1, 50));
    assert_eq!(s.stats().in_memory, 250);
    s.free(Key(2));
    s.free(Key(9));
    assert_eq!(s.stats().in_memory, 50);
    assert_eq!(s.summary(), (1, 50));
    assert_eq!(s.stats().peak_in_memory, 300);
    assert_eq!(s.stats().spilled, 0);
}

#[test]
fn spills_the_least_recently_used_and_reads_them_back() {
    let dir = scratch("lru");
    let s = Store::new(3, policy(1000, &dir));
    for k in 0..4 {
        s.put(Key(k), value(k, 150));
    }
    // 600 bytes is over 500: key 0, the oldest, went to disk.
    let st = s.stats();
    assert_eq!((st.spilled, st.in_memory, st.on_disk), (1, 450, 150));
    // Touch key 1 so key 2 is now the least recently used.
    drop(s.get(Key(1)));
    s.put(Key(4), value(4, 150));
    let spilled_dir = s.spill_dir();
    assert!(file_of(&s, Key(2)).exists());
    assert!(!file_of(&s, Key(1)).exists());
    assert!(s.contains(Key(0)) && s.contains(Key(2)));
    // Every value comes back right, spilled or not.
    for k in 0..5 {
        assert_eq!(s.get(Key(k)).unwrap(), value(k, 150), "key {k}");
    }
    let st = s.stats();
    assert!(st.reloaded >= 2, "{st:?}");
    assert_eq!(st.reloaded_bytes, st.reloaded * 150);
    assert!(st.in_memory <= 500, "{st:?}");
    assert_eq!(st.in_memory + st.on_disk, 750);
    assert_eq!(s.summary(), (5, 750));
    s.close();
    assert!(
        !spilled_dir.exists(),
        "the spill directory is removed at close"
    );
}

#[test]
fn a_value_in_use_is_not_spilled_and_memory_can_pass_the_pause_fraction() {
    let dir = scratch("pinned");
    let s = Store::new(2, policy(1000, &dir));
    let held: Vec<_> = (0..6).map(|k| value(k, 150)).collect();
    for (k, v) in held.iter().enumerate() {
        s.put(Key(k as u64), v.clone());
    }
    assert_eq!(s.stats().spilled, 0);
    assert!(s.over_pause(), "{:?}", s.stats());
    drop(held);
    s.relieve();
    assert!(!s.over_pause());
    assert!(s.stats().in_memory <= 500);
    for k in 0..6 {
        assert_eq!(s.get(Key(k)).unwrap(), value(k, 150));
    }
}

#[test]
fn freeing_a_spilled_value_removes_its_file() {
    let dir = scratch("free");
    let s = Store::new(4, policy(100, &dir));
    s.put(Key(7), value(7, 80));
    let st = s.stats();
    assert_eq!((st.spilled, st.on_disk, st.in_memory), (1, 80, 0));
    let file = file_of(&s, Key(7));
    assert!(file.exists());
    s.free(Key(7));
    assert!(!file.exists());
    assert_eq!(s.summary(), (0, 0));
}

#[test]
fn a_spill_that_cannot_be_written_keeps_the_value_in_memory() {
    // A directory under a plain file cannot be made.
    let dir = scratch("fail").join("a-file");
    std::fs::write(&dir, b"x").unwrap();
    let s = Store::new(2, policy(100, &dir));
    for k in 0..3 {
        s.put(Key(k), value(k, 60));
    }
    let st = s.stats();
    assert_eq!(st.spilled, 0);
    assert!(st.spill_failures >= 2, "{st:?}");
    assert_eq!(st.in_memory, 180);
    assert!(s.over_pause());
    for k in 0..3 {
        assert_eq!(s.get(Key(k)).unwrap(), value(k, 60));
    }
}

#[test]
fn a_spilled_file_that_went_missing_is_reported_as_not_held() {
    let dir = scratch("missing");
    let s = Store::new(5, policy(100, &dir));
    s.put(Key(3), value(3, 90));
    assert_eq!(s.stats().spilled, 1);
    std::fs::remove_dir_all(s.spill_dir()).unwrap();
    assert!(!s.lost(Key(3)), "not lost before anyone asked");
    assert!(s.get(Key(3)).is_none());
    assert!(!s.contains(Key(3)));
    assert!(s.lost(Key(3)), "lost, so a fetch is answered Gone");
    assert_eq!(s.summary(), (0, 0));
    s.free(Key(3));
    assert!(!s.lost(Key(3)), "freed: forgotten");
}

#[test]
fn two_stores_of_one_rank_in_one_process_spill_to_different_directories() {
    let dir = scratch("two");
    let (a, b) = (
        Store::new(7, policy(100, &dir)),
        Store::new(7, policy(100, &dir)),
    );
    a.put(Key(1), value(1, 90));
    b.put(Key(1), value(2, 90));
    assert_ne!(a.spill_dir(), b.spill_dir());
    assert_eq!(a.get(Key(1)).unwrap(), value(1, 90));
    assert_eq!(b.get(Key(1)).unwrap(), value(2, 90));
}

#[test]
fn unlimited_never_spills_or_pauses() {
    let s = Store::default();
    for k in 0..100 {
        s.put(Key(k), value(k, 1000));
    }
    assert_eq!(s.stats().spilled, 0);
    assert!(!s.over_pause());
}

#[test]
fn a_result_read_back_and_spilled_again_is_not_written_twice() {
    let dir = scratch("rewrite");
    let s = Store::new(6, policy(100, &dir));
    s.put(Key(1), value(1, 40));
    s.put(Key(2), value(2, 40));
    // 80 bytes over 50: key 1 was written.
    assert_eq!((s.stats().spilled, s.stats().written_bytes), (1, 40));
    assert_eq!(s.get(Key(1)).unwrap(), value(1, 40));
    // Reading key 1 back pushed key 2 out; then key 1 goes out again.
    s.put(Key(3), value(3, 10));
    s.put(Key(4), value(4, 10));
    let st = s.stats();
    assert_eq!((st.spilled, st.spilled_bytes), (3, 120), "{st:?}");
    assert_eq!(st.written_bytes, 80, "key 1's file was still there: {st:?}");
    for k in 1..=4 {
        assert_eq!(
            s.get(Key(k)).unwrap(),
            value(k, if k > 2 { 10 } else { 40 })
        );
    }
    let file = file_of(&s, Key(1));
    assert!(file.exists());
    s.free(Key(1));
    assert!(
        !file.exists(),
        "freeing removes the file of a result read back"
    );
}

/// Bytes in memory and on disk as the entries count them.
fn counted(s: &Store) -> (u64, u64) {
    let g = s.lock();
    let mem = g
        .entries
        .values()
        .filter(|e| matches!(e.place, Place::Memory(_) | Place::Spilling(_)))
        .map(|e| e.len)
        .sum();
    let disk = g
        .entries
        .values()
        .filter(|e| matches!(e.place, Place::Disk | Place::Reloading))
        .map(|e| e.len)
        .sum();
    (mem, disk)
}

#[test]
fn a_value_being_spilled_is_read_from_memory_and_can_be_freed_meanwhile() {
    let dir = scratch("spilling");
    let s = Store::new(2, policy(1_000_000, &dir));
    s.put(Key(1), value(1, 300));
    // As `spill_over` leaves it while the file is written, lock let go.
    {
        let mut g = s.lock();
        let inner = &mut *g;
        let e = inner.entries.get_mut(&Key(1)).unwrap();
        let Place::Memory(b) = &e.place else {
            panic!("in memory")
        };
        e.place = Place::Spilling(b.clone());
        inner.lru.remove(&e.tick);
        inner.spilling += e.len;
    }
    assert_eq!(s.get(Key(1)).unwrap(), value(1, 300), "no disk read");
    s.free(Key(1));
    assert_eq!(s.stats().in_memory, 0);
    assert_eq!(s.lock().spilling, 0);
}

#[test]
fn readers_of_a_value_being_read_back_wait_for_it() {
    let dir = scratch("reloading");
    let s = Arc::new(Store::new(2, policy(1000, &dir)));
    s.put(Key(1), value(1, 600));
    assert_eq!(s.stats().spilled, 1);
    // As `get` leaves it while the file is read, lock let go.
    let serial = {
        let mut g = s.lock();
        let e = g.entries.get_mut(&Key(1)).unwrap();
        e.place = Place::Reloading;
        e.serial
    };
    let reader = {
        let s = s.clone();
        std::thread::spawn(move || s.get(Key(1)))
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!reader.is_finished(), "it waits for the read back");
    let read = std::fs::read(file_of(&s, Key(1)));
    let mine = s.reloaded_back(Key(1), serial, 600, read).unwrap();
    assert_eq!(mine, value(1, 600));
    assert_eq!(reader.join().unwrap().unwrap(), value(1, 600));
    assert_eq!(s.stats().reloaded, 1, "read once");
}

/// Marks `key`'s entry as `get` leaves it while its file is read (lock let
/// go), and returns its serial.
fn start_reload(s: &Store, key: Key) -> u64 {
    let mut g = s.lock();
    let e = g.entries.get_mut(&key).unwrap();
    assert!(matches!(e.place, Place::Disk));
    e.place = Place::Reloading;
    e.serial
}

#[test]
fn a_key_freed_and_put_again_while_read_back_keeps_both_values_apart() {
    let dir = scratch("reput");
    let s = Store::new(2, policy(100, &dir));
    s.put(Key(1), value(1, 80));
    let old = start_reload(&s, Key(1));
    // Freed and put again (a different value of the same length), which
    // spills too, while the first read has not opened its file yet.
    s.free(Key(1));
    s.put(Key(1), value(9, 80));
    assert_eq!(s.stats().spilled, 2);
    let read = s.dir.read(Key(1), old, 80);
    let got = s.reloaded_back(Key(1), old, 80, read);
    assert_eq!(
        got.unwrap(),
        value(1, 80),
        "the old reader reads the old value"
    );
    assert!(!s.dir.file(Key(1), old).exists(), "the old file goes");
    assert_eq!(s.get(Key(1)).unwrap(), value(9, 80), "the new value stays");
    assert!(!s.lost(Key(1)));
    assert_eq!(s.stats().reloaded, 1);
}

#[test]
fn a_reader_of_an_entry_freed_meanwhile_returns_cleanly() {
    let dir = scratch("freeread");
    let s = Store::new(2, policy(100, &dir));
    s.put(Key(1), value(1, 80));
    let old = start_reload(&s, Key(1));
    s.free(Key(1));
    s.put(Key(1), value(9, 60));
    // The file went before the read (as a freed entry's may): no value, no
    // loss recorded, the new entry untouched.
    std::fs::remove_file(s.dir.file(Key(1), old)).unwrap();
    let read = s.dir.read(Key(1), old, 80);
    assert!(s.reloaded_back(Key(1), old, 80, read).is_none());
    assert!(!s.lost(Key(1)));
    assert_eq!(s.get(Key(1)).unwrap(), value(9, 60));
    assert_eq!(s.summary(), (1, 60));
}

#[test]
fn a_spill_settled_after_its_key_was_put_again_leaves_the_new_file() {
    let dir = scratch("respill");
    let s = Store::new(2, policy(100, &dir));
    s.put(Key(1), value(1, 80));
    let first = file_of(&s, Key(1));
    s.free(Key(1));
    s.put(Key(1), value(9, 80));
    let second = file_of(&s, Key(1));
    assert_ne!(first, second, "each entry has its own file");
    assert!(!first.exists() && second.exists());
    assert_eq!(s.get(Key(1)).unwrap(), value(9, 80));
}

#[test]
fn threads_putting_reading_and_freeing_at_once_keep_every_value_and_count() {
    let dir = scratch("threads");
    let s = Arc::new(Store::new(2, policy(20_000, &dir)));
    let threads: Vec<_> = (0..6u64)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for round in 0..40u64 {
                    let k = t * 1000 + round;
                    s.put(Key(k), value(k, 1500));
                    // Read back older ones of this thread and of others.
                    for back in [k, t * 1000 + round / 2, ((t + 1) % 6) * 1000 + round / 3] {
                        if let Some(v) = s.get(Key(back)) {
                            assert_eq!(v, value(back, 1500), "key {back}");
                        }
                    }
                    if round % 3 == 0 {
                        s.free(Key(k));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let st = s.stats();
    assert!(st.spilled > 0 && st.reloaded > 0, "{st:?}");
    assert_eq!(st.spill_failures, 0, "{st:?}");
    assert_eq!((st.in_memory, st.on_disk), counted(&s), "{st:?}");
    assert_eq!(s.lock().spilling, 0);
    assert!(s.lock().lost.is_empty());
    // Every value kept is still right.
    for t in 0..6u64 {
        for round in (0..40u64).filter(|r| r % 3 != 0) {
            let k = t * 1000 + round;
            assert_eq!(s.get(Key(k)).unwrap(), value(k, 1500), "key {k}");
        }
    }
    s.close();
}
