//! The SAM templates as data, for the tests that hold them to the code: parsed as YAML, with
//! CloudFormation's short tags kept as one-key objects (`!Ref X` is `{"!Ref": "X"}`).

use serde_json::{Map, Value};
use serde_yaml_ng::Value as Yaml;

/// The parsed template.
pub struct Template(pub Value);

/// `infra/template.yaml`.
pub fn load() -> Template {
    load_file("template.yaml")
}

/// A template of `infra/`.
pub fn load_file(name: &str) -> Template {
    let path = format!("{}/../infra/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let yaml: Yaml = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    Template(to_json(yaml))
}

impl Template {
    /// Every resource by logical id.
    pub fn resources(&self) -> Map<String, Value> {
        self.0["Resources"].as_object().expect("a Resources section").clone()
    }

    /// The resources of one type, by logical id.
    pub fn of_type(&self, kind: &str) -> Vec<(String, Value)> {
        self.resources()
            .into_iter()
            .filter(|(_, resource)| resource["Type"] == kind)
            .collect()
    }

    pub fn section(&self, name: &str) -> &Value {
        &self.0[name]
    }
}

fn to_json(yaml: Yaml) -> Value {
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => serde_json::to_value(n).expect("a YAML number is a JSON number"),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.as_str().expect("string keys").to_string(), to_json(v)))
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let mut object = Map::new();
            object.insert(tagged.tag.to_string(), to_json(tagged.value));
            Value::Object(object)
        }
    }
}

/// A value as the template writes it in short form: `!Ref X`, `!GetAtt X.Y`, `!Sub "…"`,
/// `[a, b]`, or a plain string.
pub fn short_form(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(short_form).collect::<Vec<_>>().join(", ")),
        Value::Object(map) if map.len() == 1 => {
            let (tag, inner) = map.iter().next().expect("one entry");
            match (tag.as_str(), inner) {
                ("!Sub", Value::String(s)) => format!("{tag} \"{s}\""),
                _ => format!("{tag} {}", short_form(inner)),
            }
        }
        other => other.to_string(),
    }
}
