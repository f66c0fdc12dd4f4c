//! Shared-memory regions: one directory per engine, one file per ring or block.
//!
//! Layout of every region file:
//!
//! ```text
//! 0             HEADER_BYTES (4096)                         HEADER_BYTES + payload_bytes
//! | RegionHeader | zero padding | payload (64-byte aligned) ... |
//! ```
//!
//! The header carries a magic number, the layout version, the region kind, the hash of every
//! message layout ([`crate::msg::layout_hash`]), capacity, slot size and payload size, the owner's
//! uid, the creator's pid and creation time, and an `initialised` word written last with
//! `Release`, so that a file whose creator died half way is refused instead of trusted.
//!
//! Attaching checks, in this order, with one [`AttachError`] variant per cause: the file exists,
//! belongs to us and is not readable by group or others (fstat on the opened descriptor, so a
//! file swapped between the check and the map cannot slip through), is long enough to hold a
//! header, has our magic, our layout version, is initialised, carries our layout hash, the kind,
//! capacity, slot size and payload size the caller expects, and is long enough for its payload.
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{MmapMut, MmapOptions};

/// `b"NSEENGN\0"` read as a little-endian u64.
pub const MAGIC: u64 = u64::from_le_bytes(*b"NSEENGN\0");
/// Version of the region header and of the ring layouts inside payloads. Bump on any change.
pub const LAYOUT_VERSION: u32 = 1;
/// Bytes reserved for the header: one page, so the payload starts page (and cache-line) aligned.
pub const HEADER_BYTES: usize = 4096;
/// Value of [`RegionHeader::initialised`] once the creator has written the whole header.
pub const INITIALISED: u64 = u64::from_le_bytes(*b"INITDONE");
/// Default base directory for engine directories.
pub const DEFAULT_BASE: &str = "/dev/shm";
/// Longest accepted engine or file name, in bytes (well under NAME_MAX).
pub const MAX_NAME_BYTES: usize = 128;
/// Largest payload a region may have (16 GiB): a limit so a corrupt spec cannot ask for the moon.
pub const MAX_PAYLOAD_BYTES: u64 = 16 << 30;

/// What a region holds. Stored in the header as a `u32` code.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    Spsc = 1,
    Broadcast = 2,
    Control = 3,
    Histograms = 4,
}

impl RegionKind {
    /// The code stored in the header.
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The kind for a header code, `None` for an unknown code.
    pub const fn from_code(code: u32) -> Option<RegionKind> {
        match code {
            1 => Some(RegionKind::Spsc),
            2 => Some(RegionKind::Broadcast),
            3 => Some(RegionKind::Control),
            4 => Some(RegionKind::Histograms),
            _ => None,
        }
    }
}

/// Describes a region: what the creator writes into the header and what an attacher expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegionSpec {
    pub kind: RegionKind,
    /// Number of slots (rings) or entries (blocks); meaning is up to the kind.
    pub capacity: u64,
    /// Bytes per slot (rings) or per entry (blocks).
    pub slot_size: u64,
    /// Bytes of payload after the header.
    pub payload_bytes: u64,
}

impl RegionSpec {
    /// Total file length for this spec.
    pub fn file_bytes(&self) -> u64 {
        HEADER_BYTES as u64 + self.payload_bytes
    }

    fn validate(&self) -> Result<(), ShmError> {
        if self.payload_bytes == 0 || self.payload_bytes > MAX_PAYLOAD_BYTES {
            return Err(ShmError::BadSpec {
                reason: format!(
                    "payload_bytes {} must be between 1 and {MAX_PAYLOAD_BYTES}",
                    self.payload_bytes
                ),
            });
        }
        Ok(())
    }
}

