//! Comparing secrets without leaking them through timing.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Compares a presented secret with the expected one in constant time.
///
/// Both sides are hashed first, so neither the position of the first
/// differing byte nor the expected secret's length shows in the timing.
pub fn secrets_match(presented: &[u8], expected: &[u8]) -> bool {
    let presented = Sha256::digest(presented);
    let expected = Sha256::digest(expected);
    presented.ct_eq(&expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_secrets_match() {
        assert!(secrets_match(b"s3cret", b"s3cret"));
    }

    #[test]
    fn different_secrets_of_any_length_do_not_match() {
        assert!(!secrets_match(b"s3cret", b"s3creT"));
        assert!(!secrets_match(b"s3cre", b"s3cret"));
        assert!(!secrets_match(b"", b"s3cret"));
    }
}
