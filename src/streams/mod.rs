//! The events stream across tabs: how far a tab may hand events to its subscribers (its current
//! token), where each writer stands (`stream_positions`), and the token that names a position.
//!
//! This plays the part of Synapse's `MultiWriterIdGenerator`, and is simpler for one reason:
//! every write transaction takes its ids from the shared `sequences` row, and IndexedDB runs those
//! transactions one at a time. So ids are dense (an aborted transaction takes none) and committed
//! in increasing order: no id is ever taken and left unfinished, and no writer, idle or dead, can
//! hold the stream back. Only what a tab has not heard of yet can (a late or lost announcement),
//! so the current token is the contiguous prefix of the ids the tab knows, and the writers'
//! positions are bookkeeping (for `stream_positions` and the multi-writer token), never an input
//! to it. Pure: no I/O, no clock; the caller brings what it read or received.

mod known;
mod token;
mod tracker;

pub use token::{StreamToken, StreamTokenError};
pub use tracker::MultiWriterIdTracker;
