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
//!
//! The directory is trusted only as a `private_files::PrivateDir`: it and every directory above
//! it are checked on every use, and files are reached only relative to it, never through a
//! link. A vault whose directory fails that check (made by an older mfa-env under a directory
//! others can write to) is not used: reads miss, and the next write replaces it with a new vault
//! in the current cache directory.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key as CipherKey, Nonce};
use chrono::{DateTime, Utc};
use std::ffi::CString;

use linux_keyutils::{Key, KeyError, KeyRing, KeyRingIdentifier, KeySerialId};
use zeroize::Zeroizing;

use crate::private_files::{self, Kind, PrivateDir};

/// The directory (in the user's cache directory) that holds the vaults' item directories.
pub const ROOT_NAME: &str = "kernel-keyring";
/// The vault key's description in the persistent keyring.
const VAULT: &str = "mfa-env:vault";
const VAULT_FORMAT: u8 = 1;
const ITEM_MAGIC: &[u8; 4] = b"mfa1";
/// Magic and expiry: what a sweep reads of each file.
const HEADER_LEN: usize = 12;
const NONCE_LEN: usize = 12;

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
    /// The item directory, or one above it, could be changed by someone else.
    #[error("{}: {source}", path.display())]
    Unsafe {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("there is no cache directory to keep the sealed items in (is HOME set?)")]
    NoCacheDir,
}

/// A failure on the directory or file at `path`.
fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| {
        if private_files::is_unsafe(&source) {
            Error::Unsafe { path, source }
        } else {
            Error::File { path, source }
        }
    }
}

fn kernel(what: &'static str) -> impl FnOnce(KeyError) -> Error {
    move |source| match source {
        KeyError::QuotaExceeded => Error::Quota,
        source => Error::Kernel { what, source },
    }
}

/// Where the vault key lives: the user's persistent keyring, or, on a kernel built without
/// persistent keyrings (WSL2's, for one), the user keyring, which every login of the user also
/// shares (until the user's last process ends, on kernels before 5.3).
pub struct Home {
    id: libc::c_long,
}

/// The user's persistent keyring, linked where this process possesses it: into the session
/// keyring, or, where that is revoked or expired (a login that ended), into the process keyring.
pub fn home() -> Result<Home, Error> {
    for link in [KeyRingIdentifier::Session, KeyRingIdentifier::Process] {
        match keyctl(KEYCTL_GET_PERSISTENT, [-1, link as libc::c_long, 0, 0]) {
            Ok(id) => return Ok(Home { id }),
            Err(KeyError::QuotaExceeded) => return Err(Error::Quota),
            Err(KeyError::OperationNotSupported) => break,
            Err(_) => continue,
        }
    }
    let user = KeyRingIdentifier::User as libc::c_long;
    let id = keyctl(KEYCTL_GET_KEYRING_ID, [user, 1, 0, 0])
        .map_err(kernel("access to the user keyring"))?;
    Ok(Home { id })
}

