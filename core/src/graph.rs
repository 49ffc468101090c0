//! Diagrams of a workflow: states with their labels, actions on the edges labelled with the
//! roles that may do them, timers drawn apart (a dashed edge for a timer that fires an
//! action, a note for a timer that only runs a script), final states marked. With a
//! [`Trace`] of a case, its current state is highlighted and the path taken so far drawn
//! over the diagram.
//!
//! Two formats: Mermaid (`flowchart`, renders on GitHub and in most Markdown viewers) and
//! Graphviz DOT.
//!
//! ```
//! # use mentorflow::{graph, Engine};
//! # let yaml = "workflow: w\nversion: 1\nroles: { a: {} }\nstates:\n  open: {}\n  done: { final: true }\nactions:\n  go: { to: open, by: a }\n  finish: { from: open, to: done, by: a }\n";
//! # let engine = Engine::builder().in_memory().workflow_str("w.yaml", yaml).build()?;
//! let def = engine.definition("w")?;
//! let text = graph::render(&def, graph::Format::Mermaid, None);
//! assert!(text.contains("s_open -->|\"finish · a\"| s_done"));
//! # Ok::<(), mentorflow::Error>(())
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::str::FromStr;

use crate::definition::{Definition, Schedule, Target, Timer};
use crate::model::Event;

/// A diagram format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Mermaid `flowchart LR`.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "mermaid" | "mmd" => Ok(Format::Mermaid),
            "dot" | "graphviz" => Ok(Format::Dot),
            other => Err(format!(
                "unknown diagram format `{other}`; use mermaid or dot"
            )),
        }
    }
}

/// The path a case took: the states it went through and the steps between them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// The state the case is in now.
    pub current: String,
    /// Every state the case has been in.
    pub visited: BTreeSet<String>,
    /// Each step taken: (state before, or `None` for the start; state after; action).
    pub steps: Vec<(Option<String>, String, String)>,
}

impl Trace {
    /// The trace of a case from its history (oldest first).
    pub fn from_history(events: &[Event]) -> Trace {
        let mut t = Trace::default();
        for e in events {
            t.visited.insert(e.to_state.clone());
            if let Some(f) = &e.from_state {
                t.visited.insert(f.clone());
            }
            t.steps
                .push((e.from_state.clone(), e.to_state.clone(), e.action.clone()));
            t.current = e.to_state.clone();
        }
        t
    }
}

/// A definition as data, for programs (`mentorflow graph --json`): its `nodes` (states with
/// label, `final` and tags), its `edges` (one per action and state it leads from, `from`
/// `null` for a start action and `to` the target states — `[from]` when the action stays —
/// with the roles `by`; one per timer that fires an action, with `timer`, `schedule` — which
/// ends with `if CONDITION` for a timer with `when:` — and `when`, the condition or `null`),
/// the timers that only run a script (`notes`, with the same keys), and with a trace the case's `current` state
/// and `path` (its steps).
pub fn to_json(def: &Definition, trace: Option<&Trace>) -> serde_json::Value {
    use serde_json::json;
    let nodes: Vec<_> = def
        .states
        .iter()
        .map(|s| json!({ "id": s.id, "label": s.label, "final": s.is_final, "tags": s.tags }))
        .collect();
    let mut edges = Vec::new();
    for a in &def.actions {
        let froms: Vec<Option<&str>> = match &a.from {
            None => vec![None],
            Some(f) => f.iter().map(|s| Some(s.as_str())).collect(),
        };
        for from in froms {
            let to: Vec<&str> = match (&a.to, from) {
                (Target::Stay, Some(f)) => vec![f],
                (t, _) => t.states(),
            };
            edges.push(json!({
                "from": from, "to": to, "action": a.id,
                "label": a.label.as_deref().unwrap_or(&a.id), "by": a.by,
            }));
        }
    }
    let mut notes = Vec::new();
    for st in &def.states {
        for t in &st.timers {
            match &t.action {
                Some(aid) => {
                    let to = def
                        .action(aid)
                        .map(|a| match &a.to {
                            Target::Stay => vec![st.id.as_str()],
                            other => other.states(),
                        })
                        .unwrap_or_default();
                    edges.push(json!({
                        "from": st.id, "to": to, "action": aid, "label": aid, "by": ["system"],
                        "timer": t.name, "schedule": schedule_text(t), "when": when_text(t),
                    }));
                }
                None => notes.push(json!({
                    "state": st.id, "timer": t.name, "schedule": schedule_text(t),
                    "when": when_text(t),
                })),
            }
        }
    }
    let mut v = json!({
        "workflow": def.id, "version": def.version, "title": def.title,
        "nodes": nodes, "edges": edges, "notes": notes,
    });
    if let Some(t) = trace {
        v["current"] = json!(t.current);
        v["path"] = t
            .steps
            .iter()
            .map(|(from, to, action)| json!({ "from": from, "to": to, "action": action }))
            .collect();
    }
    v
}

