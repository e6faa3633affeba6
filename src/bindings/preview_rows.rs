//! `previewSyncRooms`' way out of the module: each preview written as a row of JSON text, the
//! array of its fields' values, handed to JS a chunk of rows at a time, and made into objects
//! there (`previewsOfRows` in `convert.js`).
//!
//! No list of every preview is held, and the text of all of them is never in the module's
//! memory at once (that memory never shrinks). A row is less than half a preview object's text:
//! the field names, written and parsed once per room as object keys, are written once in JS
//! instead (`ARCHITECTURE.md` gives the times).

use serde::ser::{Serialize, SerializeTuple, Serializer};
use wasm_bindgen::prelude::*;

use super::convert::{json_bytes_to_js, previews_of_rows, write_json_text};
use crate::prejoin::preview::{Inviter, Placeholder};
use crate::prejoin::RoomPreview;

/// Previews written as rows of JSON text, a chunk at a time.
#[derive(Default)]
pub(super) struct PreviewChunks {
    done: Vec<JsValue>,
    text: Vec<u8>,
    count: usize,
    error: Option<JsValue>,
}

impl PreviewChunks {
    /// Previews per chunk: few enough that a chunk's text stays small next to the `/sync` text,
    /// enough that the chunks cost few crossings.
    const CHUNK: usize = 256;

    pub(super) fn push(&mut self, preview: &RoomPreview) {
        self.text.push(if self.count.is_multiple_of(Self::CHUNK) { b'[' } else { b',' });
        if let Err(error) = write_json_text(&mut self.text, &PreviewRow(preview)) {
            self.error = Some(error);
        }
        self.count += 1;
        if self.count.is_multiple_of(Self::CHUNK) {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.text.is_empty() {
            return;
        }
        self.text.push(b']');
        match json_bytes_to_js(&self.text) {
            Ok(chunk) => self.done.push(chunk),
            Err(error) => self.error = Some(error),
        }
        self.text.clear();
    }

    /// The previews of `sections`' chunks, in order, as one array of objects.
    pub(super) fn previews(sections: impl IntoIterator<Item = Self>) -> Result<JsValue, JsValue> {
        let chunks = js_sys::Array::new();
        for mut section in sections {
            section.flush();
            if let Some(error) = section.error {
                return Err(error);
            }
            for chunk in section.done {
                chunks.push(&chunk);
            }
        }
        Ok(previews_of_rows(&chunks).into())
    }
}

/// A preview as the array of its fields' values, in the order `previewsOfRows` names them; its
/// placeholder and its inviter too.
struct PreviewRow<'a>(&'a RoomPreview);

impl Serialize for PreviewRow<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Every field named: one added to `RoomPreview` does not compile here until it has its
        // place in the row (and in `previewsOfRows`).
        let RoomPreview {
            room_id,
            display_name,
            display_name_raw,
            display_name_source,
            heroes,
            other_member_count,
            avatar_url,
            avatar_source,
            placeholder,
            topic,
            canonical_alias,
            join_rule,
            room_type,
            encrypted,
            room_version,
            inviter,
            knock_reason,
            is_direct,
            membership,
            membership_ts,
            warnings,
        } = self.0;
        let mut row = serializer.serialize_tuple(21)?;
        row.serialize_element(room_id)?;
        row.serialize_element(display_name)?;
        row.serialize_element(display_name_raw)?;
        row.serialize_element(display_name_source)?;
        row.serialize_element(heroes)?;
        row.serialize_element(other_member_count)?;
        row.serialize_element(avatar_url)?;
        row.serialize_element(avatar_source)?;
        let Placeholder { initial, color_index } = placeholder;
        row.serialize_element(&(initial, color_index))?;
        row.serialize_element(topic)?;
        row.serialize_element(canonical_alias)?;
        row.serialize_element(join_rule)?;
        row.serialize_element(room_type)?;
        row.serialize_element(encrypted)?;
        row.serialize_element(room_version)?;
        let inviter = inviter.as_ref().map(|inviter| {
            let Inviter { user_id, display_name, avatar_url } = inviter;
            (user_id, display_name, avatar_url)
        });
        row.serialize_element(&inviter)?;
        row.serialize_element(knock_reason)?;
        row.serialize_element(is_direct)?;
        row.serialize_element(membership)?;
        row.serialize_element(membership_ts)?;
        row.serialize_element(warnings)?;
        row.end()
    }
}
