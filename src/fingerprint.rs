//! The executable's fingerprint, which every rank compares at start-up.
//!
//! The fingerprint is a hash of the GNU build-id that the linker writes into
//! the executable (the `.note.gnu.build-id` note, found through the ELF
//! program headers of `/proc/self/exe`): a few kilobytes read per rank instead
//! of the whole binary, which matters when 10,000 ranks start from one file on
//! a parallel file system. The build-id is a hash of the linked output, so two
//! different builds have different ids. An executable without one (linked
//! with `--build-id=none`, or not ELF) falls back to hashing the whole file,
//! under MPI once per node: the node's first rank reads it and tells the
//! others (see [`executable_once_per_node`]).

use crate::error::{Error, ErrorKind, Result};
use std::hash::Hasher;

/// ELF program header type of a note segment.
const PT_NOTE: u32 = 4;
/// Note type of the GNU build-id.
const NT_GNU_BUILD_ID: u32 = 3;
/// The most bytes of program headers or of one note segment read.
const MAX_READ: u64 = 1 << 16;

/// Set to `1` to ignore the build-id and hash the whole executable, as for
/// a binary linked without one (tests the fallback).
pub(crate) const FORCE_FILE_HASH: &str = "RANKFLOW_FINGERPRINT_FILE";

/// What a rank learns about its executable cheaply: its build-id's hash (if
/// it has one and the fallback is not forced) and the file's identity.
struct Local {
    path: std::path::PathBuf,
    build_id: Option<u64>,
    /// Device, inode, size and modification time, hashed: ranks of one node
    /// with the same identity run the same file.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    identity: u64,
}

fn unreadable(path: &std::path::Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot read the executable {}: {e}", path.display()),
        )
    }
}

fn local() -> Result<Local> {
    use std::os::unix::fs::MetadataExt;
    let path = std::env::current_exe()?;
    let file = std::fs::File::open(&path).map_err(unreadable(&path))?;
    let meta = file.metadata().map_err(unreadable(&path))?;
    let mut id = Vec::with_capacity(40);
    for v in [meta.dev(), meta.ino(), meta.size()] {
        id.extend_from_slice(&v.to_le_bytes());
    }
    id.extend_from_slice(&meta.mtime().to_le_bytes());
    id.extend_from_slice(&meta.mtime_nsec().to_le_bytes());
    let forced = std::env::var(FORCE_FILE_HASH).is_ok_and(|v| v == "1");
    let build_id = if forced {
        None
    } else {
        build_id(&|offset, len| read_at(&file, offset, len)).map(|id| hash(b"build-id", &id))
    };
    Ok(Local {
        build_id,
        identity: hash(b"identity", &id),
        path,
    })
}

/// The fallback: a hash of the whole file (a read of all of it).
fn file_hash(path: &std::path::Path) -> Result<u64> {
    log::debug!("{} has no build-id: hashing the whole file", path.display());
    Ok(hash(
        b"file",
        &std::fs::read(path).map_err(unreadable(path))?,
    ))
}

/// A hash of this process's executable, equal on ranks that run the same
/// build of the same program: of its build-id, else of the whole file.
#[cfg_attr(feature = "mpi", allow(dead_code))]
pub(crate) fn executable() -> Result<u64> {
    let me = local()?;
    match me.build_id {
        Some(id) => Ok(id),
        None => file_hash(&me.path),
    }
}

/// [`executable`] for every rank of `world` (collective): each rank reads
/// its own build-id, but without one the whole file is read once per node,
/// by the node's first rank, which broadcasts the hash over the node's
/// shared-memory communicator. A rank whose executable is another file than
/// that rank's (another path, size or modification time) hashes its own.
#[cfg(feature = "mpi")]
pub(crate) fn executable_once_per_node(world: &mpi::topology::SimpleCommunicator) -> Result<u64> {
    use mpi::traits::{Communicator, Root};
    let me = local()?;
    let node = world.split_shared(world.rank());
    let mut shared = [0u64; 2];
    if node.rank() == 0 {
        let fingerprint = match me.build_id {
            Some(id) => id,
            None => file_hash(&me.path)?,
        };
        shared = [me.identity, fingerprint];
    }
    node.process_at_rank(0).broadcast_into(&mut shared[..]);
    match me.build_id {
        _ if node.rank() == 0 => Ok(shared[1]),
        Some(id) => Ok(id),
        None if me.identity == shared[0] => Ok(shared[1]),
        None => file_hash(&me.path),
    }
}

