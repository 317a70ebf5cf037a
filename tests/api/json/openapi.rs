//! `GET /v1/openapi.json` serves the document kept in the repository, and that document
//! matches the proto: every message a schema with exactly the proto3 JSON names and types of
//! its fields, every enum with exactly its values, every operation a path. The proto is read
//! from the descriptor set the server itself is built from.

use super::Json;
use crate::helpers::TestApp;
use paygate::grpc::proto::FILE_DESCRIPTOR_SET;
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind};
use serde_json::Value;
use std::collections::BTreeSet;

const DOC: &str = include_str!("../../../proto/paygate/v1/openapi.json");

/// The operations of the API, as (method, path) of the document.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/payments"),
    ("get", "/v1/payments"),
    ("get", "/v1/payments/{id}"),
    ("post", "/v1/payments/{id}/capture"),
    ("post", "/v1/payments/{id}/void"),
    ("post", "/v1/payments/{id}/refund"),
    ("get", "/v1/events"),
    ("get", "/v1/openapi.json"),
];

/// The JSON schema a field must have under the proto3 JSON mapping.
fn expected_type(field: &FieldDescriptor) -> Value {
    let one = match field.kind() {
        Kind::String => serde_json::json!({"type": "string"}),
        Kind::Bool => serde_json::json!({"type": "boolean"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            serde_json::json!({"type": "integer", "format": "int32"})
        }
        Kind::Uint32 | Kind::Fixed32 => serde_json::json!({"type": "integer", "format": "uint32"}),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            serde_json::json!({"type": "string", "format": "int64"})
        }
        Kind::Uint64 | Kind::Fixed64 => serde_json::json!({"type": "string", "format": "uint64"}),
        Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp" => {
            serde_json::json!({"type": "string", "format": "date-time"})
        }
        Kind::Message(m) if field.is_map() => {
            let value = m.map_entry_value_field();
            let value_type = expected_type(&value);
            return serde_json::json!({"type": "object", "additionalProperties": value_type});
        }
        Kind::Message(m) => {
            serde_json::json!({"$ref": format!("#/components/schemas/{}", m.name())})
        }
        Kind::Enum(e) => serde_json::json!({"$ref": format!("#/components/schemas/{}", e.name())}),
        other => panic!("no JSON schema rule for {other:?}"),
    };
    if field.is_list() {
        serde_json::json!({"type": "array", "items": one})
    } else {
        one
    }
}

/// `type`, `format`, `$ref`, `items`, `additionalProperties` of a schema, nothing else
/// (descriptions are free text).
fn shape(schema: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in ["type", "format", "$ref"] {
        if let Some(v) = schema.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v) = schema.get(key) {
            out.insert(key.into(), shape(v));
        }
    }
    Value::Object(out)
}

#[test]
fn the_openapi_document_matches_the_proto() {
    let doc: Value = serde_json::from_str(DOC).expect("openapi.json is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let pool = DescriptorPool::decode(FILE_DESCRIPTOR_SET).unwrap();
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas");
    for message in pool
        .all_messages()
        .filter(|m| m.package_name() == "paygate.v1")
    {
        if message.is_map_entry() {
            continue;
        }
        let schema = schemas
            .get(message.name())
            .unwrap_or_else(|| panic!("message {} has no schema", message.name()));
        let props = schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: properties", message.name()));
        let want: BTreeSet<String> = message.fields().map(|f| f.json_name().to_owned()).collect();
        let have: BTreeSet<String> = props.keys().cloned().collect();
        assert_eq!(have, want, "fields of {}", message.name());
        for field in message.fields() {
            let got = shape(&props[field.json_name()]);
            assert_eq!(
                got,
                expected_type(&field),
                "{}.{}",
                message.name(),
                field.json_name()
            );
        }
        assert_eq!(
            schema["additionalProperties"],
            false,
            "{}: unknown fields are refused",
            message.name()
        );
    }
    for e in pool
        .all_enums()
        .filter(|e| e.package_name() == "paygate.v1")
    {
        let schema = schemas
            .get(e.name())
            .unwrap_or_else(|| panic!("enum {} has no schema", e.name()));
        let want: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
        let have: Vec<String> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(have, want, "values of {}", e.name());
    }
    let paths = doc["paths"].as_object().expect("paths");
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "parameters")
        {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, routes, "documented operations");
    // Every RPC but the stream has its operation (WatchEvents is GET /v1/events as SSE).
    let service = pool
        .get_service_by_name("paygate.v1.PaymentGateway")
        .unwrap();
    let ids: BTreeSet<String> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
        .collect();
    for method in service.methods() {
        assert!(
            ids.contains(method.name()),
            "RPC {} has no operation",
            method.name()
        );
    }
}

#[tokio::test]
async fn the_document_is_served() {
    let app = TestApp::spawn().await;
    let answer = Json::new(&app).get("/v1/openapi.json").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, serde_json::from_str::<Value>(DOC).unwrap());
}
