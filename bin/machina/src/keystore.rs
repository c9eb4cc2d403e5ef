//! The local keystore: named ed25519 keys in one JSON file.
//!
//! Secrets are stored as hex in a file readable only by its owner. This is a developer's
//! keystore for dev chains and tests; production machines keep their keys in hardware.

use anyhow::{bail, Context};
use machina_primitives::{Address, Keypair, PublicKey};
use machina_stf::DEV_ACCOUNTS;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize, Default)]
struct File {
    keys: BTreeMap<String, String>,
}

/// Named keys on disk, plus the dev keys, which every keystore resolves by name.
pub struct Keystore {
    path: PathBuf,
    file: File,
}

/// A key as listed: its name, address and whether it is a well-known dev key.
#[derive(Serialize)]
pub struct KeyInfo {
    /// Its name.
    pub name: String,
    /// The address of its plain account.
    pub address: String,
    /// Its public key.
    pub public_key: String,
    /// True for `alice` and friends, whose secrets everyone knows.
    pub dev: bool,
}

impl Keystore {
    /// Opens the keystore at `path`; a missing file is an empty keystore.
    pub fn open(path: &Path) -> anyhow::Result<Keystore> {
        let file = match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .with_context(|| format!("keystore {} does not parse", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::default(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Keystore {
            path: path.to_owned(),
            file,
        })
    }

    /// Creates a new random key under `name`.
    pub fn create(&mut self, name: &str) -> anyhow::Result<Keypair> {
        if name.is_empty() || name.len() > 64 {
            bail!("a key name has 1 to 64 characters");
        }
        if DEV_ACCOUNTS.contains(&name) || self.file.keys.contains_key(name) {
            bail!("a key named {name} already exists");
        }
        let k = Keypair::generate();
        self.file
            .keys
            .insert(name.to_owned(), hex::encode(k.seed()));
        self.save()?;
        Ok(k)
    }

    /// The key called `name`: a stored key or a dev key.
    pub fn get(&self, name: &str) -> anyhow::Result<Keypair> {
        if let Some(hex_seed) = self.file.keys.get(name) {
            let mut seed = [0u8; 32];
            hex::decode_to_slice(hex_seed, &mut seed)
                .with_context(|| format!("key {name} in the keystore is damaged"))?;
            return Ok(Keypair::from_seed(seed));
        }
        if DEV_ACCOUNTS.contains(&name) {
            return Ok(Keypair::dev(name));
        }
        bail!(
            "no key named {name} in {} (try `machina keys new {name}`)",
            self.path.display()
        )
    }

    /// Every key, dev keys first.
    pub fn list(&self) -> Vec<KeyInfo> {
        let info = |name: &str, k: Keypair, dev: bool| KeyInfo {
            name: name.to_owned(),
            address: k.address().to_string(),
            public_key: format!("0x{}", hex::encode(k.public().0)),
            dev,
        };
        let mut out: Vec<KeyInfo> = DEV_ACCOUNTS
            .iter()
            .map(|n| info(n, Keypair::dev(n), true))
            .collect();
        for name in self.file.keys.keys() {
            if let Ok(k) = self.get(name) {
                out.push(info(name, k, false));
            }
        }
        out
    }

    /// Information about one key.
    pub fn show(&self, name: &str) -> anyhow::Result<KeyInfo> {
        self.get(name)?;
        self.list()
            .into_iter()
            .find(|k| k.name == name)
            .context("key listed")
    }

    /// An address given as hex, or the address of a key given by name.
    pub fn address_of(&self, s: &str) -> anyhow::Result<Address> {
        match Address::from_hex(s) {
            Some(a) => Ok(a),
            None => Ok(self
                .get(s)
                .with_context(|| format!("{s} is not an address, nor a key name"))?
                .address()),
        }
    }

    /// A public key given as 32-byte hex, or the public key of a key given by name.
    pub fn public_key_of(&self, s: &str) -> anyhow::Result<PublicKey> {
        let hex_part = s.strip_prefix("0x").unwrap_or(s);
        let mut k = [0u8; 32];
        if hex_part.len() == 64 && hex::decode_to_slice(hex_part, &mut k).is_ok() {
            return Ok(PublicKey(k));
        }
        Ok(self
            .get(s)
            .with_context(|| format!("{s} is not a public key, nor a key name"))?
            .public())
    }

    fn save(&self) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        use std::io::Write;
        let tmp = self.path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            // Readable by its owner only from the moment it exists.
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(&serde_json::to_vec_pretty(&self.file)?)?;
        f.sync_all()?;
        // Rename is atomic: a crash leaves the old keystore or the new one, never half.
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}
