//! `topology.ron`: which actors run, where, and how they are supervised.
//!
//! Two steps, so each is testable on its own (ripgrep's shape): the text is parsed into the raw
//! [`TopologyFile`] (serde + `ron`, which gives line and column for syntax and type errors), then
//! [`validate`] checks it against the registered kinds ([`KindCatalog`]) and the machine
//! ([`Machine`]) and produces the checked [`Topology`]. Validation collects every problem it
//! finds instead of stopping at the first, and each [`Problem`] names the file, line and column,
//! the actor and the field.
//!
//! Every field is documented in the README (section Topology).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use runtime::idle::IdleStrategy;
use serde::{Deserialize, Serialize};

use crate::locate::{Locations, Pos};
use crate::machine::{format_cpu_list, IoUring, Machine};

/// Most actors one engine may have (the control block has this many slots).
pub const MAX_ACTORS: usize = runtime::control::MAX_ACTORS;
/// Longest actor name in bytes (it is stored in the control block and used in file names).
pub const MAX_ACTOR_NAME_BYTES: usize = runtime::control::ACTOR_NAME_BYTES;
/// Longest engine name in bytes (it names the shared-memory directory).
pub const MAX_ENGINE_NAME_BYTES: usize = runtime::control::ENGINE_NAME_BYTES;
/// glommio refuses to build an executor when RLIMIT_MEMLOCK is below 512 KiB.
pub const GLOMMIO_MIN_MEMLOCK_BYTES: u64 = 512 * 1024;
/// io_uring buffer memory each actor's executor registers (glommio's minimum; actors do no file
/// I/O through glommio, so the default 10 MiB would only eat locked memory). Registered buffers
/// are charged to the user's locked memory, so every actor counts.
pub const EXECUTOR_IO_MEMORY_BYTES: u64 = 64 * 1024;
/// Bounds on supervision timings (a limit on everything; outside these the value is a typo).
pub const MAX_PERIOD_MS: u64 = 24 * 3600 * 1000;
pub const MAX_TIMEOUT_MS: u64 = 10 * 60 * 1000;
pub const MIN_HEARTBEAT_TIMEOUT_MS: u64 = 50;
pub const MAX_RESTARTS_CAP: u32 = 10_000;

// ----------------------------------------------------------------------------------------------
// Raw file
// ----------------------------------------------------------------------------------------------

/// `topology.ron` as written, before validation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, rename = "Topology")]
pub struct TopologyFile {
    /// Names the engine: its shared-memory directory is `<shm_dir>/<engine>`, and every CLI
    /// command other than `start` finds the running engine by it.
    pub engine: String,
    /// Base directory of the shared memory (default `/dev/shm`).
    #[serde(default)]
    pub shm_dir: Option<PathBuf>,
    /// Cores for the supervisor, the UI, the venue simulator and other polite threads.
    pub housekeeping_cores: Vec<usize>,
    /// Actors in start order (they stop in reverse).
    pub actors: Vec<ActorFile>,
    #[serde(default)]
    pub supervision: SupervisionFile,
    /// The venue the engine trades with; `None` runs without one (diagnostics, tests).
    #[serde(default)]
    pub venue: Option<VenueFile>,
    #[serde(default)]
    pub ui: Option<UiFile>,
}

/// One actor in the file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActorFile {
    pub name: String,
    pub kind: String,
    pub core: usize,
    #[serde(default)]
    pub idle: IdleStrategy,
    #[serde(default)]
    pub restart: RestartType,
    #[serde(default)]
    pub sched_fifo: Option<SchedFifo>,
    /// A kind-specific configuration file, relative to the topology file.
    #[serde(default)]
    pub config: Option<PathBuf>,
}

/// Erlang/OTP restart types.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RestartType {
    /// Always restarted, whatever the exit.
    #[default]
    Permanent,
    /// Restarted only after an abnormal exit (non-zero status, a signal, a stalled heartbeat).
    Transient,
    /// Never restarted.
    Temporary,
}

/// Opt-in real-time scheduling for one actor.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SchedFifo {
    /// SCHED_FIFO priority, 1 (lowest) to 99.
    pub priority: u8,
    /// RLIMIT_RTTIME soft limit: CPU time in ms the actor may use without blocking before the
    /// kernel sends SIGXCPU (the actor dies and is restarted). `None` leaves the limit as is.
    /// Never set it on a spinning actor: a spinner never blocks.
    #[serde(default)]
    pub rttime_limit_ms: Option<u64>,
}

