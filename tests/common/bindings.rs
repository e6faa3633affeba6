//! The JS surface, tested from Rust through the real wasm-bindgen boundary: the same suite runs
//! under Node (`wasm-pack test --node`) and in headless Chromium (`--headless --chrome`).

/// Expands to one `#[wasm_bindgen_test]` per behaviour of the JS surface.
#[macro_export]
macro_rules! bindings_tests {
    () => {
        use prejoin::bindings::{compute_stripped_state, room_preview, EventArray, StrippedEventArray};
        use serde::Serialize;
        use serde_json::{json, Value as JsonValue};
        use tsify::Ts;
        use wasm_bindgen::{JsCast, JsValue};
        use wasm_bindgen_test::wasm_bindgen_test;

        fn js(value: &JsonValue) -> JsValue {
            value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap()
        }

        fn json(value: JsValue) -> JsonValue {
            serde_wasm_bindgen::from_value(value).unwrap()
        }

        fn strip(state: &JsonValue, opts: &JsonValue) -> Result<JsonValue, JsValue> {
            compute_stripped_state(js(state).unchecked_into(), Ts::new_unchecked(js(opts)))
                .map(|events| json(events.into()))
        }

        fn preview(stripped: &JsonValue, opts: &JsonValue) -> Result<JsonValue, JsValue> {
            let stripped: StrippedEventArray = js(stripped).unchecked_into();
            room_preview(stripped, Ts::new_unchecked(js(opts))).map(|p| json(p.js_value()))
        }

        fn code(error: JsValue) -> String {
            assert!(error.is_instance_of::<js_sys::Error>(), "an Error object");
            js_sys::Reflect::get(&error, &"code".into()).unwrap().as_string().unwrap()
        }

        #[wasm_bindgen_test]
        fn stripped_state_equals_synapse_through_js() {
            for scenario in common::scenarios() {
                let opts = json!({"kind": scenario["kind"], "membershipEvent": common::membership_event(&scenario)});
                let ours = strip(&scenario["state"], &opts).unwrap();
                assert_eq!(ours, scenario["synapse_stripped"], "scenario {}", scenario["name"]);
            }
        }

        #[wasm_bindgen_test]
        fn config_reaches_the_strip() {
            let scenario = common::scenario("named_room_with_avatar_topic_alias_encryption");
            let opts = json!({"kind": "invite", "membershipEvent": common::membership_event(&scenario),
                              "config": {"disableDefaultEventTypes": true}});
            let types: Vec<JsonValue> = strip(&scenario["state"], &opts).unwrap()
                .as_array().unwrap().iter().map(|e| e["type"].clone()).collect();
            assert_eq!(types, [json!("m.room.create"), json!("m.room.member"), json!("m.room.member")]);
        }

        #[wasm_bindgen_test]
        fn preview_of_an_unnamed_dm_through_js() {
            let scenario = common::scenario("unnamed_dm_falls_back_to_inviter");
            let opts = json!({"roomId": scenario["room_id"], "ownUserId": scenario["target_user"]});
            let preview = preview(&scenario["synapse_stripped"], &opts).unwrap();
            assert_eq!(preview["displayName"], "Alice Liddell");
            assert_eq!(preview["displayNameSource"], "inviter");
            assert_eq!(preview["avatarUrl"], "mxc://localhost/alice-avatar");
            assert_eq!(preview["avatarSource"], "inviter");
            assert_eq!(preview["inviter"]["userId"], "@alice18510a:localhost");
            assert_eq!(preview["topic"], JsonValue::Null, "absent values are null");
            assert_eq!(preview["warnings"], json!([]));
        }

        #[wasm_bindgen_test]
        fn errors_reach_js_with_their_codes() {
            let invite = json!({"type": "m.room.member", "state_key": "@b:x", "sender": "@a:x",
                                "content": {"membership": "invite"}});
            let opts = json!({"kind": "invite", "membershipEvent": invite});
            assert_eq!(code(strip(&json!({}), &opts).unwrap_err()), "INVALID_STATE");
            assert_eq!(code(strip(&json!([1]), &opts).unwrap_err()), "INVALID_EVENT");
            assert_eq!(code(strip(&json!([]), &json!({"kind": "join", "membershipEvent": invite})).unwrap_err()), "INVALID_OPTIONS");
            assert_eq!(code(strip(&json!([]), &json!({"kind": "invite", "membershipEvent": invite, "typo": 1})).unwrap_err()), "INVALID_OPTIONS");
            assert_eq!(code(strip(&json!([]), &json!({"kind": "invite", "membershipEvent": invite, "config": {"x": 1}})).unwrap_err()), "INVALID_CONFIG");
            assert_eq!(code(preview(&json!("nope"), &json!({"roomId": "!r", "ownUserId": "@u:x"})).unwrap_err()), "INVALID_STATE");
            assert_eq!(code(preview(&json!([]), &json!({"roomId": "!r"})).unwrap_err()), "INVALID_OPTIONS");
            let bigint = js_sys::Array::of1(&js_sys::BigInt::from(1u64).into());
            let result = compute_stripped_state(bigint.unchecked_into::<EventArray>(), Ts::new_unchecked(js(&opts)));
            assert_eq!(code(result.err().expect("a BigInt is refused")), "INVALID_JSON");
        }
    };
}
