//! A position in the events stream, as Synapse writes a live `RoomStreamToken`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// A position in the multi-writer events stream: a minimum, and the writers ahead of it.
///
/// As Synapse's multi-writer tokens: every event up to [`stream`](Self::stream) is included, and
/// for each writer listed, its events up to its own position too. Each listed position is above
/// the minimum (a writer at or below it is simply not listed), so a position has one value and
/// one string.
///
/// The string form is Synapse's live `RoomStreamToken`: `s{min}` when no writer is ahead, else
/// `m{min}~{writer}.{pos}~{writer}.{pos}…`. Synapse writes a writer as a number from its
/// `instance_map` table; tabs share no such table, so a writer is written as its name with every
/// byte of its UTF-8 outside `A–Z a–z 0–9 - _` escaped as `%XX` (upper-case hex). `.`, `~` and
/// `%` are therefore always escaped, every name round-trips, and a name has one spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamToken {
    /// The minimum: every writer is at least here.
    stream: i64,
    /// The writers ahead of the minimum, each above it.
    instances: BTreeMap<String, i64>,
}

/// Why a string is not a [`StreamToken`]. Tokens come from outside (JS callers, other tabs), so
/// every malformed one is one of these, never a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StreamTokenError {
    /// The string is empty.
    #[error("stream token is empty")]
    Empty,
    /// It starts with neither `s` (a position) nor `m` (a position with writers ahead).
    #[error("stream token must start with `s` or `m`")]
    UnknownKind,
    /// A position is not a non-negative decimal integer without leading zeros that fits an i64.
    #[error("stream token position is not a canonical non-negative integer")]
    InvalidPosition,
    /// An `m` token names no writer (its string is `s{min}`).
    #[error("multi-writer stream token names no writer")]
    MissingWriters,
    /// A writer entry is not `{writer}.{pos}`.
    #[error("stream token writer entry is not `writer.position`")]
    MalformedEntry,
    /// A writer name has a byte that must be escaped, a bad or needless `%XX` escape, or is not
    /// UTF-8 once unescaped.
    #[error("stream token writer name is badly escaped")]
    InvalidWriterName,
    /// The same writer is listed twice.
    #[error("stream token lists a writer twice")]
    DuplicateWriter,
    /// A writer is listed at or below the minimum.
    #[error("stream token lists a writer at or below its minimum")]
    WriterNotAhead,
}

impl StreamTokenError {
    /// The stable code JS callers see (every malformed token has the same one).
    pub fn code(&self) -> &'static str {
        "INVALID_STREAM_TOKEN"
    }
}

impl StreamToken {
    /// The token at `stream` with the `instances` given; writers at or below `stream` are left
    /// out (they are at the minimum).
    pub fn new(stream: i64, mut instances: BTreeMap<String, i64>) -> Self {
        instances.retain(|_, position| *position > stream);
        Self { stream, instances }
    }

    /// The token at `stream` with no writer ahead of it.
    pub fn live(stream: i64) -> Self {
        Self { stream, instances: BTreeMap::new() }
    }

    /// The minimum: every writer's events up to here are included.
    pub fn stream(&self) -> i64 {
        self.stream
    }

    /// The writers ahead of the minimum, with their positions.
    pub fn instances(&self) -> &BTreeMap<String, i64> {
        &self.instances
    }

    /// Where `writer` stands in this token: its own position, or the minimum when not listed.
    pub fn position(&self, writer: &str) -> i64 {
        self.instances.get(writer).copied().unwrap_or(self.stream)
    }

    /// The highest position the token names (the minimum when no writer is ahead).
    pub fn max_stream_pos(&self) -> i64 {
        self.instances.values().copied().max().unwrap_or(self.stream)
    }

    /// Whether every writer is at or before its position in `other` (`self <= other` as vector
    /// clocks). Two tokens can be each not before the other.
    pub fn is_before_or_eq(&self, other: &StreamToken) -> bool {
        self.stream <= other.stream
            && self.instances.iter().all(|(writer, &position)| position <= other.position(writer))
    }

