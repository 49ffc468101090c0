//! The directory's SQL: people (with their directory roles in `person_roles`, for the
//! `people({ role })` lookups) and organisations.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Map;

use crate::directory::{check_id, Org, Person};
use crate::error::Result;

pub(crate) fn put_person(db: &Connection, p: &Person) -> Result<()> {
    p.validate()?;
    db.prepare_cached(
        "INSERT INTO people (id, name, email, org, roles, attributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET name = ?2, email = ?3, org = ?4, roles = ?5, attributes = ?6",
    )?
    .execute(params![
        p.id,
        p.name,
        p.email,
        p.org,
        serde_json::to_string(&p.roles)?,
        serde_json::to_string(&p.attributes)?
    ])?;
    db.prepare_cached("DELETE FROM person_roles WHERE person = ?1")?
        .execute(params![p.id])?;
    let org = p.org.clone().unwrap_or_default();
    let mut ins = db.prepare_cached(
        "INSERT OR IGNORE INTO person_roles (org, role, person) VALUES (?1, ?2, ?3)",
    )?;
    for r in &p.roles {
        ins.execute(params![org, r, p.id])?;
    }
    Ok(())
}

fn person_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Person, String, String)> {
    Ok((
        Person {
            id: row.get(0)?,
            name: row.get(1)?,
            email: row.get(2)?,
            org: row.get(3)?,
            roles: Vec::new(),
            attributes: Map::new(),
        },
        row.get(4)?,
        row.get(5)?,
    ))
}

fn finish_person((mut p, roles, attrs): (Person, String, String)) -> Result<Person> {
    p.roles = serde_json::from_str(&roles)?;
    p.attributes = serde_json::from_str(&attrs)?;
    Ok(p)
}

pub(crate) fn get_person(db: &Connection, id: &str) -> Result<Option<Person>> {
    let row = db
        .prepare_cached("SELECT id, name, email, org, roles, attributes FROM people WHERE id = ?1")?
        .query_row(params![id], person_from_row)
        .optional()?;
    row.map(finish_person).transpose()
}

/// The people whose e-mail address is `email` (ignoring case), by id.
pub(crate) fn people_by_email(db: &Connection, email: &str) -> Result<Vec<Person>> {
    let mut stmt = db.prepare_cached(
        "SELECT id, name, email, org, roles, attributes FROM people
         WHERE email = ?1 COLLATE NOCASE ORDER BY id",
    )?;
    let rows = stmt.query_map(params![email.trim()], person_from_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(finish_person(r?)?);
    }
    Ok(out)
}

pub(crate) fn list_people(db: &Connection, org: Option<&str>) -> Result<Vec<Person>> {
    let mut stmt = db.prepare_cached(
        "SELECT id, name, email, org, roles, attributes FROM people
         WHERE (?1 IS NULL OR org = ?1) ORDER BY id",
    )?;
    let rows = stmt.query_map(params![org], person_from_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(finish_person(r?)?);
    }
    Ok(out)
}

pub(crate) fn remove_person(db: &Connection, id: &str) -> Result<bool> {
    db.prepare_cached("DELETE FROM person_roles WHERE person = ?1")?
        .execute(params![id])?;
    Ok(db
        .prepare_cached("DELETE FROM people WHERE id = ?1")?
        .execute(params![id])?
        > 0)
}

pub(crate) fn put_org(db: &Connection, o: &Org) -> Result<()> {
    check_id("organisation", &o.id)?;
    o.calendar()?;
    db.prepare_cached(
        "INSERT INTO orgs (id, name, timezone, weekend, holidays, settings) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET name = ?2, timezone = ?3, weekend = ?4, holidays = ?5, settings = ?6",
    )?
    .execute(params![
        o.id,
        o.name,
        o.timezone,
        serde_json::to_string(&o.weekend)?,
        serde_json::to_string(&o.holidays)?,
        serde_json::to_string(&o.settings)?
    ])?;
    Ok(())
}

pub(crate) fn get_org(db: &Connection, id: &str) -> Result<Option<Org>> {
    let row = db
        .prepare_cached(
            "SELECT id, name, timezone, weekend, holidays, settings FROM orgs WHERE id = ?1",
        )?
        .query_row(params![id], org_row)
        .optional()?;
    row.map(finish_org).transpose()
}

type OrgRow = (String, Option<String>, String, String, String, String);

fn org_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrgRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn finish_org((id, name, timezone, weekend, holidays, settings): OrgRow) -> Result<Org> {
    Ok(Org {
        id,
        name,
        timezone,
        weekend: serde_json::from_str(&weekend)?,
        holidays: serde_json::from_str(&holidays)?,
        settings: serde_json::from_str(&settings)?,
    })
}

pub(crate) fn list_orgs(db: &Connection) -> Result<Vec<Org>> {
    let mut stmt = db.prepare_cached(
        "SELECT id, name, timezone, weekend, holidays, settings FROM orgs ORDER BY id",
    )?;
    let rows = stmt.query_map([], org_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(finish_org(r?)?);
    }
    Ok(out)
}

pub(crate) fn remove_org(db: &Connection, id: &str) -> Result<bool> {
    Ok(db
        .prepare_cached("DELETE FROM orgs WHERE id = ?1")?
        .execute(params![id])?
        > 0)
}

/// The first `limit` people of an organisation (holding `role` there, when given), by id.
pub(crate) fn first_people(
    db: &Connection,
    org: &str,
    role: Option<&str>,
    limit: usize,
) -> Result<Vec<Person>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    match role {
        Some(role) => {
            let mut stmt = db.prepare_cached(
                "SELECT p.id, p.name, p.email, p.org, p.roles, p.attributes
                 FROM person_roles r JOIN people p ON p.id = r.person
                 WHERE r.org = ?1 AND r.role = ?2 ORDER BY p.id LIMIT ?3",
            )?;
            for r in stmt.query_map(params![org, role, limit], person_from_row)? {
                out.push(finish_person(r?)?);
            }
        }
        None => {
            let mut stmt = db.prepare_cached(
                "SELECT id, name, email, org, roles, attributes FROM people
                 WHERE org = ?1 ORDER BY id LIMIT ?2",
            )?;
            for r in stmt.query_map(params![org, limit], person_from_row)? {
                out.push(finish_person(r?)?);
            }
        }
    }
    Ok(out)
}

/// The people of an organisation holding a directory role there, by id (`person_roles`).
pub(crate) fn people_with_role(db: &Connection, org: &str, role: &str) -> Result<Vec<Person>> {
    let mut stmt = db.prepare_cached(
        "SELECT p.id, p.name, p.email, p.org, p.roles, p.attributes
         FROM person_roles r JOIN people p ON p.id = r.person
         WHERE r.org = ?1 AND r.role = ?2 ORDER BY p.id",
    )?;
    let rows = stmt.query_map(params![org, role], person_from_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(finish_person(r?)?);
    }
    Ok(out)
}
