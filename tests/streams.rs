//! The multi-writer events stream (`prejoin::streams`): the scenarios of Synapse's
//! `tests/storage/test_id_generators.py`, translated to tabs that take dense ids one transaction
//! at a time and learn of each other's commits late, out of order or not at all; the stream
//! token's string form; and random interleavings of several writers' chunks.
#![cfg(all(not(target_arch = "wasm32"), feature = "store"))]

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use prejoin::streams::{MultiWriterIdTracker, StreamToken, StreamTokenError};

/// `(writer, position)` pairs as a map.
fn map(entries: &[(&str, i64)]) -> BTreeMap<String, i64> {
    entries.iter().map(|&(writer, position)| (writer.to_owned(), position)).collect()
}

/// A tab opened on a store whose sequence is at `last` with these `stream_positions` rows.
fn open(own: &str, last: i64, rows: &[(&str, i64)]) -> MultiWriterIdTracker {
    MultiWriterIdTracker::new(own, last, rows.iter().copied())
}

fn token(text: &str) -> StreamToken {
    text.parse().unwrap_or_else(|error| panic!("{text:?} should parse: {error}"))
}

// ---------------------------------------------------------------------------------------------
// The tracker: Synapse's scenarios in this model.
// ---------------------------------------------------------------------------------------------

/// test_empty: an empty store starts at 0 (ids are 1, 2, 3, …; Synapse's start at 2), and the
/// tab itself is its only writer.
#[test]
fn empty_store_starts_at_zero() {
    let tracker = open("tab", 0, &[]);
    assert_eq!(tracker.current_token(), 0);
    assert_eq!(tracker.positions(), map(&[("tab", 0)]));
    assert_eq!(tracker.gap(), None);
    assert_eq!(tracker.stream_token().to_string(), "s0");
}

/// test_single_instance: a tab's own commits move the token and its position, chunk by chunk.
#[test]
fn own_commits_advance_the_token() {
    let mut tracker = open("master", 7, &[("master", 7)]);
    assert_eq!((tracker.current_token(), tracker.position("master")), (7, 7));

    tracker.committed(8..=8);
    assert_eq!(tracker.current_token(), 8);
    assert_eq!(tracker.positions(), map(&[("master", 8)]));

    tracker.committed(9..=12);
    assert_eq!(tracker.current_token(), 12);
    assert_eq!(tracker.positions(), map(&[("master", 12)]));
}

/// test_out_of_order_finish: Synapse finishes ids 8, 9, 10, 11 in the order 9, 8, 11, 10 and
/// its token goes 7, 9, 9, 11. Here commits are in order, but their announcements arrive in that
/// order: the token never passes a hole until it is filled.
#[test]
fn out_of_order_announcements_wait_for_the_hole() {
    let mut tracker = open("reader", 7, &[("a", 7)]);

    tracker.announced("b", 9..=9);
    assert_eq!(tracker.current_token(), 7);
    assert_eq!(tracker.gap(), Some(8..=8));
    assert_eq!(tracker.stream_token().to_string(), "m7~b.9");

    tracker.announced("a", 8..=8);
    assert_eq!(tracker.current_token(), 9);
    assert_eq!(tracker.gap(), None);

    tracker.announced("b", 11..=11);
    assert_eq!(tracker.current_token(), 9);
    assert_eq!(tracker.gap(), Some(10..=10));

    tracker.announced("a", 10..=10);
    assert_eq!(tracker.current_token(), 11);
    assert_eq!(tracker.positions(), map(&[("a", 11), ("b", 11), ("reader", 11)]));
    assert_eq!(tracker.stream_token().to_string(), "s11");
}

/// test_restart_during_out_of_order_persistence: a tab that still waits for the announcement of
/// 8 while another tab opens. The new one reads the sequence (9) and the rows, and is at 9 at
/// once (everything up to the sequence is persisted and readable); the old one gets there when
/// 8 arrives. Neither goes back.
#[test]
fn reopening_while_announcements_are_late() {
    let mut old = open("old", 7, &[("a", 5), ("old", 7)]);
    old.announced("b", 9..=9);
    assert_eq!(old.current_token(), 7);

    // The stored rows as the two commits left them (same transaction as the sequence).
    let reopened = open("new", 9, &[("a", 8), ("b", 9), ("old", 7)]);
    assert_eq!(reopened.current_token(), 9);
    assert_eq!(reopened.gap(), None);
    assert_eq!(reopened.positions(), map(&[("a", 9), ("b", 9), ("new", 9), ("old", 9)]));

    old.announced("a", 8..=8);
    assert_eq!(old.current_token(), 9);
    assert_eq!(old.positions(), map(&[("a", 9), ("b", 9), ("old", 9)]));
}

