//! `mfa-env add`: the long-term key into the keyring, typed at a hidden prompt or read from
//! stdin; `setup` asks for a key the same way.

use std::io::BufRead;

use zeroize::Zeroizing;

use crate::cli::Global;
use crate::code::tty;
use crate::credentials::{cache, longterm};
use crate::error::{Error, Result};
use crate::profile::config;
use crate::secret::LongTermKey;

/// `mfa-env add`: stores the long-term key pair, from a hidden prompt or two lines on stdin,
/// and drops the profile's sessions, which were made with the previous key. A keyring emptied
/// at reboot would hold the key's only copy, so it is refused unless the user says so.
pub fn run(global: &Global, from_stdin: bool, volatile_ok: bool) -> Result<()> {
    let profile = global.profile();
    // Open the keyring before asking for secrets, so an absent keyring costs no typing.
    let store = super::open_store(global)?;
    let durability = store.durability_of_write(&longterm::item_name(profile))?;
    if !durability.survives() && !volatile_ok {
        return Err(Error::VolatileStore {
            profile: profile.to_owned(),
            store: durability.describe().to_owned(),
            fix: format!(
                "put the key in a profile of ~/.aws/credentials and name that profile in mfa_env_source_profile (`mfa-env setup -p {profile} --key-from THAT-PROFILE`), or pass --volatile-ok and keep a copy elsewhere"
            ),
        });
    }
    let key = if from_stdin {
        key_from_stdin()?
    } else {
        key_from_terminal(profile)?
    };
    longterm::validate_new(&key, profile)?;
    let legacy = longterm::store_key(&store, profile, &key)?;
    let cleared = cache::clear(&store, Some(profile), None)?;
    eprintln!(
        "mfa-env: stored the long-term key for profile '{profile}' in the {}{}{}",
        store.name(),
        if legacy {
            "; removed the old key's copy from the kernel keyring (mfa-env 0.1's layout)"
        } else {
            ""
        },
        if cleared > 0 {
            format!("; removed {cleared} cached session(s) made with the old key")
        } else {
            String::new()
        }
    );
    if !durability.survives() {
        eprintln!(
            "mfa-env: note: {} — keep a copy of the key elsewhere",
            durability.describe()
        );
    }
    if let Err(e) = config::load(profile) {
        eprintln!("mfa-env: note: the key is stored, but the profile is not usable yet: {e}");
    }
    Ok(())
}

pub fn key_from_stdin() -> Result<LongTermKey> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock();
    let mut read = |what| -> Result<Zeroizing<String>> {
        let mut line = Zeroizing::new(String::new());
        match lines.read_line(&mut line) {
            Ok(0) => Err(Error::Stdin {
                what,
                why: "missing: give the key id and the secret key as two lines".into(),
            }),
            Ok(_) => Ok(Zeroizing::new(line.trim().to_owned())),
            Err(e) => Err(Error::Stdin {
                what,
                why: e.to_string(),
            }),
        }
    };
    let id = read("the access key id")?;
    let secret = read("the secret access key")?;
    Ok(LongTermKey {
        access_key_id: id.as_str().into(),
        secret_access_key: secret.as_str().into(),
    })
}

pub fn key_from_terminal(profile: &str) -> Result<LongTermKey> {
    let tty = tty::open().map_err(|e| Error::Stdin {
        what: "the key pair",
        why: format!(
            "no terminal to prompt on (/dev/tty: {e}); pipe two lines to `mfa-env add --stdin`"
        ),
    })?;
    let ask = |what: &str| -> Result<Zeroizing<String>> {
        tty::ask_hidden(&tty, &format!("{what} for profile '{profile}': "))
            .map_err(|e| Error::Prompt(e.to_string()))
    };
    let id = ask("AWS access key id")?;
    let secret = ask("AWS secret access key")?;
    Ok(LongTermKey {
        access_key_id: id.trim().into(),
        secret_access_key: secret.trim().into(),
    })
}
