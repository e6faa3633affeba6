//! The options objects of the JS functions, with their TypeScript types.

use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;
use tsify::Tsify;
use wasm_bindgen::JsValue;

use super::convert::to_js_error;
use crate::prejoin::{
    preview::PreviewKind, MembershipKind, PrejoinConfig, PreviewRequest, StripRequest,
};

/// Options of `computeStrippedState`.
#[derive(Debug, Deserialize, Serialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StrippedStateOptions {
    /// Invite or knock.
    pub kind: MembershipKind,
    /// The invite or knock `m.room.member` event itself; it comes last in the result.
    #[tsify(type = "Event")]
    pub membership_event: JsonValue,
    /// Invites only: whose member event to include (default: the invite's sender).
    #[tsify(optional)]
    pub membership_user_id: Option<String>,
    /// Synapse's `room_prejoin_state`; the defaults when absent.
    #[tsify(optional, type = "PrejoinConfig")]
    pub config: Option<JsonValue>,
    /// Return the create event as the full event (MSC4311, for federation).
    #[tsify(optional)]
    pub full_create_event: Option<bool>,
}

impl StrippedStateOptions {
    pub(super) fn into_request(self) -> Result<StripRequest, JsValue> {
        let mut request = StripRequest::new(self.kind, self.membership_event);
        request.membership_user_id = self.membership_user_id;
        request.full_create_event = self.full_create_event.unwrap_or(false);
        if let Some(config) = self.config {
            request.config = PrejoinConfig::from_json(config).map_err(to_js_error)?;
        }
        Ok(request)
    }
}

/// Options of `roomPreview`.
#[derive(Debug, Deserialize, Serialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoomPreviewOptions {
    /// The room previewed; events claiming another room are ignored.
    pub room_id: String,
    /// The user the preview is for.
    pub own_user_id: String,
    /// Invite, knock or join; read from the own membership when absent.
    #[tsify(optional)]
    pub kind: Option<PreviewKind>,
}

impl RoomPreviewOptions {
    pub(super) fn into_request(self) -> PreviewRequest {
        let request = PreviewRequest::new(self.room_id, self.own_user_id);
        match self.kind {
            Some(kind) => request.with_kind(kind),
            None => request,
        }
    }
}

/// Options of `previewSyncRooms`.
#[derive(Debug, Deserialize, Serialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewSyncRoomsOptions {
    /// The user the previews are for: the user whose `/sync` response it is.
    pub own_user_id: String,
}
