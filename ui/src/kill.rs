//! The kill path as the UI actor runs it: the press is received (time taken first), the flag is
//! written into the control block, then a watcher thread polls the actor slots until every hot
//! actor reports HALTED and records press → all HALTED. The watch is bounded in time; the
//! latest measurement is carried in every frame until the next press.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runtime::clock::monotonic_ns;

use crate::frame::KillLatency;
use crate::view::{EngineView, SlotReading, ViewError};

/// How long the watcher spins (yielding) before it sleeps between polls: kills normally
/// complete within microseconds, and sleeping would blur the measurement by the timer slack.
const SPIN_NS: u64 = 20_000_000;
/// Poll period after the spin phase.
const POLL_SLEEP: Duration = Duration::from_micros(200);

/// Names of hot actors that have not halted yet.
pub fn waiting_for(slots: &[SlotReading]) -> Vec<String> {
    slots
        .iter()
        .filter(|s| s.is_hot() && !s.is_halted())
        .map(|s| s.name.clone())
        .collect()
}

/// Latest kill-seen time among hot actors, relative to the press.
fn last_saw_after(received_ns: u64) -> impl Fn(&[SlotReading]) -> Option<u64> {
    move |slots| {
        slots
            .iter()
            .filter(|s| s.is_hot() && s.kill_seen_ns != 0)
            .map(|s| s.kill_seen_ns.saturating_sub(received_ns))
            .max()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KillReply {
    pub ok: bool,
    /// The flag was already set before this press (nothing new measured).
    pub already_set: bool,
    pub received_ns: u64,
    pub flag_written_ns: u64,
}

/// Shared between the HTTP handler, the watcher thread and the sampler.
#[derive(Debug, Default)]
pub struct KillTracker {
    latest: Mutex<Option<KillLatency>>,
    watching: AtomicBool,
}

impl KillTracker {
    pub fn latest(&self) -> Option<KillLatency> {
        self.latest.lock().map(|g| g.clone()).unwrap_or(None)
    }

    fn set(&self, v: KillLatency) {
        if let Ok(mut g) = self.latest.lock() {
            *g = Some(v);
        }
    }

    fn update(&self, f: impl FnOnce(&mut KillLatency)) {
        if let Ok(mut g) = self.latest.lock() {
            if let Some(v) = g.as_mut() {
                f(v);
            }
        }
    }

    /// Forget the measurement (after a re-arm).
    pub fn clear(&self) {
        if let Ok(mut g) = self.latest.lock() {
            *g = None;
        }
    }
}

/// Write the kill flag for a press received at `received_ns`, then watch in a thread.
pub fn press(
    view: &Arc<dyn EngineView>,
    tracker: &Arc<KillTracker>,
    received_ns: u64,
    by: &str,
    reason: &str,
    watch_timeout_ns: u64,
) -> Result<KillReply, ViewError> {
    let newly_set = view.kill(by, reason)?;
    let flag_written_ns = monotonic_ns();
    let reply = KillReply {
        ok: true,
        already_set: !newly_set,
        received_ns,
        flag_written_ns,
    };
    if !newly_set || tracker.watching.swap(true, Ordering::AcqRel) {
        return Ok(reply);
    }
    let initial = view.slots().map(|s| waiting_for(&s)).unwrap_or_default();
    tracker.set(KillLatency {
        received_ns,
        flag_written_after_ns: flag_written_ns.saturating_sub(received_ns),
        all_halted_after_ns: None,
        last_actor_saw_after_ns: None,
        waiting_for: initial,
        timed_out: false,
    });
    let view = Arc::clone(view);
    let watcher = Arc::clone(tracker);
    let spawned = std::thread::Builder::new()
        .name("ui-kill-watch".into())
        .spawn(move || {
            watch(&*view, &watcher, received_ns, watch_timeout_ns);
            watcher.watching.store(false, Ordering::Release);
        });
    if let Err(e) = spawned {
        tracker.watching.store(false, Ordering::Release);
        tracker.update(|k| k.timed_out = true);
        eprintln!("ui: cannot start the kill watcher ({e}); the flag is set, latency unmeasured");
    }
    Ok(reply)
}

/// Poll the slots until every hot actor halted or the timeout passed.
fn watch(view: &dyn EngineView, tracker: &KillTracker, received_ns: u64, timeout_ns: u64) {
    let mut last_waiting: Option<Vec<String>> = None;
    loop {
        let now = monotonic_ns();
        let slots = view.slots().ok();
        let waiting = match &slots {
            Some(s) => waiting_for(s),
            None => last_waiting.clone().unwrap_or_default(),
        };
        if waiting.is_empty() {
            let after = now.saturating_sub(received_ns);
            let saw = slots.as_deref().and_then(last_saw_after(received_ns));
            tracker.update(|k| {
                k.all_halted_after_ns = Some(after);
                k.last_actor_saw_after_ns = saw;
                k.waiting_for.clear();
            });
            return;
        }
        if last_waiting.as_ref() != Some(&waiting) {
            let w = waiting.clone();
            tracker.update(|k| k.waiting_for = w);
            last_waiting = Some(waiting);
        }
        let elapsed = now.saturating_sub(received_ns);
        if elapsed > timeout_ns {
            tracker.update(|k| k.timed_out = true);
            return;
        }
        if elapsed < SPIN_NS {
            std::thread::yield_now();
        } else {
            std::thread::sleep(POLL_SLEEP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(name: &str, kind: &str, state: &str) -> SlotReading {
        SlotReading {
            index: 0,
            name: name.into(),
            kind: kind.into(),
            pid: 1,
            core: 0,
            state: state.into(),
            heartbeat_ns: 0,
            last_progress_ns: 0,
            restarts: 0,
            msgs_in: 0,
            msgs_out: 0,
            latency_p50_ns: 0,
            latency_p99_ns: 0,
            kill_seen_ns: 0,
        }
    }

    #[test]
    fn the_ui_is_not_waited_for_and_exited_actors_count_as_halted() {
        let s = vec![
            slot("feed", "feed", "HALTED"),
            slot("oracle", "oracle", "RUNNING"),
            slot("ui", "ui", "RUNNING"),
            slot("exec", "execution", "DEAD"),
            slot("sonar", "sonar", "running"),
        ];
        assert_eq!(
            waiting_for(&s),
            vec!["oracle".to_string(), "sonar".to_string()]
        );
    }
}
