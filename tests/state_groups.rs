//! State groups against what a real Synapse 1.163.2 stored (`state_groups`, `state_group_edges`,
//! `state_groups_state`, `event_to_state_groups`), the state of every group in forked rooms, the
//! bound on delta chains, resolved states, filtered reads, and loading stored groups back.
#![cfg(all(not(target_arch = "wasm32"), feature = "store"))]

mod common;

use common::{event_id, expected_state, fixture, fork_order, room_pdus, state_map as strings};

use std::collections::{BTreeMap, BTreeSet};

use prejoin::model::pdu::Pdu;
use prejoin::model::room_version::RoomVersion;
use prejoin::model::{StateFilter, StateKeyFilter};
use prejoin::persist::state_groups::{
    StateGroupError, StateGroupId, MAX_STATE_DELTA_HOPS, MAX_STATE_GROUP_ID,
};
use prejoin::persist::{EventStateGroups, RoomHistory, StateGroupRow, StateGroups, StateIds};
use ruma_common::{EventId, OwnedEventId};
use serde_json::{json, Value as JsonValue};

fn key(event_type: &str, state_key: &str) -> (String, String) {
    (event_type.to_owned(), state_key.to_owned())
}

/// The state before a PDU, from the history that has not received it yet. With several prev
/// events the history resolves their states, and shows only the state after an event: a probe
/// (a message with the same prev events, whose state after is the state before it) is received by
/// a copy of the history to read the resolution.
fn state_before(history: &RoomHistory, pdu: &Pdu) -> StateIds {
    let prevs = pdu.prev_events();
    let states: BTreeSet<&StateIds> =
        prevs.iter().filter_map(|prev| history.state_after(prev)).collect();
    if states.len() <= 1 {
        return states.into_iter().next().cloned().unwrap_or_default();
    }
    let mut probe = serde_json::to_value(pdu.as_object()).unwrap();
    let object = probe.as_object_mut().unwrap();
    object.insert("type".to_owned(), json!("m.room.message"));
    object.remove("state_key");
    object.insert("content".to_owned(), json!({"msgtype": "m.text", "body": "probe"}));
    if object.contains_key("event_id") {
        object.insert("event_id".to_owned(), json!("$state-before-probe:example.org"));
    }
    let probe = Pdu::from_json_value(probe, pdu.room_version()).unwrap();
    let probe_id = probe.event_id().to_owned();
    let mut copy = history.clone();
    copy.receive(probe).unwrap();
    copy.state_after(&probe_id).unwrap().clone()
}

/// A room replayed event by event through a history and the planner.
struct Replay {
    history: RoomHistory,
    groups: StateGroups,
    planned: Vec<(OwnedEventId, EventStateGroups)>,
}

impl Replay {
    fn new(version: RoomVersion, groups: StateGroups) -> Self {
        Self { history: RoomHistory::new(version), groups, planned: Vec::new() }
    }

    fn receive(&mut self, pdu: Pdu) {
        let id = pdu.event_id().to_owned();
        let prevs = pdu.prev_events().to_vec();
        let before = state_before(&self.history, &pdu);
        self.history.receive(pdu).unwrap();
        let after = self.history.state_after(&id).unwrap().clone();
        let planned = self.groups.plan_event(&id, &prevs, &before, &after).unwrap();
        assert_eq!(self.groups.event_group(&id), Some(planned.state_group));
        self.planned.push((id, planned));
    }
}

/// Synapse's groups of a room: id → (event id, prev group, rows).
type SynapseGroups = BTreeMap<u64, (String, Option<u64>, BTreeMap<(String, String), String>)>;

fn synapse_groups(room: &JsonValue) -> SynapseGroups {
    let mut groups: SynapseGroups = room["state_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let id = row["id"].as_u64().unwrap();
            (id, (row["event_id"].as_str().unwrap().to_owned(), None, BTreeMap::new()))
        })
        .collect();
    for edge in room["state_group_edges"].as_array().unwrap() {
        let group = groups.get_mut(&edge["state_group"].as_u64().unwrap()).unwrap();
        assert_eq!(group.1, None, "one edge per group");
        group.1 = Some(edge["prev_state_group"].as_u64().unwrap());
    }
    for row in room["state_groups_state"].as_array().unwrap() {
        let group = groups.get_mut(&row["state_group"].as_u64().unwrap()).unwrap();
        let key = key(row["type"].as_str().unwrap(), row["state_key"].as_str().unwrap());
        group.2.insert(key, row["event_id"].as_str().unwrap().to_owned());
    }
    groups
}

