//! The configuration: one table of keys, four layers, and the typed settings built from them.
//!
//! Every key is declared once in [`KEYS`] (`keys.rs`), with its type, default and
//! documentation. The layers are applied in one function, [`Config::load`] (`load.rs`), in
//! this order, later ones winning: built-in defaults, the config file (`--config`,
//! `PKGIMPORT_CONFIG`, or `/etc/package-importer/config.toml` if it exists), `PKGIMPORT_*`
//! environment variables, then command-line flags. An unknown key in the file is an error
//! that names it. Raw values are validated first and then turned into typed settings
//! ([`settings`]), so a bad value fails at start with exit 78, never half-way through a run.
//! `importctl config show` prints each value with the layer it came from; `importctl config
//! example` prints a commented template.
//!
//! Values are read by key name only inside this module: the string-keyed accessors of
//! [`Config`] are private to it, and [`settings`] turns them into the typed settings of
//! every binary and every importctl command, so the compiler keeps key names in one file.

mod keys;
mod load;
pub mod settings;

pub use keys::{KEYS, Key, Kind};
pub use load::{Config, Env, FlagValue, SYSTEM_CONFIG, Source, env_name, example, process_env};
