//! "Did you mean …?" — the one place that decides whether an unknown name is a likely typo of
//! a known one, for every "not found" and "unknown" message (definitions, scenarios, the
//! bindings). Distances come from the `strsim` crate.

/// Edits (insertions, deletions, substitutions, transpositions) between two names.
pub fn edits(a: &str, b: &str) -> usize {
    strsim::damerau_levenshtein(a, b)
}

/// Whether `name` is probably a misspelling of `known`: at most two edits apart when both
/// are longer than two characters, a different case only, or a long-enough prefix of it.
pub fn is_close(name: &str, known: &str) -> bool {
    if name == known {
        return false;
    }
    let shortest = name.chars().count().min(known.chars().count());
    (shortest > 2 && edits(name, known) <= 2)
        || name.eq_ignore_ascii_case(known)
        || (name.chars().count() > 3 && known.starts_with(name))
}

/// The known name closest to `name`, if one is close (see [`is_close`]); ties go to the
/// first in `known`'s order.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .filter(|k| is_close(name, k))
        .min_by_key(|k| edits(name, k))
}

/// `"; did you mean `x`?"` for the closest known name, or nothing.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match closest(name, known) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_close_and_strangers_are_not() {
        assert!(is_close("submited", "submitted"));
        assert!(is_close("stauts", "status"));
        assert!(is_close("Roles", "roles"));
        assert!(is_close("assign", "assigned_pending"));
        assert!(!is_close("a", "b"));
        assert!(!is_close("approved", "pending"));
        assert!(!is_close("same", "same"));
    }

    #[test]
    fn the_closest_wins() {
        let known = ["pending", "pendng_review", "approved"];
        assert_eq!(closest("pendin", known), Some("pending"));
        assert_eq!(did_you_mean("aproved", known), "; did you mean `approved`?");
        assert_eq!(did_you_mean("zzz", known), "");
    }
}
