//! Write plans against every room a real Synapse 1.163.2 persisted: the current state (with the
//! membership column), the membership rows, the forward extremities and the order of stream
//! orderings, whatever the chunk sizes; backfill and duplicates.
#![cfg(all(not(target_arch = "wasm32"), feature = "store"))]

mod common;

use common::room_pdus as pdus;

fn fixture() -> serde_json::Value {
    common::fixture("pdus.json")
}

use std::collections::{BTreeMap, BTreeSet};

use prejoin::model::pdu::Pdu;
use prejoin::model::room_version::RoomVersion;
use prejoin::model::StateFilter;
use prejoin::persist::state_groups::StateGroups;
use prejoin::persist::{plan_room_chunk, RoomHistory, RoomWritePlan, StreamOrderings};
use ruma_common::OwnedRoomId;
use serde_json::Value as JsonValue;

/// A `room_memberships` row: event, user, sender, membership, display name, avatar.
type MembershipRow = (String, String, String, String, Option<String>, Option<String>);

/// What the plans of a room add up to, as the tables would hold it.
#[derive(Default)]
struct Tables {
    current_state: BTreeMap<(String, String), (String, Option<String>)>,
    memberships: BTreeSet<MembershipRow>,
    extremities: BTreeSet<String>,
    orderings: Vec<(String, i64)>,
    state_groups: StateGroups,
}

impl Tables {
    fn apply(&mut self, plan: RoomWritePlan) {
        for key in plan.current_state_delta.to_delete {
            self.current_state.remove(&key);
        }
        for (key, id, membership) in plan.current_state_delta.to_insert {
            self.current_state.insert(key, (id.to_string(), membership));
        }
        for row in plan.memberships {
            self.memberships.insert((
                row.event_id.to_string(),
                row.user_id,
                row.sender,
                row.membership,
                row.display_name,
                row.avatar_url,
            ));
        }
        if let Some(extremities) = plan.forward_extremities {
            self.extremities = extremities;
        }
        for group in plan.state_groups {
            self.state_groups.insert(group).unwrap();
        }
        for event in plan.events {
            self.orderings.push((event.pdu.event_id().to_string(), event.stream_ordering));
            let id = event.pdu.owned_event_id().clone();
            self.state_groups.insert_event(id, event.state_group.unwrap()).unwrap();
        }
    }
}

fn persist_in_chunks(room: &JsonValue, sizes: &mut dyn Iterator<Item = usize>) -> Tables {
    let room_id: OwnedRoomId = room["room_id"].as_str().unwrap().try_into().unwrap();
    let version = RoomVersion::parse(room["room_version"].as_str().unwrap()).unwrap();
    let mut history = RoomHistory::new(version);
    let mut groups = StateGroups::default();
    let mut orderings = StreamOrderings::default();
    let mut tables = Tables::default();
    let mut pdus = pdus(room).into_iter().peekable();
    while pdus.peek().is_some() {
        let chunk: Vec<Pdu> = pdus.by_ref().take(sizes.next().unwrap().max(1)).collect();
        let plan = plan_room_chunk(
            &mut history,
            &mut groups,
            room_id.clone(),
            chunk,
            false,
            &mut orderings,
        )
        .unwrap();
        tables.apply(plan);
    }
    tables
}

fn check_against_synapse(room: &JsonValue, tables: &Tables, how: &str) {
    let name = format!("{} ({how})", room["name"]);
    let current: BTreeMap<_, _> = room["current_state"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let key = (
                row["type"].as_str().unwrap().to_owned(),
                row["state_key"].as_str().unwrap().to_owned(),
            );
            (
                key,
                (
                    row["event_id"].as_str().unwrap().to_owned(),
                    row["membership"].as_str().map(str::to_owned),
                ),
            )
        })
        .collect();
    assert_eq!(tables.current_state, current, "{name}: current state");
    let memberships: BTreeSet<_> = room["room_memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let text = |field: &str| row[field].as_str().unwrap().to_owned();
            let optional = |field: &str| row[field].as_str().map(str::to_owned);
            (
                text("event_id"),
                text("user_id"),
                text("sender"),
                text("membership"),
                optional("display_name"),
                optional("avatar_url"),
            )
        })
        .collect();
    assert_eq!(tables.memberships, memberships, "{name}: room_memberships");
    let extremities: BTreeSet<String> = room["forward_extremities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tables.extremities, extremities, "{name}: forward extremities");
    // Our orderings rise in the order Synapse's do.
    let synapse: BTreeMap<String, i64> = room["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["event_id"].as_str().unwrap().to_owned(), e["stream_ordering"].as_i64().unwrap())
        })
        .collect();
    let mut by_ours = tables.orderings.clone();
    by_ours.sort_by_key(|(_, ordering)| *ordering);
    let mut by_synapse = tables.orderings.clone();
    by_synapse.sort_by_key(|(id, _)| synapse[id]);
    assert_eq!(by_ours, by_synapse, "{name}: stream order");
    assert_eq!(tables.orderings.len(), synapse.len(), "{name}: every event once");
    // The stored state groups give every event the state of Synapse's group for it.
    for event in room["events"].as_array().unwrap() {
        let id: ruma_common::OwnedEventId = event["event_id"].as_str().unwrap().try_into().unwrap();
        let ours = tables.state_groups.state_at_event(&id, &StateFilter::all()).unwrap();
        let ours: BTreeMap<_, _> =
            ours.into_iter().map(|(key, id)| (key, id.to_string())).collect();
        let group = event["state_group"].as_i64().unwrap();
        assert_eq!(ours, common::synapse_group_state(room, group), "{name}: state at {id}");
    }
}

