//! `mentorflow people put|get|list|remove` and `mentorflow orgs put|get|list|remove`.

use mentorflow::{Org, Person};
use serde_json::json;

use super::{set_value, Ctx};
use crate::args::{OrgsCommand, PeopleCommand};
use crate::output::{self, CliError, Out};

pub fn people(ctx: &Ctx, c: PeopleCommand) -> Result<(), CliError> {
    let engine = ctx.engine()?;
    let out = &ctx.out;
    match c {
        PeopleCommand::Put(p) => {
            let mut person = Person::new(p.id);
            person.org = p.org;
            person.name = p.name;
            person.email = p.email;
            person.roles = p.roles;
            for (k, raw) in p.set {
                person.attributes.insert(k, set_value(&raw, None));
            }
            person.validate()?;
            engine.put_person(&person)?;
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
    }
    Ok(())
}

pub fn orgs(ctx: &Ctx, c: OrgsCommand) -> Result<(), CliError> {
    let engine = ctx.engine()?;
    let out = &ctx.out;
    match c {
        OrgsCommand::Put(o) => {
            let mut org = Org::new(o.id);
            org.name = o.name;
            if let Some(tz) = o.timezone {
                org.timezone = tz;
            }
            org.holidays = o.holidays;
            if !o.weekend.is_empty() {
                org.weekend = o.weekend;
            }
            for (k, raw) in o.set {
                org.settings.insert(k, set_value(&raw, None));
            }
            org.calendar()?;
            engine.put_org(&org)?;
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
