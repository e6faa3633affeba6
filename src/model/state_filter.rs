//! Which state events a state read returns: Synapse's `StateFilter` (`synapse/types/state.py`).
//!
//! A filter maps event types to "every state_key" or a set of state_keys, and says whether types
//! it does not list are included. Synapse splits a filter into a member part and a non-member part
//! and queries (and caches) the two apart; [`StateFilter::matches`] answers both in one lookup per
//! row, so a store reads members and non-members of a state group in the same pass, and
//! [`StateFilter::split`] tells it up front which of each it needs.

use std::collections::{BTreeMap, BTreeSet};

use ruma_common::UserId;
use serde::{de, Deserialize, Deserializer};
use serde_json::Value as JsonValue;

use crate::model::{InputError, StateIds};
use crate::ordered::{map_of, set_of};

/// The event type of membership state, whose state_keys are user ids.
pub const MEMBER_EVENT_TYPE: &str = "m.room.member";

/// The state_keys a [`StateFilter`] takes for one listed event type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StateKeyFilter {
    /// Every state_key of the type (Synapse's `None`, a wildcard).
    All,
    /// Only these state_keys. An empty set takes none, which matters only for a filter that
    /// includes other types: it leaves this type out.
    Keys(BTreeSet<String>),
}

impl StateKeyFilter {
    /// The given state_keys (duplicates merge).
    pub fn keys<I, S>(state_keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::Keys(set_of(state_keys.into_iter().map(Into::into)))
    }

    /// No state_key: the type is left out.
    pub fn empty() -> Self {
        Self::Keys(BTreeSet::new())
    }

    /// Whether `state_key` passes, in O(log n).
    pub fn matches(&self, state_key: &str) -> bool {
        match self {
            Self::All => true,
            Self::Keys(keys) => keys.contains(state_key),
        }
    }

    /// The union of both: every state_key either takes.
    fn union(&self, other: &Self) -> Self {
        match (self, other) {
            (Self::Keys(a), Self::Keys(b)) => Self::Keys(set_of(a.union(b).cloned())),
            _ => Self::All,
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Self::Keys(keys) if keys.is_empty())
    }
}

/// A filter on `(type, state_key)` for reading state, as in Synapse.
///
/// Invariant (Synapse's canonical form, kept by every constructor): when
/// [`include_others`](Self::include_others) is set, no listed type has [`StateKeyFilter::All`]
/// (that is already implied), and otherwise no listed type has an empty key set (that lists
/// nothing). So two filters that match the same events compare equal.
///
/// A row `(type, state_key)` matches when its type is listed and the state_key passes the type's
/// [`StateKeyFilter`], or when its type is not listed and `include_others` is set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateFilter {
    types: BTreeMap<String, StateKeyFilter>,
    include_others: bool,
}

impl StateFilter {
    /// Builds a filter in canonical form (see the type's invariant).
    fn canonical(mut types: BTreeMap<String, StateKeyFilter>, include_others: bool) -> Self {
        if include_others {
            types.retain(|_, keys| *keys != StateKeyFilter::All);
        } else {
            types.retain(|_, keys| !keys.is_empty());
        }
        Self { types, include_others }
    }

    /// The filter that matches every state event.
    pub fn all() -> Self {
        Self { types: BTreeMap::new(), include_others: true }
    }

    /// The filter that matches no state event.
    pub fn none() -> Self {
        Self { types: BTreeMap::new(), include_others: false }
    }

    /// Only the given `(type, state_key)` pairs; a `None` state_key takes every state_key of the
    /// type. Types not given are left out. Pairs of one type merge, and a wildcard wins.
    pub fn from_types<I, T, K>(types: I) -> Self
    where
        I: IntoIterator<Item = (T, Option<K>)>,
        T: Into<String>,
        K: Into<String>,
    {
        let mut map: BTreeMap<String, StateKeyFilter> = BTreeMap::new();
        for (event_type, state_key) in types {
            let entry = map.entry(event_type.into()).or_insert_with(StateKeyFilter::empty);
            match (entry, state_key) {
                (StateKeyFilter::All, _) => {}
                (entry, None) => *entry = StateKeyFilter::All,
                (StateKeyFilter::Keys(keys), Some(state_key)) => {
                    keys.insert(state_key.into());
                }
            }
        }
        Self::canonical(map, false)
    }

