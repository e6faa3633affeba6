//! State resolution v1 (room version 1): against Synapse 1.163.2's own results on a forked room
//! (`forks.json`, `h_name_topic_race_v1`), and the algorithm's orders and phases on hand-made
//! events.
#![cfg(all(not(target_arch = "wasm32"), feature = "store"))]

use std::collections::{BTreeMap, BTreeSet};

use prejoin::{
    model::{pdu::Pdu, room_version::RoomVersion, StateKey},
    persist::{resolve_v1, RoomEvent, StateIds, StateResV1Error},
};
use ruma_common::{EventId, OwnedEventId};
use ruma_state_res::Event as _;
use serde_json::{json, Value as JsonValue};

fn v1() -> RoomVersion {
    RoomVersion::parse("1").unwrap()
}

fn id(id: &str) -> OwnedEventId {
    OwnedEventId::try_from(id).unwrap()
}

fn key(event_type: &str, state_key: &str) -> StateKey {
    (event_type.to_owned(), state_key.to_owned())
}

/// Every order of `sets` (the algorithm must not depend on it).
fn permutations(sets: &[StateIds]) -> Vec<Vec<StateIds>> {
    if sets.len() <= 1 {
        return vec![sets.to_vec()];
    }
    let mut all = Vec::new();
    for (index, set) in sets.iter().enumerate() {
        let mut rest = sets.to_vec();
        rest.remove(index);
        for mut permutation in permutations(&rest) {
            permutation.insert(0, set.clone());
            all.push(permutation);
        }
    }
    all
}

// ---------------------------------------------------------------------------------------------
// Synapse's own results.

struct FixtureRoom {
    labels: BTreeMap<String, String>,
    pdus: Vec<RoomEvent>,
    events: BTreeMap<OwnedEventId, RoomEvent>,
    state_after: BTreeMap<OwnedEventId, StateIds>,
    current_state: StateIds,
    forward_extremities: Vec<OwnedEventId>,
}

impl FixtureRoom {
    fn load(name: &str) -> Self {
        let path =
            format!("{}/tests/fixtures/synapse-1.163.2/forks.json", env!("CARGO_MANIFEST_DIR"));
        let fixture: JsonValue =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let room = fixture["rooms"].as_array().unwrap().iter().find(|room| room["name"] == name);
        let room = room.unwrap_or_else(|| panic!("no room {name} in forks.json"));
        assert_eq!(room["room_version"], "1");
        assert_eq!(room["state_res"], "v1");

        let expected = &room["expected"];
        let rejected = expected["rejected"].as_object().unwrap();
        let labels = room["labels"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(id, label)| (id.clone(), label.as_str().unwrap().to_owned()))
            .collect();
        let pdus: Vec<RoomEvent> = room["pdus"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pdu| {
                let pdu = Pdu::from_json_value(pdu.clone(), &v1()).unwrap();
                let is_rejected = rejected.contains_key(pdu.event_id().as_str());
                RoomEvent::new(pdu, is_rejected)
            })
            .collect();
        let events = pdus
            .iter()
            .map(|event| (event.pdu().owned_event_id().clone(), event.clone()))
            .collect();
        let state_after = expected["state_after"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(event_id, state)| (id(event_id), state_ids(state)))
            .collect();
        let current_state = expected["current_state"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                let key =
                    key(entry["type"].as_str().unwrap(), entry["state_key"].as_str().unwrap());
                (key, id(entry["event_id"].as_str().unwrap()))
            })
            .collect();
        let forward_extremities = expected["forward_extremities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event_id| id(event_id.as_str().unwrap()))
            .collect();
        Self { labels, pdus, events, state_after, current_state, forward_extremities }
    }

    fn label(&self, event_id: &EventId) -> &str {
        self.labels.get(event_id.as_str()).map_or("(unlabelled)", String::as_str)
    }

    fn resolve(&self, state_sets: &[StateIds]) -> Result<StateIds, StateResV1Error> {
        let fetch = |event_id: &EventId| self.events.get(event_id).cloned();
        resolve_v1(&v1().rules().authorization, state_sets, &fetch)
    }
}

