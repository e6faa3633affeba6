//! One tab's view of the events stream: which ids it knows, the current token they give, and
//! where each writer stands.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use litemap::LiteMap;

use super::known::KnownRuns;
use super::token::StreamToken;
use crate::ordered::map_of;

/// A writer (a tab, by `instance_name`) of the events stream, as this tab knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Writer {
    /// The last id this tab knows the writer committed: its `stream_positions` row at open,
    /// then its chunks as they are learnt. Never moves back.
    position: i64,
    /// Its liveness lock was released: it commits nothing more.
    left: bool,
}

impl Writer {
    fn at(position: i64) -> Self {
        Self { position, left: false }
    }
}

/// This tab's view of the multi-writer events stream, as Synapse's `MultiWriterIdGenerator`
/// keeps a process's view (that one also hands out ids; here the shared `sequences` row does,
/// inside each write transaction).
///
/// **The current token** is the highest id `t` such that every id up to `t` is persisted *and
/// known to this tab*: the tab may hand its subscribers every row up to `t`, in order, and none
/// after. (Synapse's is "the maximum stream id such that all ids less than or equal to it have
/// been persisted"; a tab adds "and known", since it learns of other tabs' commits late, out of
/// order, or not at all.) Ids are dense and committed in increasing order, so an id below a
/// known one is always persisted already: only an id this tab has not heard of yet holds the
/// token back, never a writer. An idle, slow, closed or killed writer has no id taken and
/// unfinished, so nothing waits on it; a hole (an announcement late or lost) is reported by
/// [`gap`](Self::gap), and a catch-up from IndexedDB fills it.
///
/// **A writer's position** is the last id this tab knows it committed, seen no lower than the
/// current token (synapse#8499: an idle writer is at the head, not at its last write). A writer
/// first heard of now starts at the current token, the minimum, never at the highest id known
/// (synapse#16473): what a newcomer wrote above the minimum is unknown until its chunks arrive,
/// and starting it higher would claim them.
#[derive(Debug, Clone)]
pub struct MultiWriterIdTracker {
    /// This tab's `instance_name`.
    instance_name: String,
    /// The current token: every id up to it is persisted and known here.
    current: i64,
    /// Ids known above the current token (above a hole: none is `current + 1`).
    known: KnownRuns,
    /// Every writer this tab knows of, this tab included.
    writers: LiteMap<String, Writer>,
}

impl MultiWriterIdTracker {
    /// This tab's view at open, from what is stored about the stream and never from its events:
    /// the sequence's last value (the highest id taken; 0 for an empty store) and the
    /// `stream_positions` rows (writer → the last id it committed).
    ///
    /// Every id up to the sequence's value is persisted and readable from the store, so the
    /// current token starts there; a row above the sequence (which only a damaged store has)
    /// counts as taken, as Synapse trusts its table over a sequence behind it. This tab's own
    /// position starts there too: it has nothing in flight, so it is at the end of the stream
    /// (Synapse does the same for a writer since synapse#17309).
    pub fn new<W: Into<String>>(
        instance_name: impl Into<String>,
        last_stream_id: i64,
        stream_positions: impl IntoIterator<Item = (W, i64)>,
    ) -> Self {
        let mut tracker = Self {
            instance_name: instance_name.into(),
            current: 0,
            known: KnownRuns::default(),
            writers: LiteMap::new(),
        };
        for (writer, position) in stream_positions {
            let entry = tracker.writer(&writer.into(), position);
            entry.position = entry.position.max(position);
        }
        let highest_row = tracker.writers.values().map(|writer| writer.position).max();
        let current = last_stream_id.max(highest_row.unwrap_or(0)).max(0);
        tracker.current = current;
        let own = tracker.instance_name.clone();
        tracker.note(&own, current, current);
        tracker
    }

    /// This tab's `instance_name`.
    pub fn instance_name(&self) -> &str {
        &self.instance_name
    }

    /// This tab committed the chunk `ids` (the range its transaction took from the sequence).
    ///
    /// Ids below the chunk that this tab has not heard of become a gap: other tabs took them
    /// first, and their announcements are still on their way.
    pub fn committed(&mut self, ids: RangeInclusive<i64>) {
        let own = self.instance_name.clone();
        self.announced(&own, ids);
    }

    /// Another writer announced a committed chunk `ids`. Announcements may come in any order,
    /// twice, or after a catch-up covered them: ids already known count once, and the token
    /// moves only over ids that join the contiguous prefix. An empty range is ignored.
    pub fn announced(&mut self, writer: &str, ids: RangeInclusive<i64>) {
        let (first, last) = ids.into_inner();
        self.note(writer, first, last);
        self.settle();
    }

