//! Secrets never leak. Every output format and every error path runs here; then stdout, stderr,
//! the process's argv and every file under HOME, TMPDIR and the XDG directories are searched for
//! the long-term key, the session's key, secret and token, and the codes. Only the output that
//! was asked for may hold the session's secrets.

mod common;

use common::pty::Typist;
use common::*;

#[test]
fn no_secret_outside_the_requested_output() {
    let _k = shared();
    for keyring in [Keyring::Keyutils, Keyring::SecretService] {
        let dir = tempfile::tempdir().unwrap();
        let sts = StandIn::start(dir.path());
        let mut bed = Bed::new(keyring, "leak", &sts.url);
        let root = bed.dir.path().to_path_buf();
        for (var, sub) in [
            ("TMPDIR", "tmp"),
            ("XDG_RUNTIME_DIR", "run"),
            ("XDG_CACHE_HOME", "cache"),
            ("XDG_CONFIG_HOME", "config-home"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_STATE_HOME", "state"),
        ] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
            bed.set_env(var, root.join(sub).to_str().unwrap());
        }

        // The code comes on stdin, so argv holds nothing secret either.
        let first = bed.run(
            &["--format", "process", "--token-code", "-"],
            Some("135790\n"),
        );
        let session = first.ok().json();
        let session_secrets: Vec<String> = ["AccessKeyId", "SecretAccessKey", "SessionToken"]
            .iter()
            .map(|k| session[*k].as_str().unwrap().to_owned())
            .collect();
        let mut secrets: Vec<&str> = session_secrets.iter().map(String::as_str).collect();
        secrets.extend([
            LT_KEY_ID, LT_SECRET, "135790", "000000", "246802", "975310", "864209",
        ]);

        // Every format: the session's secrets only on stdout, nothing on stderr.
        for format in [
            "env",
            "env-no-export",
            "process",
            "powershell",
            "windows-cmd",
            "fish",
        ] {
            let out = bed.run(&["--format", format], None);
            out.ok();
            assert!(
                out.stdout.contains(&session_secrets[2]),
                "{format} prints the token"
            );
            assert_no_secret(&out.stdout, &[LT_KEY_ID, LT_SECRET, "135790"], "stdout");
            assert_no_secret(&out.stderr, &secrets, "stderr");
        }

        // exec hands the session to its command and prints nothing of its own.
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(["--profile", &bed.profile, "exec", "--", "true"]);
        let out = bed.run_cmd(cmd, None);
        out.ok();
        assert_no_secret(&(out.stdout + &out.stderr), &secrets, "exec's output");

        // A role assumed with the session: its secrets only on stdout; a refused role's error
        // holds none of them.
        bed.append_config(&format!(
            "[profile {p}-hub]\nrole_arn = arn:aws:iam::123456789012:role/Hub\nsource_profile = {p}\n\
             [profile {p}-denied]\nrole_arn = arn:aws:iam::123456789012:role/DeniedRole\nsource_profile = {p}\n",
            p = bed.profile
        ));
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(["--format", "process", "-p", &format!("{}-hub", bed.profile)]);
        let role = bed.run_cmd(cmd, None);
        role.ok();
        assert_eq!(role.stderr, "");
        let role_json = role.json();
        let role_secrets: Vec<String> = ["SecretAccessKey", "SessionToken"]
            .iter()
            .map(|k| role_json[*k].as_str().unwrap().to_owned())
            .collect();
        secrets.extend(role_secrets.iter().map(String::as_str));
        let mut cmd = std::process::Command::new(BIN);
        cmd.args([
            "--format",
            "process",
            "-p",
            &format!("{}-denied", bed.profile),
        ]);
        let denied = bed.run_cmd(cmd, None);
        assert!(denied.stderr.contains("AccessDenied"), "{}", denied.stderr);
        assert_no_secret(
            &(denied.stdout + &denied.stderr),
            &secrets,
            "a refused role's output",
        );

        // Every error path we can drive from here; none may print a secret anywhere.
        let mut errors: Vec<Out> = Vec::new();
        bed.run(&["clear"], None).ok();
        errors.push(bed.run(&["--token-code", "135790"], None)); // reused code
        errors.push(bed.run(&["--token-code", "000000"], None)); // rejected by STS
        errors.push(bed.run(&["--token-code", "24680"], None)); // malformed
        errors.push(bed.run(&["--token-code", "500500"], None)); // STS 500 after retries
        errors.push(bed.run(&[], None)); // no terminal
        bed.write_credentials("ASIAMFAENVTESTKEY001", LT_SECRET, None);
        errors.push(bed.run(&["--token-code", "246802"], None)); // temporary key
        bed.write_credentials(LT_KEY_ID, LT_SECRET, Some("FwoGZXIvYXdzEBYaDH"));
        errors.push(bed.run(&["--token-code", "246802"], None)); // key with a token
        bed.write_credentials(LT_KEY_ID, LT_SECRET, None);
        errors.push(bed.run(
            &bed.add_args(true),
            Some(&format!("ASIAMFAENVTESTKEY001\n{LT_SECRET}\n")),
        ));
        errors.push(bed.run(&bed.add_args(true), Some(&format!("{LT_KEY_ID}\n"))));
        // A keyring emptied at reboot refused (the key was on stdin, unread).
        if keyring == Keyring::Keyutils {
            errors.push(bed.run(
                &["add", "--stdin"],
                Some(&format!("{LT_KEY_ID}\n{LT_SECRET}\n")),
            ));
        }
        for mfa_process in ["echo 975310; exit 3", "echo 864209x", "echo 000000"] {
            bed.write_config(&format!(
                "mfa_serial = {}\nmfa_env_source_profile = {}-base\nmfa_process = {mfa_process}\n",
                bed.serial, bed.profile
            ));
            errors.push(bed.run(&[], None)); // failed, not a code, rejected by STS
        }
        bed.write_config(&format!(
            "mfa_serial = {}\nmfa_env_source_profile = {}-base\n",
            bed.serial, bed.profile
        ));
        for out in &errors {
            assert_ne!(out.code, Some(0), "{}", out.stderr);
            assert_eq!(out.stdout, "");
            assert_no_secret(&out.stderr, &secrets, "stderr");
            assert_no_secret(&out.stderr, &["FwoGZXIvYXdzEBYaDH"], "stderr");
        }
        for args in [&["status"][..], &["status", "--json"], &["remove"]] {
            let out = bed.run(args, None);
            out.ok();
            assert_no_secret(&out.stdout, &secrets, "stdout");
            assert_no_secret(&out.stderr, &secrets, "stderr");
        }

        // The argv of a process waiting at the prompt.
        let t = Typist::spawn(&bed, &["--format", "process"]);
        t.wait_for("MFA code for profile", 1);
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", t.pid)).unwrap();
        assert_no_secret(&String::from_utf8_lossy(&cmdline), &secrets, "argv");
        let mut t = t;
        t.kill(nix::sys::signal::Signal::SIGKILL);
        let _ = t.finish();

        // Files: the user's own config and credentials files aside, nothing we wrote holds one.
        std::fs::remove_file(bed.credentials_path()).unwrap();
        assert_no_secret(
            &bed.files_text(),
            &secrets,
            "files under HOME, TMPDIR and XDG dirs",
        );
        // The kernel store's sealed items live where its vault was made: this bed's cache
        // directory, or the test bed's if an earlier test made the vault. Ciphertext only.
        if keyring == Keyring::Keyutils {
            let bed_cache = std::path::PathBuf::from(
                std::env::var_os("XDG_CACHE_HOME").expect("the test bed sets XDG_CACHE_HOME"),
            );
            let mut sealed: Vec<_> = walk(&bed_cache.join("mfa-env"));
            sealed.extend(walk(&root.join("cache/mfa-env")));
            assert!(!sealed.is_empty(), "no sealed items found");
            for f in sealed {
                let bytes = std::fs::read(&f).unwrap_or_default();
                assert_no_secret(&String::from_utf8_lossy(&bytes), &secrets, "a sealed item");
            }
        }
        assert_eq!(
            walk(&root.join("run")),
            Vec::<std::path::PathBuf>::new(),
            "nothing goes to XDG_RUNTIME_DIR"
        );
        assert!(
            walk(&bed.lock_dir())
                .iter()
                .any(|p| p.to_string_lossy().contains(&bed.profile)),
            "the lock files went to ~/.cache/mfa-env/locks"
        );
    }
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
