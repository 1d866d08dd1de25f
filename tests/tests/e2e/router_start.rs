//! The image's log router command, fluent-bit/router-start.sh, run here
//! with stand-ins for the image's Fluent Bit (answering the module check as
//! a working or a mismatched AOT file does) and for the base image's
//! /entrypoint.sh. bench/fluent-bit-multiline.sh runs it with a real Fluent
//! Bit.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wasm_host::corpus::workspace_root;

struct Image {
    dir: tempfile::TempDir,
}

const CONF: &str = "[FILTER]\n    Name wasm\n    Wasm_Path FIRELENS/firelens_filter.aot\n";
const YAML: &str = "pipeline:\n  filters:\n    - name: wasm\n      wasm_path: FIRELENS/firelens_filter.aot\n";

impl Image {
    /// `aot_loads`: whether the stand-in Fluent Bit runs the AOT file.
    fn new(aot_loads: bool) -> Self {
        Self::of_version(aot_loads, "4.2.2")
    }

    fn of_version(aot_loads: bool, version: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let firelens = dir.path().join("firelens");
        std::fs::create_dir(&firelens).unwrap();
        let f = firelens.display().to_string();
        std::fs::write(firelens.join("firelens.conf"), CONF.replace("FIRELENS", &f)).unwrap();
        std::fs::write(firelens.join("firelens.yaml"), YAML.replace("FIRELENS", &f)).unwrap();
        // Fluent Bit: prints the marked record for a module it can run (and
        // keeps running, as Fluent Bit does), or fails to load it.
        let aot_case = if aot_loads { "*firelens_filter.aot*|" } else { "" };
        script(
            &dir.path().join("fluent-bit"),
            &format!(
                "case \"$*\" in *--version*) echo 'Fluent Bit v{version}'; exit 0;; esac\n\
                 echo \"$*\" >> {calls}\n\
                 case \"$*\" in {aot_case}*firelens_filter.wasm*) echo '{{\"log\":\"x\",\"log_class\":\"error\"}}'; exec sleep 30;;\n\
                 *) echo 'AOT module load failed: invalid target type'; exit 1;; esac\n",
                calls = dir.path().join("checks").display()
            ),
        );
        // The base image's entrypoint: notes its start, the module Fluent
        // Bit would load, and when SIGTERM came.
        script(
            &dir.path().join("entrypoint"),
            &format!(
                "trap 'date +%s.%N > {term}; exit 3' TERM\n\
                 echo \"$FIRELENS_MODULE\" > {module}\n\
                 echo \"$*\" > {started}\n\
                 while :; do sleep 0.05; done\n",
                term = dir.path().join("term").display(),
                module = dir.path().join("module").display(),
                started = dir.path().join("started").display()
            ),
        );
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn start(&self, stop_delay_secs: u32) -> Child {
        self.start_with(stop_delay_secs, &[])
    }

    fn start_with(&self, stop_delay_secs: u32, env: &[(&str, &str)]) -> Child {
        Command::new("sh")
            .arg(workspace_root().join("fluent-bit/router-start.sh"))
            .args(["-c", "/fluent-bit/etc/fluent-bit.conf"])
            .env("FLUENT_BIT_BIN", self.path("fluent-bit"))
            .env("FIRELENS_DIR", self.path("firelens"))
            .env("ROUTER_CMD", self.path("entrypoint"))
            .env("FIRELENS_CONFIG", self.path("fluent-bit.conf"))
            .env_remove("FIRELENS_MODULE")
            .env("FIRELENS_STOP_DELAY_SECS", stop_delay_secs.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .envs(env.iter().copied())
            .spawn()
            .unwrap()
    }

    /// Readiness: the entrypoint has written its start file.
    fn wait_started(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(args) = std::fs::read_to_string(self.path("started"))
                && !args.is_empty()
            {
                return args;
            }
            assert!(Instant::now() < deadline, "the entrypoint did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn include(&self, name: &str) -> String {
        std::fs::read_to_string(self.path("firelens").join(name)).unwrap()
    }

    /// The module the entrypoint (so Fluent Bit) was given.
    fn module(&self) -> String {
        std::fs::read_to_string(self.path("module")).unwrap().trim().to_owned()
    }

    /// The generated config FireLens would write, including `include`.
    fn generated_config(&self, include: &str) {
        let inc = self.path("firelens").join(include);
        std::fs::write(
            self.path("fluent-bit.conf"),
            format!("[INPUT]\n    Name forward\n\n@INCLUDE {}\n", inc.display()),
        )
        .unwrap();
    }
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn terminate(child: &Child) -> f64 {
    let sent = now();
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    sent
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn finish(mut child: Child) -> (i32, String) {
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (status.code().unwrap_or(-1), stderr)
}

#[test]
fn a_working_aot_file_is_kept_and_sigterm_reaches_fluent_bit_after_the_delay() {
    let image = Image::new(true);
    let child = image.start(1);
    assert_eq!(image.wait_started().trim(), "-c /fluent-bit/etc/fluent-bit.conf");
    let sent = terminate(&child);
    let (code, stderr) = finish(child);
    let received: f64 = std::fs::read_to_string(image.path("term"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        received - sent >= 1.0,
        "SIGTERM passed on after {:.2} s",
        received - sent
    );
    assert_eq!(code, 3, "the entrypoint's exit status: {stderr}");
    assert_eq!(
        image.include("firelens.conf"),
        CONF.replace("FIRELENS", &image.path("firelens").display().to_string())
    );
    assert_eq!(
        image.module(),
        image.path("firelens/firelens_filter.aot").display().to_string()
    );
    assert!(
        stderr.contains("firelens_filter.aot loads in Fluent Bit v4.2.2"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("WARNING"),
        "a tested version, a working module: {stderr}"
    );
    let checks = std::fs::read_to_string(image.path("checks")).unwrap();
    assert_eq!(checks.lines().count(), 1, "one check, of the AOT file: {checks}");
}

#[test]
fn an_aot_file_this_fluent_bit_refuses_falls_back_to_the_portable_module_loudly() {
    let image = Image::new(false);
    let child = image.start(0);
    image.wait_started();
    terminate(&child);
    let (code, stderr) = finish(child);
    assert_eq!(code, 3);
    // Fluent Bit is pointed at the portable module; the image is not written.
    assert_eq!(
        image.module(),
        image.path("firelens/firelens_filter.wasm").display().to_string()
    );
    let f = image.path("firelens").display().to_string();
    assert_eq!(image.include("firelens.conf"), CONF.replace("FIRELENS", &f));
    assert_eq!(image.include("firelens.yaml"), YAML.replace("FIRELENS", &f));
    assert!(
        stderr.contains("WARNING") && stderr.contains("does not load"),
        "{stderr}"
    );
    assert!(stderr.contains("AOT module load failed"), "says why: {stderr}");
    let checks = std::fs::read_to_string(image.path("checks")).unwrap();
    assert!(
        checks
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("firelens_filter.wasm")),
        "the fallback is checked too: {checks}"
    );
    assert!(!stderr.contains("ERROR"), "the portable module works: {stderr}");
}

#[test]
fn an_include_without_a_wasm_filter_is_not_checked() {
    let image = Image::new(false);
    std::fs::write(image.path("firelens/firelens-lean.conf"), "[OUTPUT]\n    Name http\n").unwrap();
    image.generated_config("firelens-lean.conf");
    let child = image.start(0);
    image.wait_started();
    terminate(&child);
    let (_, stderr) = finish(child);
    assert!(
        stderr.contains("module check skipped") && stderr.contains("no wasm filter"),
        "{stderr}"
    );
    assert!(!image.path("checks").exists(), "Fluent Bit was run for a check");
    // With the wasm include in the generated config, it is checked.
    let image = Image::new(true);
    image.generated_config("firelens.conf");
    let child = image.start(0);
    image.wait_started();
    terminate(&child);
    finish(child);
    assert_eq!(
        std::fs::read_to_string(image.path("checks")).unwrap().lines().count(),
        1
    );
}

#[test]
fn a_fluent_bit_outside_the_tested_versions_is_warned_about() {
    for (version, warned) in [
        ("4.2.2", false),
        ("4.2.1", true),
        ("5.0.9", false),
        ("5.1.1", false),
        ("5.2.0", true),
        ("3.2.10", true),
    ] {
        let image = Image::of_version(true, version);
        std::fs::write(image.path("firelens/firelens-lean.conf"), "[OUTPUT]\n    Name http\n").unwrap();
        image.generated_config("firelens-lean.conf");
        let child = image.start(0);
        image.wait_started();
        terminate(&child);
        let (_, stderr) = finish(child);
        assert_eq!(
            stderr.contains(&format!("WARNING: Fluent Bit v{version} is outside the versions")),
            warned,
            "{version}: {stderr}"
        );
    }
}

/// Fluent Bit 5.1 runs the forward input's connections in coroutines, where
/// WAMR's stack check makes the wasm filter drop every record it gets
/// inline (measured on 5.1.1): the router refuses to start such an include.
#[test]
fn a_wasm_filter_fed_by_forward_is_refused_from_fluent_bit_5_1() {
    let stacktraces = "[FILTER]\n    Name multiline\n    Multiline.Parser java\n[FILTER]\n    Name wasm\n";
    for (version, include, text, refused) in [
        ("5.1.1", "firelens.conf", None, true),
        ("5.2.0", "firelens.conf", None, true),
        ("5.0.9", "firelens.conf", None, false),
        ("4.2.2", "firelens.conf", None, false),
        // Through a multiline emitter, records are not on forward's coroutine.
        ("5.1.1", "firelens-stacktraces.conf", Some(stacktraces), false),
        ("5.1.1", "firelens-lean.conf", Some("[OUTPUT]\n    Name http\n"), false),
        // The escape hatch, for a Fluent Bit that fixed it.
        ("5.1.1 allowed", "firelens.conf", None, false),
    ] {
        let (version, allowed) = match version.strip_suffix(" allowed") {
            Some(v) => (v, true),
            None => (version, false),
        };
        let image = Image::of_version(true, version);
        if let Some(text) = text {
            std::fs::write(image.path("firelens").join(include), text).unwrap();
        }
        image.generated_config(include);
        let mut child = if allowed {
            image.start_with(0, &[("FIRELENS_ALLOW_WASM_ON_COROUTINES", "1")])
        } else {
            image.start(0)
        };
        if refused {
            let status = child.wait().unwrap();
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            assert_eq!(status.code(), Some(78), "{version} {include}: {stderr}");
            assert!(
                stderr.contains("drops every record") && stderr.contains("firelens-lean.conf"),
                "{stderr}"
            );
            assert!(
                !image.path("started").exists(),
                "{version} {include}: Fluent Bit was started"
            );
        } else {
            image.wait_started();
            terminate(&child);
            let (_, stderr) = finish(child);
            assert!(!stderr.contains("ERROR"), "{version} {include}: {stderr}");
        }
    }
}

#[test]
fn the_image_runs_it_and_the_stop_delay_outlasts_the_multiline_flush() {
    let dockerfile = std::fs::read_to_string(workspace_root().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("COPY fluent-bit/router-start.sh /fluent-bit/firelens/router-start.sh"));
    assert!(dockerfile.contains(r#"CMD ["/fluent-bit/firelens/router-start.sh"]"#));
    // The includes' Wasm_Path comes from the image's environment.
    assert!(dockerfile.contains("ENV FIRELENS_MODULE=/fluent-bit/firelens/firelens_filter.aot"));
    let delay = firelens_e2e::router_stop_delay_secs();
    // The orphan of a line (no last part) is flushed within 1.5 × Flush_Ms,
    // measured (bench/fluent-bit-multiline.sh).
    let conf = std::fs::read_to_string(workspace_root().join("fluent-bit/firelens.conf")).unwrap();
    let flush_ms: u64 = conf
        .lines()
        .find_map(|l| l.trim().strip_prefix("Flush_Ms"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(delay * 1000 >= flush_ms * 3 / 2, "delay {delay} s, Flush_Ms {flush_ms}");
    // Grace plus this delay within the stop timeout: shipped_config.rs.
}
