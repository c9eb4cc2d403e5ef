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
        if machina_stf::is_dev_name(name) {
            return Ok(Keypair::dev(name));
        }
        let names = DEV_ACCOUNTS
            .iter()
            .copied()
            .chain(self.file.keys.keys().map(String::as_str));
        let hint = match closest(name, names) {
            Some(near) => format!("did you mean {near}? Or create it"),
            None => "create it".to_owned(),
        };
        bail!(
            "no key named {name} in {}; {hint} with `machina keys new {name}`",
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
        if let Some(k) = PublicKey::from_hex(s) {
            return Ok(k);
        }
        Ok(self
            .get(s)
            .with_context(|| format!("{s} is not a public key, nor a key name"))?
            .public())
    }

    #[cfg(test)]
    fn with_names(names: &[&str]) -> Keystore {
        let mut file = File::default();
        for n in names {
            file.keys.insert((*n).to_owned(), hex::encode([7u8; 32]));
        }
        Keystore {
            path: PathBuf::from("test-keystore.json"),
            file,
        }
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

/// The name among `names` closest to `name`, if it is close enough to be a typo: at most one
/// edit for every three characters (and at least one), counting a swap of neighbours as one.
fn closest<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let most = (name.chars().count() / 3).max(1);
    names
        .map(|n| (edit_distance(name, n), n))
        .filter(|(d, n)| *d <= most && *d < n.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows of the dynamic programme: two back, one back, this one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut prev, row);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_a_swap_of_neighbours_as_one_edit() {
        assert_eq!(edit_distance("alice", "alice"), 0);
        assert_eq!(edit_distance("alcie", "alice"), 1);
        assert_eq!(edit_distance("bob", "bobb"), 1);
        assert_eq!(edit_distance("charly", "charlie"), 2);
        assert_eq!(edit_distance("", "eve"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn an_unknown_key_name_suggests_a_close_dev_or_stored_name() {
        let ks = Keystore::with_names(&["meter-7"]);
        let e = format!("{:#}", ks.get("alcie").expect_err("unknown"));
        assert!(e.contains("did you mean alice?"), "{e}");
        let e = format!("{:#}", ks.get("meter7").expect_err("unknown"));
        assert!(e.contains("did you mean meter-7?"), "{e}");
    }

    #[test]
    fn a_name_close_to_nothing_suggests_nothing() {
        let ks = Keystore::with_names(&[]);
        let e = format!("{:#}", ks.get("zzzzzz").expect_err("unknown"));
        assert!(!e.contains("did you mean"), "{e}");
        assert!(e.contains("machina keys new zzzzzz"), "{e}");
        // Two letters are not a typo of three.
        assert_eq!(closest("xy", ["eve", "bob"].into_iter()), None);
    }
}
