//! `machina keys`: the local keystore.

use clap::Subcommand;
use machina_client::{print, Keystore};

/// `machina keys ...`.
#[derive(Subcommand)]
pub enum KeysCmd {
    /// Create a new random key.
    New {
        /// Its name.
        name: String,
    },
    /// List all keys, dev keys included.
    List,
    /// Show a key's address.
    Show {
        /// Its name.
        name: String,
    },
}

/// Runs a `keys` subcommand.
pub fn run(cmd: KeysCmd, path: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let mut ks = Keystore::open(path)?;
    match cmd {
        KeysCmd::New { name } => {
            ks.create(&name)?;
            let info = ks.show(&name)?;
            print(json, &serde_json::to_value(&info)?, || info.address.clone());
        }
        KeysCmd::Show { name } => {
            let info = ks.show(&name)?;
            print(json, &serde_json::to_value(&info)?, || info.address.clone());
        }
        KeysCmd::List => {
            let list = ks.list();
            print(json, &serde_json::to_value(&list)?, || {
                list.iter()
                    .map(|k| {
                        format!(
                            "{:<12} {}{}",
                            k.name,
                            k.address,
                            if k.dev { "  (dev)" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