impl Home {
    /// The user key `description` in this keyring (or one it links).
    fn search(&self, description: &str) -> Result<Option<Key>, KeyError> {
        let description = CString::new(description).map_err(|_| KeyError::InvalidDescription)?;
        let search = [
            self.id,
            c"user".as_ptr() as libc::c_long,
            description.as_ptr() as libc::c_long,
            0,
        ];
        match keyctl(KEYCTL_SEARCH, search) {
            Ok(id) => Ok(Some(key(id))),
            Err(KeyError::KeyDoesNotExist) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn key(id: libc::c_long) -> Key {
    Key::from_id(KeySerialId(i32::try_from(id).expect("key ids are 32-bit")))
}

/// add_key(2) of a user key into `ring`, creating or updating it.
fn add_key(ring: libc::c_long, description: &str, payload: &[u8]) -> Result<Key, KeyError> {
    let description = CString::new(description).map_err(|_| KeyError::InvalidDescription)?;
    // SAFETY: valid C strings and a payload slice that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            c"user".as_ptr(),
            description.as_ptr(),
            payload.as_ptr(),
            payload.len(),
            ring,
        )
    };
    if r < 0 {
        Err(KeyError::from_errno())
    } else {
        Ok(key(r))
    }
}

const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
const KEYCTL_UNLINK: libc::c_long = 9;
const KEYCTL_SEARCH: libc::c_long = 10;
const KEYCTL_GET_PERSISTENT: libc::c_long = 22;
const KEYCTL_MOVE: libc::c_long = 30;
const KEYCTL_MOVE_EXCL: libc::c_long = 1;

/// keyctl(2) for the operations linux-keyutils does not offer, or offers only on keyrings whose
/// ids it keeps to itself.
fn keyctl(op: libc::c_long, args: [libc::c_long; 4]) -> Result<libc::c_long, KeyError> {
    let [a, b, c, d] = args;
    // SAFETY: keyctl with integers, and pointers to C strings that outlive the call.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, op, a, b, c, d) };
    if r < 0 {
        Err(KeyError::from_errno())
    } else {
        Ok(r)
    }
}

/// An opened vault: the cipher, the directory of the items, and the kernel key it came from.
pub struct Vault {
    cipher: ChaCha20Poly1305,
    dir: PathBuf,
    key: Option<Key>,
}

impl Vault {
    /// The vault of this user and boot, if one was made.
    pub fn find(home: &Home) -> Result<Option<Vault>, Error> {
        let Some(key) = home
            .search(VAULT)
            .map_err(kernel("a search of the persistent keyring"))?
        else {
            return Ok(None);
        };
        // The payload is small: the key, the id and a path; a long path is read again whole.
        let mut buf = Zeroizing::new([0_u8; 512]);
        let n = key
            .read(&mut *buf)
            .map_err(kernel("a read of the vault key"))?;
        let vault = if n > buf.len() {
            let whole = Zeroizing::new(
                key.read_to_vec()
                    .map_err(kernel("a read of the vault key"))?,
            );
            decode_vault(&whole)
        } else {
            decode_vault(&buf[..n])
        };
        Ok(vault.map(|v| Vault {
            key: Some(key),
            ..v
        }))
    }

    /// Forgets this vault for good: its key goes from the kernel (unlinked at once, as a key
    /// only invalidated may linger until the kernel collects it), so its items can never be
    /// read again, even if their directory is made safe later. For a vault whose directory is
    /// not safe to use. Another process may be doing the same at this moment: only this key
    /// goes, never a vault made since.
    pub fn abandon(&self, home: &Home) {
        if let Some(key) = self.key {
            let _ = keyctl(
                KEYCTL_UNLINK,
                [libc::c_long::from(key.get_id().0), home.id, 0, 0],
            );
            let _ = key.invalidate();
        }
    }

