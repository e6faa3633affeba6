//! Forward extremities: the events of a room that no accepted event follows yet, the
//! `prev_events` of the next event created.
//!
//! Synapse: `_calculate_new_extremities` (`synapse/storage/controllers/persist_events.py`) with
//! `_get_events_which_are_prevs` and `_get_prevs_before_rejected`
//! (`synapse/storage/databases/main/events.py`). For each accepted event N, in arrival order:
//!
//! 1. N becomes an extremity, and N's `prev_events` stop being extremities;
//! 2. N does not become one if an accepted event already stored names it as a prev (it arrived
//!    late);
//! 3. for each prev P of N that is soft-failed or rejected, P's `prev_events` stop being
//!    extremities too, walking back while the event reached is itself soft-failed (synapse#5269,
//!    PR #5274): otherwise the parent of a soft-failed event stays an extremity forever.
//!
//! Soft-failed, rejected and outlier events add nothing and remove nothing. Rejected events keep
//! no DAG edges, so the walk never passes through them.
//!
//! Events are applied one at a time, so that a batch gives what the same events give when they
//! arrive one by one (as federation delivers them); Synapse persisting a soft-failed event and its
//! child in one call would skip the walk through it, a difference its fixtures call out.

use std::collections::BTreeSet;
use std::sync::Arc;

// Persistent maps: planning works on a copy, which costs nothing to make.
use imbl::{OrdMap, OrdSet};

use crate::ordered::set_of;

/// How an event was judged on arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// Passed every auth check: part of the DAG and the room's state.
    Accepted,
    /// Passed auth against the state before it but not against the current state: stored with
    /// its edges and state, never an extremity.
    SoftFailed,
    /// Failed auth against the state before it: stored without edges, in no state.
    Rejected,
    /// Stored outside the DAG (e.g. an out-of-band invite): no edges, no state.
    Outlier,
}

/// What the rule needs to know of the events already stored in the room.
///
/// A store fills it before planning (the soft-failed events of a room are few, and their
/// edges are all the walk follows), so the rule itself does no I/O.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredDag {
    /// Stored soft-failed events, with their `prev_events`.
    pub soft_failed: OrdMap<String, Vec<String>>,
    /// Stored event ids that some stored accepted event names as a prev. Shared strings: a
    /// change to a node of a set shared with a copy (planning works on copies) clones the
    /// node's entries, and cloning these costs no allocation.
    pub referenced: OrdSet<Arc<str>>,
}

/// A room's forward extremities, updated event by event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardExtremities {
    extremities: BTreeSet<String>,
    dag: StoredDag,
}

impl ForwardExtremities {
    /// The extremities before a batch, with what the store knows of the room's DAG.
    pub fn new(extremities: impl IntoIterator<Item = String>, dag: StoredDag) -> Self {
        Self { extremities: set_of(extremities), dag }
    }

    /// The current extremities, sorted.
    pub fn current(&self) -> &BTreeSet<String> {
        &self.extremities
    }

    /// Applies one arriving event; returns whether the extremities changed.
    pub fn apply(&mut self, event_id: &str, prev_events: &[String], outcome: EventOutcome) -> bool {
        self.apply_event(event_id, prev_events, outcome)
    }

    /// [`apply`](Self::apply), with the prevs as any strings (a PDU's own ids: no copy to
    /// `String`s first).
    pub(crate) fn apply_event(
        &mut self,
        event_id: &str,
        prev_events: &[impl AsRef<str>],
        outcome: EventOutcome,
    ) -> bool {
        match outcome {
            EventOutcome::Accepted => self.apply_accepted(event_id, prev_events),
            EventOutcome::SoftFailed => {
                let prevs = prev_events.iter().map(|prev| prev.as_ref().to_owned()).collect();
                self.dag.soft_failed.insert(event_id.to_owned(), prevs);
                false
            }
            EventOutcome::Rejected | EventOutcome::Outlier => false,
        }
    }

    /// Remembers a stored soft-failed event and its prevs, for the walk.
    pub fn remember_soft_failed(&mut self, event_id: &str, prev_events: Vec<String>) {
        self.dag.soft_failed.insert(event_id.to_owned(), prev_events);
    }

    /// Remembers events that a stored, accepted event names as a prev.
    pub fn remember_referenced(&mut self, event_ids: impl IntoIterator<Item = String>) {
        self.dag.referenced.extend(event_ids.into_iter().map(Arc::from));
    }

