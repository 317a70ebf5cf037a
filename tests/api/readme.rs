//! The README's shell snippets run as written, against the real binary in development mode, so
//! the front door can never drift from the product.
//!
//! Every fenced block whose info string is exactly `sh` is run, in README order, in **one**
//! bash session (a reader's terminal: variables set by one block are seen by the next). A block
//! marked `sh no-run` is shown only (Docker, production, benchmarks); the marker sits in the
//! info string, which renderers ignore after the language.
//!
//! The comments are checked too. In a trailing comment, every `"quoted"` text and every
//! upper-case code (`UNAVAILABLE`, `IDEMPOTENCY_KEY_REUSED`) is a claim the command's output must
//! contain; text in parentheses is commentary and not checked. A comment that starts with
//! `error` says the command must fail; any other command must succeed.
//!
//! The snippets say `cargo run -q --release -- ARGS` and `paygate ARGS`; here both run the binary
//! under test (`cargo` is a shell function that refuses anything but `run`), and the fixed
//! development addresses in the text are swapped for the ports the server got (port 0). The
//! session runs in a tempdir where `tests/`, `deploy/` and `examples/` link to the repository's,
//! so paths read as from the repository root and files a snippet writes land in the tempdir.

use crate::dev_server::start_dev_server;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// A fenced block of the README: its first line number and info string, and its text.
struct Block {
    line: usize,
    info: String,
    body: Vec<String>,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in readme.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    line: i + 1,
                    info: info.trim().to_owned(),
                    body: Vec::new(),
                });
            }
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some(block), None) => block.body.push(line.to_owned()),
            (None, None) => {}
        }
    }
    out
}

/// A command and what its trailing comment claims.
#[derive(Debug, PartialEq)]
struct Step {
    command: String,
    claims: Vec<String>,
    must_fail: bool,
}

/// Splits `line` at the `#` that starts a comment: outside quotes, at the start of a word.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let (mut single, mut double) = (false, false);
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && previous.is_whitespace() => {
                return (line[..i].trim_end(), Some(line[i + 1..].trim()));
            }
            _ => {}
        }
        previous = c;
    }
    (line.trim_end(), None)
}

/// The claims of a comment: quoted texts and upper-case codes, parentheses left out.
fn claims(comment: &str) -> Vec<String> {
    let mut depth = 0usize;
    let outside: String = comment
        .chars()
        .filter(|c| {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    return false;
                }
                _ => {}
            }
            depth == 0
        })
        .collect();
    let mut out: Vec<String> = outside
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|quoted| !quoted.is_empty())
        .map(str::to_owned)
        .collect();
    let unquoted: String = outside.split('"').step_by(2).collect::<Vec<_>>().join(" ");
    out.extend(
        unquoted
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| {
                w.len() >= 5
                    && w.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    && w.chars().any(|c| c.is_ascii_uppercase())
            })
            .map(str::to_owned),
    );
    out
}

fn steps(body: &[String]) -> Vec<Step> {
    let mut joined = Vec::new();
    let mut pending = String::new();
    for line in body {
        match line.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                joined.push(std::mem::take(&mut pending));
            }
        }
    }
    joined
        .iter()
        .filter_map(|line| {
            let (command, comment) = split_comment(line);
            if command.trim().is_empty() {
                return None;
            }
            let comment = comment.unwrap_or("");
            Some(Step {
                command: command.trim().to_owned(),
                claims: claims(comment),
                must_fail: comment.starts_with("error"),
            })
        })
        .collect()
}

/// Single-quotes `text` for bash.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The bash script for the runnable blocks: each step checked as its comment says.
fn script(blocks: &[&Block]) -> String {
    let mut out = String::from(PRELUDE);
    for block in blocks {
        for step in steps(&block.body) {
            let at = quote(&format!("README line {}: {}", block.line, step.command));
            let expect = if step.must_fail { "fail" } else { "ok" };
            let claims: Vec<String> = step.claims.iter().map(|c| quote(c)).collect();
            if step.claims.is_empty() && !step.must_fail {
                // In the session's own shell, so assignments and functions persist.
                out.push_str(&format!(
                    "__say {at}\n{}\n__rc=$?; __check {at} $__rc ok \"\"\n",
                    step.command
                ));
            } else {
                out.push_str(&format!(
                    "__say {at}\n__out=$( {{ {}\n}} 2>&1 ); __rc=$?\nprintf '%s\\n' \"$__out\"\n__check {at} $__rc {expect} \"$__out\" {}\n",
                    step.command,
                    claims.join(" ")
                ));
            }
        }
    }
    out.push_str("echo README-SNIPPETS-OK\n");
    out
}

