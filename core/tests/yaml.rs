//! Integration tests for `mentorflow::yaml`.

use mentorflow::yaml::*;
use serde_json::json;

fn p(line: usize, column: usize) -> Pos {
    Pos { line, column }
}

fn ok(text: &str) -> (serde_json::Value, Spans) {
    match parse(text) {
        Ok(v) => v,
        Err(e) => panic!("unexpected error for {text:?}: {e}"),
    }
}

fn err(text: &str) -> YamlError {
    match parse(text) {
        Ok((v, _)) => panic!("expected an error for {text:?}, got {v}"),
        Err(e) => e,
    }
}

#[test]
fn block_mapping_positions() {
    let text = "\
name: review
actions:
  accept:
    to: approved
    guard: x > 1
  reject:
    to: rejected
";
    let (v, s) = ok(text);
    assert_eq!(v["actions"]["accept"]["to"], json!("approved"));
    assert_eq!(s.get(""), Some(p(1, 1)));
    assert_eq!(s.get("name"), Some(p(1, 7)));
    assert_eq!(s.key("name"), Some(p(1, 1)));
    assert_eq!(s.key("actions"), Some(p(2, 1)));
    assert_eq!(s.get("actions"), Some(p(3, 3)));
    assert_eq!(s.key("actions.accept"), Some(p(3, 3)));
    assert_eq!(s.get("actions.accept"), Some(p(4, 5)));
    assert_eq!(s.key("actions.accept.to"), Some(p(4, 5)));
    assert_eq!(s.get("actions.accept.to"), Some(p(4, 9)));
    assert_eq!(s.get("actions.accept.guard"), Some(p(5, 12)));
    assert_eq!(s.get("actions.reject.to"), Some(p(7, 9)));
    assert_eq!(s.get("actions.nope"), None);
    assert_eq!(s.key(""), None);
}

#[test]
fn flow_positions() {
    let text = "a: {b: 1, c: [x, {d: \"q\"}]}\ne: [ ]\n";
    let (v, s) = ok(text);
    assert_eq!(v, json!({"a": {"b": 1, "c": ["x", {"d": "q"}]}, "e": []}));
    assert_eq!(s.get("a"), Some(p(1, 4)));
    assert_eq!(s.key("a.b"), Some(p(1, 5)));
    assert_eq!(s.get("a.b"), Some(p(1, 8)));
    assert_eq!(s.get("a.c"), Some(p(1, 14)));
    assert_eq!(s.get("a.c[0]"), Some(p(1, 15)));
    assert_eq!(s.get("a.c[1]"), Some(p(1, 18)));
    assert_eq!(s.key("a.c[1].d"), Some(p(1, 19)));
    // Quoted scalars are positioned at their opening quote.
    assert_eq!(s.get("a.c[1].d"), Some(p(1, 22)));
    assert_eq!(s.get("e"), Some(p(2, 4)));
}

#[test]
fn sequence_positions() {
    let text = "\
states:
  pending:
    timers:
      - after: 1d
        to: late
      - after: 2d
steps:
- one
-
- - nested
  - two
";
    let (v, s) = ok(text);
    assert_eq!(v["steps"], json!(["one", null, ["nested", "two"]]));
    assert_eq!(s.get("states.pending.timers"), Some(p(4, 7)));
    assert_eq!(s.get("states.pending.timers[0]"), Some(p(4, 9)));
    assert_eq!(s.get("states.pending.timers[0].after"), Some(p(4, 16)));
    assert_eq!(s.key("states.pending.timers[0].to"), Some(p(5, 9)));
    assert_eq!(s.get("states.pending.timers[1].after"), Some(p(6, 16)));
    assert_eq!(s.key("states.pending.timers[1]"), None);
    // An indentless sequence is positioned at its first `-`.
    assert_eq!(s.get("steps"), Some(p(8, 1)));
    assert_eq!(s.get("steps[0]"), Some(p(8, 3)));
    // An empty item is positioned at its `-`.
    assert_eq!(s.get("steps[1]"), Some(p(9, 1)));
    assert_eq!(s.get("steps[2]"), Some(p(10, 3)));
    assert_eq!(s.get("steps[2][1]"), Some(p(11, 5)));
}

