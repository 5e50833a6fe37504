//! The freedesktop Secret Service (GNOME Keyring, KWallet, KeePassXC), through the
//! `dbus-secret-service` crate, over a *plain* session.
//!
//! Why plain: the session bus is a per-user Unix socket, and any process that could read the
//! secret off it can as well ask the (unlocked) service for it directly, so encrypting the
//! transfer protects nothing that a plain session exposes. The encrypted ("dh-ietf1024") session
//! costs two 1024-bit modular exponentiations per process: about 7 ms of a cached call that
//! otherwise takes 3 (see README, Performance). libsecret's own `secret-tool` reads the same
//! items either way.
//!
//! A locked collection is unlocked through the service's own prompt only while someone can
//! answer it, and then for a bounded time (`mfa_env_lock_timeout_seconds`): a KeePassXC database
//! locked behind a window nobody sees must fail in one line, not wait forever.
//!
//! Items carry the attributes `service = mfa-env` and `username = <item name>`, the same ones
//! the keyring crates use, so `secret-tool lookup service mfa-env username …` finds them.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use dbus_secret_service::{EncryptionType, Error, Item, Path, SecretService};
use zeroize::Zeroizing;

use super::{Durability, SERVICE, Unlock};

/// An item's D-Bus object path, as `Item::path` holds it.
type ItemPath = Path<'static>;

/// The in-memory collection every Secret Service has; what is in it is gone at logout.
const SESSION_COLLECTION: &str = "/org/freedesktop/secrets/collection/session";

pub struct Service {
    ss: SecretService,
    unlock: Unlock,
    /// Where the item last read under each name was. A process that reads one item again and
    /// again (the credentials endpoint) asks it for its secret directly: one D-Bus call in place
    /// of a search and a read. Any failure there (the item deleted, replaced or locked) falls
    /// back to the search.
    known: Mutex<HashMap<String, ItemPath>>,
}

/// What a search by name found.
pub enum Found<T> {
    None,
    One(T),
    /// More than one item answers to the name: another program made one. Never read.
    Many,
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(
        "the collection '{collection}' is locked and {why}; unlock it (log in to the desktop session, unlock the keyring or the KeePassXC database), then try again"
    )]
    Locked { collection: String, why: String },
    #[error(transparent)]
    Other(#[from] Error),
}

impl Service {
    /// Connects to the session bus and opens a session with the service: the probe that tells
    /// whether a Secret Service answers at all.
    pub fn connect(unlock: Unlock) -> Result<Self, Error> {
        SecretService::connect_with_max_prompt_timeout(
            EncryptionType::Plain,
            u64::from(unlock.seconds),
        )
        .map(|ss| Service {
            ss,
            unlock,
            known: Mutex::new(HashMap::new()),
        })
    }

    /// Unlocks what `paths` name through the service's prompt, if someone could answer it.
    fn unlock(
        &self,
        what: &str,
        unlock: impl FnOnce() -> Result<(), Error>,
    ) -> Result<(), Failure> {
        if !(self.unlock.someone_present)() {
            return Err(self.locked(what, false));
        }
        match unlock() {
            Ok(()) => Ok(()),
            Err(Error::Prompt | Error::Locked) => Err(self.locked(what, true)),
            Err(e) => Err(e.into()),
        }
    }