/// Render a definition as a diagram, optionally with a case's trace over it.
pub fn render(def: &Definition, format: Format, trace: Option<&Trace>) -> String {
    let model = Model::build(def);
    match format {
        Format::Mermaid => mermaid(def, &model, trace),
        Format::Dot => dot(def, &model, trace),
    }
}

/// How an edge is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An action people (or the system) do.
    Action,
    /// A timer firing an action.
    Timer,
}

/// One end of an edge.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// Where cases start.
    Start,
    /// A state.
    State(String),
    /// The choice point of an action that leads from several states to one of several
    /// (drawn once instead of every pair).
    Hub(String),
}

#[derive(Debug)]
struct Edge {
    from: End,
    to: End,
    kind: Kind,
    /// One line per action (or timer); empty for the edges around a hub.
    lines: Vec<String>,
    /// The actions this edge stands for (to match a trace).
    actions: Vec<String>,
}

#[derive(Debug)]
struct Note {
    /// The state it belongs to; `None` for the legend.
    state: Option<String>,
    name: String,
    text: String,
}

#[derive(Debug, Default)]
struct Model {
    /// Hubs: action id and label.
    hubs: Vec<(String, String)>,
    edges: Vec<Edge>,
    notes: Vec<Note>,
}

/// "after 24h", "every 1 month", "at mentoring_date - 1 day".
/// When a timer fires, with its `when:` condition: `after 24h if fields.sessions == 0`.
fn schedule_text(t: &Timer) -> String {
    let mut text = match &t.schedule {
        Schedule::After(s) => format!("after {s}"),
        Schedule::Every(s) => format!("every {s}"),
        Schedule::At { field, offset } => match offset {
            None => format!("at {field}"),
            Some((neg, s)) => format!("at {field} {} {s}", if *neg { "-" } else { "+" }),
        },
    };
    if let Some(cond) = when_text(t) {
        text.push_str(" if ");
        text.push_str(&cond);
    }
    text
}

/// A timer's `when:` condition on one line (a multi-line script's whitespace collapsed).
fn when_text(t: &Timer) -> Option<String> {
    t.when
        .as_ref()
        .map(|w| w.source().split_whitespace().collect::<Vec<_>>().join(" "))
}

fn who(by: &[String]) -> String {
    by.join(", ")
}

