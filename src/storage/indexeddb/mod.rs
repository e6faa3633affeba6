//! The IndexedDB backend: Synapse's tables as object stores, in the browser.
//!
//! - [`schema`]: versions, object stores, key paths and indices.
//! - [`rows`]: one row type per object store.
//! - [`error`]: failures typed by their `DOMException` name.
//! - [`group`]: chunks waiting behind a write, written together.
//!
//! A room chunk is written in one readwrite transaction over every object store it touches,
//! committed at the end: a request that fails aborts the transaction, so a failed chunk leaves
//! nothing. Chunks planned one right after the other may share a transaction ([`group`]); a shared
//! one that fails is written again chunk by chunk. Every row is computed before the transaction
//! opens, and nothing but IndexedDB requests is awaited while it is open (the browser commits an
//! idle transaction by itself). The same transaction advances the shared `sequences` rows and the
//! writer's `stream_positions` row, so opening a store reads [`Positions`] from those few rows and
//! never scans `events`.
//!
//! Connections: opening a database of a newer schema succeeds only when its `meta` row's
//! `compat_version` allows this code (Synapse's `schema_compat_version`), and is otherwise a
//! [`StoreError::SchemaTooNew`] that leaves the database untouched. A connection closes itself
//! on `versionchange`, so another tab's upgrade (or deletion) of the database is never blocked by
//! it; every later call on that store fails with [`StoreError::Closed`].

pub mod error;
mod group;
mod planning;
pub mod rows;
pub mod schema;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use imbl::ordmap::Entry;

use indexed_db_futures::database::Database;
use indexed_db_futures::internals::SystemRepr;
use ruma_common::{EventId, OwnedEventId};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{json, Value as JsonValue};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::IdbDatabase;

pub use self::error::IdbError;
use self::rows::{
    BackwardExtremityRow, CurrentStateRow, EventRow, ForwardExtremityRow, LocalMembershipRow,
    MetaRow, RoomChunksRow, RoomMembershipRow, RoomPreviewRow, RoomRow, SequenceRow, StateGroupRow,
    StateGroupStateRow, StreamPositionRow, SyncTokenRow, TimelineGapRow,
};
use self::schema::{indices, stores, Version};
use super::state_ranges::group_ranges;
use super::{
    EventPlacement, LocalMemberships, PlanningEvent, RoomList, Store, StoreError, StoredEvent,
    StreamPage, SyncToken, WriteLock,
};
use crate::hashed::HashMap;
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::StateFilter;
use crate::ordered::set_of;
use crate::persist::state_groups::{self, StateGroupId};
use crate::persist::{LocalMembership, MembershipRow, RoomWritePlan, StateIds, TimelineGap};

/// The stream the live events' orderings are taken from (`stream_positions.stream_name`, and
/// its `sequences` row: the highest ordering handed out).
const EVENTS_STREAM: &str = "events";
/// The `sequences` row of backfilled events' orderings: the lowest (negative) one handed out.
const BACKFILL_SEQUENCE: &str = "backfill";
/// The `sequences` row of state group ids: the highest id handed out.
const STATE_GROUPS_SEQUENCE: &str = "state_groups";

/// Where the shared sequences and each writer stand, as stored: what a store needs when it opens
/// to go on handing out ids, read from the `sequences` and `stream_positions` rows alone (as
/// Synapse's `MultiWriterIdGenerator` starts from `stream_positions` and the sequence, never
/// from a scan of `events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positions {
    /// The highest live stream ordering handed out; 0 when none was.
    pub last_stream_ordering: i64,
    /// The lowest backfill stream ordering handed out (negative); 0 when none was.
    pub last_backfill_ordering: i64,
    /// The id the next new state group takes; 1 when no group was stored.
    pub next_state_group: StateGroupId,
    /// Each writer's (tab's) persisted position on the events stream, by `instance_name`.
    pub writers: BTreeMap<String, i64>,
}

impl Default for Positions {
    /// An empty store's positions: nothing handed out, state group ids from 1 (as Synapse's
    /// sequence).
    fn default() -> Self {
        Self {
            last_stream_ordering: 0,
            last_backfill_ordering: 0,
            next_state_group: 1,
            writers: BTreeMap::new(),
        }
    }
}

/// An event store in an IndexedDB database.
///
/// Dropping it closes its connection.
#[derive(Debug)]
pub struct IndexedDbStore {
    /// The connection. indexed_db_futures opens it when the database must be created or
    /// upgraded; requests are placed from JS (`requests.js`).
    db: IdbDatabase,
    /// Set when the store was closed ([`IndexedDbStore::close`]); a connection closed on
    /// `versionchange` is known to JS (`watch` in `requests.js`).
    closed: Cell<bool>,
    /// The positions read while opening: the first [`Store::positions`] (the event store's
    /// open) takes them instead of reading again.
    opened_at: RefCell<Option<super::Positions>>,
    /// The sync token as read while opening: the first [`Store::sync_token`] (the event store's
    /// open) takes it instead of reading again.
    opened_sync_token: RefCell<Option<Option<SyncToken>>>,
    /// The `stream_positions` rows as read while opening, likewise for
    /// [`Store::stream_positions`].
    opened_stream_positions: RefCell<Option<BTreeMap<String, i64>>>,
    /// Whether other connections took ids while this one's last chunk was planned: its next
    /// chunk then reads what it was planned on before placing its writes (see `writeChunk`).
    contended: Cell<bool>,
    /// The chunks waiting for this connection's write in flight (see [`group`]).
    queue: group::WriteQueue,
}

impl IndexedDbStore {
    /// Opens the database called `name`: creates it, or upgrades it to [`Version::CURRENT`]
    /// (waiting while another connection blocks the upgrade; this backend's connections close on
    /// `versionchange`). A database of a newer schema is opened at its own version, without
    /// upgrading it or rewriting its `meta` row, when its `compat_version` is at most
    /// [`Version::CURRENT`]; otherwise the open fails with [`StoreError::SchemaTooNew`] and
    /// changes nothing.
    pub async fn open(name: &str) -> Result<Self, StoreError> {
        let begun = Self::begin_open(&JsValue::from_str(name));
        // `openCurrent` never rejects.
        let opened = wasm_bindgen_futures::JsFuture::from(begun).await.unwrap_or_default();
        match Self::from_opened(&opened)? {
            Some((store, positions)) => {
                *store.opened_at.borrow_mut() = Some(positions);
                Ok(store)
            }
            None => Self::open_upgrading(name).await,
        }
    }

    /// The first step of [`IndexedDbStore::open`], placed at once: most opens find the database
    /// at this code's version, and it is opened and read in JS, in one task. The promise never
    /// rejects; [`IndexedDbStore::from_opened`] takes what it resolves to, synchronously.
    /// `name`: a JS string (passing a Rust one decodes it).
    pub fn begin_open(name: &JsValue) -> js_sys::Promise {
        READ_ON_OPEN.with(|[stores, newer_stores]| {
            open_current(name, Version::CURRENT.number(), stores, newer_stores)
        })
    }

    /// The store [`IndexedDbStore::begin_open`] opened, with the positions it read; `None` when
    /// the database does not exist or is of an older schema, and must be opened by
    /// [`IndexedDbStore::open_upgrading`].
    pub fn from_opened(opened: &JsValue) -> Result<Option<(Self, super::Positions)>, StoreError> {
        // Always an array (`openCurrent`); anything else reads as a database to be made.
        let opened: js_sys::Array = opened.clone().dyn_into().unwrap_or_default();
        let (db, rows, error) = (opened.get(0), opened.get(1), opened.get(2));
        if db.is_undefined() {
            return if error.is_undefined() { Ok(None) } else { Err(dom_error(error).into()) };
        }
        // On error the store is dropped, which closes the connection.
        let store = Self::new(db.unchecked_into());
        let read = if error.is_undefined() {
            Ok(js_sys::Array::from(&rows).iter().collect())
        } else {
            Err(dom_error(error))
        };
        let positions = store.check_schema(read)?;
        Ok(Some((store, positions)))
    }

    /// Opens the database `name` through indexed_db_futures, creating it or running every
    /// migration up to [`Version::CURRENT`].
    pub async fn open_upgrading(name: &str) -> Result<Self, StoreError> {
        Ok(Self::open_db(name).await?)
    }