/// The header at the start of every region file. `#[repr(C)]`, in the first page.
///
/// Every field except `initialised` is written once by the creator before `initialised` is
/// stored with `Release`; readers load `initialised` with `Acquire` before trusting the rest.
#[repr(C)]
#[derive(Debug)]
pub struct RegionHeader {
    /// [`MAGIC`].
    pub magic: u64,
    /// [`LAYOUT_VERSION`].
    pub layout_version: u32,
    /// [`RegionKind::code`].
    pub kind: u32,
    /// [`crate::msg::layout_hash`] of the creating build.
    pub layout_hash: u64,
    pub capacity: u64,
    pub slot_size: u64,
    pub payload_bytes: u64,
    /// Effective uid of the creator (informational; ownership is checked with fstat).
    pub owner_uid: u32,
    /// Pid of the creating process.
    pub creator_pid: u32,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_ns: u64,
    /// [`INITIALISED`] once the header is complete; anything else means "do not trust".
    pub initialised: AtomicU64,
}

const _: () = assert!(core::mem::size_of::<RegionHeader>() <= HEADER_BYTES);
const _: () = assert!(HEADER_BYTES & 63 == 0);

impl RegionHeader {
    /// The spec recorded in this header (`None` if the kind code is unknown).
    pub fn spec(&self) -> Option<RegionSpec> {
        Some(RegionSpec {
            kind: RegionKind::from_code(self.kind)?,
            capacity: self.capacity,
            slot_size: self.slot_size,
            payload_bytes: self.payload_bytes,
        })
    }

    /// Whether the creator finished writing the header.
    pub fn is_initialised(&self) -> bool {
        self.initialised.load(Ordering::Acquire) == INITIALISED
    }
}

