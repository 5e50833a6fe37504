//! `mfa-env setup` through the built binary: flags and a person at a terminal (a pty), moto's
//! IAM listing real MFA devices, the written profile used by the AWS CLI, and every refusal
//! leaving the files byte for byte as they were.

mod common;

use std::path::Path;
use std::process::Command;

use common::pty::Typist;
use common::*;

const OTHER_KEY_ID: &str = "AKIAKEEPMEKEEPME0001";
const OTHER_SECRET: &str = "keepMeSecret/0123456789abcdef";

/// A config with the things an editor must not disturb: comments, blank lines, another
/// profile, a sub-property block, a key without spaces.
fn messy_config(p: &str) -> String {
    format!(
        "# my AWS config\n[default]\nregion = eu-west-1\n\n; the profile to set up\n[profile {p}]\nregion=us-east-1\ns3 =\n  max_concurrent_requests = 20\n# trailing comment\n\n[profile other]\nmfa_serial = GAHT00000001\n"
    )
}

fn credentials_with_old_keys(p: &str) -> String {
    format!(
        "[{p}-old]\naws_access_key_id = {LT_KEY_ID}\naws_secret_access_key = {LT_SECRET}\n\n[keepme]\naws_access_key_id = {OTHER_KEY_ID}\naws_secret_access_key = {OTHER_SECRET}\n"
    )
}

fn write_files(bed: &Bed, config: &str, credentials: &str) {
    std::fs::write(bed.config_path(), config).unwrap();
    std::fs::write(bed.credentials_path(), credentials).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn backups(bed: &Bed) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(bed.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".mfa-env-backup-"))
        .collect()
}

fn setup(bed: &Bed, args: &[&str], stdin: Option<&str>) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.arg("setup").args(args).args(["-p", &bed.profile]);
    bed.run_cmd(cmd, stdin)
}

/// The fully scripted path, on a keyring that survives a reboot (the kernel keyring's rules are
/// `setup_keeps_the_keys_where_a_reboot_cannot_lose_them`): keys moved from a plaintext profile
/// into the keyring, the profile written in place with every other byte kept, a backup, and the result
/// working for the AWS CLI through the credential_process line setup wrote.
#[test]
fn setup_with_flags_writes_the_profile_and_moves_the_keys() {
    let _k = shared();
    {
        let keyring = Keyring::SecretService;
        let dir = tempfile::tempdir().unwrap();
        let moto = Moto::start(dir.path());
        let mut bed = Bed::new(keyring, "setup", &moto.url);
        let p = bed.profile.clone();
        let config = messy_config(&p);
        write_files(&bed, &config, &credentials_with_old_keys(&p));
        let out = setup(
            &bed,
            &[
                "--serial",
                &bed.serial,
                "--duration",
                "3600",
                "--key-from",
                &format!("{p}-old"),
                "--move-keys",
                "--yes",
            ],
            None,
        );
        out.ok();
        assert_no_secret(
            &(out.stdout.clone() + &out.stderr),
            &[LT_KEY_ID, LT_SECRET],
            "setup's output",
        );
        assert_eq!(out.stdout, "");
        assert_eq!(
            read(&bed.config_path()),
            format!(
                "# my AWS config\n[default]\nregion = eu-west-1\n\n; the profile to set up\n[profile {p}]\nregion=us-east-1\ns3 =\n  max_concurrent_requests = 20\ncredential_process = {BIN} --format process --profile {p}\nmfa_serial = {}\nduration_seconds = 3600\n# trailing comment\n\n[profile other]\nmfa_serial = GAHT00000001\n",
                bed.serial
            ),
            "only the three lines are new"
        );
        let backups = backups(&bed);
        assert_eq!(backups.len(), 1);
        assert_eq!(
            read(&backups[0]),
            config,
            "the backup is the old file, byte for byte"
        );
        assert_eq!(
            read(&bed.credentials_path()),
            format!(
                "[{p}-old]\n\n[keepme]\naws_access_key_id = {OTHER_KEY_ID}\naws_secret_access_key = {OTHER_SECRET}\n"
            ),
            "the moved keys are gone, the others kept"
        );
        for stale in std::fs::read_dir(bed.dir.path()).unwrap() {
            let name = stale.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".tmp"), "left behind: {name}");
        }

        // The key is in the keyring, and the AWS CLI gets a session through the written line.
        bed.set_env("AWS_PROFILE", &p);
        mfa(&bed, &["--format", "process", "--token-code", "246801"]).ok();
        let mut cmd = Command::new(venv_bin("aws"));
        cmd.args([
            "sts",
            "get-caller-identity",
            "--output",
            "text",
            "--query",
            "Account",
        ]);
        let who = bed.run_cmd(cmd, None);
        who.ok();
        assert_eq!(who.stdout.trim(), "123456789012");
        let doctor = mfa(&bed, &["doctor", "--offline"]);
        assert!(
            doctor
                .stdout
                .contains("ok       long-term key: a long-term key, stored by `mfa-env add`"),
            "{}",
            doctor.stdout
        );
    }
}

