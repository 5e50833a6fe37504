//! The floor that `scripts/bench` measures mfa-env's cached call against: read one item with the
//! same crates and store settings mfa-env uses (dbus-secret-service over a plain session; for
//! the kernel keyring, mfa-env's own store: the vault key from the persistent keyring and one
//! sealed file), write its bytes to stdout, exit. Nothing else: no config files, no JSON, no
//! command-line parser.
//!
//!   minimal_read secret-service|keyutils ITEM

#[cfg(target_os = "linux")]
fn main() {
    use std::io::Write;

    let mut args = std::env::args().skip(1);
    let (Some(store), Some(item)) = (args.next(), args.next()) else {
        eprintln!("usage: minimal_read secret-service|keyutils ITEM");
        std::process::exit(2);
    };
    let secret = match store.as_str() {
        "secret-service" => {
            use dbus_secret_service::{EncryptionType, SecretService};
            let ss = SecretService::connect(EncryptionType::Plain).expect("open");
            let attributes = std::collections::HashMap::from([
                ("service", "mfa-env"),
                ("username", item.as_str()),
            ]);
            let found = ss.search_items(attributes).expect("search");
            found.unlocked[0].get_secret().expect("read")
        }
        "keyutils" => {
            use mfa_env::store::{Store, StoreChoice};
            let store =
                Store::open(StoreChoice::Keyutils, mfa_env::store::Unlock::NEVER).expect("open");
            store.get(&item).expect("read").expect("present").to_vec()
        }
        other => panic!("unknown store {other}"),
    };
    std::io::stdout().write_all(&secret).expect("write");
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("minimal_read: Linux only");
    std::process::exit(2);
}