    async fn open_db(name: &str) -> Result<Self, IdbError> {
        let opened = Database::open(name)
            .with_version(Version::CURRENT.number())
            .with_on_upgrade_needed_fut(|event, db| {
                // Version numbers are small integers; the event carries them as doubles.
                schema::upgrade(db, event.old_version() as u32)
            })
            .await;
        let db = match opened.map_err(IdbError::from) {
            Ok(db) => db,
            // The database is of a newer version than this code: IndexedDB cannot open it at a
            // lower one, so open it at its own, and let its `meta` row say whether that is allowed.
            Err(IdbError::Version(_)) => Self::open_at_stored_version(name).await?,
            Err(error) => return Err(error),
        };
        // Watched at once, so that another tab's upgrade is never blocked by this connection.
        let connection: &JsValue = db.as_sys().as_ref();
        watch(connection);
        let store = Self::new(connection.clone().unchecked_into());
        // On error the store is dropped, which closes the connection.
        let stores = read_on_open(store.schema_version());
        let read = read_all_rows(store.db.as_ref(), stores).await;
        let positions = store.check_schema(read)?;
        *store.opened_at.borrow_mut() = Some(positions);
        Ok(store)
    }

    /// Creates the database `name`, or upgrades it, to the schema `version` (older than
    /// [`Version::CURRENT`]), and closes it: a database as the code of that version left it, for
    /// testing the migrations that follow it.
    pub async fn create_at_version(name: &str, version: Version) -> Result<(), StoreError> {
        let db = Database::open(name)
            .with_version(version.number())
            .with_on_upgrade_needed_fut(move |event, db| async move {
                // Version numbers are small integers; the event carries them as doubles.
                schema::upgrade_to(&db, event.old_version() as u32, version).await
            })
            .await
            .map_err(IdbError::from)?;
        db.close();
        Ok(())
    }

    /// Opens the database at the version it has. An `upgradeneeded` here means the database was
    /// deleted since the versioned open failed: the upgrade is refused (the error aborts it, so no
    /// empty database is left), and opening again starts over.
    async fn open_at_stored_version(name: &str) -> Result<Database, IdbError> {
        let db = Database::open(name)
            .with_on_upgrade_needed(|_, _| {
                Err(js_sys::Error::new("the database was deleted while it was being opened").into())
            })
            .await?;
        Ok(db)
    }

    /// A store over a watched connection.
    fn new(db: IdbDatabase) -> Self {
        Self {
            db,
            closed: Cell::new(false),
            opened_at: RefCell::new(None),
            opened_sync_token: RefCell::new(None),
            opened_stream_positions: RefCell::new(None),
            contended: Cell::new(false),
            queue: group::WriteQueue::default(),
        }
    }

    /// Checks the database's schema against this code's, and reads the positions the event
    /// store opens with. A database of this code's version holds its `meta` rows from its upgrade
    /// (see [`schema::upgrade_to`]), so only the positions and the sync token are read. A newer database is refused, untouched, unless its `meta` row's
    /// `compat_version` allows this code.
    /// `read`: the JSON text of the rows of each store of [`read_on_open`], or the read's error.
    fn check_schema(
        &self,
        read: Result<Vec<JsValue>, IdbError>,
    ) -> Result<super::Positions, IdbError> {
        let version = self.schema_version();
        let current = Version::CURRENT.number();
        if version < current {
            // Only when the database was deleted and made again by older code while this open
            // went on.
            return Err(IdbError::Unavailable(format!(
                "the database went back to schema version {version} while it was being opened"
            )));
        }
        let rows = match read {
            Ok(rows) => rows,
            // A newer schema without `meta`: nothing says that this code may use it.
            Err(IdbError::NotFound(_)) if version > current => {
                return Err(IdbError::SchemaTooNew { version, compat_version: version })
            }
            Err(error) => return Err(error),
        };
        let mut rows = rows.into_iter();
        let mut next = || {
            rows.next().ok_or_else(|| IdbError::Unreadable("rows of fewer stores than read".into()))
        };
        let sequences = if version == current {
            next()?
        } else {
            let (meta, sequences) = (next()?, next()?);
            let compat = from_json_text::<Vec<MetaRow>>(meta, stores::META)?
                .into_iter()
                .find(|row| row.key == schema::META_COMPAT_VERSION)
                .map(|row| row.value);
            // Without a `compat_version`, a newer database needs code of its own version.
            let compat_version = compat.unwrap_or(version);
            if compat_version > current {
                return Err(IdbError::SchemaTooNew { version, compat_version });
            }
            sequences
        };
        let tokens = from_json_text(next()?, stores::SYNC_TOKENS)?;
        *self.opened_sync_token.borrow_mut() = Some(sync_token_of(tokens));
        let writers = from_json_text(next()?, stores::STREAM_POSITIONS)?;
        let positions =
            Positions::from_rows(from_json_text(sequences, stores::SEQUENCES)?, writers)?;
        *self.opened_stream_positions.borrow_mut() = Some(positions.writers.clone());
        Ok(positions.shared())
    }

    /// The connection, unless it was closed on `versionchange`.
    fn db(&self) -> Result<&IdbDatabase, IdbError> {
        if self.is_closed() {
            Err(IdbError::Closed)
        } else {
            Ok(&self.db)
        }
    }

    /// Whether the connection was closed so that another connection could upgrade or delete the
    /// database; every call on the store then fails with [`StoreError::Closed`].
    pub fn is_closed(&self) -> bool {
        self.closed.get() || was_closed_on_version_change(&self.db)
    }

    /// The sync token read while opening (or written since), when the store was opened by
    /// [`IndexedDbStore::begin_open`]: what an event store made synchronously starts from.
    pub fn opened_sync_token(&self) -> Option<SyncToken> {
        self.opened_sync_token.borrow_mut().take().flatten()
    }

    /// The `stream_positions` rows read while opening, likewise.
    pub fn opened_stream_positions(&self) -> BTreeMap<String, i64> {
        self.opened_stream_positions.borrow_mut().take().unwrap_or_default()
    }

    /// The database's name.
    pub fn name(&self) -> String {
        self.db.name()
    }

    /// The database's schema version: [`Version::CURRENT`], or a newer one that allows this code.
    pub fn schema_version(&self) -> u32 {
        // Version numbers are small integers; IndexedDB gives them as doubles.
        self.db.version() as u32
    }

    /// How many rows each object store holds, by store name (for checks that a failed write
    /// left nothing).
    pub async fn row_counts(&self) -> Result<BTreeMap<String, u32>, StoreError> {
        Ok(self.count_rows().await?)
    }

    async fn count_rows(&self) -> Result<BTreeMap<String, u32>, IdbError> {
        let names: Vec<String> = stores::ALL.iter().map(|name| (*name).to_owned()).collect();
        let promise = count_rows(self.db()?.as_ref(), names.clone());
        let counts = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(dom_error)?;
        // Counts are whole numbers far below 2^32 here (test databases).
        let counts = js_sys::Array::from(&counts);
        let counts = counts.iter().map(|count| count.as_f64().unwrap_or(0.0) as u32);
        Ok(names.into_iter().zip(counts).collect())
    }

    /// Closes the connection: requests already placed finish, and every later call fails with
    /// [`StoreError::Closed`].
    pub fn close(&self) {
        self.closed.set(true);
        self.db.close();
    }

    /// Where the shared sequences and every writer stand ([`Positions`]): three gets on
    /// `sequences` and one `getAll` on the tiny `stream_positions` store, in one readonly
    /// transaction; no event is read.
    pub async fn positions(&self) -> Result<Positions, StoreError> {
        Ok(self.load_positions().await?)
    }

    async fn load_positions(&self) -> Result<Positions, IdbError> {
        let [sequences, writers] =
            read_all(self.db()?, [stores::SEQUENCES, stores::STREAM_POSITIONS]).await?;
        let sequences = from_json_text(sequences, stores::SEQUENCES)?;
        Positions::from_rows(sequences, from_json_text(writers, stores::STREAM_POSITIONS)?)
    }

    /// The state group of the state after an event (`event_to_state_groups`), if the event and
    /// its state are stored.
    pub async fn state_group_of(
        &self,
        event_id: &EventId,
    ) -> Result<Option<StateGroupId>, StoreError> {
        let row = self.get_row::<EventRow>(stores::EVENTS, event_id.as_str()).await?;
        Ok(row.and_then(|row| row.state_group))
    }

    /// A state group and every group down its chain of prev groups to its snapshot, the
    /// snapshot first (so that they load in order with
    /// [`StateGroups::insert`](crate::persist::state_groups::StateGroups::insert)), each with
    /// its whole delta and the event it was made for (see [`Self::group_chain`]).
    ///
    /// A group that is missing, or a chain that comes back to a group, is
    /// [`StoreError::Corrupt`].
    pub async fn state_group_chain(
        &self,
        group: StateGroupId,
    ) -> Result<Vec<state_groups::StateGroupRow>, StoreError> {
        Ok(self.load_state_group_chain(group).await?)
    }

    async fn load_state_group_chain(
        &self,
        group: StateGroupId,
    ) -> Result<Vec<state_groups::StateGroupRow>, IdbError> {
        let mut chain = Vec::new();
        for link in self.group_chain(group, &StateFilter::all()).await? {
            let Some(event_id) = link.event_id else {
                return Err(IdbError::Unreadable(format!("state group {} is missing", link.id)));
            };
            let mut delta = StateIds::new();
            for state in link.rows {
                delta.insert((state.event_type, state.state_key), event_id_of(&state.event_id)?);
            }
            chain.push(state_groups::StateGroupRow {
                id: link.id,
                event_id: event_id_of(&event_id)?,
                prev_group: link.prev,
                delta,
            });
        }
        chain.reverse();
        Ok(chain)
    }