fn synapse_state_of(groups: &SynapseGroups, mut group: u64) -> BTreeMap<(String, String), String> {
    let mut state = BTreeMap::new();
    loop {
        let (_, prev, rows) = &groups[&group];
        for (key, id) in rows {
            state.entry(key.clone()).or_insert_with(|| id.clone());
        }
        match prev {
            Some(prev) => group = *prev,
            None => return state,
        }
    }
}

/// Pairs Synapse's group ids with ours, in order of first appearance: each event's group, then
/// each paired group's prev group. Panics if the pairing is not one to one.
fn pair_groups(
    name: &str,
    room: &JsonValue,
    synapse: &SynapseGroups,
    replay: &Replay,
) -> BTreeMap<u64, StateGroupId> {
    let mut pairs = Pairs::default();
    let events = room["events"].as_array().unwrap();
    for (event, (id, planned)) in events.iter().zip(&replay.planned) {
        assert_eq!(event["event_id"].as_str().unwrap(), id.as_str());
        pairs.pair(name, event["state_group"].as_u64().unwrap(), planned.state_group);
    }
    let mut to_visit: Vec<(u64, StateGroupId)> =
        pairs.theirs_to_ours.iter().map(|(theirs, ours)| (*theirs, *ours)).collect();
    while let Some((theirs, ours)) = to_visit.pop() {
        let their_prev = synapse[&theirs].1;
        let our_prev = replay.groups.group(ours).unwrap().prev_group;
        match (their_prev, our_prev) {
            (Some(their_prev), Some(our_prev)) => {
                pairs.pair(name, their_prev, our_prev);
                to_visit.push((their_prev, our_prev));
            }
            (None, None) => {}
            other => panic!("{name}: prev groups of {theirs} / {ours}: {other:?}"),
        }
    }
    pairs.theirs_to_ours
}

/// Group ids paired one to one.
#[derive(Default)]
struct Pairs {
    theirs_to_ours: BTreeMap<u64, StateGroupId>,
    ours_to_theirs: BTreeMap<StateGroupId, u64>,
}

impl Pairs {
    fn pair(&mut self, name: &str, theirs: u64, ours: StateGroupId) {
        let known_ours = *self.theirs_to_ours.entry(theirs).or_insert(ours);
        let known_theirs = *self.ours_to_theirs.entry(ours).or_insert(theirs);
        assert_eq!((known_ours, known_theirs), (ours, theirs), "{name}: pairing of {theirs}");
    }
}

#[test]
fn groups_match_synapse_rows_in_every_room() {
    let fixture = fixture("pdus.json");
    for room in fixture["rooms"].as_array().unwrap() {
        let name = room["name"].as_str().unwrap();
        let version = RoomVersion::parse(room["room_version"].as_str().unwrap()).unwrap();
        let mut replay = Replay::new(version, StateGroups::default());
        for pdu in room_pdus(room) {
            replay.receive(pdu);
        }
        let synapse = synapse_groups(room);
        let pairs = pair_groups(name, room, &synapse, &replay);

        assert_eq!(replay.groups.len(), synapse.len(), "{name}: number of groups");
        assert_eq!(pairs.len(), synapse.len(), "{name}: every group paired");
        let written: usize =
            replay.planned.iter().map(|(_, planned)| planned.new_groups.len()).sum();
        assert_eq!(written, synapse.len(), "{name}: every group written once");

        for (theirs, ours) in &pairs {
            let (their_event, their_prev, their_rows) = &synapse[theirs];
            let row = replay.groups.group(*ours).unwrap();
            assert_eq!(row.event_id.as_str(), their_event, "{name}: event of group {theirs}");
            assert_eq!(row.prev_group, their_prev.map(|prev| pairs[&prev]), "{name}: {theirs}");
            assert_eq!(&ours_rows(row), their_rows, "{name}: rows of group {theirs}");
            assert_eq!(
                strings(&replay.groups.state_of(*ours).unwrap()),
                synapse_state_of(&synapse, *theirs),
                "{name}: state of group {theirs}"
            );
        }
        for (id, planned) in &replay.planned {
            let state = replay.groups.state_of(planned.state_group).unwrap();
            assert_eq!(&state, replay.history.state_after(id).unwrap(), "{name}: state after {id}");
        }

        // The first group is empty, named after the create event, and the create event's group
        // builds on it.
        let (create_id, create) = &replay.planned[0];
        assert_eq!(create.new_groups.len(), 2, "{name}");
        let empty = &create.new_groups[0];
        assert!(empty.is_snapshot() && empty.delta.is_empty() && &empty.event_id == create_id);
        assert_eq!(create.new_groups[1].prev_group, Some(empty.id));
        assert_eq!(create.state_group_before, empty.id);
    }
}

