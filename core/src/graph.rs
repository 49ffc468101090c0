//! Diagrams of a workflow: states with their labels, actions on the edges labelled with the
//! roles that may do them, timers drawn apart (a dashed edge for a timer that fires an
//! action, a note for a timer that only runs a script), final states marked. With a
//! [`Trace`] of a case, its current state is highlighted and the path taken so far drawn
//! over the diagram.
//!
//! Three formats: Mermaid (`flowchart`, renders on GitHub and in most Markdown viewers),
//! Graphviz DOT, and SVG drawn here ([`svg`]: a layered layout, no renderer and no network,
//! what the portal shows inline).
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
    /// A standalone SVG drawing ([`svg`]): no renderer needed.
    Svg,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "mermaid" | "mmd" => Ok(Format::Mermaid),
            "dot" | "graphviz" => Ok(Format::Dot),
            "svg" => Ok(Format::Svg),
            other => Err(format!(
                "unknown diagram format `{other}`; use mermaid, dot or svg"
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
        Format::Svg => svg(def, trace, "flow"),
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

// ---- SVG -----------------------------------------------------------------------------------

/// Sizes in the drawing's own units (CSS pixels at 100 %).
const NODE_W: f64 = 152.0;
const NODE_H: f64 = 46.0;
const GAP_X: f64 = 54.0;
const GAP_Y: f64 = 18.0;
const START_R: f64 = 9.0;
const PAD: f64 = 10.0;
/// Characters of a label line before it wraps (two lines at most).
const LINE_CHARS: usize = 20;

/// One arrow of the SVG drawing: between two nodes (0 = where cases start, then the states in
/// definition order), the labels of the actions or timers it stands for.
#[derive(Debug)]
struct Arrow {
    from: usize,
    to: usize,
    timer: bool,
    labels: Vec<String>,
    actions: Vec<String>,
}

/// The definition as a drawing with no script and no network: inline SVG for a web page,
/// laid out in layers from where cases start (arrows that close a cycle in a depth-first walk
/// are the arrows back; each state sits in the layer of its longest path over the others; the
/// order in a layer follows the mean place of its neighbours in the layers before). Arrows
/// forward go right; arrows back bend through a lane above or below the drawing. An action
/// from several states to one of several meets in one small diamond (a hub). A stay action
/// draws no arrow; a timer's arrow is dashed. With a trace, the current state is
/// marked (`current`, thicker border, bold label), the states visited and the arrows taken
/// too (`visited`, `taken`). Colours are presentation attributes (readable standalone) and
/// every element has a class (`flow-svg`, `node`, `final`, `current`, `visited`, `arrow`,
/// `timer`, `taken`, `start`) for a page's stylesheet to override: no `style`, so a
/// Content-Security-Policy without inline styles holds. Accessible as one image:
/// `role="img"` named by its `<title>` ("Flow diagram") and described by its `<desc>` (the
/// workflow's title, its states in order, the current one and the way the case came). `id`
/// prefixes the element ids (unique on a page with several drawings).
pub fn svg(def: &Definition, trace: Option<&Trace>, id: &str) -> String {
    let id: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let n_states = def.states.len();
    let index = |s: &str| def.states.iter().position(|st| st.id == s).map(|i| i + 1);
    let timer_actions: BTreeSet<&str> = def
        .states
        .iter()
        .flat_map(|s| s.timers.iter().filter_map(|t| t.action.as_deref()))
        .collect();
    // nodes: 0 where cases start, 1..=n the states, then one hub per action that leads from
    // several states to one of several (drawn once instead of every pair)
    let mut hubs: Vec<(String, String)> = Vec::new();
    let mut arrows: Vec<Arrow> = Vec::new();
    let add = |arrows: &mut Vec<Arrow>,
               from: usize,
               to: usize,
               timer: bool,
               label: &str,
               action: &str| {
        if from == to {
            return;
        }
        match arrows
            .iter_mut()
            .find(|a| a.from == from && a.to == to && a.timer == timer)
        {
            Some(a) => {
                if !a.labels.iter().any(|l| l == label) {
                    a.labels.push(label.to_owned());
                }
                a.actions.push(action.to_owned());
            }
            None => arrows.push(Arrow {
                from,
                to,
                timer,
                labels: vec![label.to_owned()],
                actions: vec![action.to_owned()],
            }),
        }
    };
    let mut has_start = false;
    for a in &def.actions {
        if a.system_only() && timer_actions.contains(a.id.as_str()) {
            continue;
        }
        let label = a.label.clone().unwrap_or_else(|| a.id.clone());
        let sources: Vec<usize> = match &a.from {
            None => {
                has_start = true;
                vec![0]
            }
            Some(from) => from.iter().filter_map(|s| index(s)).collect(),
        };
        let targets: Vec<usize> = a.to.states().into_iter().filter_map(index).collect();
        if sources.len() > 1 && targets.len() > 1 {
            let hub = n_states + 1 + hubs.len();
            hubs.push((a.id.clone(), label.clone()));
            for &from in &sources {
                add(&mut arrows, from, hub, false, &label, &a.id);
            }
            for &to in &targets {
                add(&mut arrows, hub, to, false, &label, &a.id);
            }
            continue;
        }
        for &from in &sources {
            for &to in &targets {
                add(&mut arrows, from, to, false, &label, &a.id);
            }
        }
    }
    for (i, s) in def.states.iter().enumerate() {
        for t in &s.timers {
            let Some(a) = t.action.as_deref().and_then(|aid| def.action(aid)) else {
                continue;
            };
            let label = format!(
                "⏱ {}: {}",
                schedule_text(t),
                a.label.as_deref().unwrap_or(&a.id)
            );
            for to in a.to.states().into_iter().filter_map(index) {
                add(&mut arrows, i + 1, to, true, &label, &a.id);
            }
        }
    }
    let n = n_states + 1 + hubs.len();
    let is_hub = |v: usize| v > n_states;
    let small = |v: usize| v == 0 || is_hub(v);

    // arrows back: those closing a cycle in a depth-first walk from where cases start
    let mut back = vec![false; arrows.len()];
    let mut mark = vec![0u8; n]; // 0 new, 1 on the walk, 2 done
    let roots: Vec<usize> = if has_start { vec![0] } else { Vec::new() }
        .into_iter()
        .chain(1..n)
        .collect();
    for root in roots {
        if mark[root] != 0 {
            continue;
        }
        // iterative depth-first walk: (node, next arrow to look at)
        let mut stack = vec![(root, 0usize)];
        mark[root] = 1;
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            let out: Vec<usize> = (0..arrows.len()).filter(|&i| arrows[i].from == v).collect();
            if *next < out.len() {
                let i = out[*next];
                *next += 1;
                let w = arrows[i].to;
                match mark[w] {
                    0 => {
                        mark[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => back[i] = true,
                    _ => {}
                }
            } else {
                mark[v] = 2;
                stack.pop();
            }
        }
    }
    // layers: the longest path over the arrows forward
    let mut layer = vec![0usize; n];
    for _ in 0..n {
        let mut changed = false;
        for (i, a) in arrows.iter().enumerate() {
            if !back[i] && layer[a.to] < layer[a.from] + 1 {
                layer[a.to] = layer[a.from] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    if !has_start {
        for l in &mut layer {
            *l = l.saturating_sub(1);
        }
    }
    let shown: Vec<usize> = (0..n).filter(|&v| v > 0 || has_start).collect();
    let layers = shown.iter().map(|&v| layer[v]).max().unwrap_or(0) + 1;
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for &v in &shown {
        rows[layer[v]].push(v);
    }
    // order within a layer: the mean place of the neighbours in earlier layers (two sweeps)
    for _ in 0..2 {
        for l in 1..layers {
            let mut keyed: Vec<(f64, usize)> = rows[l]
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let near: Vec<f64> = arrows
                        .iter()
                        .filter_map(|a| {
                            let other = if a.to == v {
                                a.from
                            } else if a.from == v {
                                a.to
                            } else {
                                return None;
                            };
                            if layer[other] >= l {
                                return None;
                            }
                            let row = &rows[layer[other]];
                            let at = row.iter().position(|&x| x == other)? as f64;
                            // centred, so that rows of different lengths line up
                            Some(at - (row.len() as f64 - 1.0) / 2.0)
                        })
                        .collect();
                    let key = if near.is_empty() {
                        i as f64 - (rows[l].len() as f64 - 1.0) / 2.0
                    } else {
                        near.iter().sum::<f64>() / near.len() as f64
                    };
                    (key, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            rows[l] = keyed.into_iter().map(|(_, v)| v).collect();
        }
    }

    // places: columns as wide as their widest node, layers centred vertically
    let col_w: Vec<f64> = rows
        .iter()
        .map(|row| {
            if row.iter().all(|&v| small(v)) {
                2.0 * START_R
            } else {
                NODE_W
            }
        })
        .collect();
    let mut col_x = Vec::with_capacity(layers);
    let mut x = PAD;
    for w in &col_w {
        col_x.push(x);
        x += w + GAP_X;
    }
    let width = x - GAP_X + PAD;
    let any_back = back.iter().any(|b| *b);
    let lane = if any_back { 30.0 } else { 0.0 };
    let tallest = rows.iter().map(Vec::len).max().unwrap_or(1).max(1) as f64;
    let body_h = tallest * (NODE_H + GAP_Y) - GAP_Y;
    let top0 = PAD + lane;
    // (left, top, width) of each node's box; small nodes sit in the middle of their cell
    let mut cell = vec![(0.0_f64, 0.0_f64, NODE_W); n];
    for (l, row) in rows.iter().enumerate() {
        let k = row.len() as f64;
        let top = top0 + (body_h - (k * (NODE_H + GAP_Y) - GAP_Y)) / 2.0;
        for (i, &v) in row.iter().enumerate() {
            let y = top + i as f64 * (NODE_H + GAP_Y);
            cell[v] = if small(v) {
                (col_x[l] + col_w[l] / 2.0 - START_R, y, 2.0 * START_R)
            } else {
                (col_x[l], y, NODE_W)
            };
        }
    }
    let bottom = top0 + body_h;
    let height = bottom + lane + PAD;
    let mid_y = |v: usize| cell[v].1 + NODE_H / 2.0;
    let visited = |v: usize| {
        (1..=n_states).contains(&v)
            && trace.is_some_and(|t| t.visited.contains(&def.states[v - 1].id))
    };
    let current = |v: usize| {
        (1..=n_states).contains(&v) && trace.is_some_and(|t| t.current == def.states[v - 1].id)
    };
    let taken = |a: &Arrow| {
        trace.is_some_and(|t| {
            t.steps.iter().any(|(f, to, act)| {
                let from_ok = |v: usize| match f {
                    None => v == 0,
                    Some(f) => index(f) == Some(v),
                };
                let acted = a.actions.iter().any(|x| x == act);
                if is_hub(a.to) {
                    acted && from_ok(a.from)
                } else if is_hub(a.from) {
                    acted && index(to) == Some(a.to)
                } else {
                    acted && from_ok(a.from) && index(to) == Some(a.to)
                }
            })
        })
    };

    let mut o = String::new();
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"flow-svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-labelledby=\"{id}-t\" aria-describedby=\"{id}-d\" font-family=\"sans-serif\" font-size=\"13\">",
        w = width.ceil(),
        h = height.ceil(),
    );
    let _ = write!(o, "<title id=\"{id}-t\">Flow diagram</title>");
    let mut desc = format!(
        "{}: {} states: {}.",
        def.title,
        n_states,
        def.states
            .iter()
            .map(|s| if s.is_final {
                format!("{} (final)", s.label)
            } else {
                s.label.clone()
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(t) = trace {
        let _ = write!(desc, " The case is now in {}.", def.state_label(&t.current));
        let mut seen: Vec<&str> = Vec::new();
        for (_, to, _) in &t.steps {
            let l = def.state_label(to);
            if seen.last() != Some(&l) {
                seen.push(l);
            }
        }
        if seen.len() > 1 {
            let _ = write!(desc, " It went: {}.", seen.join(" → "));
        }
    }
    let _ = write!(o, "<desc id=\"{id}-d\">{}</desc>", xml(&desc));
    let _ = write!(
        o,
        "<defs><marker id=\"{id}-a\" class=\"arrowhead\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\" fill=\"#6b7280\"/></marker>\
         <marker id=\"{id}-at\" class=\"arrowhead taken\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\" fill=\"#b45309\"/></marker></defs>"
    );
    // arrows under the nodes; those into a hub carry no head
    for (i, a) in arrows.iter().enumerate() {
        let took = taken(a);
        let class = format!(
            "arrow{}{}{}",
            if a.timer { " timer" } else { "" },
            if back[i] { " back" } else { "" },
            if took { " taken" } else { "" }
        );
        let (fx, fy, fw) = cell[a.from];
        let (tx, ty, tw) = cell[a.to];
        let d = if !back[i] {
            let (x1, y1) = (fx + fw, mid_y(a.from));
            let (x2, y2) = (tx - 1.0, mid_y(a.to));
            let dx = ((x2 - x1) / 2.0).max(16.0);
            format!(
                "M{x1:.1} {y1:.1}C{:.1} {y1:.1} {:.1} {y2:.1} {x2:.1} {y2:.1}",
                x1 + dx,
                x2 - dx
            )
        } else {
            // back: out of the top (or bottom) of the node, along the lane above (or below)
            // the drawing, into the top (or bottom) of the target, whichever side is nearer
            let above = fy + NODE_H / 2.0 < top0 + body_h / 2.0;
            let (y1, y2, lane_y) = if above {
                (fy, ty - 1.0, PAD + 4.0)
            } else {
                (fy + NODE_H, ty + NODE_H + 1.0, bottom + lane - 4.0)
            };
            let (x1, x2) = (fx + fw * 0.4, tx + tw * 0.6);
            format!("M{x1:.1} {y1:.1}C{x1:.1} {lane_y:.1} {x2:.1} {lane_y:.1} {x2:.1} {y2:.1}")
        };
        let head = if is_hub(a.to) {
            String::new()
        } else {
            format!(
                " marker-end=\"url(#{id}-a{})\"",
                if took { "t" } else { "" }
            )
        };
        let _ = write!(
            o,
            "<path class=\"{class}\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{}{head}><title>{}</title></path>",
            if took { "#b45309" } else { "#6b7280" },
            if took { "2.5" } else { "1.2" },
            if a.timer { " stroke-dasharray=\"5 4\"" } else { "" },
            xml(&a.labels.join("; "))
        );
    }
    for &v in &shown {
        let (x, y, _) = cell[v];
        let cy = y + NODE_H / 2.0;
        if v == 0 {
            let _ = write!(
                o,
                "<circle class=\"start\" cx=\"{:.1}\" cy=\"{cy:.1}\" r=\"{START_R}\" fill=\"#374151\"><title>where cases start</title></circle>",
                x + START_R,
            );
            continue;
        }
        if is_hub(v) {
            let (_, label) = &hubs[v - n_states - 1];
            let cx = x + START_R;
            let _ = write!(
                o,
                "<path class=\"hub\" d=\"M{cx:.1} {:.1}L{:.1} {cy:.1}L{cx:.1} {:.1}L{:.1} {cy:.1}z\" fill=\"#e5e7eb\" stroke=\"#6b7280\"><title>{}</title></path>",
                cy - START_R,
                cx + START_R,
                cy + START_R,
                cx - START_R,
                xml(&format!("{label}: one of several states"))
            );
            continue;
        }
        let s = &def.states[v - 1];
        let mut class = String::from("node");
        for (on, name) in [
            (s.is_final, " final"),
            (visited(v), " visited"),
            (current(v), " current"),
        ] {
            if on {
                class.push_str(name);
            }
        }
        let _ = write!(o, "<g class=\"{class}\"><title>{}</title>", xml(&s.label));
        let _ = write!(
            o,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"8\" fill=\"{}\" stroke=\"{}\" stroke-width=\"{}\"/>",
            if current(v) { "#fde68a" } else if visited(v) { "#fef3c7" } else { "#ffffff" },
            if current(v) { "#b45309" } else { "#6b7280" },
            if current(v) { "3" } else { "1.5" },
        );
        if s.is_final {
            let _ = write!(
                o,
                "<rect class=\"inner\" x=\"{:.1}\" y=\"{:.1}\" width=\"{}\" height=\"{}\" rx=\"6\" fill=\"none\" stroke=\"#6b7280\"/>",
                x + 3.0,
                y + 3.0,
                NODE_W - 6.0,
                NODE_H - 6.0
            );
        }
        // bold (the current state) is wider: shorter lines
        let lines = wrap(
            &s.label,
            if current(v) {
                LINE_CHARS - 3
            } else {
                LINE_CHARS
            },
        );
        let cx = x + NODE_W / 2.0;
        let first = cy - (lines.len() as f64 - 1.0) * 8.0 + 4.5;
        let _ = write!(
            o,
            "<text text-anchor=\"middle\" fill=\"#111827\"{}>",
            if current(v) {
                " font-weight=\"bold\""
            } else {
                ""
            }
        );
        for (i, line) in lines.iter().enumerate() {
            let _ = write!(
                o,
                "<tspan x=\"{cx:.1}\" y=\"{:.1}\">{}</tspan>",
                first + i as f64 * 16.0,
                xml(line)
            );
        }
        o.push_str("</text></g>");
    }
    o.push_str("</svg>");
    o
}

/// A label on at most two lines of about `width` characters (an ellipsis when longer).
fn wrap(label: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in label.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    if lines.len() > 2 {
        let rest = lines[1..].join(" ");
        lines.truncate(1);
        lines.push(rest);
    }
    for l in &mut lines {
        if l.chars().count() > width + 2 {
            *l = l.chars().take(width).collect::<String>() + "…";
        }
    }
    lines
}

/// Text for XML: `&`, `<`, `>`, `"` and `'` escaped.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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

    #[test]
    fn svg_draws_layers_marks_the_current_state_and_escapes() {
        let yaml = r#"
workflow: s
version: 1
title: "Tom & Jerry's <flow>"
roles: { m: {} }
states:
  a: { label: "Waiting for the mentor to answer the request" }
  b: { label: B }
  c: { label: C, final: true, timers: [] }
actions:
  go: { to: a, by: m, label: Start it }
  next: { from: a, to: b, by: m, label: "Next <one>" }
  back: { from: b, to: a, by: m }
  stay: { from: a, by: m }
  done: { from: b, to: c, by: m }
"#;
        let d =
            crate::definition::load_str(yaml, "s.yaml", &Scripts::new(Limits::default())).unwrap();
        let plain = svg(&d, None, "g1");
        assert!(
            plain.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"flow-svg\""),
            "{plain}"
        );
        assert!(
            plain.contains("role=\"img\" aria-labelledby=\"g1-t\" aria-describedby=\"g1-d\""),
            "{plain}"
        );
        assert!(
            plain.contains("<title id=\"g1-t\">Flow diagram</title>"),
            "{plain}"
        );
        assert!(plain.contains("<desc id=\"g1-d\">Tom &amp; Jerry&#39;s &lt;flow&gt;: 3 states: Waiting for the mentor to answer the request, B, C (final).</desc>"), "{plain}");
        assert!(!plain.contains("current"), "{plain}");
        assert!(!plain.contains("style="), "no inline style: {plain}");
        assert!(plain.contains("<title>Next &lt;one&gt;</title>"), "{plain}");
        // a stay action draws no arrow; start → a, a → b, b → a (back, below), b → c
        assert_eq!(plain.matches("<path class=\"arrow").count(), 4, "{plain}");
        // layers: the start circle, then a, b, c left to right
        let x_of = |label: &str| -> f64 {
            let at = plain
                .find(&format!("<title>{label}</title><rect x=\""))
                .unwrap();
            let rest = &plain[at..];
            let start = rest.find("x=\"").unwrap() + 3;
            rest[start..start + rest[start..].find('"').unwrap()]
                .parse()
                .unwrap()
        };
        let (a, b, c) = (
            x_of("Waiting for the mentor to answer the request"),
            x_of("B"),
            x_of("C"),
        );
        assert!(a < b && b < c, "{a} {b} {c}");
        // a long label wraps onto two lines
        assert!(plain.contains(">Waiting for the</tspan><tspan"), "{plain}");
        assert_eq!(
            plain.matches("class=\"inner\"").count(),
            1,
            "one final state: {plain}"
        );

        let trace = Trace {
            current: "b".into(),
            visited: ["a".to_owned(), "b".to_owned()].into_iter().collect(),
            steps: vec![
                (None, "a".into(), "go".into()),
                (Some("a".into()), "b".into(), "next".into()),
            ],
        };
        let marked = svg(&d, Some(&trace), "case 7");
        assert!(
            marked.contains("aria-labelledby=\"case_7-t\" aria-describedby=\"case_7-d\""),
            "{marked}"
        );
        assert!(
            marked.contains("<g class=\"node visited current\"><title>B</title>"),
            "{marked}"
        );
        assert!(
            marked.contains("<g class=\"node visited\"><title>Waiting"),
            "{marked}"
        );
        assert!(
            marked.contains("<g class=\"node final\"><title>C</title>"),
            "{marked}"
        );
        assert_eq!(
            marked.matches("class=\"arrow taken\"").count(),
            2,
            "{marked}"
        );
        assert!(
            marked.contains(
                "The case is now in B. It went: Waiting for the mentor to answer the request → B."
            ),
            "{marked}"
        );
        // b → a closes a cycle: drawn back, through a lane
        assert_eq!(
            marked.matches("class=\"arrow back\"").count(),
            1,
            "{marked}"
        );
        assert_eq!(
            render(&d, Format::Svg, Some(&trace)),
            svg(&d, Some(&trace), "flow")
        );
        assert_eq!("svg".parse::<Format>(), Ok(Format::Svg));
    }
}
