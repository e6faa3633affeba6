//! Errors of a store, with the stable codes JS sees.

use thiserror::Error;

use crate::model::InputError;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The input was refused before anything was written.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Planning a room chunk failed (state resolution, state groups): nothing of it was written.
    #[error("planning failed: {0}")]
    Plan(String),
    /// The backend refused or lost a write; nothing of that room chunk was written.
    #[error("write failed: {0}")]
    Write(String),
    /// Another writer (another tab) wrote a chunk of the room after this one was planned, so
    /// the plan no longer fits the room: nothing of it was written. The event store plans it
    /// again on what is stored; this reaches the caller only when the room kept moving.
    #[error("another writer wrote to {0} meanwhile")]
    Conflict(String),
    /// The storage quota is exhausted; nothing of that room chunk was written.
    #[error("storage quota exceeded")]
    QuotaExceeded,
    /// Stored data that cannot be read back as written.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The database was written by newer code that older code may not use (Synapse's
    /// `schema_compat_version`): nothing was read or written.
    #[error(
        "the database has schema version {version} and needs code of schema version \
         {compat_version} or newer; this code has schema version {supported}"
    )]
    SchemaTooNew {
        /// The database's schema version.
        version: u32,
        /// The oldest schema version of code that may use it.
        compat_version: u32,
        /// The schema version of this code.
        supported: u32,
    },
    /// The storage a backend needs is missing here (no `indexedDB` in Node.js, or in a browser
    /// that disabled it).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The store was closed, by `close()` or so that another connection (another tab) could
    /// upgrade or delete the database; open it again to use it.
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// The stable code of this error, as JS sees it in `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Input(error) => error.code(),
            Self::Plan(_) => "PLAN_FAILED",
            Self::Write(_) => "WRITE_FAILED",
            Self::Conflict(_) => "WRITE_CONFLICT",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::Corrupt(_) => "CORRUPT_STORE",
            Self::SchemaTooNew { .. } => "SCHEMA_TOO_NEW",
            Self::Unavailable(_) => "INDEXEDDB_UNAVAILABLE",
            Self::Closed => "STORE_CLOSED",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StoreError;
    use crate::model::InputError;

    #[test]
    fn every_variant_has_its_code() {
        let table = [
            (StoreError::Input(InputError::UnknownRoom("!r".into())), "UNKNOWN_ROOM"),
            (StoreError::Plan("x".into()), "PLAN_FAILED"),
            (StoreError::Write("x".into()), "WRITE_FAILED"),
            (StoreError::Conflict("!r".into()), "WRITE_CONFLICT"),
            (StoreError::QuotaExceeded, "QUOTA_EXCEEDED"),
            (StoreError::Corrupt("x".into()), "CORRUPT_STORE"),
            (
                StoreError::SchemaTooNew { version: 3, compat_version: 2, supported: 1 },
                "SCHEMA_TOO_NEW",
            ),
            (StoreError::Unavailable("x".into()), "INDEXEDDB_UNAVAILABLE"),
            (StoreError::Closed, "STORE_CLOSED"),
        ];
        for (error, code) in table {
            assert_eq!(error.code(), code, "{error:?}");
        }
    }

    #[test]
    fn schema_too_new_names_every_version() {
        let error = StoreError::SchemaTooNew { version: 3, compat_version: 2, supported: 1 };
        assert_eq!(
            error.to_string(),
            "the database has schema version 3 and needs code of schema version 2 or newer; \
             this code has schema version 1"
        );
    }

    /// Every code of either enum is in the README's tables and in TypeScript's
    /// `PrejoinErrorCode`: a code added without them fails here.
    #[test]
    fn every_code_is_documented_and_typed() {
        let readme = include_str!("../../README.md");
        let typescript = include_str!("../bindings/mod.rs");
        let mut codes = std::collections::BTreeSet::new();
        for source in [include_str!("../model/error.rs"), include_str!("error.rs")] {
            for line in source.lines() {
                let code = line.split_once("=> \"").and_then(|(_, rest)| rest.split_once('"'));
                codes.extend(code.map(|(code, _)| code));
            }
        }
        assert!(codes.len() >= 25, "the codes are read from the match arms: {codes:?}");
        for code in codes {
            assert!(readme.contains(&format!("| `{code}` |")), "{code} is not in the README");
            assert!(typescript.contains(&format!("\"{code}\"")), "{code} is not in TypeScript");
        }
    }
}
