//! One tab's copy of the events stream: the rows it holds back until the ids below them are
//! known, and the subscribers it hands them to.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::rc::Rc;

use litemap::LiteMap;
use serde::Serialize;

use super::message::CommittedChunk;
use super::row::ReplicationRow;
use crate::streams::{MultiWriterIdTracker, StreamToken};

/// Counters of what replication did in this tab, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationStats {
    /// Messages this tab posted (one per committed chunk, plus its own joining and sync tokens).
    pub messages_sent: u64,
    /// Messages received from other tabs.
    pub messages_received: u64,
    /// Messages received that this code cannot read (another version's): each caught up from.
    pub messages_unreadable: u64,
    /// Chunk messages received: one per chunk another tab committed.
    pub chunks_received: u64,
    /// Cache keys dropped because another tab's chunk made them stale.
    pub invalidations: u64,
    /// Rows handed to subscribers (each row counts once, however many subscribers).
    pub rows_delivered: u64,
    /// Catch-ups: reads of the store for ids no message brought.
    pub catch_ups: u64,
    /// Store reads replication made (catch-ups read a page of events each): zero while every
    /// message arrives.
    pub store_reads: u64,
}

/// A subscriber's callback: handed each row once, in increasing stream order, with the rooms
/// whose stored data changed since its last call (see [`Due`]).
pub type Subscriber = Rc<dyn Fn(&[ReplicationRow], &[String])>;