fn mfa(bed: &Bed, args: &[&str]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    bed.run_cmd(cmd, None)
}

/// `--dry-run`: the diff, keys redacted, and nothing changed: files, backups, keyring.
#[test]
fn dry_run_shows_the_diff_and_changes_nothing() {
    let _k = shared();
    let trip = Tripwire::new();
    let bed = Bed::new(Keyring::SecretService, "setup-dry", &trip.url);
    let p = bed.profile.clone();
    let (config, credentials) = (messy_config(&p), credentials_with_old_keys(&p));
    write_files(&bed, &config, &credentials);
    let old = format!("{p}-old");
    let out = setup(
        &bed,
        &[
            "--serial",
            &bed.serial,
            "--key-from",
            &old,
            "--move-keys",
            "--dry-run",
        ],
        None,
    );
    out.ok();
    for line in [
        format!("+credential_process = {BIN} --format process --profile {p}"),
        format!("+mfa_serial = {}", bed.serial),
        "+duration_seconds = 43200".to_owned(),
        "-aws_access_key_id = [REDACTED]".to_owned(),
        "-aws_secret_access_key = [REDACTED]".to_owned(),
        format!("--- {}", bed.config_path().display()),
        format!("--- {}", bed.credentials_path().display()),
        "# and the long-term key would be stored in the Secret Service".to_owned(),
    ] {
        assert!(
            out.stdout.lines().any(|l| l.starts_with(&line)),
            "no {line:?} in:\n{}",
            out.stdout
        );
    }
    assert_no_secret(
        &(out.stdout.clone() + &out.stderr),
        &[LT_KEY_ID, LT_SECRET, OTHER_SECRET],
        "the diff",
    );
    assert_eq!(read(&bed.config_path()), config);
    assert_eq!(read(&bed.credentials_path()), credentials);
    assert!(backups(&bed).is_empty());
    // Nothing in the keyring either: without a key source, setup has none to keep.
    setup(&bed, &["--serial", &bed.serial, "--yes"], None).fails_with("no long-term key");
    assert_eq!(trip.connections(), 0);
}

/// Creates an IAM user in moto with an access key and `devices` virtual MFA devices, enabled;
/// returns (key id, secret, device serials).
fn moto_user(moto: &Moto, dir: &Path, user: &str, devices: usize) -> (String, String, Vec<String>) {
    let aws = |args: &[&str]| -> String {
        let out = Command::new(venv_bin("aws"))
            .args(["--endpoint-url", &moto.url, "--output", "text", "iam"])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "AKIAADMINADMINADMIN1")
            .env("AWS_SECRET_ACCESS_KEY", "adminSecretAdminSecret")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "aws iam {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    aws(&["create-user", "--user-name", user]);
    let key = aws(&[
        "create-access-key",
        "--user-name",
        user,
        "--query",
        "AccessKey.[AccessKeyId,SecretAccessKey]",
    ]);
    let (id, secret) = key.split_once(char::is_whitespace).unwrap();
    let mut serials = Vec::new();
    for i in 0..devices {
        let png = dir.join(format!("{user}-{i}.png"));
        let serial = aws(&[
            "create-virtual-mfa-device",
            "--virtual-mfa-device-name",
            &format!("{user}-device-{i}"),
            "--outfile",
            png.to_str().unwrap(),
            "--bootstrap-method",
            "QRCodePNG",
            "--query",
            "VirtualMFADevice.SerialNumber",
        ]);
        aws(&[
            "enable-mfa-device",
            "--user-name",
            user,
            "--serial-number",
            &serial,
            "--authentication-code1",
            "123456",
            "--authentication-code2",
            "234567",
        ]);
        serials.push(serial);
    }
    (id.to_owned(), secret.trim().to_owned(), serials)
}

