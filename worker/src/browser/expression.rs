//! Reading a check's JavaScript just enough to explain a failure: when
//! `document.title === 'Sales Summary'` is false, the useful detail is what
//! `document.title` was.

/// The left side of a check that is one top-level comparison (`===`, `!==`,
/// `==`, `!=`, `<`, `<=`, `>`, `>=`), or `None` when the expression is
/// anything else (`a && b`, a call, a ternary): then no side is singled out.
///
/// A small scanner, not a parser: it skips strings, template literals and
/// brackets, and gives up on anything it does not follow.
pub fn comparison_left(expression: &str) -> Option<&str> {
    let bytes = expression.as_bytes();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut found: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            match c {
                b'\\' => i += 1,
                _ if c == q => quote = None,
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'\'' | b'"' | b'`' => quote = Some(c),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            _ if depth == 0 && expression.is_char_boundary(i) => {
                let rest = &expression[i..];
                // Lower-precedence operators make "the left side" ambiguous.
                if ["&&", "||", "??", "?", ",", ";"]
                    .iter()
                    .any(|op| rest.starts_with(op))
                {
                    return None;
                }
                // Operators are read whole: `>>` and `=>` are not `>`.
                let run = rest
                    .bytes()
                    .take_while(|b| matches!(b, b'<' | b'>' | b'=' | b'!'))
                    .count();
                if run > 0 {
                    // A function: its body is not the check's left side.
                    if &rest[..run] == "=>" {
                        return None;
                    }
                    if found.is_none() && is_comparison(&rest[..run]) {
                        found = Some(i);
                    }
                    i += run;
                    continue;
                }
            }
            _ => {}
        }
        if depth < 0 {
            return None;
        }
        i += 1;
    }
    let left = expression[..found?].trim();
    (!left.is_empty() && quote.is_none() && depth == 0).then_some(left)
}

fn is_comparison(operator: &str) -> bool {
    matches!(
        operator,
        "===" | "!==" | "==" | "!=" | "<" | "<=" | ">" | ">="
    )
}

/// A JavaScript value, as a failure detail shows it: strings quoted and
/// shortened, everything else as JSON.
pub fn describe(value: Option<&serde_json::Value>) -> String {
    match value {
        None => "undefined".to_owned(),
        Some(serde_json::Value::String(s)) => format!("'{}'", crate::text::shorten(s, 120)),
        Some(other) => crate::text::shorten(&other.to_string(), 120),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_left_side_of_a_single_comparison_is_found() {
        for (expression, left) in [
            ("document.title === 'Sales Summary 4c2d9'", "document.title"),
            (
                "Math.abs(parseFloat(document.querySelector('#total-sales').textContent) - 1234.5) < 0.01",
                "Math.abs(parseFloat(document.querySelector('#total-sales').textContent) - 1234.5)",
            ),
            (
                "document.querySelectorAll('li').length >= 3",
                "document.querySelectorAll('li').length",
            ),
            ("x != 'a === b'", "x"),
            ("`${a} === b` == c", "`${a} === b`"),
            ("document.title !== 'Café ☕' === false", "document.title"),
        ] {
            assert_eq!(comparison_left(expression), Some(left), "{expression}");
        }
    }

    #[test]
    fn anything_but_one_comparison_has_no_left_side() {
        for expression in [
            "!!document.querySelector(\"link[href*='bootstrap']\")",
            "a === 1 && b === 2",
            "a ? b === 1 : c",
            "(() => 1 === 1)()",
            "[1, 2].includes(x)",
            "a >> 2",
            "'unclosed === string",
            "=== 3",
            "a) === (b",
            "ä",
            "x => x > 1",
        ] {
            assert_eq!(comparison_left(expression), None, "{expression}");
        }
    }

    #[test]
    fn values_read_as_javascript() {
        assert_eq!(describe(Some(&json!("Tide Tally"))), "'Tide Tally'");
        assert_eq!(describe(Some(&json!(1234.5))), "1234.5");
        assert_eq!(describe(Some(&json!(null))), "null");
        assert_eq!(describe(None), "undefined");
        assert_eq!(describe(Some(&json!({"a": [1]}))), "{\"a\":[1]}");
        let long = "x".repeat(500);
        assert!(describe(Some(&json!(long))).chars().count() < 130);
    }
}
