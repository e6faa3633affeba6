//! The JavaScript surface: thin conversions between JS values and the pure modules, and one
//! mapping from errors to JS `Error`s with a `code`. No logic lives here.
//!
//! Inputs arrive as plain JS values and are converted with `serde-wasm-bindgen` inside each
//! function, never in generated glue, so that a bad input is an ordinary typed error and not a
//! throw that skips destructors. Outputs leave as plain JSON-compatible objects (no `Map`s, `null`
//! for absent values).

#[cfg(not(feature = "store"))]
mod allocator;
#[cfg(feature = "store")]
mod backend;
mod convert;
#[cfg(feature = "store")]
mod event_store;
mod options;
mod preview_rows;
#[cfg(feature = "store")]
mod subscribers;
#[cfg(feature = "store")]
mod tabs;

use tsify::Ts;
use wasm_bindgen::prelude::*;

use self::convert::{json_from_js, json_text_from_js, options_from_js, to_js, to_js_error};
#[cfg(feature = "store")]
pub use self::event_store::{
    ChunkError, ClientEventArray, EventStoreOptions, IngestOptions, IngestResult, IngestedRoom,
    InternalMetadata, JsEventStore, PersistOptions, PersistResult, RejectedEvent,
    RoomPersistResult, RoomPreviewsOptions, RoomTimeline, RoomTimelineOptions, SectionCounts,
    StoredEvent, StoredStrippedStateOptions, StreamOrderingRange, TimelineGap,
};
use self::options::{PreviewSyncRoomsOptions, RoomPreviewOptions, StrippedStateOptions};
use self::preview_rows::PreviewChunks;
use crate::prejoin::{self, RoomPreview};

#[wasm_bindgen(typescript_custom_section)]
const EVENT_TYPES: &str = r#"
/** A Matrix event as received from the client-server API, /sync or federation. Only the fields
 *  prejoin reads are typed; every other field is kept as given. */
export interface Event {
    type: string;
    state_key?: string;
    sender: string;
    content: Record<string, unknown>;
    event_id?: string;
    room_id?: string;
    origin_server_ts?: number;
    unsigned?: Record<string, unknown>;
    [key: string]: unknown;
}

/** A stripped state event: exactly `type`, `state_key`, `content` and `sender`. With
 *  `fullCreateEvent`, the create event is the full event instead (MSC4311). */
export interface StrippedEvent {
    type: string;
    state_key: string;
    content: Record<string, unknown>;
    sender: string;
    event_id?: string;
    room_id?: string;
    origin_server_ts?: number;
    [key: string]: unknown;
}

/** A `/sync` response's `rooms` (client-server API v3). Only what prejoin reads is typed; every
 *  other field is accepted and ignored. */
export interface SyncRooms {
    join?: Record<string, SyncRoomEvents>;
    invite?: Record<string, {invite_state?: {events?: StrippedEvent[]}; [key: string]: unknown}>;
    knock?: Record<string, {knock_state?: {events?: StrippedEvent[]}; [key: string]: unknown}>;
    leave?: Record<string, SyncRoomEvents>;
    [key: string]: unknown;
}

/** A joined or left room of a `/sync` response: its `state` and `timeline` blocks. */
export interface SyncRoomEvents {
    state?: {events?: Event[]};
    timeline?: {events?: Event[]; limited?: boolean; prev_batch?: string};
    [key: string]: unknown;
}

/** The stable codes of the errors prejoin throws (and of `persistEvents`' per-room errors). */
export type PrejoinErrorCode =
    | "INVALID_STATE" | "INVALID_EVENT" | "INVALID_STATE_KEY" | "INVALID_CONTENT"
    | "DUPLICATE_STATE" | "INVALID_MEMBERSHIP_EVENT" | "ROOM_MISMATCH"
    | "MEMBERSHIP_USER_FOR_KNOCK" | "INVALID_CONFIG" | "INVALID_OPTIONS" | "INVALID_JSON"
    | "INVALID_STATE_FILTER" | "UNKNOWN_ROOM_VERSION" | "INVALID_PDU" | "EVENT_ID_MISMATCH"
    | "INVALID_ROOM_ID" | "UNKNOWN_ROOM" | "INTEGER_OUT_OF_RANGE" | "INVALID_EVENT_ID"
    | "UNKNOWN_EVENT" | "MEMBERSHIP_MISMATCH" | "INVALID_SYNC" | "SYNCED_ROOM" | "PLAN_FAILED"
    | "WRITE_FAILED" | "WRITE_CONFLICT" | "QUOTA_EXCEEDED" | "CORRUPT_STORE" | "INDEXEDDB_UNAVAILABLE" | "STORE_CLOSED"
    | "SCHEMA_TOO_NEW";

/** Every error prejoin throws is an `Error` with one of the stable codes. */
export interface PrejoinError extends Error {
    code: PrejoinErrorCode;
}
"#;

/// The types only the event store's methods take or return.
#[cfg(feature = "store")]
#[wasm_bindgen(typescript_custom_section)]
const STORE_EVENT_TYPES: &str = r#"
/** An event in client format, as the event store returns state: the PDU with its ids and
 *  without the federation-only fields (`auth_events`, `prev_events`, `hashes`, `signatures`,
 *  `depth`, `origin`, `prev_state`). */
