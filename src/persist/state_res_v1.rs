//! State resolution v1: how room version 1 merges the room states of several forks.
//!
//! Spec: <https://spec.matrix.org/v1.16/rooms/v1/#state-resolution>. Synapse:
//! `synapse/state/v1.py` (`resolve_events_with_store`, `_seperate`,
//! `_create_auth_events_from_maps`, `_resolve_state_events`, `_resolve_auth_events`,
//! `_resolve_normal_events`, `_ordered_events`), whose exact behaviour this module reproduces. No
//! crate implements this algorithm (`ruma-state-res` implements v2 only); the authorization checks
//! it makes are `ruma-state-res`'s [`check_state_dependent_auth_rules`].
//!
//! The algorithm, as Synapse runs it:
//!
//! 1. A key is *conflicted* when the state sets map it to two or more different events; a key
//!    that some sets lack is not conflicted (unlike v2). The other keys form the *unconflicted*
//!    state.
//! 2. The conflicted events are fetched, and the *auth map* is built: for every key the
//!    authorization rules may read for one of them (`auth_types_for_event`), its event in the
//!    unconflicted state, if any.
//! 3. A conflicted key left with a single event (the others could not be used, see below) takes
//!    it; a key left with none disappears from the result.
//! 4. The conflicted `m.room.power_levels` (state key `""`) is resolved as an *auth event*, then
//!    every conflicted `m.room.join_rules` key, then every conflicted `m.room.member` key; each
//!    phase reads the auth map as updated by the previous phases (all keys of one phase read the
//!    same map). An auth event is resolved by walking its candidates in *ascending* depth, ties in
//!    *descending* SHA-1 of the event id: the first is taken unchecked; each next one must pass
//!    the authorization rules against the auth map with the key set to the candidate taken so
//!    far, and replaces it if it does; the walk stops at the first that fails.
//! 5. Every other conflicted key is resolved as a *normal event*: the first candidate, in
//!    *descending* depth, ties in *ascending* SHA-1 of the event id, that passes the
//!    authorization rules against the auth map after phase 4; if none does, the last of that
//!    order (the shallowest).
//! 6. The result is the unconflicted state with every resolved key set.
//!
//! Where this differs from Synapse:
//!
//! - Synapse fetches events with its `get_events`, which silently omits events it does not know
//!   and events it rejected. Rejected events are omitted here too (a conflicted key loses that
//!   candidate; an auth map entry is left out), but an event `fetch_event` does not know is an
//!   error, [`StateResV1Error::MissingEvent`]: a store that misses an event its own states name is
//!   inconsistent, and resolving without the event would give a state no server computed.
//! - Resolving no state sets gives the empty state (Synapse's callers never ask).
//! - The authorization checks are `ruma-state-res`'s, not Synapse's `event_auth`. They agree on
//!   events that passed authorization when received; known differences are on odd rooms, e.g. a
//!   join in a room without `m.room.join_rules` (Synapse assumes `invite`, ruma refuses the join).

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet},
};

use ruma_common::{room_version_rules::AuthorizationRules, EventId, OwnedEventId, OwnedRoomId};
use ruma_events::StateEventType;
use ruma_state_res::{auth_types_for_event, check_state_dependent_auth_rules, Event as _};

use super::{RoomEvent, StateIds};
use crate::hashed::HashMap;
use crate::model::StateKey;

/// Why state resolution v1 could not resolve a set of room states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateResV1Error {
    /// An event the algorithm reads (a conflicted candidate, or an unconflicted event the
    /// candidates are authorized against) is unknown to `fetch_event`.
    #[error("event {0} is needed by state resolution but is not known")]
    MissingEvent(OwnedEventId),
    /// An event belongs to another room than the events read before it (Synapse raises then
    /// too).
    #[error("event {event_id} is in room {room_id}, not in {expected}")]
    WrongRoom {
        /// The event.
        event_id: OwnedEventId,
        /// Its room.
        room_id: OwnedRoomId,
        /// The room of the events read before it.
        expected: OwnedRoomId,
    },
    /// An event cannot take part in the algorithm: a membership event whose content does not say
    /// which state authorizes it, or a candidate that is not a state event (Synapse raises then
    /// too). Events that passed the authorization rules are never such.
    #[error("event {event_id} cannot be resolved: {reason}")]
    InvalidEvent {
        /// The event.
        event_id: OwnedEventId,
        /// What is wrong with it.
        reason: String,
    },
}