    /// Every non-member state event plus the `m.room.member` events of these users: the filter of
    /// lazy-loaded members.
    pub fn from_lazy_load_member_list<I, S>(user_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let types =
            BTreeMap::from([(MEMBER_EVENT_TYPE.to_owned(), StateKeyFilter::keys(user_ids))]);
        Self::canonical(types, true)
    }

    /// A filter from a map of types and `include_others`, put into canonical form. Entries of the
    /// same type merge (their union; a wildcard wins).
    pub fn freeze<I, T>(types: I, include_others: bool) -> Self
    where
        I: IntoIterator<Item = (T, StateKeyFilter)>,
        T: Into<String>,
    {
        let mut map: BTreeMap<String, StateKeyFilter> = BTreeMap::new();
        for (event_type, keys) in types {
            let event_type = event_type.into();
            let merged = match map.remove(&event_type) {
                Some(known) => known.union(&keys),
                None => keys,
            };
            map.insert(event_type, merged);
        }
        Self::canonical(map, include_others)
    }

    /// The listed types and their state_keys (in canonical form).
    pub fn types(&self) -> &BTreeMap<String, StateKeyFilter> {
        &self.types
    }

    /// Whether types not listed in [`types`](Self::types) match (with every state_key).
    pub fn include_others(&self) -> bool {
        self.include_others
    }

