//! A backend that passes every call on to the backend under test, except where a test
//! interposes: a room whose writes fail, or a pause where another tab takes its turn.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use prejoin::model::StateFilter;
use prejoin::persist::state_groups::{StateGroupId, StateGroupRow};
use prejoin::persist::RoomWritePlan;
use prejoin::storage::{PlanningEvent, Positions, Store, StoreError, StoredEvent};
use ruma_common::{EventId, OwnedEventId};

/// The backend under test, with what a test interposes. A stand-in only for that: every other
/// call goes to the real backend.
pub struct Interposed<S> {
    inner: S,
    /// Writes of this room fail, to check what a failed chunk leaves.
    failing_room: Option<String>,
    /// Reading which rooms are stored (`Store::rooms_versions`) pauses here once armed.
    pause: Option<Rc<Pause>>,
}

impl<S> Interposed<S> {
    /// `inner`, whose writes of `room_id` fail.
    pub fn failing(inner: S, room_id: &str) -> Self {
        Self { inner, failing_room: Some(room_id.to_owned()), pause: None }
    }

    /// `inner`, pausing at `pause` once it is armed.
    pub fn pausing(inner: S, pause: Rc<Pause>) -> Self {
        Self { inner, failing_room: None, pause: Some(pause) }
    }
}

/// A point where a call yields once, so that what else the test runs at the same time (another
/// tab) runs there, as it may between two reads of an IndexedDB backend.
#[derive(Debug, Default)]
pub struct Pause {
    armed: Cell<bool>,
    reached: Cell<bool>,
}

impl Pause {
    /// The next call that reaches the pause yields there.
    pub fn arm(&self) {
        self.armed.set(true);
    }

    /// Resolves once a call has reached the armed pause (and yielded there).
    pub async fn reached(&self) {
        poll_fn(|context| match self.reached.get() {
            true => Poll::Ready(()),
            false => {
                context.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }

    /// Yields once if armed, and disarms.
    async fn reach(&self) {
        if !self.armed.replace(false) {
            return;
        }
        self.reached.set(true);
        let mut yielded = false;
        poll_fn(|context| {
            if std::mem::replace(&mut yielded, true) {
                return Poll::Ready(());
            }
            context.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }
}

impl<S: Store> Store for Interposed<S> {
    async fn apply(&self, plan: &mut RoomWritePlan, writer: &str) -> Result<(), StoreError> {
        if self.failing_room.as_deref() == Some(plan.room_id.as_str()) {
            return Err(StoreError::Write("forced failure".to_owned()));
        }
        self.inner.apply(plan, writer).await
    }
    async fn room_chunks(&self, room_id: &str) -> Result<u64, StoreError> {
        self.inner.room_chunks(room_id).await
    }
    async fn rooms_versions(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<Option<prejoin::model::room_version::RoomVersion>>, StoreError> {
        if let Some(pause) = &self.pause {
            pause.reach().await;
        }
        self.inner.rooms_versions(room_ids).await
    }
    async fn room_version(
        &self,
        room_id: &str,
    ) -> Result<Option<prejoin::model::room_version::RoomVersion>, StoreError> {
        self.inner.room_version(room_id).await
    }
    async fn rooms(&self) -> Result<BTreeSet<String>, StoreError> {
        self.inner.rooms().await
    }
    async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        self.inner.event(event_id).await
    }
    async fn events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<StoredEvent>>, StoreError> {
        self.inner.events(event_ids).await
    }
    async fn forward_extremities(&self, room_id: &str) -> Result<BTreeSet<String>, StoreError> {
        self.inner.forward_extremities(room_id).await
    }
    async fn current_state(
        &self,
        room_id: &str,
        filter: &StateFilter,
    ) -> Result<prejoin::persist::StateIds, StoreError> {
        self.inner.current_state(room_id, filter).await
    }
    async fn backward_extremities(
        &self,
        room_id: &str,
    ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
        self.inner.backward_extremities(room_id).await
    }
    async fn redactions_of(
        &self,
        event_id: &EventId,
    ) -> Result<Vec<prejoin::persist::RedactionRow>, StoreError> {
        self.inner.redactions_of(event_id).await
    }
    async fn redactions_of_many(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Vec<prejoin::persist::RedactionRow>>, StoreError> {
        self.inner.redactions_of_many(event_ids).await
    }
    async fn state_at_event(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<prejoin::persist::StateIds>, StoreError> {
        self.inner.state_at_event(event_id, filter).await
    }
    async fn memberships(
        &self,
        room_id: &str,
    ) -> Result<Vec<prejoin::persist::MembershipRow>, StoreError> {
        self.inner.memberships(room_id).await
    }
    async fn positions(&self) -> Result<Positions, StoreError> {
        self.inner.positions().await
    }
    async fn state_pdus(
        &self,
        state: &prejoin::model::StateIds,
    ) -> Result<Vec<Option<prejoin::model::pdu::Pdu>>, StoreError> {
        self.inner.state_pdus(state).await
    }
    async fn planning_events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<PlanningEvent>>, StoreError> {
        self.inner.planning_events(event_ids).await
    }
    async fn state_group_chain(
        &self,
        group: StateGroupId,
    ) -> Result<Vec<StateGroupRow>, StoreError> {
        self.inner.state_group_chain(group).await
    }
    async fn referenced_as_prev(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
        self.inner.referenced_as_prev(event_ids).await
    }
    async fn stream_positions(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        self.inner.stream_positions().await
    }
    async fn stream_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<prejoin::storage::StreamPage, StoreError> {
        self.inner.stream_after(after, limit).await
    }
    async fn room_timeline(
        &self,
        room_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.room_timeline(room_id, before, limit).await
    }
    async fn current_states(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<prejoin::persist::StateIds>, StoreError> {
        self.inner.current_states(room_ids).await
    }
    async fn lock_writes(&self) -> Result<prejoin::storage::WriteLock, StoreError> {
        self.inner.lock_writes().await
    }
    async fn local_memberships(
        &self,
        user_id: &str,
        room_ids: Option<&[String]>,
    ) -> Result<prejoin::storage::LocalMemberships, StoreError> {
        self.inner.local_memberships(user_id, room_ids).await
    }
    async fn timeline_gaps(
        &self,
        room_id: &str,
    ) -> Result<Vec<prejoin::persist::TimelineGap>, StoreError> {
        self.inner.timeline_gaps(room_id).await
    }
    async fn sync_token(&self) -> Result<Option<prejoin::storage::SyncToken>, StoreError> {
        self.inner.sync_token().await
    }
    async fn set_sync_token(&self, token: &prejoin::storage::SyncToken) -> Result<(), StoreError> {
        self.inner.set_sync_token(token).await
    }
    async fn room_list(&self, user_id: &str) -> Result<prejoin::storage::RoomList, StoreError> {
        self.inner.room_list(user_id).await
    }
    async fn keep_previews(
        &self,
        user_id: &str,
        epoch: u64,
        previews: &[(String, String)],
    ) -> Result<bool, StoreError> {
        self.inner.keep_previews(user_id, epoch, previews).await
    }
}
