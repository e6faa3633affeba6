//! Synthetic rooms for scale: valid, unsigned PDUs of room version 10 whose event ids are their
//! reference hashes, built one after another (each event's prev is the one before).
//!
//! Signatures are not checked by the store, so none are made; everything the authorization rules
//! read (auth events, power levels, join rules, memberships) is real.

use prejoin::model::pdu::Pdu;
use prejoin::model::room_version::RoomVersion;
use serde_json::{json, Value as JsonValue};

/// A room being built: its events so far and the ids the next events refer to.
pub struct SyntheticRoom {
    version: RoomVersion,
    pub room_id: String,
    pub events: Vec<JsonValue>,
    /// The id of each event of `events`.
    pub event_ids: Vec<String>,
    create: String,
    power_levels: String,
    join_rules: String,
    creator_member: String,
    last: String,
    depth: u64,
}

pub const CREATOR: &str = "@creator:bench.example";

impl SyntheticRoom {
    /// A public room: create, the creator's join, power levels, join rules.
    pub fn new(name: &str) -> Self {
        let version = RoomVersion::parse("10").unwrap();
        let mut room = Self {
            version,
            room_id: format!("!{name}:bench.example"),
            events: Vec::new(),
            event_ids: Vec::new(),
            create: String::new(),
            power_levels: String::new(),
            join_rules: String::new(),
            creator_member: String::new(),
            last: String::new(),
            depth: 0,
        };
        room.create = room.push(
            "m.room.create",
            Some(""),
            CREATOR,
            json!({"creator": CREATOR, "room_version": "10"}),
            vec![],
        );
        let auth = vec![room.create.clone()];
        room.creator_member =
            room.push("m.room.member", Some(CREATOR), CREATOR, json!({"membership": "join"}), auth);
        let auth = vec![room.create.clone(), room.creator_member.clone()];
        room.power_levels = room.push(
            "m.room.power_levels",
            Some(""),
            CREATOR,
            json!({"users": {CREATOR: 100}, "users_default": 0, "events_default": 0, "state_default": 50}),
            auth,
        );
        let auth =
            vec![room.create.clone(), room.creator_member.clone(), room.power_levels.clone()];
        room.join_rules =
            room.push("m.room.join_rules", Some(""), CREATOR, json!({"join_rule": "public"}), auth);
        room
    }

    /// `count` users join (`@member{index}:bench.example`).
    pub fn with_members(mut self, count: usize) -> Self {
        for index in 0..count {
            let user = format!("@member{index}:bench.example");
            self.join(
                &user,
                json!({"membership": "join", "displayname": format!("Member {index}")}),
            );
        }
        self
    }

    /// `user` joins the (public) room with `content`; returns the join's id.
    pub fn join(&mut self, user: &str, content: JsonValue) -> String {
        let auth = vec![self.create.clone(), self.power_levels.clone(), self.join_rules.clone()];
        self.push("m.room.member", Some(user), user, content, auth)
    }

    /// The creator sends `count` messages.
    pub fn with_messages(self, count: usize) -> Self {
        self.with_messages_saying(count, "message")
    }

    /// The creator sends `count` messages, each `text` and its index.
    pub fn with_messages_saying(mut self, count: usize, text: &str) -> Self {
        for index in 0..count {
            let auth =
                vec![self.create.clone(), self.power_levels.clone(), self.creator_member.clone()];
            self.push(
                "m.room.message",
                None,
                CREATOR,
                json!({"msgtype": "m.text", "body": format!("{text} {index}")}),
                auth,
            );
        }
        self
    }

    /// The id of the last event.
    pub fn last_event_id(&self) -> &str {
        &self.last
    }

    /// The ids of the create event, the creator's join and the power levels.
    pub fn initial_state(&self) -> [String; 3] {
        [self.create.clone(), self.creator_member.clone(), self.power_levels.clone()]
    }

    /// Appends an event after the last one; returns its id.
    pub fn push(
        &mut self,
        event_type: &str,
        state_key: Option<&str>,
        sender: &str,
        content: JsonValue,
        auth_events: Vec<String>,
    ) -> String {
        let prev: Vec<String> = if self.last.is_empty() { vec![] } else { vec![self.last.clone()] };
        self.push_after(prev, event_type, state_key, sender, content, auth_events)
    }

    /// Appends an event naming `prev` as its prev events; returns its id.
    pub fn push_after(
        &mut self,
        prev: Vec<String>,
        event_type: &str,
        state_key: Option<&str>,
        sender: &str,
        content: JsonValue,
        auth_events: Vec<String>,
    ) -> String {
        self.depth += 1;
        let mut pdu = json!({
            "room_id": self.room_id,
            "type": event_type,
            "sender": sender,
            "content": content,
            "auth_events": auth_events,
            "prev_events": prev,
            "depth": self.depth,
            "origin_server_ts": 1_700_000_000_000_u64 + self.depth,
            "hashes": {"sha256": "unchecked"},
            "signatures": {},
        });
        if let Some(state_key) = state_key {
            pdu["state_key"] = json!(state_key);
        }
        let id = Pdu::from_json_value(pdu.clone(), &self.version).unwrap().event_id().to_string();
        self.events.push(pdu);
        self.event_ids.push(id.clone());
        self.last = id.clone();
        id
    }
}
