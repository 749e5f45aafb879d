//! The WAL under SIGKILL: a child process appends and reports acked LSNs; the
//! parent kills it at a random moment, reopens the log and checks that every
//! acknowledged record is present, intact and in order.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use quiver_storage::{Lsn, Wal, WalOptions};

use crate::{ok, tempdir};

const DIR_VAR: &str = "QUIVER_WAL_CRASH_DIR";

/// Payload of writer `t`'s `seq`-th record, so replay can check contents.
fn payload(t: u64, seq: u64) -> Vec<u8> {
    let len = 16 + ((t * 31 + seq) as usize * 7919) % 3000;
    (0..len).map(|i| (t + seq + i as u64) as u8).collect()
}

/// The child side: runs only when spawned by `wal_survives_sigkill`.
#[test]
#[ignore]
fn wal_crash_child() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let opts = WalOptions {
        segment_bytes: 64 * 1024,
        sync: true,
    };
    let (wal, _) = ok(Wal::open(std::path::Path::new(&dir), opts, 0));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for seq in 0.. {
                    let (lsn, ack) = ok(wal.submit(payload(t, seq)));
                    ok(ack.wait_blocking());
                    println!("acked {lsn} {t} {seq}");
                }
            })
        })
        .collect();
    for w in writers {
        let _ = w.join();
    }
}

#[test]
fn wal_survives_sigkill() {
    let Ok(exe) = std::env::current_exe() else {
        panic!("no current exe");
    };
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(7);
    let dir = tempdir();
    let mut acked: HashMap<Lsn, (u64, u64)> = HashMap::new();
    for round in 0..5u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash::wal_crash_child",
                "--ignored",
                "--nocapture",
            ])
            .env(DIR_VAR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let kill_after = Duration::from_millis(100 + (seed.wrapping_mul(round + 1) % 300));
        let start = Instant::now();
        let mut acked_this_round = 0;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let nums: Vec<u64> = line
                .strip_prefix("acked ")
                .map(|r| r.split(' ').filter_map(|n| n.parse().ok()).collect())
                .unwrap_or_default();
            if let [lsn, t, seq] = nums[..] {
                acked.insert(lsn, (t, seq));
                acked_this_round += 1;
            }
            if start.elapsed() >= kill_after && acked_this_round > 0 {
                break;
            }
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let (wal, recs) = ok(Wal::open(dir.path(), WalOptions::default(), 0));
        assert!(recs.iter().enumerate().all(|(i, r)| r.0 == i as Lsn + 1));
        let replayed: HashMap<Lsn, &Vec<u8>> = recs.iter().map(|(l, p)| (*l, p)).collect();
        for (lsn, (t, seq)) in &acked {
            let got = replayed.get(lsn);
            assert!(got.is_some(), "round {round}: acked lsn {lsn} lost");
            assert_eq!(
                got,
                Some(&&payload(*t, *seq)),
                "round {round}: lsn {lsn} altered"
            );
        }
        drop(wal);
    }
    assert!(acked.len() > 10, "only {} acks", acked.len());
}
