//! Unpack a Debian source package into memory, exactly as `dpkg-source -x --skip-patches`
//! would unpack it on disk, and safely.
//!
//! The importer turns every published version into one git commit whose tree must be the
//! same on any machine, and source packages are hostile input: so unpacking happens in
//! memory (nothing is written anywhere, no path can escape), every byte is counted against
//! [`Limits`] as it comes out of the decompressor, and the result is a [`SourceTree`] that
//! the git layer writes into a pack as is.
//!
//! ```no_run
//! # fn main() -> Result<(), pkgimport_unpack::Error> {
//! use pkgimport_unpack::{Dsc, Limits, unpack};
//! let dsc = Dsc::from_file("pool/hello_2.10-3.dsc".as_ref())?;
//! let tree = unpack(&dsc, "pool".as_ref(), &Limits::standard())?;
//! let tag = format!("import/{}", pkgimport_unpack::mangle_version(&dsc.version.to_string()));
//! # let _ = (tree, tag);
//! # Ok(())
//! # }
//! ```
//!
//! The quilt patches of a `3.0 (quilt)` package are applied separately, one at a time, to
//! the unpacked tree ([`quilt`]), as `dpkg-source -x` would apply them; [`dep3`] reads what
//! each patch says about itself.
//!
//! Also here, because they belong to the same vocabulary: dpkg version ordering
//! ([`Version`], re-exported from `debversion`), DEP-14 tag mangling, and the few facts
//! read from `debian/changelog` ([`changelog`]).

pub mod changelog;
mod dep14;
pub mod dep3;
mod dsc;
mod error;
mod limits;
mod patch;
pub mod quilt;
mod source;
mod tarball;
mod tree;

pub use debversion;
pub use debversion::Version;
pub use dep14::{mangle_version, unmangle_version};
pub use dsc::{Dsc, DscFile, SourceFormat};
pub use error::{Error, LimitKind, UnsafeReason};
pub use limits::Limits;
pub use source::{read_changelog, unpack, unpack_dsc_file};
pub use tarball::{Compression, unpack_tarball};
pub use tree::{Node, SourceTree, sanitize_member_name};
