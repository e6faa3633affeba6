//! StateFilter against the semantics of Synapse's `synapse/types/state.py`, and its JS form.
#![cfg(all(not(target_arch = "wasm32"), feature = "store"))]

use std::collections::{BTreeMap, BTreeSet};

use prejoin::model::state_filter::{MembersInput, StateFilterInput};
use prejoin::model::{
    InputError, MemberFilter, NonMemberFilter, StateFilter, StateIds, StateKeyFilter,
};
use proptest::prelude::*;
use ruma_common::OwnedEventId;
use serde_json::{json, Value as JsonValue};

const MEMBER: &str = "m.room.member";
const TAG: &str = "org.example.tag";

/// The state every table runs against: non-members with one and several state_keys, and members.
const ROWS: [(&str, &str); 8] = [
    ("m.room.create", ""),
    ("m.room.name", ""),
    ("m.room.topic", ""),
    (MEMBER, "@alice:x"),
    (MEMBER, "@bob:x"),
    (MEMBER, "@carol:x"),
    (TAG, "a"),
    (TAG, "b"),
];

const NON_MEMBERS: [(&str, &str); 5] =
    [("m.room.create", ""), ("m.room.name", ""), ("m.room.topic", ""), (TAG, "a"), (TAG, "b")];

fn state() -> StateIds {
    ROWS.iter()
        .enumerate()
        .map(|(index, (event_type, state_key))| {
            let id = OwnedEventId::try_from(format!("$row{index}")).expect("a valid event id");
            (((*event_type).to_owned(), (*state_key).to_owned()), id)
        })
        .collect()
}

fn keys(list: &[&str]) -> StateKeyFilter {
    StateKeyFilter::keys(list.iter().copied())
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn no_key() -> Option<&'static str> {
    None
}

/// A row of state: `(type, state_key)`.
type Row = (&'static str, &'static str);

