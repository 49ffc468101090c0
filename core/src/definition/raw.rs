//! The workflow language as written: serde structs, one per YAML block. Each entry of a
//! section is deserialized on its own so that one typo does not hide the next one; the
//! loader checks an entry's keys against [`keys_of`] its struct first, so that every unknown
//! key is reported at its place and the entry is still built from the rest.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The keys a raw struct accepts, as serde sees them (after renames): the one list the
/// loader checks unknown keys against.
pub(crate) fn keys_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    /// A deserializer that only records the field names a struct asks for.
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut keys: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut keys));
    keys
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSetting {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub default: Value,
    pub description: Option<String>,
    pub one_of: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRole {
    pub directory: Option<Value>,
    pub sees: Option<String>,
    pub many: Option<bool>,
    pub label: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawOneOf {
    List(Vec<Value>),
    Setting(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    pub default: Option<Value>,
    pub max_length: Option<usize>,
    pub min_length: Option<usize>,
    pub one_of: Option<RawOneOf>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub of: Option<String>,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub computed: bool,
    pub label: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    pub when: String,
    pub message: Option<String>,
    #[serde(default)]
    pub suggest: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimer {
    pub name: Option<String>,
    pub after: Option<String>,
    pub every: Option<String>,
    pub at: Option<String>,
    pub offset: Option<String>,
    pub run: Option<String>,
    pub action: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    pub label: Option<String>,
    #[serde(rename = "final", default)]
    pub is_final: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub on_enter: Option<String>,
    pub on_exit: Option<String>,
    #[serde(default)]
    pub timers: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTemplate {
    pub subject: String,
    pub body: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAction {
    pub label: Option<String>,
    pub description: Option<String>,
    pub from: Option<Value>,
    pub to: Option<Value>,
    pub by: Option<Value>,
    #[serde(default)]
    pub default: bool,
    pub inputs: Option<Value>,
    pub guard: Option<Value>,
    pub run: Option<String>,
    pub unavailable: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawView {
    pub title: Option<String>,
    pub description: Option<String>,
    pub states: Option<Vec<String>>,
    pub viewer: Option<Value>,
    pub filter: Option<String>,
    pub sort: Option<String>,
    pub labels: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawViewLabel {
    pub when: Option<String>,
    pub label: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExport {
    pub title: Option<String>,
    pub description: Option<String>,
    pub states: Option<Vec<String>>,
    pub each: Option<String>,
    pub columns: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_the_struct_with_renames() {
        assert_eq!(keys_of::<RawCheck>(), ["when", "message", "suggest"]);
        assert!(keys_of::<RawState>().contains(&"final"));
        assert!(keys_of::<RawField>().contains(&"type"));
        assert!(keys_of::<RawAction>().contains(&"inputs"));
    }
}
