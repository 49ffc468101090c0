//! The directory: people and organisations (stored by the store, next to the cases).
//!
//! A person has an id, a name, an email, an organisation, directory roles (`coordinator`,
//! `mentor`, `supervisor`, …) and free attributes (`classification`, `manager`,
//! `focus_areas`, `max_requests_per_week`, …). An organisation has a time zone, weekend days,
//! holidays and settings that override the workflows' defaults.

use std::collections::BTreeSet;

use chrono::{NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::time::BusinessCalendar;

/// A person.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// Unique id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Organisation id.
    #[serde(default)]
    pub org: Option<String>,
    /// Directory roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Free attributes.
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

impl Person {
    /// A person with an id.
    pub fn new(id: impl Into<String>) -> Self {
        Person {
            id: id.into(),
            ..Person::default()
        }
    }
    /// Set the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Set the email.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }
    /// Set the organisation.
    pub fn org(mut self, org: impl Into<String>) -> Self {
        self.org = Some(org.into());
        self
    }
    /// Add a directory role.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }
    /// Set an attribute.
    pub fn attr(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Whether the person holds a directory role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The person as scripts see it: id, name, email, org, roles and the attributes.
    pub fn to_script_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for (k, v) in &self.attributes {
            m.insert(k.clone(), v.clone());
        }
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert(
            "name".into(),
            self.name.clone().map_or(Value::Null, Value::String),
        );
        m.insert(
            "email".into(),
            self.email.clone().map_or(Value::Null, Value::String),
        );
        m.insert(
            "org".into(),
            self.org.clone().map_or(Value::Null, Value::String),
        );
        m.insert(
            "roles".into(),
            Value::Array(self.roles.iter().cloned().map(Value::String).collect()),
        );
        m
    }

    /// Check ids and values before saving.
    pub fn validate(&self) -> Result<()> {
        check_id("person", &self.id)?;
        if let Some(org) = &self.org {
            check_id("organisation", org)?;
        }
        for r in &self.roles {
            if r.trim().is_empty() || r.chars().any(char::is_control) {
                return Err(Error::validation(
                    "roles",
                    format!("role `{r}` of person `{}` is not a valid name", self.id),
                ));
            }
        }
        for (key, value) in &self.attributes {
            if crate::definition::nests_too_deeply(value) {
                return Err(Error::validation(
                    format!("attributes.{key}"),
                    format!(
                        "attribute `{key}` of person `{}` nests lists and maps more than {} levels deep",
                        self.id,
                        crate::definition::MAX_NESTING
                    ),
                ));
            }
        }
        for key in ["id", "name", "email", "org", "roles"] {
            if self.attributes.contains_key(key) {
                return Err(Error::validation(
                    format!("attributes.{key}"),
                    format!("`{key}` is a built-in property of a person, not an attribute"),
                ));
            }
        }
        Ok(())
    }
}

/// An organisation (a SCORE chapter, a company, a contact centre).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Org {
    /// Unique id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// IANA time zone, e.g. `Europe/Paris`.
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// Weekend days (default Saturday and Sunday).
    #[serde(default = "default_weekend")]
    pub weekend: Vec<Weekday>,
    /// Holidays, not business days.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
    /// Settings overriding workflow defaults.
    #[serde(default)]
    pub settings: Map<String, Value>,
}

fn default_tz() -> String {
    "UTC".into()
}

fn default_weekend() -> Vec<Weekday> {
    vec![Weekday::Sat, Weekday::Sun]
}

impl Org {
    /// An organisation in UTC with a Saturday–Sunday weekend.
    pub fn new(id: impl Into<String>) -> Self {
        Org {
            id: id.into(),
            name: None,
            timezone: default_tz(),
            weekend: default_weekend(),
            holidays: Vec::new(),
            settings: Map::new(),
        }
    }
    /// Set the time zone.
    pub fn timezone(mut self, tz: impl Into<String>) -> Self {
        self.timezone = tz.into();
        self
    }
    /// Add a holiday.
    pub fn holiday(mut self, d: NaiveDate) -> Self {
        self.holidays.push(d);
        self
    }
    /// Set a setting.
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }
    /// Set the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The business calendar of the organisation.
    pub fn calendar(&self) -> Result<BusinessCalendar> {
        let tz = BusinessCalendar::parse_tz(&self.timezone)
            .map_err(|e| Error::validation("timezone", e))?;
        let mut cal = BusinessCalendar::new(tz);
        cal.weekend = self.weekend.clone();
        cal.holidays = self.holidays.iter().copied().collect::<BTreeSet<_>>();
        Ok(cal)
    }
}

/// What to change in a person ([`Engine::put_person`](crate::Engine::put_person)): each
/// property given replaces the stored one, attributes are merged key by key (a `null` value
/// removes one), and everything not given is kept. A new id creates the person.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonPatch {
    /// The person's id.
    pub id: String,
    /// A new name (`Some(None)` clears it).
    pub name: Option<Option<String>>,
    /// A new email (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// A new organisation (`Some(None)` clears it).
    pub org: Option<Option<String>>,
    /// The new directory roles, all of them.
    pub roles: Option<Vec<String>>,
    /// Attributes to set; `null` removes one.
    pub attributes: Map<String, Value>,
}

