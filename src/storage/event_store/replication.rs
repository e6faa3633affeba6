//! The event store's side of replication between tabs: announcing each committed chunk, applying
//! what other tabs announce (caches dropped before any subscriber is called), and catching up
//! from the store when an announcement is missing.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use super::EventStore;
use crate::persist::RoomWritePlan;
use crate::replication::{
    CommittedChunk, Due, Invalidations, MessageBody, ReplicationRow, ReplicationStats,
    StreamMessage, Subscriber,
};
use crate::storage::{Store, StoreError, SyncToken};
use crate::streams::StreamToken;

/// How many events a catch-up reads from the store at a time.
const CATCH_UP_PAGE: usize = 500;

/// How a tab reaches the others (a `BroadcastChannel` in a browser), and the clock it waits on.
pub trait ReplicationLink: std::fmt::Debug {
    /// Posts `message` to every other tab of the store (as a [`crate::replication::WireMessage`],
    /// which the receiving end reads back for [`EventStore::receive`]).
    fn post(&self, message: StreamMessage);

    /// Ids this tab has not heard of lie below known ones (or a message could not be read):
    /// [`EventStore::catch_up`] is due after a bounded wait, unless the announcements arrive
    /// meanwhile (a catch-up with nothing missing reads nothing).
    fn gap_opened(&self);

    /// This tab is about to commit: ready once the other tabs can tell whether it is alive (in a
    /// browser, once its liveness lock is held and announced). A tab that never writes holds no
    /// id another could wait for, so it needs no liveness.
    fn writing(&self) -> Pin<Box<dyn Future<Output = ()>>>;
}

/// Another writer, as a message from it introduced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// It opened the store (or answered this one): it is to be answered once.
    Joined(String),
    /// It is live: it is to be answered once, and its liveness watched.
    Live(String),
}

impl<S: Store> EventStore<S> {
    /// Connects the store to the other tabs: from now on each chunk it commits is announced.
    pub fn link(&self, link: Rc<dyn ReplicationLink>) {
        *self.link.borrow_mut() = Some(link);
    }

    /// Tells the other tabs that this writer opened the store (or is there, in answer to one
    /// that did): `live` once its liveness is visible to them (its lock held), so that none
    /// takes it for gone before.
    pub fn announce_joined(&self, live: bool) {
        self.announce(if live { MessageBody::Live } else { MessageBody::Joined });
    }

    /// Tells the other tabs that this writer closed the store.
    pub fn announce_left(&self) {
        self.announce(MessageBody::Left);
    }

    fn announce(&self, body: MessageBody) {
        let Some(link) = self.link.borrow().clone() else { return };
        link.post(StreamMessage::new(&self.writer, body));
        self.replica.borrow_mut().count_sent();
    }

    /// Adds a subscriber: from now on it is handed every row of the events stream once, in
    /// increasing order, whichever tab wrote it, never past [`Self::current_token`]. Returns its
    /// key for [`Self::unsubscribe`].
    pub fn subscribe(&self, subscriber: Subscriber) -> u64 {
        self.replica.borrow_mut().subscribe(subscriber)
    }

    /// Removes a subscriber.
    pub fn unsubscribe(&self, key: u64) {
        self.replica.borrow_mut().unsubscribe(key);
    }

    /// The events stream's current token in this tab: every id up to it is persisted and was
    /// handed to the subscribers (0 before any event).
    pub fn current_token(&self) -> i64 {
        self.replica.borrow().current_token()
    }

    /// The current token in Synapse's multi-writer form.
    pub fn current_stream_token(&self) -> StreamToken {
        self.replica.borrow().stream_token()
    }

    /// Each writer's position on the events stream as this tab knows it, this tab's included.
    pub fn stream_positions(&self) -> std::collections::BTreeMap<String, i64> {
        self.replica.borrow().positions()
    }

    /// Whether ids this tab has not heard of lie below known ones (see
    /// [`ReplicationLink::gap_opened`]).
    pub fn has_gap(&self) -> bool {
        self.replica.borrow().gap().is_some()
    }

    /// Whether a catch-up is due: a gap, or a message that could not be read since the last.
    pub fn needs_catch_up(&self) -> bool {
        self.missed.get() || self.has_gap()
    }

    /// What replication did in this tab.
    pub fn replication_stats(&self) -> ReplicationStats {
        self.replica.borrow().stats()
    }

    /// A chunk was committed by this tab: the other tabs are told, then this tab's subscribers
    /// get its rows (once the ids below them are known).
    pub(super) fn announce_chunk(&self, plan: &RoomWritePlan) {
        let chunk = CommittedChunk::of(plan, &self.writer);
        let link = self.link.borrow().clone();
        if let Some(link) = &link {
            link.post(StreamMessage::new(&self.writer, MessageBody::Chunk(chunk.clone())));
        }
        let due = self.replica.borrow_mut().committed(chunk);
        self.after_learning(link.as_deref());
        due.deliver();
    }

    /// The sync token was stored: the other tabs are told.
    pub(super) fn announce_sync_token(&self, token: &SyncToken) {
        self.announce(MessageBody::SyncToken {
            user_id: token.user_id.clone(),
            next_batch: token.next_batch.clone(),
        });
    }

