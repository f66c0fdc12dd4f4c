//! Topology parsing and validation against a described machine: each bad case gives its own
//! error, located by file, line, column, actor and field. Expected positions were counted by
//! hand in the fixtures.

use std::path::{Path, PathBuf};

use runtime::idle::IdleStrategy;
use supervisor::machine::{FakeMachine, IoUring};
use supervisor::topology::{
    load, KindCatalog, RestartType, Strategy, Topology, TopologyError, VenueMode,
};

/// The standard kinds with the one requirement the engine insists on.
struct Catalog;

impl KindCatalog for Catalog {
    fn kinds(&self) -> Vec<String> {
        [
            "execution",
            "feed",
            "idle",
            "oracle",
            "sentinel",
            "sonar",
            "ui",
        ]
        .map(String::from)
        .to_vec()
    }
    fn requires(&self, kind: &str) -> Vec<String> {
        match kind {
            "execution" => vec!["sentinel".into()],
            _ => vec![],
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn two_cores() -> FakeMachine {
    FakeMachine::with_cores(2)
}

fn check(name: &str, machine: &FakeMachine) -> Result<Topology, TopologyError> {
    load(&fixture(name), &Catalog, machine)
}

/// The problems of a topology that must not validate, as rendered lines.
fn problems(name: &str, machine: &FakeMachine) -> Vec<String> {
    match check(name, machine) {
        Ok(t) => panic!("{name} validated: {t:?}"),
        Err(e) => e.problems(),
    }
}

fn located(name: &str, line: usize, col: usize) -> String {
    format!("{}:{line}:{col}:", fixture(name).display())
}

#[test]
fn good_topology_validates_with_every_field() {
    let t = check("good.ron", &two_cores()).expect("valid");
    assert_eq!(t.engine, "fixture");
    assert_eq!(t.shm_base, Path::new("/dev/shm"));
    assert_eq!(t.engine_dir(), Path::new("/dev/shm/fixture"));
    assert_eq!(t.housekeeping_cores, vec![0]);
    let names: Vec<&str> = t.actors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(t.actors[0].idle, IdleStrategy::default_backoff());
    assert_eq!(
        t.actors[1].idle,
        IdleStrategy::Backoff {
            spin_iterations: 100,
            yield_iterations: 10,
            min_sleep_us: 50,
            max_sleep_us: 2000
        }
    );
    assert_eq!(t.actors[0].restart, RestartType::Permanent);
    assert_eq!(t.actors[1].restart, RestartType::Transient);
    assert_eq!(t.actors[2].restart, RestartType::Temporary);
    assert_eq!(t.actors[2].sched_fifo.map(|f| f.priority), Some(10));
    assert_eq!(t.actors[2].index, 2);
    assert_eq!(t.supervision.strategy, Strategy::RestForOne);
    assert_eq!(t.supervision.max_restarts, 2);
    assert_eq!(t.supervision.period_ms, 5000);
    assert_eq!(t.supervision.heartbeat_timeout_ms, 300);
    assert_eq!(t.supervision.shutdown_timeout_ms, 2000, "default");
    let venue = t.venue.as_ref().expect("venue");
    assert_eq!(venue.mode, VenueMode::External);
    assert_eq!(venue.order_addr.to_string(), "127.0.0.1:9001");
    assert_eq!(t.ui_url().as_deref(), Some("http://127.0.0.1:8080/"));
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    // 512 KiB for glommio plus 64 KiB of io_uring buffers per actor.
    assert_eq!(t.required_memlock_bytes(), (512 + 3 * 64) * 1024);
}

#[test]
fn unknown_kind_lists_the_known_kinds() {
    let p = problems("unknown_kind.ron", &two_cores());
    assert_eq!(
        p,
        vec![format!(
            "{} actor `b`, field `kind`: unknown kind `oracel`; known kinds: execution, feed, \
             idle, oracle, sentinel, sonar, ui",
            located("unknown_kind.ron", 6, 27)
        )]
    );
}

#[test]
fn duplicate_name_points_at_both() {
    let p = problems("duplicate_name.ron", &two_cores());
    assert_eq!(
        p,
        vec![format!(
            "{} actor `twin`, field `name`: duplicate name: actor #0 at line 5 is already called \
             `twin`",
            located("duplicate_name.ron", 7, 16)
        )]
    );
}

#[test]
fn core_not_online_lists_the_online_cores() {
    let p = problems("core_offline.ron", &two_cores());
    assert_eq!(
        p,
        vec![format!(
            "{} actor `far`, field `core`: core 64 is not online (online cores: 0-1)",
            located("core_offline.ron", 5, 43)
        )]
    );
}

#[test]
fn core_outside_the_affinity_mask_lists_the_allowed_cores() {
    let machine = FakeMachine {
        allowed: vec![0],
        ..FakeMachine::with_cores(2)
    };
    let p = problems("good.ron", &machine);
    // a and b sit on core 1.
    assert_eq!(p.len(), 2, "{p:#?}");
    assert_eq!(
        p[0],
        format!(
            "{} actor `a`, field `core`: core 1 is online but this process may not run on it \
             (sched_getaffinity / cpuset allows: 0)",
            located("good.ron", 5, 41)
        )
    );
    assert!(
        p[1].contains("actor `b`, field `core`: core 1 is online but"),
        "{}",
        p[1]
    );
}

#[test]
fn two_busy_actors_on_one_core_are_refused() {
    let p = problems("two_spinners.ron", &two_cores());
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(
        p[0].starts_with(&format!(
            "{} actor `second`, field `core`: core 1 already has the busy actor `first`",
            located("two_spinners.ron", 6, 46)
        )),
        "{}",
        p[0]
    );
}

#[test]
fn busy_actor_on_a_housekeeping_core_is_refused() {
    let p = problems("spinner_on_housekeeping.ron", &two_cores());
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(
        p[0].starts_with(&format!(
            "{} actor `hog`, field `core`: a busy actor (idle: Spin) must not run on \
             housekeeping core 0",
            located("spinner_on_housekeeping.ron", 5, 43)
        )),
        "{}",
        p[0]
    );
}

#[test]
fn missing_required_actor_is_named() {
    let p = problems("missing_required.ron", &two_cores());
    assert_eq!(
        p,
        vec![format!(
            "{} actor `exec`, field `kind`: a `execution` actor needs a `sentinel` actor, and the \
             topology has none; add one",
            located("missing_required.ron", 5, 30)
        )]
    );
}

#[test]
fn memlock_too_low_gives_the_remedy() {
    let machine = FakeMachine {
        memlock_bytes: Some(256 * 1024),
        ..FakeMachine::with_cores(2)
    };
    let p = problems("good.ron", &machine);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(
        p[0].contains(
            "locked-memory limit (RLIMIT_MEMLOCK) is 256 KiB; 3 actors' executors need 704 KiB; \
             remedy: `ulimit -l 704`"
        ),
        "{}",
        p[0]
    );
    assert!(p[0].contains("/etc/security/limits.conf"), "{}", p[0]);
    // Exactly enough is enough; unlimited is enough.
    let machine = FakeMachine {
        memlock_bytes: Some(704 * 1024),
        ..FakeMachine::with_cores(2)
    };
    assert!(check("good.ron", &machine).is_ok());
}

#[test]
fn io_uring_unavailable_gives_the_cause() {
    let machine = FakeMachine {
        io_uring: IoUring::Unavailable {
            cause: "io_uring_disabled is 2".into(),
        },
        ..FakeMachine::with_cores(2)
    };
    let p = problems("good.ron", &machine);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(
        p[0].ends_with(
            "io_uring is unavailable, and every actor's glommio executor needs it: \
             io_uring_disabled is 2"
        ),
        "{}",
        p[0]
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let machine = FakeMachine {
        online: vec![0],
        allowed: vec![0],
        memlock_bytes: Some(0),
        io_uring: IoUring::Unavailable { cause: "x".into() },
    };
    // good.ron on a 1-core machine: a and b on core 1, memlock, io_uring.
    let p = problems("good.ron", &machine);
    assert_eq!(p.len(), 4, "{p:#?}");
}

#[test]
fn syntax_error_is_located() {
    match check("syntax_error.ron", &two_cores()) {
        Err(TopologyError::Syntax { pos, message, .. }) => {
            // The missing comma is noticed at the `(` that starts the next actor.
            assert_eq!((pos.line, pos.col), (6, 9), "{message}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn unknown_field_lists_the_expected_ones() {
    let err = check("unknown_field.ron", &two_cores()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("unknown_field.ron:5:"), "{text}");
    match err {
        TopologyError::Syntax { pos, message, .. } => {
            assert_eq!(pos.line, 5, "{message}");
            assert!(message.contains("unknown field `prio`"), "{message}");
            assert!(message.contains("sched_fifo"), "{message}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn unknown_strategy_lists_the_strategies() {
    match check("bad_strategy.ron", &two_cores()) {
        Err(TopologyError::Syntax { pos, message, .. }) => {
            assert_eq!(pos.line, 7, "{message}");
            assert!(
                message.contains(
                    "unknown value `one_for_some` for `Strategy`; expected one of: one_for_one, \
                     rest_for_one, one_for_all"
                ),
                "{message}"
            );
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn missing_file_is_a_read_error() {
    let err = check("no_such_file.ron", &two_cores()).unwrap_err();
    assert!(matches!(err, TopologyError::Read { .. }));
    assert!(err.to_string().contains("no_such_file.ron"), "{err}");
}

/// The shipped topologies: only a missing venue configuration may be wrong with them (the venue
/// crate provides config/venue.ron).
fn shipped(path: &str, cores: usize) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    match load(&file, &Catalog, &FakeMachine::with_cores(cores)) {
        Ok(t) => assert!(!t.actors.is_empty()),
        Err(TopologyError::Invalid { problems, .. }) => {
            for p in &problems {
                assert!(
                    p.field.as_deref() == Some("venue.config"),
                    "unexpected problem: {p}"
                );
            }
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn default_topology_fits_two_cores() {
    shipped("topology.ron", 2);
}

#[test]
fn sixteen_core_example_fits_sixteen_cores() {
    shipped("examples/topology-16core.ron", 16);
}