/// test_sequence_consistency: a `stream_positions` row above the sequence (a damaged store)
/// counts as taken; negative or zero values do not pull the token below 0.
#[test]
fn open_trusts_the_highest_of_sequence_and_rows() {
    let tracker = open("tab", 3, &[("a", 26), ("b", 2)]);
    assert_eq!(tracker.current_token(), 26);
    assert_eq!(tracker.positions(), map(&[("a", 26), ("b", 26), ("tab", 26)]));

    let negative = open("tab", -5, &[("a", -9)]);
    assert_eq!(negative.current_token(), 0);
    assert_eq!(negative.positions(), map(&[("a", 0), ("tab", 0)]));

    // The same writer twice keeps its higher row.
    let twice = MultiWriterIdTracker::new("tab", 4, [("a", 4), ("a", 2)]);
    assert_eq!(twice.position("a"), 4);
}

/// test_multi_instance: two tabs writing in turn, each learning of the other late. Unlike
/// Synapse, a tab also moves the other writer to its current token (nothing can be pending
/// below it), so `positions` never lag behind the token.
#[test]
fn several_writers_learn_of_each_other() {
    let rows = [("first", 3), ("second", 7)];
    let mut first = open("first", 7, &rows);
    let mut second = open("second", 7, &rows);
    assert_eq!(first.positions(), map(&[("first", 7), ("second", 7)]));
    assert_eq!(second.positions(), map(&[("first", 7), ("second", 7)]));

    first.committed(8..=8);
    assert_eq!(first.current_token(), 8);
    assert_eq!(first.positions(), map(&[("first", 8), ("second", 8)]));

    // The second tab commits 9 before hearing of 8: its own chunk waits above the hole.
    second.committed(9..=9);
    assert_eq!(second.current_token(), 7);
    assert_eq!(second.gap(), Some(8..=8));
    assert_eq!(second.positions(), map(&[("first", 7), ("second", 9)]));
    assert_eq!(second.stream_token().to_string(), "m7~second.9");

    second.announced("first", 8..=8);
    first.announced("second", 9..=9);
    for tab in [&first, &second] {
        assert_eq!(tab.current_token(), 9);
        assert_eq!(tab.positions(), map(&[("first", 9), ("second", 9)]));
    }
}

/// synapse#16473 (test_multi_instance_empty_row, test_writer_config_change): a writer first heard
/// of starts at the current token, the minimum, not at the highest id known: its own first chunk
/// may be the hole below, and starting higher would claim it.
#[test]
fn new_writer_starts_from_the_minimum() {
    let mut tracker = open("first", 7, &[("first", 3), ("second", 7)]);
    tracker.announced("second", 9..=10);
    assert_eq!(tracker.current_token(), 7);

    assert_eq!(tracker.position("third"), 7, "not 10, the highest id known");
    tracker.writer_joined("third");
    assert_eq!(tracker.positions(), map(&[("first", 7), ("second", 10), ("third", 7)]));
    assert_eq!(tracker.stream_token().to_string(), "m7~second.10");

    // The hole was the newcomer's first chunk.
    tracker.announced("third", 8..=8);
    assert_eq!(tracker.current_token(), 10);
    assert_eq!(tracker.positions(), map(&[("first", 10), ("second", 10), ("third", 10)]));
    assert_eq!(tracker.stream_token(), StreamToken::live(10));

    // Joining again keeps a known writer where it is.
    tracker.writer_joined("second");
    assert_eq!(tracker.position("second"), 10);
}