/// `"type\u{0}state_key" -> event_id`, as the fixture writes states.
fn state_ids(state: &JsonValue) -> StateIds {
    state
        .as_object()
        .unwrap()
        .iter()
        .map(|(state_key, event_id)| {
            let (event_type, state_key) = state_key.split_once('\u{0}').unwrap();
            (key(event_type, state_key), id(event_id.as_str().unwrap()))
        })
        .collect()
}

#[test]
fn state_after_every_merge_equals_synapse() {
    let room = FixtureRoom::load("h_name_topic_race_v1");
    let mut merges = 0;
    for event in &room.pdus {
        let pdu = event.pdu();
        if pdu.prev_events().len() < 2 {
            continue;
        }
        merges += 1;
        let label = room.label(pdu.event_id());
        let state_sets: Vec<StateIds> =
            pdu.prev_events().iter().map(|prev| room.state_after[prev].clone()).collect();
        let expected = &room.state_after[pdu.owned_event_id()];
        for state_sets in permutations(&state_sets) {
            let mut state =
                room.resolve(&state_sets).unwrap_or_else(|error| panic!("{label}: {error}"));
            // The state after: the state before, plus the event if it is an accepted state event.
            if let (Some(state_key), false) = (pdu.state_key(), event.rejected()) {
                state.insert(key(pdu.event_type(), state_key), pdu.owned_event_id().clone());
            }
            assert_eq!(&state, expected, "state after {label}");
        }
    }
    assert!(merges > 0, "the room has a merge");
}

#[test]
fn current_state_equals_synapse() {
    let room = FixtureRoom::load("h_name_topic_race_v1");
    let state_sets: Vec<StateIds> = room
        .forward_extremities
        .iter()
        .map(|extremity| room.state_after[extremity].clone())
        .collect();
    let labels: Vec<&str> = room.forward_extremities.iter().map(|id| room.label(id)).collect();
    assert_eq!(
        room.resolve(&state_sets).unwrap(),
        room.current_state,
        "current state, forward extremities {labels:?}"
    );
}

/// The states Synapse resolved as the events arrived one by one: the current state whenever the
/// room had several forward extremities (the fixture's `resolutions`). Synapse's results are
/// given only at the merge; here every such resolution must keep the unconflicted state and pick
/// each conflicted key from one of the forks.
#[test]
fn current_state_while_forked_picks_from_the_forks() {
    let room = FixtureRoom::load("h_name_topic_race_v1");
    let mut extremities: BTreeSet<OwnedEventId> = BTreeSet::new();
    let mut forked = 0;
    for event in &room.pdus {
        let pdu = event.pdu();
        let label = room.label(pdu.event_id());
        if event.rejected() {
            continue;
        }
        for prev in pdu.prev_events() {
            extremities.remove(prev);
        }
        extremities.insert(pdu.owned_event_id().clone());
        if extremities.len() < 2 {
            continue;
        }
        forked += 1;
        let state_sets: Vec<StateIds> =
            extremities.iter().map(|extremity| room.state_after[extremity].clone()).collect();
        let state = room.resolve(&state_sets).unwrap_or_else(|error| panic!("{label}: {error}"));
        let keys: BTreeSet<&StateKey> = state_sets.iter().flat_map(|set| set.keys()).collect();
        assert_eq!(state.keys().collect::<BTreeSet<_>>(), keys, "after {label}");
        for (key, event_id) in &state {
            assert!(
                state_sets.iter().any(|set| set.get(key) == Some(event_id)),
                "after {label}: {key:?} = {} comes from no fork",
                room.label(event_id)
            );
        }
    }
    assert!(forked > 0, "the room forks");
}