/// A named filter and the rows it keeps.
type Case = (&'static str, StateFilter, Vec<Row>);

/// Each constructor and edge case, with the rows of [`ROWS`] Synapse's `filter_state` (and `in`)
/// would keep.
fn matching_table() -> Vec<Case> {
    vec![
        ("all", StateFilter::all(), ROWS.to_vec()),
        ("none", StateFilter::none(), vec![]),
        (
            "from_types: one pair",
            StateFilter::from_types([("m.room.name", Some(""))]),
            vec![("m.room.name", "")],
        ),
        (
            "from_types: no pairs",
            StateFilter::from_types(Vec::<(&str, Option<&str>)>::new()),
            vec![],
        ),
        (
            "from_types: wildcard type",
            StateFilter::from_types([(TAG, no_key())]),
            vec![(TAG, "a"), (TAG, "b")],
        ),
        (
            "from_types: specific state_keys of a member and a non-member",
            StateFilter::from_types([(TAG, Some("a")), (MEMBER, Some("@bob:x"))]),
            vec![(MEMBER, "@bob:x"), (TAG, "a")],
        ),
        (
            "from_types: a wildcard after a key wins",
            StateFilter::from_types([(TAG, Some("a")), (TAG, None)]),
            vec![(TAG, "a"), (TAG, "b")],
        ),
        (
            "from_types: a key after a wildcard changes nothing",
            StateFilter::from_types([(TAG, None), (TAG, Some("a"))]),
            vec![(TAG, "a"), (TAG, "b")],
        ),
        (
            "from_types: a state_key nobody has",
            StateFilter::from_types([("m.room.name", Some("x"))]),
            vec![],
        ),
        (
            "from_types: all members",
            StateFilter::from_types([(MEMBER, no_key())]),
            vec![(MEMBER, "@alice:x"), (MEMBER, "@bob:x"), (MEMBER, "@carol:x")],
        ),
        (
            "lazy-load members: some present, one absent",
            StateFilter::from_lazy_load_member_list(["@alice:x", "@dave:x"]),
            vec![
                ("m.room.create", ""),
                ("m.room.name", ""),
                ("m.room.topic", ""),
                (MEMBER, "@alice:x"),
                (TAG, "a"),
                (TAG, "b"),
            ],
        ),
        (
            "lazy-load members: no users is every non-member",
            StateFilter::from_lazy_load_member_list(Vec::<String>::new()),
            NON_MEMBERS.to_vec(),
        ),
        (
            "freeze: members wildcard, no others",
            StateFilter::freeze([(MEMBER, StateKeyFilter::All)], false),
            vec![(MEMBER, "@alice:x"), (MEMBER, "@bob:x"), (MEMBER, "@carol:x")],
        ),
        (
            "freeze: members empty with others (every non-member)",
            StateFilter::freeze([(MEMBER, StateKeyFilter::empty())], true),
            NON_MEMBERS.to_vec(),
        ),
        (
            "freeze: include_others with listed types limits those types only",
            StateFilter::freeze(
                [("m.room.name", keys(&[""])), (MEMBER, keys(&["@carol:x"])), (TAG, keys(&["b"]))],
                true,
            ),
            vec![
                ("m.room.create", ""),
                ("m.room.name", ""),
                ("m.room.topic", ""),
                (MEMBER, "@carol:x"),
                (TAG, "b"),
            ],
        ),
        (
            "freeze: include_others and a key nobody has leaves the type out",
            StateFilter::freeze([(TAG, keys(&["z"]))], true),
            vec![
                ("m.room.create", ""),
                ("m.room.name", ""),
                ("m.room.topic", ""),
                (MEMBER, "@alice:x"),
                (MEMBER, "@bob:x"),
                (MEMBER, "@carol:x"),
            ],
        ),
        (
            "freeze: include_others with a wildcard is everything",
            StateFilter::freeze([(TAG, StateKeyFilter::All)], true),
            ROWS.to_vec(),
        ),
        (
            "freeze: an empty key set without others is nothing",
            StateFilter::freeze([(TAG, StateKeyFilter::empty())], false),
            vec![],
        ),
        (
            "freeze: entries of one type merge",
            StateFilter::freeze([(TAG, keys(&["a"])), (TAG, keys(&["b"]))], false),
            vec![(TAG, "a"), (TAG, "b")],
        ),
    ]
}

#[test]
fn matches_and_filter_state_follow_synapse() {
    let state = state();
    for (name, filter, expected) in matching_table() {
        let expected: BTreeSet<(&str, &str)> = expected.into_iter().collect();
        for (event_type, state_key) in ROWS {
            assert_eq!(
                filter.matches(event_type, state_key),
                expected.contains(&(event_type, state_key)),
                "{name}: matches({event_type}, {state_key})"
            );
        }
        let filtered = filter.filter_state(&state);
        let kept: BTreeSet<(&str, &str)> =
            filtered.keys().map(|(t, k)| (t.as_str(), k.as_str())).collect();
        assert_eq!(kept, expected, "{name}: filter_state");
        for (key, value) in &filtered {
            assert_eq!(state.get(key), Some(value), "{name}: filter_state keeps values");
        }
        let mut retained = state.clone();
        filter.retain_state(&mut retained);
        assert_eq!(retained, filtered, "{name}: retain_state");
    }
}

#[test]
fn split_matches_rows_exactly_like_the_whole_filter() {
    let extra = [(MEMBER, "@dave:x"), (TAG, "z"), ("m.room.name", "x"), ("other.type", "")];
    for (name, filter, _) in matching_table() {
        let (members, non_members) = filter.split();
        for (event_type, state_key) in ROWS.iter().chain(&extra) {
            let by_part = if *event_type == MEMBER {
                members.matches(state_key)
            } else {
                non_members.matches(event_type, state_key)
            };
            assert_eq!(
                by_part,
                filter.matches(event_type, state_key),
                "{name}: ({event_type}, {state_key})"
            );
            assert!(
                !non_members.matches(MEMBER, state_key),
                "{name}: non-member part takes members"
            );
        }
    }
}

/// What Synapse's `get_member_split` gives, as a store needs it.
#[test]
fn split_names_what_to_read() {
    let table = [
        ("all", StateFilter::all(), MemberFilter::All, NonMemberFilter::All),
        ("none", StateFilter::none(), MemberFilter::None, NonMemberFilter::None),
        (
            "one non-member pair",
            StateFilter::from_types([("m.room.name", Some(""))]),
            MemberFilter::None,
            NonMemberFilter::Only(BTreeMap::from([("m.room.name".to_owned(), keys(&[""]))])),
        ),
        (
            "a wildcard non-member type",
            StateFilter::from_types([(TAG, no_key())]),
            MemberFilter::None,
            NonMemberFilter::Only(BTreeMap::from([(TAG.to_owned(), StateKeyFilter::All)])),
        ),
        (
            "one member and one non-member pair",
            StateFilter::from_types([(TAG, Some("a")), (MEMBER, Some("@bob:x"))]),
            MemberFilter::Some(set(&["@bob:x"])),
            NonMemberFilter::Only(BTreeMap::from([(TAG.to_owned(), keys(&["a"]))])),
        ),
        (
            "all members, one non-member pair",
            StateFilter::from_types([(MEMBER, None), ("m.room.name", Some(""))]),
            MemberFilter::All,
            NonMemberFilter::Only(BTreeMap::from([("m.room.name".to_owned(), keys(&[""]))])),
        ),
        (
            "members only",
            StateFilter::from_types([(MEMBER, no_key())]),
            MemberFilter::All,
            NonMemberFilter::None,
        ),
        (
            "lazy-loaded members",
            StateFilter::from_lazy_load_member_list(["@alice:x", "@dave:x"]),
            MemberFilter::Some(set(&["@alice:x", "@dave:x"])),
            NonMemberFilter::All,
        ),
        (
            "no members",
            StateFilter::from_lazy_load_member_list(Vec::<String>::new()),
            MemberFilter::None,
            NonMemberFilter::All,
        ),
        (
            "others with listed types",
            StateFilter::freeze(
                [("m.room.name", keys(&[""])), (MEMBER, keys(&["@carol:x"]))],
                true,
            ),
            MemberFilter::Some(set(&["@carol:x"])),
            NonMemberFilter::Restricted(BTreeMap::from([("m.room.name".to_owned(), set(&[""]))])),
        ),
        (
            "others, one type left out, members not listed",
            StateFilter::freeze([(TAG, StateKeyFilter::empty())], true),
            MemberFilter::All,
            NonMemberFilter::Restricted(BTreeMap::from([(TAG.to_owned(), set(&[]))])),
        ),
    ];
    for (name, filter, members, non_members) in table {
        assert_eq!(filter.member_filter(), members, "{name}: members");
        assert_eq!(filter.non_member_filter(), non_members, "{name}: non-members");
        assert_eq!(filter.split(), (members, non_members), "{name}: split");
    }
}

#[test]
fn canonical_form_makes_equal_filters_equal() {
    // With include_others, a wildcard is implied and dropped.
    assert_eq!(StateFilter::freeze([(TAG, StateKeyFilter::All)], true), StateFilter::all());
    // Without it, an empty key set lists nothing and is dropped.
    assert_eq!(StateFilter::freeze([(TAG, StateKeyFilter::empty())], false), StateFilter::none());
    // With it, an empty key set leaves the type out and stays.
    assert_eq!(
        StateFilter::freeze([(MEMBER, StateKeyFilter::empty())], true).types().get(MEMBER),
        Some(&StateKeyFilter::empty())
    );
    assert_eq!(
        StateFilter::from_lazy_load_member_list(Vec::<String>::new()),
        StateFilter::freeze([(MEMBER, StateKeyFilter::empty())], true)
    );
    assert_eq!(
        StateFilter::from_types([(TAG, Some("b")), (TAG, Some("a")), (TAG, Some("a"))]),
        StateFilter::freeze([(TAG, keys(&["a", "b"]))], false)
    );
}

/// `(is_full, is_empty, has_wildcards, max_entries_returned)`, from Synapse's definitions.
#[test]
fn predicates() {
    let table = [
        ("all", StateFilter::all(), true, false, true, None),
        ("none", StateFilter::none(), false, true, false, Some(0)),
        (
            "one pair",
            StateFilter::from_types([("m.room.name", Some(""))]),
            false,
            false,
            false,
            Some(1),
        ),
        (
            "two pairs of two types",
            StateFilter::from_types([(TAG, Some("a")), (MEMBER, Some("@bob:x"))]),
            false,
            false,
            false,
            Some(2),
        ),
        ("a wildcard type", StateFilter::from_types([(TAG, no_key())]), false, false, true, None),
        (
            "lazy-loaded members",
            StateFilter::from_lazy_load_member_list(["@alice:x"]),
            false,
            false,
            true,
            None,
        ),
        (
            "every non-member",
            StateFilter::from_lazy_load_member_list(Vec::<String>::new()),
            false,
            false,
            true,
            None,
        ),
    ];
    for (name, filter, full, empty, wildcards, max) in table {
        assert_eq!(filter.is_full(), full, "{name}: is_full");
        assert_eq!(filter.is_empty(), empty, "{name}: is_empty");
        assert_eq!(filter.has_wildcards(), wildcards, "{name}: has_wildcards");
        assert_eq!(filter.max_entries_returned(), max, "{name}: max_entries_returned");
    }
}

#[test]
fn concrete_and_wildcard_types_and_to_types() {
    let filter = StateFilter::from_types([
        (TAG, None),
        (MEMBER, Some("@bob:x")),
        ("m.room.name", Some("")),
        (MEMBER, Some("@alice:x")),
    ]);
    assert_eq!(
        filter.concrete_types(),
        [("m.room.member", "@alice:x"), ("m.room.member", "@bob:x"), ("m.room.name", "")]
    );
    assert_eq!(filter.wildcard_types(), [TAG]);
    let pairs: Vec<(&str, Option<&str>)> = filter.to_types().collect();
    assert_eq!(
        pairs,
        [
            ("m.room.member", Some("@alice:x")),
            ("m.room.member", Some("@bob:x")),
            ("m.room.name", Some("")),
            (TAG, None)
        ]
    );
    assert_eq!(StateFilter::from_types(pairs), filter, "from_types(to_types()) round trip");

    // With include_others, concrete types are only a subset of what matches.
    let lazy = StateFilter::from_lazy_load_member_list(["@bob:x", "@alice:x"]);
    assert_eq!(lazy.concrete_types(), [(MEMBER, "@alice:x"), (MEMBER, "@bob:x")]);
    assert!(lazy.wildcard_types().is_empty());
}

/// Synapse's own `test_return_expanded` cases, plus two read from its code.
#[test]
fn return_expanded() {
    let wombat_alicia = || keys(&["@wombat:test", "@alicia:test"]);
    let table = [
        ("all", StateFilter::all(), StateFilter::all()),
        ("none", StateFilter::none(), StateFilter::none()),
        (
            "concrete mixed",
            StateFilter::freeze(
                [(MEMBER, wombat_alicia()), ("some.other.state.type", keys(&[""]))],
                false,
            ),
            StateFilter::freeze(
                [(MEMBER, wombat_alicia()), ("some.other.state.type", keys(&[""]))],
                false,
            ),
        ),
        (
            "concrete non-member",
            StateFilter::freeze([("some.other.state.type", keys(&[""]))], false),
            StateFilter::freeze([("some.other.state.type", keys(&[""]))], false),
        ),
        (
            "concrete member",
            StateFilter::freeze([(MEMBER, wombat_alicia())], false),
            StateFilter::freeze([(MEMBER, wombat_alicia())], false),
        ),
        (
            "member wildcard only",
            StateFilter::freeze([(MEMBER, StateKeyFilter::All)], false),
            StateFilter::freeze([(MEMBER, StateKeyFilter::All)], false),
        ),
        (
            "non-member wildcard, some members",
            StateFilter::freeze(
                [(MEMBER, wombat_alicia()), ("some.other.state.type", StateKeyFilter::All)],
                false,
            ),
            StateFilter::freeze([(MEMBER, wombat_alicia())], true),
        ),
        (
            "non-member wildcard, no members",
            StateFilter::freeze([("some.other.state.type", StateKeyFilter::All)], false),
            StateFilter::freeze([(MEMBER, StateKeyFilter::empty())], true),
        ),
        (
            "non-member wildcard and a pair, no members",
            StateFilter::freeze(
                [
                    ("some.other.state.type", StateKeyFilter::All),
                    ("yet.another.state.type", keys(&["wombat"])),
                ],
                false,
            ),
            StateFilter::freeze([(MEMBER, StateKeyFilter::empty())], true),
        ),
        (
            "member and non-member wildcards",
            StateFilter::freeze(
                [(MEMBER, StateKeyFilter::All), ("some.other.state.type", StateKeyFilter::All)],
                false,
            ),
            StateFilter::all(),
        ),
        (
            "lazy-loaded members stay as they are",
            StateFilter::from_lazy_load_member_list(["@alicia:test"]),
            StateFilter::from_lazy_load_member_list(["@alicia:test"]),
        ),
    ];
    for (name, filter, expected) in table {
        let expanded = filter.return_expanded();
        assert_eq!(expanded, expected, "{name}");
        for (event_type, state_key) in ROWS {
            if filter.matches(event_type, state_key) {
                assert!(expanded.matches(event_type, state_key), "{name}: expanded is a superset");
            }
        }
    }
}

#[test]
fn union_of_each_kind() {
    let lazy = |users: &[&str]| StateFilter::from_lazy_load_member_list(users.iter().copied());
    let table = [
        ("all ∪ none", StateFilter::all(), StateFilter::none(), StateFilter::all()),
        ("none ∪ none", StateFilter::none(), StateFilter::none(), StateFilter::none()),
        (
            "none ∪ pairs",
            StateFilter::none(),
            StateFilter::from_types([("m.room.name", Some(""))]),
            StateFilter::from_types([("m.room.name", Some(""))]),
        ),
        (
            "pairs of two types",
            StateFilter::from_types([("m.room.name", Some(""))]),
            StateFilter::from_types([("m.room.topic", Some(""))]),
            StateFilter::from_types([("m.room.name", Some("")), ("m.room.topic", Some(""))]),
        ),
        (
            "keys of one type",
            StateFilter::from_types([(TAG, Some("a"))]),
            StateFilter::from_types([(TAG, Some("b"))]),
            StateFilter::from_types([(TAG, Some("a")), (TAG, Some("b"))]),
        ),
        (
            "a key and a wildcard",
            StateFilter::from_types([(TAG, Some("a"))]),
            StateFilter::from_types([(TAG, no_key())]),
            StateFilter::from_types([(TAG, no_key())]),
        ),
        (
            "lazy members ∪ lazy members",
            lazy(&["@alice:x"]),
            lazy(&["@bob:x"]),
            lazy(&["@alice:x", "@bob:x"]),
        ),
        (
            "lazy members ∪ a member pair",
            lazy(&["@alice:x"]),
            StateFilter::from_types([(MEMBER, Some("@bob:x"))]),
            lazy(&["@alice:x", "@bob:x"]),
        ),
        (
            "lazy members ∪ all members",
            lazy(&["@alice:x"]),
            StateFilter::from_types([(MEMBER, no_key())]),
            StateFilter::all(),
        ),
        (
            "no members ∪ members only",
            lazy(&[]),
            StateFilter::from_types([(MEMBER, no_key())]),
            StateFilter::all(),
        ),
        (
            "no members ∪ a non-member pair",
            lazy(&[]),
            StateFilter::from_types([("m.room.name", Some(""))]),
            lazy(&[]),
        ),
        (
            "others with a limited type ∪ another key of it",
            StateFilter::freeze([(TAG, keys(&["b"]))], true),
            StateFilter::from_types([(TAG, Some("a"))]),
            StateFilter::freeze([(TAG, keys(&["a", "b"]))], true),
        ),
        (
            "others with a limited type ∪ its wildcard",
            StateFilter::freeze([(TAG, keys(&["b"]))], true),
            StateFilter::from_types([(TAG, no_key())]),
            StateFilter::all(),
        ),
        (
            "two include_others filters limiting different types",
            StateFilter::freeze([(TAG, keys(&["b"]))], true),
            StateFilter::freeze([("m.room.name", StateKeyFilter::empty())], true),
            StateFilter::all(),
        ),
        (
            "two include_others filters limiting one type",
            StateFilter::freeze([(TAG, keys(&["b"]))], true),
            StateFilter::freeze([(TAG, StateKeyFilter::empty())], true),
            StateFilter::freeze([(TAG, keys(&["b"]))], true),
        ),
    ];
    for (name, a, b, expected) in table {
        assert_eq!(a.union(&b), expected, "{name}");
        assert_eq!(b.union(&a), expected, "{name}, swapped");
    }
}

/// Synapse's `StateFilterDifferenceTestCase`, every case.
#[test]
fn approx_difference_follows_synapse() {
    use StateKeyFilter::All;
    let f = |types: Vec<(&str, StateKeyFilter)>, others: bool| StateFilter::freeze(types, others);
    let create = "m.room.create";
    let alias = "m.room.canonical_alias";
    let e = StateKeyFilter::empty;
    let table: Vec<(&str, StateFilter, StateFilter, StateFilter)> = vec![
        // Neither includes others.
        (
            "wildcards - wildcards",
            f(vec![(MEMBER, All), (create, All)], false),
            f(vec![(MEMBER, All), (alias, All)], false),
            f(vec![(create, All)], false),
        ),
        (
            "wildcard - keys",
            f(vec![(MEMBER, All)], false),
            f(vec![(MEMBER, keys(&["@wombat:spqr"]))], false),
            f(vec![(MEMBER, All)], false),
        ),
        (
            "wildcard - no keys",
            f(vec![(MEMBER, All)], false),
            f(vec![(MEMBER, e())], false),
            f(vec![(MEMBER, All)], false),
        ),
        (
            "keys - wildcard",
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], false),
            f(vec![(MEMBER, All)], false),
            f(vec![(alias, keys(&[""]))], false),
        ),
        (
            "keys - keys",
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], false),
            f(vec![(MEMBER, keys(&["@wombat:spqr"]))], false),
            f(vec![(MEMBER, keys(&["@spqr:spqr"])), (alias, keys(&[""]))], false),
        ),
        (
            "keys - no keys",
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], false),
            f(vec![(MEMBER, e())], false),
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], false),
        ),
        // Only the minuend includes others.
        (
            "others: wildcards - wildcards",
            f(vec![(MEMBER, All), (create, All)], true),
            f(vec![(MEMBER, All), (alias, All)], false),
            f(vec![(create, All), (MEMBER, e()), (alias, e())], true),
        ),
        (
            "others: wildcard - keys",
            f(vec![(MEMBER, All)], true),
            f(vec![(MEMBER, keys(&["@wombat:spqr"])), (create, keys(&[""]))], false),
            StateFilter::all(),
        ),
        (
            "others: wildcard - no keys",
            f(vec![(MEMBER, All)], true),
            f(vec![(MEMBER, e())], false),
            StateFilter::all(),
        ),
        (
            "others: keys - wildcard",
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], true),
            f(vec![(MEMBER, All)], false),
            f(vec![(alias, keys(&[""])), (MEMBER, e())], true),
        ),
        (
            "others: keys - keys",
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], true),
            f(vec![(MEMBER, keys(&["@wombat:spqr"]))], false),
            f(vec![(MEMBER, keys(&["@spqr:spqr"])), (alias, keys(&[""]))], true),
        ),
        (
            "others: keys - no keys",
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], true),
            f(vec![(MEMBER, e())], false),
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], true),
        ),
        // Both include others.
        (
            "both: wildcards - wildcards",
            f(vec![(MEMBER, All), (create, All)], true),
            f(vec![(MEMBER, All), (alias, All)], true),
            StateFilter::none(),
        ),
        (
            "both: wildcard - keys",
            f(vec![(MEMBER, All)], true),
            f(vec![(MEMBER, keys(&["@wombat:spqr"])), (alias, keys(&[""]))], true),
            f(vec![(MEMBER, All), (alias, All)], false),
        ),
        (
            "both: wildcard - no keys",
            f(vec![(MEMBER, All)], true),
            f(vec![(MEMBER, e())], true),
            f(vec![(MEMBER, All)], false),
        ),
        (
            "both: keys - wildcard",
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], true),
            f(vec![(MEMBER, All)], true),
            StateFilter::none(),
        ),
        (
            "both: keys - keys",
            f(
                vec![
                    (MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])),
                    (alias, keys(&[""])),
                    (create, keys(&[""])),
                ],
                true,
            ),
            f(vec![(MEMBER, keys(&["@wombat:spqr"])), (create, e())], true),
            f(vec![(MEMBER, keys(&["@spqr:spqr"])), (create, keys(&[""]))], false),
        ),
        (
            "both: keys - no keys",
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], true),
            f(vec![(MEMBER, e())], true),
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"]))], false),
        ),
        // Only the subtrahend includes others.
        (
            "subtrahend others: wildcards - wildcards",
            f(vec![(MEMBER, All), (create, All)], false),
            f(vec![(MEMBER, All), (alias, All)], true),
            StateFilter::none(),
        ),
        (
            "subtrahend others: wildcard - keys",
            f(vec![(MEMBER, All)], false),
            f(vec![(MEMBER, keys(&["@wombat:spqr"]))], true),
            f(vec![(MEMBER, All)], false),
        ),
        (
            "subtrahend others: wildcard - no keys",
            f(vec![(MEMBER, All)], false),
            f(vec![(MEMBER, e())], true),
            f(vec![(MEMBER, All)], false),
        ),
        (
            "subtrahend others: keys - wildcard",
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], false),
            f(vec![(MEMBER, All)], true),
            StateFilter::none(),
        ),
        (
            "subtrahend others: keys - keys",
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], false),
            f(vec![(MEMBER, keys(&["@wombat:spqr"]))], true),
            f(vec![(MEMBER, keys(&["@spqr:spqr"]))], false),
        ),
        (
            "subtrahend others: keys - no keys",
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"])), (alias, keys(&[""]))], false),
            f(vec![(MEMBER, e())], true),
            f(vec![(MEMBER, keys(&["@wombat:spqr", "@spqr:spqr"]))], false),
        ),
        // Simple cases.
        ("all - all", StateFilter::all(), StateFilter::all(), StateFilter::none()),
        ("all - none", StateFilter::all(), StateFilter::none(), StateFilter::all()),
    ];
    for (name, minuend, subtrahend, expected) in table {
        assert_eq!(minuend.approx_difference(&subtrahend), expected, "{name}");
    }
}