fn ours_rows(row: &StateGroupRow) -> BTreeMap<(String, String), String> {
    strings(&row.delta)
}

#[test]
fn every_group_of_forked_rooms_holds_the_state_after_its_events() {
    let fixture = fixture("forks.json");
    let mut merges = 0;
    for room in fixture["rooms"].as_array().unwrap() {
        let name = room["name"].as_str().unwrap();
        let version = RoomVersion::parse(room["room_version"].as_str().unwrap()).unwrap();
        let (order, pdus) = fork_order(room);
        let mut replay = Replay::new(version.clone(), StateGroups::default());
        for id in &order {
            let pdu = Pdu::from_json_value(pdus[id].clone(), &version).unwrap();
            let prev_groups: BTreeSet<StateGroupId> = pdu
                .prev_events()
                .iter()
                .filter_map(|prev| replay.groups.event_group(prev))
                .collect();
            replay.receive(pdu);
            let (_, planned) = replay.planned.last().unwrap();
            if prev_groups.len() > 1 {
                merges += 1;
                // The state before a merge is a prev group, or a new group built on one of them.
                let before = planned.state_group_before;
                let base = replay.groups.group(before).unwrap().prev_group;
                assert!(
                    prev_groups.contains(&before) || base.is_some_and(|b| prev_groups.contains(&b)),
                    "{name}: the state before {id}"
                );
            }
        }
        for id in &order {
            let group = replay.groups.event_group(&event_id(id)).unwrap();
            let state = replay.groups.state_of(group).unwrap();
            assert_eq!(
                &state,
                replay.history.state_after(&event_id(id)).unwrap(),
                "{name}: state of the group of {id}"
            );
            assert_eq!(
                strings(&state),
                expected_state(&room["expected"]["state_after"][id]),
                "{name}: Synapse's state after {id}"
            );
        }
        for row in replay.groups.groups() {
            assert!(replay.groups.hops(row.id).unwrap() <= MAX_STATE_DELTA_HOPS, "{name}");
            let Some(prev) = row.prev_group else { continue };
            assert!(prev < row.id, "{name}: a group builds on an older one");
            assert!(!row.delta.is_empty(), "{name}: a delta group changes something");
        }
        // Rejected events add no group: they map to the group of the state before them.
        for (id, planned) in &replay.planned {
            if room["expected"]["rejected"].get(id.as_str()).is_some() {
                assert_eq!(planned.state_group, planned.state_group_before, "{name}: {id}");
            }
        }
    }
    assert!(merges >= 6, "the fixture's merges were planned ({merges})");
}

/// An event id for the synthetic rooms.
fn eid(name: &str) -> OwnedEventId {
    event_id(&format!("${name}:example.org"))
}

/// Plans a state event on top of `group`, returning the state after it.
fn plan_state(
    groups: &mut StateGroups,
    id: &EventId,
    prev_groups: &[StateGroupId],
    before: &StateIds,
    state_key: (&str, &str),
) -> (EventStateGroups, StateIds) {
    let mut after = before.clone();
    after.insert(key(state_key.0, state_key.1), id.to_owned());
    let planned = groups.plan(id, prev_groups, before, &after).unwrap();
    (planned, after)
}