    /// Waits, before a commit, until the other tabs can tell whether this one is alive (see
    /// [`ReplicationLink::writing`]).
    pub(super) async fn before_commit(&self) {
        let link = self.link.borrow().clone();
        if let Some(link) = link {
            link.writing().await;
        }
    }

    /// Applies a message another tab posted, as its link read it: a chunk's caches are dropped
    /// before its rows reach any subscriber. `None`, a message the link could not read (another
    /// version's, or garbage), is counted and taken as something missed: the next catch-up reads
    /// the store even without a known gap.
    ///
    /// Returns what the message asks of this tab's link, if anything.
    pub fn receive(&self, message: Option<StreamMessage>) -> Option<Heard> {
        self.receive_all(vec![message]).pop()
    }

    /// Applies the messages of one post, in order, as [`Self::receive`] does each, and hands
    /// the rows they made due to the subscribers once, after every cache they make stale was
    /// dropped: a tab's burst of chunks costs a subscriber one call, not one per chunk.
    ///
    /// Returns what the messages ask of this tab's link, in order.
    pub fn receive_all(&self, messages: Vec<Option<StreamMessage>>) -> Vec<Heard> {
        let (mut heard, mut dues) = (Vec::new(), Vec::new());
        for message in messages {
            let (asked, due) = self.apply(message);
            heard.extend(asked);
            dues.extend(due);
        }
        if let Some(due) = dues.into_iter().reduce(Due::then) {
            due.deliver();
        }
        heard
    }

    /// Applies one message: what it asks of the link, and the rows it made due.
    fn apply(&self, message: Option<StreamMessage>) -> (Option<Heard>, Option<Due>) {
        self.replica.borrow_mut().count_received(message.is_some());
        let link = self.link.borrow().clone();
        let Some(message) = message else {
            self.missed.set(true);
            if let Some(link) = &link {
                link.gap_opened();
            }
            return (None, None);
        };
        let writer = message.instance_name;
        match message.body {
            MessageBody::Joined => {
                self.replica.borrow_mut().writer_joined(&writer);
                (Some(Heard::Joined(writer)), None)
            }
            MessageBody::Live => {
                self.replica.borrow_mut().writer_joined(&writer);
                (Some(Heard::Live(writer)), None)
            }
            // Its chunks' messages came before this one, on the same channel: a hole below them
            // is another writer's, waited for as any.
            MessageBody::Left => {
                let _ = self.replica.borrow_mut().writer_left(&writer);
                self.after_learning(link.as_deref());
                (None, None)
            }
            MessageBody::SyncToken { user_id, next_batch } => {
                *self.sync_token.borrow_mut() = Some(SyncToken::new(user_id, next_batch));
                (None, None)
            }
            MessageBody::Chunk(chunk) => {
                self.invalidate(&chunk.invalidate);
                let due = self.replica.borrow_mut().received(&writer, chunk);
                self.after_learning(link.as_deref());
                (None, Some(due))
            }
        }
    }

    /// A writer closed or crashed (its liveness lock was released). Returns whether a catch-up is
    /// due now: a hole below known ids may be a chunk it committed and never announced, which no
    /// waiting will bring.
    pub fn writer_left(&self, writer: &str) -> bool {
        self.replica.borrow_mut().writer_left(writer).is_some()
    }

    /// Reads from the store what no message brought: every live event after the current token,
    /// a page at a time, each page read with the sequence in one transaction. Their rooms'
    /// caches are dropped, then the rows handed to the subscribers.
    pub async fn catch_up(&self) -> Result<(), StoreError> {
        self.missed.set(false);
        loop {
            let after = self.replica.borrow().current_token();
            let page = self.backend.stream_after(after, CATCH_UP_PAGE).await?;
            self.replica.borrow_mut().count_store_read();
            let rows: Vec<ReplicationRow> = page
                .events
                .iter()
                .filter_map(|event| {
                    let metadata = &event.internal_metadata;
                    let ordering = metadata.stream_ordering.filter(|ordering| *ordering > after)?;
                    let writer = metadata.instance_name.as_deref().unwrap_or(&self.writer);
                    Some(ReplicationRow::new(&event.pdu, ordering, writer))
                })
                .collect();
            let known_to = match (page.more, rows.last()) {
                (true, Some(last)) => last.stream_ordering,
                _ => page.last_stream_id,
            };
            let mut invalidate = Invalidations::default();
            invalidate.rooms.extend(rows.iter().map(|row| row.room_id.clone()));
            self.invalidate(&invalidate);
            let due = self.replica.borrow_mut().caught_up(known_to, rows, invalidate.rooms);
            due.deliver();
            if !page.more {
                return Ok(());
            }
        }
    }

    /// Drops what this tab holds of the rooms another tab wrote to: their planning state is
    /// restored from the store on its next use.
    fn invalidate(&self, invalidate: &Invalidations) {
        let mut planning = self.planning.borrow_mut();
        for room_id in &invalidate.rooms {
            planning.rooms.remove(room_id);
            planning.synced.remove(room_id);
            planning.unverified.remove(room_id);
        }
    }

    /// Asks for a catch-up when what this tab learnt left ids unknown below known ones.
    fn after_learning(&self, link: Option<&dyn ReplicationLink>) {
        let gap = self.replica.borrow().gap().is_some();
        if let (true, Some(link)) = (gap, link) {
            link.gap_opened();
        }
    }
}
