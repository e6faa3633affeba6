//! The room's display name: `m.room.name`, then the canonical alias, then (invites) the inviter,
//! then the heroes, then "Empty room".
//!
//! Spec: client-server API, "Calculating the display name for a room". The heroes step is
//! [`compute_heroes_name`], a pure function of the hero names and the member count, so that its
//! counting can be checked against the spec text alone. matrix-js-sdk and matrix-rust-sdk count
//! "others" differently (the latter includes the viewer); here "N others" never counts the own
//! user: N = joined + invited − 1 − heroes shown.

use serde::{Deserialize, Serialize};

/// At most this many heroes are named; the spec asks for at least 5.
pub const MAX_HEROES: usize = 5;

/// Where a preview's display name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum DisplayNameSource {
    /// A non-empty `m.room.name`.
    Name,
    /// The valid canonical alias (never `alt_aliases`).
    Alias,
    /// The inviter's display name or user id (invites only).
    Inviter,
    /// Other members, per the spec's heroes algorithm.
    Heroes,
    /// Nothing to name the room after.
    Empty,
}

/// The heroes step of the algorithm, in parts, so that a client can word it in its own language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeroesName {
    /// Every other member is named: "A", "A and B", "A, B and C".
    All(Vec<String>),
    /// Some are named and `others` more exist: "A, B and 3 others".
    WithOthers(Vec<String>, u64),
    /// Nobody but the viewer is left; these were members: "Empty room (was A and B)".
    EmptyWas(Vec<String>),
    /// Nobody to name: "Empty room".
    Empty,
}

/// The spec's heroes step. `heroes` are display names of other members (already disambiguated),
/// `joined_and_invited` counts every joined and invited member, the viewer included.
pub fn compute_heroes_name(heroes: Vec<String>, joined_and_invited: u64) -> HeroesName {
    let shown = heroes.len() as u64;
    if heroes.is_empty() {
        HeroesName::Empty
    } else if joined_and_invited <= 1 {
        HeroesName::EmptyWas(heroes)
    } else if shown + 1 >= joined_and_invited {
        HeroesName::All(heroes)
    } else {
        HeroesName::WithOthers(heroes, joined_and_invited - 1 - shown)
    }
}

impl HeroesName {
    /// The English wording used for `displayName`.
    pub fn to_english(&self) -> String {
        match self {
            Self::All(names) => list_english(names, None),
            Self::WithOthers(names, others) => list_english(names, Some(*others)),
            Self::EmptyWas(names) => format!("Empty room (was {})", list_english(names, None)),
            Self::Empty => EMPTY_ROOM.to_owned(),
        }
    }

    /// The names this wording shows.
    pub fn names(&self) -> &[String] {
        match self {
            Self::All(names) | Self::WithOthers(names, _) | Self::EmptyWas(names) => names,
            Self::Empty => &[],
        }
    }

    /// How many members exist beyond the names shown.
    pub fn others(&self) -> u64 {
        match self {
            Self::WithOthers(_, others) => *others,
            _ => 0,
        }
    }
}

/// The name of a room with nothing to name it after.
pub const EMPTY_ROOM: &str = "Empty room";

fn list_english(names: &[String], others: Option<u64>) -> String {
    let mut items: Vec<String> = names.to_vec();
    match others {
        Some(1) => items.push("1 other".to_owned()),
        Some(others) => items.push(format!("{others} others")),
        None => {}
    }
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::{compute_heroes_name, HeroesName};

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    /// Vectors written from the spec text: total = joined + invited (viewer included); all heroes
    /// are listed when heroes ≥ total − 1; otherwise "N others" with N = total − 1 − heroes;
    /// total ≤ 1 gives "Empty room (was …)".
    #[test]
    fn heroes_name_follows_the_spec() {
        let table: [(&[&str], u64, &str, u64); 12] = [
            (&["Alice"], 2, "Alice", 0),
            (&["Alice", "Bob"], 3, "Alice and Bob", 0),
            (&["Alice", "Bob", "Carol"], 4, "Alice, Bob and Carol", 0),
            (&["Alice"], 3, "Alice and 1 other", 1),
            (&["Alice", "Bob"], 5, "Alice, Bob and 2 others", 2),
            (&["A", "B", "C", "D", "E"], 7, "A, B, C, D, E and 1 other", 1),
            (&["A", "B", "C", "D", "E"], 1000, "A, B, C, D, E and 994 others", 994),
            // The server may send more heroes than members remain (stale summary): list them.
            (&["Alice", "Bob"], 2, "Alice and Bob", 0),
            (&["Alice"], 1, "Empty room (was Alice)", 0),
            (&["Alice", "Bob"], 0, "Empty room (was Alice and Bob)", 0),
            (&[], 1, "Empty room", 0),
            (&[], 9, "Empty room", 0),
        ];
        for (heroes, total, english, others) in table {
            let name = compute_heroes_name(names(heroes), total);
            assert_eq!(name.to_english(), english, "{heroes:?} of {total}");
            assert_eq!(name.others(), others, "{heroes:?} of {total}");
        }
    }

    #[test]
    fn parts_are_exposed_for_translation() {
        let name = compute_heroes_name(names(&["Alice", "Bob"]), 10);
        assert_eq!(name, HeroesName::WithOthers(names(&["Alice", "Bob"]), 7));
        assert_eq!(name.names(), &names(&["Alice", "Bob"])[..]);
    }
}
