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
//! Items carry the attributes `service = mfa-env` and `username = <item name>`, the same ones
//! the keyring crates use, so `secret-tool lookup service mfa-env username …` finds them.

use std::collections::HashMap;

use dbus_secret_service::{EncryptionType, Error, Item, SecretService};
use zeroize::Zeroizing;

use super::SERVICE;

pub struct Service {
    ss: SecretService,
}

/// What a search by name found.
pub enum Found<T> {
    None,
    One(T),
    /// More than one item answers to the name: another program made one. Never read.
    Many,
}

impl Service {
    /// Connects to the session bus and opens a session with the service: the probe that tells
    /// whether a Secret Service answers at all.
    pub fn connect() -> Result<Self, Error> {
        SecretService::connect(EncryptionType::Plain).map(|ss| Service { ss })
    }

    fn attributes(item: &str) -> HashMap<&str, &str> {
        HashMap::from([("service", SERVICE), ("username", item)])
    }

    /// Every item with this name, unlocked (the service prompts the user for a locked one, and
    /// refuses if no one can answer).
    fn find(&self, item: &str) -> Result<Vec<Item<'_>>, Error> {
        let found = self.ss.search_items(Self::attributes(item))?;
        if !found.locked.is_empty() {
            let locked: Vec<&Item<'_>> = found.locked.iter().collect();
            self.ss.unlock_all(&locked)?;
        }
        Ok(found.unlocked.into_iter().chain(found.locked).collect())
    }

    pub fn get(&self, item: &str) -> Result<Found<Zeroizing<Vec<u8>>>, Error> {
        let mut items = self.find(item)?;
        match items.len() {
            0 => Ok(Found::None),
            1 => Ok(Found::One(Zeroizing::new(items.remove(0).get_secret()?))),
            _ => Ok(Found::Many),
        }
    }

    /// Replaces the item's secret in place when there is exactly one; otherwise removes any
    /// duplicates and creates it in the default collection.
    pub fn set(&self, item: &str, label: &str, value: &[u8]) -> Result<(), Error> {
        let mut items = self.find(item)?;
        if items.len() == 1 {
            return items
                .remove(0)
                .set_secret(value, "application/octet-stream");
        }
        for duplicate in &items {
            duplicate.delete()?;
        }
        let collection = self.ss.get_any_collection()?;
        collection.ensure_unlocked()?;
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
    pub fn delete(&self, item: &str) -> Result<bool, Error> {
        let items = self.find(item)?;
        for i in &items {
            i.delete()?;
        }
        Ok(!items.is_empty())
    }
}