    /// Makes the vault. Two processes making the first vault at once must not both succeed
    /// (the second key would replace the first, whose items could then no longer be read):
    /// the key is made in this thread's keyring and moved into place only if none is there
    /// (`KEYCTL_MOVE_EXCL`); the loser uses the winner's.
    pub fn make(home: &Home, dir_root: &Path) -> Result<Vault, Error> {
        // Refused before a key records it: a directory others could change is never the
        // store's, not even for one call.
        PrivateDir::create(dir_root).map_err(file_error(dir_root))?;
        let key = ChaCha20Poly1305::generate_key(&mut OsRng);
        let id: [u8; 8] = ChaCha20Poly1305::generate_nonce(&mut OsRng)[..8]
            .try_into()
            .expect("8 of 12 bytes");
        let dir = dir_root.join(hex(&id));
        let dir_bytes = dir.as_os_str().as_encoded_bytes();
        let mut payload = Zeroizing::new(Vec::with_capacity(41 + dir_bytes.len()));
        payload.push(VAULT_FORMAT);
        payload.extend_from_slice(&key);
        payload.extend_from_slice(&id);
        payload.extend_from_slice(dir_bytes);

        let thread = KeyRingIdentifier::Thread as libc::c_long;
        let made = add_key(thread, VAULT, &payload).map_err(kernel("a new vault key"))?;
        let made_id = libc::c_long::from(made.get_id().0);
        let (moved, copy_left) =
            match keyctl(KEYCTL_MOVE, [made_id, thread, home.id, KEYCTL_MOVE_EXCL]) {
                Ok(_) => (Ok(()), false),
                // Kernels before 5.1 cannot move keys: place a copy directly.
                Err(KeyError::OperationNotSupported) => {
                    (add_key(home.id, VAULT, &payload).map(drop), true)
                }
                // EEXIST: another process made the vault first.
                Err(e) => (Err(e), true),
            };
        if copy_left {
            let _ = made.invalidate();
        }
        match moved {
            Ok(()) => Ok(Vault {
                cipher: ChaCha20Poly1305::new(&key),
                dir,
                // Where a copy was placed instead, its id is not this one.
                key: (!copy_left).then_some(made),
            }),
            Err(KeyError::Unknown(libc::EEXIST)) => Self::find(home)?.ok_or(Error::Kernel {
                what: "the vault key another process made",
                source: KeyError::KeyDoesNotExist,
            }),
            Err(e) => Err(kernel("a new vault key")(e)),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, item: &str) -> PathBuf {
        self.dir.join(private_files::file_name(item))
    }

    /// The item directory, checked; `None` when it does not exist yet.
    fn open_dir(&self) -> Result<Option<PrivateDir>, Error> {
        match PrivateDir::open(&self.dir) {
            Ok(dir) => Ok(Some(dir)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_error(&self.dir)(e)),
        }
    }

    /// The item's bytes; `None` when there is no file, or one this vault did not seal for this
    /// item (another boot's, a corrupted or planted one).
    ///
    /// Read by its path, without walking the directories above (`read_self_proving`): a file
    /// that this vault did not seal for this item is never served, whoever controls them. The
    /// next write checks them, and abandons the vault if they are not safe.
    pub fn get(&self, item: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        let path = self.path(item);
        match private_files::read_self_proving(&path, MAX_ITEM_BYTES) {
            Ok(sealed) => Ok(self.open_sealed(item, &sealed)),
            // Not ours to read (root's, after a `sudo mfa-env`): say so rather than miss forever.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(file_error(&path)(e)),
            // Absent, or not a file we wrote (a link, a FIFO, a directory, too large): a miss,
            // which the next write replaces.
            Err(_) => Ok(None),
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
        let dir = PrivateDir::create(&self.dir).map_err(file_error(&self.dir))?;
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
        let name = private_files::file_name(item);
        let tmp = format!(
            ".{name}.{}.{:x}.tmp",
            std::process::id(),
            u64::from_be_bytes(nonce[..8].try_into().expect("8 bytes"))
        );
        dir.create_new(tmp.as_ref())
            .and_then(|mut f| {
                f.write_all(&header)?;
                f.write_all(&nonce)?;
                f.write_all(&ciphertext)
            })
            .and_then(|()| dir.rename(tmp.as_ref(), name.as_ref()))
            .map_err(|e| {
                let _ = dir.remove(tmp.as_ref());
                file_error(&self.dir.join(&name))(e)
            })?;
        self.sweep(now);
        Ok(())
    }

    /// Deletes the item; `false` when it was not there.
    pub fn delete(&self, item: &str) -> Result<bool, Error> {
        let Some(dir) = self.open_dir()? else {
            return Ok(false);
        };
        let name = private_files::file_name(item);
        dir.remove(name.as_ref())
            .map_err(|e| file_error(&self.dir.join(&name))(e))
    }

    /// Best effort, on the write path only: removes expired items and files left by an
    /// interrupted write, here and in the directories of other vaults (earlier boots; other
    /// machines or namespaces sharing this home), and such a directory once it is empty. Only
    /// files of ours are touched, and nothing that may still be of use: an item without expiry
    /// (a long-term key, the index) of another vault stays. Everything is reached relative to
    /// checked directories and never through a link: a link planted in place of a vault
    /// directory, or of a file in one, leads nowhere.
    fn sweep(&self, now: DateTime<Utc>) {
        let Some(root) = self.dir.parent().and_then(|r| PrivateDir::open(r).ok()) else {
            return;
        };
        let own = self.dir.file_name();
        for (name, kind) in root.entries().into_iter().flatten() {
            if kind != Kind::Dir || !is_vault_id(&name.to_string_lossy()) {
                continue;
            }
            let Ok(vault_dir) = root.subdir(&name) else {
                continue;
            };
            for (file, kind) in vault_dir.entries().into_iter().flatten() {
                if kind != Kind::File {
                    continue;
                }
                let text = file.to_string_lossy();
                let stale_tmp = text.starts_with('.')
                    && text.ends_with(".tmp")
                    && vault_dir
                        .modified(&file)
                        .is_ok_and(|m| now.timestamp() - m > 60);
                if stale_tmp || expired(&vault_dir, &file, now) {
                    let _ = vault_dir.remove(&file);
                }
            }
            if Some(name.as_os_str()) != own {
                let _ = root.remove_dir(&name);
            }
        }
    }
}

/// A sealed item is small: a session with a large token, the index of a few hundred sessions.
const MAX_ITEM_BYTES: u64 = 1 << 20;

/// The name of a vault's item directory: its id, 16 hex digits.
fn is_vault_id(name: &str) -> bool {
    name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

/// A long-term key stored by mfa-env 0.1's kernel store, which kept each item as a key of its
/// own (`keyring:<item>@mfa-env`, in the session keyring and linked into the persistent one):
/// its bytes, and the keys to unlink once they are kept in the vault. Without this, an upgrade
/// would lose the key.
pub fn legacy(home: &Home, item: &str) -> Option<(Zeroizing<Vec<u8>>, Key)> {
    let description = format!("keyring:{item}@mfa-env");
    let key = home.search(&description).ok().flatten().or_else(|| {
        KeyRing::from_special_id(KeyRingIdentifier::Session, false)
            .and_then(|s| s.search(&description))
            .ok()
    })?;
    let bytes = Zeroizing::new(key.read_to_vec().ok()?);
    Some((bytes, key))
}

/// Forgets a legacy key once its bytes are in the vault.
pub fn forget_legacy(key: Key) {
    let _ = key.invalidate();
}

/// Deletes every key mfa-env 0.1's layout kept for `item` (a copy may be linked from several
/// keyrings, or have been added twice); `true` if there was one. `remove` must be able to say a
/// leaked key is gone: otherwise the next call would move it back into the vault and sign
/// with it.
pub fn delete_legacy(home: &Home, item: &str) -> bool {
    let mut found = false;
    // Bounded: a key that cannot be invalidated (not ours to) would be found forever.
    for _ in 0..16 {
        let Some((_, key)) = legacy(home, item) else {
            break;
        };
        if key.invalidate().is_err() {
            break;
        }
        found = true;
    }
    found
}

fn expired(dir: &PrivateDir, name: &OsStr, now: DateTime<Utc>) -> bool {
    let mut header = [0_u8; HEADER_LEN];
    let read = dir
        .open_file(name)
        .and_then(|mut f| f.read_exact(&mut header));
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
    let (id, dir) = rest.split_at(8);
    let dir = PathBuf::from(std::ffi::OsStr::from_bytes(dir));
    // Only a directory of the shape mfa-env makes is used (and swept): anything else in the
    // key was not written by mfa-env.
    let shaped = dir.is_absolute()
        && dir.file_name().is_some_and(|n| *n == *hex(id))
        && dir
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == ROOT_NAME);
    shaped.then(|| Vault {
        cipher: ChaCha20Poly1305::new(CipherKey::from_slice(key)),
        dir,
        key: None,
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

    /// A vault whose items live in `root`/kernel-keyring/`id`, as mfa-env lays them out.
    pub fn vault_at(root: &Path, id: &str) -> Vault {
        Vault {
            cipher: ChaCha20Poly1305::new(&ChaCha20Poly1305::generate_key(&mut OsRng)),
            dir: root.join(ROOT_NAME).join(id),
            key: None,
        }
    }

    pub fn vault(root: &Path) -> Vault {
        vault_at(root, "0123456789abcdef")
    }

    pub fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000 + s, 0).unwrap()
    }

    #[test]
    fn items_round_trip_and_bind_to_their_name_and_key() {
        let tmp = tempfile::tempdir().unwrap();
        let v = vault(tmp.path());
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

#[cfg(test)]
mod first_vault {
    use super::*;

    /// A keyring of its own, in this process's session keyring, standing in for the persistent
    /// one; gone when dropped.
    struct Scratch(Home);

    impl Scratch {
        fn new() -> Self {
            let description = CString::new(format!("mfa-env-test-{}", std::process::id())).unwrap();
            let session = KeyRingIdentifier::Session as libc::c_long;
            // SAFETY: valid C strings; no payload.
            let id = unsafe {
                libc::syscall(
                    libc::SYS_add_key,
                    c"keyring".as_ptr(),
                    description.as_ptr(),
                    std::ptr::null::<u8>(),
                    0_usize,
                    session,
                )
            };
            assert!(
                id > 0,
                "cannot make a keyring: {}",
                std::io::Error::last_os_error()
            );
            Scratch(Home { id })
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = key(self.0.id).invalidate();
        }
    }

    #[test]
    fn first_callers_at_once_end_with_one_vault() {
        let scratch = Scratch::new();
        let root = tempfile::tempdir().unwrap();
        let start = std::sync::Barrier::new(8);
        let dirs: Vec<PathBuf> = std::thread::scope(|s| {
            let made: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        Vault::make(&scratch.0, &root.path().join(ROOT_NAME))
                            .unwrap()
                            .dir
                    })
                })
                .collect();
            made.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let kept = Vault::find(&scratch.0).unwrap().expect("a vault").dir;
        assert!(
            dirs.iter().all(|d| *d == kept),
            "every caller uses the vault that was kept: {dirs:?} vs {kept:?}"
        );
    }
}

#[cfg(test)]
mod hostile {
    use super::tests::*;
    use super::*;

    #[test]
    fn a_vault_naming_a_directory_mfa_env_did_not_make_is_refused() {
        let payload = |dir: &str| {
            let mut p = vec![VAULT_FORMAT];
            p.extend_from_slice(&[7; 32]);
            p.extend_from_slice(&[0xab; 8]);
            p.extend_from_slice(dir.as_bytes());
            p
        };
        assert!(
            decode_vault(&payload(
                "/home/u/.cache/mfa-env/kernel-keyring/abababababababab"
            ))
            .is_some()
        );
        for hostile in [
            "/home/u/Documents/mfa",
            "/home/u/.cache/mfa-env/kernel-keyring/0000000000000000",
            "/home/u/Documents/abababababababab",
            "relative/kernel-keyring/abababababababab",
            "/",
        ] {
            assert!(decode_vault(&payload(hostile)).is_none(), "{hostile}");
        }
    }

    #[test]
    fn a_sweep_touches_only_expired_items_of_ours() {
        let tmp = tempfile::tempdir().unwrap();
        let ours = vault_at(tmp.path(), "0123456789abcdef");
        let older = vault_at(tmp.path(), "fedcba9876543210");
        older.set("session", b"x", Some(at(10)), at(0)).unwrap();
        older.set("long-term", b"y", None, at(0)).unwrap();
        let elsewhere = tmp.path().join(ROOT_NAME).join("thesis");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("chapter1.tex"), "text").unwrap();
        ours.set("a", b"z", None, at(0)).unwrap();
        std::fs::write(ours.dir.join("notes.tmp"), "not ours").unwrap();
        ours.set("a", b"z", None, at(100)).unwrap();
        assert!(older.get("session").unwrap().is_none(), "expired, swept");
        assert!(
            older.get("long-term").unwrap().is_some(),
            "may still be of use"
        );
        assert!(
            elsewhere.join("chapter1.tex").exists(),
            "not a vault directory"
        );
        assert!(ours.dir.join("notes.tmp").exists(), "not a file of ours");
        std::fs::remove_file(older.path("long-term")).unwrap();
        ours.set("b", b"z", None, at(100)).unwrap();
        assert!(!older.dir.exists(), "an emptied vault directory goes");
    }

    /// Cleanup never follows a link: not one planted in place of a vault directory, nor one in
    /// a vault directory pointing at a file of the same name elsewhere.
    #[test]
    fn a_sweep_follows_no_link() {
        let tmp = tempfile::tempdir().unwrap();
        let ours = vault_at(tmp.path(), "0123456789abcdef");
        // Files that look like expired items of ours, and a stale temporary file, elsewhere.
        let victim = tmp.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        let other = vault_at(&tmp.path().join("other"), "fedcba9876543210");
        other.set("expired", b"x", Some(at(1)), at(0)).unwrap();
        std::fs::copy(other.path("expired"), victim.join("expired")).unwrap();
        std::fs::write(victim.join(".left.tmp"), "x").unwrap();
        let old = std::ffi::CString::new(victim.join(".left.tmp").as_os_str().as_encoded_bytes())
            .unwrap();
        let times = [libc::timespec {
            tv_sec: 1_000_000,
            tv_nsec: 0,
        }; 2];
        // SAFETY: a valid path and two timespecs.
        assert_eq!(
            unsafe { libc::utimensat(libc::AT_FDCWD, old.as_ptr(), times.as_ptr(), 0) },
            0
        );
        let root = tmp.path().join(ROOT_NAME);
        std::fs::create_dir_all(&ours.dir).unwrap();
        std::os::unix::fs::symlink(&victim, root.join("fedcba9876543210")).unwrap();
        std::os::unix::fs::symlink(victim.join("expired"), ours.dir.join("planted")).unwrap();
        ours.set("a", b"z", None, at(100)).unwrap();
        assert!(
            victim.join("expired").exists(),
            "not through a linked directory"
        );
        assert!(
            victim.join(".left.tmp").exists(),
            "not through a linked directory"
        );
        assert!(
            root.join("fedcba9876543210").exists(),
            "the link itself is left"
        );
    }

    /// The item directory is refused, and nothing is written, when a directory above it could
    /// be changed by someone else.
    #[test]
    fn a_directory_above_that_others_can_write_to_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let shared = tmp.path().join("x");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let v = vault(&shared.join("c/mfa-env"));
        let e = v.set("a", b"secret", None, at(0)).unwrap_err();
        assert!(matches!(e, Error::Unsafe { .. }), "{e}");
        assert!(e.to_string().contains("others can write to"), "{e}");
        assert!(!shared.join("c").exists(), "nothing made under it");
        assert!(v.get("a").unwrap().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn what_is_no_sealed_file_reads_as_absent_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let v = vault(tmp.path());
        v.set("ok", b"x", None, at(0)).unwrap();
        let fifo = v.path("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid path and mode.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(v.get("fifo").unwrap().is_none(), "a FIFO must not block");
        std::fs::create_dir(v.path("dir")).unwrap();
        assert!(v.get("dir").unwrap().is_none());
        std::os::unix::fs::symlink(v.path("ok"), v.path("link")).unwrap();
        assert!(v.get("link").unwrap().is_none(), "a link is not followed");
        let big = std::fs::File::create(v.path("big")).unwrap();
        big.set_len(MAX_ITEM_BYTES + 1).unwrap();
        assert!(v.get("big").unwrap().is_none());
        // And a write still works beside them (the sweep does not block on the FIFO).
        v.set("ok", b"y", None, at(0)).unwrap();
        assert_eq!(&**v.get("ok").unwrap().unwrap(), b"y");
    }
}
