//! Frame decoding: a frame is a seed frame (`ClientFrame`: auth, message, sync, …)
//! or an op frame naming an operation of the registry (`sova-ops`). Every failure
//! becomes a client-facing description, with the frame's `id` when it has one.

use serde::Deserialize;
use serde_json::{Map, Value};
use sova_types::ApiError;
use sova_types::frames::{ClientFrame, MAX_REQUEST_ID_LEN, SEED_FRAME_TYPES};

/// An operation frame: `{"type": <operation>, "id"?, …request fields}`.
#[derive(Deserialize)]
pub(crate) struct OpFrame {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub id: Option<String>,
    /// The operation's request object.
    #[serde(flatten)]
    pub params: Map<String, Value>,
}

/// A decoded frame.
pub(crate) enum Request {
    Seed(ClientFrame),
    Op(&'static sova_ops::Entry, OpFrame),
}

#[derive(Deserialize)]
struct IdProbe {
    #[serde(default)]
    id: Option<Value>,
}

/// The request id of a frame that failed to decode, if it has a usable one.
pub(crate) fn probe_id(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<IdProbe>(bytes)
        .ok()
        .and_then(|p| p.id)
        .and_then(|v| v.as_str().map(str::to_owned))
        .filter(|s| s.len() <= MAX_REQUEST_ID_LEN)
}

/// Decodes one frame (already within the size limit) and its request id.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Request, Option<String>), (ApiError, Option<String>)> {
    let request = match serde_json::from_slice::<ClientFrame>(bytes) {
        Ok(frame) => Request::Seed(frame),
        Err(seed_err) => match serde_json::from_slice::<OpFrame>(bytes) {
            Ok(op) if !SEED_FRAME_TYPES.contains(&op.kind.as_str()) => match sova_ops::socket_op(&op.kind) {
                Some(entry) => Request::Op(entry, op),
                None => {
                    let t: String = op.kind.chars().take(40).collect();
                    return Err((
                        ApiError::bad_request(format!("unknown frame type \"{t}\"")),
                        op.id.filter(|s| s.len() <= MAX_REQUEST_ID_LEN),
                    ));
                }
            },
            _ => {
                return Err((
                    ApiError::bad_request(describe_decode_error(bytes, &seed_err)),
                    probe_id(bytes),
                ));
            }
        },
    };
    let re = match &request {
        Request::Seed(frame) => frame.request_id().map(str::to_owned),
        Request::Op(_, op) => op.id.clone(),
    };
    if re.as_ref().is_some_and(|r| r.len() > MAX_REQUEST_ID_LEN) {
        return Err((
            ApiError::bad_request(format!("id exceeds {MAX_REQUEST_ID_LEN} characters")),
            None,
        ));
    }
    // `text` may only be left out when the message carries files.
    if let Request::Seed(ClientFrame::Message { text: None, files, .. }) = &request
        && files.is_empty()
    {
        return Err((ApiError::bad_request("invalid frame: missing field `text`"), re));
    }
    Ok((request, re))
}

/// A client-facing description of why a seed frame did not decode.
fn describe_decode_error(bytes: &[u8], e: &serde_json::Error) -> String {
    if std::str::from_utf8(bytes).is_err() {
        return "frame is not valid UTF-8".into();
    }
    if e.is_syntax() || e.is_eof() {
        return format!("malformed JSON: {e}");
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => match map.get("type") {
            None => "frame has no \"type\"".into(),
            Some(Value::String(_)) => format!("invalid frame: {e}"),
            Some(_) => "\"type\" must be a string".into(),
        },
        Ok(_) => "a frame must be a JSON object".into(),
        Err(_) => format!("malformed JSON: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(frame: &str) -> (String, Option<String>) {
        match decode(frame.as_bytes()) {
            Err((e, re)) => (e.message, re),
            Ok(_) => panic!("{frame} decoded"),
        }
    }

    #[test]
    fn frames_decode_to_seed_frames_or_registry_ops() {
        assert!(matches!(
            decode(br#"{"type":"message","text":"hi"}"#),
            Ok((Request::Seed(ClientFrame::Message { .. }), None))
        ));
        match decode(br#"{"type":"react","id":"r9","chat_id":3,"message_id":4,"emoji":"x"}"#) {
            Ok((Request::Op(entry, op), Some(re))) => {
                assert_eq!(entry.spec.name, "react");
                assert_eq!(re, "r9");
                assert_eq!(op.params["emoji"], "x");
                assert!(!op.params.contains_key("type") && !op.params.contains_key("id"));
            }
            _ => panic!("react is an op frame"),
        }
        assert_eq!(
            err(r#"{"type":"nope","id":"a"}"#),
            ("unknown frame type \"nope\"".into(), Some("a".into()))
        );
        // REST-only operations are not op frames.
        assert_eq!(err(r#"{"type":"login"}"#).0, "unknown frame type \"login\"");
        let (msg, re) = err(r#"{"type":"message","id":"m1"}"#);
        assert!(msg.contains("missing field `text`"), "{msg}");
        assert_eq!(re.as_deref(), Some("m1"));
        assert_eq!(err("[1]").0, "a frame must be a JSON object");
        assert_eq!(err(r#"{"text":"x"}"#).0, "frame has no \"type\"");
        assert!(err("{").0.starts_with("malformed JSON"));
    }
}