const PRELUDE: &str = r#"
set -u
__say() { printf '\n$ %s\n' "$1"; }
__check() {
  local at="$1" rc="$2" expect="$3" out="$4"; shift 4
  if [ "$expect" = ok ] && [ "$rc" -ne 0 ]; then echo "FAILED ($at): exit $rc" >&2; exit 1; fi
  if [ "$expect" = fail ] && [ "$rc" -eq 0 ]; then echo "FAILED ($at): succeeded, the README says it fails" >&2; exit 1; fi
  for claim in "$@"; do
    case "$out" in
      *"$claim"*) ;;
      *) echo "FAILED ($at): output lacks the README's claim [$claim]" >&2; exit 1 ;;
    esac
  done
}
cargo() {
  if [ "${1:-}" != run ]; then echo "the README runs 'cargo $*': only 'cargo run' is simulated" >&2; return 97; fi
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
  shift
  "$PAYGATE_BIN" "$@"
}
paygate() { "$PAYGATE_BIN" "$@"; }
"#;

#[test]
fn the_readme_shell_snippets_run_as_written_and_their_comments_hold() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let all = blocks(&readme);
    let runnable: Vec<&Block> = all.iter().filter(|b| b.info == "sh").collect();
    for block in &all {
        let shell = block.info.split_whitespace().next() == Some("sh");
        assert!(
            !shell || block.info == "sh" || block.info.starts_with("sh no-run"),
            "README line {}: a shell block is `sh` (run by this test) or `sh no-run`, not {:?}",
            block.line,
            block.info
        );
    }
    assert!(runnable.len() >= 2, "the README's runnable blocks vanished");

    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_dev_server(dir.path());
    let mut text = script(&runnable);
    for (fixed, real) in [
        ("127.0.0.1:50051", server.grpc),
        ("localhost:50051", server.grpc),
        ("127.0.0.1:8080", server.http),
        ("localhost:8080", server.http),
        ("127.0.0.1:9090", server.mock),
        ("localhost:9090", server.mock),
    ] {
        text = text.replace(fixed, &real.to_string());
    }
    // The reader stands in the repository root; the session's files stay in the tempdir.
    for shared in ["tests", "deploy", "examples"] {
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join(shared);
        if target.exists() {
            std::os::unix::fs::symlink(&target, dir.path().join(shared)).expect("symlink");
        }
    }
    let path = dir.path().join("readme.sh");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("write script");
    // Its own process group, killed at the end: a snippet's background command (`paygate
    // listen ... &`) runs through the `paygate` function, so the `kill $!` a reader types
    // stops only the function's subshell here, and the binary would outlive the test.
    let session = Command::new("bash")
        .arg(&path)
        .current_dir(dir.path())
        .env("PAYGATE_BIN", env!("CARGO_BIN_EXE_paygate"))
        .env("PAYGATE_TARGET", format!("http://{}", server.grpc))
        .env_remove("PAYGATE_API_KEY")
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bash");
    let group = nix::unistd::Pid::from_raw(i32::try_from(session.id()).expect("pid"));
    let out = session.wait_with_output().expect("bash");
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("README-SNIPPETS-OK"),
        "README snippets failed.\n--- transcript\n{stdout}\n--- errors\n{stderr}"
    );
}

#[test]
fn comments_become_claims_and_parentheses_are_commentary() {
    let body = vec![
        "pg capture \"$ID\" --amount 40.00           # \"partially_captured\", captured 40.00".to_owned(),
        "pg authorize --amount 50 --token mock_unavailable   # error UNAVAILABLE / PROVIDER_UNAVAILABLE, nothing charged".to_owned(),
        "pg get \"$ID\"   # \"authorized\" (or \"declined\", card_declined)".to_owned(),
        "echo 'a # b' \\".to_owned(),
        "  c".to_owned(),
        "# a comment line".to_owned(),
    ];
    let steps = steps(&body);
    assert_eq!(steps.len(), 4);
    assert_eq!(steps[0].claims, ["partially_captured"]);
    assert!(!steps[0].must_fail);
    assert_eq!(steps[1].claims, ["UNAVAILABLE", "PROVIDER_UNAVAILABLE"]);
    assert!(steps[1].must_fail);
    assert_eq!(steps[2].claims, ["authorized"]);
    assert_eq!(steps[3].command, "echo 'a # b'    c");
    assert!(steps[3].claims.is_empty());
}
