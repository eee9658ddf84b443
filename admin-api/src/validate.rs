//! Field checks shared by the resources; each error names its field.

use std::collections::BTreeMap;

use crate::error::ApiError;

/// Largest money amount accepted, in USD.
const MAX_USD: f64 = 1_000_000_000.0;

/// A trimmed, non-empty text of at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    optional_text(field, v, max)
}

/// A trimmed text (possibly empty) of at most `max` characters.
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` must be at most {max} characters"),
        ));
    }
    Ok(v.to_string())
}

/// A login name: 3–64 letters, digits, `_`, `-`, `.` or `@`.
pub fn username(value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    let ok_chars = v
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    let n = v.chars().count();
    if !(3..=64).contains(&n) || !ok_chars {
        return Err(ApiError::invalid(
            "username",
            "`username` must be 3 to 64 letters, digits, `_`, `-`, `.` or `@`",
        ));
    }
    Ok(v.to_string())
}

/// An e-mail address (`None`, empty or blank clears it).
pub fn email(value: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let valid = v.chars().count() <= 255
        && !v.chars().any(char::is_whitespace)
        && v.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if !valid {
        return Err(ApiError::invalid(
            "email",
            "`email` is not an e-mail address",
        ));
    }
    Ok(Some(v.to_string()))
}

/// USD as a JSON number → micro-USD, rounded to the nearest micro-dollar.
pub fn micro_usd(field: &str, usd: f64) -> Result<i64, ApiError> {
    if !usd.is_finite() || !(0.0..=MAX_USD).contains(&usd) {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` must be a number of USD between 0 and {MAX_USD}"),
        ));
    }
    // In range by the check above, so the conversion is exact enough and cannot overflow.
    Ok((usd * 1_000_000.0).round() as i64)
}

/// A count between 0 and `max`.
pub fn count(field: &str, value: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    if !(min..=max).contains(&value) {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` must be between {min} and {max}"),
        ));
    }
    Ok(value)
}

/// A list of model ids or globs: each trimmed, non-empty, at most 128 characters; duplicates
/// removed, order kept.
pub fn models(field: &str, list: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for m in list {
        let m = text(field, m, 128)?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

/// A model mapping: non-empty model (or glob) → non-empty upstream model.
pub fn model_mapping(
    field: &str,
    map: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ApiError> {
    map.iter()
        .map(|(k, v)| Ok((text(field, k, 128)?, text(field, v, 128)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn money_rounds_to_the_nearest_micro_dollar() {
        assert_eq!(micro_usd("x", 5.5).unwrap(), 5_500_000);
        assert_eq!(micro_usd("x", 0.1 + 0.2).unwrap(), 300_000);
        assert_eq!(micro_usd("x", 0.000_000_6).unwrap(), 1);
        assert!(micro_usd("x", -1.0).is_err());
        assert!(micro_usd("x", f64::NAN).is_err());
    }

    #[test]
    fn names_and_emails() {
        assert_eq!(username(" bob ").unwrap(), "bob");
        assert!(username("a b").is_err());
        assert!(username("ab").is_err());
        assert_eq!(email(Some("")).unwrap(), None);
        assert!(email(Some("nope")).is_err());
        assert_eq!(email(Some("a@b.io")).unwrap().as_deref(), Some("a@b.io"));
        assert_eq!(
            models("m", &["a".into(), "a".into(), " b ".into()]).unwrap(),
            ["a", "b"]
        );
    }
}
