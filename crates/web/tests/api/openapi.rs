//! The OpenAPI document: served without a token, and describing exactly the routes of the router.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use testkit::TestBackend;

use crate::helpers::*;

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// (method, path) of every operation of a served document.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item");
            item.keys()
                .filter(|key| METHODS.contains(&key.as_str()))
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

async fn served_document<B: TestBackend>(app: &TestApp<B>) -> Value {
    let reply = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["content-type"], "application/json");
    reply.body
}

async fn every_route_of_the_router_is_in_the_served_document_and_nothing_else<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let document = served_document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");

    let (_, routes) = web::api_description::<B::Store>();
    let routed: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    assert_eq!(routed.len(), routes.len(), "no route is registered twice");
    assert_eq!(
        routed,
        operations(&document),
        "the router's routes and the document's operations"
    );
    for path in [
        "/api/v1/openapi.json",
        "/healthz",
        "/readyz",
        "/api/v1/mentors/{id}",
    ] {
        assert!(
            routed.iter().any(|(_, p)| p == path),
            "{path} is routed and described"
        );
    }

    // The router answers each of them (never with its 404 fallback or a 405), and no other method
    // of their paths.
    let paths: BTreeSet<&String> = routed.iter().map(|(_, p)| p).collect();
    let id = app.own_mentor.to_string();
    for path in paths {
        let url = path.replace("{id}", &id);
        for method in METHODS.map(|m| m.to_uppercase()) {
            let described = routed.contains(&(method.clone(), path.clone()));
            let reply = app
                .call(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &url,
                    Some(&app.admin.token),
                    None,
                )
                .await;
            if described {
                assert!(
                    reply.status != StatusCode::METHOD_NOT_ALLOWED
                        && !(reply.status == StatusCode::NOT_FOUND
                            && reply.body["detail"] == "not found"
                            && !path.contains("{id}")
                            && path != "/metrics"),
                    "{method} {url} is routed: {} {}",
                    reply.status,
                    reply.body
                );
            } else {
                assert_eq!(
                    reply.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {url} is not routed"
                );
            }
        }
    }
}

async fn the_document_describes_security_errors_and_idempotency<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let document = served_document(&app).await;
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let paths = document["paths"].as_object().unwrap();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            assert_eq!(
                operation["tags"].as_array().map(Vec::len),
                Some(1),
                "{method} {path}: one tag"
            );
            let responses = operation["responses"].as_object().unwrap();
            let public = operation["security"] == serde_json::json!([{}]);
            assert_eq!(
                public,
                !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json",
                "{method} {path}: only the service endpoints are public"
            );
            if !public {
                for status in ["401", "503"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
                let problem = &responses["401"]["$ref"];
                assert_eq!(problem, "#/components/responses/Unauthorized");
            }
            if method == "post" && !public {
                let parameters = operation["parameters"].as_array().unwrap();
                assert!(
                    parameters
                        .iter()
                        .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
                    "{method} {path}: Idempotency-Key"
                );
            }
            if path.contains("{id}") {
                for status in ["400", "404"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
            }
        }
    }
    // Problems are problem+json with their schema.
    assert_eq!(
        document["components"]["responses"]["NotFound"]["content"]["application/problem+json"]["schema"]
            ["$ref"],
        "#/components/schemas/Problem"
    );
    // Field names come from the types the handlers serialise.
    let mentor = &document["components"]["schemas"]["MentorDto"]["properties"];
    for field in [
        "id",
        "org",
        "full_name",
        "email",
        "phone",
        "status",
        "status_reason",
        "status_changed_at",
        "resume_on",
        "listed_publicly",
        "dynamics_contact_id",
        "dynamics_key",
        "version",
        "certification",
        "sync",
    ] {
        assert!(mentor.get(field).is_some(), "mentor.{field}");
    }
    let statuses = &document["components"]["schemas"]["MentorStatus"]["enum"];
    assert_eq!(
        statuses,
        &serde_json::json!(["active", "paused", "certification_expired", "inactive"])
    );
}

testkit::on_both_backends!(
    every_route_of_the_router_is_in_the_served_document_and_nothing_else,
    the_document_describes_security_errors_and_idempotency,
);
