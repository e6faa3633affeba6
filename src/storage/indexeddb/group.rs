//! Group commit: room chunks asked to be written while another write of this connection is in
//! flight (or in the same task as the first) wait for it, and are then written together, in one
//! transaction.
//!
//! A first sync writes a thousand rooms of a few dozen events each, a chunk each, and an
//! IndexedDB commit costs about as much as the writes of such a chunk. The rooms of a `/sync`
//! response are planned ahead, each on the ids the one before takes (see
//! `EventStore::ingest_sync`), so the chunks that queue behind a write are planned one right
//! after the other: written in one transaction, each is written as planned. A group whose
//! checks fail, or whose write fails, leaves nothing, and its chunks are then written one by one
//! as before, each rebased or failing alone: grouping never changes what is stored.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::{chunk_ops, write_group, ChunkOps, IdbError, IndexedDbStore};
use crate::persist::RoomWritePlan;

/// Chunks per transaction at most: the more, the longer other connections wait on it.
const MAX_GROUP: usize = 16;

/// A chunk waiting for its write, and where its outcome goes: the plan as written (rebased
/// when other connections took ids first), or why it was not.
pub(super) struct Queued {
    plan: RoomWritePlan,
    writer: String,
    outcome: Rc<RefCell<Option<Result<RoomWritePlan, IdbError>>>>,
}

/// The chunks waiting, and the write in flight.
#[derive(Debug, Default)]
pub(super) struct WriteQueue {
    waiting: RefCell<Vec<Queued>>,
    /// Settles once the write in flight, and the outcomes of its chunks, are done.
    in_flight: RefCell<Option<js_sys::Promise>>,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued").field("room_id", &self.plan.room_id).finish_non_exhaustive()
    }
}

/// Marks a write in flight until dropped (even when the future writing is dropped midway), and
/// then wakes the chunks that waited for it.
struct InFlight<'a> {
    queue: &'a WriteQueue,
    settle: Option<js_sys::Function>,
}

impl<'a> InFlight<'a> {
    fn start(queue: &'a WriteQueue) -> Self {
        let mut in_flight = Self { queue, settle: None };
        in_flight.renew();
        in_flight
    }

    /// Wakes the chunks waiting so far (those whose outcome is set return) and goes on with a
    /// new promise for the others to wait on.
    fn renew(&mut self) {
        self.wake();
        let mut settle = None;
        // The executor runs inside `Promise::new`, so `settle` is set when it returns.
        let promise = js_sys::Promise::new(&mut |resolve, _| settle = Some(resolve));
        *self.queue.in_flight.borrow_mut() = Some(promise);
        self.settle = settle;
    }

    fn wake(&mut self) {
        if let Some(settle) = self.settle.take() {
            let _ = settle.call0(&JsValue::UNDEFINED);
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.queue.in_flight.borrow_mut().take();
        self.wake();
    }
}

impl IndexedDbStore {
    /// Writes a chunk (see [`crate::storage::Store::apply`]): at once when nothing else of this
    /// connection is being written, or else once that is done, grouped with the chunks waiting
    /// beside it (queued with a copy of its plan, which the write that takes it may rebase).
    pub(super) async fn write(
        &self,
        plan: &mut RoomWritePlan,
        writer: &str,
    ) -> Result<(), IdbError> {
        if plan.is_empty() {
            return Ok(());
        }
        let outcome = Rc::new(RefCell::new(None));
        let queued = |plan: &RoomWritePlan| Queued {
            plan: plan.clone(),
            writer: writer.to_owned(),
            outcome: outcome.clone(),
        };
        if self.queue.in_flight.borrow().is_none() && self.queue.waiting.borrow().is_empty() {
            // The chunks asked in the same task (the rooms of a response, planned ahead) wait
            // meanwhile: they are written with this one, behind it.
            let in_flight = InFlight::start(&self.queue);
            next_microtask().await;
            if self.queue.waiting.borrow().is_empty() {
                // Nothing to group with (a `persistEvents` batch, most often): written at once,
                // with no copy of the plan, and the chunks asked meanwhile wait for it.
                return self.write_alone(plan, writer).await;
            }
            drop(in_flight);
            self.queue.waiting.borrow_mut().insert(0, queued(plan));
        } else {
            self.queue.waiting.borrow_mut().push(queued(plan));
        }
        loop {
            if let Some(written) = outcome.borrow_mut().take() {
                *plan = written?;
                return Ok(());
            }
            let in_flight = self.queue.in_flight.borrow().clone();
            match in_flight {
                Some(promise) => {
                    // It never rejects: it settles once the outcomes are set.
                    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
                }
                None => self.write_waiting().await,
            }
        }
    }