    /// Those of `event_ids` that a stored accepted event named as a prev while the room's DAG
    /// did not hold them (see [`Store::referenced_as_prev`]).
    ///
    /// One readonly transaction: the lookups on the `events` index `missing_prev_event_id` for
    /// every id are issued before any is awaited.
    pub async fn referenced_as_prev(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
        Ok(self.load_referenced_as_prev(event_ids).await?)
    }

    async fn load_referenced_as_prev(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<BTreeSet<OwnedEventId>, IdbError> {
        let asked: Vec<OwnedEventId> = set_of(event_ids).into_iter().cloned().collect();
        // Only whether a row names the id matters, not what the row holds.
        let children: Vec<Vec<serde::de::IgnoredAny>> =
            self.get_many(stores::EVENTS, Some(indices::EVENTS_BY_MISSING_PREV), &asked).await?;
        let named = asked.into_iter().zip(children).filter(|(_, children)| !children.is_empty());
        Ok(set_of(named.map(|(id, _)| id)))
    }

    /// The `redactions` rows naming each of `event_ids`, in their order, read together. For many
    /// events (a room's state), one read of every row naming an id between the least and the
    /// greatest of them costs less than a request per event: redactions are few next to events.
    async fn load_redactions_of(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Vec<crate::persist::RedactionRow>>, IdbError> {
        let by_redacts = indices::REDACTIONS_BY_REDACTS;
        let rows: Vec<Vec<rows::RedactionRow>> =
            match (event_ids.iter().min(), event_ids.iter().max()) {
                (Some(least), Some(greatest)) if event_ids.len() > ONE_BY_ONE => {
                    let mut by_event: HashMap<String, Vec<rows::RedactionRow>> = HashMap::default();
                    for row in self.redactions_between(least, greatest).await? {
                        by_event.entry(row.redacts.clone()).or_default().push(row);
                    }
                    // An id asked twice gets its rows twice.
                    let rows_of = |id: &OwnedEventId| by_event.get(id.as_str()).cloned();
                    event_ids.iter().map(|id| rows_of(id).unwrap_or_default()).collect()
                }
                _ => self.get_many(stores::REDACTIONS, Some(by_redacts), event_ids).await?,
            };
        let redaction = |row: rows::RedactionRow| {
            Ok(crate::persist::RedactionRow {
                event_id: event_id_of(&row.event_id)?,
                redacts: event_id_of(&row.redacts)?,
                recheck: row.recheck,
            })
        };
        rows.into_iter().map(|rows| rows.into_iter().map(redaction).collect()).collect()
    }

    /// The `redactions` rows naming an event id from `least` to `greatest`, in one request.
    async fn redactions_between(
        &self,
        least: &EventId,
        greatest: &EventId,
    ) -> Result<Vec<rows::RedactionRow>, IdbError> {
        let db: &JsValue = self.db()?.as_ref();
        let (store, index) = (stores::REDACTIONS, indices::REDACTIONS_BY_REDACTS);
        let promise = get_range_rows(db, store, index, least.as_str(), greatest.as_str());
        rows_read(promise, store).await
    }

    /// For each of `keys`, the row of `store` with that key, or with `index`, every row whose
    /// index key it is: `T` is `Option<Row>` or `Vec<Row>`. One read-only transaction, every
    /// request placed at once, the results crossing to wasm as one JSON text.
    pub(super) async fn get_many<T: DeserializeOwned>(
        &self,
        store: &str,
        index: Option<&str>,
        keys: &[impl AsRef<str>],
    ) -> Result<Vec<T>, IdbError> {
        self.get_many_read(store, index, keys, index.is_some()).await
    }

    /// For each of `prefixes`, every row of `store` whose key (an array) starts with it, read
    /// together: a store keyed by `[room_id, …]` is read by room without an index.
    async fn get_many_prefixed<T: DeserializeOwned>(
        &self,
        store: &str,
        prefixes: &[impl AsRef<str>],
    ) -> Result<Vec<Vec<T>>, IdbError> {
        self.get_many_read(store, None, prefixes, true).await
    }

    async fn get_many_read<T: DeserializeOwned>(
        &self,
        store: &str,
        index: Option<&str>,
        keys: &[impl AsRef<str>],
        all: bool,
    ) -> Result<Vec<T>, IdbError> {
        // Nothing to read costs no crossing into JS and back (a response of rooms a tab keeps
        // asks for none of the rooms' first reads).
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let db: &JsValue = self.db()?.as_ref();
        let keys = keys.iter().map(|key| key.as_ref().to_owned()).collect();
        let promise = get_many_rows(db, store, index, keys, all);
        rows_read(promise, store).await
    }

    /// Writes a chunk in a transaction of its own (see [`Store::apply`]): `writeChunk` checks,
    /// inside the transaction, what it was planned on, and when other connections took ids
    /// meanwhile writes the chunk's rows with its ids moved after theirs; the plan is then moved
    /// as far (`RoomWritePlan::rebase`), once the transaction is done.
    async fn write_alone(&self, plan: &mut RoomWritePlan, writer: &str) -> Result<(), IdbError> {
        let (json, texts) = chunk_ops(plan, writer)?.into_json()?;
        let check = check_of(plan)?;
        let db = self.db()?;
        let ends = js_sys::Uint32Array::from(texts.ends.as_slice());
        let check_first = self.contended.get();
        let promise = write_chunk(db.as_ref(), &json, &texts.texts, &ends, &check, check_first);
        let rebased_on = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(dom_error)?;
        let rebased_on = stored_sequences(&rebased_on)?;
        self.contended.set(rebased_on.is_some());
        if let Some(stored) = rebased_on {
            plan.rebase(stored);
        }
        Ok(())
    }

    async fn load_event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, IdbError> {
        let row = self.get_row::<EventRow>(stores::EVENTS, event_id.as_str()).await?;
        row.map(planning::stored_event).transpose()
    }

    /// The row of `store` with key `key`.
    async fn get_row<T: DeserializeOwned>(
        &self,
        store: &str,
        key: &str,
    ) -> Result<Option<T>, IdbError> {
        let mut rows: Vec<Option<T>> = self.get_many(store, None, &[key]).await?;
        Ok(rows.pop().flatten())
    }

    /// Every row of `store` whose `index` is `value`.
    async fn rows_by_index<T: DeserializeOwned>(
        &self,
        store: &str,
        index: &str,
        value: &str,
    ) -> Result<Vec<T>, IdbError> {
        let mut rows: Vec<Vec<T>> = self.get_many(store, Some(index), &[value]).await?;
        Ok(rows.pop().unwrap_or_default())
    }

    /// Every row of `store` whose key (an array) starts with `prefix`.
    async fn rows_prefixed<T: DeserializeOwned>(
        &self,
        store: &str,
        prefix: &str,
    ) -> Result<Vec<T>, IdbError> {
        let mut rows: Vec<Vec<T>> = self.get_many_prefixed(store, &[prefix]).await?;
        Ok(rows.pop().unwrap_or_default())
    }

    /// Every row of `store`.
    async fn all_rows<T: DeserializeOwned>(&self, store: &str) -> Result<Vec<T>, IdbError> {
        let [rows] = read_all(self.db()?, [store]).await?;
        from_json_text(rows, store)
    }

    /// Reads the event's state group, then walks the group chain once ([`Self::group_chain`]);
    /// rows the filter does not match are skipped, members and non-members in the same pass, and
    /// a newer group's row hides an older one.
    async fn walk_state_at(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<StateIds>, IdbError> {
        let row = self.get_row::<EventRow>(stores::EVENTS, event_id.as_str()).await?;
        let Some(start) = row.and_then(|row| row.state_group) else {
            return Ok(None);
        };
        let chain = self.group_chain(start, filter).await?;
        let filter = (!filter.is_full()).then_some(filter);
        let mut state = StateIds::new();
        for link in chain {
            for row in link.rows {
                if filter.is_some_and(|filter| !filter.matches(&row.event_type, &row.state_key)) {
                    continue;
                }
                let key = (row.event_type, row.state_key);
                if let Entry::Vacant(entry) = state.entry(key) {
                    entry.insert(event_id_of(&row.event_id)?);
                }
            }
        }
        Ok(Some(state))
    }

    /// The chain of state groups from `start` down to its snapshot, newest first, each with its
    /// event (absent when the group is missing) and those of its rows `filter` can
    /// match (and maybe others: see [`group_ranges`]). A chain that comes back to a group, or
    /// names as a prev group something that is no group id, is [`IdbError::Unreadable`].
    async fn group_chain(
        &self,
        start: StateGroupId,
        filter: &StateFilter,
    ) -> Result<Vec<ChainLink>, IdbError> {
        let db: &JsValue = self.db()?.as_ref();
        let (groups, state) = (stores::STATE_GROUPS, stores::STATE_GROUPS_STATE);
        let ranges = group_ranges(filter).to_string();
        // Group ids are at most 2^53 - 1, exact as doubles.
        let promise = walk_groups(db, start as f64, groups, state, &ranges);
        let walked: WalkedChain = rows_read(promise, stores::STATE_GROUPS).await?;
        match (walked.cycle, walked.broken) {
            (Some(group), _) => {
                Err(IdbError::Unreadable(format!("state group {group} is in a cycle")))
            }
            (_, Some(group)) => Err(IdbError::Unreadable(format!(
                "state group {group} names a prev group that is no group id"
            ))),
            (None, None) => Ok(walked.chain),
        }
    }
}

/// A state group chain as `walkGroups` reads it.
#[derive(serde::Deserialize)]
struct WalkedChain {
    chain: Vec<ChainLink>,
    #[serde(default)]
    cycle: Option<StateGroupId>,
    #[serde(default)]
    broken: Option<StateGroupId>,
}

/// One group of a [`WalkedChain`].
#[derive(serde::Deserialize)]
struct ChainLink {
    id: StateGroupId,
    /// The event the group was made for; none when the group has no row.
    event_id: Option<String>,
    prev: Option<StateGroupId>,
    rows: Vec<StateGroupStateRow>,
}

impl Drop for IndexedDbStore {
    fn drop(&mut self) {
        self.db.close();
    }
}

impl Positions {
    /// The positions every backend has (without each writer's).
    fn shared(&self) -> super::Positions {
        super::Positions {
            last_stream_ordering: self.last_stream_ordering,
            last_backfill_ordering: self.last_backfill_ordering,
            next_state_group: self.next_state_group,
        }
    }

    /// Where the sequences and writers stand, from every `sequences` and `stream_positions`
    /// row.
    fn from_rows(
        sequences: Vec<SequenceRow>,
        writers: Vec<StreamPositionRow>,
    ) -> Result<Self, IdbError> {
        let mut positions = Self::default();
        for row in sequences {
            match row.stream_name.as_str() {
                EVENTS_STREAM => positions.last_stream_ordering = row.last_value,
                BACKFILL_SEQUENCE => positions.last_backfill_ordering = row.last_value,
                STATE_GROUPS_SEQUENCE => positions.next_state_group = next_group_after(&row)?,
                _ => {}
            }
        }
        for row in writers {
            if row.stream_name == EVENTS_STREAM {
                positions.writers.insert(row.instance_name, row.stream_id);
            }
        }
        Ok(positions)
    }
}

#[wasm_bindgen(module = "/src/storage/indexeddb/requests.js")]
extern "C" {
    #[wasm_bindgen(js_name = readAll)]
    fn read_all_promise(db: &JsValue, stores: Vec<String>) -> js_sys::Promise;

    #[wasm_bindgen(js_name = getMany)]
    fn get_many_rows(
        db: &JsValue,
        store: &str,
        index: Option<&str>,
        keys: Vec<String>,
        all: bool,
    ) -> js_sys::Promise;

    #[wasm_bindgen(js_name = getEvents)]
    fn get_event_rows(db: &JsValue, keys: Vec<String>) -> js_sys::Promise;

    #[wasm_bindgen(js_name = getEventPlacements)]
    fn get_event_placements(db: &JsValue, keys: Vec<String>) -> js_sys::Promise;

    #[wasm_bindgen(js_name = getRows)]
    fn get_rows(db: &JsValue, store: &str, keys: &str) -> js_sys::Promise;

    #[wasm_bindgen(js_name = lockWrites)]
    fn lock_writes(name: &str) -> js_sys::Promise;

    #[wasm_bindgen(js_name = readStream)]
    fn read_stream(db: &JsValue, after: f64, limit: u32) -> js_sys::Promise;

    #[wasm_bindgen(js_name = getTimeline)]
    fn get_timeline_rows(
        db: &JsValue,
        room_id: &str,
        before: Option<f64>,
        limit: u32,
    ) -> js_sys::Promise;

    #[wasm_bindgen(js_name = getStateEvents)]
    fn get_state_event_rows(db: &JsValue, ranges: &str, keys: Vec<String>) -> js_sys::Promise;

    #[wasm_bindgen(js_name = getRange)]
    fn get_range_rows(
        db: &JsValue,
        store: &str,
        index: &str,
        lower: &str,
        upper: &str,
    ) -> js_sys::Promise;

    #[wasm_bindgen(js_name = walkGroups)]
    fn walk_groups(
        db: &JsValue,
        start: f64,
        groups: &str,
        state: &str,
        ranges: &str,
    ) -> js_sys::Promise;

    #[wasm_bindgen(js_name = readRoomList)]
    fn read_room_list(db: &JsValue, user_id: &str) -> js_sys::Promise;

    #[wasm_bindgen(js_name = keepPreviews)]
    fn keep_preview_rows(db: &JsValue, epoch: f64, rows: &str) -> js_sys::Promise;

    #[wasm_bindgen(js_name = putRows)]
    fn put_rows(db: &JsValue, store: &str, rows: &str) -> js_sys::Promise;

    #[wasm_bindgen(js_name = writeGroup)]
    fn write_group(
        db: &JsValue,
        jsons: &js_sys::Array,
        texts: &js_sys::Array,
        ends: &js_sys::Array,
        checks: &js_sys::Array,
    ) -> js_sys::Promise;

    #[wasm_bindgen(js_name = writeChunk)]
    fn write_chunk(
        db: &JsValue,
        json: &str,
        texts: &str,
        // A copy: a `&[u32]` would reach JavaScript as a view of wasm memory, kept across the
        // transaction's first reads, and detached by any call that grows the memory meanwhile.
        ends: &js_sys::Uint32Array,
        check: &JsValue,
        check_first: bool,
    ) -> js_sys::Promise;

    #[wasm_bindgen(js_name = openCurrent)]
    fn open_current(
        name: &JsValue,
        version: u32,
        stores: &JsValue,
        newer_stores: &JsValue,
    ) -> js_sys::Promise;

    #[wasm_bindgen(js_name = watch)]
    fn watch(db: &JsValue);

    #[wasm_bindgen(js_name = wasClosedOnVersionChange)]
    fn was_closed_on_version_change(db: &IdbDatabase) -> bool;

    #[wasm_bindgen(js_name = countRows)]
    fn count_rows(db: &JsValue, stores: Vec<String>) -> js_sys::Promise;
}

/// The stores whose rows opening a database of schema `version` reads: a database of this
/// code's version holds its `meta` rows from its upgrade, so only the positions and the sync
/// token are read (two requests of one transaction); a newer one's `meta` says whether this code
/// may use it.
fn read_on_open(version: u32) -> Vec<String> {
    let stores: &[&str] = if version == Version::CURRENT.number() {
        &[stores::SEQUENCES, stores::SYNC_TOKENS, stores::STREAM_POSITIONS]
    } else {
        &[stores::META, stores::SEQUENCES, stores::SYNC_TOKENS, stores::STREAM_POSITIONS]
    };
    stores.iter().map(|name| (*name).to_owned()).collect()
}

thread_local! {
    /// [`read_on_open`] for this code's version and a newer one, as JS arrays made once: passing
    /// strings to JS decodes them, a noticeable part of an open of a millisecond.
    static READ_ON_OPEN: [JsValue; 2] = {
        let current = Version::CURRENT.number();
        let array = |version| JsValue::from(read_on_open(version));
        [array(current), array(current + 1)]
    };
}

/// Every row of each of `stores`, as one JSON text per store in their order, read in one
/// read-only transaction.
async fn read_all<const N: usize>(
    db: &IdbDatabase,
    stores: [&str; N],
) -> Result<[JsValue; N], IdbError> {
    let names = stores.iter().map(|name| (*name).to_owned()).collect();
    let rows = read_all_rows(db.as_ref(), names).await?;
    rows.try_into().map_err(|_| IdbError::Unreadable("rows of fewer stores than read".to_owned()))
}

/// Every row of each of `stores`, as one JSON text per store in their order.
async fn read_all_rows(db: &JsValue, stores: Vec<String>) -> Result<Vec<JsValue>, IdbError> {
    let promise = read_all_promise(db, stores);
    let rows = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(dom_error)?;
    Ok(js_sys::Array::from(&rows).iter().collect())
}

/// What a read of `requests.js` resolves to (the JSON text of rows of `store`), as `T`.
async fn rows_read<T: DeserializeOwned>(
    promise: js_sys::Promise,
    store: &str,
) -> Result<T, IdbError> {
    let text = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(dom_error)?;
    from_json_text(text, store)
}

/// Rows read as JSON text (a JS string) from `store`, as `T`.
fn from_json_text<T: DeserializeOwned>(text: JsValue, store: &str) -> Result<T, IdbError> {
    let text = text.as_string().unwrap_or_default();
    serde_json::from_str(&text)
        .map_err(|error| IdbError::Unreadable(format!("rows of {store}: {error}")))
}

/// Up to how many events' redactions are looked up one by one (see
/// [`IndexedDbStore::load_redactions_of`]).
const ONE_BY_ONE: usize = 16;

/// The sync token of the `sync_tokens` rows: a store holds one user's syncs, so one row.
fn sync_token_of(rows: Vec<SyncTokenRow>) -> Option<SyncToken> {
    rows.into_iter().next().map(|row| SyncToken::new(row.user_id, row.next_batch))
}

/// The error a rejected IndexedDB request or transaction gave: its `DOMException`.
fn dom_error(error: JsValue) -> IdbError {
    let text =
        |field: &str| js_sys::Reflect::get(&error, &JsValue::from_str(field)).ok()?.as_string();
    match text("name") {
        Some(name) => IdbError::from_dom(&name, text("message").unwrap_or_default()),
        None => IdbError::Unavailable(format!("{error:?}")),
    }
}

/// The id after the last one the `state_groups` sequence handed out.
fn next_group_after(row: &SequenceRow) -> Result<StateGroupId, IdbError> {
    let last = StateGroupId::try_from(row.last_value)
        .ok()
        .filter(|id| *id <= state_groups::MAX_STATE_GROUP_ID)
        .ok_or_else(|| {
            IdbError::Unreadable(format!("state group sequence at {}", row.last_value))
        })?;
    Ok(last + 1)
}

/// Rooms asked for above which a user's own memberships, or the rooms' versions, are read
/// whole, in one request.
const READ_ALL_ABOVE: usize = 64;

/// A `rooms` row's version.
fn version_of(row: &RoomRow) -> Result<RoomVersion, StoreError> {
    RoomVersion::parse(&row.room_version)
        .map_err(|error| StoreError::Corrupt(format!("{}: {error}", row.room_id)))
}

/// What `readRoomList` reads as JSON text: the preview epoch, the keys of `rooms`, the keys
/// (`[user_id, room_id]`) of the user's `local_current_membership` rows, and the rooms of the
/// user's kept previews (whose texts come beside it).
type RoomListRows = (u64, Vec<String>, Vec<(String, String)>, Vec<String>);

/// Every request one room chunk's write places, computed before the transaction opens; the
/// transaction always covers `sequences` and `room_chunks`, which it reads first.
fn chunk_ops(plan: &RoomWritePlan, writer: &str) -> Result<ChunkOps, IdbError> {
    // Every row first: nothing but IndexedDB requests is placed once the transaction is open.
    let rows = PlanRows::of(plan, writer)?;
    let room = JsonValue::from(rows.room_id.as_str());
    let mut chunk = ChunkOps { taken: TakenIds::of(plan), ..ChunkOps::default() };
    chunk.rows("add", stores::STATE_GROUPS, &rows.state_groups)?;
    chunk.rows("put", stores::STATE_GROUPS_STATE, &rows.state_groups_state)?;
    // An outlier's row is replaced when it arrives in the DAG; any other row that exists
    // already fails the add and aborts the chunk.
    let (mut added, mut replaced) = (Vec::new(), Vec::new());
    for (row, event) in rows.events.into_iter().zip(&plan.events) {
        if event.replaces_outlier {
            replaced.push(row)
        } else {
            added.push(row)
        }
    }
    chunk.events(added, false)?;
    chunk.events(replaced, true)?;
    chunk.rows("put", stores::ROOMS, &rows.rooms)?;
    if let Some(extremities) = &rows.forward_extremities {
        // A room the store did not list has no extremity to drop (the room count's check
        // aborts the chunk if another tab stored the room meanwhile): one request a new room.
        if plan.room_listed {
            // `[room]` sorts before every `[room, event]`, and an array after every string.
            let (lower, upper) = (json!([room]), json!([room, []]));
            chunk.delete_range(stores::EVENT_FORWARD_EXTREMITIES, lower, upper)?;
        }
        chunk.rows("put", stores::EVENT_FORWARD_EXTREMITIES, extremities)?;
    }
    let state_keys: Vec<JsonValue> = (plan.current_state_delta.to_delete.iter())
        .map(|(event_type, state_key)| json!([room, event_type, state_key]))
        .collect();
    chunk.delete(stores::CURRENT_STATE_EVENTS, state_keys)?;
    chunk.rows("put", stores::CURRENT_STATE_EVENTS, &rows.current_state)?;
    chunk.rows("put", stores::ROOM_MEMBERSHIPS, &rows.memberships)?;
    chunk.rows("put", stores::REDACTIONS, &rows.redactions)?;
    let gaps_filled: Vec<JsonValue> =
        (plan.backward_extremities.to_delete.iter()).map(|id| json!([room, id.as_str()])).collect();
    chunk.delete(stores::EVENT_BACKWARD_EXTREMITIES, gaps_filled)?;
    chunk.rows("put", stores::EVENT_BACKWARD_EXTREMITIES, &rows.backward_extremities)?;
    chunk.rows("put", stores::LOCAL_CURRENT_MEMBERSHIP, &rows.local_membership)?;
    chunk.rows("put", stores::TIMELINE_GAPS, &rows.timeline_gaps)?;
    if plan.stales_previews() {
        chunk.stale_previews(&room)?;
    }
    chunk.positions(rows.stream_position);
    chunk.advance(&rows.sequences);
    // Over the stores the chunk writes only: a transaction costs more the more it covers.
    chunk.touch(stores::SEQUENCES);
    chunk.touch(stores::ROOM_CHUNKS);
    Ok(chunk)
}

/// What a chunk's write checks, inside its transaction, before it is committed: what the chunk
/// was planned on (its room's chunk count, and the sequences).
fn check_of(plan: &RoomWritePlan) -> Result<JsValue, IdbError> {
    let planned_on = plan.planned_on;
    let check = json!({
        "room_id": plan.room_id.as_str(),
        "room_chunks": planned_on.room_chunks,
        "events": planned_on.positions.last_stream_ordering,
        "backfill": planned_on.positions.last_backfill_ordering,
        "state_groups": planned_on.positions.next_state_group - 1,
    });
    js_sys::JSON::parse(&check.to_string())
        .map_err(|_| IdbError::Unreadable("a write's check as JSON".into()))
}

/// The sequences' values a chunk was written on, when other connections had moved them since it
/// was planned (`writeChunk` resolves to `[events, backfill, state_groups]`, or to `null` when
/// the chunk was written as planned).
fn stored_sequences(answer: &JsValue) -> Result<Option<super::Positions>, IdbError> {
    if answer.is_null() {
        return Ok(None);
    }
    let values: Vec<f64> = js_sys::Array::from(answer).iter().filter_map(|v| v.as_f64()).collect();
    let [events, backfill, groups] = values[..] else {
        return Err(IdbError::Unreadable("a rebased write's sequences".into()));
    };
    // Sequence values are integers far below 2^53, exact as JS numbers.
    Ok(Some(super::Positions::new(events as i64, backfill as i64, groups as u64 + 1)))
}

fn event_id_of(id: &str) -> Result<OwnedEventId, IdbError> {
    OwnedEventId::try_from(id).map_err(|error| IdbError::Unreadable(format!("{id}: {error}")))
}

/// One room chunk's write as `writeChunk` places it: its requests in order (each as its JSON
/// text), the `sequences` rows it advances, the PDU texts of its events, and the stores all of
/// these touch (the transaction's scope).
#[derive(Default)]
struct ChunkOps {
    taken: TakenIds,
    ops: Vec<Box<RawValue>>,
    advance: Vec<JsonValue>,
    positions: Vec<StreamPositionRow>,
    texts: EventTexts,
    scope: Vec<&'static str>,
}

/// An `add` or `put` of each of `rows` into `store`.
#[derive(serde::Serialize)]
struct RowsOp<'a, T> {
    op: &'a str,
    store: &'a str,
    rows: &'a [T],
}

/// An `add` (or, with `replace`, a `put`) of each `events` row; the rows' PDU texts are those
/// from index `from` of the chunk's [`EventTexts`].
#[derive(serde::Serialize)]
struct EventsOp<'a> {
    op: &'a str,
    replace: bool,
    from: usize,
    rows: &'a [EventRow],
}

/// A room chunk's write, as `writeChunk` takes it.
#[derive(serde::Serialize)]
struct ChunkWrite<'a> {
    taken: &'a TakenIds,
    scope: &'a [&'a str],
    advance: &'a [JsonValue],
    positions: &'a [StreamPositionRow],
    ops: &'a [Box<RawValue>],
}