/// Without --serial, the user's devices come from IAM with the long-term key: one is taken;
/// of several, a script must choose, and is told which there are.
#[test]
fn setup_lists_the_users_mfa_devices() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(Keyring::SecretService, "setup-iam", &moto.url);
    bed.set_env("AWS_ENDPOINT_URL_IAM", &moto.url);
    write_files(&bed, "", "");
    let (id, secret, serials) = moto_user(&moto, dir.path(), &bed.profile, 1);
    let out = setup(
        &bed,
        &["--key-stdin", "--yes"],
        Some(&format!("{id}\n{secret}\n")),
    );
    out.ok();
    assert!(
        read(&bed.config_path()).contains(&format!("mfa_serial = {}\n", serials[0])),
        "{}",
        read(&bed.config_path())
    );
    assert!(
        out.stderr
            .contains(&format!("your MFA device: {}", serials[0])),
        "{}",
        out.stderr
    );
    assert_no_secret(&out.stderr, &[&id, &secret], "setup's output");

    let mut two = Bed::new(Keyring::SecretService, "setup-iam2", &moto.url);
    two.set_env("AWS_ENDPOINT_URL_IAM", &moto.url);
    write_files(&two, "", "");
    let (id, secret, serials) = moto_user(&moto, dir.path(), &two.profile, 2);
    let out = setup(
        &two,
        &["--key-stdin", "--yes"],
        Some(&format!("{id}\n{secret}\n")),
    );
    out.fails_with(&format!(
        "the user has 2 MFA devices ({}, {}); pass --serial",
        serials[0], serials[1]
    ));
    assert_eq!(read(&two.config_path()), "", "nothing written");
}

/// A person at a terminal: picks a profile's plaintext keys to move, the second of two devices,
/// the default duration, and confirms the diff.
#[test]
fn setup_asks_a_person_at_the_terminal() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(Keyring::SecretService, "setup-tty", &moto.url);
    bed.set_env("AWS_ENDPOINT_URL_IAM", &moto.url);
    let p = bed.profile.clone();
    let (id, secret, serials) = moto_user(&moto, dir.path(), &p, 2);
    let credentials =
        format!("[{p}-old]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n");
    write_files(&bed, "[default]\nregion = eu-west-1\n", &credentials);

    let mut cmd = Command::new(BIN);
    cmd.args(["setup", "-p", &p]);
    let mut t = Typist::spawn_cmd(&bed, cmd);
    t.wait_for(
        &format!("Profiles with plaintext long-term keys: {p}-old."),
        1,
    );
    t.type_line(&format!("{p}-old"));
    t.wait_for("Delete the plaintext keys", 1);
    t.type_line("y");
    t.wait_for("Which one [1]: ", 1);
    t.type_line("2");
    t.wait_for("Session length in seconds [43200]: ", 1);
    t.type_line("");
    t.wait_for(
        "Write these changes and store the long-term key in the keyring? [Y/n]",
        1,
    );
    t.type_line("");
    let (out, screen) = t.finish();
    out.ok();
    assert!(
        screen.contains(&format!("+mfa_serial = {}", serials[1])),
        "{screen}"
    );
    assert_no_secret(
        &(screen + &out.stderr + &out.stdout),
        &[&id, &secret],
        "the terminal",
    );
    assert_eq!(
        read(&bed.config_path()),
        format!(
            "[default]\nregion = eu-west-1\n\n[profile {p}]\ncredential_process = {BIN} --format process --profile {p}\nmfa_serial = {}\nduration_seconds = 43200\n",
            serials[1]
        )
    );
    assert_eq!(read(&bed.credentials_path()), format!("[{p}-old]\n"));
}

