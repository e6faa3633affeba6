//! The other tabs of an IndexedDB store: its `BroadcastChannel`, the Web Locks that say which
//! writers are alive, and the wait before a catch-up (`tabs.js`). Transport only: what a message
//! means is the event store's (`storage::event_store::replication`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use litemap::LiteMap;
use wasm_bindgen::prelude::*;

use super::event_store::OpenStore;
use crate::replication::{StreamMessage, WireMessage};
use crate::storage::{Heard, ReplicationLink};

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
    /** Messages this tab posted: one per chunk it stored, plus its opening, its liveness and
     *  its sync tokens. */
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
    fn open_channel(database: &str, on_post: &JsValue) -> JsValue;

    fn post(link: &JsValue, head: &str, events: &str);

    #[wasm_bindgen(js_name = holdEvents)]
    fn hold_events(held: &js_sys::Map, orderings: Vec<f64>, events: &js_sys::Array);

    #[wasm_bindgen(js_name = releaseEvents)]
    fn release_events(held: &js_sys::Map, token: f64);

    #[wasm_bindgen(js_name = closeChannel)]
    fn close_channel(link: &JsValue);

    #[wasm_bindgen(js_name = holdLiveness)]
    fn hold_liveness(database: &str, instance: &str, on_held: &JsValue) -> js_sys::Promise;

    #[wasm_bindgen(js_name = watchWriter)]
    fn watch_writer(database: &str, instance: &str, on_left: &JsValue) -> js_sys::Function;

    #[wasm_bindgen(js_name = setTimer)]
    fn set_timer(callback: &JsValue, milliseconds: i32);
}

/// A store's link to the other tabs of its database.
pub(super) struct Tabs {
    database: String,
    instance: String,
    /// The channel and this tab's outbox (`openChannel`).
    link: JsValue,
    store: Weak<OpenStore>,
    /// This link, for the callbacks it hands out.
    me: Weak<Tabs>,
    /// A catch-up is scheduled.
    waiting: Cell<bool>,
    /// The writers watched for leaving, with the function that stops each watch.
    watched: RefCell<LiteMap<String, js_sys::Function>>,
    /// The writers this one answered: each is answered once, so that the answers stop.
    answered: RefCell<BTreeSet<String>>,
    /// This writer's liveness lock.
    liveness: RefCell<Liveness>,
    /// The events of rows received and not handed over yet, by stream ordering: they stay in
    /// JS, where the channel parsed them, and the module reads only the messages' heads.
    held: js_sys::Map,
    /// Receives the channel's posts while the link lives.
    _on_post: Closure<dyn FnMut(js_sys::Array, js_sys::Array)>,
}

/// Where this writer's liveness lock stands. It is asked for before the first commit, not on
/// opening: a tab that only reads takes no id another tab could wait for, and asking for a Web
/// Lock took a third of an open's time.
#[derive(Debug, Default)]
enum Liveness {
    #[default]
    NotAsked,
    /// Asked for: the promise resolves once it is held and announced.
    Asked(js_sys::Promise),
    /// Held: the function that releases it.
    Held(js_sys::Function),
    /// The store closed.
    Closed,
}

impl std::fmt::Debug for Tabs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tabs").field("database", &self.database).finish_non_exhaustive()
    }
}

impl Tabs {
    /// Links the store to the other tabs of `database`, as the writer `instance`, and tells them
    /// it opened; `None` where there is no `BroadcastChannel` (then there are no other tabs).
    pub(super) fn connect(
        store: &Rc<OpenStore>,
        database: &str,
        instance: &str,
    ) -> Option<Rc<Self>> {
        let tabs = Rc::new_cyclic(|me: &Weak<Tabs>| {
            let link = me.clone();
            let on_post = Closure::new(move |heads: js_sys::Array, events: js_sys::Array| {
                if let Some(tabs) = link.upgrade() {
                    tabs.receive(&heads, &events);
                }
            });
            Self {
                database: database.to_owned(),
                instance: instance.to_owned(),
                link: open_channel(database, on_post.as_ref()),
                store: Rc::downgrade(store),
                me: me.clone(),
                waiting: Cell::new(false),
                watched: RefCell::new(LiteMap::new()),
                answered: RefCell::new(BTreeSet::new()),
                liveness: RefCell::new(Liveness::NotAsked),
                held: js_sys::Map::new(),
                _on_post: on_post,
            }
        });
        if tabs.link.is_null() {
            return None;
        }
        store.link(tabs.clone());
        store.announce_joined(false);
        Some(tabs)
    }

    /// Tells the other tabs this writer left, stops listening and watching, and releases its
    /// liveness lock (which a crashed tab's browser releases for it).
    pub(super) fn close(&self) {
        if let Some(store) = self.store.upgrade() {
            store.announce_left();
        }
        close_channel(&self.link);
        for (_, stop) in std::mem::take(&mut *self.watched.borrow_mut()) {
            let _ = stop.call0(&JsValue::NULL);
        }
        if let Liveness::Held(release) = self.liveness.replace(Liveness::Closed) {
            let _ = release.call0(&JsValue::NULL);
        }
    }

    /// The events of received rows not handed over yet (see `attachEvents` in `tabs.js`).
    pub(super) fn held_events(&self) -> js_sys::Map {
        self.held.clone()
    }