impl ChunkOps {
    fn push(&mut self, store: &'static str, op: &impl serde::Serialize) -> Result<(), IdbError> {
        let op = serde_json::value::to_raw_value(op)
            .map_err(|error| IdbError::Unreadable(format!("a write as JSON: {error}")))?;
        self.ops.push(op);
        self.touch(store);
        Ok(())
    }

    fn touch(&mut self, store: &'static str) {
        if !self.scope.contains(&store) {
            self.scope.push(store);
        }
    }

    /// An `add` or `put` of each of `rows` into `store`.
    fn rows<T: serde::Serialize>(
        &mut self,
        op: &str,
        store: &'static str,
        rows: &[T],
    ) -> Result<(), IdbError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.push(store, &RowsOp { op, store, rows })
    }

    /// A `delete` of each of `keys` from `store`.
    fn delete(&mut self, store: &'static str, keys: Vec<JsonValue>) -> Result<(), IdbError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.push(store, &json!({"op": "delete", "store": store, "keys": keys}))
    }

    /// A `delete` of every row of `store` with a key from `lower` to `upper`.
    fn delete_range(
        &mut self,
        store: &'static str,
        lower: JsonValue,
        upper: JsonValue,
    ) -> Result<(), IdbError> {
        self.push(
            store,
            &json!({"op": "deleteRange", "store": store, "lower": lower, "upper": upper}),
        )
    }

    /// A `delete` of the room's kept previews, and the preview epoch moved on (see
    /// [`Store::keep_previews`]).
    fn stale_previews(&mut self, room: &JsonValue) -> Result<(), IdbError> {
        let op = json!({"op": "stalePreviews", "store": stores::ROOM_PREVIEWS, "room": room});
        self.push(stores::ROOM_PREVIEWS, &op)?;
        self.touch(stores::SEQUENCES);
        Ok(())
    }

    /// The `events` rows, whose PDU texts go to the chunk's texts, apart from the rows.
    fn events(&mut self, mut rows: Vec<EventRow>, replace: bool) -> Result<(), IdbError> {
        if rows.is_empty() {
            return Ok(());
        }
        let from = self.texts.ends.len();
        for row in &mut rows {
            self.texts.push(&std::mem::take(&mut row.json))?;
        }
        self.push(stores::EVENTS, &EventsOp { op: "events", replace, from, rows: &rows })
    }

    /// The writer's `stream_positions` rows after the chunk: put once per transaction, as the
    /// last chunk in it leaves them.
    fn positions(&mut self, rows: Vec<StreamPositionRow>) {
        if !rows.is_empty() {
            self.positions = rows;
            self.touch(stores::STREAM_POSITIONS);
        }
    }

    /// Advances each `sequences` row to the chunk's own value, once read: `backfill` goes down,
    /// the other sequences up (see [`Positions`]).
    fn advance(&mut self, rows: &[SequenceRow]) {
        for row in rows {
            let down = row.stream_name == BACKFILL_SEQUENCE;
            let (stream_name, last_value) = (&row.stream_name, row.last_value);
            self.advance
                .push(json!({"stream_name": stream_name, "last_value": last_value, "down": down}));
            self.touch(stores::SEQUENCES);
        }
    }

    /// The write as `writeChunk`'s JSON text, and the PDU texts.
    fn into_json(self) -> Result<(String, EventTexts), IdbError> {
        let write = ChunkWrite {
            taken: &self.taken,
            scope: &self.scope,
            advance: &self.advance,
            positions: &self.positions,
            ops: &self.ops,
        };
        let json = serde_json::to_string(&write)
            .map_err(|error| IdbError::Unreadable(format!("a write as JSON: {error}")))?;
        Ok((json, self.texts))
    }
}

