//! The Linux kernel keyring (keyutils) as a store, made to fit an ordinary user's quota and to
//! be the same in every login.
//!
//! Why not one kernel key per item: an ordinary user may hold 20,000 bytes of keys
//! (`kernel.keys.maxbytes`), and a session with its token takes about 1,800, so a dozen sessions
//! filled it and every later call asked for a code. So the kernel holds one small key — the
//! vault key: 32 random bytes, an id, and the directory of the items — and each item is a file in
//! that directory, sealed with ChaCha20-Poly1305 under the vault key and bound to its item name.
//! Without the key (another user, another boot) a file is noise, and it is never served.
//!
//! The vault key lives in the user's persistent keyring, which every login of the user reaches
//! (also one whose session keyring was revoked at logout, such as a tmux server that outlived
//! it) and which the kernel keeps until reboot, or until it has gone unused for
//! `persistent_keyring_expiry` (3 days). The item directory is recorded in the key, so every
//! process of the user agrees on it whatever its environment. Like the kernel keyring itself,
//! the store does not survive a reboot: it is for sessions, not for the only copy of a
//! long-term key.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use chrono::{DateTime, Utc};
use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};
use zeroize::Zeroizing;

use crate::private_files;

/// The vault key's description in the persistent keyring.
const VAULT: &str = "mfa-env:vault";
const VAULT_FORMAT: u8 = 1;
const ITEM_MAGIC: &[u8; 4] = b"mfa1";
/// Magic and expiry: what a sweep reads of each file.
const HEADER_LEN: usize = 12;
const NONCE_LEN: usize = 12;
/// Item directories of earlier boots (or other machines sharing a home directory) are removed
/// once unused for longer than the longest session lasts.
const STALE_DIR_SECONDS: u64 = 2 * 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the kernel keyring refused {what}: {source}")]
    Kernel {
        what: &'static str,
        #[source]
        source: KeyError,
    },
    #[error("{}", quota_message())]
    Quota,
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn kernel(what: &'static str) -> impl FnOnce(KeyError) -> Error {
    move |source| match source {
        KeyError::QuotaExceeded => Error::Quota,
        source => Error::Kernel { what, source },
    }
}

/// The user's persistent keyring, linked where this process possesses it: into the session
/// keyring, or, where that is revoked or expired (a login that ended), into the process keyring.
pub fn persistent() -> Result<KeyRing, Error> {
    KeyRing::get_persistent(KeyRingIdentifier::Session)
        .or_else(|_| KeyRing::get_persistent(KeyRingIdentifier::Process))
        .map_err(kernel("access to the persistent keyring"))
}

/// An opened vault: the cipher and the directory of the items.
pub struct Vault {
    cipher: ChaCha20Poly1305,
    dir: PathBuf,
}

impl Vault {
    /// The vault of this user and boot, if one was made.
    pub fn find(keyring: &KeyRing) -> Result<Option<Vault>, Error> {
        let key = match keyring.search(VAULT) {
            Ok(key) => key,
            Err(KeyError::KeyDoesNotExist) => return Ok(None),
            Err(e) => return Err(kernel("a search of the persistent keyring")(e)),
        };
        // The payload is small: the key, the id and a path.
        let mut buf = Zeroizing::new(vec![0_u8; 4096 + 64]);
        let n = key
            .read(&mut *buf)
            .map_err(kernel("a read of the vault key"))?;
        Ok(decode_vault(&buf[..n.min(buf.len())]))
    }

