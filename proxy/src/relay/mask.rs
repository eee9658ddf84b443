//! Upstream error bodies passed to clients never show the account's own secret (SPEC §11):
//! some compatible endpoints echo the key they were sent ("invalid api key sk-…"). The
//! secret is overwritten in place (same length, so `content-length` stays true) as the body
//! streams, holding back at most the secret's length minus one byte between chunks so that
//! a secret cut by a chunk boundary is still found.

use bytes::{Bytes, BytesMut};
use memchr::memmem;

/// Visible characters kept at the start of a masked secret.
const KEEP: usize = 6;
/// Shortest secret worth masking (shorter ones would match ordinary text).
const MIN_SECRET: usize = 12;

/// Masks one secret in a body fed chunk by chunk.
pub struct SecretMask {
    finder: memmem::Finder<'static>,
    len: usize,
    carry: BytesMut,
}

impl SecretMask {
    /// A mask for `secret`; `None` when it is too short to mask safely.
    pub fn new(secret: &str) -> Option<Self> {
        (secret.len() >= MIN_SECRET).then(|| Self {
            finder: memmem::Finder::new(secret.as_bytes()).into_owned(),
            len: secret.len(),
            carry: BytesMut::new(),
        })
    }

    /// The bytes of `chunk` that can go out now, masked; a tail that could be the start of
    /// the secret waits for the next chunk.
    pub fn feed(&mut self, chunk: Bytes) -> Bytes {
        if self.carry.is_empty() && self.finder.find(&chunk).is_none() {
            // The fast path: nothing found, and only a possible partial secret at the end
            // must wait.
            let hold = self.len - 1;
            if chunk.len() <= hold {
                self.carry.extend_from_slice(&chunk);
                return Bytes::new();
            }
            let (out, tail) = chunk.split_at(chunk.len() - hold);
            self.carry.extend_from_slice(tail);
            return Bytes::copy_from_slice(out);
        }
        self.carry.extend_from_slice(&chunk);
        self.mask_carry();
        let hold = (self.len - 1).min(self.carry.len());
        let out = self.carry.split_to(self.carry.len() - hold);
        out.freeze()
    }

    /// What is still held back, masked, at the end of the body.
    pub fn finish(&mut self) -> Bytes {
        self.mask_carry();
        self.carry.split().freeze()
    }

    fn mask_carry(&mut self) {
        let mut from = 0;
        while let Some(at) = self.finder.find(&self.carry[from..]) {
            let start = from + at;
            for b in &mut self.carry[start + KEEP.min(self.len)..start + self.len] {
                *b = b'*';
            }
            from = start + self.len;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SECRET: &str = "sk-ant-api03-MockAccountSecret-0123456789";

    fn run(body: &str, cut: &[usize]) -> String {
        let mut m = SecretMask::new(SECRET).unwrap();
        let mut out = Vec::new();
        let mut last = 0;
        for &c in cut.iter().chain([body.len()].iter()) {
            out.extend_from_slice(&m.feed(Bytes::copy_from_slice(&body.as_bytes()[last..c])));
            last = c;
        }
        out.extend_from_slice(&m.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_secret_is_masked_at_every_split_point_and_the_length_is_kept() {
        let body = format!(r#"{{"error":{{"message":"invalid key {SECRET}, again {SECRET}"}}}}"#);
        let masked = format!("sk-ant{}", "*".repeat(SECRET.len() - 6));
        let want = body.replace(SECRET, &masked);
        for a in 0..body.len() {
            for b in [a, (a + 7).min(body.len()), (a + 40).min(body.len())] {
                let got = run(&body, &[a, b]);
                assert_eq!(got, want, "cut at {a} and {b}");
                assert_eq!(got.len(), body.len());
            }
        }
        let one_byte: Vec<usize> = (1..body.len()).collect();
        assert_eq!(run(&body, &one_byte), want);
    }

    #[test]
    fn a_body_without_the_secret_passes_unchanged() {
        let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"sk-ant-api03-other"}}"#;
        assert_eq!(run(body, &[10, 30]), body);
        assert!(SecretMask::new("short").is_none());
    }
}