/// The ids a chunk took, as its write names them: when other connections took ids since the
/// chunk was planned, `writeChunk` moves these (and only these) in its rows as far as each
/// sequence moved, as [`RoomWritePlan::rebase`] moves them in the plan. An id it did not take (a
/// stored group it builds on, an ex-outlier's first ordering) stays.
#[derive(Default, serde::Serialize)]
struct TakenIds {
    /// Its events' stream orderings (live and backfill).
    orderings: Vec<i64>,
    /// Its new state groups.
    groups: Vec<u64>,
}

impl TakenIds {
    fn of(plan: &RoomWritePlan) -> Self {
        Self {
            orderings: plan.events.iter().map(|event| event.stream_id).collect(),
            groups: plan.state_groups.iter().map(|group| group.id).collect(),
        }
    }
}

/// The PDU texts of a chunk's events as one string, and where each one ends in it (in UTF-16
/// code units, as JS strings index): slicing one string costs JS far less than parsing each
/// text out of a JSON string literal.
#[derive(Default)]
struct EventTexts {
    texts: String,
    ends: Vec<u32>,
    end: usize,
}

impl EventTexts {
    fn push(&mut self, text: &str) -> Result<(), IdbError> {
        self.end += text.encode_utf16().count();
        let too_long = || IdbError::Unreadable("a chunk's PDU texts exceed 2^32 code units".into());
        self.ends.push(u32::try_from(self.end).map_err(|_| too_long())?);
        self.texts.push_str(text);
        Ok(())
    }
}

