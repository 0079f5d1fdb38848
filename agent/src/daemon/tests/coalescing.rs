//! Change events are coalesced: events over the same bytes cost no round, and a flood
//! costs at most one round per resync period plus one per real change.

use super::*;
use std::path::Path;
use std::time::SystemTime;

/// Rounds that applied (each restores the IPv4 chain once).
fn rounds(fake: &Fake) -> usize {
    fake.calls()
        .iter()
        .filter(|c| c.starts_with("restore"))
        .count()
}

fn wait_for_rounds(fake: &Fake, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while rounds(fake) < n {
        assert!(Instant::now() < deadline, "rounds: {:?}", fake.calls());
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Sends change events every `every` for `how_long`, touching the file's times (not its
/// bytes) every tenth event, as a loop running `touch` on the config does.
fn flood(tx: &mpsc::Sender<Wake>, path: &Path, how_long: Duration, every: Duration) -> usize {
    let start = Instant::now();
    let mut sent = 0;
    while start.elapsed() < how_long {
        if sent % 10 == 0 {
            let file = std::fs::File::options().write(true).open(path).unwrap();
            file.set_modified(SystemTime::now()).unwrap();
        }
        tx.send(Wake::ConfigChanged).unwrap();
        sent += 1;
        std::thread::sleep(every);
    }
    sent
}

#[test]
fn events_over_the_same_bytes_cost_no_round_and_a_real_change_costs_one() {
    let s = setup(false);
    s.write("resyncInterval: 1h\n");
    let (tx, rx) = mpsc::channel();
    let (fake, path) = (s.fake.clone(), s.path.clone());
    let mut agent = s.agent;
    let runner = std::thread::spawn(move || agent.run(&rx));
    wait_for_rounds(&fake, 1);
    let sent = flood(
        &tx,
        &path,
        Duration::from_millis(600),
        Duration::from_millis(2),
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(rounds(&fake), 1, "{sent} events: {:?}", fake.calls());
    // A real change in the middle of a flood: one round, with the new config.
    std::fs::write(
        &path,
        "nonMasqueradeCIDRs: [100.64.0.0/10]\nresyncInterval: 1h\n",
    )
    .unwrap();
    flood(
        &tx,
        &path,
        Duration::from_millis(300),
        Duration::from_millis(2),
    );
    wait_for_rounds(&fake, 2);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(rounds(&fake), 2, "{:?}", fake.calls());
    assert!(fake.last_payload(Family::V4).contains("100.64.0.0/10"));
    tx.send(Wake::Stop).unwrap();
    runner.join().unwrap();
}

#[test]
fn a_flood_costs_at_most_one_round_per_resync_period() {
    let s = setup(false);
    s.write("resyncInterval: 250ms\n");
    let (tx, rx) = mpsc::channel();
    let (fake, path) = (s.fake.clone(), s.path.clone());
    let mut agent = s.agent;
    let runner = std::thread::spawn(move || agent.run(&rx));
    wait_for_rounds(&fake, 1);
    let start = Instant::now();
    let sent = flood(
        &tx,
        &path,
        Duration::from_millis(1500),
        Duration::from_millis(1),
    );
    let periods = start.elapsed().as_millis() / 250;
    tx.send(Wake::Stop).unwrap();
    runner.join().unwrap();
    // The first round, then one per period (the flood neither adds rounds nor, by
    // resetting the timer, removes them; a slow machine may run one period short).
    let n = rounds(&fake);
    assert!(
        (periods as usize - 2..=periods as usize + 1).contains(&(n - 1)),
        "{n} rounds in {periods} periods with {sent} events: {:?}",
        fake.calls()
    );
}