    /// Applies the messages of a post: their heads, and their events as the channel parsed them
    /// (for each, an array, one per row, or `null` when they could not be read; a post that could
    /// not be read is one message with an empty head). A writer heard of for the first time is
    /// answered, so that it knows this one too (it opened after this one announced itself); one
    /// that is live is watched.
    fn receive(&self, heads: &js_sys::Array, events: &js_sys::Array) {
        let Some(store) = self.store.upgrade() else { return };
        let messages = heads
            .iter()
            .zip(events.iter())
            .map(|(head, events)| {
                let head = head.as_string().unwrap_or_default();
                StreamMessage::from_head(&head).filter(|message| self.hold(message, events))
            })
            .collect();
        let heard = store.receive_all(messages);
        release_events(&self.held, store.current_token() as f64);
        for heard in heard {
            self.answer(&store, heard);
        }
    }

    fn answer(&self, store: &OpenStore, heard: Heard) {
        let writer = match heard {
            Heard::Joined(writer) => writer,
            Heard::Live(writer) => {
                self.watch(&writer);
                writer
            }
        };
        if self.answered.borrow_mut().insert(writer) {
            store.announce_joined(matches!(*self.liveness.borrow(), Liveness::Held(_)));
        }
    }

    /// Holds the events of `message`'s rows until they are handed over; false when they are not
    /// one per row.
    fn hold(&self, message: &StreamMessage, events: JsValue) -> bool {
        let rows = message.rows();
        let Ok(events) = events.dyn_into::<js_sys::Array>() else { return false };
        if events.length() as usize != rows.len() {
            return false;
        }
        let orderings = rows.iter().map(|row| row.stream_ordering as f64).collect();
        hold_events(&self.held, orderings, &events);
        true
    }

    /// Watches a live writer: once its liveness lock is free, it commits nothing more, and a
    /// hole it left is read back at once.
    fn watch(&self, writer: &str) {
        if self.watched.borrow().contains_key(writer) {
            return;
        }
        let (tabs, name) = (self.me.clone(), writer.to_owned());
        let on_left = Closure::once_into_js(move || {
            let Some(tabs) = tabs.upgrade() else { return };
            tabs.watched.borrow_mut().remove(&name);
            let Some(store) = tabs.store.upgrade() else { return };
            if store.writer_left(&name) {
                catch_up(&store, tabs.held_events());
            }
        });
        let stop = watch_writer(&self.database, writer, &on_left);
        self.watched.borrow_mut().insert(writer.to_owned(), stop);
    }

    /// Asks for this writer's liveness lock: the promise resolves once it is held and the other
    /// tabs were told. A lock granted after the store closed is released at once; one that
    /// cannot be had leaves the writer without liveness (its commits go on, and the other tabs
    /// wait out its holes instead).
    fn ask_liveness(&self) -> js_sys::Promise {
        let tabs = self.me.clone();
        let on_held = Closure::once_into_js(move |release: js_sys::Function| {
            let Some(tabs) = tabs.upgrade().filter(|tabs| !tabs.is_closed()) else {
                let _ = release.call0(&JsValue::NULL);
                return;
            };
            *tabs.liveness.borrow_mut() = Liveness::Held(release);
            if let Some(store) = tabs.store.upgrade() {
                store.announce_joined(true);
            }
        });
        hold_liveness(&self.database, &self.instance, &on_held)
    }

    fn is_closed(&self) -> bool {
        matches!(*self.liveness.borrow(), Liveness::Closed)
    }
}

impl ReplicationLink for Tabs {
    fn post(&self, message: StreamMessage) {
        let WireMessage { head, events } = message.into_wire();
        post(&self.link, &head, &events);
    }

    /// Waits [`GAP_WAIT_MS`] for the lowest id missing, then reads the store if it is still
    /// missing. When messages filled it meanwhile and another gap is open, that one is waited for
    /// in turn: several writers committing at once open gaps one after the other, each filled by
    /// a message on its way, and only a hole that stays (its writer died between commit and
    /// post, or its message was lost) is read.
    fn gap_opened(&self) {
        if self.waiting.replace(true) {
            return;
        }
        let Some(store) = self.store.upgrade() else { return };
        let token = store.current_token();
        let (store, me) = (self.store.clone(), self.me.clone());
        let fire = Closure::once_into_js(move || {
            let Some(tabs) = me.upgrade() else { return };
            tabs.waiting.set(false);
            let Some(store) = store.upgrade() else { return };
            if !store.needs_catch_up() {
                return;
            }
            match store.current_token() == token || !store.has_gap() {
                true => catch_up(&store, tabs.held_events()),
                false => tabs.gap_opened(),
            }
        });
        set_timer(&fire, GAP_WAIT_MS);
    }

    fn writing(&self) -> Pin<Box<dyn Future<Output = ()>>> {
        let asked = match &*self.liveness.borrow() {
            Liveness::NotAsked => None,
            Liveness::Asked(held) => Some(held.clone()),
            Liveness::Held(_) | Liveness::Closed => return Box::pin(std::future::ready(())),
        };
        let held = asked.unwrap_or_else(|| {
            let held = self.ask_liveness();
            *self.liveness.borrow_mut() = Liveness::Asked(held.clone());
            held
        });
        let held = wasm_bindgen_futures::JsFuture::from(held);
        Box::pin(async move {
            // `holdLiveness`' promise never rejects.
            let _ = held.await;
        })
    }
}

/// Reads back what no message brought, then lets go of the held events of rows it handed over
/// (a message that came after all). A failed read (the store closed meanwhile) is left for the
/// next gap.
fn catch_up(store: &Rc<OpenStore>, held: js_sys::Map) {
    let store = store.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let _ = store.catch_up().await;
        release_events(&held, store.current_token() as f64);
    });
}