impl Model {
    fn build(def: &Definition) -> Model {
        let mut m = Model::default();
        // Actions fired by a timer are drawn as that timer's dashed edge.
        let timer_actions: BTreeSet<&str> = def
            .states
            .iter()
            .flat_map(|s| s.timers.iter().filter_map(|t| t.action.as_deref()))
            .collect();
        let open: BTreeSet<&str> = def
            .states
            .iter()
            .filter(|s| !s.is_final)
            .map(|s| s.id.as_str())
            .collect();
        let mut everywhere = Vec::new();
        for a in &def.actions {
            if a.system_only() && timer_actions.contains(a.id.as_str()) {
                continue;
            }
            let line = format!("{} · {}", a.id, who(&a.by));
            let sources: Vec<End> = match &a.from {
                None => vec![End::Start],
                Some(from) => from.iter().cloned().map(End::State).collect(),
            };
            // A stay action allowed in every open state goes to the legend, not to every state.
            if a.to == Target::Stay && open.len() > 1 {
                let from: BTreeSet<&str> = a.from.iter().flatten().map(String::as_str).collect();
                if from == open {
                    everywhere.push(line);
                    continue;
                }
            }
            let targets = a.to.states();
            if sources.len() > 1 && targets.len() > 1 {
                m.hubs.push((a.id.clone(), line));
                let hub = End::Hub(a.id.clone());
                for from in sources {
                    m.add(from, hub.clone(), Kind::Action, None, &a.id);
                }
                for to in targets {
                    m.add(
                        hub.clone(),
                        End::State(to.to_owned()),
                        Kind::Action,
                        None,
                        &a.id,
                    );
                }
                continue;
            }
            for from in sources {
                let to: Vec<End> = match &a.to {
                    Target::Stay => vec![from.clone()],
                    other => other
                        .states()
                        .into_iter()
                        .map(|s| End::State(s.to_owned()))
                        .collect(),
                };
                for to in to {
                    m.add(from.clone(), to, Kind::Action, Some(line.clone()), &a.id);
                }
            }
        }
        for s in &def.states {
            for t in &s.timers {
                let when = schedule_text(t);
                match t.action.as_deref().and_then(|id| def.action(id)) {
                    Some(a) => {
                        let targets: Vec<String> = match &a.to {
                            Target::Stay => vec![s.id.clone()],
                            other => other.states().into_iter().map(str::to_owned).collect(),
                        };
                        let mut line = format!("⏱ {when} → {}", a.id);
                        if t.run.is_some() {
                            line.push_str(" (+ script)");
                        }
                        for to in targets {
                            m.add(
                                End::State(s.id.clone()),
                                End::State(to),
                                Kind::Timer,
                                Some(line.clone()),
                                &a.id,
                            );
                        }
                    }
                    None => m.notes.push(Note {
                        state: Some(s.id.clone()),
                        name: t.name.clone(),
                        text: format!("⏱ {when}: {}", t.name),
                    }),
                }
            }
        }
        if !everywhere.is_empty() {
            let mut text = String::from("in every open state:");
            for l in everywhere {
                text.push('\n');
                text.push_str(&l);
            }
            m.notes.push(Note {
                state: None,
                name: "everywhere".into(),
                text,
            });
        }
        m
    }

    /// Actions between the same two ends with the same kind share one edge.
    fn add(&mut self, from: End, to: End, kind: Kind, line: Option<String>, action: &str) {
        if let Some(e) = self
            .edges
            .iter_mut()
            .find(|e| e.from == from && e.to == to && e.kind == kind)
        {
            if let Some(line) = line {
                if !e.lines.contains(&line) {
                    e.lines.push(line);
                }
            }
            e.actions.push(action.to_owned());
            return;
        }
        self.edges.push(Edge {
            from,
            to,
            kind,
            lines: line.into_iter().collect(),
            actions: vec![action.to_owned()],
        });
    }
}

/// Whether the trace went along an edge.
fn taken(e: &Edge, trace: Option<&Trace>) -> bool {
    let Some(t) = trace else {
        return false;
    };
    t.steps.iter().any(|(f, to, a)| {
        let from_ok = |end: &End| match end {
            End::Start => f.is_none(),
            End::State(s) => f.as_deref() == Some(s.as_str()),
            End::Hub(_) => false,
        };
        match (&e.from, &e.to) {
            (End::Hub(h), End::State(s)) => h == a && s == to,
            (from, End::Hub(h)) => h == a && from_ok(from),
            (from, End::State(s)) => from_ok(from) && s == to && e.actions.iter().any(|x| x == a),
            _ => false,
        }
    })
}

fn title(def: &Definition) -> String {
    format!("{} ({} v{})", def.title, def.id, def.version)
}

// ---- Mermaid ------------------------------------------------------------------------------