/// A room with a create event and `count` state events in a row: a member each, and every tenth
/// a new room name (replacing the previous one). Returns the states after each event.
fn long_room(count: usize) -> (StateGroups, Vec<(OwnedEventId, StateIds)>) {
    let mut groups = StateGroups::default();
    let create = eid("create");
    let (planned, mut state) =
        plan_state(&mut groups, &create, &[], &StateIds::new(), ("m.room.create", ""));
    let mut group = planned.state_group;
    let mut states = vec![(create, state.clone())];
    for index in 1..=count {
        let id = eid(&format!("e{index}"));
        let user = format!("@user{index}:example.org");
        let state_key =
            if index % 10 == 0 { ("m.room.name", "") } else { ("m.room.member", &*user) };
        let (planned, after) = plan_state(&mut groups, &id, &[group], &state, state_key);
        assert_eq!(planned.state_group_before, group);
        assert_eq!(planned.new_groups.len(), 1);
        group = planned.state_group;
        state = after;
        states.push((id, state.clone()));
    }
    (groups, states)
}

#[test]
fn a_long_chain_is_cut_into_a_snapshot_at_the_hop_bound() {
    let (groups, states) = long_room(250);
    let bound = MAX_STATE_DELTA_HOPS as usize;
    let mut snapshots = Vec::new();
    for (index, (id, state)) in states.iter().enumerate() {
        let group = groups.event_group(id).unwrap();
        let row = groups.group(group).unwrap();
        let hops = groups.hops(group).unwrap() as usize;
        assert!(hops <= bound);
        // The empty group has 0 hops, the create event's group 1, event i (from 1) i + 1 until
        // its base is 100 hops away.
        let expected_hops = match index + 1 {
            hops if hops <= bound => hops,
            beyond => (beyond - bound - 1) % (bound + 1),
        };
        assert_eq!(hops, expected_hops, "hops of event {index}");
        if row.is_snapshot() {
            assert_eq!(&row.delta, state, "a snapshot holds the whole state");
            snapshots.push(index);
        } else {
            assert_eq!(row.delta.len(), 1, "a state event's group has one row");
            assert_eq!(groups.hops(row.prev_group.unwrap()).unwrap() as usize, hops - 1);
        }
        assert_eq!(&groups.state_of(group).unwrap(), state, "state after event {index}");
    }
    assert_eq!(snapshots, vec![bound, 2 * bound + 1]);
    assert_eq!(groups.len(), states.len() + 1, "the empty group and one per state event");
    assert_eq!(groups.groups().filter(|row| row.is_snapshot()).count(), 3);

    // A non-state event on the snapshot maps to it.
    let mut groups = groups;
    let snapshot = groups.event_group(&states[bound].0).unwrap();
    let state = &states[bound].1;
    let message = groups.plan(&eid("message"), &[snapshot], state, state).unwrap();
    assert_eq!((message.state_group, message.state_group_before), (snapshot, snapshot));
    assert!(message.new_groups.is_empty());
}

fn filters() -> Vec<(&'static str, StateFilter)> {
    vec![
        ("all", StateFilter::all()),
        ("none", StateFilter::none()),
        ("members only", StateFilter::from_types([("m.room.member", None::<String>)])),
        ("no members", StateFilter::freeze([("m.room.member", StateKeyFilter::empty())], true)),
        (
            "some members and the name",
            StateFilter::from_types([
                ("m.room.member", Some("@user1:example.org")),
                ("m.room.member", Some("@user150:example.org")),
                ("m.room.member", Some("@nobody:example.org")),
                ("m.room.name", Some("")),
            ]),
        ),
        (
            "concrete, all present early",
            StateFilter::from_types([("m.room.name", Some("")), ("m.room.create", Some(""))]),
        ),
        (
            "lazy-loaded members",
            StateFilter::from_lazy_load_member_list([
                "@user3:example.org",
                "@user249:example.org",
                "@nobody:example.org",
            ]),
        ),
        ("create and every member", {
            StateFilter::from_types([("m.room.create", Some("")), ("m.room.member", None)])
        }),
        (
            "no members but one, and no name",
            StateFilter::freeze(
                [
                    ("m.room.member", StateKeyFilter::keys(["@user7:example.org"])),
                    ("m.room.name", StateKeyFilter::empty()),
                ],
                true,
            ),
        ),
        ("a type absent from the room", StateFilter::from_types([("m.room.topic", None::<&str>)])),
    ]
}