/// The JS form: each accepted shape and the Synapse filter it stands for.
#[test]
fn js_form_reads_into_filters() {
    let table = [
        (json!({}), StateFilter::all()),
        (json!({"types": null, "includeOthers": null, "members": null}), StateFilter::all()),
        (json!({"members": "all"}), StateFilter::all()),
        (json!({"members": "none"}), StateFilter::from_lazy_load_member_list(Vec::<String>::new())),
        (json!({"members": []}), StateFilter::from_lazy_load_member_list(Vec::<String>::new())),
        (
            json!({"members": ["@alice:x", "@bob:x"]}),
            StateFilter::from_lazy_load_member_list(["@alice:x", "@bob:x"]),
        ),
        (json!({"includeOthers": false}), StateFilter::none()),
        (json!({"includeOthers": true}), StateFilter::all()),
        (
            json!({"includeOthers": false, "members": "all"}),
            StateFilter::from_types([(MEMBER, no_key())]),
        ),
        (json!({"types": [], "members": "all"}), StateFilter::from_types([(MEMBER, no_key())])),
        (json!({"types": []}), StateFilter::none()),
        (
            json!({"types": [["m.room.name", ""]]}),
            StateFilter::from_types([("m.room.name", Some(""))]),
        ),
        (json!({"types": [[TAG, null]]}), StateFilter::from_types([(TAG, no_key())])),
        (
            json!({"types": [[MEMBER, "@alice:x"], [TAG, "a"]]}),
            StateFilter::from_types([(MEMBER, Some("@alice:x")), (TAG, Some("a"))]),
        ),
        (
            json!({"types": [[TAG, null]], "members": ["@bob:x"]}),
            StateFilter::freeze([(TAG, StateKeyFilter::All), (MEMBER, keys(&["@bob:x"]))], false),
        ),
        (
            json!({"types": [["m.room.name", ""]], "includeOthers": true}),
            StateFilter::freeze([("m.room.name", keys(&[""]))], true),
        ),
        (
            json!({"types": [[TAG, "b"]], "includeOthers": true, "members": "none"}),
            StateFilter::freeze([(TAG, keys(&["b"])), (MEMBER, StateKeyFilter::empty())], true),
        ),
    ];
    for (input, expected) in table {
        assert_eq!(StateFilter::from_json(input.clone()), Ok(expected), "{input}");
    }
}