    /// Writes the chunks waiting that can go in one transaction, and sets their outcomes.
    ///
    /// Each chunk's writer is woken as soon as its chunk is committed: it then tells the other
    /// tabs, which wait (and then read the store) for ids they heard of above ones they lack.
    async fn write_waiting(&self) {
        let mut in_flight = InFlight::start(&self.queue);
        let group = self.take_group();
        // While other connections take ids too (this one's last chunk was rebased), a group
        // would most often find its ids taken, and be written twice.
        let together = group.len() > 1 && !self.contended.get();
        if together && self.write_together(&group).await {
            for queued in group {
                *queued.outcome.borrow_mut() = Some(Ok(queued.plan));
            }
            return;
        }
        for queued in group {
            let mut plan = queued.plan;
            let written = self.write_alone(&mut plan, &queued.writer).await.map(|()| plan);
            *queued.outcome.borrow_mut() = Some(written);
            in_flight.renew();
        }
    }

    /// The first chunk waiting, and those after it each planned right after the one before it
    /// in a room of its own, up to [`MAX_GROUP`].
    fn take_group(&self) -> Vec<Queued> {
        let mut waiting = self.queue.waiting.borrow_mut();
        let mut taken = 1.min(waiting.len());
        while taken < waiting.len().min(MAX_GROUP) {
            let (before, next) = (&waiting[taken - 1].plan, &waiting[taken].plan);
            let chained = next.planned_on.positions == before.planned_on.positions.after(before);
            let new_room =
                waiting[..taken].iter().all(|queued| queued.plan.room_id != next.room_id);
            if !(chained && new_room) {
                break;
            }
            taken += 1;
        }
        waiting.drain(..taken).collect()
    }

    /// Writes `group` in one transaction (`writeGroup`): whether it was committed. A chunk
    /// whose rows cannot be made is left to be written alone, which reports why.
    async fn write_together(&self, group: &[Queued]) -> bool {
        let Ok(db) = self.db() else { return false };
        let (jsons, texts, ends, checks) = (
            js_sys::Array::new(),
            js_sys::Array::new(),
            js_sys::Array::new(),
            js_sys::Array::new(),
        );
        for queued in group {
            let Ok((json, chunk_texts)) =
                chunk_ops(&queued.plan, &queued.writer).and_then(ChunkOps::into_json)
            else {
                return false;
            };
            let Ok(check) = super::check_of(&queued.plan) else { return false };
            jsons.push(&JsValue::from(json));
            texts.push(&JsValue::from(chunk_texts.texts));
            ends.push(&js_sys::Uint32Array::from(chunk_texts.ends.as_slice()));
            checks.push(&check);
        }
        // `writeGroup` never rejects: it resolves to whether the group was committed.
        let promise = write_group(db.as_ref(), &jsons, &texts, &ends, &checks);
        let written = wasm_bindgen_futures::JsFuture::from(promise).await;
        written.is_ok_and(|value| value.as_bool() == Some(true))
    }
}

/// Resumes once the microtasks queued before it ran: the futures polled in the same task have
/// asked for their writes by then.
async fn next_microtask() {
    let resolved = js_sys::Promise::resolve(&JsValue::UNDEFINED);
    // A resolved promise never rejects.
    let _ = wasm_bindgen_futures::JsFuture::from(resolved).await;
}
