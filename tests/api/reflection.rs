//! gRPC server reflection in both protocol versions: `grpc.reflection.v1` (grpcurl, recent
//! Postman) and `grpc.reflection.v1alpha` (Python's grpcio-reflection client, Evans, grpc_cli,
//! older Postman), each asked the two questions such a tool asks first: which services are
//! there, and the descriptor that defines one of them.

use crate::helpers::*;
use tonic_reflection::pb::{v1, v1alpha};

const EXPECTED: [&str; 2] = ["paygate.v1.PaymentGateway", "grpc.health.v1.Health"];
const PROTO_FILE: &str = "paygate/v1/paygate.proto";

#[tokio::test]
async fn reflection_v1_lists_the_services_and_describes_the_payment_gateway() {
    use v1::server_reflection_client::ServerReflectionClient;
    use v1::server_reflection_request::MessageRequest;
    use v1::server_reflection_response::MessageResponse;
    let app = TestApp::spawn().await;
    let mut client = ServerReflectionClient::new(app.channel());
    let ask = |message| v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    };
    let requests = [
        ask(MessageRequest::ListServices(String::new())),
        ask(MessageRequest::FileContainingSymbol(EXPECTED[0].into())),
    ];
    let mut answers = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("grpc.reflection.v1 is served")
        .into_inner();
    let list = answers.message().await.expect("answer").expect("a list");
    let Some(MessageResponse::ListServicesResponse(list)) = list.message_response else {
        panic!("unexpected answer: {list:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for name in EXPECTED {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let file = answers.message().await.expect("answer").expect("a file");
    let Some(MessageResponse::FileDescriptorResponse(file)) = file.message_response else {
        panic!("unexpected answer: {file:?}");
    };
    let files = file_names(&file.file_descriptor_proto);
    assert!(files.iter().any(|f| f == PROTO_FILE), "{files:?}");
}

#[tokio::test]
async fn reflection_v1alpha_lists_the_services_and_describes_the_payment_gateway() {
    use v1alpha::server_reflection_client::ServerReflectionClient;
    use v1alpha::server_reflection_request::MessageRequest;
    use v1alpha::server_reflection_response::MessageResponse;
    let app = TestApp::spawn().await;
    let mut client = ServerReflectionClient::new(app.channel());
    let ask = |message| v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    };
    let requests = [
        ask(MessageRequest::ListServices(String::new())),
        ask(MessageRequest::FileContainingSymbol(EXPECTED[0].into())),
    ];
    let mut answers = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("grpc.reflection.v1alpha is served")
        .into_inner();
    let list = answers.message().await.expect("answer").expect("a list");
    let Some(MessageResponse::ListServicesResponse(list)) = list.message_response else {
        panic!("unexpected answer: {list:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for name in EXPECTED {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let file = answers.message().await.expect("answer").expect("a file");
    let Some(MessageResponse::FileDescriptorResponse(file)) = file.message_response else {
        panic!("unexpected answer: {file:?}");
    };
    let files = file_names(&file.file_descriptor_proto);
    assert!(files.iter().any(|f| f == PROTO_FILE), "{files:?}");
}

/// The `name` of each serialized `FileDescriptorProto` in a reflection answer.
fn file_names(files: &[Vec<u8>]) -> Vec<String> {
    use prost::Message;
    files
        .iter()
        .map(|bytes| {
            prost_types::FileDescriptorProto::decode(bytes.as_slice())
                .expect("a FileDescriptorProto")
                .name()
                .to_owned()
        })
        .collect()
}