#[test]
fn the_fixture_exercises_the_tie_breaks() {
    // What the room was built to test, checked at the merge: the power levels conflict is
    // resolved first, bob's deeper name then fails against it, and the two topics at the same
    // depth are decided by the SHA-1 of their ids.
    let room = FixtureRoom::load("h_name_topic_race_v1");
    let by_label = |label: &str| {
        let (event_id, _) = room.labels.iter().find(|(_, known)| *known == label).unwrap();
        room.events[&id(event_id)].clone()
    };
    let merge = by_label("merge");
    let state_sets: Vec<StateIds> =
        merge.pdu().prev_events().iter().map(|prev| room.state_after[prev].clone()).collect();
    let state = room.resolve(&state_sets).unwrap();
    let label_at = |event_type: &str| room.label(&state[&key(event_type, "")]).to_owned();
    assert_eq!(label_at("m.room.power_levels"), "a_pl1");
    assert_eq!(label_at("m.room.name"), "a_name");
    assert_eq!(label_at("m.room.topic"), "b_topic");
    let (a_topic, b_topic) = (by_label("a_topic"), by_label("b_topic"));
    assert_eq!(a_topic.pdu().depth(), b_topic.pdu().depth());
    assert!(by_label("b_name").pdu().depth() > by_label("a_name").pdu().depth());
}

// ---------------------------------------------------------------------------------------------
// Hand-made events: a room where alice has power 100 and bob 50; state events need 50, the name
// and the power levels 100. Ids are chosen for their SHA-1 (`printf %s ID | sha1sum`):
//
// | id                     | SHA-1 starts | order by SHA-1 vs by id |
// |------------------------|--------------|-------------------------|
// | `$topic_a:example.org` | `9cce635b`   | SHA-1 greater, id less  |
// | `$topic_b:example.org` | `4bfb2d3e`   |                         |
// | `$name_a:example.org`  | `c8a6a472`   | SHA-1 greater, id less  |
// | `$name_b:example.org`  | `281010e0`   |                         |
// | `$pl_alice:example.org`| `b54700d7`   | SHA-1 greater, id less  |
// | `$pl_bob:example.org`  | `312c22e9`   |                         |

const ROOM: &str = "!room:example.org";
const ALICE: &str = "@alice:example.org";
const BOB: &str = "@bob:example.org";
const EVE: &str = "@eve:example.org";

fn event_in(
    room_id: &str,
    event_id: &str,
    event_type: &str,
    state_key: &str,
    sender: &str,
    depth: u64,
    content: JsonValue,
) -> RoomEvent {
    let pdu = json!({
        "event_id": event_id,
        "room_id": room_id,
        "type": event_type,
        "state_key": state_key,
        "sender": sender,
        "content": content,
        "depth": depth,
        "origin_server_ts": 1_790_000_000_000_u64 + depth,
        "prev_events": [],
        "auth_events": [],
    });
    RoomEvent::new(Pdu::from_json_value(pdu, &v1()).unwrap(), false)
}

fn event(
    event_id: &str,
    event_type: &str,
    state_key: &str,
    sender: &str,
    depth: u64,
    content: JsonValue,
) -> RoomEvent {
    event_in(ROOM, event_id, event_type, state_key, sender, depth, content)
}

fn topic(event_id: &str, sender: &str, depth: u64) -> RoomEvent {
    event(event_id, "m.room.topic", "", sender, depth, json!({ "topic": event_id }))
}

fn name(event_id: &str, sender: &str, depth: u64) -> RoomEvent {
    event(event_id, "m.room.name", "", sender, depth, json!({ "name": event_id }))
}

fn power_levels(event_id: &str, sender: &str, depth: u64, users: JsonValue) -> RoomEvent {
    let content = json!({
        "users": users,
        "state_default": 50,
        "events": { "m.room.name": 100, "m.room.power_levels": 100 },
    });
    event(event_id, "m.room.power_levels", "", sender, depth, content)
}

fn join_rules(event_id: &str, depth: u64, rule: &str) -> RoomEvent {
    event(event_id, "m.room.join_rules", "", ALICE, depth, json!({ "join_rule": rule }))
}

fn member(event_id: &str, user: &str, depth: u64, membership: &str) -> RoomEvent {
    event(event_id, "m.room.member", user, user, depth, json!({ "membership": membership }))
}

/// The events of a hand-made test and their room state.
#[derive(Default)]
struct Room {
    events: BTreeMap<OwnedEventId, RoomEvent>,
}

