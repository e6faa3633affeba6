//! Conversions across the boundary, and the one place where errors become JS `Error`s.
//!
//! Values cross as JSON text: one native `JSON.stringify` / `JSON.parse` call and one UTF-8 copy
//! per call, instead of one boundary crossing per property (the cost that dominates when
//! `serde-wasm-bindgen` walks an object graph). JSON text also gives JSON's semantics exactly:
//! `undefined` members vanish, `NaN` becomes `null`, a `BigInt` is refused.

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value as JsonValue;
use wasm_bindgen::prelude::*;

use crate::model::InputError;

/// The error type every error thrown to JS passes through: the store's, which wraps an
/// [`InputError`] with the same message and code, or an [`InputError`] where there is no store.
#[cfg(feature = "store")]
type ThrownError = crate::storage::StoreError;
#[cfg(not(feature = "store"))]
type ThrownError = InputError;

#[wasm_bindgen(module = "/src/bindings/convert.js")]
extern "C" {
    // A string returned to Rust as a `String` is copied into the module by generated glue that
    // walks it a UTF-16 unit at a time in JS while it is ASCII, and otherwise reserves three
    // bytes a unit (of a memory that never shrinks); `TextEncoder` encodes natively, and its
    // bytes are copied in at their exact length. Previews of 10,000 invites, 7.3 MB of text with
    // one "é" near its start: the module's memory grew to 9.2 MB, not 30.7 MB, and the call took
    // 6 % less time.
    /// `JSON.stringify` as UTF-8 bytes, copied straight into the module: one crossing.
    /// `undefined` in, or a function, gives `None`.
    #[wasm_bindgen(js_name = stringifyUtf8, catch)]
    fn stringify_utf8(value: &JsValue) -> Result<Option<Vec<u8>>, JsValue>;

    /// Previews written as rows (`preview_rows`), chunks of them, as one array of objects.
    #[wasm_bindgen(js_name = previewsOfRows)]
    pub(super) fn previews_of_rows(chunks: &js_sys::Array) -> js_sys::Array;
}

/// A JS value as JSON text; `undefined` is `null`, and a value JSON cannot hold (a BigInt, a
/// cycle) is `INVALID_JSON`.
pub(super) fn json_text_from_js(value: &JsValue) -> Result<String, JsValue> {
    let bytes = stringify_utf8(value).map_err(|error| invalid_json(js_error_message(error)))?;
    match bytes {
        // `TextEncoder` writes UTF-8 only (a lone surrogate as U+FFFD), so this is never an
        // error; it is checked rather than assumed.
        Some(bytes) => String::from_utf8(bytes).map_err(invalid_json),
        None => Ok("null".to_owned()),
    }
}

/// A JS value as a JSON value.
pub(super) fn json_from_js(value: &JsValue) -> Result<JsonValue, JsValue> {
    let text = json_text_from_js(value)?;
    serde_json::from_str(&text).map_err(invalid_json)
}

/// An options object as its Rust type; a wrong shape or an unknown key is `INVALID_OPTIONS`.
pub(super) fn options_from_js<T: DeserializeOwned>(value: &JsValue) -> Result<T, JsValue> {
    let text = json_text_from_js(value)?;
    serde_json::from_str(&text)
        .map_err(|error| to_js_error(InputError::InvalidOptions(error.to_string())))
}

/// A Rust value as a plain JS value: objects, arrays and `null` for `None`.
pub(super) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    json_text_to_js(&to_json_text(value)?)
}

/// A Rust value as JSON text.
pub(super) fn to_json_text<T: Serialize>(value: &T) -> Result<String, JsValue> {
    serde_json::to_string(value).map_err(invalid_json)
}

/// [`to_json_text`], appended to `text`.
pub(super) fn write_json_text<T: Serialize>(text: &mut Vec<u8>, value: &T) -> Result<(), JsValue> {
    serde_json::to_writer(text, value).map_err(invalid_json)
}

/// JSON text [`write_json_text`] wrote, as a plain JS value.
pub(super) fn json_bytes_to_js(text: &[u8]) -> Result<JsValue, JsValue> {
    // serde_json writes UTF-8.
    json_text_to_js(std::str::from_utf8(text).map_err(invalid_json)?)
}

/// [`to_json_text`], written into a buffer of `capacity` bytes from the start: for a large value
/// of about known length, no copy of a growing buffer, nor a buffer twice the text.
#[cfg(feature = "store")]
pub(super) fn to_json_text_sized<T: Serialize>(
    value: &T,
    capacity: usize,
) -> Result<String, JsValue> {
    let mut text = Vec::with_capacity(capacity);
    write_json_text(&mut text, value)?;
    // serde_json writes UTF-8.
    String::from_utf8(text).map_err(invalid_json)
}

/// JSON text as a plain JS value.
pub(super) fn json_text_to_js(text: &str) -> Result<JsValue, JsValue> {
    js_sys::JSON::parse(text).map_err(|error| invalid_json(js_error_message(error)))
}

/// An `INVALID_JSON` error saying `error`.
fn invalid_json(error: impl std::fmt::Display) -> JsValue {
    to_js_error(InputError::InvalidJson(error.to_string()))
}

/// The message of an error JS threw.
fn js_error_message(error: JsValue) -> String {
    js_sys::Error::from(error).message().into()
}

/// An error as a JS `Error` whose `code` is the error's stable code: input errors and store
/// errors alike.
pub(super) fn to_js_error(error: impl Into<ThrownError>) -> JsValue {
    let error: ThrownError = error.into();
    let js_error = js_sys::Error::new(&error.to_string());
    js_error.set_name("PrejoinError");
    // Setting a property on a fresh, unfrozen Error object cannot fail.
    let _ = js_sys::Reflect::set(&js_error, &"code".into(), &error.code().into());
    js_error.into()
}
