//! `importctl token`: the bearer tokens of importer-web. `add` prints the new token, and
//! only it, on stdout, once: only its SHA-256 is stored, so it cannot be shown again.
//! `revoke` removes a token and ends its browser sessions; `list` shows names and roles.
//! Both changes go to the audit log of actions, as `importctl`.

use std::io::Write;

use pkgimport_queue::{NewAction, Role};

use super::util::print_json;
use crate::config::Config;
use crate::{Exit, Failure, OrExit};

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (once) on stdout
    Add {
        /// A name for the token (who holds it): letters, digits, '.', '_', '-', '@'
        name: String,
        /// viewer (read when reading is not public), operator (enqueue, retry, pause,
        /// resume), admin (also reset --adopt-remote, and tokens)
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Remove a token, ending its sessions
    Revoke { name: String },
    /// The tokens' names and roles
    List {
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(raw: &str) -> Result<Role, String> {
    Role::parse(raw).ok_or_else(|| format!("{raw:?}: viewer, operator or admin"))
}

pub(super) fn run(
    config: &Config,
    command: TokenCommand,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    match command {
        TokenCommand::Add { name, role } => {
            pkgimport_web::auth::check_token_name(&name)
                .map_err(anyhow::Error::msg)
                .or_exit(Exit::DataErr)?;
            let token = pkgimport_web::auth::generate_token();
            store
                .add_token(&name, role, &pkgimport_web::auth::hash_secret(&token))
                .or_exit(Exit::DataErr)?;
            record(&mut store, "token-add", &name, &format!("role {role}"))?;
            log::info!("token added name={name} role={role}");
            writeln!(out, "{token}")?;
        }
        TokenCommand::Revoke { name } => {
            if !store.revoke_token(&name)? {
                return Err(Failure::new(
                    Exit::DataErr,
                    anyhow::anyhow!("no token named {name:?}"),
                ));
            }
            record(&mut store, "token-revoke", &name, "revoked")?;
            writeln!(out, "revoked {name}")?;
        }
        TokenCommand::List { json } => {
            let tokens = store.tokens()?;
            if json {
                print_json(out, &tokens)?;
                return Ok(Exit::Ok);
            }
            writeln!(out, "{:<32} {:<9} CREATED", "NAME", "ROLE")?;
            for t in tokens {
                writeln!(out, "{:<32} {:<9} {}", t.name, t.role, t.created_at)?;
            }
        }
    }
    Ok(Exit::Ok)
}

fn record(
    store: &mut pkgimport_queue::Store,
    action: &str,
    name: &str,
    result: &str,
) -> Result<(), Failure> {
    store.record_action(&NewAction {
        who: "importctl",
        action,
        target: name,
        ok: true,
        result,
    })?;
    Ok(())
}
