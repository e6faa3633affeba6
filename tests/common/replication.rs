//! The replication suite: tabs (event stores over one backend) told of each other's chunks
//! through a channel that delivers as a `BroadcastChannel` does between tabs (every message to
//! every tab but its sender, in the order posted), held back for a while or lost, as a tab killed
//! between its commit and its post loses one. In process, so that the order of deliveries is the
//! test's to choose; the browser suite runs the real channel.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use prejoin::replication::{ReplicationRow, StreamMessage, WireMessage};
use prejoin::storage::{EventStore, Heard, ReplicationLink, Store};
use ruma_common::CanonicalJsonValue;
use serde_json::Value as JsonValue;

use super::conformance::{all_pdus_interleaved, check_pdus_rooms};
use super::interposed::{Interposed, Pause};
use super::sync_series::joined_rooms;
use super::{event_id, fixture};

/// Expands to one test per behaviour of the replication suite, each on a fresh backend from
/// `$make_store`.
#[macro_export]
macro_rules! replication_tests {
    ($make_store:path; $($name:ident),+ $(,)?) => {$(
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            common::block_on(async { common::replication::$name($make_store().await).await })
        }
        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn $name() {
            common::replication::$name($make_store().await).await
        }
    )+};
    ($make_store:path) => {
        $crate::replication_tests!($make_store;
            tabs_hand_every_row_once_in_order,
            an_unreadable_message_is_a_gap,
            an_invite_reaches_the_other_tabs_as_its_room,
            a_first_sync_is_announced_in_commit_order,
            a_writer_is_listed_from_its_opening_until_it_leaves,
            a_post_of_several_chunks_is_handed_over_once,
        );
    };
}

/// Messages posted and not delivered yet, in the order posted, with their senders; and how
/// often each tab asked for a catch-up.
#[derive(Debug, Default)]
struct Channel {
    posted: RefCell<VecDeque<(String, WireMessage)>>,
    gaps: RefCell<BTreeMap<String, u32>>,
}

/// One tab's end of the channel.
#[derive(Debug)]
struct Link {
    name: String,
    channel: Rc<Channel>,
}

impl ReplicationLink for Link {
    fn post(&self, message: StreamMessage) {
        self.channel.posted.borrow_mut().push_back((self.name.clone(), message.into_wire()));
    }

    fn gap_opened(&self) {
        *self.channel.gaps.borrow_mut().entry(self.name.clone()).or_default() += 1;
    }

    /// Liveness is the browser's (Web Locks, `tests/e2e/tabs-stall.test.mjs`): here every tab
    /// may commit at once.
    fn writing(&self) -> Pin<Box<dyn Future<Output = ()>>> {
        Box::pin(std::future::ready(()))
    }
}

/// A tab: its store, its name, and what its subscriber was handed.
struct Tab<S: Store> {
    name: String,
    store: EventStore<S>,
    rows: Rc<RefCell<Vec<ReplicationRow>>>,
    rooms: Rc<RefCell<Vec<String>>>,
}

async fn open_tabs<S: Store + Copy>(
    backend: S,
    names: &[&str],
    channel: &Rc<Channel>,
) -> Vec<Tab<S>> {
    let mut tabs = Vec::new();
    for name in names {
        let store = EventStore::open(backend, *name).await.unwrap();
        store.link(Rc::new(Link { name: (*name).to_owned(), channel: channel.clone() }));
        store.announce_joined(false);
        let (rows, rooms) = (Rc::new(RefCell::new(Vec::new())), Rc::new(RefCell::new(Vec::new())));
        let (handed, named) = (rows.clone(), rooms.clone());
        store.subscribe(Rc::new(move |rows: &[ReplicationRow], rooms: &[String]| {
            handed.borrow_mut().extend_from_slice(rows);
            named.borrow_mut().extend_from_slice(rooms);
        }));
        tabs.push(Tab { name: (*name).to_owned(), store, rows, rooms });
    }
    tabs
}

