//! Where the shared sequences stand, and a chunk planned on positions another writer has moved
//! since: its ids taken again, after theirs.
//!
//! Several writers (browser tabs) share one store. A chunk is planned on the positions its writer
//! last knew; by the time its transaction runs, another writer may have taken ids from the same
//! sequences. The transaction reads the stored positions first and, when they moved, shifts
//! every id the chunk took by as much ([`RoomWritePlan::rebase`]): ids stay dense and in commit
//! order, and no writer waits for another to plan. What the room's chunk was planned on (its
//! state, extremities, stored events) is another matter: another writer's chunk of the same room
//! makes the plan wrong, not just its ids, so a write checks the room's chunk count too
//! ([`PlannedOn::room_chunks`]) and refuses a plan made before the last chunk of its room.

use super::plan::RoomWritePlan;
use super::state_groups::StateGroupId;
use crate::ordered::set_of;

/// Where a store's sequences stand: read when a store opens (a few rows, never the events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Positions {
    /// The highest live stream id taken (0 when none): an event's stream ordering, or the id an
    /// outlier arriving in the DAG took (see [`super::PlannedEvent::stream_id`]).
    pub last_stream_ordering: i64,
    /// The lowest backfill stream id taken (0 when none), likewise.
    pub last_backfill_ordering: i64,
    /// The id the next state group takes.
    pub next_state_group: StateGroupId,
}

impl Default for Positions {
    /// An empty store: no ordering taken, state group ids from 1 (as Synapse's sequence).
    fn default() -> Self {
        Self { last_stream_ordering: 0, last_backfill_ordering: 0, next_state_group: 1 }
    }
}

impl Positions {
    /// The positions at the given values.
    pub fn new(
        last_stream_ordering: i64,
        last_backfill_ordering: i64,
        next_state_group: StateGroupId,
    ) -> Self {
        Self { last_stream_ordering, last_backfill_ordering, next_state_group }
    }

    /// The positions once a plan is written: they only move forward.
    pub fn after(self, plan: &RoomWritePlan) -> Self {
        // The ids taken, not the orderings written: an ex-outlier keeps an older ordering.
        let orderings = plan.events.iter().map(|event| event.stream_id);
        let groups = plan.state_groups.iter().map(|group| group.id + 1);
        Self {
            last_stream_ordering: orderings.clone().fold(self.last_stream_ordering, i64::max),
            last_backfill_ordering: orderings.fold(self.last_backfill_ordering, i64::min),
            next_state_group: groups.fold(self.next_state_group, StateGroupId::max),
        }
    }

    /// Each sequence moved at least as far as in `other`.
    pub fn max(self, other: Self) -> Self {
        Self {
            last_stream_ordering: self.last_stream_ordering.max(other.last_stream_ordering),
            last_backfill_ordering: self.last_backfill_ordering.min(other.last_backfill_ordering),
            next_state_group: self.next_state_group.max(other.next_state_group),
        }
    }
}

/// How far the ids a chunk took moved when its write was rebased after other writers' (nothing
/// when it was written as planned): what planning kept of the chunk moves as far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdShift {
    /// The last live ordering taken before the chunk: the chunk's own are above it.
    pub after_ordering: i64,
    /// How far the chunk's live orderings moved.
    pub orderings: i64,
    /// The first state group id the chunk took as planned.
    pub first_group: StateGroupId,
    /// How far the chunk's new groups moved.
    pub groups: StateGroupId,
}

impl IdShift {
    /// The shift of a chunk planned on `planned` and written after `stored`.
    pub fn between(planned: Positions, stored: Positions) -> Self {
        Self {
            after_ordering: planned.last_stream_ordering,
            orderings: stored.last_stream_ordering - planned.last_stream_ordering,
            first_group: planned.next_state_group,
            groups: stored.next_state_group.saturating_sub(planned.next_state_group),
        }
    }

    /// Whether no id moved.
    pub fn is_none(&self) -> bool {
        self.orderings == 0 && self.groups == 0
    }
}

/// What a chunk was planned on that another writer may move before the chunk is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlannedOn {
    /// The sequences: the chunk's ids are those after these.
    pub positions: Positions,
    /// How many chunks of the room were written: the room's state, extremities and stored
    /// events the chunk was planned on are those after that many.
    pub room_chunks: u64,
}

impl RoomWritePlan {
    /// Takes the chunk's ids again after `stored` (the positions as the write finds them, at or
    /// beyond those the chunk was planned on): every id the chunk took (its events' stream ids,
    /// the orderings of the events new to the store, the ids of its new state groups, and the
    /// stream ordering of its own membership row when it is one of those) moves by as much as
    /// its sequence moved. Ids taken before (an ex-outlier's ordering, a stored group the chunk
    /// builds on, whatever its id) stay. The IndexedDB store moves the same ids in the chunk's
    /// rows inside the write's transaction (`rebase` in `requests.js`, on the ids the write
    /// names as taken), then the plan with this once the chunk is written.
    pub fn rebase(&mut self, stored: Positions) {
        let from = self.planned_on.positions;
        let IdShift { orderings: live, groups, .. } = IdShift::between(from, stored);
        let backfill = stored.last_backfill_ordering - from.last_backfill_ordering;
        let shift = |id: i64| if id >= 0 { id + live } else { id + backfill };
        // Read before the events move: whether the membership row's ordering is one they took.
        let membership_taken = self.local_membership.as_ref().is_some_and(|row| {
            self.events.iter().any(|event| event.stream_id == row.stream_ordering)
        });
        let new_groups: std::collections::BTreeSet<StateGroupId> =
            set_of(self.state_groups.iter().map(|row| row.id));
        let group = |id: &mut StateGroupId| {
            if new_groups.contains(id) {
                *id += groups;
            }
        };
        for event in &mut self.events {
            if event.stream_ordering == event.stream_id {
                event.stream_ordering = shift(event.stream_ordering);
            }
            event.stream_id = shift(event.stream_id);
            event.state_group.iter_mut().for_each(group);
        }
        for row in &mut self.state_groups {
            group(&mut row.id);
            row.prev_group.iter_mut().for_each(group);
        }
        if let Some(row) = self.local_membership.as_mut().filter(|_| membership_taken) {
            row.stream_ordering = shift(row.stream_ordering);
        }
        self.planned_on.positions = stored;
    }
}
