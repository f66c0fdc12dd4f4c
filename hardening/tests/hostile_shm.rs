//! Shared-memory files that someone else made, widened or tampered with: every attach is
//! refused with its own typed error, and what the engine creates is private (0600 files in a
//! 0700 folder). We run as root in CI, so `chown` to another uid is possible here.
//!
//! The ignored tests reproduce bugs reported to the runtime's owners (see the report and
//! SAFETY.md): same-uid tampering with ring positions or control counters panics (debug builds)
//! instead of being refused.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use hardening::{shm_attach, shm_selector, Refusal, ShmMode, ShmTarget};
use runtime::control::{ActorSpec, ControlBlock, ControlError, CONTROL_FILE};
use runtime::msg::{MdEvent, OrderEvent};
use runtime::ring::{Broadcast, RingError, Spsc};
use runtime::shm::{AttachError, ShmDir, ShmError, HEADER_BYTES};

type Orders = Spsc<OrderEvent, 8>;
type Md = Broadcast<MdEvent, 8>;

/// Another user: nobody (65534) exists on Debian; any uid other than ours will do.
const OTHER_UID: u32 = 65534;

fn engine() -> (tempfile::TempDir, ShmDir) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = ShmDir::create(Some(tmp.path()), "hostile").unwrap();
    (tmp, dir)
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn chown(p: &Path, uid: u32) {
    std::os::unix::fs::chown(p, Some(uid), None).expect("chown (tests run as root)");
}

fn make_all(dir: &ShmDir) {
    drop(Orders::create(dir, "orders.ring").unwrap());
    drop(Md::create(dir, "md.ring").unwrap());
    drop(ControlBlock::create(dir, "hostile", &[ActorSpec::new("feed", "feed", Some(1))]).unwrap());
}

#[test]
fn created_files_are_0600_in_a_0700_folder_owned_by_us() {
    let (_tmp, dir) = engine();
    make_all(&dir);
    assert_eq!(mode(dir.path()), 0o700);
    for f in ["orders.ring", "md.ring", CONTROL_FILE] {
        let p = dir.path().join(f);
        assert_eq!(mode(&p), 0o600, "{f}");
        assert_eq!(fs::metadata(&p).unwrap().uid(), euid());
    }
}

