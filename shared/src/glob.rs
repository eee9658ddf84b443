//! Model-name globs (`claude-sonnet-*`, `*opus*`): `*` matches any run of characters, every
//! other character matches itself. Used for allowed models, model mappings and pricing.

/// Whether `text` matches `pattern`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether `model` is allowed by `patterns` (an empty list allows everything).
pub fn allowed(patterns: &[String], model: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| glob_match(p, model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_any_run_and_other_characters_themselves() {
        assert!(glob_match("claude-sonnet-*", "claude-sonnet-4-5-20250929"));
        assert!(glob_match("*opus*", "claude-opus-4-8"));
        assert!(glob_match("claude-*-4-5*", "claude-haiku-4-5"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exact2"));
        assert!(!glob_match("claude-sonnet-*", "claude-opus-4"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "acbd"));
        assert!(glob_match("a*b*c", "axxbyyc"));
    }

    #[test]
    fn an_empty_allow_list_allows_every_model() {
        assert!(allowed(&[], "anything"));
        let list = vec!["claude-haiku-*".to_string()];
        assert!(allowed(&list, "claude-haiku-4-5"));
        assert!(!allowed(&list, "claude-opus-4-8"));
    }
}