/// Every refusal: one line naming the fix, the files as they were, no network.
#[test]
fn bad_setup_input_is_refused_and_changes_nothing() {
    let _k = shared();
    let trip = Tripwire::new();
    let mut bed = Bed::new(Keyring::SecretService, "setup-bad", &trip.url);
    bed.set_env("AWS_ENDPOINT_URL_IAM", &trip.url);
    let p = bed.profile.clone();
    let serial = bed.serial.clone();
    let old = format!("{p}-old");
    let temp = format!("{p}-temp");
    let config = messy_config(&p);
    let credentials = format!(
        "{}[{p}-temp]\naws_access_key_id = AKIATEMPTEMPTEMP0001\naws_secret_access_key = tempSecret/0123456789\naws_session_token = token\n",
        credentials_with_old_keys(&p)
    );
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (
            vec!["--serial", "my phone", "--key-from", &old, "--yes"],
            None,
            "mfa_serial = \"my phone\" is not",
        ),
        (
            vec![
                "--serial",
                &serial,
                "--duration",
                "100",
                "--key-from",
                &old,
                "--yes",
            ],
            None,
            "a session length of 100 s is out of range; use 900 to 129600",
        ),
        (
            vec!["--serial", &serial, "--key-from", "nope", "--yes"],
            None,
            "--key-from: profile 'nope' has neither aws_access_key_id and aws_secret_access_key nor a credential_process",
        ),
        (
            vec!["--serial", &serial, "--yes"],
            None,
            "no long-term key: pass --key-from PROFILE",
        ),
        (
            vec!["--serial", &serial, "--key-stdin", "--yes"],
            Some("ASIAIOSFODNN7EXAMPL1\nsecretsecretsecret1\n"),
            "temporary key",
        ),
        (
            vec!["--serial", &serial, "--key-from", &temp, "--yes"],
            None,
            "aws_session_token",
        ),
        (
            vec![
                "--serial",
                &serial,
                "--key-from",
                &old,
                "--region",
                "Not A Region",
                "--yes",
            ],
            None,
            "is not a region name",
        ),
    ];
    let check_unchanged = |bed: &Bed, what: &str| {
        assert_eq!(read(&bed.config_path()), config, "{what}: config changed");
        assert_eq!(
            read(&bed.credentials_path()),
            credentials,
            "{what}: credentials changed"
        );
        assert!(backups(bed).is_empty(), "{what}: a backup was made");
    };
    for (args, stdin, expected) in &cases {
        write_files(&bed, &config, &credentials);
        let out = setup(&bed, args, *stdin);
        out.fails_with(expected);
        assert_no_secret(
            &out.stderr,
            &[LT_KEY_ID, LT_SECRET, "secretsecretsecret1"],
            "stderr",
        );
        check_unchanged(&bed, &format!("{args:?}"));
    }
    assert_eq!(trip.connections(), 0);

    // Devices cannot be listed (the endpoint hangs up): a script is told to pass --serial.
    setup(&bed, &["--key-from", &old, "--yes"], None)
        .fails_with("the MFA devices could not be listed (could not reach STS");
    check_unchanged(&bed, "listing failed");

    // The profile's own plaintext keys win over credential_process: they must be moved.
    let own =
        format!("[{p}]\naws_access_key_id = {LT_KEY_ID}\naws_secret_access_key = {LT_SECRET}\n");
    write_files(&bed, &config, &own);
    setup(&bed, &["--serial", &serial, "--yes"], None).fails_with("pass --move-keys");
    assert_eq!(read(&bed.credentials_path()), own);

    // A role profile is not made into an mfa-env profile.
    let role =
        format!("[profile {p}]\nrole_arn = arn:aws:iam::123456789012:role/R\nsource_profile = x\n");
    write_files(&bed, &role, &credentials);
    setup(
        &bed,
        &["--serial", &serial, "--key-from", &old, "--yes"],
        None,
    )
    .fails_with("it has role_arn");
    assert_eq!(read(&bed.config_path()), role);

    // An absent keyring: refused before anything is asked or written.
    write_files(&bed, &config, &credentials);
    bed.set_env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    let out = setup(
        &bed,
        &[
            "--serial",
            &serial,
            "--key-from",
            &old,
            "--yes",
            "--keyring",
            "secret-service",
        ],
        None,
    );
    out.fails_with("Secret Service");
    check_unchanged(&bed, "absent keyring");
}

