//! Errors as responses: JSON for `/api` ([`ApiError`]), an HTML page for the console
//! ([`PageError`]). Statuses follow the engine's stable error codes: 400 validation, 403 not
//! permitted, 404 not found (or not visible), 409 conflict, 422 guard rejected. Script and
//! storage failures are 500 with a plain message: no stack traces or SQL in responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Why a request failed.
#[derive(Debug)]
pub enum Failure {
    /// The engine refused or failed.
    Engine(mentorflow::Error),
    /// No valid session or token.
    NotSignedIn,
    /// No valid session on a page: sign in, then come back to this path.
    SignInFor(String),
    /// A form without the right CSRF token.
    Csrf,
    /// A request the portal could not read (a bad query or header), naming what.
    BadRequest {
        field: Option<String>,
        message: String,
    },
    /// An e-mail action link that cannot be used (see `links`): a page saying why, with the
    /// case's address when it is safe to give.
    Link {
        status: StatusCode,
        title: &'static str,
        message: String,
        case: Option<i64>,
    },
    /// Something that is not the caller's fault (logged).
    Internal,
}

impl From<mentorflow::Error> for Failure {
    fn from(e: mentorflow::Error) -> Self {
        Failure::Engine(e)
    }
}

/// The HTTP status of an engine error.
pub fn status_of(e: &mentorflow::Error) -> StatusCode {
    match e.code() {
        "validation" | "definition" => StatusCode::BAD_REQUEST,
        "not_permitted" => StatusCode::FORBIDDEN,
        "not_found" => StatusCode::NOT_FOUND,
        // a case an operator suspended or cancelled: the request conflicts with its state
        "conflict" | "suspended" | "cancelled" => StatusCode::CONFLICT,
        "guard_rejected" => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl Failure {
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        Failure::BadRequest {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Failure::Engine(e) => status_of(e),
            Failure::NotSignedIn | Failure::SignInFor(_) => StatusCode::UNAUTHORIZED,
            Failure::Csrf => StatusCode::FORBIDDEN,
            Failure::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Failure::Link { status, .. } => *status,
            Failure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Failure::Engine(e) => e.code(),
            Failure::NotSignedIn | Failure::SignInFor(_) => "not_signed_in",
            Failure::Csrf => "csrf",
            Failure::BadRequest { .. } => "validation",
            Failure::Link { .. } => "link",
            Failure::Internal => "internal",
        }
    }

    /// The message for people: the engine's own words for what they can fix, a plain
    /// sentence for failures inside (scripts and storage are logged, not shown).
    pub fn message(&self) -> String {
        match self {
            Failure::Engine(e) => match e {
                mentorflow::Error::Storage { .. } | mentorflow::Error::Script { .. } => {
                    tracing::error!("{e}");
                    "the server could not do this; the problem was logged".into()
                }
                mentorflow::Error::NotFound { kind, id, .. } => format!("{kind} `{id}` not found"),
                other => other.to_string(),
            },
            Failure::NotSignedIn | Failure::SignInFor(_) => "sign in first".into(),
            Failure::Csrf => {
                "this form has expired or did not come from this site; reload the page and try again"
                    .into()
            }
            Failure::BadRequest { message, .. } | Failure::Link { message, .. } => message.clone(),
            Failure::Internal => "the server could not do this; the problem was logged".into(),
        }
    }

    /// The error as JSON: `{"error": {"code", "message", ...details}}`.
    pub fn to_json(&self) -> Value {
        let mut err = json!({"code": self.code(), "message": self.message()});
        match self {
            Failure::Engine(mentorflow::Error::Validation { field, .. }) => {
                err["field"] = json!(field);
            }
            Failure::Engine(mentorflow::Error::GuardRejected {
                action,
                state,
                suggest,
                rule,
                ..
            }) => {
                err["action"] = json!(action);
                err["state"] = json!(state);
                err["suggest"] = json!(suggest);
                err["rule"] = json!(rule);
            }
            Failure::Engine(mentorflow::Error::Conflict {
                case_id,
                expected,
                actual,
            }) => {
                err["case"] = json!(case_id);
                err["expected"] = json!(expected);
                err["actual"] = json!(actual);
            }
            Failure::Engine(mentorflow::Error::Definition { problems }) => {
                err["problems"] = json!(problems.iter().map(|p| p.to_string()).collect::<Vec<_>>());
            }
            Failure::BadRequest { field, .. } => err["field"] = json!(field),
            _ => {}
        }
        json!({ "error": err })
    }
}

/// An API failure: a JSON body with the right status.
#[derive(Debug)]
pub struct ApiError(pub Failure);

impl<E: Into<Failure>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let mut r = (status, axum::Json(self.0.to_json())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

/// A console failure: an HTML page with the right status (or the sign-in page when not
/// signed in).
#[derive(Debug)]
pub struct PageError(pub Failure);

impl<E: Into<Failure>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match &self.0 {
            Failure::NotSignedIn => {
                return axum::response::Redirect::to("/sign-in").into_response()
            }
            Failure::SignInFor(next) => {
                let to = format!("/sign-in?next={}", crate::auth::encode_path(next));
                return axum::response::Redirect::to(&to).into_response();
            }
            _ => {}
        }
        if let Failure::Link {
            status,
            title,
            message,
            case,
        } = &self.0
        {
            let html = crate::render::page(
                "error.html",
                json!({"title": title, "message": message, "status": status.as_u16(),
                       "case_href": case.map(|id| format!("/cases/{id}"))}),
            );
            return (*status, html).into_response();
        }
        let status = self.0.status();
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not permitted",
            StatusCode::CONFLICT => "Changed meanwhile",
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "Not done",
            _ => "Something went wrong",
        };
        // a case one may not see reads exactly like a missing one
        let message = match &self.0 {
            Failure::Engine(mentorflow::Error::NotFound { kind, id, .. }) => format!(
                "{} {id} was not found: it does not exist, or you are not among the people who may see it.",
                crate::forms::humanize(kind)
            ),
            other => other.message(),
        };
        let html = crate::render::page(
            "error.html",
            json!({"title": title, "message": message, "status": status.as_u16()}),
        );
        (status, html).into_response()
    }
}