/// Erlang/OTP restart strategies.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Restart only the child that failed.
    #[default]
    OneForOne,
    /// Restart the failed child and every child started after it.
    RestForOne,
    /// Restart every child.
    OneForAll,
}

/// Supervision settings.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SupervisionFile {
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default)]
    pub intensity: Intensity,
    /// How long a child has to stop after being asked before it is killed.
    #[serde(default = "default_shutdown_timeout_ms")]
    pub shutdown_timeout_ms: u64,
    /// A child whose heartbeat does not advance for this long is killed and restarted.
    #[serde(default = "default_heartbeat_timeout_ms")]
    pub heartbeat_timeout_ms: u64,
    /// How long a child has to report ready after it was spawned.
    #[serde(default = "default_start_timeout_ms")]
    pub start_timeout_ms: u64,
}

/// At most `max_restarts` restarts within any `period_ms` window; one more halts the engine.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Intensity {
    pub max_restarts: u32,
    pub period_ms: u64,
}

impl Default for Intensity {
    fn default() -> Self {
        Intensity {
            max_restarts: 5,
            period_ms: 10_000,
        }
    }
}

fn default_shutdown_timeout_ms() -> u64 {
    2_000
}
fn default_heartbeat_timeout_ms() -> u64 {
    1_000
}
fn default_start_timeout_ms() -> u64 {
    5_000
}

impl Default for SupervisionFile {
    fn default() -> Self {
        SupervisionFile {
            strategy: Strategy::default(),
            intensity: Intensity::default(),
            shutdown_timeout_ms: default_shutdown_timeout_ms(),
            heartbeat_timeout_ms: default_heartbeat_timeout_ms(),
            start_timeout_ms: default_start_timeout_ms(),
        }
    }
}

/// The venue.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub enum VenueFile {
    /// The built-in matching simulator, started by the supervisor as a child process.
    Simulator {
        config: PathBuf,
        #[serde(default = "default_order_addr")]
        order_addr: String,
        #[serde(default = "default_md_addr")]
        md_addr: String,
    },
    /// The simulator replaying recorded market data, started as a child process.
    Replay {
        config: PathBuf,
        #[serde(default = "default_order_addr")]
        order_addr: String,
        #[serde(default = "default_md_addr")]
        md_addr: String,
    },
    /// An external venue (or gateway) already listening.
    Tcp { order_addr: String, md_addr: String },
}

fn default_order_addr() -> String {
    "127.0.0.1:9001".to_string()
}
fn default_md_addr() -> String {
    "127.0.0.1:9002".to_string()
}

/// The cockpit's web server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UiFile {
    #[serde(default = "default_ui_addr")]
    pub addr: String,
    /// File holding the bearer token the cockpit requires for the kill switch and other writes.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

fn default_ui_addr() -> String {
    "127.0.0.1:8080".to_string()
}

// ----------------------------------------------------------------------------------------------
// Checked topology
// ----------------------------------------------------------------------------------------------

/// A validated topology: everything in it has been checked against the registry and the machine.
#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    /// The file it came from (absolute when it could be made so).
    pub source: PathBuf,
    pub engine: String,
    /// Base directory; the engine's directory is [`Topology::engine_dir`].
    pub shm_base: PathBuf,
    pub housekeeping_cores: Vec<usize>,
    pub actors: Vec<ActorSpec>,
    pub supervision: Supervision,
    pub venue: Option<Venue>,
    pub ui: Option<Ui>,
    /// Things that work but probably are not what was meant.
    pub warnings: Vec<Problem>,
}

/// A checked actor.
#[derive(Clone, Debug, PartialEq)]
pub struct ActorSpec {
    /// Position in start order; also the actor's slot index in the control block.
    pub index: usize,
    pub name: String,
    pub kind: String,
    pub core: usize,
    pub idle: IdleStrategy,
    pub restart: RestartType,
    pub sched_fifo: Option<SchedFifo>,
    /// Absolute path of the kind-specific configuration file.
    pub config: Option<PathBuf>,
}

/// Checked supervision settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Supervision {
    pub strategy: Strategy,
    pub max_restarts: u32,
    pub period_ms: u64,
    pub shutdown_timeout_ms: u64,
    pub heartbeat_timeout_ms: u64,
    pub start_timeout_ms: u64,
}

