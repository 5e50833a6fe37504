//! Records what a bug report needs to name the build (`mfa-env --version --verbose`): the
//! commit and the target. The commit comes from `MFA_ENV_COMMIT` if set (a packager's choice),
//! else from the `.cargo_vcs_info.json` that `cargo package` writes (a crates.io install has
//! no `.git`), else from `git`, with `-dirty` when tracked files differ from it; "unknown" when
//! none is there. Nothing here reads the clock, so two builds of one commit get the same bytes.
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=MFA_ENV_COMMIT");
    let commit = std::env::var("MFA_ENV_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(packaged_commit)
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=MFA_ENV_BUILD_COMMIT={commit}");
    println!(
        "cargo:rustc-env=MFA_ENV_BUILD_TARGET={}",
        std::env::var("TARGET").expect("cargo sets TARGET")
    );
}

fn packaged_commit() -> Option<String> {
    let path = Path::new(".cargo_vcs_info.json");
    if !path.exists() {
        return None;
    }
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(path).ok()?;
    // {"git": {"sha1": "…"}, …}: the one 40-hex value after "sha1".
    let after = &text[text.find("\"sha1\"")? + 6..];
    let start = after.find(|c: char| c.is_ascii_hexdigit())?;
    let sha: String = after[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    let dirty = text.contains("\"dirty\": true") || text.contains("\"dirty\":true");
    (sha.len() == 40).then(|| if dirty { sha + "-dirty" } else { sha })
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn git_commit() -> Option<String> {
    // Only this package's own repository (`.git` is a file in a worktree): sources unpacked
    // inside another one (a vendored copy) must not report that one's commit.
    if !Path::new(".git").exists() {
        return None;
    }
    // Rerun when HEAD moves (a commit, a checkout), the index changes, or a source does. Only
    // files that exist are named (cargo reruns every build for a missing one).
    let git_dir = git(&["rev-parse", "--absolute-git-dir"])?;
    let git_dir = Path::new(&git_dir);
    for file in [
        git_dir.join("HEAD"),
        git_dir.join("logs/HEAD"),
        git_dir.join("index"),
    ] {
        if file.exists() {
            println!("cargo:rerun-if-changed={}", file.display());
        }
    }
    for source in ["src", "build.rs", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={source}");
    }
    let sha = git(&["rev-parse", "HEAD"])?;
    if sha.len() != 40 {
        return None;
    }
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { sha + "-dirty" } else { sha })
}