export interface ClientEvent extends Event {
    event_id: string;
    room_id: string;
    origin_server_ts: number;
}

/** A PDU (federation format) as stored, with its `event_id` (and `room_id`, which a room
 *  version 12 create event does not carry). */
export interface Pdu extends Event {
    event_id: string;
    room_id: string;
    origin_server_ts: number;
    depth: number;
    /** Event ids; `[event_id, hashes]` pairs in room versions 1 and 2. */
    prev_events: (string | [string, Record<string, unknown>])[];
    /** Event ids; `[event_id, hashes]` pairs in room versions 1 and 2. */
    auth_events: (string | [string, Record<string, unknown>])[];
    hashes?: Record<string, string>;
    signatures?: Record<string, Record<string, string>>;
}

/** A `/sync` response (client-server API v3) as the homeserver sent it. Only what the event
 *  store reads is typed; every other field is accepted and ignored. */
export interface SyncResponse {
    next_batch: string;
    rooms?: SyncRooms;
    [key: string]: unknown;
}

// wasm-bindgen declares `[Symbol.dispose]()` on every class, which only type-checks with
// TypeScript's `esnext.disposable` lib; declaring the symbol here lets clients on an ES2022 lib
// (without skipLibCheck) use the package too, and merges with that lib where it is present.
declare global {
    interface SymbolConstructor {
        readonly dispose: unique symbol;
    }
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `Event[]` in TypeScript.
    #[wasm_bindgen(typescript_type = "Event[]")]
    pub type EventArray;

    /// `StrippedEvent[]` in TypeScript.
    #[wasm_bindgen(typescript_type = "StrippedEvent[]")]
    pub type StrippedEventArray;

    /// `RoomPreview[]` in TypeScript.
    #[wasm_bindgen(typescript_type = "RoomPreview[]")]
    pub type RoomPreviewArray;

    /// `SyncRooms` in TypeScript.
    #[wasm_bindgen(typescript_type = "SyncRooms")]
    pub type SyncRoomsValue;

    /// `SyncResponse` in TypeScript.
    #[cfg(feature = "store")]
    #[wasm_bindgen(typescript_type = "SyncResponse")]
    pub type SyncResponseValue;
}

/// The stripped state an invite or knock carries, computed from the room's current state exactly
/// as Synapse does: the configured types, the inviter's member event (invites), then the
/// invite or knock event itself.
///
/// @throws {PrejoinError} on malformed state, events, options or config.
#[wasm_bindgen(js_name = computeStrippedState)]
pub fn compute_stripped_state(
    state: EventArray,
    opts: Ts<StrippedStateOptions>,
) -> Result<StrippedEventArray, JsValue> {
    let state = json_from_js(&state)?;
    let request = options_from_js::<StrippedStateOptions>(&opts.js_value())?.into_request()?;
    let stripped = prejoin::compute_stripped_state(state, request).map_err(to_js_error)?;
    let events: Vec<serde_json::Value> = stripped.into_iter().map(|e| e.into_json()).collect();
    Ok(to_js(&events)?.unchecked_into())
}

/// The preview of a room (name, avatar, details, warnings) from its stripped or full state.
///
/// @throws {PrejoinError} when `stripped` is not an array or the options are malformed; anything
/// wrong inside the state becomes a warning instead.
#[wasm_bindgen(js_name = roomPreview)]
pub fn room_preview(
    stripped: StrippedEventArray,
    opts: Ts<RoomPreviewOptions>,
) -> Result<Ts<RoomPreview>, JsValue> {
    let state = json_text_from_js(&stripped)?;
    let request = options_from_js::<RoomPreviewOptions>(&opts.js_value())?.into_request();
    let preview = prejoin::compute_room_preview(&state, &request).map_err(to_js_error)?;
    Ok(Ts::new_unchecked(to_js(&preview)?))
}

/// The preview of every invited, knocked and joined room of a `/sync` response's `rooms`: the
/// invites, then the knocks, then the joined rooms, each in the order of its keys. Each is what
/// `roomPreview` gives for the room's state with the section's `kind` (a joined room's state is
/// its `state` events, each timeline state event replacing the last earlier one of its key);
/// a room of the wrong shape previews what could be read, with a `MALFORMED_ROOM` warning.
///
/// @throws {PrejoinError} `INVALID_SYNC` when `rooms` or one of those sections is not an object
/// (or `rooms` is the whole response), `INVALID_OPTIONS`, `INVALID_JSON`.
#[wasm_bindgen(js_name = previewSyncRooms)]
pub fn preview_sync_rooms(
    rooms: SyncRoomsValue,
    opts: Ts<PreviewSyncRoomsOptions>,
) -> Result<RoomPreviewArray, JsValue> {
    let rooms = json_text_from_js(&rooms)?;
    let opts = options_from_js::<PreviewSyncRoomsOptions>(&opts.js_value())?;
    // Each preview is written out as soon as it is computed (`preview_rows`). The sections come
    // in the text's order, each into its own chunks.
    let mut sections: [PreviewChunks; 3] = Default::default();
    prejoin::preview::preview_sync_rooms_each(&rooms, &opts.own_user_id, &mut |kind, preview| {
        if let Some(chunks) = sections.get_mut(kind as usize) {
            chunks.push(&preview);
        }
    })
    .map_err(to_js_error)?;
    Ok(PreviewChunks::previews(sections)?.unchecked_into())
}