/// Checked venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Venue {
    pub mode: VenueMode,
    pub order_addr: SocketAddr,
    pub md_addr: SocketAddr,
}

/// How the venue is provided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VenueMode {
    /// Started by the supervisor: `venue-serve --config <config>`.
    Simulator {
        config: PathBuf,
    },
    Replay {
        config: PathBuf,
    },
    /// Already running elsewhere.
    External,
}

/// Checked UI settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ui {
    pub addr: SocketAddr,
    pub token_file: Option<PathBuf>,
}

impl Topology {
    /// `<shm_base>/<engine>`: the engine's shared-memory directory.
    pub fn engine_dir(&self) -> PathBuf {
        self.shm_base.join(&self.engine)
    }

    /// The actor called `name`.
    pub fn actor(&self, name: &str) -> Option<&ActorSpec> {
        self.actors.iter().find(|a| a.name == name)
    }

    /// The cockpit's URL, when a UI is configured.
    pub fn ui_url(&self) -> Option<String> {
        self.ui.as_ref().map(|u| format!("http://{}/", u.addr))
    }

    /// Locked memory the executors need: glommio's per-process minimum plus the io_uring buffers
    /// every actor registers (charged to the user).
    pub fn required_memlock_bytes(&self) -> u64 {
        GLOMMIO_MIN_MEMLOCK_BYTES + EXECUTOR_IO_MEMORY_BYTES * self.actors.len() as u64
    }
}

// ----------------------------------------------------------------------------------------------
// Errors
// ----------------------------------------------------------------------------------------------

/// One thing wrong (or suspicious) in a topology, located as precisely as possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub pos: Option<Pos>,
    pub actor: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(pos) = self.pos {
            write!(f, ":{}:{}", pos.line, pos.col)?;
        }
        write!(f, ":")?;
        if let Some(actor) = &self.actor {
            write!(f, " actor `{actor}`")?;
            if self.field.is_some() {
                write!(f, ",")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, " field `{field}`")?;
        }
        if self.actor.is_some() || self.field.is_some() {
            write!(f, ":")?;
        }
        write!(f, " {}", self.message)
    }
}

/// Why a topology could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("cannot read topology {}: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{}:{}: {message}", file.display(), pos.line, pos.col)]
    Syntax {
        file: PathBuf,
        pos: Pos,
        message: String,
    },
    #[error("{}", render_problems(file, problems))]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
}

