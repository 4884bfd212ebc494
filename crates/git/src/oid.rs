//! Git object ids.
//!
//! Every repository this crate creates uses SHA-1 (`--object-format=sha1`, pinned so that a
//! machine whose git defaults to SHA-256 still produces the same commit ids), so an [`Oid`]
//! is 20 bytes. It is `Copy` and prints as 40 lowercase hex digits, the form git prints and
//! accepts everywhere.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A SHA-1 object id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid([u8; 20]);

impl Oid {
    /// Parse 40 hex digits (either case).
    pub fn from_hex(hex: &str) -> Result<Oid, Error> {
        let bytes = hex.as_bytes();
        if bytes.len() != 40 {
            return Err(Error::invalid("object id", hex));
        }
        let mut out = [0u8; 20];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            match (nibble(pair[0]), nibble(pair[1])) {
                (Some(hi), Some(lo)) => out[i] = (hi << 4) | lo,
                _ => return Err(Error::invalid("object id", hex)),
            }
        }
        Ok(Oid(out))
    }

    /// The id whose raw bytes are `bytes`.
    pub fn from_bytes(bytes: [u8; 20]) -> Oid {
        Oid(bytes)
    }

    /// The raw 20 bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// 40 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

impl FromStr for Oid {
    type Err = Error;

    fn from_str(s: &str) -> Result<Oid, Error> {
        Oid::from_hex(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let hex = "d49c205d108020dc6fc8927e011fa1957e149b74";
        assert_eq!(Oid::from_hex(hex).unwrap().to_string(), hex);
        assert_eq!(Oid::from_hex(&hex.to_uppercase()).unwrap().to_string(), hex);
        assert!(Oid::from_hex(&hex[1..]).is_err());
        assert!(Oid::from_hex("g49c205d108020dc6fc8927e011fa1957e149b74").is_err());
    }
}