impl Room {
    /// The room alice created, with bob joined; `without` leaves out those keys (a test
    /// conflicts them).
    fn base(without: &[StateKey]) -> (Self, StateIds) {
        let mut room = Self::default();
        let events = [
            event(
                "$create:example.org",
                "m.room.create",
                "",
                ALICE,
                1,
                json!({ "creator": ALICE }),
            ),
            member("$join_alice:example.org", ALICE, 2, "join"),
            power_levels("$pl0:example.org", ALICE, 3, json!({ ALICE: 100, BOB: 50 })),
            join_rules("$jr_public:example.org", 4, "public"),
            member("$join_bob:example.org", BOB, 5, "join"),
        ];
        let mut state = StateIds::new();
        for event in events {
            let key = state_key_of(&event);
            if !without.contains(&key) {
                state.insert(key, room.add(event));
            }
        }
        (room, state)
    }

    fn add(&mut self, event: RoomEvent) -> OwnedEventId {
        let event_id = event.pdu().owned_event_id().clone();
        self.events.insert(event_id.clone(), event);
        event_id
    }

    /// One state set per branch: `base` with the branch's events set.
    fn branches(&mut self, base: &StateIds, branches: Vec<Vec<RoomEvent>>) -> Vec<StateIds> {
        branches
            .into_iter()
            .map(|events| {
                let mut state = base.clone();
                for event in events {
                    state.insert(state_key_of(&event), self.add(event));
                }
                state
            })
            .collect()
    }

    fn resolve(&self, state_sets: &[StateIds]) -> Result<StateIds, StateResV1Error> {
        let fetch = |event_id: &EventId| self.events.get(event_id).cloned();
        resolve_v1(&v1().rules().authorization, state_sets, &fetch)
    }

    /// Resolves in every order of the sets, which must agree.
    fn resolve_all_orders(&self, state_sets: &[StateIds], case: &str) -> StateIds {
        let mut results = permutations(state_sets)
            .into_iter()
            .map(|order| self.resolve(&order).unwrap_or_else(|error| panic!("{case}: {error}")));
        let first = results.next().unwrap();
        for other in results {
            assert_eq!(other, first, "{case}: the order of the state sets matters");
        }
        first
    }
}

fn state_key_of(event: &RoomEvent) -> StateKey {
    key(event.pdu().event_type(), event.pdu().state_key().unwrap())
}

/// A conflicted key that authorization does not read: the deepest candidate that passes, ties to
/// the least SHA-1; if none passes, the last in that order.
#[test]
fn normal_events_deepest_passing_then_least_sha1() {
    struct Case {
        name: &'static str,
        candidates: Vec<RoomEvent>,
        expected: &'static str,
    }
    let cases = [
        Case {
            name: "the deeper wins",
            candidates: vec![
                topic("$topic_a:example.org", BOB, 9),
                topic("$topic_b:example.org", ALICE, 8),
            ],
            expected: "$topic_a:example.org",
        },
        Case {
            name: "the deeper wins whatever its SHA-1",
            candidates: vec![
                topic("$topic_a:example.org", BOB, 8),
                topic("$topic_b:example.org", ALICE, 9),
            ],
            expected: "$topic_b:example.org",
        },
        Case {
            name: "same depth: the least SHA-1 (not the least id)",
            candidates: vec![
                topic("$topic_a:example.org", ALICE, 8),
                topic("$topic_b:example.org", BOB, 8),
            ],
            expected: "$topic_b:example.org",
        },
        Case {
            name: "the deeper fails auth (bob may not set the name): the next that passes",
            candidates: vec![
                name("$name_b:example.org", BOB, 9),
                name("$name_a:example.org", ALICE, 8),
            ],
            expected: "$name_a:example.org",
        },
        Case {
            name: "the least SHA-1 fails auth: the next that passes",
            candidates: vec![
                name("$name_b:example.org", BOB, 8),
                name("$name_a:example.org", ALICE, 8),
            ],
            expected: "$name_a:example.org",
        },
        Case {
            name: "none passes: the shallowest",
            candidates: vec![
                name("$name_a:example.org", BOB, 8),
                name("$name_b:example.org", BOB, 9),
            ],
            expected: "$name_a:example.org",
        },
        Case {
            name: "none passes, same depth: the greatest SHA-1",
            candidates: vec![
                name("$name_a:example.org", BOB, 8),
                name("$name_b:example.org", BOB, 8),
            ],
            expected: "$name_a:example.org",
        },
        Case {
            name: "three forks: the deepest that passes",
            candidates: vec![
                name("$name_deep:example.org", EVE, 12),
                name("$name_b:example.org", BOB, 11),
                name("$name_a:example.org", ALICE, 10),
            ],
            expected: "$name_a:example.org",
        },
    ];
    for case in cases {
        let (mut room, base) = Room::base(&[]);
        let conflicted = state_key_of(&case.candidates[0]);
        let sets =
            room.branches(&base, case.candidates.into_iter().map(|event| vec![event]).collect());
        let state = room.resolve_all_orders(&sets, case.name);
        let mut expected = base.clone();
        expected.insert(conflicted, id(case.expected));
        assert_eq!(state, expected, "{}", case.name);
    }
}

