//! The prejoin state config: which state events an invite or knock carries.
//!
//! Mirrors Synapse's `room_prejoin_state` (`synapse/config/api.py`): a default list of types,
//! which can be disabled, plus additional types, where a bare type means every state_key and a
//! `[type, state_key]` pair means one. `m.room.create` is always included (MSC4311), even with
//! the defaults disabled.

use serde::Deserialize;
use serde_json::Value as JsonValue;

use crate::model::InputError;

/// The default prejoin types, each with state_key `""`, in Synapse's order.
pub const DEFAULT_PREJOIN_TYPES: [&str; 6] = [
    "m.room.join_rules",
    "m.room.canonical_alias",
    "m.room.avatar",
    "m.room.encryption",
    "m.room.name",
    "m.room.topic",
];

/// Synapse's `room_prejoin_state`, in JS spelling (`disableDefaultEventTypes`,
/// `additionalEventTypes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify, serde::Serialize))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct PrejoinConfig {
    /// Leave out the default types (the create event stays).
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub disable_default_event_types: bool,
    /// More types: a bare type for every state_key, or `[type, stateKey]` for one.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub additional_event_types: Vec<AdditionalEventType>,
}

/// One entry of [`PrejoinConfig::additional_event_types`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify, serde::Serialize))]
#[serde(untagged)]
pub enum AdditionalEventType {
    /// Every state event of this type, whatever its state_key.
    AnyStateKey(String),
    /// The state event of this type with this state_key.
    StateKey(String, String),
}

/// Which state_keys of one type go into stripped state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateKeys {
    /// Every state_key.
    All,
    /// These state_keys, in config order.
    Some(Vec<String>),
}

impl PrejoinConfig {
    /// Reads a config from JSON; unknown keys and badly shaped entries are refused.
    pub fn from_json(value: JsonValue) -> Result<Self, InputError> {
        if !value.is_object() {
            // serde would also read a struct from an array of its fields.
            return Err(InputError::InvalidConfig("config must be an object".to_owned()));
        }
        serde_json::from_value(value).map_err(|error| InputError::InvalidConfig(error.to_string()))
    }

    /// The configured types in order: create first, then the defaults (unless disabled), then each
    /// additional type in the order given. A type appears once; a bare type wins over pairs.
    pub fn event_types(&self) -> Vec<(String, StateKeys)> {
        let mut types: Vec<(String, StateKeys)> =
            vec![("m.room.create".to_owned(), StateKeys::Some(vec![String::new()]))];
        let defaults =
            if self.disable_default_event_types { &[][..] } else { &DEFAULT_PREJOIN_TYPES };
        let entries = defaults
            .iter()
            .map(|event_type| (*event_type, Some("")))
            .chain(self.additional_event_types.iter().map(AdditionalEventType::as_filter));
        for (event_type, state_key) in entries {
            add_filter(&mut types, event_type, state_key);
        }
        types
    }
}

impl AdditionalEventType {
    fn as_filter(&self) -> (&str, Option<&str>) {
        match self {
            Self::AnyStateKey(event_type) => (event_type, None),
            Self::StateKey(event_type, state_key) => (event_type, Some(state_key)),
        }
    }
}

fn add_filter(types: &mut Vec<(String, StateKeys)>, event_type: &str, state_key: Option<&str>) {
    let Some((_, keys)) = types.iter_mut().find(|(known, _)| known == event_type) else {
        let keys = match state_key {
            None => StateKeys::All,
            Some(state_key) => StateKeys::Some(vec![state_key.to_owned()]),
        };
        types.push((event_type.to_owned(), keys));
        return;
    };
    match (keys, state_key) {
        (StateKeys::All, _) => {}
        (keys, None) => *keys = StateKeys::All,
        (StateKeys::Some(known), Some(state_key)) => {
            if !known.iter().any(|known| known == state_key) {
                known.push(state_key.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{PrejoinConfig, StateKeys};

    fn keys(list: &[&str]) -> StateKeys {
        StateKeys::Some(list.iter().map(|key| (*key).to_owned()).collect())
    }

    #[test]
    fn default_config_is_synapses_default_list_after_create() {
        let types: Vec<String> =
            PrejoinConfig::default().event_types().into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            types,
            [
                "m.room.create",
                "m.room.join_rules",
                "m.room.canonical_alias",
                "m.room.avatar",
                "m.room.encryption",
                "m.room.name",
                "m.room.topic"
            ]
        );
    }

    #[test]
    fn disabled_defaults_keep_create_and_merge_additional_types() {
        let config = PrejoinConfig::from_json(json!({
            "disableDefaultEventTypes": true,
            "additionalEventTypes": [["org.example.tag", "x"], "m.room.power_levels",
                                     ["org.example.tag", "y"], ["org.example.tag", "x"],
                                     ["m.room.create", ""], ["m.room.power_levels", "z"]]
        }))
        .unwrap();
        assert_eq!(
            config.event_types(),
            vec![
                ("m.room.create".to_owned(), keys(&[""])),
                ("org.example.tag".to_owned(), keys(&["x", "y"])),
                ("m.room.power_levels".to_owned(), StateKeys::All),
            ]
        );
    }

    #[test]
    fn a_bare_type_widens_a_default() {
        let config =
            PrejoinConfig::from_json(json!({"additionalEventTypes": ["m.room.name"]})).unwrap();
        let name = config.event_types().into_iter().find(|(t, _)| t == "m.room.name").unwrap();
        assert_eq!(name.1, StateKeys::All);
    }

    #[test]
    fn unknown_keys_and_bad_entries_are_refused() {
        for bad in [
            json!({"disable_default_event_types": true}),
            json!({"additionalEventTypes": [3]}),
            json!({"additionalEventTypes": [["only-type"]]}),
            json!({"additionalEventTypes": [["t", "k", "extra"]]}),
            json!({"additionalEventTypes": "m.room.name"}),
            json!({"disableDefaultEventTypes": "yes"}),
            json!([]),
        ] {
            let error = PrejoinConfig::from_json(bad.clone()).unwrap_err();
            assert_eq!(error.code(), "INVALID_CONFIG", "{bad}");
        }
    }
}
