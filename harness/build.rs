//! Embeds kbench's git revision (`KBENCH_GIT_REVISION`) for the manifest, and where
//! rdkafka-sys built librdkafka (`KBENCH_LIBRDKAFKA_BUILD`, from its `links` metadata) so
//! `kbench versus` can build librdkafka's own `rdkafka_performance` against the very same
//! library. Never fails the build: without git or a repository (a crate tarball, a copied
//! tree) the revision is "unknown".

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

fn main() {
    if let Ok(root) = std::env::var("DEP_RDKAFKA_ROOT") {
        println!("cargo:rustc-env=KBENCH_LIBRDKAFKA_BUILD={root}");
    }
    let rev = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KBENCH_GIT_REVISION={rev}");
    // Rebuild when HEAD moves: HEAD itself (a checkout), the branch it names (a commit), and
    // packed-refs. Only existing paths: cargo reruns the script every build for a missing one.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch.push(branch);
    }
    for p in watch {
        if let Some(path) = git(&["rev-parse", "--git-path", &p]) {
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    if rev == "unknown" {
        // No repository: the revision cannot change under us; don't rerun on every edit.
        println!("cargo:rerun-if-changed=build.rs");
    }
}