#[test]
fn filtered_reads_match_the_full_state_filtered() {
    let (groups, states) = long_room(250);
    for (id, state) in &states {
        let group = groups.event_group(id).unwrap();
        for (label, filter) in filters() {
            let expected = filter.filter_state(state);
            assert_eq!(
                groups.state_of_filtered(group, &filter).unwrap(),
                expected,
                "{label} at {id}"
            );
            assert_eq!(groups.state_at_event(id, &filter).unwrap(), expected, "{label} at {id}");
        }
    }

    // The same on Synapse's rooms.
    let fixture = fixture("pdus.json");
    for room in fixture["rooms"].as_array().unwrap() {
        let version = RoomVersion::parse(room["room_version"].as_str().unwrap()).unwrap();
        let mut replay = Replay::new(version, StateGroups::default());
        for pdu in room_pdus(room) {
            replay.receive(pdu);
        }
        let members: Vec<String> = replay
            .history
            .current_state()
            .keys()
            .filter(|(event_type, _)| event_type == "m.room.member")
            .map(|(_, state_key)| state_key.clone())
            .collect();
        let mut filters = filters();
        filters.push((
            "the room's first member",
            StateFilter::from_lazy_load_member_list(&members[..1]),
        ));
        for (id, _) in &replay.planned {
            let state = replay.history.state_after(id).unwrap();
            for (label, filter) in &filters {
                assert_eq!(
                    replay.groups.state_at_event(id, filter).unwrap(),
                    filter.filter_state(state),
                    "{}: {label} at {id}",
                    room["name"]
                );
            }
        }
    }
}