fn mm_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '#' => out.push_str("#35;"),
            '\n' => out.push_str("<br/>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

fn mm_id(end: &End) -> String {
    match end {
        End::Start => "start".into(),
        End::State(s) => format!("s_{s}"),
        End::Hub(a) => format!("h_{a}"),
    }
}

fn mm_state(s: &str) -> String {
    mm_id(&End::State(s.to_owned()))
}

fn mermaid(def: &Definition, m: &Model, trace: Option<&Trace>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "---\ntitle: \"{}\"\n---", mm_text(&title(def)));
    o.push_str("flowchart LR\n");
    o.push_str("    start((start))\n");
    for s in &def.states {
        let mut label = mm_text(&s.label);
        if s.label != s.id {
            let _ = write!(label, "<br/><small>{}</small>", s.id);
        }
        if s.is_final {
            let _ = writeln!(o, "    {}([\"{label}\"])", mm_state(&s.id));
        } else {
            let _ = writeln!(o, "    {}[\"{label}\"]", mm_state(&s.id));
        }
    }
    for (action, line) in &m.hubs {
        let _ = writeln!(
            o,
            "    {}{{{{\"{}\"}}}}",
            mm_id(&End::Hub(action.clone())),
            mm_text(line)
        );
    }
    let mut highlighted = Vec::new();
    for (index, e) in m.edges.iter().enumerate() {
        let arrow = match e.kind {
            Kind::Action => "-->",
            Kind::Timer => "-.->",
        };
        let label = if e.lines.is_empty() {
            String::new()
        } else {
            let text = e
                .lines
                .iter()
                .map(|l| mm_text(l))
                .collect::<Vec<_>>()
                .join("<br/>");
            format!("|\"{text}\"|")
        };
        let _ = writeln!(o, "    {} {arrow}{label} {}", mm_id(&e.from), mm_id(&e.to));
        if taken(e, trace) {
            highlighted.push(index);
        }
    }
    for (i, n) in m.notes.iter().enumerate() {
        let id = format!("n{}_{}", i + 1, n.name);
        let _ = writeln!(o, "    {id}>\"{}\"]", mm_text(&n.text));
        if let Some(state) = &n.state {
            let _ = writeln!(o, "    {} -.- {id}", mm_state(state));
        }
        let _ = writeln!(o, "    class {id} note");
    }
    o.push_str("    classDef start fill:#222,stroke:#222,color:#fff\n");
    o.push_str("    classDef final stroke-width:3px,fill:#eee\n");
    o.push_str("    classDef note fill:#fffbe6,stroke:#c9b458,color:#555\n");
    o.push_str("    class start start\n");
    let finals: Vec<String> = def
        .states
        .iter()
        .filter(|s| s.is_final)
        .map(|s| mm_state(&s.id))
        .collect();
    if !finals.is_empty() {
        let _ = writeln!(o, "    class {} final", finals.join(","));
    }
    if !m.hubs.is_empty() {
        let hubs: Vec<String> = m
            .hubs
            .iter()
            .map(|(a, _)| mm_id(&End::Hub(a.clone())))
            .collect();
        o.push_str("    classDef hub fill:#eef,stroke:#99c\n");
        let _ = writeln!(o, "    class {} hub", hubs.join(","));
    }
    if let Some(t) = trace {
        o.push_str("    classDef visited fill:#fff3c4,stroke:#e65100\n");
        o.push_str("    classDef current fill:#ffb300,stroke:#e65100,stroke-width:4px\n");
        let visited: Vec<String> = t
            .visited
            .iter()
            .filter(|s| **s != t.current && def.state(s).is_some())
            .map(|s| mm_state(s))
            .collect();
        if !visited.is_empty() {
            let _ = writeln!(o, "    class {} visited", visited.join(","));
        }
        if def.state(&t.current).is_some() {
            let _ = writeln!(o, "    class {} current", mm_state(&t.current));
        }
        if !highlighted.is_empty() {
            let list: Vec<String> = highlighted.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                o,
                "    linkStyle {} stroke:#e65100,stroke-width:3px",
                list.join(",")
            );
        }
    }
    o
}

// ---- DOT ------------------------------------------------------------------------------------

fn dot_text(s: &str) -> String {
    // Graphviz's default fonts often lack the clock glyph: say it in words.
    s.replace("⏱ ", "timer: ")
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\r', "")
        .replace('\n', "\\n")
}

fn dot_id(end: &End) -> String {
    match end {
        End::Start => "start".into(),
        End::State(s) => dot_text(s),
        End::Hub(a) => format!("action:{}", dot_text(a)),
    }
}

