//! The JS surface, tested from Rust through the real wasm-bindgen boundary: the same suite runs
//! under Node (`wasm-pack test --node`) and in headless Chromium (`--headless --chrome`).

use prejoin::bindings::JsEventStore;
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::JsValue;

/// `await EventStore.open(opts)`, as JS would: the store, or what the promise rejected with.
pub async fn open_store(opts: JsValue) -> Result<JsEventStore, JsValue> {
    let promise = JsEventStore::open(tsify::Ts::new_unchecked(opts));
    let store = wasm_bindgen_futures::JsFuture::from(promise).await?;
    Ok(JsEventStore::try_from_js_value(store).expect("EventStore.open resolves to an EventStore"))
}

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

/// Expands to a module of `#[wasm_bindgen_test]`s of the `EventStore` class, each on a store
/// opened with `$options()` (the backend's options: a fresh IndexedDB name, or `inMemory`)
/// merged with the test's own.
#[macro_export]
macro_rules! event_store_tests {
    ($options:ident) => {
        mod event_store {
            use std::collections::{BTreeMap, BTreeSet};
            use std::future::Future;
            use std::task::Poll;

            use prejoin::bindings::{compute_stripped_state, EventArray, JsEventStore};
            use serde_json::{json, Value as JsonValue};
            use tsify::Ts;
            use wasm_bindgen::{JsCast, JsValue};
            use wasm_bindgen_test::wasm_bindgen_test;

            use super::common;

            /// A JSON value as JS, through `JSON.parse` as a client would have it (numbers
            /// beyond 2^53 included).
            fn js(value: &JsonValue) -> JsValue {
                js_sys::JSON::parse(&value.to_string()).unwrap()
            }

            fn json(value: JsValue) -> JsonValue {
                serde_wasm_bindgen::from_value(value).unwrap()
            }

            fn code(error: JsValue) -> String {
                assert!(error.is_instance_of::<js_sys::Error>(), "an Error object");
                js_sys::Reflect::get(&error, &"code".into()).unwrap().as_string().unwrap()
            }

            /// The backend's options with `extra` merged in.
            fn options(extra: JsonValue) -> JsonValue {
                let mut options = super::$options();
                for (key, value) in extra.as_object().unwrap() {
                    options[key] = value.clone();
                }
                options
            }

            async fn open(extra: JsonValue) -> JsEventStore {
                common::bindings::open_store(js(&options(extra))).await.unwrap()
            }

            async fn persist(
                store: &JsEventStore,
                events: &[JsonValue],
                opts: Option<JsonValue>,
            ) -> Result<JsonValue, JsValue> {
                let events = js(&JsonValue::Array(events.to_vec())).unchecked_into::<EventArray>();
                let opts = opts.map(|opts| Ts::new_unchecked(js(&opts)));
                store.persist_events(events, opts).await.map(|result| json(result.js_value()))
            }

            async fn get_event(store: &JsEventStore, id: &str) -> Result<JsonValue, JsValue> {
                let event = store.get_event(JsValue::from_str(id)).await?;
                Ok(event.map_or(JsonValue::Null, |event| json(event.js_value())))
            }

            async fn current_state(
                store: &JsEventStore,
                room_id: &str,
                filter: Option<JsonValue>,
            ) -> Result<JsonValue, JsValue> {
                let filter = filter.map(|filter| Ts::new_unchecked(js(&filter)));
                let state = store.current_state(JsValue::from_str(room_id), filter).await?;
                Ok(json(state.into()))
            }

            async fn stripped(
                store: &JsEventStore,
                room_id: &str,
                opts: JsonValue,
            ) -> Result<JsonValue, JsValue> {
                let opts = Ts::new_unchecked(js(&opts));
                let events = store.stripped_state(JsValue::from_str(room_id), opts).await?;
                Ok(json(events.into()))
            }

            fn pdus() -> JsonValue {
                common::fixture("pdus.json")
            }

            fn room_events(room: &JsonValue) -> Vec<JsonValue> {
                room["events"].as_array().unwrap().iter().map(|e| e["pdu"].clone()).collect()
            }

            /// These rooms of `pdus.json` (by index), interleaved in one batch.
            fn rooms_interleaved(fixture: &JsonValue, indices: &[usize]) -> Vec<JsonValue> {
                let rooms: Vec<Vec<JsonValue>> =
                    indices.iter().map(|index| room_events(&fixture["rooms"][*index])).collect();
                let longest = rooms.iter().map(Vec::len).max().unwrap();
                (0..longest)
                    .flat_map(|index| rooms.iter().filter_map(move |room| room.get(index)))
                    .cloned()
                    .collect()
            }

            /// The PDUs of a fixture room's state, by the fixture's ids, as JSON.
            fn state_pdus(room: &JsonValue, state: &BTreeMap<(String, String), String>) -> JsonValue {
                let by_id: BTreeMap<&str, &JsonValue> = room["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|event| (event["event_id"].as_str().unwrap(), &event["pdu"]))
                    .collect();
                state.values().map(|id| by_id[id.as_str()].clone()).collect()
            }

            /// `(type, state_key, event_id)` of each event of a returned state, in its order.
            fn keys(state: &JsonValue) -> Vec<(String, String, String)> {
                let text = |event: &JsonValue, field: &str| event[field].as_str().unwrap().to_owned();
                state
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| (text(e, "type"), text(e, "state_key"), text(e, "event_id")))
                    .collect()
            }

            /// A fixture state as that list, ordered by type, then state_key.
            fn expected_keys(state: &BTreeMap<(String, String), String>) -> Vec<(String, String, String)> {
                state.iter().map(|((t, k), id)| (t.clone(), k.clone(), id.clone())).collect()
            }

            /// Polls both futures until both are done: two calls in flight at once, as JS makes
            /// them when it does not await the first before the second.
            async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
                let (mut a, mut b) = (Box::pin(a), Box::pin(b));
                let (mut a_out, mut b_out) = (None, None);
                std::future::poll_fn(|context| {
                    if a_out.is_none() {
                        if let Poll::Ready(out) = a.as_mut().poll(context) {
                            a_out = Some(out);
                        }
                    }
                    if b_out.is_none() {
                        if let Poll::Ready(out) = b.as_mut().poll(context) {
                            b_out = Some(out);
                        }
                    }
                    if a_out.is_some() && b_out.is_some() { Poll::Ready(()) } else { Poll::Pending }
                })
                .await;
                (a_out.unwrap(), b_out.unwrap())
            }

            /// Without an `instanceName`, each store writes as `tab-` and 16 random hex digits,
            /// another for each store.
            #[wasm_bindgen_test]
            async fn a_store_without_an_instance_name_draws_one() {
                let names = [open(json!({})).await, open(json!({})).await]
                    .map(|store| store.instance_name());
                for name in &names {
                    let hex = name.strip_prefix("tab-").unwrap_or_else(|| panic!("{name}"));
                    assert_eq!(hex.len(), 16, "{name}");
                    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
                }
                assert_ne!(names[0], names[1]);
            }

            /// The v12 room persisted through `persistEvents`, read back through every reader and
            /// compared with Synapse's rows.
            #[wasm_bindgen_test]
            async fn a_fixture_room_round_trips() {
                let fixture = pdus();
                let room = &fixture["rooms"][11];
                let room_id = room["room_id"].as_str().unwrap();
                let store = open(json!({"instanceName": "tab-test"})).await;
                let events = room["events"].as_array().unwrap();
                let result = persist(&store, &room_events(room), None).await.unwrap();

                let ids: Vec<&JsonValue> = events.iter().map(|e| &e["event_id"]).collect();
                let rooms = result["rooms"].as_array().unwrap();
                assert_eq!(rooms.len(), 1);
                let chunk = &rooms[0];
                assert_eq!(chunk["roomId"], room_id);
                assert_eq!(chunk["persisted"].as_array().unwrap().iter().collect::<Vec<_>>(), ids);
                assert_eq!(chunk["rejected"], json!([]));
                assert_eq!(chunk["softFailed"], json!([]));
                assert_eq!(chunk["forwardExtremities"], room["forward_extremities"]);
                assert_eq!(chunk["streamOrderings"], json!({"first": 1, "last": events.len()}));
                assert_eq!(chunk["error"], JsonValue::Null);

                // Synapse's stream order within the room is ours: the rank of its stream_ordering.
                let mut by_order: Vec<&JsonValue> = events.iter().collect();
                by_order.sort_by_key(|e| e["stream_ordering"].as_i64().unwrap());
                for (rank, event) in by_order.iter().enumerate() {
                    let id = event["event_id"].as_str().unwrap();
                    let ours = get_event(&store, id).await.unwrap();
                    assert_eq!(ours["eventId"], id);
                    assert_eq!(ours["formatVersion"], event["format_version"], "{id}");
                    assert_eq!(ours["roomVersion"], room["room_version"], "{id}");
                    let mut pdu = event["pdu"].clone();
                    pdu["event_id"] = json!(id);
                    pdu["room_id"] = json!(room_id);
                    assert_eq!(ours["event"], pdu, "{id}: the PDU with its ids");
                    let metadata = &ours["internalMetadata"];
                    assert_eq!(metadata["streamOrdering"], json!(rank + 1), "{id}");
                    assert_eq!(metadata["instanceName"], "tab-test");
                    assert_eq!(metadata["outlier"], event["outlier"]);
                    assert_eq!(metadata["softFailed"], false);
                    assert_eq!(metadata["outOfBandMembership"], false);
                    assert_eq!(metadata["txnId"], JsonValue::Null);
                    assert_eq!(metadata["redacted"], false);
                    assert_eq!(ours["rejectedReason"], event["rejection_reason"]);
                }

                let current = current_state(&store, room_id, None).await.unwrap();
                let expected = common::expected_state(&room["current_state"]);
                assert_eq!(keys(&current), expected_keys(&expected));
                for event in current.as_array().unwrap() {
                    assert_eq!(event["room_id"], room_id);
                    for field in ["auth_events", "prev_events", "hashes", "signatures", "depth"] {
                        assert!(event.get(field).is_none(), "client format has no {field}");
                    }
                }
                let names = current_state(&store, room_id, Some(json!({"types": [["m.room.name", ""]]})));
                let names = names.await.unwrap();
                assert_eq!(names.as_array().unwrap().len(), 1);
                assert_eq!(names[0]["content"]["name"], "Room v12 (4e7453)");

                // The state at the fourth event, members only.
                let fourth = &events[3];
                let group = common::synapse_group_state(room, fourth["state_group"].as_i64().unwrap());
                let members: BTreeMap<(String, String), String> =
                    group.into_iter().filter(|((t, _), _)| t == "m.room.member").collect();
                assert!(!members.is_empty());
                let filter = Ts::new_unchecked(js(&json!({"members": "all", "types": []})));
                let id = JsValue::from_str(fourth["event_id"].as_str().unwrap());
                let state = json(store.state_at_event(id, Some(filter)).await.unwrap().into());
                assert_eq!(keys(&state), expected_keys(&members));

                let extremities = store.forward_extremities(JsValue::from_str(room_id)).await.unwrap();
                assert_eq!(json!(extremities), room["forward_extremities"]);
                assert_eq!(store.current_token().unwrap(), events.len() as f64);
                assert_eq!(store.instance_name(), "tab-test");
                store.close();
            }

            /// Soft failure (synapse#5269's situation), batch by batch as Synapse received it:
            /// the flag reaches `internalMetadata.softFailed` and the result's `softFailed`.
            #[wasm_bindgen_test]
            async fn soft_failed_events_are_flagged() {
                let fixture = common::fixture("softfail.json");
                let room = &fixture["rooms"][0];
                let pdus = common::softfail_pdus(room);
                let store = open(json!({})).await;
                let mut soft_failed = 0;
                for batch in room["batches"].as_array().unwrap() {
                    let ids: Vec<&str> =
                        batch["events"].as_array().unwrap().iter().map(|id| id.as_str().unwrap()).collect();
                    let events: Vec<JsonValue> = ids.iter().map(|id| pdus[*id].clone()).collect();
                    let result = persist(&store, &events, None).await.unwrap();
                    let chunk = &result["rooms"][0];
                    assert_eq!(chunk["error"], JsonValue::Null);
                    for id in ids {
                        let soft = batch["outcomes"][id] == "soft_failed";
                        let ours = get_event(&store, id).await.unwrap();
                        assert_eq!(ours["internalMetadata"]["softFailed"], soft, "{id}");
                        let listed = chunk["softFailed"].as_array().unwrap().contains(&json!(id));
                        assert_eq!(listed, soft, "{id}");
                        soft_failed += usize::from(soft);
                    }
                    let extremities = store.forward_extremities(JsValue::from_str(room["room_id"].as_str().unwrap()));
                    let expected = common::id_set(&batch["expected"]["forward_extremities"]);
                    assert_eq!(extremities.await.unwrap().into_iter().collect::<BTreeSet<_>>(), expected);
                }
                assert_eq!(soft_failed, 1, "the fixture has one soft-failed event");
            }

            /// `strippedState` is `computeStrippedState` on Synapse's current state with the
            /// user's invite, with the config the store was opened with.
            #[wasm_bindgen_test]
            async fn stripped_state_is_compute_stripped_state_of_the_current_state() {
                let fixture = pdus();
                let dave = "@dave4e7453:localhost";
                for config in [JsonValue::Null, json!({"disableDefaultEventTypes": true})] {
                    let extra = if config.is_null() { json!({}) } else { json!({"config": config}) };
                    let store = open(extra).await;
                    persist(&store, &rooms_interleaved(&fixture, &[0, 2, 11]), None).await.unwrap();
                    for index in [0, 2, 11] {
                        let room = &fixture["rooms"][index];
                        let room_id = room["room_id"].as_str().unwrap();
                        let current = common::expected_state(&room["current_state"]);
                        let invite_id = &current[&("m.room.member".to_owned(), dave.to_owned())];
                        let invite = room["events"].as_array().unwrap().iter()
                            .find(|e| e["event_id"] == invite_id.as_str()).unwrap();
                        let mut opts = json!({"kind": "invite", "membershipEvent": invite["pdu"]});
                        if !config.is_null() {
                            opts["config"] = config.clone();
                        }
                        let expected = compute_stripped_state(
                            js(&state_pdus(room, &current)).unchecked_into(),
                            Ts::new_unchecked(js(&opts)),
                        )
                        .unwrap();
                        let ours = stripped(&store, room_id, json!({"kind": "invite", "userId": dave}));
                        assert_eq!(ours.await.unwrap(), json(expected.into()), "room {index}, {config}");
                    }
                    store.close();
                }
            }

            /// One preview per stored room, sorted by room id, named from Synapse's state.
            #[wasm_bindgen_test]
            async fn room_previews_name_every_room() {
                let fixture = pdus();
                let store = open(json!({})).await;
                let stored = [0, 11, 12, 13, 14, 15];
                persist(&store, &rooms_interleaved(&fixture, &stored), None).await.unwrap();
                let opts = Ts::new_unchecked(js(&json!({"ownUserId": "@dave4e7453:localhost"})));
                let previews = json(store.room_previews(opts).await.unwrap().into());
                let previews = previews.as_array().unwrap();
                let mut rooms: Vec<&JsonValue> = stored.iter().map(|index| &fixture["rooms"][*index]).collect();
                rooms.sort_by_key(|room| room["room_id"].as_str().unwrap());
                assert_eq!(previews.len(), rooms.len());
                for (preview, room) in previews.iter().zip(rooms) {
                    assert_eq!(preview["roomId"], room["room_id"]);
                    let name = room["name"].as_str().unwrap();
                    let expected = match name {
                        "state-changes" => json!("#state-4e7453:localhost"),
                        "dm" => preview["displayName"].clone(),
                        "space" => json!("A space (4e7453)"),
                        "space-child" => json!("Space child (4e7453)"),
                        version => json!(format!("Room {version} (4e7453)")),
                    };
                    assert_eq!(preview["displayName"], expected, "{name}");
                    let invited = name.starts_with('v');
                    assert_eq!(preview["membership"] == "invite", invited, "{name}");
                    if invited {
                        assert_eq!(preview["inviter"]["userId"], "@alice4e7453:localhost", "{name}");
                        assert_eq!(preview["inviter"]["displayName"], "Alice Liddell", "{name}");
                    }
                }
            }

            /// Two `persistEvents` calls in flight at once run one after the other.
            #[wasm_bindgen_test]
            async fn concurrent_persists_take_distinct_orderings() {
                let fixture = pdus();
                let (a, b) = (room_events(&fixture["rooms"][3]), room_events(&fixture["rooms"][4]));
                let store = open(json!({})).await;
                let (first, second) = both(persist(&store, &a, None), persist(&store, &b, None)).await;
                let (first, second) = (first.unwrap(), second.unwrap());
                let total = a.len() + b.len();
                assert_eq!(first["rooms"][0]["streamOrderings"], json!({"first": 1, "last": a.len()}));
                assert_eq!(
                    second["rooms"][0]["streamOrderings"],
                    json!({"first": a.len() + 1, "last": total})
                );
                assert_eq!(store.current_token().unwrap(), total as f64);
            }

            /// Bad input is refused whole with a typed code and stores nothing; unknown ids read
            /// as `undefined` or `[]`; a closed store says so.
            #[wasm_bindgen_test]
            async fn errors_reach_js_with_their_codes() {
                let fixture = pdus();
                let room = &fixture["rooms"][9];
                let room_id = room["room_id"].as_str().unwrap();
                let events = room_events(room);
                let store = open(json!({})).await;

                let not_array = store.persist_events(js(&json!({"a": 1})).unchecked_into(), None);
                assert_eq!(code(not_array.await.err().unwrap()), "INVALID_PDU");
                assert_eq!(code(persist(&store, &[json!(42)], None).await.unwrap_err()), "INVALID_PDU");
                let mut wrong_id = events.clone();
                wrong_id[4]["event_id"] = json!("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
                assert_eq!(code(persist(&store, &wrong_id, None).await.unwrap_err()), "EVENT_ID_MISMATCH");
                assert_eq!(code(persist(&store, &events[1..], None).await.unwrap_err()), "UNKNOWN_ROOM");
                let mut too_big = events.clone();
                too_big[2]["content"]["n"] = json!(9_007_199_254_740_992_u64);
                assert_eq!(code(persist(&store, &too_big, None).await.unwrap_err()), "INTEGER_OUT_OF_RANGE");
                let mut version = events[0].clone();
                version["content"]["room_version"] = json!("99");
                assert_eq!(code(persist(&store, &[version], None).await.unwrap_err()), "UNKNOWN_ROOM_VERSION");
                let mut bad_room = events[0].clone();
                bad_room["room_id"] = json!("not a room");
                assert_eq!(code(persist(&store, &[bad_room], None).await.unwrap_err()), "INVALID_ROOM_ID");
                let typo = persist(&store, &events, Some(json!({"backfiled": true})));
                assert_eq!(code(typo.await.unwrap_err()), "INVALID_OPTIONS");
                let bigint = js_sys::Array::of1(&js_sys::BigInt::from(1u64).into());
                let result = store.persist_events(bigint.unchecked_into(), None).await;
                assert_eq!(code(result.err().unwrap()), "INVALID_JSON");
                for event in room["events"].as_array().unwrap() {
                    let id = event["event_id"].as_str().unwrap();
                    assert_eq!(get_event(&store, id).await.unwrap(), JsonValue::Null, "{id} not stored");
                }

                persist(&store, &events, None).await.unwrap();
                let unknown = "$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
                assert_eq!(get_event(&store, unknown).await.unwrap(), JsonValue::Null);
                assert_eq!(code(get_event(&store, "no id").await.unwrap_err()), "INVALID_EVENT_ID");
                let number = store.get_event(JsValue::from_f64(4.0)).await;
                assert_eq!(code(number.err().unwrap()), "INVALID_EVENT_ID");
                let unknown_state = store.state_at_event(JsValue::from_str(unknown), None).await;
                assert_eq!(code(unknown_state.err().unwrap()), "UNKNOWN_EVENT");
                assert_eq!(current_state(&store, "!unknown:localhost", None).await.unwrap(), json!([]));
                assert_eq!(code(current_state(&store, "no room", None).await.unwrap_err()), "INVALID_ROOM_ID");
                let filter = Some(json!({"members": "some"}));
                assert_eq!(code(current_state(&store, room_id, filter).await.unwrap_err()), "INVALID_STATE_FILTER");
                let ban = stripped(&store, room_id, json!({"kind": "ban", "userId": "@dave4e7453:localhost"}));
                assert_eq!(code(ban.await.unwrap_err()), "INVALID_OPTIONS");
                let joined = stripped(&store, room_id, json!({"kind": "invite", "userId": "@alice4e7453:localhost"}));
                assert_eq!(code(joined.await.unwrap_err()), "MEMBERSHIP_MISMATCH");
                let unknown_room = stripped(&store, "!unknown:localhost", json!({"kind": "knock", "userId": "@c:x"}));
                assert_eq!(code(unknown_room.await.unwrap_err()), "UNKNOWN_ROOM");

                for (opts, expected) in [
                    (json!({"name": "x", "config": {"x": 1}}), "INVALID_CONFIG"),
                    (json!({"nme": "x"}), "INVALID_OPTIONS"),
                ] {
                    let result = common::bindings::open_store(js(&opts)).await;
                    assert_eq!(code(result.err().unwrap()), expected, "{opts}");
                }

                store.close();
                store.close();
                let closed = get_event(&store, unknown).await;
                assert_eq!(code(closed.unwrap_err()), "STORE_CLOSED");
                assert_eq!(code(store.current_token().unwrap_err()), "STORE_CLOSED");
                assert_eq!(code(persist(&store, &events, None).await.unwrap_err()), "STORE_CLOSED");
            }
        }
    };
}
