//! Process kinds (the UI, user processes) beat through `ControlBlock::beat_process`, which must
//! make their slot follow the kill switch exactly as the actor loop does for loop actors.

use runtime::control::{actor_state, ActorSpec, ControlBlock};

#[test]
fn a_process_slot_follows_start_kill_rearm_and_leaves_stopping_alone() {
    let cb = ControlBlock::anonymous("beat", &[ActorSpec::new("ui", "ui", Some(0))]).unwrap();
    let slot = cb.slot(0);
    slot.set_state(actor_state::STARTING);

    cb.beat_process(0, 10);
    assert_eq!(slot.state(), actor_state::RUNNING, "started");
    assert_eq!(slot.heartbeat(), 1);

    assert!(cb.kill("test", "halt"));
    cb.beat_process(0, 20);
    assert_eq!(slot.state(), actor_state::HALTED, "kill switch set");
    assert_eq!(slot.heartbeat(), 2, "a halted process still beats");

    assert!(cb.rearm("operator"));
    cb.beat_process(0, 30);
    assert_eq!(slot.state(), actor_state::RUNNING, "re-armed");

    slot.set_state(actor_state::STOPPING);
    assert!(cb.kill("test", "again"));
    cb.beat_process(0, 40);
    assert_eq!(
        slot.state(),
        actor_state::STOPPING,
        "a stopping process is not re-labelled"
    );
}