/// On a keyring emptied at reboot (here the kernel keyring) no long-term key may end up there
/// alone: `--move-keys` is refused, the keys stay in their profile and the set-up profile names
/// it in mfa_env_source_profile; `--volatile-ok` adds a keyring copy and keeps the plaintext;
/// a typed key or the profile's own keys are refused with what to do. `doctor` tells which.
#[test]
fn setup_keeps_the_keys_where_a_reboot_cannot_lose_them() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(Keyring::Keyutils, "setup-volatile", &moto.url);
    let p = bed.profile.clone();
    let old = format!("{p}-old");
    let serial = bed.serial.clone();
    let config = messy_config(&p);
    let credentials = credentials_with_old_keys(&p);
    write_files(&bed, &config, &credentials);
    let unchanged = |bed: &Bed| {
        assert_eq!(read(&bed.config_path()), config);
        assert_eq!(read(&bed.credentials_path()), credentials);
        assert!(backups(bed).is_empty());
    };

    let base = [
        "--serial",
        serial.as_str(),
        "--key-from",
        old.as_str(),
        "--yes",
    ];
    setup(&bed, &[&base[..], &["--move-keys"]].concat(), None).fails_with(
        "only in the kernel keyring, which is emptied at every reboot (and after 3 days unused); run without --move-keys",
    );
    unchanged(&bed);
    setup(
        &bed,
        &["--serial", &serial, "--key-stdin", "--yes"],
        Some(&format!("{LT_KEY_ID}\n{LT_SECRET}\n")),
    )
    .fails_with(&format!(
        "put the key in a profile of ~/.aws/credentials, such as [{p}-long-term]"
    ));
    unchanged(&bed);
    let own =
        format!("[{p}]\naws_access_key_id = {LT_KEY_ID}\naws_secret_access_key = {LT_SECRET}\n");
    std::fs::write(bed.credentials_path(), &own).unwrap();
    setup(&bed, &["--serial", &serial, "--move-keys", "--yes"], None).fails_with(&format!(
        "move them to a profile of their own, such as [{p}-long-term]"
    ));
    assert_eq!(read(&bed.credentials_path()), own);
    std::fs::write(bed.credentials_path(), &credentials).unwrap();

    // Without --move-keys: the keys stay, the profile points at them, nothing is stored.
    let out = setup(&bed, &base, None);
    assert!(
        out.ok()
            .stderr
            .contains(&format!("stays in the plaintext keys of profile '{old}'")),
        "{}",
        out.stderr
    );
    assert!(read(&bed.config_path()).contains(&format!("mfa_env_source_profile = {old}\n")));
    assert_eq!(read(&bed.credentials_path()), credentials, "the keys stay");
    bed.set_env("AWS_PROFILE", &p);
    let doctor = mfa(&bed, &["doctor", "--offline"]);
    assert!(
        doctor.stdout.contains(&format!(
            "ok       long-term key: a long-term key, static keys of profile '{old}', in a plain file (survives a reboot)"
        )),
        "{}",
        doctor.stdout
    );
    mfa(&bed, &["--format", "process", "--token-code", "246803"]).ok();

    // --volatile-ok: a keyring copy as well, and the plaintext is kept.
    let out = setup(
        &bed,
        &[&base[..], &["--move-keys", "--volatile-ok"]].concat(),
        None,
    );
    assert!(
        out.ok().stderr.contains("stored the long-term key"),
        "{}",
        out.stderr
    );
    assert_eq!(
        read(&bed.credentials_path()),
        credentials,
        "the plaintext copy stays"
    );
    let doctor = mfa(&bed, &["doctor", "--offline"]);
    assert!(
        doctor.stdout.contains("note     long-term key: a long-term key, stored by `mfa-env add`, in the kernel keyring, which is emptied at every reboot (and after 3 days unused); after a reboot the plaintext keys of mfa_env_source_profile are used"),
        "{}",
        doctor.stdout
    );

    // A key kept only there: doctor calls it a problem.
    bed.write_config(&format!("mfa_serial = {serial}\n"));
    let doctor = mfa(&bed, &["doctor", "--offline"]);
    assert!(
        doctor.stdout.contains("PROBLEM  long-term key: the long-term key is only in the kernel keyring, which is emptied at every reboot (and after 3 days unused): it is lost at the next reboot"),
        "{}",
        doctor.stdout
    );
}