/// Every row one room chunk writes, computed before the transaction opens.
struct PlanRows {
    room_id: String,
    events: Vec<EventRow>,
    rooms: Vec<RoomRow>,
    forward_extremities: Option<Vec<ForwardExtremityRow>>,
    backward_extremities: Vec<BackwardExtremityRow>,
    redactions: Vec<rows::RedactionRow>,
    current_state: Vec<CurrentStateRow>,
    memberships: Vec<RoomMembershipRow>,
    state_groups: Vec<StateGroupRow>,
    state_groups_state: Vec<StateGroupStateRow>,
    stream_position: Vec<StreamPositionRow>,
    /// The chunk's own value for each `sequences` row it moves.
    sequences: Vec<SequenceRow>,
    local_membership: Vec<LocalMembershipRow>,
    timeline_gaps: Vec<TimelineGapRow>,
}

impl PlanRows {
    fn of(plan: &RoomWritePlan, writer: &str) -> Result<Self, IdbError> {
        let room_id = plan.room_id.to_string();
        let mut rows = Self {
            room_id: room_id.clone(),
            events: Vec::with_capacity(plan.events.len()),
            rooms: Vec::new(),
            backward_extremities: plan
                .backward_extremities
                .to_insert
                .iter()
                .map(|id| BackwardExtremityRow {
                    room_id: room_id.clone(),
                    event_id: id.to_string(),
                })
                .collect(),
            redactions: plan
                .redactions
                .iter()
                .map(|row| rows::RedactionRow {
                    event_id: row.event_id.to_string(),
                    redacts: row.redacts.to_string(),
                    recheck: row.recheck,
                })
                .collect(),
            forward_extremities: plan.forward_extremities.as_ref().map(|extremities| {
                extremities
                    .iter()
                    .map(|event_id| ForwardExtremityRow {
                        room_id: room_id.clone(),
                        event_id: event_id.clone(),
                    })
                    .collect()
            }),
            current_state: plan
                .current_state_delta
                .to_insert
                .iter()
                .map(|((event_type, state_key), event_id, membership)| CurrentStateRow {
                    room_id: room_id.clone(),
                    event_type: event_type.clone(),
                    state_key: state_key.clone(),
                    event_id: event_id.to_string(),
                    membership: membership.clone(),
                })
                .collect(),
            memberships: plan
                .memberships
                .iter()
                .map(|row| RoomMembershipRow {
                    event_id: row.event_id.to_string(),
                    room_id: room_id.clone(),
                    user_id: row.user_id.clone(),
                    sender: row.sender.clone(),
                    membership: row.membership.clone(),
                    display_name: row.display_name.clone(),
                    avatar_url: row.avatar_url.clone(),
                })
                .collect(),
            state_groups: Vec::new(),
            state_groups_state: Vec::new(),
            stream_position: Vec::new(),
            sequences: Vec::new(),
            local_membership: Vec::new(),
            timeline_gaps: Vec::new(),
        };
        if let Some(row) = &plan.local_membership {
            let stripped_state = row
                .stripped_state
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|error| IdbError::Unreadable(format!("stripped state: {error}")))?;
            rows.local_membership.push(LocalMembershipRow {
                user_id: row.user_id.clone(),
                room_id: room_id.clone(),
                membership: row.membership.clone(),
                event_id: row.event_id.as_ref().map(ToString::to_string),
                stream_ordering: row.stream_ordering,
                stripped_state,
            });
        }
        if let Some(gap) = &plan.timeline_gap {
            rows.timeline_gaps.push(TimelineGapRow {
                room_id: room_id.clone(),
                event_id: gap.event_id.to_string(),
                prev_batch: gap.prev_batch.clone(),
            });
        }
        for group in &plan.state_groups {
            rows.state_groups.push(StateGroupRow {
                id: group.id,
                room_id: room_id.clone(),
                event_id: group.event_id.to_string(),
                prev_state_group: group.prev_group,
            });
            for ((event_type, state_key), event_id) in &group.delta {
                rows.state_groups_state.push(StateGroupStateRow {
                    state_group: group.id,
                    event_type: event_type.clone(),
                    state_key: state_key.clone(),
                    event_id: event_id.to_string(),
                });
            }
        }
        if let Some(version) = &plan.outlier_room {
            rows.rooms.push(RoomRow {
                room_id: room_id.clone(),
                room_version: version.as_str().to_owned(),
                creator: None,
            });
        }
        for event in &plan.events {
            let pdu = &event.pdu;
            let event_id = pdu.event_id().to_string();
            let format_version = pdu.format_version().number();
            if pdu.event_type() == "m.room.create" && pdu.state_key() == Some("") {
                rows.rooms.push(RoomRow {
                    room_id: room_id.clone(),
                    room_version: pdu.room_version().as_str().to_owned(),
                    creator: Some(pdu.sender().to_string()),
                });
            }
            let prev_events = if event.keeps_edges() {
                pdu.prev_events().iter().map(ToString::to_string).collect()
            } else {
                Vec::new()
            };
            let metadata = event.internal_metadata(writer);
            let (columns, dict) = metadata.split();
            let json = serde_json::to_string(pdu.as_object())
                .map_err(|error| IdbError::Unreadable(format!("{event_id}: {error}")))?;
            let internal_metadata = serde_json::to_string(&dict)
                .map_err(|error| IdbError::Unreadable(format!("{event_id}: {error}")))?;
            rows.events.push(EventRow {
                event_id,
                room_id: room_id.clone(),
                event_type: pdu.event_type().to_owned(),
                state_key: pdu.state_key().map(str::to_owned),
                sender: pdu.sender().to_string(),
                depth: pdu.depth().map(u64::from),
                stream_ordering: event.stream_ordering,
                // Always set by `internal_metadata`: the writer's, or an ex-outlier's own.
                instance_name: columns.instance_name.unwrap_or_else(|| writer.to_owned()),
                outlier: columns.outlier,
                format_version,
                client_format: pdu.is_client_format(),
                rejection: event.rejection_reason(),
                room_version: pdu.room_version().as_str().to_owned(),
                json,
                internal_metadata,
                prev_events,
                missing_prevs: event.missing_prevs.iter().map(ToString::to_string).collect(),
                state_group: event.state_group,
            });
        }
        let orderings = || plan.events.iter().map(|event| event.stream_id);
        let position = orderings().filter(|ordering| *ordering > 0).max();
        if let Some(stream_id) = position {
            rows.stream_position.push(StreamPositionRow {
                stream_name: EVENTS_STREAM.to_owned(),
                instance_name: writer.to_owned(),
                stream_id,
            });
        }
        let last_group = plan.state_groups.iter().map(|group| group.id).max();
        let last_group = last_group
            .map(|id| {
                i64::try_from(id)
                    .map_err(|_| IdbError::Unreadable(format!("state group id {id} is too large")))
            })
            .transpose()?;
        let sequences = [
            (EVENTS_STREAM, position),
            (BACKFILL_SEQUENCE, orderings().filter(|ordering| *ordering < 0).min()),
            (STATE_GROUPS_SEQUENCE, last_group),
        ];
        for (stream_name, last_value) in sequences {
            if let Some(last_value) = last_value {
                rows.sequences
                    .push(SequenceRow { stream_name: stream_name.to_owned(), last_value });
            }
        }
        Ok(rows)
    }
}