/// The events stream as this tab knows it, and who it hands rows to.
///
/// Rows are handed over up to the current token of the tracker only (every id below known), so
/// each subscriber sees every row once and in increasing order, whichever tab wrote it and in
/// whatever order the messages came.
pub struct Replica {
    tracker: MultiWriterIdTracker,
    /// Rows known above the current token, held until the ids below them are known.
    held: LiteMap<i64, ReplicationRow>,
    subscribers: Vec<(u64, Subscriber)>,
    next_subscriber: u64,
    stats: ReplicationStats,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("tracker", &self.tracker)
            .field("held", &self.held.len())
            .field("subscribers", &self.subscribers.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Replica {
    /// This tab's copy at open: from the sequence's last value and the `stream_positions` rows
    /// (see [`MultiWriterIdTracker::new`]).
    pub fn new(
        instance_name: &str,
        last_stream_id: i64,
        stream_positions: impl IntoIterator<Item = (String, i64)>,
    ) -> Self {
        Self {
            tracker: MultiWriterIdTracker::new(instance_name, last_stream_id, stream_positions),
            held: LiteMap::new(),
            subscribers: Vec::new(),
            next_subscriber: 0,
            stats: ReplicationStats::default(),
        }
    }

    /// Adds a subscriber; returns its key for [`Self::unsubscribe`].
    pub fn subscribe(&mut self, subscriber: Subscriber) -> u64 {
        self.next_subscriber += 1;
        self.subscribers.push((self.next_subscriber, subscriber));
        self.next_subscriber
    }

    /// Removes a subscriber; removing one twice does nothing.
    pub fn unsubscribe(&mut self, key: u64) {
        self.subscribers.retain(|(held, _)| *held != key);
    }

    /// This tab committed `chunk`. Returns the rows now due (see [`Self::due`]).
    pub fn committed(&mut self, chunk: CommittedChunk) -> Due {
        let handed = self.tracker.current_token();
        if let Some((first, last)) = chunk.stream_ids {
            self.tracker.committed(first..=last);
        }
        self.stats.messages_sent += 1;
        self.hold(handed, chunk.rows, chunk.invalidate.rooms)
    }

    /// Another tab (`writer`) committed `chunk`; its invalidations were applied already.
    pub fn received(&mut self, writer: &str, chunk: CommittedChunk) -> Due {
        let handed = self.tracker.current_token();
        if let Some((first, last)) = chunk.stream_ids {
            self.tracker.announced(writer, first..=last);
        }
        self.stats.chunks_received += 1;
        self.stats.invalidations += chunk.invalidate.len() as u64;
        self.hold(handed, chunk.rows, chunk.invalidate.rooms)
    }

    /// A catch-up read `rows` (every live event above the current token, up to the id
    /// `known_to`, in one transaction), whose rooms are `rooms`.
    pub fn caught_up(
        &mut self,
        known_to: i64,
        rows: Vec<ReplicationRow>,
        rooms: BTreeSet<String>,
    ) -> Due {
        let handed = self.tracker.current_token();
        let found: Vec<(String, i64)> =
            rows.iter().map(|row| (row.instance_name.clone(), row.stream_ordering)).collect();
        self.tracker.caught_up(known_to, found);
        self.stats.catch_ups += 1;
        self.hold(handed, rows, rooms)
    }

    /// A writer announced itself: it opened the store, or it is live (it holds its liveness
    /// lock, and may commit).
    pub fn writer_joined(&mut self, writer: &str) {
        self.tracker.writer_joined(writer);
    }

    /// A writer closed (its liveness lock was released); returns the gap to catch up now, if any.
    pub fn writer_left(&mut self, writer: &str) -> Option<RangeInclusive<i64>> {
        self.tracker.writer_left(writer)
    }

    /// Ids persisted but unknown here (see [`MultiWriterIdTracker::gap`]).
    pub fn gap(&self) -> Option<RangeInclusive<i64>> {
        self.tracker.gap()
    }

    /// The current token: every id up to it is persisted and was handed to the subscribers.
    pub fn current_token(&self) -> i64 {
        self.tracker.current_token()
    }

    /// Every writer's position.
    pub fn positions(&self) -> BTreeMap<String, i64> {
        self.tracker.positions()
    }

    /// The current token in the multi-writer form.
    pub fn stream_token(&self) -> StreamToken {
        self.tracker.stream_token()
    }

    /// The counters.
    pub fn stats(&self) -> ReplicationStats {
        self.stats
    }

    /// Counts a message received, readable or not.
    pub fn count_received(&mut self, readable: bool) {
        self.stats.messages_received += 1;
        if !readable {
            self.stats.messages_unreadable += 1;
        }
    }

    /// Counts a message this tab posted that carries no chunk.
    pub fn count_sent(&mut self) {
        self.stats.messages_sent += 1;
    }

    /// Counts a read of the store made for replication.
    pub fn count_store_read(&mut self) {
        self.stats.store_reads += 1;
    }

    /// Holds `rows` (those above `handed`, the current token before the tracker learnt of them:
    /// rows up to it were handed over already), then takes out every held row the current token
    /// has reached, to be handed over with `rooms`, the rooms the chunk changed.
    fn hold(&mut self, handed: i64, rows: Vec<ReplicationRow>, rooms: BTreeSet<String>) -> Due {
        for row in rows {
            if row.stream_ordering > handed {
                // A row held already stays as it is.
                let _ = self.held.try_insert(row.stream_ordering, row);
            }
        }
        let current = self.tracker.current_token();
        // Held rows are in id order: those up to the current token come first. While a hole
        // stays open none are due, and the rows held are left where they are.
        let due = self.held.find_index(&current).map_or_else(|above| above, |at| at + 1);
        let rows: Vec<ReplicationRow> = if due == 0 {
            Vec::new()
        } else {
            let mut held = std::mem::take(&mut self.held).into_tuple_vec();
            self.held = LiteMap::from_sorted_store_unchecked(held.split_off(due));
            held.into_iter().map(|(_, row)| row).collect()
        };
        self.stats.rows_delivered += rows.len() as u64;
        let subscribers = self.subscribers.iter().map(|(_, callback)| callback.clone()).collect();
        Due { rows, rooms: rooms.into_iter().collect(), subscribers }
    }
}

/// Rows due to the subscribers, the rooms a chunk changed, and the subscribers as they were
/// when the rows became due. Called once the caller holds no borrow of the replica: a
/// subscriber may call back into the store.
///
/// The rooms are told apart from the rows because a chunk can change a room without taking an
/// id: an invite or a knock received as stripped state holds no whole event to give a stream
/// ordering to, yet a tab drawing its room list must draw it again. A room can be named before
/// the rows of it that are held back for ids below them.
#[must_use = "the rows are handed over only by `Due::deliver`"]
pub struct Due {
    rows: Vec<ReplicationRow>,
    rooms: Vec<String>,
    subscribers: Vec<Subscriber>,
}

impl Due {
    /// Hands the rows and rooms to every subscriber, in order, once.
    pub fn deliver(self) {
        if self.rows.is_empty() && self.rooms.is_empty() {
            return;
        }
        for subscriber in &self.subscribers {
            subscriber(&self.rows, &self.rooms);
        }
    }

    /// The rows due.
    pub fn rows(&self) -> &[ReplicationRow] {
        &self.rows
    }

    /// These rows and rooms, then `later`'s, for one delivery: its rows lie above these (the
    /// current token only rises), and its rooms not named here follow these. Its subscribers are
    /// these: no subscriber is added between two messages applied in one go.
    pub fn then(mut self, later: Due) -> Due {
        self.rows.extend(later.rows);
        for room in later.rooms {
            if !self.rooms.contains(&room) {
                self.rooms.push(room);
            }
        }
        self
    }
}