/// A conflicted key that authorization reads (here the power levels): walked from the shallowest
/// (ties: greatest SHA-1 first), the first taken unchecked, each next one taken while it passes
/// against the one taken before; the walk stops at the first that fails.
#[test]
fn auth_events_walk_up_from_the_shallowest() {
    struct Case {
        name: &'static str,
        candidates: Vec<RoomEvent>,
        expected: &'static str,
    }
    let cases = [
        Case {
            name: "each passes against the previous: the deepest",
            candidates: vec![
                power_levels("$pl1:example.org", ALICE, 6, json!({ ALICE: 100, BOB: 50 })),
                power_levels("$pl2:example.org", ALICE, 7, json!({ ALICE: 100, BOB: 60 })),
            ],
            expected: "$pl2:example.org",
        },
        Case {
            name: "the walk stops at the first failure, though a deeper one would pass",
            candidates: vec![
                power_levels("$pl1:example.org", ALICE, 6, json!({ ALICE: 100, BOB: 50 })),
                power_levels("$pl2:example.org", BOB, 7, json!({ ALICE: 100, BOB: 100 })),
                power_levels("$pl3:example.org", ALICE, 8, json!({ ALICE: 100, BOB: 40 })),
            ],
            expected: "$pl1:example.org",
        },
        Case {
            name: "the shallowest is taken unchecked (eve is no member)",
            candidates: vec![
                power_levels("$pl_eve:example.org", EVE, 6, json!({ EVE: 100 })),
                power_levels("$pl2:example.org", ALICE, 7, json!({ ALICE: 100, BOB: 60 })),
            ],
            expected: "$pl_eve:example.org",
        },
        Case {
            // Taken first, alice's (bob at 0) makes bob's fail; taken first, bob's (bob at 100)
            // makes alice's fail (she may not lower a level equal to hers).
            name: "same depth: the greatest SHA-1 is taken first",
            candidates: vec![
                power_levels("$pl_alice:example.org", ALICE, 6, json!({ ALICE: 100 })),
                power_levels("$pl_bob:example.org", BOB, 6, json!({ ALICE: 100, BOB: 100 })),
            ],
            expected: "$pl_alice:example.org",
        },
        Case {
            name: "the shallower is taken first whatever its SHA-1",
            candidates: vec![
                power_levels("$pl_alice:example.org", ALICE, 7, json!({ ALICE: 100 })),
                power_levels("$pl_bob:example.org", BOB, 6, json!({ ALICE: 100, BOB: 100 })),
            ],
            expected: "$pl_bob:example.org",
        },
    ];
    for case in cases {
        let power = key("m.room.power_levels", "");
        let (mut room, base) = Room::base(std::slice::from_ref(&power));
        let sets =
            room.branches(&base, case.candidates.into_iter().map(|event| vec![event]).collect());
        let state = room.resolve_all_orders(&sets, case.name);
        let mut expected = base.clone();
        expected.insert(power, id(case.expected));
        assert_eq!(state, expected, "{}", case.name);
    }
}