impl Channel {
    /// Delivers every message posted so far to every tab but its sender, except those `lose`
    /// picks, which no tab receives.
    fn deliver<S: Store>(&self, tabs: &[Tab<S>], mut lose: impl FnMut(&str, &str) -> bool) {
        loop {
            let next = self.posted.borrow_mut().pop_front();
            let Some((from, wire)) = next else { return };
            if lose(&from, &wire.head) {
                continue;
            }
            for tab in tabs.iter().filter(|tab| tab.name != from) {
                let heard = tab.store.receive(StreamMessage::from_wire(&wire));
                let joined = matches!(&heard, Some(Heard::Joined(writer)) if *writer == from);
                assert_eq!(joined, wire.head.contains(r#""body":"joined""#));
            }
        }
    }

    fn gaps_of(&self, name: &str) -> u32 {
        self.gaps.borrow().get(name).copied().unwrap_or(0)
    }
}

/// Three tabs over one store persist every room of `pdus.json`, each all of it, in batches of
/// different pseudo-random sizes; their messages are delivered late (a tab commits above ids it
/// has not heard of yet) and one chunk's message is lost. Every tab's subscriber is handed rows
/// 1..N exactly once, in order, each with the stored event, whichever tab stored it; the tab
/// that lost nothing read nothing from the store, the others caught up once; every current token
/// reaches N; and a tab opened afterwards starts at N from `stream_positions` alone.
pub async fn tabs_hand_every_row_once_in_order(backend: impl Store) {
    let backend = &backend;
    let channel = Rc::new(Channel::default());
    let tabs = open_tabs(backend, &["tab-a", "tab-b", "tab-c"], &channel).await;
    channel.deliver(&tabs, |_, _| false);
    let events = all_pdus_interleaved();
    let total = events.len();
    let mut seeds: [u64; 3] = [0x9e37_79b9_7f4a_7c15, 0x2545_f491_4f6c_dd1d, 0x1234_5678_9abc];
    let mut next = [0usize; 3];
    let mut lost: Option<Vec<i64>> = None;
    let mut round = 0;
    while next.iter().any(|&at| at < total) {
        round += 1;
        for (writer, tab) in tabs.iter().enumerate() {
            let seed = &mut seeds[writer];
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            let size = (*seed % 9) as usize + 1;
            let batch: Vec<JsonValue> =
                events.iter().skip(next[writer]).take(size).cloned().collect();
            next[writer] += batch.len();
            if !batch.is_empty() {
                let result = tab.store.persist_events(batch, false).await.unwrap();
                assert!(result.rooms.iter().all(|room| room.error.is_none()));
            }
            // Messages arrive after the last tab of each round wrote: the first two commit
            // above ids they have not heard of. tab-b's first chunk message from round 3 on is
            // lost.
            if writer == 2 {
                channel.deliver(&tabs, |from, text| {
                    let chunk = lost.is_none() && from == "tab-b" && round >= 3;
                    let ids = chunk_ids(text).filter(|_| chunk);
                    if let Some(ids) = &ids {
                        lost = Some(ids.clone());
                    }
                    ids.is_some()
                });
            }
        }
    }
    channel.deliver(&tabs, |_, _| false);
    let lost = lost.expect("a message was lost");
    for tab in &tabs {
        // Every tab asked for a catch-up at some point (it committed above ids it had not heard
        // of yet); only those that missed the lost message still lack ids once every message
        // arrived.
        assert!(channel.gaps_of(&tab.name) > 0, "{}", tab.name);
        assert_eq!(tab.store.has_gap(), tab.name != "tab-b", "{}", tab.name);
        if tab.store.has_gap() {
            tab.store.catch_up().await.unwrap();
        }
        assert!(!tab.store.has_gap(), "{}", tab.name);
    }
    for tab in &tabs {
        check_rows(tab, total, backend).await;
        let stats = tab.store.replication_stats();
        let lost_here = tab.name != "tab-b";
        assert_eq!(stats.catch_ups, u64::from(lost_here), "{}", tab.name);
        assert_eq!(stats.store_reads, u64::from(lost_here), "{}: reads", tab.name);
        // Two tabs joined, then one message per chunk, each naming the one room it wrote to.
        assert_eq!(stats.chunks_received + 2, stats.messages_received, "{}", tab.name);
        assert_eq!(stats.invalidations, stats.chunks_received, "{}", tab.name);
        assert_eq!(stats.messages_unreadable, 0);
        assert_eq!(tab.store.current_token(), total as i64, "{}", tab.name);
        let positions = tab.store.stream_positions();
        let names: Vec<&str> = positions.keys().map(String::as_str).collect();
        assert_eq!(names, ["tab-a", "tab-b", "tab-c"], "{}", tab.name);
        assert!(positions.values().all(|&position| position == total as i64), "{positions:?}");
    }
    assert!(!lost.is_empty());
    let stored = backend.stream_positions().await.unwrap();
    assert_eq!(stored.values().max(), Some(&(total as i64)), "{stored:?}");
    assert_eq!(stored.len(), 3, "{stored:?}");
    let reopened = EventStore::open(backend, "tab-d").await.unwrap();
    assert_eq!(reopened.current_token(), total as i64);
    let positions = reopened.stream_positions();
    for (writer, position) in &stored {
        assert_eq!(positions.get(writer), Some(&(total as i64)), "{writer} at the head");
        assert!(*position <= total as i64);
    }
    check_pdus_rooms(&tabs[1].store, "three tabs").await;
}

/// The messages of one post (a tab's burst of chunks, as its outbox posts them) are applied in
/// order and handed to a subscriber in one call: every row once, in order, each room once.
pub async fn a_post_of_several_chunks_is_handed_over_once(backend: impl Store) {
    let backend = &backend;
    let channel = Rc::new(Channel::default());
    let tabs = open_tabs(backend, &["tab-a", "tab-b"], &channel).await;
    channel.deliver(&tabs, |_, _| false);
    let calls = Rc::new(RefCell::new(Vec::new()));
    let counted = calls.clone();
    tabs[1].store.subscribe(Rc::new(move |rows: &[ReplicationRow], rooms: &[String]| {
        counted.borrow_mut().push((rows.len(), rooms.to_vec()));
    }));
    let events = all_pdus_interleaved();
    for batch in events[..24].chunks(8) {
        let result = tabs[0].store.persist_events(batch.to_vec(), false).await.unwrap();
        assert!(result.rooms.iter().all(|room| room.error.is_none()));
    }
    let post: Vec<_> = channel.posted.borrow_mut().drain(..).map(|(_, wire)| wire).collect();
    assert!(post.len() >= 3, "a message per chunk: {}", post.len());
    let heard = tabs[1].store.receive_all(post.iter().map(StreamMessage::from_wire).collect());
    assert!(heard.is_empty(), "{heard:?}");
    let total = backend.positions().await.unwrap().last_stream_ordering;
    assert_eq!(tabs[1].store.current_token(), total);
    let calls = calls.borrow();
    assert_eq!(calls.len(), 1, "one call for the post: {calls:?}");
    let (rows, rooms) = &calls[0];
    assert_eq!(*rows, total as usize);
    let distinct: BTreeSet<&String> = rooms.iter().collect();
    assert_eq!(distinct.len(), rooms.len(), "each room once: {rooms:?}");
    let handed: Vec<i64> = tabs[1].rows.borrow().iter().map(|row| row.stream_ordering).collect();
    assert_eq!(handed, (1..=total).collect::<Vec<_>>());
    assert_eq!(tabs[1].store.replication_stats().messages_received as usize, post.len() + 1);
}

/// A message a tab cannot read (another version's, or not one at all) asks for a catch-up and
/// changes nothing else.
pub async fn an_unreadable_message_is_a_gap(backend: impl Store) {
    let backend = &backend;
    let channel = Rc::new(Channel::default());
    let tabs = open_tabs(backend, &["tab-a"], &channel).await;
    let tab = &tabs[0];
    for head in ["", "{}", "[1]", r#"{"version":1,"instanceName":"x","kind":"joined"}"#] {
        let wire = WireMessage { head: head.to_owned(), events: String::new() };
        tab.store.receive(StreamMessage::from_wire(&wire));
    }
    assert_eq!(channel.gaps_of("tab-a"), 4);
    let stats = tab.store.replication_stats();
    assert_eq!((stats.messages_received, stats.messages_unreadable), (4, 4));
    assert_eq!(tab.store.current_token(), 0);
    assert!(tab.store.needs_catch_up() && !tab.store.has_gap());
    tab.store.catch_up().await.unwrap();
    assert!(!tab.store.needs_catch_up());
    assert!(tab.rows.borrow().is_empty());
}

/// A tab lists every writer that opened (a reader included: Synapse lists an idle writer at the
/// head, synapse#8499) and answers a newcomer once, so that both know each other; a writer that
/// announces itself live is heard as such; one that posts `left` is no longer listed once the
/// current token passed its last chunk.
pub async fn a_writer_is_listed_from_its_opening_until_it_leaves(backend: impl Store) {
    let backend = &backend;
    let channel = Rc::new(Channel::default());
    let tabs = open_tabs(backend, &["tab-a", "tab-b"], &channel).await;
    channel.deliver(&tabs, |_, _| false);
    let writers = |tab: &Tab<_>| tab.store.stream_positions().into_keys().collect::<Vec<_>>();
    assert_eq!(writers(&tabs[0]), ["tab-a", "tab-b"]);
    assert_eq!(writers(&tabs[1]), ["tab-a", "tab-b"]);
    // Live before its first commit, as a browser tab's link makes it.
    tabs[1].store.announce_joined(true);
    let (_, live) = channel.posted.borrow_mut().pop_front().unwrap();
    let heard = tabs[0].store.receive(StreamMessage::from_wire(&live));
    assert_eq!(heard, Some(Heard::Live("tab-b".to_owned())));
    let events: Vec<JsonValue> = all_pdus_interleaved().into_iter().take(12).collect();
    let result = tabs[1].store.persist_events(events, false).await.unwrap();
    assert!(result.rooms.iter().all(|room| room.error.is_none()));
    channel.deliver(&tabs, |_, _| false);
    let total = backend.positions().await.unwrap().last_stream_ordering;
    assert_eq!(tabs[0].store.current_token(), total);
    assert_eq!(tabs[0].store.stream_positions().get("tab-b"), Some(&total));
    tabs[1].store.announce_left();
    channel.deliver(&tabs, |_, _| false);
    assert_eq!(writers(&tabs[0]), ["tab-a"]);
    assert_eq!(tabs[0].store.current_token(), total);
}

/// Bob's responses up to the recorded series' first invites hold them, received as stripped state:
/// no whole event, so no row. The tab that did not store them is still told their rooms, and
/// previews them as invites from what the other tab stored.
pub async fn an_invite_reaches_the_other_tabs_as_its_room(backend: impl Store) {
    let backend = &backend;
    let channel = Rc::new(Channel::default());
    let tabs = open_tabs(backend, &["tab-a", "tab-b"], &channel).await;
    channel.deliver(&tabs, |_, _| false);
    let series = fixture("sync-series.json");
    let bob = series["users"]["bob"].as_str().unwrap();
    let steps = &series["steps"].as_array().unwrap()[..2];
    let mut invites = BTreeSet::new();
    for sync in steps.iter().flat_map(|step| step["syncs"]["bob"].as_array().unwrap()) {
        let response = &sync["response"];
        invites.extend(
            response["rooms"]["invite"].as_object().into_iter().flatten().map(|(id, _)| id.clone()),
        );
        tabs[0].store.ingest_sync(response, bob, |_, _| {}).await.unwrap();
    }
    assert_eq!(invites.len(), 5, "bob's five invites of the first step");
    channel.deliver(&tabs, |_, _| false);
    let tab_b = &tabs[1];
    let named: BTreeSet<String> = tab_b.rooms.borrow().iter().cloned().collect();
    assert!(invites.is_subset(&named), "{named:?}");
    let rows = tab_b.rows.borrow().clone();
    assert!(rows.iter().all(|row| !invites.contains(&row.room_id)), "no row of an invite");
    let previews = tab_b.store.room_previews(bob).await.unwrap();
    let invited: BTreeSet<String> = previews
        .iter()
        .map(|preview| serde_json::to_value(preview).unwrap())
        .filter(|preview| preview["membership"] == "invite")
        .map(|preview| preview["roomId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(invited, invites);
}

/// Alice's initial sync (sixteen rooms new to the store, planned ahead and, in IndexedDB, written
/// in groups) ingested by one tab while another persists PDUs, having taken ids the first has not
/// heard of: each room of the sync is rebased after the other tab's ids (a group that finds the
/// ids taken is written room by room). Each tab announces its chunks with rising ids, all
/// of them together once each; once every message is delivered no tab lacks an id, and every
/// subscriber was handed rows 1..N in order.
pub async fn a_first_sync_is_announced_in_commit_order(backend: impl Store) {
    let backend = &backend;
    let channel = Rc::new(Channel::default());
    let tabs = open_tabs(backend, &["tab-a", "tab-b"], &channel).await;
    channel.deliver(&tabs, |_, _| false);
    let syncs = super::initial_syncs();
    let (alice, response) =
        syncs.as_object().unwrap().iter().find(|(user, _)| user.starts_with("@alice")).unwrap();
    let pdus = all_pdus_interleaved();
    let (first, rest) = pdus.split_at(4);
    tabs[1].store.persist_events(first.to_vec(), false).await.unwrap();
    let ingest = tabs[0].store.ingest_sync(response, alice, |_, _| {});
    let persist = async {
        for batch in rest.chunks(3).take(12) {
            let result = tabs[1].store.persist_events(batch.to_vec(), false).await.unwrap();
            assert!(result.rooms.iter().all(|room| room.error.is_none()));
        }
    };
    let (ingested, ()) = both(ingest, persist).await;
    let ingested = ingested.unwrap();
    assert!(ingested.sync_token_stored);
    assert!(ingested.rooms.iter().all(|room| room.result.error.is_none()));
    let mut announced: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (from, wire) in channel.posted.borrow().iter() {
        let ids: Vec<i64> = match chunk_ids(&wire.head).as_deref() {
            Some(&[first, last]) => (first..=last).collect(),
            _ => Vec::new(),
        };
        let previous = announced.entry(from.clone()).or_default();
        if let (Some(last), Some(first)) = (previous.last(), ids.first()) {
            assert!(last < first, "{from} announced {first} after {last}");
        }
        previous.extend(ids);
    }
    let total = backend.positions().await.unwrap().last_stream_ordering;
    let mut all: Vec<i64> = announced.values().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (1..=total).collect::<Vec<_>>(), "every id announced once");
    assert!(announced.values().all(|ids| !ids.is_empty()), "{announced:?}");
    channel.deliver(&tabs, |_, _| false);
    for tab in &tabs {
        assert!(!tab.store.has_gap(), "{}", tab.name);
        check_rows(tab, total as usize, backend).await;
        assert_eq!(tab.store.current_token(), total, "{}", tab.name);
    }
}

/// A tab's response of a room it kept from its last response, while another tab stores the same
/// room's next events and its message (which drops the first tab's cache of the room) arrives as
/// the first reads which of the response's rooms are stored: the room is still known as stored,
/// its chunk planned again on what the other tab stored, and every event stored once, in order.
/// Memory backend only: there two tabs' turns can interleave like this (IndexedDB's Web Lock
/// holds an `ingestSync` of another tab until the turn is over; `persistEvents` takes none).
pub async fn a_cache_dropped_during_a_turn_leaves_its_room_stored(backend: impl Store) {
    let pause = Rc::new(Pause::default());
    let backend = &Interposed::pausing(backend, pause.clone());
    let channel = Rc::new(Channel::default());
    let tabs = open_tabs(backend, &["tab-a", "tab-b"], &channel).await;
    channel.deliver(&tabs, |_, _| false);
    let user = "@u:x";
    let first = joined_rooms("s1", 1, true, (0, 2));
    tabs[0].store.ingest_sync(&first, user, |_, _| {}).await.unwrap();
    channel.deliver(&tabs, |_, _| false);
    pause.arm();
    let later = joined_rooms("s3", 1, false, (3, 1));
    let ingest = tabs[0].store.ingest_sync(&later, user, |_, _| {});
    let other_tab = async {
        pause.reached().await;
        let next = joined_rooms("s2", 1, false, (2, 1));
        let result = tabs[1].store.ingest_sync(&next, user, |_, _| {}).await.unwrap();
        channel.deliver(&tabs, |_, _| false);
        result
    };
    let (ingested, other) = both(ingest, other_tab).await;
    let ingested = ingested.unwrap();
    let persisted = |result: &prejoin::storage::IngestResult| -> Vec<Vec<String>> {
        result.rooms.iter().map(|room| room.result.persisted.clone()).collect()
    };
    assert_eq!(persisted(&other), [["$m0-2"]]);
    assert!(ingested.rooms.iter().all(|room| room.result.error.is_none()), "{ingested:?}");
    assert_eq!(persisted(&ingested), [["$m0-3"]]);
    channel.deliver(&tabs, |_, _| false);
    let total = backend.positions().await.unwrap().last_stream_ordering;
    assert_eq!(total, 6, "create, join and four messages");
    for tab in &tabs {
        let page = tab.store.room_timeline("!r0:x", None, 10).await.unwrap();
        let ids: Vec<String> = page.events.iter().map(|pdu| pdu.event_id().to_string()).collect();
        assert_eq!(ids, ["$m0-0", "$m0-1", "$m0-2", "$m0-3"], "{}", tab.name);
        check_rows(tab, total as usize, backend).await;
    }
}

/// Runs `a` and `b` at once (as two tabs do), each polled when woken.
async fn both<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut from_a, mut from_b) = (None, None);
    std::future::poll_fn(|context| {
        if from_a.is_none() {
            from_a = match a.as_mut().poll(context) {
                std::task::Poll::Ready(output) => Some(output),
                std::task::Poll::Pending => None,
            };
        }
        if from_b.is_none() {
            from_b = match b.as_mut().poll(context) {
                std::task::Poll::Ready(output) => Some(output),
                std::task::Poll::Pending => None,
            };
        }
        match from_a.is_some() && from_b.is_some() {
            true => std::task::Poll::Ready(()),
            false => std::task::Poll::Pending,
        }
    })
    .await;
    (from_a.unwrap(), from_b.unwrap())
}

/// The first and last id of a chunk message that took ids, from its head.
fn chunk_ids(head: &str) -> Option<Vec<i64>> {
    let message: JsonValue = serde_json::from_str(head).unwrap();
    let ids = message.pointer("/body/chunk/streamIds")?.as_array()?;
    Some(ids.iter().map(|id| id.as_i64().unwrap()).collect())
}

/// The tab was handed rows 1..=total, once each and in order, each the stored event at that
/// ordering with the writer that stored it.
async fn check_rows<S: Store>(tab: &Tab<S>, total: usize, backend: &impl Store) {
    let rows = tab.rows.borrow().clone();
    let orderings: Vec<i64> = rows.iter().map(|row| row.stream_ordering).collect();
    assert_eq!(orderings, (1..=total as i64).collect::<Vec<_>>(), "{}", tab.name);
    let ids: BTreeSet<&str> = rows.iter().map(|row| row.event_id.as_str()).collect();
    assert_eq!(ids.len(), total, "{}: each event once", tab.name);
    for row in &rows {
        let stored = backend.event(&event_id(&row.event_id)).await.unwrap().unwrap();
        let metadata = &stored.internal_metadata;
        assert_eq!(metadata.stream_ordering, Some(row.stream_ordering), "{}", row.event_id);
        assert_eq!(metadata.instance_name.as_deref(), Some(row.instance_name.as_str()));
        let json: JsonValue = CanonicalJsonValue::Object(stored.pdu.to_json_with_ids()).into();
        let event: JsonValue = serde_json::from_str(row.event.as_ref().unwrap().get()).unwrap();
        assert_eq!(event, json, "{}", row.event_id);
        assert_eq!(row.room_id, json["room_id"].as_str().unwrap());
        assert_eq!(row.event_type, json["type"].as_str().unwrap());
        assert_eq!(row.state_key.as_deref(), json["state_key"].as_str());
        let membership = json["content"]["membership"].as_str();
        let member = row.event_type == "m.room.member";
        assert_eq!(row.membership.as_deref(), membership.filter(|_| member), "{}", row.event_id);
    }
}