/// A writer whose lock was released holds nothing back, is dropped from the positions once
/// passed, and a hole it may have left is to be caught up at once.
#[test]
fn writer_that_left_holds_nothing_back() {
    let mut tracker = open("tab", 5, &[("gone", 2), ("a", 5)]);
    assert_eq!(tracker.writer_left("gone"), None);
    assert_eq!(tracker.positions(), map(&[("a", 5), ("tab", 5)]));
    tracker.announced("a", 6..=6);
    assert_eq!(tracker.current_token(), 6);

    // It announced 8, and 7 is missing: maybe its last chunk, never to be announced.
    tracker.writer_joined("gone");
    tracker.announced("gone", 8..=8);
    assert_eq!(tracker.writer_left("gone"), Some(7..=7));
    assert_eq!(tracker.positions(), map(&[("a", 6), ("gone", 8), ("tab", 6)]));
    assert_eq!(tracker.stream_token().to_string(), "m6~gone.8");

    tracker.caught_up(8, [("gone", 7), ("gone", 8)]);
    assert_eq!(tracker.current_token(), 8);
    assert_eq!(tracker.positions(), map(&[("a", 8), ("tab", 8)]));

    // This tab never leaves; an unknown writer leaving changes nothing.
    assert_eq!(tracker.writer_left("tab"), None);
    assert_eq!(tracker.writer_left("nobody"), None);
    assert_eq!(tracker.positions(), map(&[("a", 8), ("tab", 8)]));
}

/// test_current_token_gap, synapse#8499: an idle writer, whose last write is far behind, is
/// seen at the head and never holds the token (nor the token's minimum) back.
#[test]
fn idle_writer_never_holds_the_token_back() {
    let mut tracker = open("tab", 5, &[("idle", 1), ("busy", 5)]);
    for first in (6..=20).step_by(3) {
        tracker.announced("busy", first..=first + 2);
    }
    assert_eq!(tracker.current_token(), 20);
    assert_eq!(tracker.position("idle"), 20);
    assert_eq!(tracker.positions(), map(&[("busy", 20), ("idle", 20), ("tab", 20)]));
    assert_eq!(tracker.stream_token().to_string(), "s20");
}

/// A gap is reported while known ids sit above a hole; a catch-up fills every id up to the
/// sequence it read, records the writers of the rows it found, and a stale one moves nothing.
#[test]
fn gap_detection_then_catch_up() {
    let mut tracker = open("tab", 10, &[]);
    tracker.announced("a", 12..=13);
    assert_eq!(tracker.gap(), Some(11..=11));
    tracker.announced("b", 15..=15);
    assert_eq!(tracker.gap(), Some(11..=11), "the first hole");
    assert_eq!(tracker.current_token(), 10);

    let found = [("c", 11), ("a", 12), ("a", 13), ("d", 14), ("b", 15), ("c", 16)];
    tracker.caught_up(16, found);
    assert_eq!(tracker.current_token(), 16);
    assert_eq!(tracker.gap(), None);
    assert_eq!(
        tracker.positions(),
        map(&[("a", 16), ("b", 16), ("c", 16), ("d", 16), ("tab", 16)])
    );

    // A catch-up that read an older sequence.
    tracker.caught_up(12, [("a", 12)]);
    assert_eq!(tracker.current_token(), 16);

    // A catch-up covers every id up to the sequence it read, rows found or not; what was
    // committed after it read is a gap again until announced.
    tracker.announced("a", 20..=20);
    tracker.announced("b", 24..=25);
    assert_eq!(tracker.gap(), Some(17..=19));
    tracker.caught_up(22, Vec::<(String, i64)>::new());
    assert_eq!(tracker.current_token(), 22);
    assert_eq!(tracker.gap(), Some(23..=23));
    tracker.announced("c", 23..=23);
    assert_eq!((tracker.current_token(), tracker.gap()), (25, None));
}

/// The same chunk announced twice, overlapping chunks, and a chunk announced after a catch-up
/// covered it: every id counts once, and nothing moves back.
#[test]
fn duplicates_count_once() {
    let mut tracker = open("tab", 7, &[("a", 7)]);
    tracker.announced("a", 9..=10);
    tracker.announced("a", 9..=10);
    assert_eq!((tracker.current_token(), tracker.gap()), (7, Some(8..=8)));

    tracker.announced("b", 8..=9);
    assert_eq!(tracker.current_token(), 10);
    tracker.announced("b", 8..=12);
    assert_eq!(tracker.current_token(), 12);

    tracker.caught_up(15, [("a", 13), ("b", 14), ("a", 15)]);
    tracker.announced("b", 14..=14);
    tracker.announced("a", 13..=15);
    tracker.announced("a", 3..=3);
    assert_eq!(tracker.current_token(), 15);
    assert_eq!(tracker.gap(), None);
    assert_eq!(tracker.positions(), map(&[("a", 15), ("b", 15), ("tab", 15)]));
}