fn euid() -> u32 {
    // Safety: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[test]
fn loose_permissions_are_refused_for_every_region() {
    let (_tmp, dir) = engine();
    make_all(&dir);
    for f in ["orders.ring", "md.ring", CONTROL_FILE] {
        fs::set_permissions(dir.path().join(f), fs::Permissions::from_mode(0o644)).unwrap();
    }
    match Orders::attach(&dir, "orders.ring") {
        Err(RingError::Attach(AttachError::LoosePermissions { mode, .. })) => {
            assert_eq!(mode, 0o644)
        }
        other => panic!("orders.ring 0644: {:?}", other.err()),
    }
    match Md::attach(&dir, "md.ring") {
        Err(RingError::Attach(AttachError::LoosePermissions { mode, .. })) => {
            assert_eq!(mode, 0o644)
        }
        other => panic!("md.ring 0644: {:?}", other.err()),
    }
    match ControlBlock::attach(&dir) {
        Err(ControlError::Attach(AttachError::LoosePermissions { mode, .. })) => {
            assert_eq!(mode, 0o644)
        }
        other => panic!("control.shm 0644: {other:?}"),
    }
    // Group-writable only (0620) is as bad as world-readable.
    fs::set_permissions(
        dir.path().join("orders.ring"),
        fs::Permissions::from_mode(0o620),
    )
    .unwrap();
    let e = Orders::attach(&dir, "orders.ring")
        .err()
        .expect("0620 refused");
    assert!(e.to_string().contains("620"), "{e}");
}

#[test]
fn files_replaced_by_another_user_are_refused() {
    let (_tmp, dir) = engine();
    make_all(&dir);
    // "Replaced": another user's file, valid in every other respect, under our names.
    for f in ["orders.ring", "md.ring", CONTROL_FILE] {
        chown(&dir.path().join(f), OTHER_UID);
    }
    let foreign = |e: &AttachError| matches!(e, AttachError::ForeignOwner { owner_uid, .. } if *owner_uid == OTHER_UID);
    match Orders::attach(&dir, "orders.ring") {
        Err(RingError::Attach(e)) => assert!(foreign(&e), "{e}"),
        other => panic!("{:?}", other.err()),
    }
    match Md::attach(&dir, "md.ring") {
        Err(RingError::Attach(e)) => assert!(foreign(&e), "{e}"),
        other => panic!("{:?}", other.err()),
    }
    match ControlBlock::attach(&dir) {
        Err(ControlError::Attach(e)) => {
            assert!(foreign(&e), "{e}");
            assert!(e.to_string().contains("65534"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // create_or_attach (what a restarting actor calls) must not replace it silently either.
    let r = Orders::create_or_attach(&dir, "orders.ring").err();
    assert!(
        matches!(
            r,
            Some(RingError::Shm(ShmError::Attach(
                AttachError::ForeignOwner { .. }
            )))
        ),
        "{r:?}"
    );
}

#[test]
fn a_file_swapped_for_a_symlink_is_refused() {
    let (_tmp, dir) = engine();
    drop(Orders::create(&dir, "real.ring").unwrap());
    std::os::unix::fs::symlink(dir.path().join("real.ring"), dir.path().join("orders.ring"))
        .unwrap();
    match Orders::attach(&dir, "orders.ring") {
        Err(RingError::Attach(AttachError::Io { source, .. })) => {
            assert_eq!(source.raw_os_error(), Some(libc::ELOOP), "{source}")
        }
        other => panic!("symlink attached: {:?}", other.err()),
    }
}

#[test]
fn engine_folders_that_are_loose_foreign_or_symlinks_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let loose = tmp.path().join("loose");
    fs::create_dir(&loose).unwrap();
    fs::set_permissions(&loose, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(matches!(
        ShmDir::open(Some(tmp.path()), "loose"),
        Err(ShmError::DirLoosePermissions { mode: 0o755, .. })
    ));
    // create() reuses an existing folder only after the same checks.
    assert!(matches!(
        ShmDir::create(Some(tmp.path()), "loose"),
        Err(ShmError::DirLoosePermissions { .. })
    ));
    let foreign = tmp.path().join("foreign");
    fs::create_dir(&foreign).unwrap();
    fs::set_permissions(&foreign, fs::Permissions::from_mode(0o700)).unwrap();
    chown(&foreign, OTHER_UID);
    assert!(matches!(
        ShmDir::open(Some(tmp.path()), "foreign"),
        Err(ShmError::DirForeignOwner {
            owner_uid: OTHER_UID,
            ..
        })
    ));
    let target = tmp.path().join("target");
    fs::create_dir(&target).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&target, tmp.path().join("link")).unwrap();
    assert!(matches!(
        ShmDir::open(Some(tmp.path()), "link"),
        Err(ShmError::NotADirectory { .. })
    ));
    // A name that climbs out of the base is refused before any file system call.
    assert!(matches!(
        ShmDir::open(Some(tmp.path()), "../etc"),
        Err(ShmError::InvalidName { .. })
    ));
}

#[test]
fn garbage_and_half_written_files_are_refused_not_trusted() {
    // Through the fuzz entry point: a file of zeros (a creator that died before the header),
    // a file of 0xff, an empty file.
    for target in [ShmTarget::Orders, ShmTarget::Md, ShmTarget::Control] {
        let mut zeros = vec![shm_selector(target, ShmMode::Raw)];
        zeros.extend(std::iter::repeat_n(0u8, HEADER_BYTES + 512));
        match shm_attach(&zeros) {
            Err(Refusal::Input(m)) => assert!(m.contains("not initialised"), "{target:?}: {m}"),
            other => panic!("{target:?} zeros: {other:?}"),
        }
        let mut ff = vec![shm_selector(target, ShmMode::Raw)];
        ff.extend(std::iter::repeat_n(0xffu8, HEADER_BYTES + 512));
        match shm_attach(&ff) {
            Err(Refusal::Input(m)) => assert!(m.contains("magic"), "{target:?}: {m}"),
            other => panic!("{target:?} 0xff: {other:?}"),
        }
        match shm_attach(&[shm_selector(target, ShmMode::Raw)]) {
            Err(Refusal::Input(m)) => assert!(m.contains("truncated"), "{target:?}: {m}"),
            other => panic!("{target:?} empty: {other:?}"),
        }
    }
}

/// Write `value` at `payload_off` in the payload of region file `path`.
fn poke(path: &Path, payload_off: usize, value: u64) {
    let mut bytes = fs::read(path).unwrap();
    let at = HEADER_BYTES + payload_off;
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    fs::write(path, bytes).unwrap();
}

#[test]
fn spsc_positions_at_u64_max_do_not_panic() {
    let (_tmp, dir) = engine();
    drop(Orders::create(&dir, "orders.ring").unwrap());
    // Consumer line at payload offset 256, its position first.
    poke(&dir.path().join("orders.ring"), 256, u64::MAX);
    let ring = Orders::attach(&dir, "orders.ring").unwrap();
    assert!(
        matches!(ring.consumer(), Err(RingError::Corrupt { .. })),
        "a consumer position of u64::MAX is corrupt"
    );
    drop(ring);
    // Producer line at payload offset 128.
    poke(&dir.path().join("orders.ring"), 128, u64::MAX);
    poke(&dir.path().join("orders.ring"), 256, 0);
    let ring = Orders::attach(&dir, "orders.ring").unwrap();
    let p = ring.producer();
    assert!(
        matches!(p, Err(RingError::Corrupt { .. })),
        "a producer position of u64::MAX with the consumer at 0 is corrupt"
    );
}

#[test]
fn broadcast_positions_past_2_pow_63_do_not_panic() {
    let (_tmp, dir) = engine();
    drop(Md::create(&dir, "md.ring").unwrap());
    // Publisher line at payload offset 128.
    poke(&dir.path().join("md.ring"), 128, 1 << 63);
    let ring = Md::attach(&dir, "md.ring").unwrap();
    assert!(matches!(ring.publisher(), Err(RingError::Corrupt { .. })));
    assert!(matches!(ring.subscribe(0), Err(RingError::Corrupt { .. })));
    poke(&dir.path().join("md.ring"), 128, u64::MAX);
    let ring = Md::attach(&dir, "md.ring").unwrap();
    assert!(matches!(ring.subscribe(1), Err(RingError::Corrupt { .. })));
    // A refused side is free again: with the position repaired, it attaches.
    poke(&dir.path().join("md.ring"), 128, 0);
    let ring = Md::attach(&dir, "md.ring").unwrap();
    assert!(ring.publisher().is_ok());
    assert!(ring.subscribe(1).is_ok());
}

/// A tampered control.shm must not make the kill switch itself panic: the kill and re-arm
/// counters saturate.
#[test]
fn control_counters_at_u64_max_do_not_panic() {
    // Every word of the first 512 payload bytes at u64::MAX: the kill word is set, the
    // counters beside it are at their maximum. Re-arming (and killing again) must not panic.
    let mut input = vec![shm_selector(ShmTarget::Control, ShmMode::PayloadOverlay)];
    input.extend(std::iter::repeat_n(0xffu8, 512));
    let r = shm_attach(&input);
    assert!(!matches!(r, Err(Refusal::Violation(_))), "{r:?}");
}