    /// The inverse of [`from_types`](Self::from_types): each wildcard type with `None`, each
    /// listed state_key as its own pair, in order. `include_others` and empty key sets are not
    /// represented.
    pub fn to_types(&self) -> impl Iterator<Item = (&str, Option<&str>)> + '_ {
        self.types.iter().flat_map(|(event_type, keys)| {
            let pairs: Box<dyn Iterator<Item = Option<&str>> + '_> = match keys {
                StateKeyFilter::All => Box::new(std::iter::once(None)),
                StateKeyFilter::Keys(keys) => Box::new(keys.iter().map(|key| Some(key.as_str()))),
            };
            pairs.map(move |state_key| (event_type.as_str(), state_key))
        })
    }

    /// Whether the row `(event_type, state_key)` passes the filter (Synapse's `in`): O(log n) in
    /// the size of the filter, for one pass over a state group's rows, members and non-members
    /// alike.
    pub fn matches(&self, event_type: &str, state_key: &str) -> bool {
        match self.types.get(event_type) {
            Some(keys) => keys.matches(state_key),
            None => self.include_others,
        }
    }

    /// Whether the filter matches every state event.
    pub fn is_full(&self) -> bool {
        self.include_others && self.types.is_empty()
    }

    /// Whether the filter matches no state event (Synapse's `not filter`).
    pub fn is_empty(&self) -> bool {
        !self.include_others && self.types.is_empty()
    }

    /// Whether the filter takes whole types (a wildcard or `include_others`) rather than only
    /// named `(type, state_key)` pairs.
    pub fn has_wildcards(&self) -> bool {
        self.include_others || self.types.values().any(|keys| *keys == StateKeyFilter::All)
    }

    /// The named `(type, state_key)` pairs, in order. Every pair the filter matches when it
    /// [has no wildcards](Self::has_wildcards); otherwise a subset of them.
    pub fn concrete_types(&self) -> Vec<(&str, &str)> {
        self.to_types()
            .filter_map(|(event_type, state_key)| Some((event_type, state_key?)))
            .collect()
    }

    /// The types listed with every state_key, in order (empty when `include_others` is set).
    pub fn wildcard_types(&self) -> Vec<&str> {
        self.types
            .iter()
            .filter(|(_, keys)| **keys == StateKeyFilter::All)
            .map(|(event_type, _)| event_type.as_str())
            .collect()
    }

    /// How many events the filter can match, when that is bounded: a state read may stop walking a
    /// state group chain once it has found this many. `None` with wildcards.
    pub fn max_entries_returned(&self) -> Option<usize> {
        if self.has_wildcards() {
            return None;
        }
        Some(
            self.types
                .values()
                .map(|keys| match keys {
                    StateKeyFilter::All => 0,
                    StateKeyFilter::Keys(keys) => keys.len(),
                })
                .sum(),
        )
    }

    /// A copy of the entries of `state` that the filter matches.
    pub fn filter_state(&self, state: &StateIds) -> StateIds {
        if self.is_full() {
            return state.clone();
        }
        state
            .iter()
            .filter(|((event_type, state_key), _)| self.matches(event_type, state_key))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }

    /// Removes from `state` the entries the filter does not match.
    pub fn retain_state(&self, state: &mut StateIds) {
        if !self.is_full() {
            *state = self.filter_state(state);
        }
    }

    /// The `m.room.member` events the filter takes, by user id.
    pub fn member_filter(&self) -> MemberFilter {
        match self.types.get(MEMBER_EVENT_TYPE) {
            Some(StateKeyFilter::All) => MemberFilter::All,
            Some(StateKeyFilter::Keys(keys)) if keys.is_empty() => MemberFilter::None,
            Some(StateKeyFilter::Keys(keys)) => MemberFilter::Some(keys.clone()),
            None if self.include_others => MemberFilter::All,
            None => MemberFilter::None,
        }
    }

    /// The non-member state events the filter takes.
    pub fn non_member_filter(&self) -> NonMemberFilter {
        // Not cloned: the member set can hold a whole room's users.
        let types = self.types.iter().filter(|(event_type, _)| *event_type != MEMBER_EVENT_TYPE);
        if self.include_others {
            // A wildcard is implied by `include_others` (canonical form drops it), so only key
            // sets restrict anything.
            let restricted: BTreeMap<String, BTreeSet<String>> = types
                .filter_map(|(event_type, keys)| match keys {
                    StateKeyFilter::Keys(keys) => Some((event_type.clone(), keys.clone())),
                    StateKeyFilter::All => None,
                })
                .collect();
            if restricted.is_empty() {
                NonMemberFilter::All
            } else {
                NonMemberFilter::Restricted(restricted)
            }
        } else {
            let only: BTreeMap<String, StateKeyFilter> =
                map_of(types.map(|(event_type, keys)| (event_type.clone(), keys.clone())));
            if only.is_empty() {
                NonMemberFilter::None
            } else {
                NonMemberFilter::Only(only)
            }
        }
    }

    /// The filter split into what it takes of members and of everything else (Synapse's
    /// `get_member_split`), so a store can plan one read of a state group for both. A row matches
    /// the filter exactly when it matches its part: [`MemberFilter::matches`] for `m.room.member`
    /// rows, [`NonMemberFilter::matches`] for the others.
    pub fn split(&self) -> (MemberFilter, NonMemberFilter) {
        (self.member_filter(), self.non_member_filter())
    }

    /// A filter matching at least what this one matches, with wildcards widened so that the result
    /// fills a cache completely (Synapse's `return_expanded`): the members taken stay the same, and
    /// a wildcard on any non-member type widens to every non-member type.
    pub fn return_expanded(&self) -> Self {
        if self.is_full() || !self.has_wildcards() {
            return self.clone();
        }
        let member_keys = self.types.get(MEMBER_EVENT_TYPE);
        let all_members = match member_keys {
            Some(keys) => *keys == StateKeyFilter::All,
            None => self.include_others,
        };
        let non_member_wildcard = self.include_others
            || self.types.iter().any(|(event_type, keys)| {
                event_type != MEMBER_EVENT_TYPE && *keys == StateKeyFilter::All
            });
        if !non_member_wildcard {
            return self.clone();
        }
        if all_members {
            return Self::all();
        }
        let members = member_keys.cloned().unwrap_or_else(StateKeyFilter::empty);
        Self::canonical(BTreeMap::from([(MEMBER_EVENT_TYPE.to_owned(), members)]), true)
    }

    /// The keys this filter takes for `event_type`, listed or not.
    fn keys_for(&self, event_type: &str) -> StateKeyFilter {
        match self.types.get(event_type) {
            Some(keys) => keys.clone(),
            None if self.include_others => StateKeyFilter::All,
            None => StateKeyFilter::empty(),
        }
    }

    /// Every event either filter matches; exact (the union of two filters is always a filter).
    pub fn union(&self, other: &Self) -> Self {
        let event_types: BTreeSet<&String> = set_of(self.types.keys().chain(other.types.keys()));
        let types = event_types
            .into_iter()
            .map(|event_type| {
                let keys = self.keys_for(event_type).union(&other.keys_for(event_type));
                (event_type.clone(), keys)
            })
            .collect();
        Self::canonical(types, self.include_others || other.include_others)
    }

    /// `self - other`, as Synapse's `approx_difference`: what is still to read when the events
    /// `other` matches are already known.
    ///
    /// The result matches every event `self` matches and `other` does not, and nothing `self`
    /// does not match. It is exact except where `self` takes every state_key of a type and `other`
    /// only some: a filter cannot say "every state_key but these", so the type stays whole.
    pub fn approx_difference(&self, other: &Self) -> Self {
        let event_types: BTreeSet<&String> = set_of(self.types.keys().chain(other.types.keys()));
        let types = event_types
            .into_iter()
            .map(|event_type| {
                let keys = match (self.keys_for(event_type), other.keys_for(event_type)) {
                    (_, StateKeyFilter::All) => StateKeyFilter::empty(),
                    (StateKeyFilter::All, StateKeyFilter::Keys(_)) => StateKeyFilter::All,
                    (StateKeyFilter::Keys(mine), StateKeyFilter::Keys(theirs)) => {
                        StateKeyFilter::Keys(set_of(mine.difference(&theirs).cloned()))
                    }
                };
                (event_type.clone(), keys)
            })
            .collect();
        Self::canonical(types, self.include_others && !other.include_others)
    }

    /// Reads the JS form ([`StateFilterInput`]) from JSON.
    pub fn from_json(value: JsonValue) -> Result<Self, InputError> {
        if !value.is_object() {
            // serde would also read a struct from an array of its fields.
            return Err(invalid("a state filter must be an object"));
        }
        let input: StateFilterInput = serde_json::from_value(value).map_err(invalid)?;
        Self::try_from(input)
    }
}

