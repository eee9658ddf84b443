//! Small domain enums stored as text columns and exchanged in JSON, with their one spelling.

use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored and JSON spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses the stored spelling.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }

            /// The allowed spellings, for error messages.
            pub fn allowed() -> String {
                [$($text),+].join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Role of a console user.
    Role { Admin = "admin", User = "user" }
);

text_enum!(
    /// Kind of upstream account (SPEC §3.1).
    PlatformType {
        /// Official subscription through OAuth tokens.
        Claude = "claude",
        /// Any Anthropic-compatible endpoint with a key.
        ClaudeConsole = "claude_console",
    }
);

text_enum!(
    /// Health state of an account (SPEC §3.5).
    AccountState { Active = "active", Cooling = "cooling", Error = "error" }
);

text_enum!(
    /// How a `claude_console` account's key is sent upstream.
    AuthHeader { XApiKey = "x_api_key", Bearer = "bearer", Both = "both" }
);

text_enum!(
    /// How a relayed request ended (SPEC §6 usage rows).
    Outcome {
        /// The upstream answered and the answer reached the client.
        Ok = "ok",
        /// The client went away before the end.
        ClientClosed = "client_closed",
        /// The upstream failed or answered with an error.
        UpstreamError = "upstream_error",
        /// The relay refused or could not route the request.
        RelayError = "relay_error",
        /// The relay process died with the request in flight; the row was made at the next
        /// start from the usage journal, with the usage of its last checkpoint.
        RelayCrashed = "relay_crashed",
    }
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_spelling_round_trips() {
        for s in PlatformType::ALL {
            assert_eq!(PlatformType::parse(s.as_str()), Some(*s));
        }
        for s in Outcome::ALL {
            assert_eq!(Outcome::parse(s.as_str()), Some(*s));
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(AccountState::parse("cooling"), Some(AccountState::Cooling));
        assert_eq!(Role::parse("root"), None);
        assert_eq!(AuthHeader::allowed(), "x_api_key, bearer, both");
    }
}