impl Store for IndexedDbStore {
    async fn apply(&self, plan: &mut RoomWritePlan, writer: &str) -> Result<(), StoreError> {
        // The positions read at open are stale once anything is written.
        self.opened_at.borrow_mut().take();
        Ok(self.write(plan, writer).await?)
    }

    async fn room_chunks(&self, room_id: &str) -> Result<u64, StoreError> {
        let row = self.get_row::<RoomChunksRow>(stores::ROOM_CHUNKS, room_id).await?;
        Ok(row.map_or(0, |row| row.chunks))
    }

    async fn rooms_chunks(&self, room_ids: &[String]) -> Result<Vec<u64>, StoreError> {
        let rows: Vec<Option<RoomChunksRow>> =
            self.get_many_read(stores::ROOM_CHUNKS, None, room_ids, false).await?;
        Ok(rows.into_iter().map(|row| row.map_or(0, |row| row.chunks)).collect())
    }

    async fn room_version(&self, room_id: &str) -> Result<Option<RoomVersion>, StoreError> {
        let row = self.get_row::<RoomRow>(stores::ROOMS, room_id).await?;
        row.as_ref().map(version_of).transpose()
    }

    async fn rooms_versions(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<Option<RoomVersion>>, StoreError> {
        // A first sync asks for a thousand rooms: one request for every row costs less.
        if room_ids.len() > READ_ALL_ABOVE {
            let rows: Vec<RoomRow> = self.all_rows(stores::ROOMS).await?;
            let rows: HashMap<&str, &RoomRow> =
                rows.iter().map(|row| (row.room_id.as_str(), row)).collect();
            let version = |room_id: &String| rows.get(room_id.as_str()).map(|row| version_of(row));
            return room_ids.iter().map(|room_id| version(room_id).transpose()).collect();
        }
        let rows: Vec<Option<RoomRow>> =
            self.get_many_read(stores::ROOMS, None, room_ids, false).await?;
        rows.iter().map(|row| row.as_ref().map(version_of).transpose()).collect()
    }

    async fn rooms(&self) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<RoomRow> = self.all_rows(stores::ROOMS).await?;
        Ok(set_of(rows.into_iter().map(|row| row.room_id)))
    }

