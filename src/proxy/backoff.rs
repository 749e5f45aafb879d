//! Back-off on failed logins, per user and per client address.
//!
//! Argon2 makes each guess cost the server ~20 ms of CPU, which is still
//! thousands of guesses a minute. After `free_failures` failures a user (and,
//! separately, an address) is refused without checking the password for a
//! delay that doubles with each further failure up to `backoff_max_ms`;
//! failures are forgotten after `backoff_forget_secs` without a new one.
//! Refused attempts do not count, so a client that keeps hammering is not
//! locked out forever.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::AuthConfig;

/// Entries kept per map before forgotten ones are pruned (and, failing
/// that, all are dropped): a spray of made-up user names cannot grow memory.
const MAX_ENTRIES: usize = 65_536;

/// The back-off schedule.
#[derive(Debug, Clone, Copy)]
pub struct BackoffConfig {
    pub free_failures: u32,
    pub base: Duration,
    pub max: Duration,
    pub forget: Duration,
}

impl BackoffConfig {
    /// The `[auth]` keys.
    pub fn from_config(a: &AuthConfig) -> Self {
        BackoffConfig {
            free_failures: a.free_failures,
            base: Duration::from_millis(a.backoff_base_ms),
            max: Duration::from_millis(a.backoff_max_ms.max(a.backoff_base_ms)),
            forget: Duration::from_secs(a.backoff_forget_secs),
        }
    }

    /// The delay after the `failures`-th failure.
    fn delay(&self, failures: u32) -> Duration {
        let Some(over) = failures.checked_sub(self.free_failures).filter(|n| *n > 0) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(over - 1).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    blocked_until: Instant,
}

struct Table<K> {
    map: Mutex<HashMap<K, Entry>>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new() -> Self {
        Table {
            map: Mutex::new(HashMap::new()),
        }
    }

    fn blocked(&self, key: &K, cfg: &BackoffConfig, now: Instant) -> Option<Duration> {
        let mut map = self.map.lock();
        let e = *map.get(key)?;
        if now.duration_since(e.last_failure) >= cfg.forget {
            map.remove(key);
            return None;
        }
        (now < e.blocked_until).then(|| e.blocked_until - now)
    }

    fn fail(&self, key: &K, cfg: &BackoffConfig, now: Instant) {
        let mut map = self.map.lock();
        if map.len() >= MAX_ENTRIES && !map.contains_key(key) {
            map.retain(|_, e| now.duration_since(e.last_failure) < cfg.forget);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        let e = map.entry(key.clone()).or_insert(Entry {
            failures: 0,
            last_failure: now,
            blocked_until: now,
        });
        if now.duration_since(e.last_failure) >= cfg.forget {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last_failure = now;
        e.blocked_until = now + cfg.delay(e.failures);
    }

    fn clear(&self, key: &K) {
        self.map.lock().remove(key);
    }
}

/// Failed-login state for users and addresses.
pub struct Backoff {
    cfg: BackoffConfig,
    users: Table<String>,
    addrs: Table<IpAddr>,
}

impl Backoff {
    pub fn new(cfg: BackoffConfig) -> Self {
        Backoff {
            cfg,
            users: Table::new(),
            addrs: Table::new(),
        }
    }

    /// How long this user or address must still wait, if at all.
    pub fn blocked(&self, user: &str, addr: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let u = self.users.blocked(&user.to_string(), &self.cfg, now);
        let a = addr.and_then(|a| self.addrs.blocked(&a, &self.cfg, now));
        u.max(a)
    }

    /// Records a wrong password.
    pub fn failed(&self, user: &str, addr: Option<IpAddr>, now: Instant) {
        self.users.fail(&user.to_string(), &self.cfg, now);
        if let Some(a) = addr {
            self.addrs.fail(&a, &self.cfg, now);
        }
    }

    /// Records a successful login: its user and address start afresh.
    pub fn succeeded(&self, user: &str, addr: Option<IpAddr>) {
        self.users.clear(&user.to_string());
        if let Some(a) = addr {
            self.addrs.clear(&a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BackoffConfig {
        BackoffConfig {
            free_failures: 3,
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            forget: Duration::from_secs(900),
        }
    }

    #[test]
    fn delays_double_after_free_failures_up_to_the_cap() {
        let c = cfg();
        let steps: Vec<u64> = (1..=12).map(|n| c.delay(n).as_secs()).collect();
        assert_eq!(steps, vec![0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(c.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn user_and_address_are_blocked_separately_and_forgotten() {
        let b = Backoff::new(cfg());
        let t0 = Instant::now();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert_eq!(b.blocked("alice", Some(ip), t0), None);
            b.failed("alice", Some(ip), t0);
        }
        assert_eq!(
            b.blocked("alice", Some(ip), t0),
            None,
            "three free failures"
        );
        b.failed("alice", Some(ip), t0);
        assert_eq!(
            b.blocked("alice", Some(ip), t0),
            Some(Duration::from_secs(1))
        );
        // Per user: another address is still refused for alice...
        assert!(b.blocked("alice", Some(other), t0).is_some());
        // ...and per address: another user from the same address too.
        assert!(b.blocked("bob", Some(ip), t0).is_some());
        assert_eq!(b.blocked("bob", Some(other), t0), None);
        let later = t0 + Duration::from_secs(2);
        assert_eq!(
            b.blocked("alice", Some(ip), later),
            None,
            "back-off expired"
        );
        b.failed("alice", Some(ip), later);
        assert_eq!(
            b.blocked("alice", None, later),
            Some(Duration::from_secs(2))
        );
        let much_later = later + Duration::from_secs(901);
        assert_eq!(b.blocked("alice", Some(ip), much_later), None);
        b.failed("alice", Some(ip), much_later);
        assert_eq!(
            b.blocked("alice", Some(ip), much_later),
            None,
            "forgotten: the count starts again"
        );
        b.succeeded("alice", Some(ip));
        assert_eq!(b.blocked("alice", Some(ip), much_later), None);
    }
}