impl PersonPatch {
    /// A change to the person with this id (nothing changed yet).
    pub fn new(id: impl Into<String>) -> Self {
        PersonPatch {
            id: id.into(),
            ..PersonPatch::default()
        }
    }
    /// Set the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Some(name.into()));
        self
    }
    /// Set the email.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(Some(email.into()));
        self
    }
    /// Set the organisation.
    pub fn org(mut self, org: impl Into<String>) -> Self {
        self.org = Some(Some(org.into()));
        self
    }
    /// Add a role to the new role list (the list replaces the stored roles).
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.roles.get_or_insert_with(Vec::new).push(role.into());
        self
    }
    /// Set an attribute (`Value::Null` removes it).
    pub fn attr(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// The person after this change, over what is stored (`None`: a new person).
    pub fn apply(&self, base: Option<Person>) -> Person {
        let mut p = base.unwrap_or_else(|| Person::new(self.id.clone()));
        if let Some(n) = &self.name {
            p.name.clone_from(n);
        }
        if let Some(e) = &self.email {
            p.email.clone_from(e);
        }
        if let Some(o) = &self.org {
            p.org.clone_from(o);
        }
        if let Some(r) = &self.roles {
            p.roles.clone_from(r);
        }
        merge(&mut p.attributes, &self.attributes);
        p
    }
}

/// A [`Person`] as a change: what it gives (`Some` name, email and organisation, roles when
/// there are any, every attribute) replaces the stored values; the rest is kept.
impl From<&Person> for PersonPatch {
    fn from(p: &Person) -> Self {
        PersonPatch {
            id: p.id.clone(),
            name: p.name.clone().map(Some),
            email: p.email.clone().map(Some),
            org: p.org.clone().map(Some),
            roles: (!p.roles.is_empty()).then(|| p.roles.clone()),
            attributes: p.attributes.clone(),
        }
    }
}

impl From<&PersonPatch> for PersonPatch {
    fn from(p: &PersonPatch) -> Self {
        p.clone()
    }
}

/// What to change in an organisation ([`Engine::put_org`](crate::Engine::put_org)): each
/// property given replaces the stored one, settings are merged key by key (a `null` value
/// removes one), and everything not given is kept. A new id creates the organisation (in
/// UTC with a Saturday–Sunday weekend unless given).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrgPatch {
    /// The organisation's id.
    pub id: String,
    /// A new name (`Some(None)` clears it).
    pub name: Option<Option<String>>,
    /// A new IANA time zone.
    pub timezone: Option<String>,
    /// The new weekend days, all of them.
    pub weekend: Option<Vec<Weekday>>,
    /// The new holidays, all of them.
    pub holidays: Option<Vec<NaiveDate>>,
    /// Settings to set; `null` removes one.
    pub settings: Map<String, Value>,
}

impl OrgPatch {
    /// A change to the organisation with this id (nothing changed yet).
    pub fn new(id: impl Into<String>) -> Self {
        OrgPatch {
            id: id.into(),
            ..OrgPatch::default()
        }
    }
    /// Set the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Some(name.into()));
        self
    }
    /// Set the time zone.
    pub fn timezone(mut self, tz: impl Into<String>) -> Self {
        self.timezone = Some(tz.into());
        self
    }
    /// Add a holiday to the new holiday list (the list replaces the stored holidays).
    pub fn holiday(mut self, d: NaiveDate) -> Self {
        self.holidays.get_or_insert_with(Vec::new).push(d);
        self
    }
    /// Set a setting (`Value::Null` removes it).
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    /// The organisation after this change, over what is stored (`None`: a new one).
    pub fn apply(&self, base: Option<Org>) -> Org {
        let mut o = base.unwrap_or_else(|| Org::new(self.id.clone()));
        if let Some(n) = &self.name {
            o.name.clone_from(n);
        }
        if let Some(t) = &self.timezone {
            o.timezone.clone_from(t);
        }
        if let Some(w) = &self.weekend {
            o.weekend.clone_from(w);
        }
        if let Some(h) = &self.holidays {
            o.holidays.clone_from(h);
        }
        merge(&mut o.settings, &self.settings);
        o
    }
}

impl From<&OrgPatch> for OrgPatch {
    fn from(p: &OrgPatch) -> Self {
        p.clone()
    }
}

/// Apply a patch map: `null` removes a key, any other value sets it.
fn merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            target.remove(k);
        } else {
            target.insert(k.clone(), v.clone());
        }
    }
}

pub(crate) fn check_id(kind: &str, id: &str) -> Result<()> {
    if id.trim().is_empty() {
        return Err(Error::validation(
            "id",
            format!("a {kind} id cannot be empty"),
        ));
    }
    if id.len() > 200 {
        return Err(Error::validation(
            "id",
            format!("a {kind} id is at most 200 bytes long"),
        ));
    }
    if id.chars().any(char::is_control) || id != id.trim() {
        return Err(Error::validation(
            "id",
            format!("{kind} id {id:?} must not contain control characters or surrounding spaces"),
        ));
    }
    if id == "system" {
        return Err(Error::validation(
            "id",
            "`system` is reserved for timers and cannot be a person",
        ));
    }
    Ok(())
}

/// Whether a person (as scripts see them) matches a `people(filter)` filter: every key other
/// than `role` and `org` must equal the attribute, or, for a list on either side, share an
/// item with it.
pub(crate) fn matches_filter(person: &Map<String, Value>, filter: &Map<String, Value>) -> bool {
    filter.iter().all(|(k, want)| {
        if k == "role" || k == "org" {
            return true;
        }
        let have = person.get(k).unwrap_or(&Value::Null);
        match (have, want) {
            (Value::Array(h), Value::Array(w)) => h.iter().any(|x| w.contains(x)),
            (Value::Array(h), w) => h.contains(w),
            (h, Value::Array(w)) => w.contains(h),
            (h, w) => h == w,
        }
    })
}
