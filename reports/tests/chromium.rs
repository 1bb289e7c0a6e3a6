//! A run page opened in a real browser: headless Chromium parses it and the timeline SVG is there,
//! with shapes in it, in the DOM it dumps. An XML parser accepting the page does not prove a browser
//! draws it (an SVG outside its namespace, or swallowed by an unclosed element, parses as XML yet
//! shows nothing).
//!
//! The browser is `$DRILL_CHROMIUM`, else the first of `chromium`, `chromium-browser` and
//! `google-chrome` on `PATH`. Without one the test fails, so CI cannot pass by not looking; a
//! developer without a browser sets `DRILL_SKIP_BROWSER_TESTS=1`.

mod common;

use common::{hostile_run, timeline};
use reports::html::run_page;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// How long the browser may take before it is killed, so the test can never hang.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);
const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

#[test]
fn headless_chromium_finds_the_timeline_svg_with_shapes_in_a_run_page() {
    let Some(browser) = browser() else {
        if std::env::var_os("DRILL_SKIP_BROWSER_TESTS").is_some_and(|value| value == "1") {
            eprintln!("skipped: no browser, and DRILL_SKIP_BROWSER_TESTS=1");
            return;
        }
        panic!(
            "no browser for the HTML test: none of {BROWSERS:?} is on PATH and DRILL_CHROMIUM is not set. \
             Install Debian's chromium package (apt-get install -y chromium), or set \
             DRILL_SKIP_BROWSER_TESTS=1 to skip this test on a machine without one"
        );
    };
    let directory = tempfile::tempdir().expect("a temporary directory");
    let page = directory.path().join("run.html");
    std::fs::write(&page, run_page(&hostile_run(), &timeline())).expect("the page written");
    let dom = dump_dom(&browser, &page, directory.path());
    let svg = timeline_element(&dom).unwrap_or_else(|| panic!("no <svg id=\"timeline\"> in the DOM:\n{dom}"));
    assert!(svg.contains("<rect") || svg.contains("<path"), "the timeline SVG is empty in the DOM:\n{svg}");
    assert!(svg.contains("class=\"segment good\""), "the lanes' segments are missing from the DOM");
    assert!(!dom.contains("<script>"), "an escaped scenario name became a script element");
}

/// The browser to use: `$DRILL_CHROMIUM`, else the first known name found on `PATH`.
fn browser() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DRILL_CHROMIUM").filter(|path| !path.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    BROWSERS.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|directory| directory.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// The DOM the browser built from `page`, serialised. Its output goes to files, not pipes: a pipe
/// nobody reads while we wait would fill and stall the browser.
fn dump_dom(browser: &Path, page: &Path, scratch: &Path) -> String {
    let stdout_path = scratch.join("dom.html");
    let stderr_path = scratch.join("browser.log");
    let stdout = File::create(&stdout_path).expect("the DOM file");
    let stderr = File::create(&stderr_path).expect("the browser log");
    let mut child = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .arg(format!("--user-data-dir={}", scratch.join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|error| panic!("could not start {}: {error}", browser.display()));
    let status = wait_at_most(&mut child, BROWSER_TIMEOUT);
    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let Some(status) = status else {
        panic!(
            "{} did not finish within {BROWSER_TIMEOUT:?} and was killed; its log:\n{log}",
            browser.display()
        );
    };
    assert!(status.success(), "{} failed ({status}); its log:\n{log}", browser.display());
    std::fs::read_to_string(&stdout_path).expect("the dumped DOM")
}

/// Waits for `child` to exit, killing it after `limit`: its exit status, or `None` if it was killed.
#[expect(clippy::disallowed_methods, reason = "a test waiting on a real browser process, not simulated code")]
fn wait_at_most(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let polls = limit.as_millis() / POLL.as_millis();
    for _ in 0..polls {
        if let Some(status) = child.try_wait().expect("the browser's status") {
            return Some(status);
        }
        std::thread::sleep(POLL);
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The `<svg>` element whose id is `timeline`, from its start tag to its end tag.
fn timeline_element(dom: &str) -> Option<&str> {
    let id = dom.find("id=\"timeline\"")?;
    let start = dom[..id].rfind("<svg")?;
    let end = start + dom[start..].find("</svg>")?;
    Some(&dom[start..end])
}
