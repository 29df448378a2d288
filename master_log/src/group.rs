//! Consumer groups of the embedded log: membership, assignment and rebalancing inside one
//! process. Committed offsets live in the log itself (see `embedded`).
//!
//! Every join or leave starts a new *generation*: the coordinator recomputes the whole
//! assignment at once (Kafka's eager protocol), so in every generation each subscribed
//! partition has exactly one owner. A member that commits for a partition it no longer
//! owns gets an error, as a fenced Kafka consumer does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_listener::{Event, Listener};
use parking_lot::Mutex;

use crate::error::{LogError, Result};
use crate::log::{Assignment, AssignmentStrategy, GroupMembership, Log, TopicPartition};

#[derive(Debug, Default)]
struct GroupState {
    generation: u64,
    strategy: AssignmentStrategy,
    next_member: u64,
    /// member id → subscribed topics.
    members: BTreeMap<String, BTreeSet<String>>,
    /// topic → partition count, for every topic some member subscribes to.
    partitions: BTreeMap<String, u32>,
    assignment: BTreeMap<String, Vec<TopicPartition>>,
}

impl GroupState {
    fn rebalance(&mut self) {
        self.generation += 1;
        self.assignment = match self.strategy {
            AssignmentStrategy::Range => assign_range(&self.members, &self.partitions),
            AssignmentStrategy::RoundRobin => assign_round_robin(&self.members, &self.partitions),
        };
    }
}

/// Kafka's RangeAssignor: per topic, the members subscribed to it in id order get
/// consecutive ranges; the first `partitions % members` get one extra.
pub fn assign_range(
    members: &BTreeMap<String, BTreeSet<String>>,
    partitions: &BTreeMap<String, u32>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut out: BTreeMap<String, Vec<TopicPartition>> =
        members.keys().map(|m| (m.clone(), Vec::new())).collect();
    for (topic, &count) in partitions {
        let subscribed: Vec<&String> = members
            .iter()
            .filter(|(_, t)| t.contains(topic))
            .map(|(m, _)| m)
            .collect();
        if subscribed.is_empty() {
            continue;
        }
        let n = subscribed.len() as u32;
        let (per, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, m) in subscribed.iter().enumerate() {
            let take = per + u32::from((i as u32) < extra);
            let list = out.get_mut(*m).expect("member listed");
            list.extend((next..next + take).map(|p| TopicPartition::new(topic.clone(), p)));
            next += take;
        }
    }
    out
}

/// Kafka's RoundRobinAssignor: every partition of every topic, in order, to the next
/// member (in id order) that subscribes to its topic.
pub fn assign_round_robin(
    members: &BTreeMap<String, BTreeSet<String>>,
    partitions: &BTreeMap<String, u32>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut out: BTreeMap<String, Vec<TopicPartition>> =
        members.keys().map(|m| (m.clone(), Vec::new())).collect();
    let ids: Vec<&String> = members.keys().collect();
    if ids.is_empty() {
        return out;
    }
    let mut cursor = 0;
    for (topic, &count) in partitions {
        for p in 0..count {
            for step in 0..ids.len() {
                let m = ids[(cursor + step) % ids.len()];
                if members[m].contains(topic) {
                    out.get_mut(m)
                        .expect("member listed")
                        .push(TopicPartition::new(topic.clone(), p));
                    cursor = (cursor + step + 1) % ids.len();
                    break;
                }
            }
        }
    }
    out
}

/// The group coordinator of one embedded log.
#[derive(Debug, Default)]
pub(crate) struct Coordinator {
    groups: Mutex<BTreeMap<String, GroupState>>,
    /// Fired at every rebalance of any group.
    rebalanced: Event,
}

/// A member of a consumer group of the embedded log.
pub struct EmbeddedMember {
    /// The coordinator of the log the member joined through.
    coordinator: Arc<Coordinator>,
    /// That log, for the commits (its `commit_offsets`).
    log: Arc<dyn Log>,
    group: String,
    member_id: String,
}

impl fmt::Debug for EmbeddedMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedMember")
            .field("log", &self.log)
            .field("group", &self.group)
            .field("member_id", &self.member_id)
            .finish_non_exhaustive()
    }
}

/// Join `group` of the log whose coordinator is `coordinator` (`log` is that log, for
/// commits), subscribed to `topics` (name → partition count).
pub(crate) fn join(
    coordinator: Arc<Coordinator>,
    log: Arc<dyn Log>,
    group: &str,
    topics: BTreeMap<String, u32>,
    strategy: AssignmentStrategy,
) -> Result<EmbeddedMember> {
    if topics.is_empty() {
        return Err(LogError::Group {
            group: group.to_owned(),
            reason: "a member must subscribe to at least one topic".into(),
        });
    }
    let member_id = {
        let mut groups = coordinator.groups.lock();
        let state = groups.entry(group.to_owned()).or_default();
        if state.members.is_empty() {
            state.strategy = strategy;
        } else if state.strategy != strategy {
            return Err(LogError::Group {
                group: group.to_owned(),
                reason: format!(
                    "the group assigns by {:?}; a member asking for {strategy:?} cannot join",
                    state.strategy
                ),
            });
        }
        let id = format!("{group}-member-{:06}", state.next_member);
        state.next_member += 1;
        state
            .members
            .insert(id.clone(), topics.keys().cloned().collect());
        state.partitions.extend(topics);
        state.rebalance();
        id
    };
    coordinator.rebalanced.notify(usize::MAX);
    Ok(EmbeddedMember {
        coordinator,
        log,
        group: group.to_owned(),
        member_id,
    })
}