fn render_problems(file: &Path, problems: &[Problem]) -> String {
    let mut out = format!(
        "{}: {} problem{} in the topology:",
        file.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    out
}

impl TopologyError {
    /// The problems found (one for a read or syntax error).
    pub fn problems(&self) -> Vec<String> {
        match self {
            TopologyError::Invalid { problems, .. } => {
                problems.iter().map(|p| p.to_string()).collect()
            }
            other => vec![other.to_string()],
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Parse and validate
// ----------------------------------------------------------------------------------------------

/// What validation needs from the registry of actor kinds.
pub trait KindCatalog {
    /// Every registered kind, sorted.
    fn kinds(&self) -> Vec<String>;
    /// Kinds that must also be present in a topology that has `kind`.
    fn requires(&self, kind: &str) -> Vec<String>;
}

/// A parsed file with the positions of its values.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub file: PathBuf,
    pub raw: TopologyFile,
    pub locations: Locations,
}

/// Parse `src` (the contents of `file`) into the raw form.
pub fn parse(file: &Path, src: &str) -> Result<Parsed, TopologyError> {
    let raw: TopologyFile = ron::from_str(src).map_err(|e| TopologyError::Syntax {
        file: file.to_path_buf(),
        pos: Pos {
            line: e.position.line,
            col: e.position.col,
        },
        message: describe_ron_error(&e.code),
    })?;
    Ok(Parsed {
        file: file.to_path_buf(),
        raw,
        locations: Locations::scan(src),
    })
}

fn describe_ron_error(code: &ron::Error) -> String {
    match code {
        ron::Error::NoSuchStructField {
            expected,
            found,
            outer,
        } => format!(
            "unknown field `{found}`{}; expected one of: {}",
            outer
                .as_ref()
                .map(|o| format!(" in `{o}`"))
                .unwrap_or_default(),
            expected.join(", ")
        ),
        ron::Error::MissingStructField { field, outer } => format!(
            "missing field `{field}`{}",
            outer
                .as_ref()
                .map(|o| format!(" in `{o}`"))
                .unwrap_or_default()
        ),
        ron::Error::NoSuchEnumVariant {
            expected,
            found,
            outer,
        } => format!(
            "unknown value `{found}`{}; expected one of: {}",
            outer
                .as_ref()
                .map(|o| format!(" for `{o}`"))
                .unwrap_or_default(),
            expected.join(", ")
        ),
        other => other.to_string(),
    }
}

/// Read, parse and validate the topology at `file`.
pub fn load(
    file: &Path,
    kinds: &dyn KindCatalog,
    machine: &dyn Machine,
) -> Result<Topology, TopologyError> {
    let src = std::fs::read_to_string(file).map_err(|source| TopologyError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    let parsed = parse(file, &src)?;
    validate(&parsed, kinds, machine)
}

/// Collects problems with their positions.
struct Report<'a> {
    parsed: &'a Parsed,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Report<'_> {
    fn problem(
        &self,
        path: &str,
        actor: Option<&str>,
        field: Option<&str>,
        msg: String,
    ) -> Problem {
        // The field's own position, else its parent's (e.g. a defaulted field's struct).
        let mut pos = self.parsed.locations.get(path);
        let mut parent = path;
        while pos.is_none() {
            match parent.rfind(['.', '[']) {
                Some(cut) => {
                    parent = &parent[..cut];
                    pos = self.parsed.locations.get(parent);
                }
                None => {
                    pos = self.parsed.locations.get("");
                    break;
                }
            }
        }
        Problem {
            file: self.parsed.file.clone(),
            pos,
            actor: actor.map(str::to_string),
            field: field.map(str::to_string),
            message: msg,
        }
    }

    fn error(&mut self, path: &str, actor: Option<&str>, field: Option<&str>, msg: String) {
        let p = self.problem(path, actor, field, msg);
        self.errors.push(p);
    }

    fn warn(&mut self, path: &str, actor: Option<&str>, field: Option<&str>, msg: String) {
        let p = self.problem(path, actor, field, msg);
        self.warnings.push(p);
    }
}

fn valid_name(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > max {
        return Err(format!("is {} bytes long; the limit is {max}", name.len()));
    }
    if name.starts_with(['.', '-']) {
        return Err("must not start with `.` or `-`".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "contains {bad:?}; use letters, digits, `_`, `-` and `.` only"
        ));
    }
    Ok(())
}

/// Check a parsed topology against the registered kinds and the machine.
pub fn validate(
    parsed: &Parsed,
    kinds: &dyn KindCatalog,
    machine: &dyn Machine,
) -> Result<Topology, TopologyError> {
    let raw = &parsed.raw;
    let mut r = Report {
        parsed,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let base_dir = parsed
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let resolve = |p: &Path| -> PathBuf {
        let joined = if p.is_absolute() {
            p.to_path_buf()
        } else {
            base_dir.join(p)
        };
        std::path::absolute(&joined).unwrap_or(joined)
    };

    // Engine name and shared-memory base.
    if let Err(why) = valid_name(&raw.engine, MAX_ENGINE_NAME_BYTES) {
        r.error("engine", None, Some("engine"), format!("engine name {why}"));
    }
    let shm_base = raw
        .shm_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(runtime::shm::DEFAULT_BASE));
    if !shm_base.is_absolute() {
        r.error(
            "shm_dir",
            None,
            Some("shm_dir"),
            format!("`{}` must be an absolute path", shm_base.display()),
        );
    } else if !shm_base.is_dir() {
        r.error(
            "shm_dir",
            None,
            Some("shm_dir"),
            format!(
                "`{}` is not an existing directory (shared memory lives there; /dev/shm is a \
                 tmpfs on every Linux)",
                shm_base.display()
            ),
        );
    }

    // Cores.
    let online = machine.online_cores();
    let allowed = machine.allowed_cores();
    let core_problem = |core: usize| -> Option<String> {
        if !online.contains(&core) {
            Some(format!(
                "core {core} is not online (online cores: {})",
                format_cpu_list(&online)
            ))
        } else if !allowed.contains(&core) {
            Some(format!(
                "core {core} is online but this process may not run on it (sched_getaffinity / \
                 cpuset allows: {})",
                format_cpu_list(&allowed)
            ))
        } else {
            None
        }
    };
    if raw.housekeeping_cores.is_empty() {
        r.error(
            "housekeeping_cores",
            None,
            Some("housekeeping_cores"),
            "at least one housekeeping core is needed for the supervisor, UI and venue".into(),
        );
    }
    for (i, &core) in raw.housekeeping_cores.iter().enumerate() {
        if let Some(why) = core_problem(core) {
            r.error(
                &format!("housekeeping_cores[{i}]"),
                None,
                Some("housekeeping_cores"),
                why,
            );
        }
    }

    // Actors.
    let known = kinds.kinds();
    if raw.actors.is_empty() {
        r.error(
            "actors",
            None,
            Some("actors"),
            "no actors: nothing to run".into(),
        );
    }
    if raw.actors.len() > MAX_ACTORS {
        r.error(
            "actors",
            None,
            Some("actors"),
            format!(
                "{} actors; the control block has {MAX_ACTORS} slots",
                raw.actors.len()
            ),
        );
    }
    let mut first_by_name: HashMap<&str, usize> = HashMap::new();
    let mut busy_by_core: BTreeMap<usize, &str> = BTreeMap::new();
    let mut actors = Vec::with_capacity(raw.actors.len());
    for (i, a) in raw.actors.iter().enumerate() {
        let at = |field: &str| format!("actors[{i}].{field}");
        let name = a.name.as_str();
        if let Err(why) = valid_name(name, MAX_ACTOR_NAME_BYTES) {
            r.error(
                &at("name"),
                Some(name),
                Some("name"),
                format!("actor name {why}"),
            );
        }
        if let Some(&first) = first_by_name.get(name) {
            let first_pos = parsed
                .locations
                .get(&format!("actors[{first}].name"))
                .map(|p| format!(" at line {}", p.line))
                .unwrap_or_default();
            r.error(
                &at("name"),
                Some(name),
                Some("name"),
                format!("duplicate name: actor #{first}{first_pos} is already called `{name}`"),
            );
        } else {
            first_by_name.insert(name, i);
        }
        if !known.iter().any(|k| k == &a.kind) {
            r.error(
                &at("kind"),
                Some(name),
                Some("kind"),
                format!(
                    "unknown kind `{}`; known kinds: {}",
                    a.kind,
                    if known.is_empty() {
                        "none registered".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
        if let Some(why) = core_problem(a.core) {
            r.error(&at("core"), Some(name), Some("core"), why);
        }
        if let Err(why) = a.idle.validate() {
            r.error(&at("idle"), Some(name), Some("idle"), why.to_string());
        }
        let busy = a.idle.is_busy();
        if busy && raw.housekeeping_cores.contains(&a.core) {
            r.error(
                &at("core"),
                Some(name),
                Some("core"),
                format!(
                    "a busy actor (idle: {:?}) must not run on housekeeping core {}: it would \
                     starve the supervisor; use Backoff or move it",
                    a.idle, a.core
                ),
            );
        }
        if busy {
            if let Some(other) = busy_by_core.get(&a.core) {
                r.error(
                    &at("core"),
                    Some(name),
                    Some("core"),
                    format!(
                        "core {} already has the busy actor `{other}`; two busy actors on one \
                         core take turns at the scheduler's pace; give one its own core or use \
                         Backoff",
                        a.core
                    ),
                );
            } else {
                busy_by_core.insert(a.core, name);
            }
        }
        if let Some(fifo) = a.sched_fifo {
            if !(1..=99).contains(&fifo.priority) {
                r.error(
                    &format!("actors[{i}].sched_fifo.priority"),
                    Some(name),
                    Some("sched_fifo.priority"),
                    format!("priority {} is outside 1..=99", fifo.priority),
                );
            }
            if busy && fifo.rttime_limit_ms.is_some() {
                r.error(
                    &format!("actors[{i}].sched_fifo.rttime_limit_ms"),
                    Some(name),
                    Some("sched_fifo.rttime_limit_ms"),
                    "a busy actor never blocks, so RLIMIT_RTTIME would kill it; remove the limit \
                     or use Backoff"
                        .into(),
                );
            }
            if busy {
                r.warn(
                    &at("sched_fifo"),
                    Some(name),
                    Some("sched_fifo"),
                    "SCHED_FIFO on a spinning actor: RT throttling (sched_rt_runtime_us) will \
                     pause it and per-CPU kernel threads on its core starve"
                        .into(),
                );
            }
        }
        let config = a.config.as_deref().map(resolve);
        if let Some(cfg) = &config {
            if !cfg.is_file() {
                r.error(
                    &at("config"),
                    Some(name),
                    Some("config"),
                    format!("configuration file `{}` does not exist", cfg.display()),
                );
            }
        }
        actors.push(ActorSpec {
            index: i,
            name: a.name.clone(),
            kind: a.kind.clone(),
            core: a.core,
            idle: a.idle.clone(),
            restart: a.restart,
            sched_fifo: a.sched_fifo,
            config,
        });
    }
    // A polite actor sharing a core with a busy one gets scheduler slices (milliseconds).
    for (i, a) in raw.actors.iter().enumerate() {
        if a.idle.is_busy() {
            continue;
        }
        if let Some(busy) = busy_by_core.get(&a.core) {
            r.warn(
                &format!("actors[{i}].core"),
                Some(&a.name),
                Some("core"),
                format!(
                    "shares core {} with the busy actor `{busy}`: expect millisecond pauses",
                    a.core
                ),
            );
        }
    }
    // Required kinds.
    let present: Vec<&str> = raw.actors.iter().map(|a| a.kind.as_str()).collect();
    for (i, a) in raw.actors.iter().enumerate() {
        for need in kinds.requires(&a.kind) {
            if !present.contains(&need.as_str()) {
                r.error(
                    &format!("actors[{i}].kind"),
                    Some(&a.name),
                    Some("kind"),
                    format!(
                        "a `{}` actor needs a `{need}` actor, and the topology has none; add one",
                        a.kind
                    ),
                );
            }
        }
    }

    // Supervision.
    let s = raw.supervision;
    if s.intensity.max_restarts > MAX_RESTARTS_CAP {
        r.error(
            "supervision.intensity.max_restarts",
            None,
            Some("supervision.intensity.max_restarts"),
            format!(
                "{} is above the cap of {MAX_RESTARTS_CAP}",
                s.intensity.max_restarts
            ),
        );
    }
    if s.intensity.period_ms == 0 || s.intensity.period_ms > MAX_PERIOD_MS {
        r.error(
            "supervision.intensity.period_ms",
            None,
            Some("supervision.intensity.period_ms"),
            format!(
                "{} must be between 1 and {MAX_PERIOD_MS}",
                s.intensity.period_ms
            ),
        );
    }
    for (field, value, min) in [
        ("shutdown_timeout_ms", s.shutdown_timeout_ms, 1),
        ("start_timeout_ms", s.start_timeout_ms, 1),
        (
            "heartbeat_timeout_ms",
            s.heartbeat_timeout_ms,
            MIN_HEARTBEAT_TIMEOUT_MS,
        ),
    ] {
        if value < min || value > MAX_TIMEOUT_MS {
            r.error(
                &format!("supervision.{field}"),
                None,
                Some(&format!("supervision.{field}")),
                format!("{value} must be between {min} and {MAX_TIMEOUT_MS}"),
            );
        }
    }
    // A backing-off actor sleeps up to max_sleep_us between heartbeats; the watchdog must allow
    // several such sleeps or it kills healthy idle actors.
    for (i, a) in raw.actors.iter().enumerate() {
        if let IdleStrategy::Backoff { max_sleep_us, .. } = a.idle {
            let needed_ms = 5 * u64::from(max_sleep_us).div_ceil(1000);
            if s.heartbeat_timeout_ms < needed_ms {
                r.error(
                    "supervision.heartbeat_timeout_ms",
                    Some(&a.name),
                    Some("supervision.heartbeat_timeout_ms"),
                    format!(
                        "{} ms is too short for actor #{i} that sleeps up to {max_sleep_us} µs \
                         between heartbeats; use at least {needed_ms} ms",
                        s.heartbeat_timeout_ms
                    ),
                );
            }
        }
    }

    // Venue.
    let parse_addr = |r: &mut Report, path: &str, text: &str| -> Option<SocketAddr> {
        match text.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(e) => {
                r.error(
                    path,
                    None,
                    Some(path),
                    format!("`{text}` is not an address like 127.0.0.1:9001 ({e})"),
                );
                None
            }
        }
    };
    let venue = match &raw.venue {
        None => None,
        Some(VenueFile::Simulator {
            config,
            order_addr,
            md_addr,
        })
        | Some(VenueFile::Replay {
            config,
            order_addr,
            md_addr,
        }) => {
            let cfg = resolve(config);
            if !cfg.is_file() {
                r.error(
                    "venue.config",
                    None,
                    Some("venue.config"),
                    format!("venue configuration `{}` does not exist", cfg.display()),
                );
            }
            let o = parse_addr(&mut r, "venue.order_addr", order_addr);
            let m = parse_addr(&mut r, "venue.md_addr", md_addr);
            let mode = if matches!(raw.venue, Some(VenueFile::Simulator { .. })) {
                VenueMode::Simulator { config: cfg }
            } else {
                VenueMode::Replay { config: cfg }
            };
            o.zip(m).map(|(order_addr, md_addr)| Venue {
                mode,
                order_addr,
                md_addr,
            })
        }
        Some(VenueFile::Tcp {
            order_addr,
            md_addr,
        }) => {
            let o = parse_addr(&mut r, "venue.order_addr", order_addr);
            let m = parse_addr(&mut r, "venue.md_addr", md_addr);
            o.zip(m).map(|(order_addr, md_addr)| Venue {
                mode: VenueMode::External,
                order_addr,
                md_addr,
            })
        }
    };

    // UI.
    let ui = match &raw.ui {
        None => None,
        Some(u) => {
            let addr = parse_addr(&mut r, "ui.addr", &u.addr);
            let token_file = u.token_file.as_deref().map(resolve);
            if let Some(tf) = &token_file {
                if !tf.parent().is_some_and(Path::is_dir) {
                    r.error(
                        "ui.token_file",
                        None,
                        Some("ui.token_file"),
                        format!("the directory of `{}` does not exist", tf.display()),
                    );
                }
            }
            addr.map(|addr| Ui { addr, token_file })
        }
    };

    // The machine's ability to run executors.
    let required = GLOMMIO_MIN_MEMLOCK_BYTES + EXECUTOR_IO_MEMORY_BYTES * raw.actors.len() as u64;
    if let Some(limit) = machine.memlock_limit_bytes() {
        if limit < required {
            r.error(
                "actors",
                None,
                Some("actors"),
                format!(
                    "locked-memory limit (RLIMIT_MEMLOCK) is {} KiB; {} actors' executors need \
                     {} KiB; remedy: `ulimit -l {}` (or unlimited) in the shell that starts the \
                     supervisor, or `<user> - memlock {}` in /etc/security/limits.conf \
                     (LimitMEMLOCK= for a systemd unit)",
                    limit / 1024,
                    raw.actors.len(),
                    required.div_ceil(1024),
                    required.div_ceil(1024),
                    required.div_ceil(1024)
                ),
            );
        }
    }
    if let IoUring::Unavailable { cause } = machine.io_uring() {
        r.error(
            "",
            None,
            None,
            format!(
                "io_uring is unavailable, and every actor's glommio executor needs it: {cause}"
            ),
        );
    }

    if !r.errors.is_empty() {
        return Err(TopologyError::Invalid {
            file: parsed.file.clone(),
            problems: r.errors,
        });
    }
    let source = std::path::absolute(&parsed.file).unwrap_or_else(|_| parsed.file.clone());
    Ok(Topology {
        source,
        engine: raw.engine.clone(),
        shm_base,
        housekeeping_cores: raw.housekeeping_cores.clone(),
        actors,
        supervision: Supervision {
            strategy: s.strategy,
            max_restarts: s.intensity.max_restarts,
            period_ms: s.intensity.period_ms,
            shutdown_timeout_ms: s.shutdown_timeout_ms,
            heartbeat_timeout_ms: s.heartbeat_timeout_ms,
            start_timeout_ms: s.start_timeout_ms,
        },
        venue,
        ui,
        warnings: r.warnings,
    })
}

/// Find the engine name (and shm base) of a topology file without validating it against the
/// machine, for commands that attach to a running engine: they must work even when, say, the
/// machine's cores changed since start.
pub fn engine_of(file: &Path) -> Result<(String, PathBuf), TopologyError> {
    let src = std::fs::read_to_string(file).map_err(|source| TopologyError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    let parsed = parse(file, &src)?;
    let base = parsed
        .raw
        .shm_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(runtime::shm::DEFAULT_BASE));
    Ok((parsed.raw.engine, base))
}
