//! The documentation against the binary: docs/cli.md lists exactly the commands `mentor-status
//! --help` has, and every `mentor-status` command the README and docs/cli.md show (as `cargo run
//! --release -- …` or `mentor-status …`) names a real command with flags it accepts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repository().join(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// `mentor-status <path…> --help`, which must succeed.
fn help(path: &[String]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_mentor-status"))
        .args(path)
        .arg("--help")
        .output()
        .expect("run mentor-status");
    assert!(
        output.status.success(),
        "`mentor-status {} --help` failed: {}",
        path.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The subcommands a help text lists under `Commands:` (clap's own `help` left out).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every leaf command of the binary, as its path (`users add`).
fn leaf_commands(path: Vec<String>, found: &mut BTreeSet<String>) {
    let children = subcommands(&help(&path));
    if children.is_empty() {
        found.insert(path.join(" "));
    }
    for child in children {
        let mut deeper = path.clone();
        deeper.push(child);
        leaf_commands(deeper, found);
    }
}

#[test]
fn docs_cli_lists_exactly_the_commands_of_the_binary() {
    let mut binary = BTreeSet::new();
    leaf_commands(Vec::new(), &mut binary);
    assert!(binary.contains("users add"), "{binary:?}");

    let cli = read("docs/cli.md");
    let documented: BTreeSet<String> = cli
        .lines()
        .skip_while(|line| line.trim() != "## Commands")
        .skip(1)
        .take_while(|line| !line.starts_with("## "))
        .filter_map(|line| line.strip_prefix("- `mentor-status "))
        .map(|rest| rest[..rest.find('`').expect("a closing backtick")].to_owned())
        .collect();
    assert_eq!(
        documented, binary,
        "docs/cli.md's command list and `mentor-status --help`"
    );
}

/// The command lines of the ```sh blocks of `text` that run mentor-status, without what comes
/// before the command's arguments.
fn shown_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_shell = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("```") {
            in_shell = line == "```sh";
            continue;
        }
        if !in_shell {
            continue;
        }
        for marker in [
            "cargo run --release -- ",
            "cargo run --release -q -- ",
            "mentor-status ",
        ] {
            if let Some(at) = line.find(marker) {
                let rest = &line[at + marker.len()..];
                // `install … target/release/mentor-status /usr/local/bin/mentor-status` names the
                // file, not a command.
                if !rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .contains('/')
                {
                    commands.push(rest.to_owned());
                }
                break;
            }
        }
    }
    commands
}

#[test]
fn every_command_the_readme_and_docs_show_exists_with_its_flags() {
    let mut shown = Vec::new();
    for document in ["README.md", "docs/cli.md", "docs/operations.md"] {
        let commands = shown_commands(&read(document));
        assert!(
            !commands.is_empty() || document != "README.md",
            "{document}"
        );
        shown.extend(commands.into_iter().map(|c| (document, c)));
    }
    for (document, line) in shown {
        let words: Vec<&str> = line
            .split_whitespace()
            .take_while(|w| !["|", ">", "<", "&&", ";", "\\", ")"].contains(w))
            .collect();
        // The command path: the words before the first option or argument value.
        let mut path = Vec::new();
        for word in &words {
            if word.starts_with('-') {
                break;
            }
            let mut candidate = path.clone();
            candidate.push((*word).to_owned());
            let parent = help(&path);
            if subcommands(&parent).iter().any(|c| c == word) {
                path = candidate;
            } else {
                break;
            }
        }
        assert!(
            !path.is_empty() || words.iter().all(|w| w.starts_with('-')),
            "{document}: `{line}` names no mentor-status command"
        );
        let text = help(&path);
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            let flag = flag.split('=').next().unwrap();
            let whole_word = text.match_indices(flag).any(|(at, _)| {
                !text[at + flag.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '-')
            });
            assert!(
                whole_word,
                "{document}: `{line}`: `mentor-status {}` has no {flag}",
                path.join(" ")
            );
        }
    }
}

#[test]
fn the_readme_test_command_exists() {
    let readme = read("README.md");
    assert!(readme.contains("./scripts/test"));
    let script = repository().join("scripts/test");
    let mode = std::fs::metadata(&script)
        .expect("scripts/test exists")
        .permissions();
    use std::os::unix::fs::PermissionsExt;
    assert!(mode.mode() & 0o111 != 0, "scripts/test is executable");
    let ci = read(".ci/run");
    assert!(
        ci.contains("./scripts/test"),
        "CI runs the README's test command"
    );
}
