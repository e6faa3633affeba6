//! A store's subscribers (`EventStore.subscribe`): JS callbacks in a JS list, served by one
//! subscriber of the store's while the list is not empty. That one converts each delivery's rows
//! once (and gives them the events another tab's message brought, see [`attach_events`]), so
//! that a store's cost per row does not grow with its subscribers.

use std::cell::Cell;
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;

use super::convert::to_js;
use super::event_store::OpenStore;
use crate::replication::{ReplicationRow, Subscriber};

// In `tabs.js`, not a module of their own: with one more JS module to load, test pages of
// `wasm-pack test --headless` stalled (a module request left pending for 300 s, then the run
// timed out), in three fresh runs of the suite out of three.
#[wasm_bindgen(module = "/src/bindings/tabs.js")]
extern "C" {
    /// Gives rows read from a message's head their events, from the events held.
    #[wasm_bindgen(js_name = attachEvents)]
    fn attach_events(rows: &JsValue, held: &js_sys::Map);

    #[wasm_bindgen(js_name = addSubscriber)]
    fn add_subscriber(list: &js_sys::Set, callback: &js_sys::Function) -> JsValue;

    /// Calls every subscriber of `list`; what one throws is reported (`reportError`), not thrown
    /// here.
    #[wasm_bindgen(js_name = deliverRows)]
    fn deliver_rows(list: &js_sys::Set, rows: &JsValue, rooms: &JsValue);
}

/// The subscribers of one open store.
#[derive(Debug)]
pub(super) struct Subscribers {
    list: js_sys::Set,
    /// The key of the store's subscriber that serves the list, while it is not empty.
    key: Cell<Option<u64>>,
    /// The events of other tabs' rows, held until their rows are handed over (none without
    /// other tabs).
    held: Option<js_sys::Map>,
}

impl Subscribers {
    pub(super) fn new(held: Option<js_sys::Map>) -> Rc<Self> {
        Rc::new(Self { list: js_sys::Set::new(&JsValue::UNDEFINED), key: Cell::new(None), held })
    }

    /// Adds `callback`; returns the function that removes it.
    pub(super) fn add(
        self: &Rc<Self>,
        store: &Rc<OpenStore>,
        callback: &js_sys::Function,
    ) -> JsValue {
        let entry = add_subscriber(&self.list, callback);
        if self.key.get().is_none() {
            self.key.set(Some(store.subscribe(self.serving())));
        }
        let (subscribers, store) = (Rc::downgrade(self), Rc::downgrade(store));
        Closure::once_into_js(move || {
            if let Some(subscribers) = subscribers.upgrade() {
                subscribers.remove(&entry, &store);
            }
        })
    }

    fn remove(&self, entry: &JsValue, store: &Weak<OpenStore>) {
        self.list.delete(entry);
        if self.list.size() > 0 {
            return;
        }
        if let (Some(key), Some(store)) = (self.key.take(), store.upgrade()) {
            store.unsubscribe(key);
        }
    }

    /// The store's subscriber that converts the rows and hands them to the list.
    fn serving(&self) -> Subscriber {
        let (list, held) = (self.list.clone(), self.held.clone());
        Rc::new(move |rows: &[ReplicationRow], rooms: &[String]| {
            if let (Ok(rows), Ok(rooms)) = (to_js(&rows), to_js(&rooms)) {
                if let Some(held) = &held {
                    attach_events(&rows, held);
                }
                deliver_rows(&list, &rows, &rooms);
            }
        })
    }
}