    fn apply_accepted(&mut self, event_id: &str, prev_events: &[impl AsRef<str>]) -> bool {
        // Whether the event was added, and whether an extremity it found was removed (removing
        // the event itself, were it its own prev, undoes its addition).
        let mut added =
            !self.dag.referenced.contains(event_id) && self.extremities.insert(event_id.to_owned());
        let mut removed = false;
        let mut remove = |extremities: &mut BTreeSet<String>, id: &str| {
            if extremities.remove(id) {
                if added && id == event_id {
                    added = false;
                } else {
                    removed = true;
                }
            }
        };
        for prev in prev_events {
            let prev = prev.as_ref();
            remove(&mut self.extremities, prev);
            self.dag.referenced.insert(Arc::from(prev));
        }
        for ancestor in self.ancestors_behind_soft_failed(prev_events) {
            remove(&mut self.extremities, &ancestor);
        }
        added || removed
    }

    /// The prevs of the soft-failed events among `prev_events`, and on back while the event
    /// reached is itself soft-failed; each path stops at the first event that is not.
    fn ancestors_behind_soft_failed(&self, prev_events: &[impl AsRef<str>]) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        if self.dag.soft_failed.is_empty() {
            return found;
        }
        let mut to_check: Vec<&str> = prev_events.iter().map(AsRef::as_ref).collect();
        while let Some(event_id) = to_check.pop() {
            let Some(prevs) = self.dag.soft_failed.get(event_id) else { continue };
            for prev in prevs {
                if found.insert(prev.clone()) {
                    to_check.push(prev);
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::{EventOutcome, ForwardExtremities, StoredDag};

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn a_linear_room_has_one_extremity() {
        let mut extremities = ForwardExtremities::default();
        extremities.apply("$a", &[], EventOutcome::Accepted);
        extremities.apply("$b", &ids(&["$a"]), EventOutcome::Accepted);
        assert_eq!(extremities.current().iter().collect::<Vec<_>>(), ["$b"]);
    }

    /// synapse#5269: B is soft-failed on A; C (accepted) builds on B. Without the walk, A would
    /// stay an extremity beside C.
    #[test]
    fn an_event_on_a_soft_failed_prev_also_removes_that_prevs_parents() {
        let mut extremities = ForwardExtremities::new(ids(&["$a"]), StoredDag::default());
        extremities.apply("$b", &ids(&["$a"]), EventOutcome::SoftFailed);
        assert_eq!(extremities.current().iter().collect::<Vec<_>>(), ["$a"]);
        extremities.apply("$c", &ids(&["$b"]), EventOutcome::Accepted);
        assert_eq!(extremities.current().iter().collect::<Vec<_>>(), ["$c"]);
    }

    #[test]
    fn the_walk_goes_through_chains_of_soft_failed_events_and_stops_at_the_first_other() {
        let mut dag = StoredDag::default();
        dag.soft_failed.insert("$s2".into(), ids(&["$s1"]));
        dag.soft_failed.insert("$s1".into(), ids(&["$a"]));
        let mut extremities = ForwardExtremities::new(ids(&["$a", "$z"]), dag);
        extremities.apply("$c", &ids(&["$s2"]), EventOutcome::Accepted);
        assert_eq!(extremities.current().iter().collect::<Vec<_>>(), ["$c", "$z"]);
    }

    #[test]
    fn rejected_and_outlier_events_change_nothing() {
        let mut extremities = ForwardExtremities::new(ids(&["$a"]), StoredDag::default());
        extremities.apply("$r", &ids(&["$a"]), EventOutcome::Rejected);
        extremities.apply("$o", &ids(&["$a"]), EventOutcome::Outlier);
        assert_eq!(extremities.current().iter().collect::<Vec<_>>(), ["$a"]);
        // An accepted event on a rejected one removes only that (non-extremity) event.
        extremities.apply("$c", &ids(&["$r"]), EventOutcome::Accepted);
        assert_eq!(extremities.current().iter().collect::<Vec<_>>(), ["$a", "$c"]);
    }

    #[test]
    fn a_late_event_that_is_already_followed_is_no_extremity() {
        let mut dag = StoredDag::default();
        dag.referenced.insert("$late".into());
        let mut extremities = ForwardExtremities::new(ids(&["$child"]), dag);
        extremities.apply("$late", &ids(&["$a"]), EventOutcome::Accepted);
        assert_eq!(extremities.current().iter().collect::<Vec<_>>(), ["$child"]);
    }
}
