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

/// Every path literal the web crate's source declares: the `path = "/…"` of each `#[utoipa::path]`
/// and the first argument of each `.route(…)`. Read from the files, not from the route table, so a
/// route added outside the table is found too.
fn declared_paths() -> BTreeSet<String> {
    fn scan(dir: &std::path::Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for marker in ["path = \"", ".route(\""] {
                    for (at, _) in text.match_indices(marker) {
                        let rest = &text[at + marker.len()..];
                        found.insert(rest[..rest.find('"').unwrap()].to_owned());
                    }
                }
                // `.route(` with its path on the next line.
                for (at, _) in text.match_indices(".route(\n") {
                    let rest = text[at + 8..].trim_start();
                    if let Some(rest) = rest.strip_prefix('"') {
                        found.insert(rest[..rest.find('"').unwrap()].to_owned());
                    }
                }
            }
        }
    }
    let mut found = BTreeSet::new();
    scan(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    found.retain(|p| p.starts_with('/'));
    found
}

/// The methods the running router answers at `path`: a routed path answers the methods it has no
/// handler for with 405, an unrouted one falls through to the 404 fallback for every method.
async fn answered_methods<B: TestBackend>(app: &TestApp<B>, url: &str) -> BTreeSet<String> {
    let mut answered = BTreeSet::new();
    let mut routed = false;
    for method in METHODS.map(|m| m.to_uppercase()) {
        let reply = app
            .call(
                Method::from_bytes(method.as_bytes()).unwrap(),
                url,
                Some(&app.admin.token),
                None,
            )
            .await;
        if reply.status == StatusCode::METHOD_NOT_ALLOWED {
            routed = true;
        } else {
            answered.insert(method);
        }
    }
    if routed { answered } else { BTreeSet::new() }
}

async fn every_route_of_the_router_is_in_the_served_document_and_nothing_else<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let document = served_document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    let described = operations(&document);

    let declared = declared_paths();
    for path in [
        "/api/v1/mentors/{id}",
        "/healthz",
        "/mentors/{id}",
        "/login",
    ] {
        assert!(declared.contains(path), "the source scan finds {path}");
    }
    // The API and the service endpoints are described; the dashboard's HTML pages are not.
    let candidates: BTreeSet<String> = declared
        .into_iter()
        .filter(|p| {
            p.starts_with("/api/") || ["/healthz", "/readyz", "/metrics"].contains(&p.as_str())
        })
        .chain(described.iter().map(|(_, p)| p.clone()))
        .collect();
    let id = app.own_mentor.to_string();
    let mut probed = BTreeSet::new();
    for path in &candidates {
        let url = path.replace("{id}", &id);
        for method in answered_methods(&app, &url).await {
            probed.insert((method, path.clone()));
        }
    }
    assert_eq!(
        probed, described,
        "the operations the running router answers and the document's operations"
    );
    for path in [
        "/api/v1/openapi.json",
        "/healthz",
        "/readyz",
        "/api/v1/mentors/{id}",
    ] {
        assert!(
            described.iter().any(|(_, p)| p == path),
            "{path} is routed and described"
        );
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
