//! The other tabs of an IndexedDB store: its `BroadcastChannel`, the Web Locks that say which
//! writers are alive, and the wait before a catch-up (`tabs.js`). Transport only: what a message
//! means is the event store's (`storage::event_store::replication`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;

use super::event_store::OpenStore;
use crate::replication::StreamMessage;
use crate::storage::ReplicationLink;

#[wasm_bindgen(typescript_custom_section)]
const REPLICATION_TYPES: &str = r#"
/** One event of the events stream, as `EventStore.subscribe` hands it over. */
export interface ReplicationRow {
    /** Its position on the events stream (its stream ordering; for an outlier that later
     *  arrived in the room's DAG, the position it then took). */
    streamOrdering: number;
    /** The writer (tab) that stored it. */
    instanceName: string;
    roomId: string;
    eventId: string;
    type: string;
    /** `null` for a non-state event. */
    stateKey: string | null;
    /** `content.membership` of a member event; `null` otherwise. */
    membership: string | null;
    /** The event as `getEvent(eventId).event` gives it. */
    event: Pdu | ClientEvent;
}

/** What replication did in one tab (`EventStore.stats()`). */
export interface ReplicationStats {
    /** Messages this tab posted: one per chunk it stored, plus its joining and sync tokens. */
    messagesSent: number;
    /** Messages received from other tabs. */
    messagesReceived: number;
    /** Messages received that this version cannot read (each followed by a catch-up). */
    messagesUnreadable: number;
    /** Chunk messages received: one per chunk another tab stored, whatever it made stale. */
    chunksReceived: number;
    /** Cache entries dropped because another tab's chunk made them stale. */
    invalidations: number;
    /** Rows handed to subscribers (each row once, however many subscribers). */
    rowsDelivered: number;
    /** Catch-ups: reads of the store for events no message brought. */
    catchUps: number;
    /** IndexedDB reads replication made; 0 while every message arrives. */
    storeReads: number;
}
"#;

/// How long a tab waits for the announcements of ids it has not heard of before it reads them
/// from the store: a message between live tabs takes well under this.
const GAP_WAIT_MS: i32 = 250;

#[wasm_bindgen(module = "/src/bindings/tabs.js")]
extern "C" {
    #[wasm_bindgen(js_name = openChannel)]
    fn open_channel(database: &str, on_message: &JsValue) -> JsValue;

    fn post(channel: &JsValue, text: &str);

    #[wasm_bindgen(js_name = closeChannel)]
    fn close_channel(channel: &JsValue);

    #[wasm_bindgen(js_name = holdLiveness)]
    fn hold_liveness(database: &str, instance: &str, on_held: &JsValue) -> js_sys::Function;

    #[wasm_bindgen(js_name = watchWriter)]
    fn watch_writer(database: &str, instance: &str, on_left: &JsValue) -> js_sys::Function;

    #[wasm_bindgen(js_name = setTimer)]
    fn set_timer(callback: &JsValue, milliseconds: i32);

    /// Calls a subscriber; what it throws is reported (`reportError`), not thrown here.
    #[wasm_bindgen(js_name = callSubscriber)]
    pub(super) fn call_subscriber(callback: &js_sys::Function, rows: &JsValue, rooms: &JsValue);
}

/// A store's link to the other tabs of its database.
pub(super) struct Tabs {
    database: String,
    channel: JsValue,
    store: Weak<OpenStore>,
    /// A catch-up is scheduled.
    waiting: Rc<Cell<bool>>,
    /// The writers watched for leaving, with the function that stops each watch.
    watched: RefCell<BTreeMap<String, js_sys::Function>>,
    /// Releases this writer's liveness lock.
    release: RefCell<Option<js_sys::Function>>,
    /// Receives the channel's messages while the link lives.
    _on_message: Closure<dyn FnMut(String)>,
}

impl std::fmt::Debug for Tabs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tabs").field("database", &self.database).finish_non_exhaustive()
    }
}

