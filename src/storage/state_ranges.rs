//! The key ranges of a state group's `state_groups_state` rows that a [`StateFilter`] can match,
//! so that a state read asks the IndexedDB backend only for those rows: reading the state without
//! members of a large room no longer reads every member row of every group of the chain.
//!
//! Rows are keyed `[state_group, type, state_key]`. A range is a pair of key suffixes after the
//! group id, both bounds inclusive: `[type]` sorts before every row of that type and
//! `[type, []]` after them (IndexedDB orders arrays after strings), `[]` before every row of
//! the group and `[[]]` after them, so no bound needs to be open. The filter is still applied to
//! the rows read: a range may hold rows the filter leaves out.

use serde_json::{json, Value as JsonValue};

use crate::model::state_filter::StateKeyFilter;
use crate::model::StateFilter;

/// Up to how many named state_keys of one type are read as a range each; beyond, the whole type
/// is read (a lazy-loading filter names hundreds of members, each a request per group).
const MAX_POINTS: usize = 16;

/// The ranges `filter` reads, as JSON `[[lower, upper], …]` suffixes (see the module).
pub fn group_ranges(filter: &StateFilter) -> JsonValue {
    let mut types: Vec<(&String, &StateKeyFilter)> = filter.types().iter().collect();
    // IndexedDB compares strings by UTF-16 code unit, Rust by UTF-8 byte: they disagree beyond
    // U+FFFF, and a range whose lower bound sorts after its upper one is an error.
    types.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
    let mut ranges = Vec::new();
    let mut gap_from = json!([]);
    for (event_type, keys) in types {
        if filter.include_others() {
            ranges.push(json!([gap_from, [event_type]]));
            gap_from = json!([event_type, []]);
        }
        match keys {
            StateKeyFilter::Keys(keys) if keys.len() <= MAX_POINTS => {
                ranges.extend(keys.iter().map(|key| json!([[event_type, key], [event_type, key]])));
            }
            _ => ranges.push(json!([[event_type], [event_type, []]])),
        }
    }
    if filter.include_others() {
        ranges.push(json!([gap_from, [[]]]));
    }
    JsonValue::Array(ranges)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::group_ranges;
    use crate::model::{StateFilter, StateKeyFilter};

    #[test]
    fn every_filter_shape_has_its_ranges() {
        let member = "m.room.member";
        let cases = [
            (StateFilter::all(), json!([[[], [[]]]])),
            (StateFilter::none(), json!([])),
            (
                StateFilter::from_json(json!({"members": "all", "types": []})).unwrap(),
                json!([[[member], [member, []]]]),
            ),
            (
                StateFilter::from_json(json!({"members": "none"})).unwrap(),
                json!([[[], [member]], [[member, []], [[]]]]),
            ),
            (
                StateFilter::from_lazy_load_member_list(["@a:x"]),
                json!([[[], [member]], [[member, "@a:x"], [member, "@a:x"]], [[member, []], [[]]]]),
            ),
            (
                StateFilter::from_types([("m.room.name", Some("")), ("m.room.topic", None)]),
                json!([
                    [["m.room.name", ""], ["m.room.name", ""]],
                    [["m.room.topic"], ["m.room.topic", []]]
                ]),
            ),
        ];
        for (filter, ranges) in cases {
            assert_eq!(group_ranges(&filter), ranges, "{filter:?}");
        }
    }

    #[test]
    fn many_named_keys_read_their_whole_type() {
        let users: Vec<String> = (0..17).map(|index| format!("@u{index}:x")).collect();
        let filter =
            StateFilter::from_types(users.iter().map(|u| ("m.room.member", Some(u.as_str()))));
        assert_eq!(group_ranges(&filter), json!([[["m.room.member"], ["m.room.member", []]]]));
    }

    #[test]
    fn types_are_ordered_as_indexeddb_orders_them() {
        // U+FFFD sorts after U+10000 in UTF-8 bytes, before it in UTF-16 code units.
        let (bmp, astral) = ("t\u{FFFD}", "t\u{10000}");
        let keys = || StateKeyFilter::keys(["k"]);
        let filter = StateFilter::freeze([(bmp, keys()), (astral, keys())], true);
        let ranges = group_ranges(&filter);
        assert_eq!(ranges[0], json!([[], [astral]]));
        assert_eq!(ranges[2], json!([[astral, []], [bmp]]));
    }
}
