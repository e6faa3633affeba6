//! Reading the contents a preview needs with ruma's event content types; a content that does
//! not parse is reported and treated as absent, so one bad event never fails the whole preview.

use ruma_events::room::{
    avatar::RoomAvatarEventContent, canonical_alias::RoomCanonicalAliasEventContent,
    create::RoomCreateEventContent, encryption::RoomEncryptionEventContent,
    member::PossiblyRedactedRoomMemberEventContent, name::PossiblyRedactedRoomNameEventContent,
};
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::Value as JsonValue;

use super::trust::{key, EventMap, PreviewWarning, WarningCode};
use crate::model::StrippedEventRef;

/// Parses contents out of the trusted events, collecting a warning for each malformed one.
pub(super) struct ContentReader<'e, 'a> {
    pub(super) events: &'e EventMap<'a>,
    pub(super) warnings: &'e mut Vec<PreviewWarning>,
}

impl ContentReader<'_, '_> {
    fn parse<T: DeserializeOwned>(&mut self, event: &StrippedEventRef<'_>) -> Option<T> {
        match event.content_as() {
            Some(content) => Some(content),
            None => {
                let warning = PreviewWarning::new(
                    WarningCode::MalformedContent,
                    &event.event_type,
                    &event.state_key,
                );
                self.warnings.push(warning);
                None
            }
        }
    }

    fn room_content<T: DeserializeOwned>(&mut self, event_type: &str) -> Option<T> {
        let event = self.events.get(&key(event_type, ""))?;
        self.parse(event)
    }

    /// The member content of `user_id`, if there is a usable one.
    pub(super) fn member(&mut self, user_id: &str) -> Option<Member> {
        let event = self.events.get(&key("m.room.member", user_id))?;
        let content: PossiblyRedactedRoomMemberEventContent = self.parse(event)?;
        Some(Member::new(user_id, event, content))
    }

    /// Every usable member event, by user id.
    pub(super) fn members(&mut self) -> Vec<Member> {
        let events = self.events;
        events
            .range(key("m.room.member", "")..)
            .take_while(|((event_type, _), _)| event_type == "m.room.member")
            .filter_map(|((_, user_id), event)| {
                let content = self.parse(event)?;
                Some(Member::new(user_id, event, content))
            })
            .collect()
    }
}

/// What a member event says about one user.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub(super) user_id: String,
    pub(super) membership: String,
    /// `displayname`, when it is a non-empty string.
    pub(super) displayname: Option<String>,
    /// `avatar_url`, when it is a valid `mxc://` URI.
    pub(super) avatar_url: Option<String>,
    pub(super) reason: Option<String>,
    pub(super) is_direct: bool,
    pub(super) origin_server_ts: Option<u64>,
}

impl Member {
    fn new(
        user_id: &str,
        event: &StrippedEventRef<'_>,
        content: PossiblyRedactedRoomMemberEventContent,
    ) -> Self {
        Self {
            user_id: user_id.to_owned(),
            membership: content.membership.as_str().to_owned(),
            displayname: content.displayname.filter(|name| !name.trim().is_empty()),
            avatar_url: content.avatar_url.filter(|url| url.is_valid()).map(String::from),
            reason: content.reason,
            is_direct: content.is_direct.unwrap_or(false),
            origin_server_ts: event.origin_server_ts(),
        }
    }

    /// The spec's user display name: the display name, else the user id.
    pub(super) fn name(&self) -> &str {
        self.displayname.as_deref().unwrap_or(&self.user_id)
    }

    /// Whether the spec counts this member in joined + invited.
    pub(super) fn is_joined_or_invited(&self) -> bool {
        matches!(self.membership.as_str(), "join" | "invite")
    }
}

/// The room-level facts of a preview, each from its own state event.
#[derive(Debug, Clone, Default)]
pub(super) struct RoomFacts {
    pub(super) has_create: bool,
    /// `m.room.name`, when non-empty after trimming.
    pub(super) name: Option<String>,
    pub(super) canonical_alias: Option<String>,
    /// `m.room.avatar` url, when a valid `mxc://` URI.
    pub(super) avatar_url: Option<String>,
    pub(super) topic: Option<String>,
    pub(super) join_rule: Option<String>,
    pub(super) room_type: Option<String>,
    pub(super) room_version: Option<String>,
    pub(super) encrypted: bool,
}

impl RoomFacts {
    pub(super) fn read(reader: &mut ContentReader<'_, '_>) -> Self {
        let create: Option<RoomCreateEventContent> = reader.room_content("m.room.create");
        let name: Option<PossiblyRedactedRoomNameEventContent> = reader.room_content("m.room.name");
        let alias: Option<RoomCanonicalAliasEventContent> =
            reader.room_content("m.room.canonical_alias");
        let avatar: Option<RoomAvatarEventContent> = reader.room_content("m.room.avatar");
        let join_rules: Option<JoinRulesContent> = reader.room_content("m.room.join_rules");
        let encryption: Option<RoomEncryptionEventContent> =
            reader.room_content("m.room.encryption");
        let topic = reader
            .events
            .get(&key("m.room.topic", ""))
            .and_then(|event| event.content_as::<serde_json::Map<String, JsonValue>>())
            .and_then(|content| read_topic(&content));
        Self {
            has_create: create.is_some(),
            name: name.and_then(|name| name.name).filter(|name| !name.trim().is_empty()),
            canonical_alias: alias.and_then(|alias| alias.alias).map(String::from),
            avatar_url: avatar
                .and_then(|avatar| avatar.url)
                .filter(|url| url.is_valid())
                .map(String::from),
            topic,
            join_rule: join_rules.map(|rules| rules.join_rule),
            room_type: create
                .as_ref()
                .and_then(|create| create.room_type.as_ref())
                .map(|t| t.to_string()),
            room_version: create.map(|create| create.room_version.to_string()),
            encrypted: encryption.is_some(),
        }
    }
}

/// The one field of `m.room.join_rules` a preview shows. ruma's `RoomJoinRulesEventContent`
/// deserialises only from JSON text (it reads the rule through a raw JSON value), and a preview
/// needs no more than the rule's name, which every room version spells as a string.
#[derive(Deserialize)]
struct JoinRulesContent {
    join_rule: String,
}

/// The topic as plain text: `topic` when non-empty, else the `text/plain` (or untyped) body of
/// the `m.topic` block.
fn read_topic(content: &serde_json::Map<String, JsonValue>) -> Option<String> {
    let plain =
        content.get("topic").and_then(JsonValue::as_str).filter(|topic| !topic.trim().is_empty());
    if let Some(topic) = plain {
        return Some(topic.to_owned());
    }
    let texts = content.get("m.topic")?.get("m.text")?.as_array()?;
    texts
        .iter()
        .filter(|text| {
            text.get("mimetype").is_none_or(|mimetype| mimetype.as_str() == Some("text/plain"))
        })
        .find_map(|text| text.get("body").and_then(JsonValue::as_str))
        .map(str::to_owned)
}
