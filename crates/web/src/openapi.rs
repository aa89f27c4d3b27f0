//! The OpenAPI 3.1 description of the JSON API (`GET /api/v1/openapi.json`), generated from the code:
//! each handler's `#[utoipa::path]` attribute and the types it takes and returns, whose schemas are
//! derived where the types live (domain, store, engine, here).
//!
//! Routes are registered through [`ApiRoutes`], which adds a handler to the router and its operation
//! to the document in one step, at the path and with the methods of the operation: the router and
//! the document cannot drift apart. What every operation of a kind shares is added here rather than
//! repeated on each handler: the bearer security and its `401`/`503` on authenticated routes, and
//! on `POST`s the `Idempotency-Key` header with the answers it can cause (`400`, `409`, `422`).

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{MethodFilter, MethodRouter};
use serde::Serialize;
use store::Store;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, ObjectBuilder, OpenApi, OpenApiBuilder, Paths,
    Ref, RefOr, Required, Schema, Tag, Type,
};
use utoipa::{PartialSchema, ToResponse, ToSchema};

use crate::idempotency::MAX_KEY_LEN;
use crate::problem::{PROBLEM_JSON, Problem};
use crate::state::AppState;

const BEARER: &str = "bearer";

/// One route of the router: a method and a path as the document writes them (`/api/v1/mentors/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiRoute {
    pub method: Method,
    pub path: String,
}

/// Whether a route asks for a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Authenticated,
    Public,
}

/// Handlers and their operations, registered together.
pub(crate) struct ApiRoutes<S> {
    access: Access,
    router: Router<AppState<S>>,
    paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
    routes: Vec<ApiRoute>,
}

impl<S: Store> ApiRoutes<S> {
    pub fn new(access: Access) -> Self {
        Self {
            access,
            router: Router::new(),
            paths: Paths::new(),
            schemas: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// Route `handler` at the path and methods of the operation `P` (the `__path_*` type that
    /// `#[utoipa::path]` generates), and describe it.
    pub fn add<P, H, T>(mut self, handler: H) -> Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences + for<'t> utoipa::__dev::Tags<'t>,
        H: Handler<T, AppState<S>>,
        T: 'static,
    {
        let path = P::path();
        let methods = P::methods();
        P::schemas(&mut self.schemas);
        let mut method_router = MethodRouter::new();
        for method in &methods {
            let method = to_method(method);
            method_router = method_router.on(
                MethodFilter::try_from(method.clone()).expect("an HTTP method axum routes"),
                handler.clone(),
            );
            let mut operation = P::operation();
            let tags = P::tags();
            if !tags.is_empty() {
                operation
                    .tags
                    .get_or_insert_with(Vec::new)
                    .extend(tags.iter().map(ToString::to_string));
            }
            complete(&mut operation, &method, self.access);
            self.paths
                .add_path_operation(&path, vec![to_http_method(&method)], operation);
            self.routes.push(ApiRoute {
                method,
                path: path.clone(),
            });
        }
        self.router = self.router.route(&path, method_router);
        self
    }

    /// Apply `f` to the router built so far (layers apply to the routes already added).
    pub fn map_router(
        mut self,
        f: impl FnOnce(Router<AppState<S>>) -> Router<AppState<S>>,
    ) -> Self {
        self.router = f(self.router);
        self
    }

    pub fn merge(mut self, other: ApiRoutes<S>) -> Self {
        self.router = self.router.merge(other.router);
        for (path, item) in other.paths.paths {
            merge_path_item(&mut self.paths, path, item);
        }
        self.schemas.extend(other.schemas);
        self.routes.extend(other.routes);
        self
    }

    /// The router, the document and the list of routes. The document is also served at
    /// `/api/v1/openapi.json`, which is part of both.
    pub fn finish(self) -> (Router<AppState<S>>, OpenApi, Vec<ApiRoute>) {
        let served = Arc::new(OnceLock::<String>::new());
        let shared = served.clone();
        let mut all = self.merge(
            ApiRoutes::new(Access::Public).add::<__path_openapi_json, _, _>(move || {
                let document = shared.clone();
                async move { serve_document(&document) }
            }),
        );
        let openapi = document(all.paths, all.schemas);
        served
            .set(serde_json::to_string(&openapi).expect("the OpenAPI document serialises"))
            .expect("set once");
        all.routes.sort();
        (all.router, openapi, all.routes)
    }
}

fn serve_document(document: &OnceLock<String>) -> axum::response::Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.get().cloned().unwrap_or_default(),
    )
        .into_response()
}