/// The `m.room.member` events a [`StateFilter`] takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MemberFilter {
    /// Every member event.
    All,
    /// No member event.
    None,
    /// The member events of these users (never empty when built by [`StateFilter::split`]).
    Some(BTreeSet<String>),
}

impl MemberFilter {
    /// Whether the member event with this state_key (a user id) passes.
    pub fn matches(&self, state_key: &str) -> bool {
        match self {
            Self::All => true,
            Self::None => false,
            Self::Some(user_ids) => user_ids.contains(state_key),
        }
    }
}

/// The non-member state events a [`StateFilter`] takes. `m.room.member` never matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NonMemberFilter {
    /// Every non-member event.
    All,
    /// No non-member event.
    None,
    /// Only the listed types, each with every state_key or some (never empty when built by
    /// [`StateFilter::split`], and no key set is empty): point or type-range reads suffice.
    Only(BTreeMap<String, StateKeyFilter>),
    /// Every non-member event, except that each listed type takes only the listed state_keys (an
    /// empty set leaves the type out): a scan of the whole group is needed.
    Restricted(BTreeMap<String, BTreeSet<String>>),
}

impl NonMemberFilter {
    /// Whether the row `(event_type, state_key)` passes, in O(log n); false for every
    /// `m.room.member` row.
    pub fn matches(&self, event_type: &str, state_key: &str) -> bool {
        if event_type == MEMBER_EVENT_TYPE {
            return false;
        }
        match self {
            Self::All => true,
            Self::None => false,
            Self::Only(types) => types.get(event_type).is_some_and(|keys| keys.matches(state_key)),
            Self::Restricted(types) => {
                types.get(event_type).is_none_or(|keys| keys.contains(state_key))
            }
        }
    }
}

