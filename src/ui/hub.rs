//! The stream's bookkeeping (issue 16: "a full snapshot first, then deltas with a sequence
//! number, so a client that reconnects resumes where it left off"). [`Hub`] is pure: it holds
//! the current capabilities, numbers every change and keeps the last deltas; [`Live`] shares it
//! between the feed that publishes and the clients that follow.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::model::Capability;

/// Deltas kept for clients that reconnect; one further behind gets a fresh snapshot.
pub const HISTORY: usize = 1024;

/// Every capability at `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub seq: u64,
    pub capabilities: Vec<Capability>,
}

/// What changed from `seq - 1` to `seq`: capabilities new or changed (whole), and keys gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub seq: u64,
    pub upsert: Vec<Capability>,
    pub remove: Vec<String>,
}

/// One message of the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Message {
    Snapshot(Snapshot),
    Delta(Delta),
}

/// The current capabilities, their sequence number and the last deltas.
#[derive(Debug, Clone)]
pub struct Hub {
    seq: u64,
    current: BTreeMap<String, Capability>,
    history: VecDeque<Delta>,
    keep: usize,
}

impl Hub {
    /// An empty hub at seq 0 that keeps `keep` deltas.
    pub fn new(keep: usize) -> Self {
        Self { seq: 0, current: BTreeMap::new(), history: VecDeque::new(), keep }
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot { seq: self.seq, capabilities: self.current.values().cloned().collect() }
    }

    pub fn get(&self, key: &str) -> Option<&Capability> {
        self.current.get(key)
    }

    /// Makes `next` the current capabilities; the delta, numbered, when anything changed.
    pub fn replace(&mut self, next: Vec<Capability>) -> Option<Delta> {
        let next: BTreeMap<String, Capability> = next.into_iter().map(|c| (c.key.clone(), c)).collect();
        let upsert: Vec<Capability> = next.values().filter(|c| self.current.get(&c.key) != Some(*c)).cloned().collect();
        let remove: Vec<String> = self.current.keys().filter(|k| !next.contains_key(*k)).cloned().collect();
        if upsert.is_empty() && remove.is_empty() {
            return None;
        }
        self.seq += 1;
        self.current = next;
        let delta = Delta { seq: self.seq, upsert, remove };
        self.history.push_back(delta.clone());
        while self.history.len() > self.keep {
            self.history.pop_front();
        }
        Some(delta)
    }

    /// What a client that has seen everything up to `since` needs: the deltas after it, or a
    /// snapshot when they are no longer kept (or `since` is not a seq this hub gave out; a
    /// restarted daemon starts again at 0).
    pub fn resume(&self, since: Option<u64>) -> Vec<Message> {
        let snapshot = || vec![Message::Snapshot(self.snapshot())];
        let Some(since) = since else { return snapshot() };
        if since > self.seq {
            return snapshot();
        }
        if since == self.seq {
            return Vec::new();
        }
        match self.history.front() {
            Some(first) if first.seq <= since + 1 => {
                self.history.iter().filter(|d| d.seq > since).cloned().map(Message::Delta).collect()
            }
            _ => snapshot(),
        }
    }
}

/// The hub shared by the feed and the server, with a channel of deltas for followers.
#[derive(Debug)]
pub struct Live {
    hub: Mutex<Hub>,
    tx: broadcast::Sender<Arc<Delta>>,
}

impl Default for Live {
    fn default() -> Self {
        Self::new(HISTORY)
    }
}

impl Live {
    pub fn new(keep: usize) -> Self {
        // A follower more than `keep` deltas behind is dropped and resumes from a snapshot.
        let (tx, _) = broadcast::channel(keep.max(1));
        Self { hub: Mutex::new(Hub::new(keep)), tx }
    }