#[test]
fn js_form_deserialises_with_serde() {
    let input: StateFilterInput =
        serde_json::from_value(json!({"types": [[TAG, null]], "members": ["@bob:x"]})).unwrap();
    assert_eq!(input.types, Some(vec![(TAG.to_owned(), None)]));
    assert_eq!(input.include_others, None);
    assert_eq!(input.members, Some(MembersInput::Users(vec!["@bob:x".to_owned()])));
    assert_eq!(
        StateFilter::try_from(input),
        Ok(StateFilter::freeze([(TAG, StateKeyFilter::All), (MEMBER, keys(&["@bob:x"]))], false))
    );
}

#[test]
fn bad_js_forms_are_invalid_state_filter() {
    let not_object = "must be an object";
    let table = [
        (json!(null), not_object),
        (json!([]), not_object),
        (json!("all"), not_object),
        (json!(1), not_object),
        (json!({"unknown": 1}), "unknown field `unknown`"),
        (json!({"types": "m.room.name"}), "expected a sequence"),
        (json!({"types": [["m.room.name"]]}), "invalid length 1"),
        (json!({"types": [["m.room.name", "", "x"]]}), "invalid length 3"),
        (json!({"types": [["m.room.name", 1]]}), "expected a string"),
        (json!({"types": [[1, ""]]}), "expected a string"),
        (json!({"types": [{"type": "m.room.name"}]}), "expected a tuple of size 2"),
        (json!({"includeOthers": "yes"}), "expected a boolean"),
        (json!({"members": "some"}), "expected \"all\", \"none\" or an array of user ids"),
        (json!({"members": true}), "expected \"all\", \"none\" or an array of user ids"),
        (json!({"members": {}}), "expected \"all\", \"none\" or an array of user ids"),
        (json!({"members": [1]}), "expected a string"),
        (json!({"members": ["alice"]}), "members[0] is not a user id"),
        (json!({"members": ["@alice:x", ""]}), "members[1] is not a user id"),
        (json!({"members": "all", "types": [[MEMBER, null]]}), "both in types and in members"),
        (json!({"members": [], "types": [[MEMBER, "@alice:x"]]}), "both in types and in members"),
    ];
    for (input, reason) in table {
        let error = StateFilter::from_json(input.clone()).expect_err(&input.to_string());
        assert!(matches!(error, InputError::InvalidStateFilter(_)), "{input}: {error:?}");
        assert_eq!(error.code(), "INVALID_STATE_FILTER", "{input}");
        assert!(error.to_string().contains(reason), "{input}: {error}");
    }
}