#[test]
fn block_scalar_script_pos() {
    let text = "\
actions:
  compute:
    run: |
      let a = 1;
      let b = 2;
      if a { oops
      }
    to: done
";
    let (v, s) = ok(text);
    assert_eq!(
        v["actions"]["compute"]["run"],
        json!("let a = 1;\nlet b = 2;\nif a { oops\n}\n")
    );
    // The value itself is at the `|`.
    assert_eq!(s.get("actions.compute.run"), Some(p(3, 10)));
    // Script line 3, column 5 (`a`) is file line 6, column 6 + 5.
    assert_eq!(s.script_pos("actions.compute.run", 3, 5), p(6, 11));
    assert_eq!(s.script_pos("actions.compute.run", 1, 1), p(4, 7));
    assert_eq!(s.script_pos("actions.compute.run", 4, 1), p(7, 7));
    // Unknown line: the value position.
    assert_eq!(s.script_pos("actions.compute.run", 0, 0), p(3, 10));
    // Not a script: nearest().
    assert_eq!(s.script_pos("actions.compute.to", 1, 1), p(8, 9));
    assert_eq!(s.script_pos("actions.nothing", 2, 2), p(2, 3));
}

#[test]
fn block_scalar_variants() {
    let text = "\
- |

  second line
    indented
- >-
  folded
  text
- |2
    two extra
- &s |
  aliased
- *s
";
    let (v, s) = ok(text);
    assert_eq!(v[0], json!("\nsecond line\n  indented\n"));
    assert_eq!(v[1], json!("folded text"));
    assert_eq!(v[2], json!("  two extra\n"));
    assert_eq!(v[4], json!("aliased\n"));
    assert_eq!(s.get("[0]"), Some(p(1, 3)));
    // The leading empty line is script line 1.
    assert_eq!(s.script_pos("[0]", 2, 1), p(3, 3));
    assert_eq!(s.script_pos("[0]", 3, 3), p(4, 5));
    assert_eq!(s.get("[1]"), Some(p(5, 3)));
    assert_eq!(s.script_pos("[1]", 1, 2), p(6, 4));
    // Explicit indentation indicator: indentation 2, content keeps 2 spaces.
    assert_eq!(s.get("[2]"), Some(p(8, 3)));
    assert_eq!(s.script_pos("[2]", 1, 3), p(9, 5));
    // The alias is at the `*`, but its script text lives at the anchor.
    assert_eq!(s.get("[4]"), Some(p(12, 3)));
    assert_eq!(s.script_pos("[4]", 1, 1), p(11, 3));
}

#[test]
fn empty_block_scalars() {
    let (v, s) = ok("a: |\nb: >\n\n# c\nc: |");
    assert_eq!(v, json!({"a": "", "b": "", "c": ""}));
    assert_eq!(s.get("a"), Some(p(1, 4)));
    assert_eq!(s.get("b"), Some(p(2, 4)));
    assert_eq!(s.get("c"), Some(p(5, 4)));
}

#[test]
fn inline_script_pos() {
    let text = "guard: a == 1 && b\nq: 'x + y'\ndq: \"z\"\n";
    let (_, s) = ok(text);
    assert_eq!(s.script_pos("guard", 1, 1), p(1, 8));
    assert_eq!(s.script_pos("guard", 1, 6), p(1, 13));
    // Quoted: the column counts from the first content character.
    assert_eq!(s.get("q"), Some(p(2, 4)));
    assert_eq!(s.script_pos("q", 1, 3), p(2, 7));
    assert_eq!(s.script_pos("dq", 1, 1), p(3, 6));
    // Other lines are unknown for inline scalars: the value position.
    assert_eq!(s.script_pos("guard", 2, 1), p(1, 8));
}