const POWER_LEVELS: &str = "m.room.power_levels";
const JOIN_RULES: &str = "m.room.join_rules";
const MEMBER: &str = "m.room.member";

/// State resolution v1 (room version 1): the room state that merges `state_sets`, as Synapse's
/// `synapse.state.v1.resolve_events_with_store` computes it (see the [module](self) docs for the
/// algorithm and where it differs).
///
/// `rules` are the room version's authorization rules; `fetch_event` returns the event with the
/// given id, marked rejected if it failed authorization. Only the conflicted events and the
/// unconflicted events that authorize them are fetched, each at most once. A single state set is
/// returned as it is, no state set gives the empty state; the order of the sets does not matter.
pub fn resolve_v1(
    rules: &AuthorizationRules,
    state_sets: &[StateIds],
    fetch_event: &dyn Fn(&EventId) -> Option<RoomEvent>,
) -> Result<StateIds, StateResV1Error> {
    let (first, rest) = match state_sets {
        [] => return Ok(StateIds::new()),
        [only] => return Ok(only.clone()),
        [first, rest @ ..] => (first, rest),
    };
    let (mut state, conflicted) = separate(first, rest);
    let mut events = Events::new(fetch_event);

    let mut candidates: BTreeMap<StateKey, Vec<RoomEvent>> = BTreeMap::new();
    for (key, ids) in &conflicted {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(event) = events.get(id)? {
                found.push(event);
            }
        }
        candidates.insert(key.clone(), found);
    }

    // The auth map: only unconflicted events, for the keys the candidates' authorization reads.
    let mut auth_ids = StateIds::new();
    for event in candidates.values().flatten() {
        for key in auth_types(rules, event)? {
            if let Some(id) = state.get(&key) {
                auth_ids.insert(key, id.clone());
            }
        }
    }
    let mut auth_events = AuthMap::new();
    for (key, id) in auth_ids {
        if let Some(event) = events.get(&id)? {
            auth_events.insert(key, event);
        }
    }

    let mut conflicted_events = BTreeMap::new();
    for (key, found) in candidates {
        match found.as_slice() {
            [] => {}
            [only] => {
                state.insert(key, only.pdu().owned_event_id().clone());
            }
            _ => {
                conflicted_events.insert(key, found);
            }
        }
    }

    for (key, event) in resolve_conflicts(rules, &conflicted_events, auth_events)? {
        state.insert(key, event.pdu().owned_event_id().clone());
    }
    Ok(state)
}

/// Room state as events, as the authorization rules read it.
type AuthMap = BTreeMap<StateKey, RoomEvent>;

/// Splits the state sets into the unconflicted state and the conflicted keys with their
/// candidate ids (Synapse's `_seperate`): a key is conflicted when the sets map it to different
/// events, whether or not every set has it.
fn separate(
    first: &StateIds,
    rest: &[StateIds],
) -> (StateIds, BTreeMap<StateKey, BTreeSet<OwnedEventId>>) {
    let mut unconflicted = first.clone();
    let mut conflicted: BTreeMap<StateKey, BTreeSet<OwnedEventId>> = BTreeMap::new();
    for state_set in rest {
        for (key, id) in state_set {
            if let Some(candidates) = conflicted.get_mut(key) {
                candidates.insert(id.clone());
                continue;
            }
            match unconflicted.get(key) {
                None => {
                    unconflicted.insert(key.clone(), id.clone());
                }
                Some(known) if known != id => {
                    let known = known.clone();
                    unconflicted.remove(key);
                    conflicted.insert(key.clone(), [known, id.clone()].into());
                }
                Some(_) => {}
            }
        }
    }
    (unconflicted, conflicted)
}

