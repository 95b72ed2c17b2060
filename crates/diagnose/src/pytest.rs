//! The pytest test that was running, from `PYTEST_CURRENT_TEST`.

use crate::model::TestRef;

/// Parses `<nodeid> (<when>)`. Node ids can hold spaces and parentheses inside their
/// `[params]`, so the split is on the *last* ` (`; a value without the suffix is taken
/// whole as the node id.
pub fn parse_current_test(raw: &str) -> Option<TestRef> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let parsed = raw
        .strip_suffix(')')
        .and_then(|rest| rest.rsplit_once(" ("))
        .filter(|(nodeid, when)| !nodeid.is_empty() && !when.is_empty() && !when.contains(['(', ')', ' ']));
    Some(match parsed {
        Some((nodeid, when)) => TestRef { nodeid: nodeid.to_string(), when: Some(when.to_string()) },
        None => TestRef { nodeid: raw.to_string(), when: None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> (String, Option<String>) {
        let t = parse_current_test(raw).expect("a test");
        (t.nodeid, t.when)
    }

    #[test]
    fn plain_node_ids() {
        assert_eq!(
            parse("tests/test_bbox.py::test_bbox_of_empty_polygon (call)"),
            ("tests/test_bbox.py::test_bbox_of_empty_polygon".into(), Some("call".into()))
        );
        assert_eq!(parse("t.py::TestA::test_b (setup)").1.as_deref(), Some("setup"));
        assert_eq!(parse("t.py::test_b (teardown)").1.as_deref(), Some("teardown"));
    }

    #[test]
    fn parameters_with_spaces_and_parentheses() {
        assert_eq!(
            parse("tests/test_p.py::test_fmt[a (b) c-x y] (call)"),
            ("tests/test_p.py::test_fmt[a (b) c-x y]".into(), Some("call".into()))
        );
        assert_eq!(
            parse("tests/test_p.py::test_fmt[f(x) (y)] (teardown)"),
            ("tests/test_p.py::test_fmt[f(x) (y)]".into(), Some("teardown".into()))
        );
    }

    #[test]
    fn odd_values() {
        assert_eq!(parse_current_test("   "), None);
        assert_eq!(parse("tests/t.py::test_x"), ("tests/t.py::test_x".into(), None));
        assert_eq!(parse("tests/t.py::test_x[(a)]"), ("tests/t.py::test_x[(a)]".into(), None));
    }
}