    fn hub(&self) -> std::sync::MutexGuard<'_, Hub> {
        // A panic while holding the lock leaves a consistent hub (every change is one assignment).
        self.hub.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes the capabilities as they are now.
    pub fn publish(&self, next: Vec<Capability>) {
        let mut hub = self.hub();
        if let Some(delta) = hub.replace(next) {
            // No follower is not an error.
            let _ = self.tx.send(Arc::new(delta));
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        self.hub().snapshot()
    }

    pub fn capability(&self, key: &str) -> Option<Capability> {
        self.hub().get(key).cloned()
    }

    /// The keys (`namespace/name`) of the current capabilities.
    pub fn keys(&self) -> std::collections::BTreeSet<String> {
        self.hub().current.keys().cloned().collect()
    }

    /// What a client resuming after `since` gets first, and the deltas after that: taken under
    /// one lock, so nothing is missed or sent twice.
    pub fn follow(&self, since: Option<u64>) -> (Vec<Message>, broadcast::Receiver<Arc<Delta>>) {
        let hub = self.hub();
        (hub.resume(since), self.tx.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::Phase;
    use crate::ui::model::tests::named as cap;

    #[test]
    fn only_changes_are_numbered_and_carry_what_changed() {
        let mut hub = Hub::new(8);
        let d = hub.replace(vec![cap("a", Phase::Pending), cap("b", Phase::Pending)]).unwrap();
        assert_eq!((d.seq, d.upsert.len(), d.remove.len()), (1, 2, 0));
        assert_eq!(hub.replace(vec![cap("b", Phase::Pending), cap("a", Phase::Pending)]), None, "same again");
        let d = hub.replace(vec![cap("a", Phase::ProvisioningSsm)]).unwrap();
        assert_eq!(d.seq, 2);
        assert_eq!(d.upsert.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["myapp-dev/a"]);
        assert_eq!(d.remove, ["myapp-dev/b"]);
        let snap = hub.snapshot();
        assert_eq!((snap.seq, snap.capabilities.len()), (2, 1));
    }

    #[test]
    fn a_client_resumes_with_the_deltas_it_missed_or_a_snapshot_when_they_are_gone() {
        let mut hub = Hub::new(3);
        for (i, phase) in [Phase::Pending, Phase::ProvisioningSsm, Phase::Deploying, Phase::Running, Phase::Failed]
            .into_iter()
            .enumerate()
        {
            assert_eq!(hub.replace(vec![cap("a", phase)]).unwrap().seq, i as u64 + 1);
        }
        let seqs = |m: &[Message]| {
            m.iter()
                .map(|m| match m {
                    Message::Snapshot(s) => format!("snapshot@{}", s.seq),
                    Message::Delta(d) => format!("delta@{}", d.seq),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(seqs(&hub.resume(None)), ["snapshot@5"]);
        assert_eq!(seqs(&hub.resume(Some(5))), Vec::<String>::new(), "up to date");
        assert_eq!(seqs(&hub.resume(Some(3))), ["delta@4", "delta@5"]);
        assert_eq!(seqs(&hub.resume(Some(2))), ["delta@3", "delta@4", "delta@5"], "the oldest kept");
        assert_eq!(seqs(&hub.resume(Some(1))), ["snapshot@5"], "delta 2 is no longer kept");
        assert_eq!(seqs(&hub.resume(Some(9))), ["snapshot@5"], "a seq of another daemon");
    }

    #[tokio::test]
    async fn a_follower_gets_what_it_missed_then_every_new_delta_once() {
        let live = Live::new(8);
        live.publish(vec![cap("a", Phase::Pending)]);
        let (first, mut rx) = live.follow(Some(0));
        assert!(matches!(first.as_slice(), [Message::Delta(d)] if d.seq == 1));
        live.publish(vec![cap("a", Phase::Running)]);
        live.publish(vec![cap("a", Phase::Running)]);
        assert_eq!(rx.recv().await.unwrap().seq, 2);
        assert!(rx.try_recv().is_err(), "no change, no delta");
    }
}
