//! IndexedDB failures, typed by the `DOMException` name the browser gave them.
//!
//! The name is kept as its own variant (never folded into a catch-all string), and each variant
//! maps onto the backend-independent [`StoreError`]: `QuotaExceededError` becomes
//! [`StoreError::QuotaExceeded`], a row that cannot be read back becomes [`StoreError::Corrupt`],
//! a database of a newer schema [`StoreError::SchemaTooNew`], a connection closed for another
//! tab's upgrade [`StoreError::Closed`], everything else [`StoreError::Write`] with the
//! exception's name first in the message.

use indexed_db_futures::error::{DomException, Error as IdbLibError, OpenDbError};
use thiserror::Error;
use wasm_bindgen::JsValue;

use crate::storage::StoreError;

/// Why an IndexedDB operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdbError {
    /// `QuotaExceededError`: the origin's storage quota is exhausted.
    #[error("QuotaExceededError: {0}")]
    QuotaExceeded(String),
    /// `ConstraintError`: a key already stored was added again, or a unique index was violated.
    #[error("ConstraintError: {0}")]
    Constraint(String),
    /// `AbortError`: the transaction was aborted (by an earlier failed request or explicitly).
    #[error("AbortError: {0}")]
    Abort(String),
    /// `VersionError`: the database is newer than this code.
    #[error("VersionError: {0}")]
    Version(String),
    /// `DataError`: a key or key range that is not a valid IndexedDB key.
    #[error("DataError: {0}")]
    Data(String),
    /// `TransactionInactiveError`: a request was placed on a transaction that already finished.
    #[error("TransactionInactiveError: {0}")]
    TransactionInactive(String),
    /// `InvalidStateError`: the connection or object store is closed or being deleted.
    #[error("InvalidStateError: {0}")]
    InvalidState(String),
    /// `NotFoundError`: an object store or index the schema should have is missing.
    #[error("NotFoundError: {0}")]
    NotFound(String),
    /// Another `DOMException`, with its name.
    #[error("{name}: {message}")]
    OtherDom {
        /// The exception's `name`.
        name: String,
        /// The exception's `message`.
        message: String,
    },
    /// `RoomConflictError` (from `writeChunk`, not a `DOMException`): another connection wrote a
    /// chunk of the room, whose id is the message, after this one was planned.
    #[error("RoomConflictError: {0}")]
    RoomConflict(String),
    /// A row that does not deserialise as the row type of its object store.
    #[error("unreadable row: {0}")]
    Unreadable(String),
    /// IndexedDB is missing in this environment, or another non-DOM failure.
    #[error("{0}")]
    Unavailable(String),
    /// The database's `meta` row asks for newer code than this (its `compat_version` is above
    /// [`Version::CURRENT`](super::schema::Version::CURRENT)).
    #[error(
        "the database has schema version {version} and needs code of schema version \
         {compat_version} or newer"
    )]
    SchemaTooNew {
        /// The database's schema version.
        version: u32,
        /// The oldest schema version of code that may use it.
        compat_version: u32,
    },
    /// The connection was closed on a `versionchange` event (another connection upgrades or
    /// deletes the database).
    #[error("the connection was closed for another connection's upgrade or deletion")]
    Closed,
}

impl IdbError {
    /// The error for a `DOMException` of this name.
    pub fn from_dom(name: &str, message: String) -> Self {
        match name {
            "QuotaExceededError" => Self::QuotaExceeded(message),
            "ConstraintError" => Self::Constraint(message),
            "AbortError" => Self::Abort(message),
            "VersionError" => Self::Version(message),
            "DataError" => Self::Data(message),
            "TransactionInactiveError" => Self::TransactionInactive(message),
            "InvalidStateError" => Self::InvalidState(message),
            "NotFoundError" => Self::NotFound(message),
            "RoomConflictError" => Self::RoomConflict(message),
            _ => Self::OtherDom { name: name.to_owned(), message },
        }
    }

    /// The `DOMException` name of this error, if it is one.
    pub fn dom_name(&self) -> Option<&str> {
        Some(match self {
            Self::QuotaExceeded(_) => "QuotaExceededError",
            Self::Constraint(_) => "ConstraintError",
            Self::Abort(_) => "AbortError",
            Self::Version(_) => "VersionError",
            Self::Data(_) => "DataError",
            Self::TransactionInactive(_) => "TransactionInactiveError",
            Self::InvalidState(_) => "InvalidStateError",
            Self::NotFound(_) => "NotFoundError",
            Self::OtherDom { name, .. } => name,
            Self::RoomConflict(_)
            | Self::Unreadable(_)
            | Self::Unavailable(_)
            | Self::SchemaTooNew { .. }
            | Self::Closed => return None,
        })
    }
}

fn js_text(value: &JsValue, field: &str) -> String {
    js_sys::Reflect::get(value, &JsValue::from_str(field))
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_default()
}

impl From<DomException> for IdbError {
    fn from(exception: DomException) -> Self {
        let js = JsValue::from(exception);
        Self::from_dom(&js_text(&js, "name"), js_text(&js, "message"))
    }
}

impl From<IdbLibError> for IdbError {
    fn from(error: IdbLibError) -> Self {
        match error {
            IdbLibError::DomException(exception) => exception.into(),
            IdbLibError::Serialisation(error) => Self::Unreadable(error.to_string()),
            IdbLibError::MissingData(error) => Self::Unavailable(error.to_string()),
            IdbLibError::Unknown(error) => Self::Unavailable(error.to_string()),
        }
    }
}

impl From<OpenDbError> for IdbError {
    fn from(error: OpenDbError) -> Self {
        match error {
            OpenDbError::Base(error) => error.into(),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<serde_wasm_bindgen::Error> for IdbError {
    fn from(error: serde_wasm_bindgen::Error) -> Self {
        Self::Unreadable(error.to_string())
    }
}

impl From<IdbError> for StoreError {
    fn from(error: IdbError) -> Self {
        match error {
            IdbError::QuotaExceeded(_) => StoreError::QuotaExceeded,
            IdbError::Unreadable(message) => StoreError::Corrupt(message),
            IdbError::SchemaTooNew { version, compat_version } => StoreError::SchemaTooNew {
                version,
                compat_version,
                supported: super::schema::Version::CURRENT.number(),
            },
            IdbError::Closed => StoreError::Closed,
            IdbError::RoomConflict(room_id) => StoreError::Conflict(room_id),
            other => StoreError::Write(other.to_string()),
        }
    }
}