    fn known(&self) -> MutexGuard<'_, HashMap<String, ItemPath>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn attributes(item: &str) -> HashMap<&str, &str> {
        HashMap::from([("service", SERVICE), ("username", item)])
    }

    /// Why an unlock did not happen, for the one line the user reads.
    fn locked(&self, path: &str, asked: bool) -> Failure {
        // …/collection/<name>[/<item>]
        let collection = path
            .strip_prefix("/org/freedesktop/secrets/collection/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or(path)
            .to_owned();
        let why = if asked {
            format!(
                "was not unlocked within {} s (mfa_env_lock_timeout_seconds)",
                self.unlock.seconds
            )
        } else {
            "no one can be asked to unlock it here (no terminal, no display)".to_owned()
        };
        Failure::Locked { collection, why }
    }

    /// Every item with this name, unlocked (through the service's prompt, within the bound).
    fn find(&self, item: &str) -> Result<Vec<Item<'_>>, Failure> {
        self.find_with(&self.ss, item)
    }

    fn find_with<'s>(&self, ss: &'s SecretService, item: &str) -> Result<Vec<Item<'s>>, Failure> {
        let found = ss.search_items(Self::attributes(item))?;
        if let Some(first) = found.locked.first() {
            let locked: Vec<&Item<'_>> = found.locked.iter().collect();
            self.unlock(&first.path, || ss.unlock_all(&locked))?;
        }
        Ok(found.unlocked.into_iter().chain(found.locked).collect())
    }

    /// The item's secret. A service that forgot the session this process opened (seen with
    /// gnome-keyring under a burst of clients; also after the daemon restarts) gets one more
    /// try on a new session.
    pub fn get(&self, item: &str) -> Result<Found<Zeroizing<Vec<u8>>>, Failure> {
        match self.get_with(&self.ss, item) {
            Err(Failure::Other(Error::Dbus(e)))
                if e.name() == Some("org.freedesktop.Secret.Error.NoSession") =>
            {
                let fresh = SecretService::connect_with_max_prompt_timeout(
                    EncryptionType::Plain,
                    u64::from(self.unlock.seconds),
                )?;
                self.get_with(&fresh, item)
            }
            other => other,
        }
    }

    fn get_with(
        &self,
        ss: &SecretService,
        item: &str,
    ) -> Result<Found<Zeroizing<Vec<u8>>>, Failure> {
        let known = self.known().get(item).cloned();
        if let Some(path) = known {
            if let Ok(secret) = Item::new(ss, path).get_secret() {
                return Ok(Found::One(Zeroizing::new(secret)));
            }
            self.known().remove(item);
        }
        let mut items = self.find_with(ss, item)?;
        match items.len() {
            0 => Ok(Found::None),
            1 => {
                let found = items.remove(0);
                let secret = Zeroizing::new(found.get_secret()?);
                self.known().insert(item.to_owned(), found.path.clone());
                Ok(Found::One(secret))
            }
            _ => Ok(Found::Many),
        }
    }

    /// The secrets of every item with this name (more than one where two were created at
    /// once).
    pub fn get_all(&self, item: &str) -> Result<Vec<Zeroizing<Vec<u8>>>, Failure> {
        self.find(item)?
            .iter()
            .map(|i| Ok(Zeroizing::new(i.get_secret()?)))
            .collect()
    }

    /// Replaces the item's secret in place when there is exactly one; otherwise removes any
    /// duplicates and creates it in the default collection.
    pub fn set(&self, item: &str, label: &str, value: &[u8]) -> Result<(), Failure> {
        self.known().remove(item);
        let mut items = self.find(item)?;
        if items.len() == 1 {
            return Ok(items
                .remove(0)
                .set_secret(value, "application/octet-stream")?);
        }
        for duplicate in &items {
            duplicate.delete()?;
        }
        let collection = self.ss.get_any_collection()?;
        if collection.is_locked()? {
            self.unlock(&collection.path, || collection.unlock())?;
        }
        collection.create_item(
            label,
            Self::attributes(item),
            value,
            true,
            "application/octet-stream",
        )?;
        Ok(())
    }

    /// Deletes every item with this name; `false` when there was none.
    pub fn delete(&self, item: &str) -> Result<bool, Failure> {
        self.known().remove(item);
        let items = self.find(item)?;
        for i in &items {
            i.delete()?;
        }
        Ok(!items.is_empty())
    }

    /// Where `item` is kept (or a new item would go), and whether that survives a reboot: the
    /// in-memory `session` collection does not.
    pub fn durability(&self, item: Option<&str>) -> Result<Durability, Failure> {
        let path = match item {
            Some(name) => {
                let found = self.ss.search_items(Self::attributes(name))?;
                match found.unlocked.into_iter().chain(found.locked).next() {
                    Some(i) => i.path.to_string(),
                    None => return Err(Error::NoResult.into()),
                }
            }
            None => self.ss.get_any_collection()?.path.to_string(),
        };
        let in_session = path == SESSION_COLLECTION
            || path.starts_with(&format!("{SESSION_COLLECTION}/"))
            || self
                .ss
                .get_collection_by_alias("session")
                .is_ok_and(|c| path.starts_with(&*c.path));
        let name = path
            .strip_prefix("/org/freedesktop/secrets/collection/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or(&path)
            .to_owned();
        Ok(if in_session {
            Durability::Volatile(format!(
                "the Secret Service's in-memory collection '{name}', which is emptied at logout"
            ))
        } else {
            Durability::Survives(format!(
                "the Secret Service collection '{name}', which survives a reboot"
            ))
        })
    }
}