/// Power levels, then join rules, then members, then the rest: each phase is authorized against
/// the outcome of the previous ones. Bob left in one fork and rejoined in the other, and sets the
/// topic there; alice changed the join rules in both and set the topic in the first.
#[test]
fn phases_read_the_outcome_of_the_previous_ones() {
    for (invite_depth, public_depth, expected_member, expected_topic) in [
        // The invite rule is deeper and wins: bob's join fails against it, so bob's leave stays,
        // and bob's topic fails (he is not joined).
        (7, 6, "$leave_bob:example.org", "$topic_alice:example.org"),
        // The public rule wins: bob's join passes, and so does his deeper topic.
        (6, 7, "$rejoin_bob:example.org", "$topic_bob:example.org"),
    ] {
        let case = format!("invite rule at depth {invite_depth}, public at {public_depth}");
        let conflicted = [key("m.room.join_rules", ""), key("m.room.member", BOB)];
        let (mut room, base) = Room::base(&conflicted);
        let sets = room.branches(
            &base,
            vec![
                vec![
                    join_rules("$jr_invite:example.org", invite_depth, "invite"),
                    member("$leave_bob:example.org", BOB, 5, "leave"),
                    topic("$topic_alice:example.org", ALICE, 8),
                ],
                vec![
                    join_rules("$jr_public2:example.org", public_depth, "public"),
                    member("$rejoin_bob:example.org", BOB, 8, "join"),
                    topic("$topic_bob:example.org", BOB, 9),
                ],
            ],
        );
        let state = room.resolve_all_orders(&sets, &case);
        let expected_rule = if invite_depth > public_depth {
            "$jr_invite:example.org"
        } else {
            "$jr_public2:example.org"
        };
        assert_eq!(state[&conflicted[0]], id(expected_rule), "{case}");
        assert_eq!(state[&conflicted[1]], id(expected_member), "{case}");
        assert_eq!(state[&key("m.room.topic", "")], id(expected_topic), "{case}");
    }
}

#[test]
fn a_key_some_sets_lack_is_not_conflicted() {
    // Eve's topic would fail auth, but it is no conflict: no set holds another topic.
    let (mut room, base) = Room::base(&[]);
    let sets = room.branches(&base, vec![vec![topic("$topic_eve:example.org", EVE, 9)], vec![]]);
    let state = room.resolve_all_orders(&sets, "absent key");
    assert_eq!(state, sets[0]);
}

#[test]
fn rejected_candidates_are_left_out() {
    let (mut room, base) = Room::base(&[]);
    let deep = topic("$topic_a:example.org", ALICE, 9).with_rejected(true);
    let sets =
        room.branches(&base, vec![vec![deep], vec![topic("$topic_b:example.org", ALICE, 8)]]);
    let state = room.resolve_all_orders(&sets, "one rejected");
    assert_eq!(state, sets[1], "the rejected topic is left out");

    // Both rejected: the key disappears, as in Synapse.
    let shallow = topic("$topic_b:example.org", ALICE, 8).with_rejected(true);
    room.add(shallow);
    let state = room.resolve_all_orders(&sets, "both rejected");
    assert_eq!(state, base, "no topic");

    // A rejected unconflicted event is not in the auth map: with the power levels, bob (power
    // 50) may set the topic and his deeper topic wins; without them he has power 0 and the state
    // default is still 50, so alice's topic wins.
    for power_rejected in [false, true] {
        let (mut room, base) = Room::base(&[]);
        let power =
            room.events[&base[&key("m.room.power_levels", "")]].with_rejected(power_rejected);
        room.add(power);
        let sets = room.branches(
            &base,
            vec![
                vec![topic("$topic_a:example.org", ALICE, 8)],
                vec![topic("$topic_b:example.org", BOB, 9)],
            ],
        );
        let case = format!("power levels rejected: {power_rejected}");
        let state = room.resolve_all_orders(&sets, &case);
        let expected = if power_rejected { "$topic_a:example.org" } else { "$topic_b:example.org" };
        assert_eq!(state[&key("m.room.topic", "")], id(expected), "{case}");
        assert_eq!(state[&key("m.room.power_levels", "")], id("$pl0:example.org"), "{case}");
    }
}

