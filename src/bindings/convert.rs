//! Conversions across the boundary, and the one place where errors become JS `Error`s.

use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::JsValue;

use crate::model::InputError;

/// A JS value as JSON; a value JSON cannot hold (BigInt, symbol, function) is `INVALID_JSON`.
pub(super) fn json_from_js(value: JsValue) -> Result<serde_json::Value, JsValue> {
    serde_wasm_bindgen::from_value(value)
        .map_err(|error| to_js_error(InputError::InvalidJson(error.to_string())))
}

/// An options object as its Rust type; a wrong shape or an unknown key is `INVALID_OPTIONS`.
pub(super) fn options_from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value)
        .map_err(|error| to_js_error(InputError::InvalidOptions(error.to_string())))
}

/// A Rust value as a plain JSON-compatible JS value: objects (not `Map`s), `null` for `None`.
pub(super) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|error| to_js_error(InputError::InvalidJson(error.to_string())))
}

/// An input error as a JS `Error` whose `code` is the error's stable code.
pub(super) fn to_js_error(error: InputError) -> JsValue {
    let js_error = js_sys::Error::new(&error.to_string());
    js_error.set_name("PrejoinError");
    // Setting a property on a fresh, unfrozen Error object cannot fail.
    let _ = js_sys::Reflect::set(&js_error, &"code".into(), &error.code().into());
    js_error.into()
}
