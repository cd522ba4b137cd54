//! [`Json`]: a small JSON value carried verbatim (a member's `info` and
//! per-room `state`), kept as its text so the protocol types stay `Eq` and
//! `Hash` and the value is neither parsed nor reordered on the way.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The text of one JSON value, as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Json(Box<str>);

impl Json {
    /// The JSON text.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// A value from JSON text (checked to be one JSON value).
    #[cfg(feature = "json")]
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::value::RawValue::from_string(text.trim().to_owned())
            .map(|r| Self(r.get().into()))
    }
}

#[cfg(feature = "json")]
impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.0.to_string())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

#[cfg(feature = "json")]
impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        Ok(Self(raw.get().into()))
    }
}

/// Without the `json` feature (the wasm SDK, which decodes frames by hand)
/// the text is written as a JSON string and read as `null`.
#[cfg(not(feature = "json"))]
impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(not(feature = "json"))]
impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(Self("null".into()))
    }
}

#[cfg(all(test, feature = "json"))]
mod tests {
    use super::*;

    #[test]
    fn round_trips_verbatim() {
        let j = Json::parse(r#" {"read": 42, "b":[1,2]} "#).unwrap();
        assert_eq!(j.text(), r#"{"read": 42, "b":[1,2]}"#);
        let s = serde_json::to_string(&j).unwrap();
        assert_eq!(s, r#"{"read": 42, "b":[1,2]}"#);
        assert_eq!(serde_json::from_str::<Json>(&s).unwrap(), j);
        assert!(Json::parse("{nope").is_err());
    }
}
