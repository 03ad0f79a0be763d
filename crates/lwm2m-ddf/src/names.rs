//! Rust identifiers derived from DDF names, and text escaping for generated code.

/// Words that cannot be identifiers (strict and reserved keywords of edition 2024).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod",
    "move", "mut", "override", "priv", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
    "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Splits a DDF name into ASCII alphanumeric words (anything else separates words).
fn words(name: &str) -> Vec<&str> {
    name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect()
}

/// `snake_case`: `"Bootstrap-Server Account Timeout"` becomes
/// `bootstrap_server_account_timeout`; keywords get a trailing `_`, a leading digit an
/// `r_` prefix, and a name with no usable character becomes `fallback`.
pub(crate) fn snake(name: &str, fallback: &str) -> String {
    let joined = words(name).iter().map(|w| w.to_ascii_lowercase()).collect::<Vec<_>>().join("_");
    fix(joined, fallback, "r_")
}

/// `SCREAMING_SNAKE_CASE`, with the rules of [`snake`].
pub(crate) fn screaming(name: &str, fallback: &str) -> String {
    snake(name, fallback).trim_end_matches('_').to_ascii_uppercase()
}

/// `CamelCase`: words are capitalised; all-uppercase words (acronyms such as `SMS`) are
/// lowered after their first letter, so `"SMS Security Mode"` becomes `SmsSecurityMode`.
pub(crate) fn camel(name: &str, fallback: &str) -> String {
    let mut out = String::new();
    for w in words(name) {
        let all_upper = w.chars().all(|c| !c.is_ascii_lowercase());
        for (i, c) in w.chars().enumerate() {
            if i == 0 {
                out.push(c.to_ascii_uppercase());
            } else if all_upper {
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
    }
    if out == "Self" {
        out.push('_');
    }
    fix(out, fallback, "R")
}

fn fix(mut ident: String, fallback: &str, digit_prefix: &str) -> String {
    if ident.is_empty() {
        return fallback.to_owned();
    }
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert_str(0, digit_prefix);
    }
    if KEYWORDS.contains(&ident.as_str()) {
        ident.push('_');
    }
    ident
}

/// A Rust string literal for `text`: `"` and `\` escaped, control characters as
/// `\u{..}` escapes, everything else verbatim (so output does not depend on the Unicode
/// tables of the toolchain that ran the generator).
pub(crate) fn string_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Turns DDF prose into doc-comment lines that rustdoc renders as plain text: lines are
/// trimmed (no accidental code blocks or doctests), `<`, `>`, `[`, `]`, `` ` `` and `*`
/// are escaped, and URLs are wrapped in `<...>` so they become links.
pub(crate) fn doc_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut blank = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() {
            blank = !lines.is_empty();
            continue;
        }
        if blank {
            lines.push(String::new());
            blank = false;
        }
        let mut out = String::new();
        for (i, token) in line.split(' ').enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&escape_token(token));
        }
        lines.push(out);
    }
    lines
}

fn escape_token(token: &str) -> String {
    let url_start = token.find("http://").or_else(|| token.find("https://"));
    if let Some(start) = url_start {
        let (before, rest) = token.split_at(start);
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | ')' | ']' | '\''))
            .unwrap_or(rest.len());
        let (url, after) = rest.split_at(end);
        let url_trimmed = url.trim_end_matches(['.', ',', ';', ':']);
        let tail = &url[url_trimmed.len()..];
        return format!("{}<{}>{}{}", escape_text(before), url_trimmed, escape_text(tail), escape_token(after));
    }
    escape_text(token)
}

fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '[' | ']' | '`' | '*' | '_' | '\\' | '#' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(snake("Bootstrap-Server Account Timeout", "x"), "bootstrap_server_account_timeout");
        assert_eq!(snake("Type", "x"), "type_");
        assert_eq!(snake("3D Position", "x"), "r_3d_position");
        assert_eq!(snake("°%", "r7"), "r7");
        assert_eq!(camel("SMS Security Mode", "x"), "SmsSecurityMode");
        assert_eq!(camel("LwM2M Server URI", "x"), "LwM2MServerUri");
        assert_eq!(camel("Self", "x"), "Self_");
        assert_eq!(screaming("Type", "x"), "TYPE");
        assert_eq!(screaming("Current Time", "x"), "CURRENT_TIME");
    }

    #[test]
    fn literals_and_docs() {
        assert_eq!(string_literal("a\"b\\c\nd\u{1}é"), "\"a\\\"b\\\\c\\nd\\u{1}é\"");
        assert_eq!(doc_lines("  see <Type> [1]\n\n\n    code\n"), vec!["see &lt;Type&gt; \\[1\\]", "", "code"]);
        assert_eq!(doc_lines("at http://x.org/a."), vec!["at <http://x.org/a>."]);
    }
}