fn merge_path_item(paths: &mut Paths, path: String, item: PathItem) {
    let operations = [
        (HttpMethod::Get, item.get),
        (HttpMethod::Put, item.put),
        (HttpMethod::Post, item.post),
        (HttpMethod::Delete, item.delete),
        (HttpMethod::Patch, item.patch),
        (HttpMethod::Head, item.head),
        (HttpMethod::Options, item.options),
        (HttpMethod::Trace, item.trace),
    ];
    for (method, operation) in operations {
        if let Some(operation) = operation {
            paths.add_path_operation(&path, vec![method], operation);
        }
    }
}

fn to_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Post => Method::POST,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

fn to_http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::GET => HttpMethod::Get,
        Method::PUT => HttpMethod::Put,
        Method::POST => HttpMethod::Post,
        Method::DELETE => HttpMethod::Delete,
        Method::OPTIONS => HttpMethod::Options,
        Method::HEAD => HttpMethod::Head,
        Method::PATCH => HttpMethod::Patch,
        Method::TRACE => HttpMethod::Trace,
        _ => unreachable!("only methods of the document are routed"),
    }
}

/// What operations of a kind share: security and its answers; on `POST`s the idempotency key.
fn complete(operation: &mut Operation, method: &Method, access: Access) {
    match access {
        Access::Authenticated => {
            add_response(
                operation,
                StatusCode::UNAUTHORIZED,
                Unauthorized::response(),
            );
            add_response(
                operation,
                StatusCode::SERVICE_UNAVAILABLE,
                Unavailable::response(),
            );
        }
        // An empty requirement: no credentials needed, whatever the document's default.
        Access::Public => operation.security = Some(vec![SecurityRequirement::default()]),
    }
    if *method == Method::POST && access == Access::Authenticated {
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(idempotency_key_parameter());
        add_response(operation, StatusCode::BAD_REQUEST, BadRequest::response());
        add_response(operation, StatusCode::CONFLICT, Conflict::response());
        add_response(
            operation,
            StatusCode::UNPROCESSABLE_ENTITY,
            InvalidField::response(),
        );
    }
}

/// Adds a reference to the response component `name` under `status`, unless the operation
/// already describes that status.
fn add_response(operation: &mut Operation, status: StatusCode, (name, _): (&str, RefOr<Response>)) {
    operation
        .responses
        .responses
        .entry(status.as_u16().to_string())
        .or_insert_with(|| Ref::from_response_name(name).into());
}

fn idempotency_key_parameter() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes the request safe to retry: the same key with the same request replays the first \
             response (marked `Idempotent-Replayed: true`); the same key with another request is \
             `422`; while the first is still being processed, `409`. Keys are the caller's own.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_KEY_LEN))
                .pattern(Some("^[!-~]+$")),
        ))
        .build()
}

/// The document around the operations: info, tags, security, shared components.
fn document(paths: Paths, schemas: Vec<(String, RefOr<Schema>)>) -> OpenApi {
    let mut schemas = schemas;
    schemas.push((Problem::name().into_owned(), Problem::schema()));
    Problem::schemas(&mut schemas);
    let mut components = ComponentsBuilder::new().security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "An HS256 JWT naming the user in `sub` (`mentor-status users token`). \
                         The user's role and organisation come from the database.",
                ))
                .build(),
        ),
    );
    for (name, response) in [
        BadRequest::response(),
        Unauthorized::response(),
        Forbidden::response(),
        NotFound::response(),
        Conflict::response(),
        InvalidField::response(),
        Unavailable::response(),
    ] {
        components = components.response(name, response);
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, mut schema) in schemas {
        if seen.insert(name.clone()) {
            refine(&name, &mut schema);
            components = components.schema(name, schema);
        }
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("mentor-status")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Peer mentors' availability and certifications, for coordinators, admins and \
                     the mentors themselves. JSON under `/api/v1`; errors are RFC 9457 \
                     `application/problem+json`. Dates are `YYYY-MM-DD`, instants RFC 3339 UTC, \
                     ids UUIDs. Lists answer `{\"items\": [...], \"next_cursor\": ... | null}`; \
                     pass `next_cursor` as `cursor` for the next page. Another organisation's ids \
                     answer 404, like unknown ones.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .security(Some(vec![SecurityRequirement::new(
            BEARER,
            Vec::<String>::new(),
        )]))
        .tags(Some(
            [
                (
                    "me",
                    "The caller: who they are, and a mentor pausing or resuming themself.",
                ),
                (
                    "mentors",
                    "Coordinators' and admins' work with the organisation's mentors.",
                ),
                ("sync", "The public listing sync to Microsoft Dataverse."),
                (
                    "operations",
                    "Settings, the run log, alerts and reminder ledgers.",
                ),
                ("notifications", "The caller's in-app notifications."),
                (
                    "service",
                    "Health, readiness, metrics and this document; no token needed.",
                ),
            ]
            .map(|(name, description)| {
                let mut tag = Tag::new(name);
                tag.description = Some(description.to_owned());
                tag
            }),
        ))
        .build()
}

