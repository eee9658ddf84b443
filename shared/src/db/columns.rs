//! The widths of the text columns a request can fill (SPEC §2.3, §5): the one place that
//! knows them. The front door refuses identifiers longer than their documented maximum, and
//! every usage row is clamped to these widths before it is written, so no value can make a
//! database refuse a batch. MySQL counts `VARCHAR` widths in characters; a value of at most
//! that many bytes always fits. A test compares these numbers with the MySQL schema.

use super::usage::UsageRecord;

/// `usage_logs.request_id`; a longer client `x-request-id` is replaced by a generated one.
pub const REQUEST_ID: usize = 64;
/// `usage_logs.model`, `usage_logs.upstream_model` and the roll-ups' `model`; a longer
/// requested model gets a 400.
pub const MODEL: usize = 256;
/// Session ids (`x-claude-code-session-id`, `metadata.user_id`); a longer one gets a 400.
pub const SESSION_ID: usize = 256;
/// `usage_logs.route_reason`.
pub const ROUTE_REASON: usize = 32;
/// `usage_logs.outcome`.
pub const OUTCOME: usize = 16;
/// `usage_logs.error_type`.
pub const ERROR_TYPE: usize = 64;
/// `usage_logs.client_ip`.
pub const CLIENT_IP: usize = 64;
/// `usage_logs.user_agent`.
pub const USER_AGENT: usize = 255;

/// Every clamped text column of `usage_logs` with its width, for the schema test.
pub const USAGE_LOG_TEXT_COLUMNS: &[(&str, usize)] = &[
    ("request_id", REQUEST_ID),
    ("route_reason", ROUTE_REASON),
    ("model", MODEL),
    ("upstream_model", MODEL),
    ("outcome", OUTCOME),
    ("error_type", ERROR_TYPE),
    ("client_ip", CLIENT_IP),
    ("user_agent", USER_AGENT),
];

/// Cuts `s` to at most `max` bytes at a character boundary; true when it was cut.
pub fn clamp(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    true
}

impl UsageRecord {
    /// Clamps every text column to its width; true when something was cut (which the front
    /// door's checks should have made impossible, so callers log it).
    pub fn fit_columns(&mut self) -> bool {
        let mut cut = clamp(&mut self.request_id, REQUEST_ID);
        cut |= clamp(&mut self.route_reason, ROUTE_REASON);
        cut |= clamp(&mut self.model, MODEL);
        cut |= clamp(&mut self.upstream_model, MODEL);
        cut |= clamp(&mut self.outcome, OUTCOME);
        if let Some(e) = self.error_type.as_mut() {
            cut |= clamp(e, ERROR_TYPE);
        }
        cut |= clamp(&mut self.client_ip, CLIENT_IP);
        cut |= clamp(&mut self.user_agent, USER_AGENT);
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_cut_at_a_character_boundary_within_the_width() {
        let mut s = "é".repeat(40); // 80 bytes
        assert!(clamp(&mut s, 63));
        assert_eq!(s.len(), 62, "a two-byte character is never split");
        let mut short = "abc".to_string();
        assert!(!clamp(&mut short, 3));
        assert_eq!(short, "abc");
    }

    #[test]
    fn every_text_column_of_a_row_is_fitted() {
        let mut r = UsageRecord {
            request_id: "r".repeat(100),
            route_reason: "x".repeat(40),
            model: "m".repeat(300),
            upstream_model: "u".repeat(300),
            outcome: "o".repeat(20),
            error_type: Some("e".repeat(70)),
            client_ip: "1".repeat(70),
            user_agent: "ü".repeat(200),
            ..UsageRecord::default()
        };
        assert!(r.fit_columns());
        assert_eq!(r.request_id.len(), REQUEST_ID);
        assert_eq!(r.route_reason.len(), ROUTE_REASON);
        assert_eq!((r.model.len(), r.upstream_model.len()), (MODEL, MODEL));
        assert_eq!(r.outcome.len(), OUTCOME);
        assert_eq!(r.error_type.as_deref().map(str::len), Some(ERROR_TYPE));
        assert_eq!(r.client_ip.len(), CLIENT_IP);
        assert!(r.user_agent.len() <= USER_AGENT);
        assert!(!r.fit_columns(), "a fitted row is left alone");
    }
}