#[test]
fn only_conflicted_events_and_their_auth_events_are_fetched() {
    let (mut room, mut base) = Room::base(&[]);
    // An unconflicted event nobody can fetch, which no candidate's authorization reads.
    base.insert(key("m.room.history_visibility", ""), id("$unknown:example.org"));
    let sets = room.branches(
        &base,
        vec![
            vec![topic("$topic_a:example.org", ALICE, 8)],
            vec![topic("$topic_b:example.org", ALICE, 8)],
        ],
    );
    let fetched = std::cell::RefCell::new(BTreeSet::new());
    let fetch = |event_id: &EventId| {
        fetched.borrow_mut().insert(event_id.to_string());
        room.events.get(event_id).cloned()
    };
    let state = resolve_v1(&v1().rules().authorization, &sets, &fetch).unwrap();
    assert_eq!(state[&key("m.room.topic", "")], id("$topic_b:example.org"));
    let expected: BTreeSet<String> = [
        "$topic_a:example.org",
        "$topic_b:example.org",
        "$create:example.org",
        "$join_alice:example.org",
        "$pl0:example.org",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(fetched.into_inner(), expected);
}

#[test]
fn one_state_set_is_returned_as_it_is_and_none_is_empty() {
    let (room, base) = Room::base(&[]);
    let mut odd = base.clone();
    odd.insert(key("m.room.topic", ""), id("$unknown:example.org"));
    assert_eq!(room.resolve(std::slice::from_ref(&odd)).unwrap(), odd);
    assert_eq!(room.resolve(&[]).unwrap(), StateIds::new());
    assert_eq!(room.resolve(&[base.clone(), base.clone(), base.clone()]).unwrap(), base);
}

#[test]
fn errors() {
    // A candidate nobody can fetch.
    let (mut room, base) = Room::base(&[]);
    let mut sets =
        room.branches(&base, vec![vec![topic("$topic_a:example.org", ALICE, 8)], vec![]]);
    sets[1].insert(key("m.room.topic", ""), id("$unknown:example.org"));
    assert_eq!(room.resolve(&sets), Err(StateResV1Error::MissingEvent(id("$unknown:example.org"))));

    // An auth event nobody can fetch.
    let (mut room, base) = Room::base(&[]);
    let sets = room.branches(
        &base,
        vec![
            vec![topic("$topic_a:example.org", ALICE, 8)],
            vec![topic("$topic_b:example.org", ALICE, 8)],
        ],
    );
    room.events.remove(&id("$pl0:example.org"));
    assert_eq!(room.resolve(&sets), Err(StateResV1Error::MissingEvent(id("$pl0:example.org"))));

    // An event of another room.
    let (mut room, base) = Room::base(&[]);
    let elsewhere = event_in(
        "!elsewhere:example.org",
        "$topic_b:example.org",
        "m.room.topic",
        "",
        ALICE,
        8,
        json!({ "topic": "elsewhere" }),
    );
    let sets =
        room.branches(&base, vec![vec![topic("$topic_a:example.org", ALICE, 8)], vec![elsewhere]]);
    match room.resolve(&sets) {
        Err(StateResV1Error::WrongRoom { room_id, expected, .. }) => {
            let rooms = BTreeSet::from([room_id.to_string(), expected.to_string()]);
            assert_eq!(
                rooms,
                BTreeSet::from([ROOM.to_owned(), "!elsewhere:example.org".to_owned()])
            );
        }
        other => panic!("expected WrongRoom, got {other:?}"),
    }

    // A membership candidate without a membership: which state authorizes it is unknown.
    let (mut room, base) = Room::base(&[key("m.room.member", BOB)]);
    let sets = room.branches(
        &base,
        vec![
            vec![member("$join_bob2:example.org", BOB, 6, "join")],
            vec![event("$odd_bob:example.org", "m.room.member", BOB, BOB, 6, json!({}))],
        ],
    );
    match room.resolve(&sets) {
        Err(StateResV1Error::InvalidEvent { event_id, .. }) => {
            assert_eq!(event_id, id("$odd_bob:example.org"));
        }
        other => panic!("expected InvalidEvent, got {other:?}"),
    }
}

/// A pool of candidates for a few keys, some odd: rejected, of another room, unknown, without a
/// membership, sent by a stranger.
fn pool() -> (Room, StateIds, Vec<Vec<OwnedEventId>>) {
    let conflictable = [
        key("m.room.power_levels", ""),
        key("m.room.join_rules", ""),
        key("m.room.member", BOB),
        key("m.room.topic", ""),
        key("m.room.name", ""),
    ];
    let (mut room, base) = Room::base(&conflictable);
    let candidates = vec![
        vec![
            power_levels("$pl1:example.org", ALICE, 6, json!({ ALICE: 100, BOB: 50 })),
            power_levels("$pl2:example.org", BOB, 7, json!({ ALICE: 100, BOB: 100 })),
            power_levels("$pl_eve:example.org", EVE, 7, json!({ EVE: 100 })),
            power_levels("$pl3:example.org", ALICE, 8, json!({ ALICE: 100 })).with_rejected(true),
        ],
        vec![
            join_rules("$jr_invite:example.org", 6, "invite"),
            join_rules("$jr_public2:example.org", 7, "public"),
        ],
        vec![
            member("$leave_bob:example.org", BOB, 6, "leave"),
            member("$rejoin_bob:example.org", BOB, 8, "join"),
            event("$odd_bob:example.org", "m.room.member", BOB, BOB, 7, json!({})),
        ],
        vec![
            topic("$topic_a:example.org", ALICE, 8),
            topic("$topic_b:example.org", BOB, 8),
            topic("$topic_eve:example.org", EVE, 9),
            event_in(
                "!elsewhere:example.org",
                "$topic_x:example.org",
                "m.room.topic",
                "",
                BOB,
                9,
                json!({}),
            ),
        ],
        vec![name("$name_a:example.org", ALICE, 8), name("$name_b:example.org", BOB, 9)],
    ];
    let mut ids: Vec<Vec<OwnedEventId>> = candidates
        .into_iter()
        .map(|events| events.into_iter().map(|event| room.add(event)).collect())
        .collect();
    ids[3].push(id("$unknown:example.org"));
    (room, base, ids)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 2_000, ..Default::default() })]

    /// Any states built from the pool resolve to a typed error or to a state that keeps every key
    /// of the sets (or drops one whose candidates were all rejected) with a value one set holds,
    /// whatever the order of the sets.
    #[test]
    fn any_states_resolve_without_panicking(
        choices in proptest::collection::vec(proptest::collection::vec(proptest::option::of(0..5_usize), 5), 0..5),
    ) {
        let (room, base, ids) = pool();
        let sets: Vec<StateIds> = choices
            .iter()
            .map(|choice| {
                let mut state = base.clone();
                for (candidates, pick) in ids.iter().zip(choice) {
                    if let Some(candidate) = pick.and_then(|pick| candidates.get(pick)) {
                        let key = room.events.get(candidate).map_or_else(
                            || key("m.room.topic", ""),
                            state_key_of,
                        );
                        state.insert(key, candidate.clone());
                    }
                }
                state
            })
            .collect();
        let result = room.resolve(&sets);
        let mut reversed = sets.clone();
        reversed.reverse();
        proptest::prop_assert_eq!(&room.resolve(&reversed), &result);
        if let Ok(state) = result {
            for (key, event_id) in &state {
                proptest::prop_assert!(sets.iter().any(|set| set.get(key) == Some(event_id)));
            }
            for set in &sets {
                for key in set.keys() {
                    let dropped = sets.iter().filter_map(|set| set.get(key)).all(|event_id| {
                        room.events.get(event_id).is_some_and(|event| event.rejected())
                    });
                    proptest::prop_assert!(state.contains_key(key) || dropped);
                }
            }
        }
    }
}