#[test]
fn resolved_states_reuse_or_build_on_the_closest_prev_group() {
    let mut groups = StateGroups::default();
    let (create, s0) =
        plan_state(&mut groups, &eid("create"), &[], &StateIds::new(), ("m.room.create", ""));
    let g0 = create.state_group;
    let (alice, s1) =
        plan_state(&mut groups, &eid("alice"), &[g0], &s0, ("m.room.member", "@alice:x"));
    let g1 = alice.state_group;
    // Two branches from g1: a name, and a topic then an avatar.
    let (name, s_name) = plan_state(&mut groups, &eid("name"), &[g1], &s1, ("m.room.name", ""));
    let (topic, s_topic) = plan_state(&mut groups, &eid("topic"), &[g1], &s1, ("m.room.topic", ""));
    let (avatar, s_avatar) = plan_state(
        &mut groups,
        &eid("avatar"),
        &[topic.state_group],
        &s_topic,
        ("m.room.avatar", ""),
    );
    let (g_name, g_avatar) = (name.state_group, avatar.state_group);

    // A resolution equal to one branch reuses its group.
    let message = groups.plan(&eid("m1"), &[g_name, g1], &s_name, &s_name).unwrap();
    assert_eq!((message.state_group, message.state_group_before), (g_name, g_name));
    assert!(message.new_groups.is_empty());

    // The union of both branches: a new group named after the event, a delta against the branch
    // it differs least from (the avatar branch: one row, the name; the name branch needs two).
    let mut merged = s_avatar.clone();
    merged.insert(key("m.room.name", ""), eid("name"));
    let merge = groups.plan(&eid("merge"), &[g_name, g_avatar], &merged, &merged).unwrap();
    assert_eq!(merge.new_groups.len(), 1);
    let row = &merge.new_groups[0];
    assert_eq!(
        (row.id, row.prev_group, &row.event_id),
        (merge.state_group, Some(g_avatar), &eid("merge"))
    );
    assert_eq!(row.delta, StateIds::from_iter([(key("m.room.name", ""), eid("name"))]));
    assert_eq!(groups.state_of(merge.state_group).unwrap(), merged);

    // The same prev groups again (in another order): the resolution is remembered, a state event
    // gets its own group on top of it.
    let (second, after) = plan_state(
        &mut groups,
        &eid("merge2"),
        &[g_avatar, g_name, g_avatar],
        &merged,
        ("m.room.join_rules", ""),
    );
    assert_eq!(second.state_group_before, merge.state_group);
    assert_eq!(second.new_groups.len(), 1);
    assert_eq!(groups.state_of(second.state_group).unwrap(), after);

    // A state event at a new merge: the resolved state before it, then the state after it, both
    // named after the event. A tie (one row each) goes to the older group.
    let mut both = s1.clone();
    both.insert(key("m.room.name", ""), eid("name"));
    both.insert(key("m.room.topic", ""), eid("topic"));
    let (merge3, after3) = plan_state(
        &mut groups,
        &eid("merge3"),
        &[topic.state_group, g_name],
        &both,
        ("m.room.member", "@bob:x"),
    );
    assert_eq!(merge3.new_groups.len(), 2);
    let (before_row, after_row) = (&merge3.new_groups[0], &merge3.new_groups[1]);
    assert_eq!(before_row.prev_group, Some(g_name.min(topic.state_group)));
    assert_eq!(after_row.prev_group, Some(before_row.id));
    assert_eq!(
        after_row.delta,
        StateIds::from_iter([(key("m.room.member", "@bob:x"), eid("merge3"))])
    );
    assert!(before_row.event_id == eid("merge3") && after_row.event_id == eid("merge3"));
    assert_eq!(groups.state_of(merge3.state_group).unwrap(), after3);
    assert_eq!(groups.state_of(merge3.state_group_before).unwrap(), both);

    // A resolution that drops a key every prev group holds cannot be a delta: a snapshot.
    let mut dropped = s_avatar.clone();
    dropped.remove(&key("m.room.member", "@alice:x"));
    let lost = groups.plan(&eid("lost"), &[g1, g_avatar], &dropped, &dropped).unwrap();
    assert_eq!(lost.new_groups.len(), 1);
    assert!(lost.new_groups[0].is_snapshot());
    assert_eq!(lost.new_groups[0].delta, dropped);
    assert_eq!(groups.state_of(lost.state_group).unwrap(), dropped);

    // A rejected state event (state after = state before) maps to the group before it.
    let rejected = groups.plan(&eid("rejected"), &[g1], &s1, &s1).unwrap();
    assert_eq!((rejected.state_group, rejected.new_groups.len()), (g1, 0));
}