/// Errors creating or opening directories and regions.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    #[error("invalid name {name:?}: {reason} (use 1-{MAX_NAME_BYTES} characters from A-Z a-z 0-9 _ . -, not `.`/`..`)")]
    InvalidName { name: String, reason: &'static str },
    #[error("engine directory {path} does not exist: start the engine (or the test) that creates it first, or check --shm-dir")]
    DirNotFound { path: PathBuf },
    #[error("{path} exists but is not a directory (found a file or a symlink): remove it or choose another engine name")]
    NotADirectory { path: PathBuf },
    #[error("engine directory {path} belongs to uid {owner_uid}, we run as uid {our_uid}: another user's engine uses this name; choose another engine name or run as that user")]
    DirForeignOwner {
        path: PathBuf,
        owner_uid: u32,
        our_uid: u32,
    },
    #[error("engine directory {path} has mode {mode:o}, expected no group/other bits (0700): another user could read or write the rings; `chmod 700 {path}` if you trust its contents, else remove it")]
    DirLoosePermissions { path: PathBuf, mode: u32 },
    #[error("region {path} already exists: attach to it, use create_or_attach, or remove the stale file")]
    AlreadyExists { path: PathBuf },
    #[error("bad region spec: {reason}")]
    BadSpec { reason: String },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Attach(#[from] AttachError),
}

/// Why attaching to an existing region file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("region {path} not found: the producer (or supervisor) that creates it has not started, or the engine name / shm directory differ")]
    NotFound { path: PathBuf },
    #[error("region {path} is truncated: {found_bytes} bytes, expected at least {expected_bytes}; its creator probably died while creating it: remove the file and restart")]
    Truncated {
        path: PathBuf,
        expected_bytes: u64,
        found_bytes: u64,
    },
    #[error("region {path} has magic {found:#018x}, expected {MAGIC:#018x}: not an engine region (or corrupt); remove it")]
    BadMagic { path: PathBuf, found: u64 },
    #[error("region {path} has layout version {found}, expected {expected}: written by another engine version; stop that engine and remove the file")]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("region {path} has message layout hash {found:#018x}, expected {expected:#018x}: created by another build of the engine with different message layouts; rebuild all processes from one tree or remove the file")]
    LayoutHash {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error("region {path} holds kind code {found}, expected {expected:?}: two regions share a file name; check the topology")]
    Kind {
        path: PathBuf,
        found: u32,
        expected: RegionKind,
    },
    #[error("region {path} has capacity {found}, expected {expected}: created with another ring size; align the topology or remove the file")]
    Capacity {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error("region {path} has slot size {found} bytes, expected {expected}: created for another message type; check which actor owns this ring")]
    SlotSize {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error("region {path} has a {found}-byte payload, expected {expected}: created with another layout; remove the file")]
    PayloadBytes {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error("region {path} belongs to uid {owner_uid}, we run as uid {our_uid}: refusing another user's memory; run as that user or remove the file")]
    ForeignOwner {
        path: PathBuf,
        owner_uid: u32,
        our_uid: u32,
    },
    #[error("region {path} has mode {mode:o}, expected no group/other bits (0600): someone else could read or write it; `chmod 600` it if you trust it, else remove it")]
    LoosePermissions { path: PathBuf, mode: u32 },
    #[error("region {path} is not initialised: its creator is still writing it or died half way; retry shortly, or remove the file if no creator is running")]
    NotInitialised { path: PathBuf },
    #[error("I/O error on region {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn our_uid() -> u32 {
    // Safety: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn validate_name(name: &str) -> Result<(), ShmError> {
    let bad = |reason| {
        Err(ShmError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad("too long");
    }
    if name == "." || name == ".." || name.contains("..") {
        return bad("contains `..`");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        return bad("contains a character outside A-Z a-z 0-9 _ . -");
    }
    Ok(())
}

/// One engine's directory of regions, `<base>/<engine_name>/`, mode 0700, ours.
#[derive(Clone, Debug)]
pub struct ShmDir {
    path: PathBuf,
}

impl ShmDir {
    /// Create (or reuse, after checks) `<base or /dev/shm>/<engine_name>/` with mode 0700.
    ///
    /// An existing directory is accepted only if it is a real directory (not a symlink), owned
    /// by our effective uid and without group/other permission bits.
    pub fn create(base: Option<&Path>, engine_name: &str) -> Result<ShmDir, ShmError> {
        validate_name(engine_name)?;
        let path = base.unwrap_or(Path::new(DEFAULT_BASE)).join(engine_name);
        match DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(ShmError::Io { path, source }),
        }
        Self::check(path)
    }

    /// Open an existing engine directory (same checks as [`ShmDir::create`]).
    pub fn open(base: Option<&Path>, engine_name: &str) -> Result<ShmDir, ShmError> {
        validate_name(engine_name)?;
        let path = base.unwrap_or(Path::new(DEFAULT_BASE)).join(engine_name);
        Self::check(path)
    }

    fn check(path: PathBuf) -> Result<ShmDir, ShmError> {
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ShmError::DirNotFound { path })
            }
            Err(source) => return Err(ShmError::Io { path, source }),
        };
        if !meta.file_type().is_dir() {
            return Err(ShmError::NotADirectory { path });
        }
        let our_uid = our_uid();
        if meta.uid() != our_uid {
            return Err(ShmError::DirForeignOwner {
                path,
                owner_uid: meta.uid(),
                our_uid,
            });
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(ShmError::DirLoosePermissions { path, mode });
        }
        Ok(ShmDir { path })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of a region file in this directory (the name is validated).
    pub fn file_path(&self, file_name: &str) -> Result<PathBuf, ShmError> {
        validate_name(file_name)?;
        Ok(self.path.join(file_name))
    }

    /// Remove one region file; `Ok(false)` if it did not exist. Processes that still map it keep
    /// their mapping; new attachers will not find it.
    pub fn remove_file(&self, file_name: &str) -> Result<bool, ShmError> {
        let path = self.file_path(file_name)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(ShmError::Io { path, source }),
        }
    }

    /// Remove the directory and every file in it (engine shutdown, test cleanup).
    pub fn remove_all(&self) -> Result<(), ShmError> {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ShmError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

/// A mapped region: a file in a [`ShmDir`] or an anonymous mapping.
///
/// The mapping is shared with other processes; all concurrent access to the payload goes
/// through atomics in the structures that live there (rings, control block), hence `Send` and
/// `Sync`.
pub struct Region {
    /// Keeps the mapping alive; never accessed through a reference after construction, so the
    /// raw pointer below is the only path to the bytes.
    _map: MmapMut,
    base: *mut u8,
    len: usize,
    spec: RegionSpec,
    path: Option<PathBuf>,
}

// Safety: the mapping is owned by the Region and lives as long as it; the bytes are shared
// memory that other processes mutate anyway, so every structure placed there synchronises
// through atomics. Moving the handle or sharing it between threads adds nothing to that.
unsafe impl Send for Region {}
// Safety: see `Send`: `&Region` exposes only the header (immutable after init plus an atomic)
// and a raw payload pointer whose users synchronise with atomics.
unsafe impl Sync for Region {}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("path", &self.path)
            .field("spec", &self.spec)
            .field("len", &self.len)
            .finish()
    }
}