    /// A catch-up read the sequence's value `last_stream_id` and the rows with ids above the
    /// current token (`found`: writer and id of each, as the `events` rows have them), in one
    /// transaction: afterwards every id up to `last_stream_id` is known. A catch-up older than
    /// what is known already moves nothing back.
    pub fn caught_up<W: AsRef<str>>(
        &mut self,
        last_stream_id: i64,
        found: impl IntoIterator<Item = (W, i64)>,
    ) {
        for (writer, id) in found {
            self.note(writer.as_ref(), id, id);
        }
        self.known.insert(self.current.saturating_add(1), last_stream_id);
        self.settle();
    }

    /// A writer announced itself (its tab opened, or it is live and may commit). It starts at
    /// the current token, the minimum (synapse#16473), or stays where it is when known already;
    /// a writer that had left under this name is live again.
    pub fn writer_joined(&mut self, writer: &str) {
        let current = self.current;
        self.writer(writer, current).left = false;
    }

    /// A writer left: its liveness lock was released (closed or crashed). It commits nothing
    /// more, so it holds nothing back; it is dropped from [`positions`](Self::positions) once
    /// the current token reaches its last chunk. This tab itself never leaves while it runs.
    ///
    /// Returns the gap to catch up *now*, if any: a hole may be the chunk it committed and never
    /// announced, which no waiting will bring.
    pub fn writer_left(&mut self, writer: &str) -> Option<RangeInclusive<i64>> {
        if writer != self.instance_name {
            if let Some(left) = self.writers.get_mut(writer) {
                left.left = true;
            }
            self.settle();
        }
        self.gap()
    }

    /// The first run of ids that are persisted (a higher id is known) but unknown to this tab,
    /// or `None` when every known id is within the current token. The caller waits a bounded
    /// time for the late announcements, then catches up (reading the rows after the current
    /// token).
    pub fn gap(&self) -> Option<RangeInclusive<i64>> {
        let next_known = self.known.first()?;
        // `known` holds no run starting at or below `current + 1`, so the range is not empty.
        Some(self.current.saturating_add(1)..=next_known.saturating_sub(1))
    }

    /// The current token: every id up to it is persisted and known to this tab.
    pub fn current_token(&self) -> i64 {
        self.current
    }

    /// Where `writer` stands: the last id this tab knows it committed, or the current token when
    /// that is higher; a writer never heard of is at the current token (the minimum).
    pub fn position(&self, writer: &str) -> i64 {
        self.writers.get(writer).map_or(self.current, |known| known.position.max(self.current))
    }

    /// Every writer's position (see [`position`](Self::position)), this tab's included.
    pub fn positions(&self) -> BTreeMap<String, i64> {
        let current = self.current;
        map_of(
            self.writers.iter().map(|(name, writer)| (name.clone(), writer.position.max(current))),
        )
    }

    /// The current token in the multi-writer form, as Synapse builds one from its generator: the
    /// current token as the minimum, and every writer whose last known chunk is above it.
    ///
    /// An entry `w.p` says this tab holds `w`'s chunk ending at `p` (held back from subscribers
    /// until the hole below it fills). It stands for all of `w`'s ids up to `p` only if `w`'s
    /// announcements arrive in its commit order (BroadcastChannel keeps one sender's messages in
    /// order): a hole below `p` is nobody's until caught up. Resume reading from the minimum.
    pub fn stream_token(&self) -> StreamToken {
        StreamToken::new(self.current, self.positions())
    }

    /// Records that `writer` committed `first..=last`, without moving the token. A writer first
    /// heard of starts at the current token.
    fn note(&mut self, writer: &str, first: i64, last: i64) {
        if first > last {
            return;
        }
        let current = self.current;
        let entry = self.writer(writer, current);
        entry.position = entry.position.max(last);
        self.known.insert(first.max(current.saturating_add(1)), last);
    }

    /// The writer named `name`, added at `position` when never heard of.
    fn writer(&mut self, name: &str, position: i64) -> &mut Writer {
        if !self.writers.contains_key(name) {
            self.writers.insert(name.to_owned(), Writer::at(position));
        }
        // Inserted just above when missing.
        self.writers.get_mut(name).expect("the writer was inserted")
    }

    /// Moves the token over the known ids that joined the prefix, and forgets the writers that
    /// left and that it has passed.
    fn settle(&mut self) {
        let current = self.known.extend(self.current);
        self.current = current;
        self.writers.retain(|_, writer| !writer.left || writer.position > current);
    }
}
