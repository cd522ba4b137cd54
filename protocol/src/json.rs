//! serde_json decoding for native programs (the server, tests, benchmarks).

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{ClientMsg, ClientType, ErrorCode, Joined, Message, ServerMsg, ServerType, TypeTag};

/// A payload kept as the exact JSON text the client sent.
pub type RawPayload = Box<RawValue>;

/// Why a frame could not be decoded; carries what the error reply needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DecodeError {
    /// Error code to reply with.
    pub code: ErrorCode,
    /// Human-readable detail.
    pub message: String,
    /// The frame's `ref`, when it could be read.
    pub reference: Option<String>,
}

#[derive(Deserialize)]
struct RefOnly {
    #[serde(rename = "ref", default)]
    reference: Option<serde_json::Value>,
}

fn body<T: DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    serde_json::from_str(text).map_err(|e| DecodeError {
        code: ErrorCode::BadRequest,
        message: e.to_string(),
        reference: serde_json::from_str::<RefOnly>(text)
            .ok()
            .and_then(|r| match r.reference {
                Some(serde_json::Value::String(s)) => Some(s),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            }),
    })
}

fn tag(text: &str) -> Result<TypeTag<'_>, DecodeError> {
    // An object whose `type` is missing or not a string is `unknown_type`;
    // anything that is not a JSON object at all is `bad_json`.
    match serde_json::from_str::<TypeTag<'_>>(text) {
        Ok(t) => Ok(t),
        Err(e) => {
            let is_object = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
                && text.trim_start().starts_with('{');
            Err(DecodeError {
                code: if is_object {
                    ErrorCode::UnknownType
                } else {
                    ErrorCode::BadJson
                },
                message: if is_object {
                    "missing or non-string \"type\" field".to_owned()
                } else {
                    format!("frame is not a JSON object: {e}")
                },
                reference: None,
            })
        }
    }
}

/// Decodes one text frame from a client.
///
/// ```
/// use confab_protocol::{decode_client, ErrorCode};
/// assert_eq!(decode_client("{nope").unwrap_err().code, ErrorCode::BadJson);
/// assert_eq!(decode_client(r#"{"type":"dance"}"#).unwrap_err().code, ErrorCode::UnknownType);
/// assert_eq!(decode_client(r#"{"type":"join","ref":"9"}"#).unwrap_err().reference.as_deref(), Some("9"));
/// ```
pub fn decode_client(text: &str) -> Result<ClientMsg<RawPayload>, DecodeError> {
    let t = tag(text)?;
    let Some(kind) = ClientType::parse(&t.ty) else {
        return Err(DecodeError {
            code: ErrorCode::UnknownType,
            message: format!("unknown envelope type {:?}", t.ty),
            reference: body::<RefOnly>(text).ok().and_then(|r| match r.reference {
                Some(serde_json::Value::String(s)) => Some(s),
                _ => None,
            }),
        });
    };
    Ok(match kind {
        ClientType::Join => ClientMsg::Join(body(text)?),
        ClientType::Leave => ClientMsg::Leave(body(text)?),
        ClientType::Publish => ClientMsg::Publish(body(text)?),
        ClientType::Direct => ClientMsg::Direct(body(text)?),
        ClientType::Rename => ClientMsg::Rename(body(text)?),
        ClientType::List => ClientMsg::List(body(text)?),
        ClientType::Ping => ClientMsg::Ping(body(text)?),
        ClientType::Refresh => ClientMsg::Refresh(body(text)?),
        ClientType::Signal => ClientMsg::Signal(body(text)?),
        ClientType::History => ClientMsg::History(body(text)?),
        ClientType::State => ClientMsg::State(body(text)?),
    })
}

/// Decodes one text frame from the server (native clients, tests, benchmarks).
pub fn decode_server(text: &str) -> Result<ServerMsg<RawPayload>, DecodeError> {
    let t = tag(text)?;
    let Some(kind) = ServerType::parse(&t.ty) else {
        return Err(DecodeError {
            code: ErrorCode::UnknownType,
            message: format!("unknown envelope type {:?}", t.ty),
            reference: None,
        });
    };
    Ok(match kind {
        ServerType::Welcome => ServerMsg::Welcome(body(text)?),
        ServerType::Joined => ServerMsg::Joined(body::<Joined<RawPayload>>(text)?),
        ServerType::Message => ServerMsg::Message(body::<Message<RawPayload>>(text)?),
        ServerType::Ack => ServerMsg::Ack(body(text)?),
        ServerType::Presence => ServerMsg::Presence(body(text)?),
        ServerType::Members => ServerMsg::Members(body(text)?),
        ServerType::Pong => ServerMsg::Pong(body(text)?),
        ServerType::Error => ServerMsg::Error(body(text)?),
        ServerType::Signal => ServerMsg::Signal(body(text)?),
        ServerType::History => ServerMsg::History(body(text)?),
    })
}

/// Serializes an envelope to its JSON text.
pub fn encode<T: serde::Serialize>(msg: &T) -> String {
    // Envelopes are plain structs of strings, numbers and raw JSON: they
    // cannot fail to serialize.
    serde_json::to_string(msg).unwrap_or_else(|e| unreachable!("envelope serialization: {e}"))
}