    /// The vault, made now (under a file lock, so two first callers cannot make two) if there
    /// is none; new items go to `dir_root`/<id>.
    pub fn find_or_make(keyring: &KeyRing, dir_root: &Path) -> Result<Vault, Error> {
        if let Some(v) = Self::find(keyring)? {
            return Ok(v);
        }
        private_files::ensure_dir(dir_root).map_err(|source| Error::File {
            path: dir_root.to_owned(),
            source,
        })?;
        let lock_path = dir_root.join(".vault.lock");
        let lock = private_files::open_write(&lock_path, false)
            .and_then(|f| f.lock().map(|()| f))
            .map_err(|source| Error::File {
                path: lock_path,
                source,
            })?;
        if let Some(v) = Self::find(keyring)? {
            return Ok(v);
        }
        let key = ChaCha20Poly1305::generate_key(&mut OsRng);
        let id: [u8; 8] = ChaCha20Poly1305::generate_nonce(&mut OsRng)[..8]
            .try_into()
            .expect("8 of 12 bytes");
        let dir = dir_root.join(id.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let dir_bytes = dir.as_os_str().as_encoded_bytes();
        let mut payload = Zeroizing::new(Vec::with_capacity(41 + dir_bytes.len()));
        payload.push(VAULT_FORMAT);
        payload.extend_from_slice(&key);
        payload.extend_from_slice(&id);
        payload.extend_from_slice(dir_bytes);
        keyring
            .add_key(VAULT, &*payload)
            .map_err(kernel("a new vault key"))?;
        drop(lock);
        Ok(Vault {
            cipher: ChaCha20Poly1305::new(&key),
            dir,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, item: &str) -> PathBuf {
        self.dir.join(private_files::file_name(item))
    }

    /// The item's bytes; `None` when there is no file, or one this vault did not seal for this
    /// item (another boot's, a corrupted or planted one).
    pub fn get(&self, item: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        let path = self.path(item);
        let mut sealed = Vec::new();
        match private_files::open_read(&path).and_then(|mut f| f.read_to_end(&mut sealed)) {
            Ok(_) => Ok(self.open_sealed(item, &sealed)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::File { path, source }),
        }
    }

    fn open_sealed(&self, item: &str, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < HEADER_LEN + NONCE_LEN || &sealed[..4] != ITEM_MAGIC {
            return None;
        }
        let (header, rest) = sealed.split_at(HEADER_LEN);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = [header, item.as_bytes()].concat();
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }

    /// Writes the item whole (a new file renamed over the old one, so a reader sees the old or
    /// the new bytes), then removes what has expired. `expires`: when the item is worthless.
    pub fn set(
        &self,
        item: &str,
        value: &[u8],
        expires: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let file_error = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::File { path, source }
        };
        private_files::ensure_dir(&self.dir).map_err(file_error(&self.dir))?;
        let mut header = [0_u8; HEADER_LEN];
        header[..4].copy_from_slice(ITEM_MAGIC);
        header[4..].copy_from_slice(&expires.map_or(i64::MAX, |e| e.timestamp()).to_be_bytes());
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = [&header[..], item.as_bytes()].concat();
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: value,
                    aad: &aad,
                },
            )
            .expect("ChaCha20-Poly1305 seals any message of this size");
        let path = self.path(item);
        let tmp = self.dir.join(format!(
            ".{}.{}.{:x}.tmp",
            private_files::file_name(item),
            std::process::id(),
            u64::from_be_bytes(nonce[..8].try_into().expect("8 bytes"))
        ));
        private_files::open_write(&tmp, true)
            .and_then(|mut f| {
                f.write_all(&header)?;
                f.write_all(&nonce)?;
                f.write_all(&ciphertext)
            })
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                file_error(&path)(e)
            })?;
        self.sweep(now);
        Ok(())
    }

    /// Deletes the item; `false` when it was not there.
    pub fn delete(&self, item: &str) -> Result<bool, Error> {
        let path = self.path(item);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(Error::File { path, source }),
        }
    }

    /// Best effort, on the write path only: removes expired items, files left by an
    /// interrupted write, and item directories no vault has used for days.
    fn sweep(&self, now: DateTime<Utc>) {
        let entries = std::fs::read_dir(&self.dir).into_iter().flatten().flatten();
        for e in entries {
            let path = e.path();
            let name = e.file_name();
            let stale_tmp = name.to_string_lossy().ends_with(".tmp")
                && e.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|m| m.elapsed().is_ok_and(|age| age.as_secs() > 60));
            if stale_tmp || expired(&path, now) {
                let _ = std::fs::remove_file(&path);
            }
        }
        let Some(root) = self.dir.parent() else {
            return;
        };
        for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let unused = e.metadata().is_ok_and(|m| {
                m.is_dir()
                    && m.modified().is_ok_and(|t| {
                        t.elapsed()
                            .is_ok_and(|age| age.as_secs() > STALE_DIR_SECONDS)
                    })
            });
            if unused && e.path() != self.dir {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

fn expired(path: &Path, now: DateTime<Utc>) -> bool {
    let mut header = [0_u8; HEADER_LEN];
    let read = private_files::open_read(path).and_then(|mut f| f.read_exact(&mut header));
    read.is_ok()
        && &header[..4] == ITEM_MAGIC
        && i64::from_be_bytes(header[4..].try_into().expect("8 bytes")) <= now.timestamp()
}

fn decode_vault(payload: &[u8]) -> Option<Vault> {
    let (&format, rest) = payload.split_first()?;
    if format != VAULT_FORMAT || rest.len() < 32 + 8 + 1 {
        return None;
    }
    use std::os::unix::ffi::OsStrExt;
    let (key, rest) = rest.split_at(32);
    Some(Vault {
        cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        dir: PathBuf::from(std::ffi::OsStr::from_bytes(&rest[8..])),
    })
}

/// One line that names the kernel's quota and how to make room, with this user's numbers.
fn quota_message() -> String {
    // SAFETY: getuid cannot fail and has no preconditions.
    let uid = unsafe { libc::getuid() };
    let text = std::fs::read_to_string("/proc/key-users").unwrap_or_default();
    // "  uid:  usage nkeys/nikeys qnkeys/maxkeys qnbytes/maxbytes"
    let usage = text
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.first()?.trim_end_matches(':') != uid.to_string() {
                return None;
            }
            Some(format!("{} keys, {} bytes", f.get(3)?, f.get(4)?))
        })
        .unwrap_or_else(|| "full".to_owned());
    let (keys, bytes) = if uid == 0 {
        ("kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes")
    } else {
        ("kernel.keys.maxkeys", "kernel.keys.maxbytes")
    };
    format!(
        "the kernel's key quota for uid {uid} is used up ({usage} of {keys} / {bytes}); remove keys you do not need (`keyctl show @u`, `keyctl show @s`), or raise the quota: `sudo sysctl -w {bytes}=200000`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(dir: &Path) -> Vault {
        Vault {
            cipher: ChaCha20Poly1305::new(&ChaCha20Poly1305::generate_key(&mut OsRng)),
            dir: dir.to_owned(),
        }
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000 + s, 0).unwrap()
    }

    #[test]
    fn items_round_trip_and_bind_to_their_name_and_key() {
        let tmp = tempfile::tempdir().unwrap();
        let v = vault(&tmp.path().join("v"));
        v.set("a", b"secret A", None, at(0)).unwrap();
        assert_eq!(&**v.get("a").unwrap().unwrap(), b"secret A");
        assert!(v.get("b").unwrap().is_none());
        // A file copied under another item's name is not that item.
        std::fs::copy(v.path("a"), v.path("b")).unwrap();
        assert!(v.get("b").unwrap().is_none(), "bound to its name");
        // Another vault (another boot) cannot read it.
        let other = Vault {
            dir: v.dir.clone(),
            ..vault(tmp.path())
        };
        assert!(other.get("a").unwrap().is_none());
        // The file holds no plaintext.
        let raw = std::fs::read(v.path("a")).unwrap();
        assert!(!raw.windows(8).any(|w| w == b"secret A"));
        assert!(v.delete("a").unwrap());
        assert!(!v.delete("a").unwrap());
    }

    #[test]
    fn damaged_files_are_absent_not_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let v = vault(tmp.path());
        v.set("a", b"value", None, at(0)).unwrap();
        let mut raw = std::fs::read(v.path("a")).unwrap();
        for cut in [0, 3, 12, 23, raw.len() - 1] {
            std::fs::write(v.path("a"), &raw[..cut]).unwrap();
            assert!(v.get("a").unwrap().is_none(), "cut at {cut}");
        }
        let last = raw.len() - 1;
        raw[last] ^= 1;
        std::fs::write(v.path("a"), &raw).unwrap();
        assert!(v.get("a").unwrap().is_none(), "a flipped bit");
    }

    #[test]
    fn a_write_sweeps_expired_items_and_keeps_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let v = vault(tmp.path());
        v.set("old", b"x", Some(at(100)), at(0)).unwrap();
        v.set("forever", b"y", None, at(0)).unwrap();
        v.set("later", b"z", Some(at(1000)), at(0)).unwrap();
        assert!(v.get("old").unwrap().is_some(), "not yet expired");
        v.set("new", b"w", Some(at(2000)), at(500)).unwrap();
        assert!(v.get("old").unwrap().is_none(), "expired, swept");
        for kept in ["forever", "later", "new"] {
            assert!(v.get(kept).unwrap().is_some(), "{kept}");
        }
    }

    #[test]
    fn vault_payloads_decode_only_in_their_format() {
        assert!(decode_vault(b"").is_none());
        assert!(decode_vault(&[1; 40]).is_none());
        let mut good = vec![VAULT_FORMAT];
        good.extend_from_slice(&[7; 40]);
        good.extend_from_slice(b"/home/u/.cache/mfa-env/kernel-keyring/0707070707070707");
        let v = decode_vault(&good).unwrap();
        assert_eq!(
            v.dir,
            Path::new("/home/u/.cache/mfa-env/kernel-keyring/0707070707070707")
        );
        good[0] = 2;
        assert!(decode_vault(&good).is_none());
    }
}