/// Resolves each conflicted key (Synapse's `_resolve_state_events`): power levels, then join
/// rules, then members as auth events, each phase against the auth map updated by the previous
/// ones; then every other key as a normal event.
fn resolve_conflicts(
    rules: &AuthorizationRules,
    conflicted: &BTreeMap<StateKey, Vec<RoomEvent>>,
    mut auth_events: AuthMap,
) -> Result<AuthMap, StateResV1Error> {
    let mut resolved = AuthMap::new();

    let power_key: StateKey = (POWER_LEVELS.to_owned(), String::new());
    if let Some(candidates) = conflicted.get(&power_key) {
        if let Some(winner) = resolve_auth_event(rules, candidates, &auth_events)? {
            resolved.insert(power_key, winner.clone());
            auth_events.extend(resolved.clone());
        }
    }

    for phase in [JOIN_RULES, MEMBER] {
        let mut winners = AuthMap::new();
        for (key, candidates) in
            conflicted.iter().filter(|((event_type, _), _)| event_type == phase)
        {
            if let Some(winner) = resolve_auth_event(rules, candidates, &auth_events)? {
                winners.insert(key.clone(), winner);
            }
        }
        auth_events.extend(winners.clone());
        resolved.extend(winners);
    }

    for (key, candidates) in conflicted {
        if resolved.contains_key(key) {
            continue;
        }
        if let Some(winner) = resolve_normal_event(rules, candidates, &auth_events) {
            resolved.insert(key.clone(), winner);
        }
    }
    Ok(resolved)
}

/// Resolves a conflicted key that authorization reads (Synapse's `_resolve_auth_events`): walks
/// the candidates from the shallowest (ties: greatest SHA-1 of the id first), taking the first
/// unchecked and each next one while it passes authorization against the auth map holding the one
/// taken so far. `None` only for no candidates.
fn resolve_auth_event(
    rules: &AuthorizationRules,
    candidates: &[RoomEvent],
    auth_events: &AuthMap,
) -> Result<Option<RoomEvent>, StateResV1Error> {
    // The auth map cut to the keys the candidates' authorization reads.
    let mut partial = AuthMap::new();
    for candidate in candidates {
        for key in auth_types(rules, candidate)? {
            if let Some(event) = auth_events.get(&key) {
                partial.insert(key, event.clone());
            }
        }
    }

    let mut order = ordered(candidates);
    order.reverse();
    let Some((first, rest)) = order.split_first() else {
        return Ok(None);
    };
    let mut taken = first;
    for candidate in rest {
        partial.insert(own_key(taken)?, taken.clone());
        if !passes(rules, candidate, &partial) {
            break;
        }
        taken = candidate;
    }
    Ok(Some(taken.clone()))
}

/// Resolves a conflicted key that authorization does not read (Synapse's
/// `_resolve_normal_events`): the deepest candidate (ties: least SHA-1 of the id) that passes
/// authorization against the auth map, or if none does, the last in that order. `None` only for
/// no candidates.
fn resolve_normal_event(
    rules: &AuthorizationRules,
    candidates: &[RoomEvent],
    auth_events: &AuthMap,
) -> Option<RoomEvent> {
    let order = ordered(candidates);
    order.iter().find(|candidate| passes(rules, candidate, auth_events)).or(order.last()).cloned()
}

/// The candidates in Synapse's `_ordered_events` order: depth descending, then the SHA-1 of the
/// event id (its UTF-8 bytes) ascending.
fn ordered(candidates: &[RoomEvent]) -> Vec<RoomEvent> {
    let mut order = candidates.to_vec();
    order.sort_by_cached_key(|event| {
        (Reverse(event.pdu().depth()), sha1(event.pdu().event_id().as_str().as_bytes()))
    });
    order
}

/// Whether `event` passes the state-dependent authorization rules against `state`.
fn passes(rules: &AuthorizationRules, event: &RoomEvent, state: &AuthMap) -> bool {
    // A `dyn` reader, as the other callers pass: the rules are compiled once for all of them.
    let fetch_state: &dyn Fn(&StateEventType, &str) -> Option<RoomEvent> =
        &|event_type, state_key| {
            state.get(&(event_type.to_string(), state_key.to_owned())).cloned()
        };
    check_state_dependent_auth_rules(rules, event, fetch_state).is_ok()
}

/// The state keys the authorization rules may read for `event`.
fn auth_types(
    rules: &AuthorizationRules,
    event: &RoomEvent,
) -> Result<Vec<StateKey>, StateResV1Error> {
    let types = auth_types_for_event(
        event.event_type(),
        event.sender(),
        event.state_key(),
        event.content(),
        rules,
    )
    .map_err(|reason| invalid(event, reason))?;
    Ok(types
        .into_iter()
        .map(|(event_type, state_key)| (event_type.to_string(), state_key))
        .collect())
}