    async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        Ok(self.load_event(event_id).await?)
    }

    async fn forward_extremities(&self, room_id: &str) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<ForwardExtremityRow> =
            self.rows_prefixed(stores::EVENT_FORWARD_EXTREMITIES, room_id).await?;
        Ok(set_of(rows.into_iter().map(|row| row.event_id)))
    }

    async fn rooms_forward_extremities(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<BTreeSet<String>>, StoreError> {
        let rows: Vec<Vec<ForwardExtremityRow>> =
            self.get_many_prefixed(stores::EVENT_FORWARD_EXTREMITIES, room_ids).await?;
        Ok(rows.into_iter().map(|rows| set_of(rows.into_iter().map(|row| row.event_id))).collect())
    }

    async fn current_state(
        &self,
        room_id: &str,
        filter: &StateFilter,
    ) -> Result<StateIds, StoreError> {
        let rows: Vec<CurrentStateRow> =
            self.rows_prefixed(stores::CURRENT_STATE_EVENTS, room_id).await?;
        let mut state = StateIds::new();
        for row in rows {
            if filter.matches(&row.event_type, &row.state_key) {
                state.insert((row.event_type, row.state_key), event_id_of(&row.event_id)?);
            }
        }
        Ok(state)
    }

    async fn current_states(&self, room_ids: &[String]) -> Result<Vec<StateIds>, StoreError> {
        let rows: Vec<Vec<CurrentStateRow>> =
            self.get_many_prefixed(stores::CURRENT_STATE_EVENTS, room_ids).await?;
        let mut states = Vec::with_capacity(rows.len());
        for rows in rows {
            let mut state = StateIds::new();
            for row in rows {
                state.insert((row.event_type, row.state_key), event_id_of(&row.event_id)?);
            }
            states.push(state);
        }
        Ok(states)
    }

    async fn state_at_event(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<StateIds>, StoreError> {
        Ok(self.walk_state_at(event_id, filter).await?)
    }

    async fn memberships(&self, room_id: &str) -> Result<Vec<MembershipRow>, StoreError> {
        let rows: Vec<RoomMembershipRow> = self
            .rows_by_index(stores::ROOM_MEMBERSHIPS, indices::MEMBERSHIPS_BY_ROOM, room_id)
            .await?;
        let mut memberships = Vec::with_capacity(rows.len());
        for row in rows {
            memberships.push(MembershipRow {
                event_id: event_id_of(&row.event_id)?,
                user_id: row.user_id,
                sender: row.sender,
                membership: row.membership,
                display_name: row.display_name,
                avatar_url: row.avatar_url,
            });
        }
        Ok(memberships)
    }

    async fn positions(&self) -> Result<super::Positions, StoreError> {
        let opened_at = self.opened_at.borrow_mut().take();
        match opened_at {
            Some(positions) => Ok(positions),
            None => Ok(IndexedDbStore::positions(self).await?.shared()),
        }
    }

    async fn state_pdus(&self, state: &StateIds) -> Result<Vec<Option<Pdu>>, StoreError> {
        Ok(self.load_state_pdus(state).await?)
    }

    async fn planning_events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<PlanningEvent>>, StoreError> {
        Ok(self.load_planning_events(event_ids).await?)
    }

    async fn event_placements(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<EventPlacement>>, StoreError> {
        Ok(self.load_event_placements(event_ids).await?)
    }

    async fn state_group_chain(
        &self,
        group: StateGroupId,
    ) -> Result<Vec<state_groups::StateGroupRow>, StoreError> {
        IndexedDbStore::state_group_chain(self, group).await
    }

    async fn room_timeline(
        &self,
        room_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let db: &JsValue = self.db()?.as_ref();
        // Stream orderings and limits are far below 2^53: exact as JS numbers.
        let before = before.map(|ordering| ordering as f64);
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let read = get_timeline_rows(db, room_id, before, limit);
        let read = wasm_bindgen_futures::JsFuture::from(read).await.map_err(dom_error)?;
        let rows = planning::event_rows(read)?;
        Ok(rows.into_iter().flatten().map(planning::stored_event).collect::<Result<_, _>>()?)
    }

    async fn local_memberships(
        &self,
        user_id: &str,
        room_ids: Option<&[String]>,
    ) -> Result<LocalMemberships, StoreError> {
        // A request per room costs more than reading rows of rooms not asked for: a first sync
        // asks for every room of the response, of a store that holds none of them.
        let rows: Vec<LocalMembershipRow> = match room_ids.filter(|ids| ids.len() <= READ_ALL_ABOVE)
        {
            Some(room_ids) => {
                let keys: Vec<JsonValue> =
                    room_ids.iter().map(|room_id| json!([user_id, room_id])).collect();
                let db: &JsValue = self.db()?.as_ref();
                let keys = JsonValue::Array(keys).to_string();
                let read = get_rows(db, stores::LOCAL_CURRENT_MEMBERSHIP, &keys);
                let found: Vec<Option<LocalMembershipRow>> =
                    rows_read(read, stores::LOCAL_CURRENT_MEMBERSHIP).await?;
                found.into_iter().flatten().collect()
            }
            None => {
                let mut rows: Vec<LocalMembershipRow> =
                    self.rows_prefixed(stores::LOCAL_CURRENT_MEMBERSHIP, user_id).await?;
                if let Some(room_ids) = room_ids {
                    let asked: BTreeSet<&str> = set_of(room_ids.iter().map(String::as_str));
                    rows.retain(|row| asked.contains(row.room_id.as_str()));
                }
                rows
            }
        };
        let mut memberships = LocalMemberships::default();
        for row in rows {
            let stripped_state = row
                .stripped_state
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|error| IdbError::Unreadable(format!("{}: {error}", row.room_id)))?;
            let event_id = row.event_id.as_deref().map(event_id_of).transpose()?;
            let membership = LocalMembership {
                user_id: row.user_id,
                membership: row.membership,
                event_id,
                stream_ordering: row.stream_ordering,
                stripped_state,
            };
            memberships.insert(row.room_id, membership);
        }
        Ok(memberships)
    }

    async fn timeline_gaps(&self, room_id: &str) -> Result<Vec<TimelineGap>, StoreError> {
        let rows: Vec<TimelineGapRow> = self.rows_prefixed(stores::TIMELINE_GAPS, room_id).await?;
        let gaps = rows.into_iter().map(|row| {
            Ok(TimelineGap { event_id: event_id_of(&row.event_id)?, prev_batch: row.prev_batch })
        });
        Ok(gaps.collect::<Result<_, IdbError>>()?)
    }

    async fn room_list(&self, user_id: &str) -> Result<RoomList, StoreError> {
        let read = read_room_list(self.db()?.as_ref(), user_id);
        let read = wasm_bindgen_futures::JsFuture::from(read).await.map_err(dom_error)?;
        // Always `[lists, texts]` (`readRoomList`).
        let read: js_sys::Array = read.dyn_into().unwrap_or_default();
        let (epoch, rooms, own_rooms, kept): RoomListRows =
            from_json_text(read.get(0), stores::ROOM_PREVIEWS)?;
        let mut rooms: BTreeSet<String> = set_of(rooms);
        rooms.extend(own_rooms.into_iter().map(|(_, room_id)| room_id));
        // A text that is not a string reads as empty, which keeps no preview: it is computed again.
        let texts = js_sys::Array::from(&read.get(1));
        let texts = texts.iter().map(|text| text.as_string().unwrap_or_default());
        let previews = kept.into_iter().zip(texts).collect();
        Ok(RoomList { rooms, previews, epoch })
    }

    async fn keep_previews(
        &self,
        user_id: &str,
        epoch: u64,
        previews: &[(String, String)],
    ) -> Result<bool, StoreError> {
        let rows: Vec<RoomPreviewRow> = previews
            .iter()
            .map(|(room_id, preview)| RoomPreviewRow {
                room_id: room_id.clone(),
                user_id: user_id.to_owned(),
                preview: preview.clone(),
            })
            .collect();
        let rows = serde_json::to_string(&rows)
            .map_err(|error| IdbError::Unreadable(format!("previews as JSON: {error}")))?;
        // An epoch counts writes: far below 2^53, exact as a JS number.
        let kept = keep_preview_rows(self.db()?.as_ref(), epoch as f64, &rows);
        let kept = wasm_bindgen_futures::JsFuture::from(kept).await.map_err(dom_error)?;
        Ok(kept.as_bool().unwrap_or(false))
    }

    async fn stream_positions(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        if let Some(writers) = self.opened_stream_positions.borrow_mut().take() {
            return Ok(writers);
        }
        Ok(IndexedDbStore::positions(self).await?.writers)
    }

    async fn stream_after(&self, after: i64, limit: usize) -> Result<StreamPage, StoreError> {
        let db: &JsValue = self.db()?.as_ref();
        // Stream orderings and limits are far below 2^53: exact as JS numbers.
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let read = read_stream(db, after as f64, limit);
        let read = wasm_bindgen_futures::JsFuture::from(read).await.map_err(dom_error)?;
        let last = js_sys::Array::from(&read).get(2).as_f64().unwrap_or(0.0) as i64;
        let rows = planning::event_rows(read)?;
        let more = rows.len() >= limit as usize;
        let events = rows.into_iter().flatten().map(planning::stored_event);
        let events = events.collect::<Result<Vec<_>, _>>()?;
        Ok(StreamPage { last_stream_id: last, events, more })
    }

    async fn sync_token(&self) -> Result<Option<SyncToken>, StoreError> {
        if let Some(token) = self.opened_sync_token.borrow_mut().take() {
            return Ok(token);
        }
        let rows: Vec<SyncTokenRow> = self.all_rows(stores::SYNC_TOKENS).await?;
        Ok(sync_token_of(rows))
    }

    async fn set_sync_token(&self, token: &SyncToken) -> Result<(), StoreError> {
        let row =
            SyncTokenRow { user_id: token.user_id.clone(), next_batch: token.next_batch.clone() };
        let rows = serde_json::to_string(&[row])
            .map_err(|error| IdbError::Unreadable(format!("a sync token as JSON: {error}")))?;
        let promise = put_rows(self.db()?.as_ref(), stores::SYNC_TOKENS, &rows);
        wasm_bindgen_futures::JsFuture::from(promise).await.map_err(dom_error)?;
        Ok(())
    }

    async fn lock_writes(&self) -> Result<WriteLock, StoreError> {
        let acquired = lock_writes(&self.db()?.name());
        let release = wasm_bindgen_futures::JsFuture::from(acquired).await.map_err(dom_error)?;
        let release: js_sys::Function = release.unchecked_into();
        Ok(WriteLock::released_by(move || {
            // Releasing resolves the lock's promise; it cannot throw.
            let _ = release.call0(&JsValue::NULL);
        }))
    }

    async fn referenced_as_prev(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
        IndexedDbStore::referenced_as_prev(self, event_ids).await
    }

    async fn backward_extremities(
        &self,
        room_id: &str,
    ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
        let rows: Vec<BackwardExtremityRow> =
            self.rows_prefixed(stores::EVENT_BACKWARD_EXTREMITIES, room_id).await?;
        let ids = rows.iter().map(|row| event_id_of(&row.event_id));
        Ok(set_of(ids.collect::<Result<Vec<_>, _>>()?))
    }

    async fn redactions_of(
        &self,
        event_id: &EventId,
    ) -> Result<Vec<crate::persist::RedactionRow>, StoreError> {
        let mut rows = self.redactions_of_many(&[event_id.to_owned()]).await?;
        Ok(rows.pop().unwrap_or_default())
    }

    async fn redactions_of_many(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Vec<crate::persist::RedactionRow>>, StoreError> {
        Ok(self.load_redactions_of(event_ids).await?)
    }

    async fn events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<StoredEvent>>, StoreError> {
        let rows = self.load_event_rows(event_ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| row.map(planning::stored_event).transpose())
            .collect::<Result<_, _>>()?)
    }
}