    /// The least token at or after both: each writer at the later of its two positions.
    pub fn copy_and_advance(&self, other: &StreamToken) -> StreamToken {
        let stream = self.stream.max(other.stream);
        let writers = self.instances.keys().chain(other.instances.keys());
        let instances = writers
            .map(|writer| (writer.clone(), self.position(writer).max(other.position(writer))))
            .collect();
        StreamToken::new(stream, instances)
    }
}

impl fmt::Display for StreamToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.instances.is_empty() {
            return write!(f, "s{}", self.stream);
        }
        write!(f, "m{}", self.stream)?;
        for (writer, position) in &self.instances {
            f.write_str("~")?;
            write_writer(f, writer)?;
            write!(f, ".{position}")?;
        }
        Ok(())
    }
}

impl FromStr for StreamToken {
    type Err = StreamTokenError;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        if let Some(stream) = token.strip_prefix('s') {
            return parse_position(stream).map(Self::live);
        }
        if let Some(multi) = token.strip_prefix('m') {
            return parse_multi_writer(multi);
        }
        Err(if token.is_empty() { StreamTokenError::Empty } else { StreamTokenError::UnknownKind })
    }
}

impl Serialize for StreamToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StreamToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let token = String::deserialize(deserializer)?;
        token.parse().map_err(serde::de::Error::custom)
    }
}

/// The part of an `m` token after the `m`: `{min}~{writer}.{pos}…`.
fn parse_multi_writer(multi: &str) -> Result<StreamToken, StreamTokenError> {
    let mut parts = multi.split('~');
    let stream = parse_position(parts.next().unwrap_or_default())?;
    let mut instances = BTreeMap::new();
    for entry in parts {
        let (writer, position) = parse_entry(entry)?;
        if position <= stream {
            return Err(StreamTokenError::WriterNotAhead);
        }
        if instances.insert(writer, position).is_some() {
            return Err(StreamTokenError::DuplicateWriter);
        }
    }
    if instances.is_empty() {
        return Err(StreamTokenError::MissingWriters);
    }
    Ok(StreamToken { stream, instances })
}

/// One `{writer}.{pos}` entry. A name never holds a raw `.`, so the first one splits.
fn parse_entry(entry: &str) -> Result<(String, i64), StreamTokenError> {
    let (writer, position) = entry.split_once('.').ok_or(StreamTokenError::MalformedEntry)?;
    Ok((unescape_writer(writer)?, parse_position(position)?))
}

/// A position: ASCII digits, no sign, no leading zero (but `0` itself), within i64.
fn parse_position(digits: &str) -> Result<i64, StreamTokenError> {
    let canonical = !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !canonical {
        return Err(StreamTokenError::InvalidPosition);
    }
    digits.parse().map_err(|_| StreamTokenError::InvalidPosition)
}

/// Bytes a writer name keeps as they are in a token; every other byte is `%XX`.
fn is_unescaped(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// Writes `writer` escaped (see [`StreamToken`]).
fn write_writer(f: &mut fmt::Formatter<'_>, writer: &str) -> fmt::Result {
    for byte in writer.bytes() {
        if is_unescaped(byte) {
            write!(f, "{}", char::from(byte))?;
        } else {
            write!(f, "%{byte:02X}")?;
        }
    }
    Ok(())
}

/// Reads an escaped writer name back: only unescaped bytes and `%XX` of bytes that need it.
fn unescape_writer(escaped: &str) -> Result<String, StreamTokenError> {
    let mut bytes = Vec::with_capacity(escaped.len());
    let mut rest = escaped.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        rest = after;
        if is_unescaped(byte) {
            bytes.push(byte);
            continue;
        }
        let (escape, after) =
            rest.split_at_checked(2).ok_or(StreamTokenError::InvalidWriterName)?;
        match (byte, hex_byte(escape)) {
            (b'%', Some(decoded)) if !is_unescaped(decoded) => bytes.push(decoded),
            _ => return Err(StreamTokenError::InvalidWriterName),
        }
        rest = after;
    }
    String::from_utf8(bytes).map_err(|_| StreamTokenError::InvalidWriterName)
}

/// Two upper-case hex digits as a byte.
fn hex_byte(digits: &[u8]) -> Option<u8> {
    let [high, low] = digits else { return None };
    Some((hex_digit(*high)? << 4) | hex_digit(*low)?)
}

/// One upper-case hex digit's value.
fn hex_digit(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}