impl Region {
    /// Create a new region file (mode 0600, O_EXCL: fails with [`ShmError::AlreadyExists`] if
    /// the file exists) and write its header.
    pub fn create(dir: &ShmDir, file_name: &str, spec: RegionSpec) -> Result<Region, ShmError> {
        Self::create_with(dir, file_name, spec, |_| {})
    }

    /// [`Region::create`], running `init_payload` on the zeroed payload before the header is
    /// published, so that an attacher never sees a valid header over a half-initialised payload
    /// (rings write their message-type record this way).
    pub fn create_with(
        dir: &ShmDir,
        file_name: &str,
        spec: RegionSpec,
        init_payload: impl FnOnce(*mut u8),
    ) -> Result<Region, ShmError> {
        spec.validate()?;
        let path = dir.file_path(file_name)?;
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(ShmError::AlreadyExists { path })
            }
            Err(source) => return Err(ShmError::Io { path, source }),
        };
        let io_err = |path: &Path, source| ShmError::Io {
            path: path.to_owned(),
            source,
        };
        // The umask can only clear bits, but make the mode exact regardless.
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|e| io_err(&path, e))?;
        // Zero-filled: the payload structures (rings, blocks) are valid when all zero.
        file.set_len(spec.file_bytes())
            .map_err(|e| io_err(&path, e))?;
        // Safety: the file was just created by us with O_EXCL and sized above; other processes
        // may map it concurrently (that is the point), which is why all access to the bytes goes
        // through atomics or happens before `initialised` is published.
        let map = unsafe {
            MmapOptions::new()
                .len(spec.file_bytes() as usize)
                .map_mut(&file)
        }
        .map_err(|e| io_err(&path, e))?;
        Ok(Self::init(map, spec, Some(path), init_payload))
    }

    /// Attach to the region if a valid one exists, else create it. Used on restarts: the
    /// restarted side finds its ring with its persisted positions. A file that exists but is
    /// invalid (other layout, truncated, foreign…) is refused with its [`AttachError`], never
    /// silently replaced: remove it deliberately (e.g. [`ShmDir::remove_file`]).
    pub fn create_or_attach(
        dir: &ShmDir,
        file_name: &str,
        spec: RegionSpec,
    ) -> Result<Region, ShmError> {
        Self::create_or_attach_with(dir, file_name, spec, |_| {})
    }

    /// [`Region::create_or_attach`] with an `init_payload` run only when the file is created
    /// (see [`Region::create_with`]).
    pub fn create_or_attach_with(
        dir: &ShmDir,
        file_name: &str,
        spec: RegionSpec,
        init_payload: impl FnOnce(*mut u8),
    ) -> Result<Region, ShmError> {
        let mut init_payload = Some(init_payload);
        // Bounded: a racing creator can make each step fail at most once or twice.
        for _ in 0..8 {
            match Self::attach(dir, file_name, spec) {
                Ok(r) => return Ok(r),
                Err(AttachError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            // The init runs at most once: only a successful create reaches it.
            let created = Self::create_with(dir, file_name, spec, |p| {
                if let Some(init) = init_payload.take() {
                    init(p)
                }
            });
            match created {
                Ok(r) => return Ok(r),
                Err(ShmError::AlreadyExists { .. }) => {
                    // Another process created it between our attach and create: give its
                    // creator a moment to publish the header, then attach.
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(e) => return Err(e),
            }
        }
        Err(ShmError::BadSpec {
            reason: format!("{file_name}: gave up racing other creators after 8 tries"),
        })
    }

    /// Attach to an existing region, checking ownership, permissions and the header.
    pub fn attach(
        dir: &ShmDir,
        file_name: &str,
        expected: RegionSpec,
    ) -> Result<Region, AttachError> {
        let path = dir.file_path(file_name).map_err(|e| AttachError::Io {
            path: dir.path().join(file_name),
            source: io::Error::new(io::ErrorKind::InvalidInput, e.to_string()),
        })?;
        let file: File = match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(AttachError::NotFound { path })
            }
            Err(source) => return Err(AttachError::Io { path, source }),
        };
        // fstat on the descriptor we will map: no window between check and use.
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(source) => return Err(AttachError::Io { path, source }),
        };
        let our_uid = our_uid();
        if meta.uid() != our_uid {
            return Err(AttachError::ForeignOwner {
                path,
                owner_uid: meta.uid(),
                our_uid,
            });
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(AttachError::LoosePermissions { path, mode });
        }
        let found_bytes = meta.len();
        if found_bytes < HEADER_BYTES as u64 {
            return Err(AttachError::Truncated {
                path,
                expected_bytes: expected.file_bytes(),
                found_bytes,
            });
        }
        // Safety: we map exactly the file's current length; the file is ours (checked above).
        // A concurrent truncation by another process of the same uid would SIGBUS us, which no
        // check can exclude; the engine never truncates a live region.
        let mut map = match unsafe { MmapOptions::new().len(found_bytes as usize).map_mut(&file) } {
            Ok(m) => m,
            Err(source) => return Err(AttachError::Io { path, source }),
        };
        let base = map.as_mut_ptr();
        // Safety: the mapping is at least HEADER_BYTES long and page aligned, so it holds a
        // RegionHeader; all its fields are plain integers (any bit pattern is valid).
        let header = unsafe { &*(base as *const RegionHeader) };
        // Acquire first: if the creator published, the plain fields below are complete.
        let initialised = header.initialised.load(Ordering::Acquire);
        if header.magic != MAGIC {
            if header.magic == 0 && initialised == 0 {
                return Err(AttachError::NotInitialised { path });
            }
            return Err(AttachError::BadMagic {
                path,
                found: header.magic,
            });
        }
        if header.layout_version != LAYOUT_VERSION {
            return Err(AttachError::Version {
                path,
                found: header.layout_version,
                expected: LAYOUT_VERSION,
            });
        }
        if initialised != INITIALISED {
            return Err(AttachError::NotInitialised { path });
        }
        let expected_hash = crate::msg::layout_hash();
        if header.layout_hash != expected_hash {
            return Err(AttachError::LayoutHash {
                path,
                found: header.layout_hash,
                expected: expected_hash,
            });
        }
        if header.kind != expected.kind.code() {
            return Err(AttachError::Kind {
                path,
                found: header.kind,
                expected: expected.kind,
            });
        }
        if header.capacity != expected.capacity {
            return Err(AttachError::Capacity {
                path,
                found: header.capacity,
                expected: expected.capacity,
            });
        }
        if header.slot_size != expected.slot_size {
            return Err(AttachError::SlotSize {
                path,
                found: header.slot_size,
                expected: expected.slot_size,
            });
        }
        if header.payload_bytes != expected.payload_bytes {
            return Err(AttachError::PayloadBytes {
                path,
                found: header.payload_bytes,
                expected: expected.payload_bytes,
            });
        }
        if found_bytes < expected.file_bytes() {
            return Err(AttachError::Truncated {
                path,
                expected_bytes: expected.file_bytes(),
                found_bytes,
            });
        }
        Ok(Region {
            _map: map,
            base,
            len: found_bytes as usize,
            spec: expected,
            path: Some(path),
        })
    }

    /// An anonymous, zero-filled region for use between threads of one process (and tests).
    pub fn anonymous(spec: RegionSpec) -> Result<Region, ShmError> {
        Self::anonymous_with(spec, |_| {})
    }

    /// [`Region::anonymous`] with an `init_payload` run before the header is published.
    pub fn anonymous_with(
        spec: RegionSpec,
        init_payload: impl FnOnce(*mut u8),
    ) -> Result<Region, ShmError> {
        spec.validate()?;
        let map = MmapOptions::new()
            .len(spec.file_bytes() as usize)
            .map_anon()
            .map_err(|source| ShmError::Io {
                path: PathBuf::from("<anonymous>"),
                source,
            })?;
        Ok(Self::init(map, spec, None, init_payload))
    }

    fn init(
        mut map: MmapMut,
        spec: RegionSpec,
        path: Option<PathBuf>,
        init_payload: impl FnOnce(*mut u8),
    ) -> Region {
        let base = map.as_mut_ptr();
        let created_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let header = base as *mut RegionHeader;
        // Safety: the mapping is page aligned and at least HEADER_BYTES long; the file was created
        // by us (O_EXCL) or is anonymous, so nobody trusts these fields until `initialised` is
        // published below with Release. Raw-pointer field writes avoid creating a `&mut` to
        // memory other processes may already be reading.
        unsafe {
            (&raw mut (*header).magic).write(MAGIC);
            (&raw mut (*header).layout_version).write(LAYOUT_VERSION);
            (&raw mut (*header).kind).write(spec.kind.code());
            (&raw mut (*header).layout_hash).write(crate::msg::layout_hash());
            (&raw mut (*header).capacity).write(spec.capacity);
            (&raw mut (*header).slot_size).write(spec.slot_size);
            (&raw mut (*header).payload_bytes).write(spec.payload_bytes);
            (&raw mut (*header).owner_uid).write(our_uid());
            (&raw mut (*header).creator_pid).write(std::process::id());
            (&raw mut (*header).created_ns).write(created_ns);
        }
        // Safety: the mapping is HEADER_BYTES + payload_bytes long (set_len/map_anon above).
        init_payload(unsafe { base.add(HEADER_BYTES) });
        // Safety: as above; this Release store publishes the header and the payload's init.
        unsafe { (*header).initialised.store(INITIALISED, Ordering::Release) };
        Region {
            _map: map,
            base,
            len: spec.file_bytes() as usize,
            spec,
            path,
        }
    }

    /// The header (complete: construction published or verified it).
    pub fn header(&self) -> &RegionHeader {
        // Safety: the mapping holds a header at offset 0 (checked or written at construction)
        // and lives as long as `self`; its plain fields no longer change.
        unsafe { &*(self.base as *const RegionHeader) }
    }

    /// Start of the payload: `HEADER_BYTES` into the mapping, so 4096-byte aligned.
    pub fn payload_ptr(&self) -> *mut u8 {
        // Safety: the mapping is at least HEADER_BYTES + payload_bytes long.
        unsafe { self.base.add(HEADER_BYTES) }
    }

    /// Bytes of payload (the spec's `payload_bytes`).
    pub fn payload_len(&self) -> usize {
        self.spec.payload_bytes as usize
    }

    /// The spec this region was created or attached with.
    pub fn spec(&self) -> RegionSpec {
        self.spec
    }

    /// The file backing this region, `None` when anonymous.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for bad in ["", ".", "..", "a/b", "a..b", "x y", "é"] {
            assert!(
                matches!(validate_name(bad), Err(ShmError::InvalidName { .. })),
                "{bad:?} accepted"
            );
        }
        for good in ["engine", "test-1", "md.ring", "A_b.c-9"] {
            assert!(validate_name(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn header_fits_first_page_and_payload_is_aligned() {
        let spec = RegionSpec {
            kind: RegionKind::Spsc,
            capacity: 8,
            slot_size: 64,
            payload_bytes: 1000,
        };
        let r = Region::anonymous(spec).unwrap();
        assert_eq!(r.payload_ptr() as usize % 4096, 0);
        assert_eq!(r.payload_len(), 1000);
        assert_eq!(r.header().spec(), Some(spec));
        assert!(r.header().is_initialised());
        assert_eq!(r.header().magic, MAGIC);
    }
}