/// The JS form of a state filter, `StateFilter` in TypeScript:
/// `{types?: [type, stateKey | null][], includeOthers?: boolean, members?: "all" | "none" | string[]}`.
///
/// - `types`: `[type, stateKey]` pairs; a `null` stateKey takes every state_key of the type.
/// - `includeOthers`: whether types not listed match. Defaults to `true` without `types` and
///   `false` with them, as `types` in a Matrix event filter: absent means every type.
/// - `members`: which `m.room.member` events to take, whatever `includeOthers` says: all, none,
///   or those of these user ids. `m.room.member` may then not appear in `types`.
///
/// So `{}` is every state event, `{members: "none"}` every non-member event, `{members: [u]}`
/// lazy-loaded members, and `{types: [["m.room.name", ""]]}` only the room name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify), tsify(rename = "StateFilter"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct StateFilterInput {
    /// `[type, stateKey]` pairs; a `null` stateKey takes every state_key of the type.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "[string, string | null][]", optional))]
    pub types: Option<Vec<(String, Option<String>)>>,
    /// Whether types not listed match; by default, `true` exactly when `types` is absent.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub include_others: Option<bool>,
    /// Which `m.room.member` events to take: `"all"`, `"none"` or those of these user ids.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "\"all\" | \"none\" | string[]", optional))]
    pub members: Option<MembersInput>,
}

/// `members` of a [`StateFilterInput`]: `"all"`, `"none"` or an array of user ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembersInput {
    /// `"all"`.
    All,
    /// `"none"`.
    None,
    /// The member events of these users.
    Users(Vec<String>),
}

impl<'de> Deserialize<'de> for MembersInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = MembersInput;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("\"all\", \"none\" or an array of user ids")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<MembersInput, E> {
                match value {
                    "all" => Ok(MembersInput::All),
                    "none" => Ok(MembersInput::None),
                    _ => Err(E::invalid_value(de::Unexpected::Str(value), &self)),
                }
            }

            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<MembersInput, A::Error> {
                let mut users = Vec::new();
                while let Some(user) = seq.next_element::<String>()? {
                    users.push(user);
                }
                Ok(MembersInput::Users(users))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl TryFrom<StateFilterInput> for StateFilter {
    type Error = InputError;

    fn try_from(input: StateFilterInput) -> Result<Self, InputError> {
        let include_others = input.include_others.unwrap_or(input.types.is_none());
        let pairs = input.types.unwrap_or_default();
        let mut types = StateFilter::from_types(pairs).types;
        if let Some(members) = input.members {
            if types.contains_key(MEMBER_EVENT_TYPE) {
                return Err(invalid("m.room.member is given both in types and in members"));
            }
            let keys = match members {
                MembersInput::All => StateKeyFilter::All,
                MembersInput::None => StateKeyFilter::empty(),
                MembersInput::Users(users) => {
                    for (index, user) in users.iter().enumerate() {
                        if <&UserId>::try_from(user.as_str()).is_err() {
                            return Err(invalid(format!("members[{index}] is not a user id")));
                        }
                    }
                    StateKeyFilter::keys(users)
                }
            };
            types.insert(MEMBER_EVENT_TYPE.to_owned(), keys);
        }
        Ok(StateFilter::canonical(types, include_others))
    }
}

fn invalid(reason: impl ToString) -> InputError {
    InputError::InvalidStateFilter(reason.to_string())
}