/// Every filter a test builds, for the properties below.
fn filters() -> Vec<StateFilter> {
    let mut filters: Vec<StateFilter> =
        matching_table().into_iter().map(|(_, filter, _)| filter).collect();
    filters.push(StateFilter::freeze([("m.room.name", StateKeyFilter::empty())], true));
    filters.push(StateFilter::freeze([(TAG, keys(&["a"])), (MEMBER, StateKeyFilter::All)], false));
    filters
}

/// `union` is exact and `approx_difference` keeps Synapse's contract, on every pair of filters.
#[test]
fn union_and_difference_contracts_on_every_pair() {
    let rows = ROWS.iter().chain(&[(MEMBER, "@dave:x"), (TAG, "z"), ("other.type", "")]);
    let rows: Vec<&(&str, &str)> = rows.collect();
    for a in filters() {
        for b in filters() {
            let union = a.union(&b);
            let difference = a.approx_difference(&b);
            for (t, k) in &rows {
                let (in_a, in_b) = (a.matches(t, k), b.matches(t, k));
                assert_eq!(union.matches(t, k), in_a || in_b, "{a:?} ∪ {b:?} at ({t}, {k})");
                if in_a && !in_b {
                    assert!(difference.matches(t, k), "{a:?} - {b:?} misses ({t}, {k})");
                }
                if !in_a {
                    assert!(!difference.matches(t, k), "{a:?} - {b:?} adds ({t}, {k})");
                }
            }
        }
    }
}

fn any_json() -> impl Strategy<Value = JsonValue> {
    let leaf = prop_oneof![
        Just(JsonValue::Null),
        any::<bool>().prop_map(JsonValue::Bool),
        any::<i64>().prop_map(JsonValue::from),
        ".{0,8}".prop_map(JsonValue::String),
        prop::sample::select(vec!["all", "none", "@a:x", MEMBER, "m.room.name", ""])
            .prop_map(|s| JsonValue::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(JsonValue::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["types", "includeOthers", "members", "x"]),
                inner,
                0..4
            )
            .prop_map(|map| {
                JsonValue::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

proptest! {
    /// Any JSON gives a filter or INVALID_STATE_FILTER, never a panic.
    #[test]
    fn any_json_is_a_filter_or_a_typed_error(value in any_json()) {
        if let Err(error) = StateFilter::from_json(value) {
            prop_assert_eq!(error.code(), "INVALID_STATE_FILTER");
        }
    }
}