/// The `(type, state_key)` of a state event.
fn own_key(event: &RoomEvent) -> Result<StateKey, StateResV1Error> {
    let state_key = event.state_key().ok_or_else(|| invalid(event, "not a state event".into()))?;
    Ok((event.pdu().event_type().to_owned(), state_key.to_owned()))
}

fn invalid(event: &RoomEvent, reason: String) -> StateResV1Error {
    StateResV1Error::InvalidEvent { event_id: event.pdu().owned_event_id().clone(), reason }
}

/// The events read during one resolution: each fetched once, rejected ones dropped (as Synapse's
/// `get_events` does), all of one room.
struct Events<'a> {
    fetch_event: &'a dyn Fn(&EventId) -> Option<RoomEvent>,
    room_id: Option<OwnedRoomId>,
    /// `None` for a rejected event.
    fetched: HashMap<OwnedEventId, Option<RoomEvent>>,
}

impl<'a> Events<'a> {
    fn new(fetch_event: &'a dyn Fn(&EventId) -> Option<RoomEvent>) -> Self {
        Self { fetch_event, room_id: None, fetched: HashMap::default() }
    }

    /// The event, `None` if it was rejected.
    fn get(&mut self, id: &OwnedEventId) -> Result<Option<RoomEvent>, StateResV1Error> {
        if let Some(event) = self.fetched.get(id) {
            return Ok(event.clone());
        }
        let event =
            (self.fetch_event)(id).ok_or_else(|| StateResV1Error::MissingEvent(id.clone()))?;
        let kept = if event.rejected() {
            None
        } else {
            let room_id = event.pdu().room_id();
            match &self.room_id {
                None => self.room_id = Some(room_id.to_owned()),
                Some(expected) if expected != room_id => {
                    return Err(StateResV1Error::WrongRoom {
                        event_id: id.clone(),
                        room_id: room_id.to_owned(),
                        expected: expected.clone(),
                    });
                }
                Some(_) => {}
            }
            Some(event)
        };
        self.fetched.insert(id.clone(), kept.clone());
        Ok(kept)
    }
}

/// SHA-1 (FIPS 180-4) of `data`: the tie-break of v1's orders. Written out here because nothing
/// else in the crate needs SHA-1; it is used for ordering only, never for security.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut hash: [u32; 5] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0];

    let bit_length = (data.len() as u64).wrapping_mul(8);
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_length.to_be_bytes());

    for block in message.chunks_exact(64) {
        let mut words = [0u32; 80];
        for (word, bytes) in words.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        for index in 16..80 {
            words[index] =
                (words[index - 3] ^ words[index - 8] ^ words[index - 14] ^ words[index - 16])
                    .rotate_left(1);
        }

        let [mut a, mut b, mut c, mut d, mut e] = hash;
        for (index, word) in words.iter().enumerate() {
            let (f, k) = match index {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let next = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*word);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = next;
        }
        for (value, add) in hash.iter_mut().zip([a, b, c, d, e]) {
            *value = value.wrapping_add(add);
        }
    }

    let mut digest = [0u8; 20];
    for (bytes, value) in digest.chunks_exact_mut(4).zip(hash) {
        bytes.copy_from_slice(&value.to_be_bytes());
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::sha1;

    fn hex(digest: [u8; 20]) -> String {
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn sha1_test_vectors() {
        // FIPS 180 examples, a two-block message, and two event ids of the fixture (`sha1sum`).
        let cases: [(&[u8], &str); 6] = [
            (b"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            (b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
            ),
            (&[b'a'; 64], "0098ba824b5c16427bd7a1122a5a442a25ec644d"),
            (b"$17900200077SDMKx:example.org", "ba0b4e17f21bcfd03ffa25042a6717150ba41a80"),
            (b"$179002000811XOhyl:example.org", "f8843aa5cd67696b732549413b62129e10c94692"),
        ];
        for (input, expected) in cases {
            assert_eq!(hex(sha1(input)), expected, "{}", String::from_utf8_lossy(input));
        }
        assert_eq!(hex(sha1(&vec![b'a'; 1_000_000])), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    }
}