/// What the derived schemas cannot say: a mentor is linked to Dynamics by a contact id or by a
/// (non-blank) key, not both; a change names at least one field. (utoipa-gen 5.5 writes
/// `min_properties` as `maxProperties`, so it is set here.)
fn refine(name: &str, schema: &mut RefOr<Schema>) {
    let RefOr::T(Schema::Object(object)) = schema else {
        return;
    };
    if !matches!(name, "MentorInput" | "MentorPatchInput") {
        return;
    }
    let both_links = serde_json::json!({
        "required": ["dynamics_contact_id", "dynamics_key"],
        "properties": {
            "dynamics_contact_id": {"type": "string"},
            "dynamics_key": {"type": "string", "pattern": domain::text::HAS_VISIBLE_PATTERN},
        },
    });
    object
        .extensions
        .get_or_insert_with(Default::default)
        .insert("not".to_owned(), both_links);
    if name == "MentorPatchInput" {
        object.min_properties = Some(1);
    }
}

/// The document itself.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "service",
    operation_id = "openapi",
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object))
)]
#[allow(dead_code)]
fn openapi_json() {}

macro_rules! problem_response {
    ($name:ident, $description:literal) => {
        #[doc = $description]
        pub(crate) struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (
                    stringify!($name),
                    ResponseBuilder::new()
                        .description($description)
                        .content(
                            PROBLEM_JSON,
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name(Problem::name())))
                                .build(),
                        )
                        .into(),
                )
            }
        }
    };
}

problem_response!(
    BadRequest,
    "The request cannot be read: malformed JSON or no JSON content type, an id that is not a UUID, \
     an invalid `Idempotency-Key`, a malformed query string."
);
problem_response!(
    Unauthorized,
    "No bearer token, or one that is invalid, expired or names no known user."
);
problem_response!(Forbidden, "The caller's role may not do this.");
problem_response!(
    NotFound,
    "No such resource in the caller's organisation (another organisation's ids answer the same)."
);
problem_response!(
    Conflict,
    "Refused by the current state: a transition the rules do not allow (with `current_status`), a \
     change that lost a race to a concurrent one, or a request with this `Idempotency-Key` still \
     being processed."
);
problem_response!(
    InvalidField,
    "A field or parameter is invalid: each is named in `errors`. Also an `Idempotency-Key` used \
     before for another request."
);
problem_response!(Unavailable, "The database is unavailable; retry later.");

// The service endpoints' handlers live with their owners (`routes::health`, `observability`);
// their operations are described here.

/// Alive: the process answers. Says nothing about dependencies.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    operation_id = "healthz",
    responses((status = 200, description = "The process is alive", body = Alive))
)]
#[allow(dead_code)]
pub(crate) fn healthz() {}

/// Ready: the database answers and its schema is the one this build expects; each Dynamics
/// integration's health is reported (`degraded` with reasons), without making the service unready.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "service",
    operation_id = "readyz",
    responses(
        (status = 200, description = "Ready (possibly with a degraded integration)", body = Readiness),
        (status = 503, description = "Not ready: the database is unreachable or its schema is not current", body = Readiness),
    )
)]
#[allow(dead_code)]
pub(crate) fn readyz() {}

/// Every series in the Prometheus text format; `404` when the process records no metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    operation_id = "metrics",
    responses(
        (status = 200, description = "The Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"),
        (status = 404, response = NotFound),
    )
)]
#[allow(dead_code)]
pub(crate) fn metrics() {}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct Alive {
    status: AliveStatus,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum AliveStatus {
    Ok,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct Readiness {
    status: ReadinessStatus,
    checks: ReadinessChecks,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum ReadinessStatus {
    Ready,
    /// Ready, and an integration is degraded.
    Degraded,
    NotReady,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct ReadinessChecks {
    /// `ok` or `unreachable`.
    database: String,
    /// `current`, `pending (A of K applied)` or `unknown`.
    migrations: String,
    /// Each Dynamics integration by organisation slug (`*` when their state could not be read);
    /// empty when the service is not ready.
    integrations: std::collections::BTreeMap<String, IntegrationCheck>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct IntegrationCheck {
    /// `ok`, `degraded` or `unknown`.
    status: String,
    reasons: Vec<String>,
    /// `ok`, `failed` or `unchecked`.
    credentials: Option<String>,
    credentials_checked_at: Option<chrono::DateTime<chrono::Utc>>,
    dead_letters: Option<u64>,
}