/// Dotfiles kept in a repository: the config and credentials files are symlinks. Setup edits
/// their targets and leaves the links; the config's backup holds no moved key and is the
/// user's alone; a second setup in the same second gets a backup of its own.
#[test]
fn setup_edits_symlinked_files_where_they_are_and_backs_up_no_key() {
    use std::os::unix::fs::PermissionsExt;
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::SecretService, "setup-links", &moto.url);
    let p = bed.profile.clone();
    let dotfiles = bed.dir.path().join("dotfiles");
    std::fs::create_dir(&dotfiles).unwrap();
    // The keys sit in the config file itself, in the profile being set up.
    let config = format!(
        "[profile {p}]\naws_access_key_id = {LT_KEY_ID}\naws_secret_access_key = {LT_SECRET}\nregion = eu-west-1\n[profile {p}-two]\nregion = eu-west-1\n"
    );
    std::fs::write(dotfiles.join("config"), &config).unwrap();
    std::fs::set_permissions(
        dotfiles.join("config"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::write(dotfiles.join("credentials"), "").unwrap();
    for name in ["config", "credentials"] {
        std::fs::remove_file(bed.dir.path().join(name)).ok();
        std::os::unix::fs::symlink(format!("dotfiles/{name}"), bed.dir.path().join(name)).unwrap();
    }
    // Another run's backups of this second and the next are there already.
    let now = mfa_env::clock::now();
    for s in 0..3 {
        let stamp = (now + chrono::TimeDelta::seconds(s)).format("%Y%m%dT%H%M%SZ");
        std::fs::write(
            dotfiles.join(format!("config.mfa-env-backup-{stamp}")),
            "older",
        )
        .unwrap();
    }

    setup(
        &bed,
        &["--serial", &bed.serial, "--move-keys", "--yes"],
        None,
    )
    .ok();
    let mut two = Command::new(BIN);
    two.args([
        "setup",
        "-p",
        &format!("{p}-two"),
        "--serial",
        &bed.serial,
        "--key-stdin",
        "--yes",
    ]);
    bed.run_cmd(two, Some(&format!("{LT_KEY_ID}\n{LT_SECRET}\n")))
        .ok();

    for name in ["config", "credentials"] {
        let link = bed.dir.path().join(name);
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{name} is still a link"
        );
    }
    let written = read(&dotfiles.join("config"));
    assert!(
        written.contains(&format!(
            "credential_process = {BIN} --format process --profile {p}\n"
        )),
        "{written}"
    );
    assert!(
        written.contains(&format!("--profile {p}-two\n")),
        "{written}"
    );
    assert_no_secret(&written, &[LT_KEY_ID, LT_SECRET], "the config file");
    let ours: Vec<_> = std::fs::read_dir(&dotfiles)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|b| b.to_string_lossy().contains(".mfa-env-backup-") && read(b) != "older")
        .collect();
    assert_eq!(ours.len(), 2, "one backup per run: {ours:?}");
    for b in &ours {
        assert_no_secret(&read(b), &[LT_KEY_ID, LT_SECRET], "a backup");
        assert_eq!(
            std::fs::metadata(b).unwrap().permissions().mode() & 0o777,
            0o600,
            "{b:?}"
        );
    }
}

/// A `[profile]` section of the credentials file overrides the config file's in every SDK:
/// setup refuses to write a profile that such a section would change, and changes nothing.
#[test]
fn setup_refuses_a_profile_the_credentials_file_overrides() {
    let _k = shared();
    let trip = Tripwire::new();
    let bed = Bed::new(Keyring::SecretService, "setup-shadow", &trip.url);
    let p = bed.profile.clone();
    let config = messy_config(&p);
    let credentials = format!(
        "{}[{p}]\ncredential_process = /usr/local/bin/other-helper\n",
        credentials_with_old_keys(&p)
    );
    write_files(&bed, &config, &credentials);
    setup(
        &bed,
        &["--serial", &bed.serial, "--key-from", &format!("{p}-old"), "--yes"],
        None,
    )
    .fails_with(&format!(
        "[{p}] in {} sets credential_process = /usr/local/bin/other-helper, which every SDK takes over [profile {p}]",
        bed.credentials_path().display()
    ));
    assert_eq!(read(&bed.config_path()), config);
    assert_eq!(read(&bed.credentials_path()), credentials);
    assert!(backups(&bed).is_empty());
    assert_eq!(trip.connections(), 0);
}