fn hash(domain: &[u8], bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(domain);
    h.write(bytes);
    h.finish()
}

fn read_at(file: &std::fs::File, offset: u64, len: u64) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; usize::try_from(len.min(MAX_READ)).ok()?];
    file.read_exact_at(&mut buf, offset).ok()?;
    Some(buf)
}

/// Reads integers of one ELF file's byte order.
#[derive(Clone, Copy)]
struct Order {
    big: bool,
}

impl Order {
    fn u16(self, b: &[u8], at: usize) -> Option<u64> {
        let a: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(u64::from(if self.big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }))
    }
    fn u32(self, b: &[u8], at: usize) -> Option<u64> {
        let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }))
    }
    fn u64(self, b: &[u8], at: usize) -> Option<u64> {
        let a: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(if self.big {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        })
    }
}

/// The GNU build-id of the ELF file that `read(offset, len)` reads, or `None`
/// when it is not ELF, is damaged, or has no build-id note. Reads the ELF
/// header, the program headers and the note segments only.
fn build_id(read: &dyn Fn(u64, u64) -> Option<Vec<u8>>) -> Option<Vec<u8>> {
    let header = read(0, 64)?;
    if header.get(..4)? != b"\x7fELF" {
        return None;
    }
    let wide = match header.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let order = match header.get(5)? {
        1 => Order { big: false },
        2 => Order { big: true },
        _ => return None,
    };
    let (phoff, phentsize, phnum) = if wide {
        (
            order.u64(&header, 0x20)?,
            order.u16(&header, 0x36)?,
            order.u16(&header, 0x38)?,
        )
    } else {
        (
            order.u32(&header, 0x1c)?,
            order.u16(&header, 0x2a)?,
            order.u16(&header, 0x2c)?,
        )
    };
    let table_len = phentsize.checked_mul(phnum)?;
    if table_len > MAX_READ {
        return None;
    }
    let table = read(phoff, table_len)?;
    for i in 0..phnum as usize {
        let ph = table.get(i * phentsize as usize..(i + 1) * phentsize as usize)?;
        if order.u32(ph, 0)? != u64::from(PT_NOTE) {
            continue;
        }
        let (offset, size, align) = if wide {
            (order.u64(ph, 8)?, order.u64(ph, 32)?, order.u64(ph, 48)?)
        } else {
            (order.u32(ph, 4)?, order.u32(ph, 16)?, order.u32(ph, 28)?)
        };
        if size > MAX_READ {
            continue;
        }
        let notes = read(offset, size)?;
        if let Some(id) = find_build_id(&notes, order, if align == 8 { 8 } else { 4 }) {
            return Some(id);
        }
    }
    None
}

