//! Server-rendered HTML: minijinja templates built into the binary (auto-escaped, so
//! notes, names and fields are always shown as text), and the static files.

use std::sync::LazyLock;

use axum::response::Html;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::Environment;
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("sign_in.html", include_str!("../templates/sign_in.html")),
    (
        "sign_in_link.html",
        include_str!("../templates/sign_in_link.html"),
    ),
    ("demo.html", include_str!("../templates/demo.html")),
    ("password.html", include_str!("../templates/password.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("view.html", include_str!("../templates/view.html")),
    ("export.html", include_str!("../templates/export.html")),
    ("case.html", include_str!("../templates/case.html")),
    ("start.html", include_str!("../templates/start.html")),
    ("admin.html", include_str!("../templates/admin.html")),
    (
        "admin_people.html",
        include_str!("../templates/admin_people.html"),
    ),
    (
        "admin_person.html",
        include_str!("../templates/admin_person.html"),
    ),
    (
        "admin_orgs.html",
        include_str!("../templates/admin_orgs.html"),
    ),
    (
        "admin_org.html",
        include_str!("../templates/admin_org.html"),
    ),
    (
        "admin_definitions.html",
        include_str!("../templates/admin_definitions.html"),
    ),
    (
        "admin_outbox.html",
        include_str!("../templates/admin_outbox.html"),
    ),
    (
        "admin_incidents.html",
        include_str!("../templates/admin_incidents.html"),
    ),
    (
        "admin_reassign.html",
        include_str!("../templates/admin_reassign.html"),
    ),
    (
        "admin_bulk.html",
        include_str!("../templates/admin_bulk.html"),
    ),
    (
        "_operator_panel.html",
        include_str!("../templates/_operator_panel.html"),
    ),
];

/// The stylesheet (vendored: no network, no build step).
pub const STYLE_CSS: &str = include_str!("../static/style.css");

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, text) in TEMPLATES {
        if let Err(e) = env.add_template(name, text) {
            // Templates are part of the binary; the tests render every one of them.
            panic!("template {name} does not parse: {e}");
        }
    }
    env
});

/// Render a page. A template error is logged and shown as a plain error page.
pub fn page(name: &str, ctx: impl Serialize) -> Html<String> {
    let rendered = ENV
        .get_template(name)
        .and_then(|t| t.render(minijinja::Value::from_serialize(&ctx)));
    match rendered {
        Ok(html) => Html(html),
        Err(e) => {
            tracing::error!("rendering {name}: {e:#}");
            Html("<!doctype html><title>Error</title><p>The page could not be shown; the problem was logged.</p>".into())
        }
    }
}

/// A time as people read it, in a time zone: `Mon 30 Nov 2026 09:40`.
pub fn when(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .format("%a %-d %b %Y %H:%M")
        .to_string()
}

/// The time zone of an organisation's id string (UTC when unknown).
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}