/// Ranges no honest tab sends: empty, at or below 0, at the end of i64. Nothing panics, an empty
/// one names no writer, and the rest count as what they say.
#[test]
fn odd_ranges_are_ignored_or_clipped() {
    let mut tracker = open("tab", 0, &[]);
    #[allow(clippy::reversed_empty_ranges)]
    let empty: RangeInclusive<i64> = 9..=8;
    tracker.announced("ghost", empty);
    assert_eq!(tracker.positions(), map(&[("tab", 0)]));

    tracker.announced("a", -5..=3);
    assert_eq!(tracker.current_token(), 3);

    tracker.announced("a", i64::MAX..=i64::MAX);
    assert_eq!(tracker.gap(), Some(4..=i64::MAX - 1));
    tracker.announced("b", 4..=i64::MAX - 1);
    assert_eq!(tracker.current_token(), i64::MAX);
    assert_eq!(tracker.gap(), None);
    tracker.committed(i64::MAX..=i64::MAX);
    tracker.caught_up(i64::MAX, [("c", i64::MAX)]);
    assert_eq!(tracker.current_token(), i64::MAX);
    assert_eq!(tracker.stream_token().to_string(), format!("s{}", i64::MAX));
}

// ---------------------------------------------------------------------------------------------
// Random interleavings.
// ---------------------------------------------------------------------------------------------

/// A tiny deterministic generator (Knuth's MMIX LCG), enough to shuffle deliveries.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// A number in `0..bound` (`bound > 0`).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// What a tab was told, independently of the tracker: the ids it knows.
struct Model {
    known: BTreeSet<i64>,
    last_chunk: BTreeMap<String, i64>,
}

impl Model {
    fn learn(&mut self, writer: &str, ids: RangeInclusive<i64>) {
        let last = *ids.end();
        self.known.extend(ids);
        let entry = self.last_chunk.entry(writer.to_owned()).or_insert(last);
        *entry = (*entry).max(last);
    }

    fn contiguous(&self) -> i64 {
        (1..).take_while(|id| self.known.contains(id)).last().unwrap_or(0)
    }
}

/// One run: writers commit chunks in turn (the sequence is shared, so chunk ranges follow each
/// other), this tab's own chunks are known at once, other writers' announcements are delivered
/// in random order, some twice, some never, with catch-ups now and then and one at the end.
///
/// Returns how many steps had a gap and how many had a writer ahead in the stream token, so the
/// caller can check the runs exercised them.
fn interleaving(seed: u64) -> (usize, usize) {
    let mut rng = Lcg(seed);
    let writers = ["own", "a", "b", "c"];
    let mut tracker = open("own", 0, &[]);
    let mut model = Model { known: BTreeSet::new(), last_chunk: BTreeMap::new() };
    let mut pending: Vec<(&str, RangeInclusive<i64>)> = Vec::new();
    // Who committed each id, as the `events` rows say: what a catch-up finds.
    let mut rows: Vec<(&str, i64)> = Vec::new();
    let mut sequence = 0;
    let mut token = 0;
    let (mut gaps, mut ahead) = (0, 0);
    for _ in 0..60 {
        match rng.below(10) {
            0..=3 => {
                let writer = writers[rng.below(writers.len())];
                let ids = sequence + 1..=sequence + 1 + rng.below(3) as i64;
                sequence = *ids.end();
                rows.extend(ids.clone().map(|id| (writer, id)));
                if writer == "own" {
                    tracker.committed(ids.clone());
                    model.learn(writer, ids);
                } else if rng.below(6) > 0 {
                    pending.push((writer, ids));
                }
            }
            4..=8 if !pending.is_empty() => {
                let (writer, ids) = pending.swap_remove(rng.below(pending.len()));
                tracker.announced(writer, ids.clone());
                model.learn(writer, ids.clone());
                if rng.below(5) == 0 {
                    pending.push((writer, ids));
                }
            }
            _ => {
                let after = tracker.current_token();
                let found: Vec<(&str, i64)> =
                    rows.iter().copied().filter(|&(_, id)| id > after).collect();
                tracker.caught_up(sequence, found.iter().copied());
                for (writer, id) in found {
                    model.learn(writer, id..=id);
                }
            }
        }
        let now = tracker.current_token();
        assert!(now >= token, "seed {seed}: token went back from {token} to {now}");
        assert_eq!(now, model.contiguous(), "seed {seed}: the contiguous known prefix");
        assert!(now <= sequence, "seed {seed}: past what was committed");
        let above = model.known.range(now + 1..).next().copied();
        assert_eq!(tracker.gap().map(|gap| *gap.end() + 1), above, "seed {seed}: gap");
        check_positions(&tracker, &model, seed);
        gaps += usize::from(tracker.gap().is_some());
        ahead += usize::from(!tracker.stream_token().instances().is_empty());
        token = now;
    }
    let after = tracker.current_token();
    tracker.caught_up(sequence, rows.iter().copied().filter(|&(_, id)| id > after));
    assert_eq!(tracker.current_token(), sequence, "seed {seed}: ends at N");
    assert_eq!(tracker.gap(), None);
    assert!(tracker.positions().values().all(|&position| position == sequence));
    (gaps, ahead)
}