/// The descriptor of the GNU build-id note among `notes`, whose name and
/// descriptor are padded to `align` bytes.
fn find_build_id(notes: &[u8], order: Order, align: usize) -> Option<Vec<u8>> {
    let pad = |n: usize| n.checked_add(align - 1).map(|v| v & !(align - 1));
    let mut at = 0usize;
    while at + 12 <= notes.len() {
        let namesz = order.u32(notes, at)? as usize;
        let descsz = order.u32(notes, at + 4)? as usize;
        let kind = order.u32(notes, at + 8)?;
        let name_at = at + 12;
        let desc_at = name_at.checked_add(pad(namesz)?)?;
        let end = desc_at.checked_add(pad(descsz)?)?;
        let name = notes.get(name_at..name_at.checked_add(namesz)?)?;
        if kind == u64::from(NT_GNU_BUILD_ID) && name == b"GNU\0" && descsz > 0 {
            return Some(notes.get(desc_at..desc_at + descsz)?.to_vec());
        }
        at = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(order: Order, name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let w = |v: u32| {
            if order.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut n = Vec::new();
        n.extend(w(name.len() as u32));
        n.extend(w(desc.len() as u32));
        n.extend(w(kind));
        n.extend(name);
        n.resize(n.len().next_multiple_of(4), 0);
        n.extend(desc);
        n.resize(n.len().next_multiple_of(4), 0);
        n
    }

    /// A minimal ELF file: the header, a load and a note program header, and
    /// the notes at offset 0x200.
    fn elf(wide: bool, order: Order, notes: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 0x200];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = if wide { 2 } else { 1 };
        f[5] = if order.big { 2 } else { 1 };
        let put = |f: &mut Vec<u8>, at: usize, v: u64, size: usize| {
            let bytes = if order.big {
                v.to_be_bytes()[8 - size..].to_vec()
            } else {
                v.to_le_bytes()[..size].to_vec()
            };
            f[at..at + size].copy_from_slice(&bytes);
        };
        let phoff = 0x40u64;
        let (entsize, word) = if wide { (56usize, 8usize) } else { (32, 4) };
        if wide {
            put(&mut f, 0x20, phoff, 8);
            put(&mut f, 0x36, entsize as u64, 2);
            put(&mut f, 0x38, 2, 2);
        } else {
            put(&mut f, 0x1c, phoff, 4);
            put(&mut f, 0x2a, entsize as u64, 2);
            put(&mut f, 0x2c, 2, 2);
        }
        // Entry 0: PT_LOAD; entry 1: PT_NOTE.
        let first = phoff as usize;
        put(&mut f, first, 1, 4);
        let ph = first + entsize;
        put(&mut f, ph, u64::from(PT_NOTE), 4);
        let (off_at, size_at, align_at) = if wide {
            (ph + 8, ph + 32, ph + 48)
        } else {
            (ph + 4, ph + 16, ph + 28)
        };
        put(&mut f, off_at, 0x200, word);
        put(&mut f, size_at, notes.len() as u64, word);
        put(&mut f, align_at, 4, word);
        f.extend_from_slice(notes);
        f
    }

    fn reader(file: Vec<u8>) -> impl Fn(u64, u64) -> Option<Vec<u8>> {
        move |offset, len| {
            let start = usize::try_from(offset).ok()?;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            file.get(start..end).map(<[u8]>::to_vec)
        }
    }

    #[test]
    fn finds_the_build_id_after_other_notes() {
        for (wide, big) in [(true, false), (false, false), (true, true), (false, true)] {
            let order = Order { big };
            let mut notes = note(order, b"GNU\0", 1, &[0, 0, 0, 0, 3, 0, 0, 0]);
            notes.extend(note(order, b"Xen\0\0", 3, &[9; 6]));
            notes.extend(note(order, b"GNU\0", NT_GNU_BUILD_ID, &[7, 6, 5, 4, 3]));
            let id = build_id(&reader(elf(wide, order, &notes)));
            assert_eq!(id, Some(vec![7, 6, 5, 4, 3]), "wide {wide}, big {big}");
        }
    }

    #[test]
    fn no_build_id_note_gives_none() {
        let order = Order { big: false };
        let notes = note(order, b"GNU\0", 1, &[0; 16]);
        assert_eq!(build_id(&reader(elf(true, order, &notes))), None);
    }

    #[test]
    fn damaged_or_foreign_files_give_none_without_panicking() {
        let order = Order { big: false };
        let good = elf(
            true,
            order,
            &note(order, b"GNU\0", NT_GNU_BUILD_ID, &[1; 20]),
        );
        assert!(build_id(&reader(good.clone())).is_some());
        for cut in [0, 3, 10, 0x40, 0x60, 0x80, 0x200, 0x20c, good.len() - 1] {
            assert_eq!(
                build_id(&reader(good[..cut].to_vec())),
                None,
                "cut at {cut}"
            );
        }
        // A note that claims more bytes than the segment holds.
        let mut lying = note(order, b"GNU\0", NT_GNU_BUILD_ID, &[1; 20]);
        lying[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(build_id(&reader(elf(true, order, &lying))), None);
        assert_eq!(build_id(&reader(b"#!/bin/sh\necho hi\n".to_vec())), None);
    }

    #[test]
    fn this_test_binary_has_a_build_id_and_a_stable_fingerprint() {
        let exe = std::env::current_exe().unwrap();
        let file = std::fs::File::open(&exe).unwrap();
        let id = build_id(&|o, l| read_at(&file, o, l));
        let id = id.expect("the linker wrote no build-id into the test binary");
        assert!(id.len() >= 8, "a build-id of {} bytes", id.len());
        assert_eq!(executable().unwrap(), hash(b"build-id", &id));
        assert_ne!(hash(b"build-id", &id), hash(b"file", &id));
    }
}