#[test]
fn whole_history_in_one_batch() {
    for room in fixture()["rooms"].as_array().unwrap() {
        let tables = persist_in_chunks(room, &mut std::iter::repeat(usize::MAX));
        check_against_synapse(room, &tables, "one batch");
    }
}

#[test]
fn chunks_of_every_size_and_of_random_sizes() {
    for room in fixture()["rooms"].as_array().unwrap() {
        let count = room["events"].as_array().unwrap().len();
        for size in 1..=count {
            let tables = persist_in_chunks(room, &mut std::iter::repeat(size));
            check_against_synapse(room, &tables, &format!("chunks of {size}"));
        }
        // A fixed pseudo-random sequence of sizes (xorshift), so failures reproduce.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut random = std::iter::from_fn(move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            Some((seed % 7) as usize + 1)
        });
        let tables = persist_in_chunks(room, &mut random);
        check_against_synapse(room, &tables, "random chunks");
    }
}

#[test]
fn duplicates_are_planned_once() {
    let fixture = fixture();
    let room = &fixture["rooms"][3];
    let room_id: OwnedRoomId = room["room_id"].as_str().unwrap().try_into().unwrap();
    let version = RoomVersion::parse(room["room_version"].as_str().unwrap()).unwrap();
    let mut history = RoomHistory::new(version);
    let mut groups = StateGroups::default();
    let mut orderings = StreamOrderings::default();
    let first = plan_room_chunk(
        &mut history,
        &mut groups,
        room_id.clone(),
        pdus(room),
        false,
        &mut orderings,
    )
    .unwrap();
    assert_eq!(first.events.len(), pdus(room).len());
    let again =
        plan_room_chunk(&mut history, &mut groups, room_id, pdus(room), false, &mut orderings)
            .unwrap();
    assert!(again.events.is_empty() && again.memberships.is_empty());
    assert!(again.forward_extremities.is_none() && again.current_state_delta.is_noop());
}

#[test]
fn backfilled_events_take_negative_orderings_and_move_nothing() {
    let fixture = fixture();
    let room = &fixture["rooms"][9];
    let room_id: OwnedRoomId = room["room_id"].as_str().unwrap().try_into().unwrap();
    let version = RoomVersion::parse(room["room_version"].as_str().unwrap()).unwrap();
    let mut history = RoomHistory::new(version);
    let mut orderings = StreamOrderings::default();
    let mut all = pdus(room);
    let later = all.split_off(6);
    let mut groups = StateGroups::default();
    let live =
        plan_room_chunk(&mut history, &mut groups, room_id.clone(), all, false, &mut orderings)
            .unwrap();
    let orderings_live: Vec<i64> = live.events.iter().map(|e| e.stream_ordering).collect();
    assert_eq!(orderings_live, (1..=6).collect::<Vec<i64>>());
    let count = later.len() as i64;
    let backfill =
        plan_room_chunk(&mut history, &mut groups, room_id, later, true, &mut orderings).unwrap();
    let orderings_back: Vec<i64> = backfill.events.iter().map(|e| e.stream_ordering).collect();
    assert_eq!(orderings_back, (1..=count).map(|i| -i).collect::<Vec<i64>>());
    assert!(backfill.forward_extremities.is_none(), "extremities untouched");
    assert!(backfill.current_state_delta.is_noop(), "current state untouched");
}