impl Tabs {
    /// Links the store to the other tabs of `database`, as the writer `instance`; `None` where
    /// there is no `BroadcastChannel` (then there are no other tabs).
    pub(super) fn connect(
        store: &Rc<OpenStore>,
        database: &str,
        instance: &str,
    ) -> Option<Rc<Self>> {
        let weak = Rc::downgrade(store);
        let cell: Rc<RefCell<Weak<Tabs>>> = Rc::new(RefCell::new(Weak::new()));
        let link = cell.clone();
        let on_message = Closure::new(move |text: String| {
            if let Some(tabs) = link.borrow().upgrade() {
                tabs.receive(&text);
            }
        });
        let channel = open_channel(database, on_message.as_ref());
        if channel.is_null() {
            return None;
        }
        let tabs = Rc::new(Self {
            database: database.to_owned(),
            channel,
            store: weak.clone(),
            waiting: Rc::new(Cell::new(false)),
            watched: RefCell::new(BTreeMap::new()),
            release: RefCell::new(None),
            _on_message: on_message,
        });
        *cell.borrow_mut() = Rc::downgrade(&tabs);
        store.link(tabs.clone());
        let on_held = Closure::once_into_js(move || {
            if let Some(store) = weak.upgrade() {
                store.announce_joined();
            }
        });
        *tabs.release.borrow_mut() = Some(hold_liveness(database, instance, &on_held));
        Some(tabs)
    }

    /// Stops listening, stops watching, and lets the other tabs see this writer gone.
    pub(super) fn close(&self) {
        close_channel(&self.channel);
        for (_, stop) in std::mem::take(&mut *self.watched.borrow_mut()) {
            let _ = stop.call0(&JsValue::NULL);
        }
        if let Some(release) = self.release.borrow_mut().take() {
            let _ = release.call0(&JsValue::NULL);
        }
    }

    /// Applies a message. A writer that joined and was not known here is watched, and told
    /// that this one is there too (it opened after this one announced itself); one that is
    /// known already gets no answer, so the answers stop.
    fn receive(self: &Rc<Self>, text: &str) {
        let Some(store) = self.store.upgrade() else { return };
        if let Some(writer) = store.receive(text) {
            if self.watch(&writer) {
                store.announce_joined();
            }
        }
    }

    /// Watches a writer that joined: once its liveness lock is free, it commits nothing more,
    /// and a hole it left is read back at once. Returns whether it was not watched yet.
    fn watch(self: &Rc<Self>, writer: &str) -> bool {
        if self.watched.borrow().contains_key(writer) {
            return false;
        }
        let (tabs, name) = (Rc::downgrade(self), writer.to_owned());
        let on_left = Closure::once_into_js(move || {
            let Some(tabs) = tabs.upgrade() else { return };
            tabs.watched.borrow_mut().remove(&name);
            let Some(store) = tabs.store.upgrade() else { return };
            if store.writer_left(&name) {
                catch_up(&store);
            }
        });
        let stop = watch_writer(&self.database, writer, &on_left);
        self.watched.borrow_mut().insert(writer.to_owned(), stop);
        true
    }
}

impl ReplicationLink for Tabs {
    fn post(&self, message: &StreamMessage) {
        post(&self.channel, &message.to_json());
    }

    fn gap_opened(&self) {
        if self.waiting.replace(true) {
            return;
        }
        let (store, waiting) = (self.store.clone(), self.waiting.clone());
        let fire = Closure::once_into_js(move || {
            waiting.set(false);
            let Some(store) = store.upgrade() else { return };
            if store.needs_catch_up() {
                catch_up(&store);
            }
        });
        set_timer(&fire, GAP_WAIT_MS);
    }
}

/// Reads back what no message brought. A failed read (the store closed meanwhile) is left for
/// the next gap.
fn catch_up(store: &Rc<OpenStore>) {
    let store = store.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let _ = store.catch_up().await;
    });
}