#[test]
fn scalar_typing() {
    let text = "\
i: 42
neg: -7
plus: +3
hex: 0x1F
oct: 0o17
f: 1.5
e: 1e3
dot: .5
t: true
T: True
F: FALSE
n1: null
n2: ~
n3:
n4: NULL
on: on
yes: yes
no: No
s: hello world
qt: \"true\"
qn: '12'
qnull: 'null'
ver: 1.2.3
blk: |
  42
";
    let (v, _) = ok(text);
    let expected = json!({
        "i": 42, "neg": -7, "plus": 3, "hex": 31, "oct": 15,
        "f": 1.5, "e": 1000.0, "dot": 0.5,
        "t": true, "T": true, "F": false,
        "n1": null, "n2": null, "n3": null, "n4": null,
        "on": "on", "yes": "yes", "no": "No", "s": "hello world",
        "qt": "true", "qn": "12", "qnull": "null", "ver": "1.2.3", "blk": "42\n"
    });
    assert_eq!(v, expected);
    assert!(v["i"].is_i64());
    assert!(v["e"].is_f64());
}

#[test]
fn big_integers() {
    let (v, _) = ok("a: 9223372036854775807\nb: 18446744073709551615\nc: 123456789012345678901234567890\nd: -9223372036854775809");
    assert_eq!(v["a"].as_i64(), Some(i64::MAX));
    assert_eq!(v["b"].as_u64(), Some(u64::MAX));
    assert!(v["c"].as_f64().is_some_and(|f| f > 1.2e29));
    assert!(v["d"].is_f64());
}

#[test]
fn non_finite_numbers_rejected() {
    for (text, pos) in [
        ("x: .inf", p(1, 4)),
        ("x:\n  - -.Inf", p(2, 5)),
        ("x: .nan", p(1, 4)),
        ("x: 1e999", p(1, 4)),
        ("x: !!float .NaN", p(1, 12)),
    ] {
        let e = err(text);
        assert!(e.message.contains("not a finite number"), "{e}");
        assert_eq!(e.pos, pos, "{text}");
    }
    // Quoted, they are strings.
    assert_eq!(ok("x: '.inf'").0, json!({"x": ".inf"}));
}

#[test]
fn tags() {
    let text = "\
a: !!str 12
b: !!int '12'
c: !!float 3
d: !!bool 'true'
e: !!null ''
f: ! 12
g: !!map {x: 1}
h: !!seq [1]
i: !!str
";
    let (v, _) = ok(text);
    assert_eq!(
        v,
        json!({"a": "12", "b": 12, "c": 3.0, "d": true, "e": null, "f": "12",
               "g": {"x": 1}, "h": [1], "i": ""})
    );
    let e = err("a: 1\nb: !custom x");
    assert_eq!(e.pos, p(2, 4));
    assert!(e.message.contains("`!custom`"), "{e}");
    let e = err("a: !!timestamp 2001-12-14");
    assert!(e.message.contains("`!!timestamp`"), "{e}");
    let e = err("a: !!int twelve");
    assert!(e.message.contains("!!int"), "{e}");
    assert_eq!(e.path.as_deref(), Some("a"));
    let e = err("a: !!seq {x: 1}");
    assert!(e.message.contains("cannot be applied"), "{e}");
}

#[test]
fn keys_become_strings() {
    let (v, s) = ok("1: one\ntrue: yes\n0x10: hex\n~: n\n'q': x\n");
    assert_eq!(
        v,
        json!({"1": "one", "true": "yes", "0x10": "hex", "~": "n", "q": "x"})
    );
    assert_eq!(s.key("0x10"), Some(p(3, 1)));
    let e = err("a: 1\n[x]: 2");
    assert_eq!(e.pos, p(2, 1));
    let e = err("? {a: 1}\n: 2");
    assert!(e.message.contains("mapping key"), "{e}");
}

#[test]
fn duplicate_key_error() {
    let text = "\
actions:
  accept:
    to: a
  reject:
    to: b
  accept:
    to: c
";
    let e = err(text);
    assert_eq!(e.pos, p(6, 3));
    assert_eq!(e.message, "duplicate key `accept` (first at line 2)");
    assert_eq!(e.path.as_deref(), Some("actions.accept"));
    assert_eq!(
        e.to_string(),
        "6:3: duplicate key `accept` (first at line 2)"
    );
    // Same key in different mappings is fine; flow duplicates are caught.
    assert!(parse("a: {x: 1}\nb: {x: 2}").is_ok());
    assert_eq!(err("{x: 1, y: 2, x: 3}").pos, p(1, 14));
}

