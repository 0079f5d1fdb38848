//! The loop's lifecycle: a stop mid-round, a wake on a config change, the end of the
//! senders, and resyncs on the interval.

use super::*;

#[test]
fn a_stop_during_a_round_abandons_the_rest_of_it() {
    let mut s = setup(true);
    s.fake.0.lock().unwrap().stop_during = Some(("restore V4".into(), s.stop.clone()));
    let (_tx, rx) = mpsc::channel();
    // run() returns by itself: the flag is set mid-round.
    s.agent.run(&rx);
    assert_eq!(s.fake.calls(), ["random-fully", "restore V4"]);
    assert!(matches!(s.agent.sync(), Err(SyncError::Stopped)));
    assert_eq!(s.fake.calls().len(), 2);
}

#[test]
fn a_tool_killed_by_the_stop_abandons_the_round_without_an_error() {
    let mut s = setup(true);
    {
        let mut r = s.fake.0.lock().unwrap();
        r.stop_during = Some(("restore V4".into(), s.stop.clone()));
        r.interrupted = true;
    }
    assert!(matches!(s.agent.sync(), Err(SyncError::Stopped)));
    assert_eq!(s.fake.calls(), ["random-fully", "restore V4"]);
}

#[test]
fn run_wakes_on_a_config_change_and_ends_on_stop() {
    let s = setup(false);
    s.write("resyncInterval: 1h\n");
    let (tx, rx) = mpsc::channel();
    let fake = s.fake.clone();
    let path = s.path.clone();
    let mut agent = s.agent;
    let runner = std::thread::spawn(move || {
        agent.run(&rx);
        agent
    });
    let wait_rounds = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while fake.calls().len() < n * 3 + 1 {
            assert!(Instant::now() < deadline, "rounds: {:?}", fake.calls());
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    wait_rounds(1);
    std::fs::write(
        &path,
        "nonMasqueradeCIDRs: [100.64.0.0/10]\nresyncInterval: 1h\n",
    )
    .unwrap();
    // A burst (as a ConfigMap swap makes) is one round, and the wake (not the 1 h
    // resync) starts it: without the wake, wait_rounds would run into its deadline.
    for _ in 0..5 {
        tx.send(Wake::ConfigChanged).unwrap();
    }
    wait_rounds(2);
    assert!(fake.last_payload(Family::V4).contains("100.64.0.0/10"));
    tx.send(Wake::Stop).unwrap();
    let agent = runner.join().unwrap();
    assert_eq!(agent.backend().calls().len(), 7, "{:?}", fake.calls());
}

#[test]
fn run_ends_when_every_sender_is_gone_and_resyncs_on_its_interval() {
    let mut s = setup(false);
    s.write("resyncInterval: 0s\n");
    let (tx, rx) = mpsc::channel::<Wake>();
    let fake = s.fake.clone();
    let restores = move || {
        fake.calls()
            .iter()
            .filter(|c| c.starts_with("restore"))
            .count()
    };
    let counted = restores.clone();
    let started = Instant::now();
    // The sender goes once three rounds have run: the interval, not a wake, drove two.
    let stopper = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(5);
        while counted() < 3 {
            assert!(Instant::now() < deadline, "three resync rounds");
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(tx);
    });
    s.agent.run(&rx);
    let ran_for = started.elapsed();
    stopper.join().unwrap();
    // A zero interval is clamped to MIN_INTERVAL: rounds are at least that far apart
    // (a bound that holds on a loaded machine too; it has no lower time bound).
    let rounds = restores();
    let most = (ran_for.as_millis() / MIN_INTERVAL.as_millis()) as usize + 1;
    assert!(
        (3..=most).contains(&rounds),
        "{rounds} rounds in {ran_for:?}: {:?}",
        s.fake.calls()
    );
}
