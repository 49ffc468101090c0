//! `mentorflow people put|get|list|remove` and `mentorflow orgs put|get|list|remove`.

use mentorflow::{OrgPatch, PersonPatch};
use serde_json::json;

use super::{set_value, Ctx};
use crate::args::{OrgsCommand, PeopleCommand};
use crate::output::{self, CliError, Out};

pub fn people(ctx: &Ctx, c: PeopleCommand) -> Result<(), CliError> {
    // only `put` may create the database
    let engine = match c {
        PeopleCommand::Put(_) => ctx.engine()?,
        _ => ctx.engine_read()?,
    };
    let out = &ctx.out;
    match c {
        PeopleCommand::Put(p) => {
            let mut change = PersonPatch::new(p.id);
            change.name = p.name.map(Some);
            change.email = p.email.map(Some);
            change.org = p.org.map(Some);
            change.roles = (!p.roles.is_empty()).then_some(p.roles);
            for (k, raw) in p.set {
                change.attributes.insert(k, set_value(&raw, None));
            }
            let person = if p.replace {
                let person = change.apply(None);
                person.validate()?;
                engine.replace_person(&person)?;
                person
            } else {
                engine.put_person(&change)?
            };
            if out.json {
                return out.print_json(&person);
            }
            output::line(&format!("saved person {}", out.bold(&person.id)));
        }
        PeopleCommand::Get { id } => {
            let p = engine.person(&id)?;
            if out.json {
                return out.print_json(&p);
            }
            let mut items = vec![("id".to_owned(), p.id.clone())];
            for (k, v) in [("name", &p.name), ("email", &p.email), ("org", &p.org)] {
                if let Some(v) = v {
                    items.push((k.to_owned(), v.clone()));
                }
            }
            if !p.roles.is_empty() {
                items.push(("roles".into(), p.roles.join(", ")));
            }
            for (k, v) in &p.attributes {
                items.push((k.clone(), output::value(v)));
            }
            output::print(&output::pairs(&items));
        }
        PeopleCommand::List { org } => {
            let list = engine.people(org.as_deref())?;
            if out.json {
                return out.print_json(&list);
            }
            if list.is_empty() {
                output::line(
                    "no people (add them with `mentorflow people put` or `mentorflow import`)",
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|p| {
                    vec![
                        p.id.clone(),
                        p.name.clone().unwrap_or_default(),
                        p.org.clone().unwrap_or_default(),
                        p.roles.join(","),
                        p.email.clone().unwrap_or_default(),
                        p.attributes
                            .iter()
                            .map(|(k, v)| format!("{k}={}", output::value(v)))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ]
                })
                .collect();
            output::print(&output::table(
                &["ID", "NAME", "ORG", "ROLES", "EMAIL", "ATTRIBUTES"],
                &rows,
                out,
            ));
        }
        PeopleCommand::Remove { id } => {
            let existed = engine.remove_person(&id)?;
            removed(out, existed, "person", id)?;
        }
        PeopleCommand::Forget(f) => {
            let r = engine.forget_person(&f.id, &f.actor, &f.reason, f.dry_run)?;
            if out.json {
                return out.print_json(&r);
            }
            let rows: Vec<Vec<String>> = r
                .places
                .iter()
                .map(|p| {
                    vec![
                        p.place.clone(),
                        p.id.map_or_else(|| "-".into(), |i| i.to_string()),
                        p.case.map_or_else(|| "-".into(), |i| i.to_string()),
                        p.columns.join(", "),
                    ]
                })
                .collect();
            output::print(&output::table(
                &["PLACE", "ROW", "CASE", "WHAT"],
                &rows,
                out,
            ));
            let cases = r.cases.len();
            output::line(&if r.dry_run {
                format!(
                    "dry run: {} would become {} in {} place(s) and {cases} case(s); nothing changed",
                    r.person,
                    r.pseudonym,
                    r.places.len()
                )
            } else {
                format!(
                    "forgot {}: now {} in {} place(s) and {cases} case(s) (on SQLite, VACUUM the file to drop the freed pages)",
                    r.person,
                    r.pseudonym,
                    r.places.len()
                )
            });
        }
    }
    Ok(())
}

pub fn orgs(ctx: &Ctx, c: OrgsCommand) -> Result<(), CliError> {
    let engine = match c {
        OrgsCommand::Put(_) => ctx.engine()?,
        _ => ctx.engine_read()?,
    };
    let out = &ctx.out;
    match c {
        OrgsCommand::Put(o) => {
            let mut change = OrgPatch::new(o.id);
            change.name = o.name.map(Some);
            change.timezone = o.timezone;
            change.holidays = (!o.holidays.is_empty()).then_some(o.holidays);
            change.weekend = (!o.weekend.is_empty()).then_some(o.weekend);
            for (k, raw) in o.set {
                change.settings.insert(k, set_value(&raw, None));
            }
            let org = if o.replace {
                let org = change.apply(None);
                engine.replace_org(&org)?;
                org
            } else {
                engine.put_org(&change)?
            };
            if out.json {
                return out.print_json(&org);
            }
            output::line(&format!("saved organisation {}", out.bold(&org.id)));
        }
        OrgsCommand::Get { id } => {
            let o = engine.org(&id)?;
            if out.json {
                return out.print_json(&o);
            }
            let mut items = vec![("id".to_owned(), o.id.clone())];
            if let Some(n) = &o.name {
                items.push(("name".into(), n.clone()));
            }
            items.push(("timezone".into(), o.timezone.clone()));
            items.push((
                "weekend".into(),
                o.weekend
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
            if !o.holidays.is_empty() {
                items.push((
                    "holidays".into(),
                    o.holidays
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                ));
            }
            for (k, v) in &o.settings {
                items.push((format!("settings.{k}"), output::value(v)));
            }
            output::print(&output::pairs(&items));
        }
        OrgsCommand::List => {
            let list = engine.orgs()?;
            if out.json {
                return out.print_json(&list);
            }
            if list.is_empty() {
                output::line(
                    "no organisations (add them with `mentorflow orgs put` or `mentorflow import`)",
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|o| {
                    vec![
                        o.id.clone(),
                        o.name.clone().unwrap_or_default(),
                        o.timezone.clone(),
                        o.holidays.len().to_string(),
                        o.settings
                            .iter()
                            .map(|(k, v)| format!("{k}={}", output::value(v)))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ]
                })
                .collect();
            output::print(&output::table(
                &["ID", "NAME", "TIMEZONE", "HOLIDAYS", "SETTINGS"],
                &rows,
                out,
            ));
        }
        OrgsCommand::Remove { id } => {
            let existed = engine.remove_org(&id)?;
            removed(out, existed, "organisation", id)?;
        }
    }
    Ok(())
}

/// Report a removal, or that there was nothing to remove.
fn removed(out: &Out, existed: bool, kind: &'static str, id: String) -> Result<(), CliError> {
    if !existed {
        return Err(mentorflow::Error::NotFound {
            kind,
            id,
            hint: None,
        }
        .into());
    }
    if out.json {
        return out.print_json(&json!({ "removed": id }));
    }
    output::line(&format!("removed {kind} {id}"));
    Ok(())
}
