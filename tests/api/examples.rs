//! The client examples under `examples/` run against the real binary in development mode, so
//! what people copy keeps working. An example whose runtime (php with ext-curl, node, python3,
//! or the grpc-node packages from `npm install`) is missing is skipped with a note, unless
//! `PAYGATE_REQUIRE_EXAMPLES=1` (CI), where it fails instead.

use crate::dev_server::start_dev_server;
use std::path::Path;
use std::process::Command;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

/// Whether `probe` runs successfully: the example's runtime is there.
pub fn available(name: &str, probe: &mut Command) -> bool {
    let ok = probe.output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("PAYGATE_REQUIRE_EXAMPLES").as_deref() != Ok("1"),
            "example {name}: its runtime is missing (see .ci/run)"
        );
        eprintln!("example {name} skipped: its runtime is missing");
    }
    ok
}

#[test]
fn every_client_example_runs_against_the_dev_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_dev_server(dir.path());
    let url = format!("http://{}", server.grpc);
    let grpc_modules = Path::new(ROOT).join("grpc-node/node_modules/@grpc/grpc-js");
    let examples: [(&str, &str, &str, bool); 4] = [
        (
            "php",
            "php",
            "php/paygate.php",
            available(
                "php",
                Command::new("php").args(["-r", "exit(function_exists('curl_init') ? 0 : 1);"]),
            ),
        ),
        (
            "node",
            "node",
            "node/paygate.mjs",
            available("node", Command::new("node").arg("--version")),
        ),
        (
            "python",
            "python3",
            "python/paygate.py",
            available("python", Command::new("python3").arg("--version")),
        ),
        (
            "grpc-node",
            "node",
            "grpc-node/paygate.mjs",
            available(
                "grpc-node",
                Command::new("test").arg("-d").arg(&grpc_modules),
            ),
        ),
    ];
    let mut ran = 0;
    for (name, program, script, present) in examples {
        if !present {
            continue;
        }
        let out = Command::new(program)
            .arg(script)
            .current_dir(ROOT)
            .env("PAYGATE_URL", &url)
            .env("PAYGATE_GRPC", server.grpc.to_string())
            .env_remove("PAYGATE_API_KEY")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "example {name} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for claim in [
            "PAYMENT_STATUS_PARTIALLY_REFUNDED captured 6000 refunded 2500",
            "declined: card_declined",
            "refused:",
        ] {
            assert!(
                stdout.contains(claim),
                "example {name} did not print {claim:?}:\n{stdout}"
            );
        }
        ran += 1;
    }
    eprintln!("{ran} client examples ran");
}
