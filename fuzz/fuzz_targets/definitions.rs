//! Any text given to the loader and validator is a definition or a list of problems, never a
//! panic. The same check runs on stable in `core/tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mentorflow::definition::load_str;
use mentorflow::script::Scripts;
use mentorflow::Limits;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let scripts = Scripts::new(Limits::default());
    match load_str(text, "fuzz.yaml", &scripts) {
        Ok(def) => {
            // a definition that loads also renders as a diagram
            let _ = mentorflow::graph::render(&def, mentorflow::graph::Format::Mermaid, None);
        }
        Err(mentorflow::Error::Definition { problems }) => assert!(!problems.is_empty()),
        Err(other) => panic!("not a definition error: {other}"),
    }
});
