//! Fuzz target: the failure-signature normaliser (`pkgimport_core::signature`). For any
//! error text: no panic; a signature is one line, non-empty, at most 200 characters, and
//! normalising a signature again gives the same signature (so signatures stored in the
//! database group the same way however often they are recomputed).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pkgimport_core::signature::{from_text, looks_transient, normalize};

fuzz_target!(|text: &str| {
    let _ = pkgimport_core::signature::decisive_line(text);
    let Some(signature) = from_text(text) else {
        return;
    };
    assert!(!signature.is_empty());
    assert!(
        !signature.contains(['\n', '\r']),
        "two lines: {signature:?}"
    );
    assert!(
        signature.chars().count() <= 200,
        "{} characters",
        signature.chars().count()
    );
    assert_eq!(signature, signature.trim(), "untrimmed: {signature:?}");
    let _ = looks_transient(&signature);
    assert_eq!(
        normalize(&signature),
        signature,
        "not idempotent for the text {text:?}"
    );
    assert_eq!(from_text(&signature).as_deref(), Some(signature.as_str()));
});