impl EmbeddedMember {
    fn with_state<T>(&self, f: impl FnOnce(&GroupState) -> T) -> T {
        let groups = self.coordinator.groups.lock();
        f(groups
            .get(&self.group)
            .expect("a live member's group exists"))
    }

    fn generation(&self) -> u64 {
        self.with_state(|s| s.generation)
    }
}

impl GroupMembership for EmbeddedMember {
    fn group(&self) -> &str {
        &self.group
    }

    fn member_id(&self) -> &str {
        &self.member_id
    }

    fn assignment(&self) -> Assignment {
        self.with_state(|s| Assignment {
            generation: s.generation,
            partitions: s
                .assignment
                .get(&self.member_id)
                .cloned()
                .unwrap_or_default(),
        })
    }

    fn commit_with(
        &self,
        offsets: &[(TopicPartition, u64)],
        write: &mut dyn FnMut() -> Result<()>,
    ) -> Result<()> {
        // Hold the coordinator lock while writing and committing so that no rebalance can
        // slip in between the ownership check and the commit.
        let groups = self.coordinator.groups.lock();
        let state = groups
            .get(&self.group)
            .expect("a live member's group exists");
        let owned: BTreeSet<&TopicPartition> = state
            .assignment
            .get(&self.member_id)
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        for (tp, _) in offsets {
            if !owned.contains(tp) {
                return Err(LogError::Group {
                    group: self.group.clone(),
                    reason: format!(
                        "{} does not own {tp} in generation {} (the group rebalanced)",
                        self.member_id, state.generation
                    ),
                });
            }
        }
        write()?;
        let mut by_topic: BTreeMap<&str, Vec<(u32, u64)>> = BTreeMap::new();
        for (tp, o) in offsets {
            by_topic
                .entry(tp.topic.as_str())
                .or_default()
                .push((tp.partition, *o));
        }
        for (topic, offs) in by_topic {
            self.log.commit_offsets(&self.group, topic, &offs)?;
        }
        Ok(())
    }

    fn wait_for_rebalance(&self, generation: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let listener = self.coordinator.rebalanced.listen();
            if self.generation() != generation {
                return true;
            }
            if listener.wait_deadline(deadline).is_none() {
                return self.generation() != generation;
            }
        }
    }
}

impl Drop for EmbeddedMember {
    fn drop(&mut self) {
        let coordinator = &self.coordinator;
        {
            let mut groups = coordinator.groups.lock();
            if let Some(state) = groups.get_mut(&self.group) {
                state.members.remove(&self.member_id);
                if state.members.is_empty() {
                    state.assignment.clear();
                    state.partitions.clear();
                    state.generation += 1;
                } else {
                    let still: BTreeSet<String> =
                        state.members.values().flatten().cloned().collect();
                    state.partitions.retain(|t, _| still.contains(t));
                    state.rebalance();
                }
            }
        }
        coordinator.rebalanced.notify(usize::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(spec: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        spec.iter()
            .map(|(m, ts)| (m.to_string(), ts.iter().map(|t| t.to_string()).collect()))
            .collect()
    }

    #[test]
    fn range_gives_extra_partitions_to_the_first_members() {
        let m = members(&[("a", &["t"]), ("b", &["t"]), ("c", &["t"])]);
        let parts = BTreeMap::from([("t".to_string(), 7)]);
        let a = assign_range(&m, &parts);
        let got: Vec<Vec<u32>> = a
            .values()
            .map(|v| v.iter().map(|tp| tp.partition).collect())
            .collect();
        assert_eq!(got, vec![vec![0, 1, 2], vec![3, 4], vec![5, 6]]);
    }

    #[test]
    fn round_robin_deals_across_topics() {
        let m = members(&[("a", &["t", "u"]), ("b", &["t", "u"])]);
        let parts = BTreeMap::from([("t".to_string(), 3), ("u".to_string(), 2)]);
        let a = assign_round_robin(&m, &parts);
        let show = |v: &Vec<TopicPartition>| v.iter().map(|tp| tp.to_string()).collect::<Vec<_>>();
        assert_eq!(show(&a["a"]), vec!["t/0", "t/2", "u/1"]);
        assert_eq!(show(&a["b"]), vec!["t/1", "u/0"]);
    }

    #[test]
    fn every_partition_owned_exactly_once() {
        for strategy in [AssignmentStrategy::Range, AssignmentStrategy::RoundRobin] {
            for n in 1..6 {
                let spec: Vec<(String, Vec<&str>)> =
                    (0..n).map(|i| (format!("m{i}"), vec!["t", "u"])).collect();
                let m: BTreeMap<String, BTreeSet<String>> = spec
                    .iter()
                    .map(|(k, v)| (k.clone(), v.iter().map(|s| s.to_string()).collect()))
                    .collect();
                let parts = BTreeMap::from([("t".to_string(), 5), ("u".to_string(), 3)]);
                let a = match strategy {
                    AssignmentStrategy::Range => assign_range(&m, &parts),
                    AssignmentStrategy::RoundRobin => assign_round_robin(&m, &parts),
                };
                let mut all: Vec<TopicPartition> = a.into_values().flatten().collect();
                all.sort();
                let expected: Vec<TopicPartition> = (0..5)
                    .map(|p| TopicPartition::new("t", p))
                    .chain((0..3).map(|p| TopicPartition::new("u", p)))
                    .collect();
                assert_eq!(all, expected, "{strategy:?} with {n} members");
            }
        }
    }
}
