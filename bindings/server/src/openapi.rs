//! The OpenAPI document of the JSON API, served at `/openapi.json`.
//!
//! It is generated from the routes themselves: every `/api` handler carries a
//! `#[utoipa::path]` description and is mounted through `utoipa_axum::routes!`, which adds
//! the route to the router and the operation to the document in one step, so a route cannot
//! be served without being described (a test also asks every `/api` route of the router for
//! its document entry).
//!
//! The engine's own types (`Case`, `Event`, …) live in the core, which knows nothing of
//! OpenAPI; the schemas below describe their JSON form. A change to one of them shows in the
//! snapshot test (`tests/openapi.rs`) and in the schemathesis run (`tests/api.sh`), which
//! checks real responses against these schemas.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The document's fixed parts; the paths come from the routes (`api::routes`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mentorflow portal API",
        description = "The portal's JSON API: the same things as the pages, as the signed-in caller. \
Authenticate with `Authorization: Bearer TOKEN` (an API token), or with a browser session \
(then unsafe methods need the session's CSRF token in `X-CSRF-Token`). Errors are \
`{\"error\": {\"code\", \"message\", ...}}` with the engine's stable codes: 400 validation, \
401 not signed in, 403 not permitted, 404 not found or not visible, 409 conflict (stale \
revision), 422 guard rejected (with `suggest`)."
    ),
    modifiers(&Security),
    components(schemas(ErrorBody, ErrorDetail))
)]
#[derive(Debug)]
pub struct ApiDoc;

#[derive(Debug)]
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token (stored hashed by the engine)"))
                    .build(),
            ),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "api_token",
            Vec::<String>::new(),
        )]);
    }
}

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable code, a message for people, and details by kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `validation`, `not_signed_in`, `csrf`, `not_permitted`, `not_found`, `conflict`,
    /// `guard_rejected`, `definition`, `internal`, …
    pub code: String,
    pub message: String,
    /// The input or parameter at fault (validation).
    #[schema(nullable)]
    pub field: Option<String>,
    /// The refused action (guard_rejected).
    pub action: Option<String>,
    /// The case's state (guard_rejected).
    pub state: Option<String>,
    /// Actions to take first (guard_rejected).
    pub suggest: Option<Vec<String>>,
    /// The rule that refused (guard_rejected).
    #[schema(nullable)]
    pub rule: Option<String>,
    /// The case (conflict).
    pub case: Option<i64>,
    /// The revision the caller saw (conflict).
    pub expected: Option<u64>,
    /// The case's revision now (conflict).
    pub actual: Option<u64>,
    /// The definition's problems (definition).
    pub problems: Option<Vec<String>>,
}

/// The caller (`GET /api/me`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub name: Option<String>,
    pub org: Option<String>,
    pub roles: Vec<String>,
}

/// A case (`mentorflow::Case`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Case)]
pub struct CaseSchema {
    pub id: i64,
    pub workflow: String,
    /// The workflow version pinned at start.
    pub version: u32,
    pub org: String,
    /// The current state's id.
    pub state: String,
    pub state_label: String,
    pub tags: Vec<String>,
    /// Whether the state is not final.
    pub open: bool,
    /// Typed fields (unset fields are absent).
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
    /// Case role → person ids.
    #[schema(value_type = Object)]
    pub participants: Map<String, Value>,
    /// Bumped by every change; send it back in `If-Match`.
    pub revision: u64,
    pub created_at: String,
    pub updated_at: String,
    #[schema(nullable)]
    pub parent: Option<i64>,
    /// Set while an operator has suspended the case (actions refused, timers waiting).
    #[schema(nullable)]
    pub suspended: Option<OperatorMark>,
    /// Set when an operator cancelled the case (it ended where it was).
    #[schema(nullable)]
    pub cancelled: Option<OperatorMark>,
}

/// Who suspended or cancelled a case, when and why (`mentorflow::OperatorMark`).
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorMark {
    /// The operator.
    pub by: String,
    pub at: String,
    pub reason: String,
}

/// `{"case": Case}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseOnly {
    pub case: CaseSchema,
}

/// A view the caller uses, with its count (`mentorflow::ViewInfo`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ViewInfo {
    pub workflow: String,
    pub name: String,
    pub title: String,
    #[schema(nullable)]
    pub description: Option<String>,
    #[schema(nullable)]
    pub count: Option<usize>,
}

/// `{"views": [ViewInfo]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Views {
    pub views: Vec<ViewInfo>,
}

/// One page of a view (`mentorflow::ViewPage`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ViewPage {
    pub workflow: String,
    pub view: String,
    pub title: String,
    pub cases: Vec<CaseSchema>,
    /// How many cases the whole view (with the filters) holds.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

/// A start action the caller may use (`mentorflow::StartInfo`).
#[derive(Debug, Serialize, ToSchema)]
pub struct StartInfo {
    pub workflow: String,
    pub workflow_title: String,
    pub action: String,
    pub label: String,
    #[schema(nullable)]
    pub description: Option<String>,
    /// Whether it is the workflow's default start.
    pub default: bool,
}

/// `{"start_actions": [StartInfo]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartActions {
    pub start_actions: Vec<StartInfo>,
}

/// A pending timer (`mentorflow::PendingTimer`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingTimer {
    pub name: String,
    pub state: String,
    pub due_at: String,
    #[schema(nullable)]
    pub action: Option<String>,
    pub script: bool,
    pub recurring: bool,
    pub fired: u32,
}

/// A person holding a case role (`mentorflow::Participant`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Participant {
    pub role: String,
    pub person: String,
    pub since: String,
}

/// An action the caller may take now, with its typed inputs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionNow {
    pub id: String,
    pub label: String,
    #[schema(nullable)]
    pub description: Option<String>,
    /// The action's inputs as the definition declares them.
    #[schema(value_type = Vec<Object>)]
    pub inputs: Vec<Value>,
}

/// An action of the caller that is not possible now, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionNotNow {
    pub id: String,
    pub label: String,
    #[schema(nullable)]
    pub description: Option<String>,
    /// `{reason: state|guard, message, suggest, possible_in}`.
    #[schema(value_type = Object)]
    pub unavailable: Value,
}

/// `GET /api/cases/ID`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    pub case: CaseSchema,
    /// The action ids the caller may take now.
    pub actions: Vec<String>,
    pub timers: Vec<PendingTimer>,
    pub participants: Vec<Participant>,
}

/// An event of a case's history (`mentorflow::Event`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub id: i64,
    pub case_id: i64,
    pub seq: u64,
    pub at: String,
    /// Who did it (`system` for timers).
    pub actor: String,
    pub action: String,
    #[schema(nullable)]
    pub from_state: Option<String>,
    pub to_state: String,
    #[schema(value_type = Object)]
    pub inputs: Map<String, Value>,
    #[schema(value_type = Vec<Object>)]
    pub effects: Vec<Value>,
}

/// `{"events": [Event]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub events: Vec<Event>,
}

/// `{"actions": [...], "unavailable": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Actions {
    pub actions: Vec<ActionNow>,
    pub unavailable: Vec<ActionNotNow>,
}
