//! Headless Chromium driven over the DevTools protocol (CDP): a WebSocket, JSON commands with
//! ids, one flattened session per tab. Just what the checkout tests need: open a page, run a
//! line of JavaScript, wait for a condition, click, take a screenshot.
//!
//! Chromium is Debian's (`/usr/bin/chromium`, or `PAYGATE_CHROMIUM`); nothing is downloaded.
//! Without it the tests skip loudly, or fail when `PAYGATE_REQUIRE_BROWSER=1` (CI).

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;
type Sink = futures::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

/// How long one step (a navigation, a condition) may take on a loaded 2-core machine.
const STEP: Duration = Duration::from_secs(30);

fn chromium_path() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PAYGATE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

pub struct Browser {
    child: Child,
    _profile: TempDir,
    sink: tokio::sync::Mutex<Sink>,
    pending: Pending,
    next_id: AtomicU64,
    user_agent: String,
}

impl Browser {
    /// A fresh headless Chromium with its own profile, or `None` (after saying so) when it is
    /// not installed and `PAYGATE_REQUIRE_BROWSER` is not `1`.
    pub async fn launch() -> Option<Browser> {
        let Some(path) = chromium_path() else {
            if std::env::var("PAYGATE_REQUIRE_BROWSER").as_deref() == Ok("1") {
                panic!("PAYGATE_REQUIRE_BROWSER=1 but no Chromium: apt-get install chromium");
            }
            eprintln!(
                "SKIPPED: browser test without Chromium (apt-get install chromium; CI sets PAYGATE_REQUIRE_BROWSER=1)"
            );
            return None;
        };
        let profile = TempDir::new().unwrap();
        let child = Command::new(&path)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
        let ws_url = devtools_url(profile.path()).await;
        let (socket, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .expect("DevTools WebSocket");
        let (sink, mut stream) = socket.split();
        let pending: Pending = Arc::default();
        let reader = pending.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                // Events (no id) are not needed: the tests poll the page instead.
                if let Some(id) = value.get("id").and_then(Value::as_u64)
                    && let Some(tx) = reader.lock().unwrap().remove(&id)
                {
                    let _ = tx.send(value);
                }
            }
        });
        let mut browser = Browser {
            child,
            _profile: profile,
            sink: tokio::sync::Mutex::new(sink),
            pending,
            next_id: AtomicU64::new(1),
            user_agent: String::new(),
        };
        let version = browser.call(None, "Browser.getVersion", json!({})).await;
        browser.user_agent = version["userAgent"].as_str().unwrap_or_default().to_owned();
        Some(browser)
    }

    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.try_call(session, method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    async fn try_call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.sink
            .lock()
            .await
            .send(Message::Text(message.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        let reply = tokio::time::timeout(STEP, rx)
            .await
            .map_err(|_| "no answer from Chromium".to_owned())?
            .map_err(|_| "Chromium closed".to_owned())?;
        match reply.get("error") {
            Some(error) => Err(error.to_string()),
            None => Ok(reply["result"].clone()),
        }
    }

    /// A new tab: a phone-sized viewport (a customer on a phone is the common case) and the
    /// given `Accept-Language`.
    pub async fn page(&self, accept_language: &str) -> Page<'_> {
        let target = self
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        let page = Page {
            browser: self,
            session: attached["sessionId"].as_str().unwrap().to_owned(),
        };
        page.cmd("Page.enable", json!({})).await;
        page.cmd(
            "Emulation.setUserAgentOverride",
            json!({"userAgent": self.user_agent, "acceptLanguage": accept_language}),
        )
        .await;
        page.cmd(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 390, "height": 780, "deviceScaleFactor": 1, "mobile": true}),
        )
        .await;
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Chromium writes its port and WebSocket path to `DevToolsActivePort` in the profile once
/// it listens (port 0: it chose one itself).
async fn devtools_url(profile: &Path) -> String {
    let file = profile.join("DevToolsActivePort");
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                return format!("ws://127.0.0.1:{port}{path}");
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Chromium did not open its DevTools port"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One tab.
pub struct Page<'a> {
    browser: &'a Browser,
    session: String,
}

impl Page<'_> {
    async fn cmd(&self, method: &str, params: Value) -> Value {
        self.browser.call(Some(&self.session), method, params).await
    }

    /// Opens `url` and waits until the page that finally answers (after redirects, and after
    /// any form that submits itself) has loaded.
    pub async fn goto(&self, url: &str) {
        self.mark().await;
        let nav = self.cmd("Page.navigate", json!({"url": url})).await;
        assert!(nav.get("errorText").is_none(), "navigating to {url}: {nav}");
        self.wait_for_new_document().await;
    }

    /// Clicks the element `selector` (e.g. a submit button) and waits for the next page.
    pub async fn click_and_wait(&self, selector: &str) {
        self.mark().await;
        let js = format!("document.querySelector({}).click(); true", json!(selector));
        assert_eq!(self.eval(&js).await, json!(true), "clicking {selector}");
        self.wait_for_new_document().await;
    }

    /// Marks the current document, so that a new one can be told apart from it.
    async fn mark(&self) {
        let _ = self.try_eval("window.__paygateOld = true").await;
    }

    async fn wait_for_new_document(&self) {
        self.wait_for("window.__paygateOld === undefined && document.readyState === 'complete'")
            .await;
    }

    /// Waits until `condition` (JavaScript) is true on the current page, e.g. until a form
    /// that submits itself has led to the next page.
    pub async fn wait_for(&self, condition: &str) {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            // Between two documents there is no context to evaluate in: that is "not yet".
            if self.try_eval(condition).await == Ok(json!(true)) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited {STEP:?} for `{condition}` on {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The value of a JavaScript expression (awaited if it is a promise).
    pub async fn eval(&self, expression: &str) -> Value {
        self.try_eval(expression)
            .await
            .unwrap_or_else(|e| panic!("evaluating `{expression}`: {e}"))
    }

    async fn try_eval(&self, expression: &str) -> Result<Value, String> {
        let result = self
            .browser
            .try_call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(exception.to_string());
        }
        Ok(result["result"]["value"].clone())
    }

    pub async fn url(&self) -> String {
        self.try_eval("location.href")
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The visible text, as a customer reads it.
    pub async fn text(&self) -> String {
        self.eval("document.body.innerText")
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The HTTP status of the current document.
    pub async fn status(&self) -> u64 {
        self.eval("performance.getEntriesByType('navigation')[0].responseStatus")
            .await
            .as_u64()
            .unwrap()
    }

    /// `[lang, dir]` of the `<html>` element.
    pub async fn lang_dir(&self) -> (String, String) {
        let v = self
            .eval("[document.documentElement.lang, document.documentElement.dir]")
            .await;
        (
            v[0].as_str().unwrap().to_owned(),
            v[1].as_str().unwrap().to_owned(),
        )
    }

    /// Runs the page with or without JavaScript (a `<noscript>` fallback is tested without).
    pub async fn set_javascript(&self, enabled: bool) {
        self.cmd(
            "Emulation.setScriptExecutionDisabled",
            json!({"value": !enabled}),
        )
        .await;
    }

    /// Saves a PNG of the page as the customer sees it.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let shot = self
            .cmd(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}