/// Each writer is at its last chunk known or at the token, and the stream token lists exactly
/// the writers ahead.
fn check_positions(tracker: &MultiWriterIdTracker, model: &Model, seed: u64) {
    let now = tracker.current_token();
    for (writer, &last) in &model.last_chunk {
        assert_eq!(tracker.position(writer), last.max(now), "seed {seed}: {writer}");
    }
    let stream_token = tracker.stream_token();
    assert_eq!(stream_token.stream(), now);
    let ahead: BTreeMap<String, i64> = model
        .last_chunk
        .iter()
        .filter(|&(_, &last)| last > now)
        .map(|(w, &p)| (w.clone(), p))
        .collect();
    assert_eq!(stream_token.instances(), &ahead, "seed {seed}");
    assert_eq!(stream_token.to_string().parse::<StreamToken>(), Ok(stream_token));
}

#[test]
fn random_interleavings_reach_the_end_in_order() {
    let (mut gaps, mut ahead) = (0, 0);
    for seed in 0..300 {
        let (seed_gaps, seed_ahead) = interleaving(seed);
        gaps += seed_gaps;
        ahead += seed_ahead;
    }
    // 300 runs of 60 steps: holes and writers ahead of the minimum are common, not luck.
    assert!(gaps > 1000 && ahead > 1000, "gaps {gaps}, tokens with writers ahead {ahead}");
}

// ---------------------------------------------------------------------------------------------
// The stream token.
// ---------------------------------------------------------------------------------------------

#[test]
fn token_string_forms() {
    assert_eq!(StreamToken::live(0).to_string(), "s0");
    assert_eq!(StreamToken::live(56).to_string(), "s56");
    let multi = StreamToken::new(56, map(&[("tab-2", 58), ("tab_3", 59), ("behind", 50)]));
    assert_eq!(multi.to_string(), "m56~tab-2.58~tab_3.59");
    assert_eq!(multi.instances(), &map(&[("tab-2", 58), ("tab_3", 59)]));
    // Every writer at or below the minimum: the plain form.
    assert_eq!(StreamToken::new(9, map(&[("a", 9), ("b", 3)])).to_string(), "s9");
    // Separators, `%`, spaces and non-ASCII are escaped as UTF-8 bytes.
    let odd = StreamToken::new(1, map(&[("a.b~c%d e", 2), ("é🙂", 3), ("", 4)]));
    assert_eq!(odd.to_string(), "m1~.4~a%2Eb%7Ec%25d%20e.2~%C3%A9%F0%9F%99%82.3");
}

#[test]
fn token_round_trips() {
    for text in ["s0", "s7", "m5~a.6", "m0~x.1~y.9223372036854775807", "m1~%C3%A9.2", "m1~.2"] {
        assert_eq!(token(text).to_string(), text);
    }
    // Random names from an awkward alphabet.
    let alphabet: Vec<char> = "aZ09-_.~%/ é\u{0}\u{7f}🙂\u{202e}".chars().collect();
    let mut rng = Lcg(7);
    for _ in 0..500 {
        let mut instances = BTreeMap::new();
        for _ in 0..rng.below(4) {
            let name: String =
                (0..rng.below(6)).map(|_| alphabet[rng.below(alphabet.len())]).collect();
            instances.insert(name, 100 + rng.below(50) as i64);
        }
        let original = StreamToken::new(90 + rng.below(20) as i64, instances);
        let text = original.to_string();
        assert_eq!(text.parse::<StreamToken>(), Ok(original.clone()), "{text}");
        let json = serde_json::to_string(&original).expect("a token serialises");
        assert_eq!(json, serde_json::to_string(&text).expect("a string serialises"));
        assert_eq!(serde_json::from_str::<StreamToken>(&json).ok(), Some(original));
    }
}

