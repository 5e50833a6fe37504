//! Many processes at once, as `terraform plan` or `xargs -P 32 aws …` start them: one prompt,
//! one STS call, a lock the OS frees when its holder dies, bounded waiting, and a cache hit
//! that never waits.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pty::Typist;
use common::*;
use nix::sys::signal::Signal;

#[test]
fn thirty_two_processes_make_one_sts_call() {
    let _k = shared();
    for keyring in [Keyring::Keyutils, Keyring::SecretService] {
        let dir = tempfile::tempdir().unwrap();
        let moto = Moto::start(dir.path());
        let bed = Bed::new(keyring, "p32", &moto.url);
        let started = Instant::now();
        let runs: Vec<_> = (0..32)
            .map(|_| {
                let mut cmd = Command::new(BIN);
                cmd.args([
                    "--format",
                    "process",
                    "--token-code",
                    CODE,
                    "--profile",
                    &bed.profile,
                ]);
                bed.apply_env(&mut cmd);
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                cmd.spawn().unwrap()
            })
            .collect();
        let outputs: Vec<_> = runs
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let elapsed = started.elapsed();
        let first = String::from_utf8_lossy(&outputs[0].stdout).into_owned();
        for o in &outputs {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert_eq!(
                String::from_utf8_lossy(&o.stdout),
                first,
                "all print the same session"
            );
        }
        assert_eq!(moto.calls(), 1, "32 processes, one GetSessionToken");
        eprintln!(
            "32 processes, {keyring:?}: {elapsed:?} end to end, {} STS call(s)",
            moto.calls()
        );
    }
}

#[test]
fn many_processes_on_one_terminal_see_one_prompt() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "oneprompt", &moto.url);
    let outs = dir.path().join("outs");
    std::fs::create_dir(&outs).unwrap();
    // 32 helpers started at once from one shell, all on the same terminal.
    let mut shell = Command::new(system_bin("bash"));
    shell.arg("-c").arg(format!(
        "for i in $(seq 32); do '{BIN}' -p '{}' --format process > '{}'/$i & done; wait",
        bed.profile,
        outs.display()
    ));
    let mut t = Typist::spawn_cmd(&bed, shell);
    t.wait_for("MFA code for profile", 1);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        t.screen().matches("MFA code for profile").count(),
        1,
        "one prompt: {:?}",
        t.screen()
    );
    t.type_line(CODE);
    let (out, _) = t.finish();
    out.ok();
    for i in 1..=32 {
        let text = std::fs::read_to_string(outs.join(i.to_string())).unwrap();
        assert!(
            text.contains("\"SessionToken\""),
            "helper {i} printed: {text:?}"
        );
    }
    assert_eq!(moto.calls(), 1);
}

/// Starts a process that takes the lock and then sits at the prompt.
fn lock_holder(bed: &Bed) -> Typist {
    let t = Typist::spawn(bed, &["--format", "process"]);
    t.wait_for("MFA code for profile", 1);
    t
}

#[test]
fn a_killed_lock_holder_frees_the_lock() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "sigkill", &moto.url);
    let mut holder = lock_holder(&bed);
    let waiter = std::thread::scope(|s| {
        let w = s.spawn(|| bed.run(&["--format", "process", "--token-code", CODE], None));
        std::thread::sleep(Duration::from_millis(800));
        assert!(
            !w.is_finished(),
            "the second process waits for the lock holder"
        );
        assert_eq!(moto.calls(), 0);
        holder.kill(Signal::SIGKILL);
        w.join().unwrap()
    });
    waiter.ok();
    assert_eq!(moto.calls(), 1);
    let (out, _) = holder.finish();
    assert_eq!(out.code, None, "the holder died by the signal");
}

#[test]
fn waiting_for_the_lock_is_bounded() {
    let _k = shared();
    let trip = Tripwire::new();
    let bed = Bed::new(Keyring::Keyutils, "lockwait", &trip.url);
    bed.append_config("mfa_env_lock_timeout_seconds = 1\n");
    let mut holder = lock_holder(&bed);
    let started = Instant::now();
    let out = bed.run(&["--format", "process", "--token-code", CODE], None);
    out.fails_with("another mfa-env process has been getting a session for profile");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(trip.connections(), 0);
    holder.kill(Signal::SIGKILL);
}

#[test]
fn a_cache_hit_never_waits_for_the_lock() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "hitnolock", &moto.url);
    bed.warm();
    let lock_dir = bed.lock_dir();
    let lock_file = std::fs::read_dir(&lock_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("session-{}-", bed.profile))
        })
        .expect("the miss created a lock file");
    let mut flock = Command::new(system_bin("flock"))
        .arg(&lock_file)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Command::new(system_bin("flock"))
        .args(["-n"])
        .arg(&lock_file)
        .arg("true")
        .status()
        .unwrap()
        .success()
    {
        assert!(Instant::now() < deadline, "flock never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    bed.run(&["--format", "process"], None).ok();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a hit waited {:?}",
        started.elapsed()
    );
    let _ = flock.kill();
    let _ = flock.wait();
}

/// Two cold calls started together, one with the desktop's environment and one as a cron job
/// or `ssh host cmd` has it (no XDG_RUNTIME_DIR, no XDG_CACHE_HOME): they meet at one lock, so
/// one asks for a code and calls STS, and the other is served the session it cached.
#[test]
fn callers_with_and_without_xdg_runtime_dir_share_one_lock() {
    let _k = shared();
    for keyring in [Keyring::Keyutils, Keyring::SecretService] {
        let dir = tempfile::tempdir().unwrap();
        let standin = StandIn::start(dir.path());
        let bed = Bed::new(keyring, "one-lock", &standin.url);
        // A code that takes a second to come (a person, a YubiKey touch), counted.
        let script = bed.dir.path().join("code.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncd '{}'\nn=$(( $(cat runs 2>/dev/null || echo 0) + 1 ))\necho $n > runs\nsleep 1\nprintf '%06d\\n' $((500000 + n))\n",
                bed.dir.path().display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        bed.append_config(&format!("mfa_process = {}\n", script.display()));
        let runs: Vec<_> = [
            &[][..],
            &["-u", "XDG_RUNTIME_DIR", "-u", "XDG_CACHE_HOME"][..],
        ]
        .into_iter()
        .map(|unset| {
            let mut cmd = Command::new(system_bin("env"));
            cmd.args(unset)
                .arg(BIN)
                .args(["--format", "process", "--profile", &bed.profile]);
            bed.spawn_cmd(cmd)
        })
        .collect();
        let outs: Vec<_> = runs
            .into_iter()
            .map(|c| Out::from(c.wait_with_output().unwrap()))
            .collect();
        for out in &outs {
            out.ok();
        }
        assert_eq!(outs[0].stdout, outs[1].stdout, "one session for both");
        let codes = std::fs::read_to_string(bed.dir.path().join("runs")).unwrap();
        assert_eq!(codes.trim(), "1", "{keyring:?}: one code for both");
        assert_eq!(standin.requests().len(), 1, "{}", standin.log());
    }
}
