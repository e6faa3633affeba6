//! Replication between tabs: what a writer tells the others after each committed chunk, and how
//! a tab turns what it hears (or, when a message is missing, what it reads back) into rows for
//! its subscribers, in stream order, each once.
//!
//! Synapse's workers learn of each other's writes over replication streams whose rows carry the
//! event ids and caches to invalidate, then read the events from the database. Tabs share one
//! origin, so a message carries the events themselves: a tab applies another's chunk without
//! reading IndexedDB. A message may still be missed (a writer killed between its commit and its
//! post, or a tab running other code): ids then stay unknown below known ones, a gap, which is
//! waited on a little and then read back from the store by stream ordering.
//!
//! Pure: the transport (a `BroadcastChannel`, liveness locks, timers) is the bindings'.

mod message;
mod replica;
mod row;

pub use self::message::{
    CommittedChunk, Invalidations, MessageBody, StreamMessage, WireMessage, MESSAGE_VERSION,
};
pub use self::replica::{Due, Replica, ReplicationStats, Subscriber};
pub use self::row::ReplicationRow;

use crate::persist::RoomWritePlan;

impl CommittedChunk {
    /// What `writer` tells the other tabs of the chunk `plan`, as written (rebased).
    pub fn of(plan: &RoomWritePlan, writer: &str) -> Self {
        // The writer took every id of the chunk, an ex-outlier's included (whose `events` row
        // keeps the writer that stored the outlier).
        let mut rows: Vec<ReplicationRow> = plan
            .events
            .iter()
            .filter(|event| event.stream_id > 0)
            .map(|event| ReplicationRow::new(&event.pdu, event.stream_id, writer))
            .collect();
        rows.sort_by_key(|row| row.stream_ordering);
        let stream_ids = rows
            .first()
            .zip(rows.last())
            .map(|(first, last)| (first.stream_ordering, last.stream_ordering));
        let mut invalidate = Invalidations::default();
        invalidate.rooms.insert(plan.room_id.to_string());
        Self { stream_ids, rows, invalidate }
    }
}