#[test]
fn hostile_tokens_are_typed_errors() {
    use StreamTokenError::*;
    let cases: &[(&str, StreamTokenError)] = &[
        ("", Empty),
        ("5", UnknownKind),
        ("t3-4", UnknownKind),
        ("S5", UnknownKind),
        ("ｓ5", UnknownKind),
        ("🙂", UnknownKind),
        ("s", InvalidPosition),
        ("s-1", InvalidPosition),
        ("s+1", InvalidPosition),
        ("s01", InvalidPosition),
        ("s 1", InvalidPosition),
        ("s1 ", InvalidPosition),
        ("s1.5", InvalidPosition),
        ("s٣", InvalidPosition),
        ("s9223372036854775808", InvalidPosition),
        ("s99999999999999999999999999999999999999", InvalidPosition),
        ("m", InvalidPosition),
        ("m~a.7", InvalidPosition),
        ("m5", MissingWriters),
        ("m5~", MalformedEntry),
        ("m5~a.7~", MalformedEntry),
        ("m5~a", MalformedEntry),
        ("m5~~a.7", MalformedEntry),
        ("m5~a.", InvalidPosition),
        ("m5~a.7.", InvalidPosition),
        ("m5~a.-7", InvalidPosition),
        ("m5~a.99999999999999999999", InvalidPosition),
        ("m5~a.3", WriterNotAhead),
        ("m5~a.5", WriterNotAhead),
        ("m5~a.7~a.8", DuplicateWriter),
        ("m5~%C3%A9.7~%C3%A9.9", DuplicateWriter),
        ("m5~é.7", InvalidWriterName),
        ("m5~a b.7", InvalidWriterName),
        ("m5~%C3.7", InvalidWriterName),
        ("m5~%4.7", InvalidWriterName),
        ("m5~%.7", InvalidWriterName),
        ("m5~%zz.7", InvalidWriterName),
        ("m5~%c3%a9.7", InvalidWriterName),
        ("m5~%41.7", InvalidWriterName),
    ];
    for &(text, expected) in cases {
        assert_eq!(text.parse::<StreamToken>(), Err(expected), "{text:?}");
        assert_eq!(expected.code(), "INVALID_STREAM_TOKEN");
    }
    let huge = format!("m1{}", "~a.2".repeat(100_000));
    assert_eq!(huge.parse::<StreamToken>(), Err(DuplicateWriter));
    assert!(serde_json::from_str::<StreamToken>("\"m5\"").is_err());
    assert!(serde_json::from_str::<StreamToken>("5").is_err());
}

/// Synapse's `is_before_or_eq`: every writer at or before its position in the other; two tokens
/// can each be not before the other.
#[test]
fn token_comparison_is_per_writer() {
    let base = token("s5");
    let a_ahead = token("m5~a.8");
    let b_ahead = token("m5~b.7");
    assert!(base.is_before_or_eq(&a_ahead) && base.is_before_or_eq(&b_ahead));
    assert!(!a_ahead.is_before_or_eq(&base));
    assert!(!a_ahead.is_before_or_eq(&b_ahead) && !b_ahead.is_before_or_eq(&a_ahead));
    assert!(a_ahead.is_before_or_eq(&a_ahead));
    assert!(a_ahead.is_before_or_eq(&token("s8")));
    assert!(!a_ahead.is_before_or_eq(&token("s7")));
    assert!(!token("s6").is_before_or_eq(&a_ahead), "b is at 6 against 5");

    assert_eq!((a_ahead.position("a"), a_ahead.position("b")), (8, 5));
    assert_eq!((a_ahead.max_stream_pos(), base.max_stream_pos()), (8, 5));

    let both = a_ahead.copy_and_advance(&b_ahead);
    assert_eq!(both.to_string(), "m5~a.8~b.7");
    assert!(a_ahead.is_before_or_eq(&both) && b_ahead.is_before_or_eq(&both));
    // Entries the other's minimum passes are dropped.
    assert_eq!(both.copy_and_advance(&token("m7~c.9")).to_string(), "m7~a.8~c.9");
    assert_eq!(both.copy_and_advance(&token("s10")), token("s10"));
}
