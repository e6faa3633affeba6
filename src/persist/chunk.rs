//! Splitting a batch into room chunks, each ordered along its DAG.
//!
//! Synapse persists events room by room (one queue per room in
//! `synapse/storage/controllers/persist_events.py`), so that a slow room never holds back the
//! others; within a room, an event must come after the prev_events it names that are in the
//! same batch, or it would be stored with a missing prev.

use std::collections::BTreeSet;

use crate::hashed::HashMap;
use crate::ordered::set_of;

/// What chunking needs to know of an event.
pub trait DagEvent {
    /// The room the event belongs to.
    fn room_id(&self) -> &str;
    /// The event's id.
    fn event_id(&self) -> &str;
    /// The ids of the events it follows.
    fn prev_event_ids(&self) -> Vec<&str>;
}

/// One room's share of a batch, in an order where every event follows its prevs in the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomChunk<T> {
    /// The room.
    pub room_id: String,
    /// Its events, DAG-ordered.
    pub events: Vec<T>,
}

/// Splits a batch per room (rooms in order of first appearance) and orders each room's events
/// by their DAG.
///
/// The sort is stable: among events whose prevs are all placed, the earliest given goes first,
/// so an order that is already valid is kept as given (arrival order decides soft-failure).
/// Events in a cycle (impossible for real event ids, which hash their prevs) keep their given
/// order at the end.
pub fn split_into_room_chunks<T: DagEvent>(events: Vec<T>) -> Vec<RoomChunk<T>> {
    let mut chunks: Vec<RoomChunk<T>> = Vec::new();
    for event in events {
        match chunks.iter_mut().find(|chunk| chunk.room_id == event.room_id()) {
            Some(chunk) => chunk.events.push(event),
            None => {
                chunks.push(RoomChunk { room_id: event.room_id().to_owned(), events: vec![event] })
            }
        }
    }
    for chunk in &mut chunks {
        let order = dag_order(&chunk.events);
        let mut slots: Vec<Option<T>> =
            std::mem::take(&mut chunk.events).into_iter().map(Some).collect();
        chunk.events = order.into_iter().filter_map(|index| slots[index].take()).collect();
    }
    chunks
}

/// The indices of `events` in a stable topological order (Kahn's algorithm, smallest index
/// first).
fn dag_order<T: DagEvent>(events: &[T]) -> Vec<usize> {
    let index_of: HashMap<&str, usize> =
        events.iter().enumerate().map(|(index, event)| (event.event_id(), index)).collect();
    let mut waiting_on: Vec<usize> = vec![0; events.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); events.len()];
    for (index, event) in events.iter().enumerate() {
        let prevs: BTreeSet<usize> = set_of(
            event
                .prev_event_ids()
                .into_iter()
                .filter_map(|prev| index_of.get(prev).copied())
                .filter(|prev| *prev != index),
        );
        waiting_on[index] = prevs.len();
        for prev in prevs {
            children[prev].push(index);
        }
    }
    let mut ready: BTreeSet<usize> = set_of((0..events.len()).filter(|i| waiting_on[*i] == 0));
    let mut order = Vec::with_capacity(events.len());
    while let Some(index) = ready.pop_first() {
        order.push(index);
        for child in &children[index] {
            waiting_on[*child] -= 1;
            if waiting_on[*child] == 0 {
                ready.insert(*child);
            }
        }
    }
    let placed: BTreeSet<usize> = set_of(order.iter().copied());
    order.extend((0..events.len()).filter(|index| !placed.contains(index)));
    order
}

#[cfg(test)]
mod tests {
    use super::{split_into_room_chunks, DagEvent};

    #[derive(Debug, Clone, PartialEq)]
    struct Event(&'static str, &'static str, Vec<&'static str>);

    impl DagEvent for Event {
        fn room_id(&self) -> &str {
            self.0
        }
        fn event_id(&self) -> &str {
            self.1
        }
        fn prev_event_ids(&self) -> Vec<&str> {
            self.2.clone()
        }
    }

    fn ids(events: &[Event]) -> Vec<&str> {
        events.iter().map(|event| event.1).collect()
    }

    #[test]
    fn splits_per_room_in_order_of_first_appearance() {
        let chunks = split_into_room_chunks(vec![
            Event("!b", "$b1", vec![]),
            Event("!a", "$a1", vec![]),
            Event("!b", "$b2", vec!["$b1"]),
        ]);
        let rooms: Vec<_> = chunks.iter().map(|chunk| chunk.room_id.as_str()).collect();
        assert_eq!(rooms, ["!b", "!a"]);
        assert_eq!(ids(&chunks[0].events), ["$b1", "$b2"]);
    }

    #[test]
    fn a_valid_order_is_kept_and_children_move_after_their_parents() {
        let valid = vec![
            Event("!r", "$1", vec![]),
            Event("!r", "$x", vec!["$1"]),
            Event("!r", "$y", vec!["$1"]),
            Event("!r", "$m", vec!["$y", "$x"]),
        ];
        assert_eq!(ids(&split_into_room_chunks(valid)[0].events), ["$1", "$x", "$y", "$m"]);
        let reversed = vec![
            Event("!r", "$m", vec!["$y", "$x"]),
            Event("!r", "$y", vec!["$1", "$unknown"]),
            Event("!r", "$x", vec!["$1"]),
            Event("!r", "$1", vec![]),
        ];
        assert_eq!(ids(&split_into_room_chunks(reversed)[0].events), ["$1", "$y", "$x", "$m"]);
    }

    #[test]
    fn a_cycle_keeps_its_given_order_at_the_end() {
        let cycle = vec![
            Event("!r", "$a", vec!["$b"]),
            Event("!r", "$b", vec!["$a"]),
            Event("!r", "$c", vec![]),
        ];
        assert_eq!(ids(&split_into_room_chunks(cycle)[0].events), ["$c", "$a", "$b"]);
    }
}