#[test]
fn syntax_error_positions() {
    // Bad indentation on line 4.
    let text = "states:\n  a:\n    on: x\n   b: y\n";
    let e = err(text);
    assert_eq!(e.pos.line, 4, "{e}");
    assert_eq!(e.pos, p(4, 5), "{e}");
    assert_eq!(e.path, None);
    // Columns are 1-based: the `}` is the 9th character.
    let e = err("a: [1, 2}");
    assert_eq!(e.pos, p(1, 9), "{e}");
    let e = err("x: 1\ny: b: c");
    assert_eq!(e.pos, p(2, 5), "{e}");
    // An error at the end of input points just after the last character.
    let e = err("a: [1,");
    assert_eq!(e.pos, p(1, 7), "{e}");
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Timer {
    after: u32,
    to: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Def {
    name: String,
    timers: Vec<Timer>,
}

#[test]
fn from_str_type_errors() {
    let text = "name: x\ntimers:\n  - after: 5\n    to: a\n  - after: soon\n    to: b\n";
    let e = from_str::<Def>(text).expect_err("type error");
    assert_eq!(e.path.as_deref(), Some("timers[1].after"));
    assert_eq!(e.pos, p(5, 12));
    assert!(
        e.message.starts_with("`timers[1].after`: invalid type"),
        "{e}"
    );

    let e = from_str::<Def>("name: x\ntimers:\n  - after: 5\n").expect_err("missing");
    assert_eq!(e.path.as_deref(), Some("timers[0]"));
    assert!(e.message.contains("missing field `to`"), "{e}");
    assert_eq!(e.pos, p(3, 5));

    let e = from_str::<Def>("name: x\ntimers: []\ncolour: red\n").expect_err("unknown");
    assert!(e.message.contains("unknown field `colour`"), "{e}");
    assert_eq!(e.pos, p(3, 1));

    let e = from_str::<Def>("timers: []\n").expect_err("missing at root");
    assert_eq!(e.pos, p(1, 1));
    assert_eq!(e.path.as_deref(), Some(""));

    let (def, spans) = from_str::<Def>("name: x\ntimers:\n- after: 1\n  to: y\n").expect("valid");
    assert_eq!(def.timers.len(), 1);
    assert_eq!(spans.get("timers[0].to"), Some(p(4, 7)));
}

#[test]
fn from_value_after_inspection() {
    let (mut value, spans) = ok("name: 7\ntimers: []\n");
    assert!(value["name"].is_number());
    if let Some(obj) = value.as_object_mut() {
        obj.remove("timers");
        obj.insert("timers".into(), json!([]));
    }
    let e = from_value::<Def>(value, &spans).expect_err("name is a number");
    assert_eq!(e.path.as_deref(), Some("name"));
    assert_eq!(e.pos, p(1, 7));
}

#[test]
fn multiple_documents_rejected() {
    let e = err("a: 1\n---\nb: 2\n");
    assert_eq!(e.pos, p(2, 1));
    assert!(e.message.contains("expected one YAML document"), "{e}");
    let e = err("--- a\n... \nb\n");
    assert_eq!(e.pos, p(3, 1));
    // One explicit document is fine.
    assert_eq!(ok("---\na: 1\n...\n").0, json!({"a": 1}));
}

#[test]
fn aliases() {
    let text = "\
base: &base
  to: done
  n: 1
copy: *base
list: [&x 5, *x]
key: &k name
*k : 7
";
    let (v, s) = ok(text);
    assert_eq!(v["copy"], json!({"to": "done", "n": 1}));
    assert_eq!(v["list"], json!([5, 5]));
    assert_eq!(v["name"], json!(7));
    assert_eq!(s.get("copy"), Some(p(4, 7)));
    // Children of an alias point at the anchored node.
    assert_eq!(s.get("copy.to"), Some(p(2, 7)));
    assert_eq!(s.key("copy.n"), Some(p(3, 3)));
    assert_eq!(s.children("copy"), vec!["copy.to", "copy.n"]);
    assert_eq!(s.get("list[1]"), Some(p(5, 14)));
    assert_eq!(s.key("name"), Some(p(7, 1)));

    let e = err("a: 1\nb: *missing\n");
    assert_eq!(e.pos, p(2, 4));
    assert!(e.message.contains("`*missing`"), "{e}");
    let e = err("a: &r\n  b: *r\n");
    assert!(e.message.contains("`*r`"), "{e}");
    assert_eq!(e.pos, p(2, 6));
    let e = err("a: &s [1]\n*s : 2\n");
    assert!(e.message.contains("scalar"), "{e}");
}

#[test]
fn alias_bomb_rejected() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        let items = [prev.as_str(); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    let start = std::time::Instant::now();
    let e = err(&text);
    assert!(e.message.contains("too large"), "{e}");
    assert!(start.elapsed().as_secs() < 20);

    // Few nodes but long strings.
    let long = "x".repeat(100_000);
    let mut text = format!("s: &s {long}\n");
    text.push_str("l1: &l1 [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s]\n");
    text.push_str("l2: &l2 [*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1]\n");
    text.push_str("l3: &l3 [*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2]\n");
    text.push_str("l4: &l4 [*l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3]\n");
    let e = err(&text);
    assert!(e.message.contains("too large"), "{e}");
    assert!(e.pos.line >= 3, "{e}");
}

#[test]
fn deep_nesting_rejected() {
    let flow = "[".repeat(10_000);
    let e = err(&flow);
    assert_eq!(e.pos.line, 1);
    let flow = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(parse(&flow).is_err());
    let maps = "{a: ".repeat(10_000);
    assert!(parse(&maps).is_err());
    let block = "- ".repeat(10_000) + "x";
    let e = err(&block);
    assert!(e.message.contains("nesting too deep"), "{e}");
    let mut indented = String::new();
    for i in 0..5_000 {
        indented.push_str(&" ".repeat(i));
        indented.push_str("k:\n");
    }
    assert!(err(&indented).message.contains("nesting too deep"));
    // Reasonable nesting is fine.
    let ok_flow = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    assert!(parse(&ok_flow).is_ok());
}

#[test]
fn empty_documents() {
    for text in ["", "   \n\n", "# only a comment\n", "---\n", "---\n...\n"] {
        let (v, s) = ok(text);
        assert_eq!(v, serde_json::Value::Null, "{text:?}");
        assert_eq!(s.nearest(""), p(1, 1));
        assert_eq!(s.nearest("a.b[2]"), p(1, 1));
    }
}

#[test]
fn unicode_columns_count_characters() {
    let text = "名前: 値\nemoji: \"😀 x\"\nk: [ä, ö]\n";
    let (v, s) = ok(text);
    assert_eq!(v["名前"], json!("値"));
    assert_eq!(s.get("名前"), Some(p(1, 5)));
    assert_eq!(s.script_pos("emoji", 1, 3), p(2, 11));
    assert_eq!(s.get("k[1]"), Some(p(3, 8)));
    // A leading byte order mark does not count.
    let (_, s) = ok("\u{feff}a: b");
    assert_eq!(s.get("a"), Some(p(1, 4)));
    // Errors after multibyte characters too.
    let e = err("ä: [ö, ü}");
    assert_eq!(e.pos, p(1, 9));
}

#[test]
fn crlf_line_endings() {
    let text = "a: 1\r\nb:\r\n  c: x\r\n  run: |\r\n    one\r\n    two three\r\n";
    let (v, s) = ok(text);
    assert_eq!(
        v,
        json!({"a": 1, "b": {"c": "x", "run": "one\ntwo three\n"}})
    );
    assert_eq!(s.get("b.c"), Some(p(3, 6)));
    assert_eq!(s.get("b.run"), Some(p(4, 8)));
    assert_eq!(s.script_pos("b.run", 2, 5), p(6, 9));
    let e = err("a: 1\r\na: 2\r\n");
    assert_eq!(e.pos, p(2, 1));
}

#[test]
fn children_in_source_order() {
    let (_, s) = ok("z: 1\na:\n  y: [1, 2]\n  b: 2\nm: 3\n");
    assert_eq!(s.children(""), vec!["z", "a", "m"]);
    assert_eq!(s.children("a"), vec!["a.y", "a.b"]);
    assert_eq!(s.children("a.y"), vec!["a.y[0]", "a.y[1]"]);
    assert!(s.children("z").is_empty());
    assert!(s.children("nope").is_empty());
    assert!(s.contains("a.y[1]"));
    assert!(!s.contains("a.y[2]"));
}

#[test]
fn nearest_fallbacks() {
    let (_, s) = ok("a:\n  b:\n  c: [1]\n");
    // `a.b` is an empty value: positioned at its key.
    assert_eq!(s.get("a.b"), Some(p(2, 3)));
    assert_eq!(s.nearest("a.b"), p(2, 3));
    assert_eq!(s.nearest("a.b.missing.deeper"), p(2, 3));
    assert_eq!(s.nearest("a.c[5]"), p(3, 6));
    assert_eq!(s.nearest("zzz"), p(1, 1));
}

#[test]
fn path_helpers_match_spans() {
    let (_, s) = ok("a:\n  - b: 1\n");
    let path = child_path(&index_path(&child_path("", "a"), 0), "b");
    assert_eq!(path, "a[0].b");
    assert_eq!(s.get(&path), Some(p(2, 8)));
}

#[test]
fn error_display_and_nul() {
    let e = YamlError::new("boom", p(3, 4));
    assert_eq!(e.to_string(), "3:4: boom");
    let e = err("a: 1\nb: x\0y\n");
    assert_eq!(e.pos, p(2, 5));
    assert!(e.message.contains("NUL"));
}

#[test]
fn never_panics_on_garbage() {
    let pieces = [
        "a",
        ":",
        " ",
        "\n",
        "-",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&x",
        "*x",
        "!!str",
        "!t",
        "|",
        ">",
        "'",
        "\"",
        "#",
        "?",
        "---",
        "...",
        "\t",
        "  ",
        "é",
        "\r",
        "\r\n",
        "%YAML 1.2",
        "0x",
        ".inf",
        "~",
        "\\",
        "@",
        "`",
        "|-",
        ">+2",
        "&",
        "*",
        "!",
        "!<x>",
        "!!",
        "%TAG ! !x",
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        let mut text = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 24) as usize;
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        if let Ok((_, spans)) = parse(&text) {
            let _ = spans.nearest("a.b[0]");
            let _ = spans.script_pos("", 3, 4);
        }
    }
}

#[test]
fn tag_errors_point_at_the_tag() {
    assert_eq!(err("a: !!str\n  x: 1\n").pos, p(1, 4));
    assert_eq!(err("a: !!binary |\n  AAAA\n").pos, p(1, 4));
    assert_eq!(err("- !<tag:example.com,2000:x> 1").pos, p(1, 3));
    assert_eq!(err("a: !!int [1]").pos, p(1, 4));
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum Guard {
    Expr(String),
    All(Vec<Guard>),
    Never,
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct WithGuard {
    guard: Guard,
}

#[test]
fn from_str_enum_paths() {
    let e = from_str::<WithGuard>("guard:\n  all:\n    - expr: x\n    - expr: [1]\n")
        .expect_err("bad expr");
    assert_eq!(e.path.as_deref(), Some("guard.all[1].expr"));
    assert_eq!(e.pos, p(4, 13));
    let e = from_str::<WithGuard>("guard: sometimes").expect_err("unit");
    assert_eq!(e.pos, p(1, 8));
    assert!(e.message.contains("unknown variant `sometimes`"), "{e}");
    let e = from_str::<WithGuard>("guard:\n  bogus: 1\n").expect_err("key");
    assert_eq!(e.pos, p(2, 3));
}