#[test]
fn stored_groups_loaded_back_plan_as_if_never_stored() {
    let fixture = fixture("pdus.json");
    let room = fixture["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|room| room["name"] == "state-changes")
        .unwrap();
    let version = RoomVersion::parse(room["room_version"].as_str().unwrap()).unwrap();
    let pdus = room_pdus(room);
    let half = pdus.len() / 2;

    let mut whole = Replay::new(version.clone(), StateGroups::new(40));
    for pdu in pdus.iter().cloned() {
        whole.receive(pdu);
    }

    let mut first = Replay::new(version.clone(), StateGroups::new(40));
    for pdu in pdus[..half].iter().cloned() {
        first.receive(pdu);
    }
    // What a store would hold, loaded into a new planner, snapshots and chains from the bottom.
    let mut loaded = StateGroups::new(1);
    let mut rows: Vec<StateGroupRow> = first.groups.groups().cloned().collect();
    rows.reverse();
    assert!(matches!(loaded.insert(rows[0].clone()), Err(StateGroupError::UnknownGroup(_))));
    rows.reverse();
    for row in rows {
        loaded.insert(row).unwrap();
    }
    assert_eq!(loaded.next_id(), first.groups.next_id());
    for (id, planned) in &first.planned {
        loaded.insert_event(id.clone(), planned.state_group).unwrap();
    }
    let mut second = Replay { history: first.history, groups: loaded, planned: first.planned };
    for pdu in pdus[half..].iter().cloned() {
        second.receive(pdu);
    }
    assert_eq!(second.planned, whole.planned);
    assert_eq!(
        second.groups.groups().collect::<Vec<_>>(),
        whole.groups.groups().collect::<Vec<_>>()
    );
    assert_eq!(whole.planned[0].1.new_groups[0].id, 40, "ids start from the store's sequence");
}

#[test]
fn bad_input_is_an_error_and_changes_nothing() {
    let mut groups = StateGroups::default();
    let (create, s0) =
        plan_state(&mut groups, &eid("create"), &[], &StateIds::new(), ("m.room.create", ""));
    let before = groups.clone();

    assert_eq!(
        groups.plan(&eid("x"), &[create.state_group, 999], &s0, &s0),
        Err(StateGroupError::UnknownGroup(999))
    );
    assert_eq!(
        groups.plan(&eid("create"), &[create.state_group], &s0, &s0),
        Err(StateGroupError::AlreadyPlanned(eid("create")))
    );
    assert_eq!(groups.state_of(999), Err(StateGroupError::UnknownGroup(999)));
    assert_eq!(
        groups.state_at_event(&eid("nothing"), &StateFilter::all()),
        Err(StateGroupError::UnknownEvent(eid("nothing")))
    );
    assert_eq!(groups.insert_event(eid("y"), 999), Err(StateGroupError::UnknownGroup(999)));
    let row = groups.group(create.state_group).unwrap().clone();
    assert_eq!(groups.insert(row.clone()), Err(StateGroupError::DuplicateGroup(row.id)));
    let far = StateGroupRow { id: MAX_STATE_GROUP_ID + 1, prev_group: None, ..row };
    assert_eq!(groups.insert(far), Err(StateGroupError::IdOutOfRange(MAX_STATE_GROUP_ID + 1)));
    assert_eq!(groups, before);

    // One id left, two needed (the empty group and the create event's): nothing is planned.
    let mut last = StateGroups::new(MAX_STATE_GROUP_ID);
    let empty = StateIds::new();
    let state = StateIds::from_iter([(key("m.room.create", ""), eid("create"))]);
    assert_eq!(last.plan(&eid("create"), &[], &empty, &state), Err(StateGroupError::IdsExhausted));
    assert!(last.is_empty() && last.event_group(&eid("create")).is_none());
    assert_eq!(last.next_id(), MAX_STATE_GROUP_ID);
    // One is enough for a room whose create event is not yet a state event of its own.
    let planned = last.plan(&eid("create"), &[], &empty, &empty).unwrap();
    assert_eq!(planned.state_group, MAX_STATE_GROUP_ID);
}

/// A chunk's write rebased after other writers' groups: the groups it planned (from id 6 on)
/// move as far, those before stay, and every event keeps its state through the moved chain, and
/// planning goes on from the ids after the moved ones.
#[test]
fn planned_groups_move_as_far_as_a_rebased_write() {
    let (mut groups, states) = long_room(12);
    let before: BTreeMap<StateGroupId, Option<StateGroupId>> =
        groups.groups().map(|row| (row.id, row.prev_group)).collect();
    let next = groups.next_id();
    groups.shift_planned(6, 100);
    let moved = |id: StateGroupId| if id >= 6 { id + 100 } else { id };
    let after: BTreeMap<StateGroupId, Option<StateGroupId>> =
        groups.groups().map(|row| (row.id, row.prev_group)).collect();
    let expected: BTreeMap<StateGroupId, Option<StateGroupId>> =
        before.iter().map(|(id, prev)| (moved(*id), prev.map(moved))).collect();
    assert_eq!(after, expected);
    assert!(after.keys().any(|id| *id < 6) && after.keys().any(|id| *id > 100));
    assert_eq!(groups.next_id(), next + 100);
    for (id, state) in &states {
        let group = groups.event_group(id).unwrap();
        assert_eq!(&groups.state_of(group).unwrap(), state, "{id}");
    }
    let (last, state) = states.last().unwrap();
    let base = groups.event_group(last).unwrap();
    let (planned, _) = plan_state(&mut groups, &eid("next"), &[base], state, ("m.room.topic", ""));
    assert_eq!(planned.state_group, next + 100);
}