fn dot(def: &Definition, m: &Model, trace: Option<&Trace>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "digraph \"{}\" {{", dot_text(&def.id));
    o.push_str("  rankdir=LR;\n");
    let _ = writeln!(
        o,
        "  label=\"{}\"; labelloc=t; fontname=\"Helvetica\";",
        dot_text(&title(def))
    );
    o.push_str("  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    o.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    o.push_str("  \"start\" [shape=circle, style=filled, fillcolor=\"#222222\", fontcolor=\"#ffffff\", label=\"start\", fontsize=9];\n");
    let current = trace.map(|t| t.current.as_str());
    for s in &def.states {
        let mut label = dot_text(&s.label);
        if s.label != s.id {
            let _ = write!(label, "\\n({})", dot_text(&s.id));
        }
        let mut attrs = vec![format!("label=\"{label}\"")];
        if s.is_final {
            attrs.push("peripheries=2".into());
        }
        if current == Some(s.id.as_str()) {
            attrs.push("style=\"rounded,filled,bold\"".into());
            attrs.push("fillcolor=\"#ffb300\"".into());
            attrs.push("color=\"#e65100\"".into());
            attrs.push("penwidth=3".into());
        } else if trace.is_some_and(|t| t.visited.contains(&s.id)) {
            attrs.push("style=\"rounded,filled\"".into());
            attrs.push("fillcolor=\"#fff3c4\"".into());
        }
        let _ = writeln!(o, "  \"{}\" [{}];", dot_text(&s.id), attrs.join(", "));
    }
    for (action, line) in &m.hubs {
        let _ = writeln!(
            o,
            "  \"{}\" [shape=hexagon, style=filled, fillcolor=\"#eeeeff\", fontsize=10, label=\"{}\"];",
            dot_id(&End::Hub(action.clone())),
            dot_text(line)
        );
    }
    for e in &m.edges {
        let mut attrs = Vec::new();
        if !e.lines.is_empty() {
            let label = e
                .lines
                .iter()
                .map(|l| dot_text(l))
                .collect::<Vec<_>>()
                .join("\\n");
            attrs.push(format!("label=\"{label}\""));
        }
        if e.kind == Kind::Timer {
            attrs.push("style=dashed".into());
        }
        if taken(e, trace) {
            attrs.push("color=\"#e65100\"".into());
            attrs.push("penwidth=3".into());
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        let _ = writeln!(
            o,
            "  \"{}\" -> \"{}\"{attrs};",
            dot_id(&e.from),
            dot_id(&e.to)
        );
    }
    for (i, n) in m.notes.iter().enumerate() {
        let id = format!("note{}_{}", i + 1, n.name);
        let _ = writeln!(
            o,
            "  \"{id}\" [shape=note, style=filled, fillcolor=\"#fffbe6\", fontsize=10, label=\"{}\"];",
            dot_text(&n.text)
        );
        if let Some(state) = &n.state {
            let _ = writeln!(
                o,
                "  \"{}\" -> \"{id}\" [style=dotted, arrowhead=none];",
                dot_text(state)
            );
        }
    }
    o.push_str("}\n");
    o
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::script::{Limits, Scripts};

    const W: &str = r#"
workflow: w
version: 1
title: "A \"quoted\" flow"
roles: { a: {}, b: { directory: boss } }
fields:
  n: { type: int }
  x: { type: bool }
states:
  open:
    label: Open
    timers:
      - { name: nudge, after: 24h, run: 'add_note("x")', when: 'fields.n < 3 && !(fields.x ?? false)' }
      - { name: expire, after: 5 business days, action: close_auto }
  done: { label: Done, final: true }
actions:
  go: { to: open, by: a }
  note: { from: open, by: [a, b] }
  finish: { from: open, to: done, by: b }
  close_auto: { from: open, to: done, by: system }
"#;

    fn def() -> Definition {
        crate::definition::load_str(W, "w.yaml", &Scripts::new(Limits::default())).unwrap()
    }

    #[test]
    fn mermaid_marks_timers_and_finals() {
        let text = render(&def(), Format::Mermaid, None);
        assert!(text.contains("start -->|\"go · a\"| s_open"), "{text}");
        assert!(
            text.contains("s_open -->|\"note · a, b\"| s_open"),
            "{text}"
        );
        assert!(
            text.contains("s_open -.->|\"⏱ after 5 business days → close_auto\"| s_done"),
            "{text}"
        );
        assert!(!text.contains("close_auto · system"), "{text}");
        assert!(
            text.contains("⏱ after 24h if fields.n #lt; 3 && !(fields.x ?? false): nudge"),
            "{text}"
        );
        assert!(text.contains("s_done([\"Done"), "{text}");
        assert!(text.contains("#quot;quoted#quot;"), "{text}");
    }

    #[test]
    fn choices_meet_in_a_hub_and_everywhere_actions_in_a_note() {
        let yaml = r#"
workflow: s
version: 1
roles: { m: {} }
states:
  a: {}
  b: {}
  c: {}
actions:
  go: { to: a, by: m }
  next: { from: a, to: b, by: m }
  status: { from: [a, b, c], to: [a, b, c], by: m, run: 'goto("c")' }
  note: { from: "*", by: m }
"#;
        let d =
            crate::definition::load_str(yaml, "s.yaml", &Scripts::new(Limits::default())).unwrap();
        let text = render(&d, Format::Mermaid, None);
        assert!(text.contains("h_status{{\"status · m\"}}"), "{text}");
        assert!(text.contains("s_b --> h_status"), "{text}");
        assert!(text.contains("h_status --> s_c"), "{text}");
        assert!(!text.contains("note · m\"| s_a"), "{text}");
        assert!(text.contains("in every open state:<br/>note · m"), "{text}");
        let trace = Trace {
            current: "c".into(),
            visited: ["a", "b", "c"].iter().map(|s| (*s).to_owned()).collect(),
            steps: vec![
                (None, "a".into(), "go".into()),
                (Some("a".into()), "b".into(), "next".into()),
                (Some("b".into()), "c".into(), "status".into()),
            ],
        };
        let m = render(&d, Format::Mermaid, Some(&trace));
        // go, next, b -> hub, hub -> c.
        assert!(m.contains("linkStyle 0,1,3,7 stroke"), "{m}");
        let dot = render(&d, Format::Dot, Some(&trace));
        assert!(dot.contains("\"b\" -> \"action:status\" [color="), "{dot}");
        assert!(dot.contains("\"action:status\" -> \"c\" [color="), "{dot}");
        assert!(dot.contains("\"action:status\" -> \"a\";"), "{dot}");
    }

    #[test]
    fn dot_highlights_the_trace() {
        let trace = Trace {
            current: "done".into(),
            visited: ["open".to_owned(), "done".to_owned()].into_iter().collect(),
            steps: vec![
                (None, "open".into(), "go".into()),
                (Some("open".into()), "done".into(), "close_auto".into()),
            ],
        };
        let text = render(&def(), Format::Dot, Some(&trace));
        assert!(
            text.contains("\"open\" -> \"done\" [label=\"timer: after 5 business days → close_auto\", style=dashed, color=\"#e65100\", penwidth=3]"),
            "{text}"
        );
        assert!(
            text.contains("\"open\" -> \"done\" [label=\"finish · b\"]"),
            "{text}"
        );
        assert!(text.contains("peripheries=2"), "{text}");
        assert!(
            text.contains("timer: after 24h if fields.n < 3 && !(fields.x ?? false): nudge"),
            "{text}"
        );
        let json = to_json(&def(), None);
        assert_eq!(
            json["notes"][0]["when"],
            "fields.n < 3 && !(fields.x ?? false)"
        );
        assert_eq!(
            json["edges"].as_array().unwrap().last().unwrap()["when"],
            serde_json::Value::Null
        );
        assert!(text.contains("fillcolor=\"#ffb300\""), "{text}");
        let m = render(&def(), Format::Mermaid, Some(&trace));
        assert!(m.contains("class s_done current"), "{m}");
        assert!(m.contains("class s_open visited"), "{m}");
        assert!(m.contains("linkStyle 0,3 stroke"), "{m}");
    }
}
