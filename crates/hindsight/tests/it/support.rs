//! A running `hindsight serve`, a plain HTTP client, and a small WebDriver client: enough to
//! test the binary from outside, with nothing mocked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

pub fn hindsight() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hindsight"))
}

/// Reads a child's standard output until a line starts with `prefix`; keeps draining it after,
/// so the child never blocks on a full pipe.
fn wait_for_line(child: &mut Child, prefix: &str) -> String {
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("readable output");
        if line.starts_with(prefix) {
            std::thread::spawn(move || for _ in lines {});
            return line;
        }
        seen.push(line);
    }
    panic!("the process ended before printing {prefix:?}; it printed {seen:?}");
}

/// The admin every test server has, created through the CLI.
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Runs a `hindsight` command to its end; its standard output if it succeeded.
pub fn run(folder: &Path, args: &[&str], input: Option<&str>) -> Result<String, String> {
    let mut child = hindsight()
        .args(args)
        .current_dir(folder)
        .env("HINDSIGHT_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hindsight starts");
    if let Some(input) = input {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// `hindsight serve` on a free loopback port, with an admin and an API token of theirs.
pub struct Server {
    child: Child,
    pub address: SocketAddr,
    pub token: String,
}

impl Server {
    pub fn start(folder: &Path, database_url: &str, extra: &[&str]) -> Self {
        let database = ["--database-url", database_url];
        // The admin may exist from an earlier start on the same database.
        let _ = run(
            folder,
            &[
                &[
                    "user",
                    "create",
                    "--admin",
                    "--email",
                    ADMIN_EMAIL,
                    "--password-stdin",
                ][..],
                &database,
            ]
            .concat(),
            Some(&format!("{ADMIN_PASSWORD}\n")),
        );
        let created = run(
            folder,
            &[
                &[
                    "token",
                    "create",
                    "--email",
                    ADMIN_EMAIL,
                    "--name",
                    "tests",
                    "--scope",
                    "admin",
                ][..],
                &database,
            ]
            .concat(),
            None,
        )
        .expect("a token for the tests");
        let token = created
            .lines()
            .find_map(|line| line.strip_prefix("Token (shown once): "))
            .expect("the token is printed")
            .to_owned();
        let mut child = hindsight()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args(extra)
            .current_dir(folder)
            .env("HINDSIGHT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("hindsight starts");
        let line = wait_for_line(&mut child, "Hindsight is serving at ");
        let url = line
            .trim_start_matches("Hindsight is serving at ")
            .split_whitespace()
            .next()
            .unwrap();
        let address = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        Self {
            child,
            address,
            token,
        }
    }

    /// Sends SIGTERM, as a deploy does, and waits at most `limit` for the process to exit;
    /// how long it took, or `None` if it was still running (it is then killed).
    pub fn terminate(&mut self, limit: Duration) -> Option<Duration> {
        let started = std::time::Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        while started.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A JSON request as the admin.
    pub fn request(&self, method: &str, path: &str, json_body: Option<&Value>) -> (u16, Value) {
        let body = json_body.map(Value::to_string);
        let authorization = format!("Bearer {}", self.token);
        let (status, text) = http_with(
            self.address,
            method,
            path,
            body.as_deref(),
            "application/json",
            Some(&authorization),
        );
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request over a fresh connection; answers with the status and the body.
pub fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    content_type: &str,
) -> (u16, String) {
    http_with(address, method, path, body, content_type, None)
}

/// The same, with an `Authorization` header.
pub fn http_with(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    content_type: &str,
    authorization: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let body = body.unwrap_or("");
    let authorization = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         {authorization}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // Read the head, then exactly the body it announces: some servers (chromedriver) keep the
    // connection open whatever the request asked.
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .expect("a status line")
        .parse()
        .unwrap();
    let lower = head.to_ascii_lowercase();
    let length = lower
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map(|value| value.trim().parse::<usize>().unwrap());
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            reader.read_exact(&mut body).unwrap();
        }
        None => {
            reader.read_to_end(&mut body).unwrap();
        }
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    let chunked = lower.contains("transfer-encoding: chunked");
    (status, if chunked { dechunk(&body) } else { body })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

pub const REQUIRE_BROWSER_ENV: &str = "HINDSIGHT_REQUIRE_BROWSER";

/// Headless Chromium through chromedriver, or `None` (after saying so) where they are not
/// installed and `HINDSIGHT_REQUIRE_BROWSER=1` is not set.
pub struct Browser {
    driver: Child,
    address: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

/// The W3C web element reference is an object with one key, the element identifier.
fn element_id(value: &Value) -> String {
    value
        .as_object()
        .and_then(|object| object.values().next())
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("not an element reference: {value}"))
        .to_owned()
}

impl Browser {
    pub fn start() -> Option<Self> {
        let chromium = PathBuf::from(
            std::env::var("HINDSIGHT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
        );
        let chromedriver = PathBuf::from(
            std::env::var("HINDSIGHT_CHROMEDRIVER")
                .unwrap_or_else(|_| "/usr/bin/chromedriver".into()),
        );
        if !chromium.exists() || !chromedriver.exists() {
            let missing = format!(
                "Chromium ({}) or chromedriver ({}) is not installed",
                chromium.display(),
                chromedriver.display()
            );
            if std::env::var(REQUIRE_BROWSER_ENV).is_ok_and(|value| value == "1") {
                panic!("{REQUIRE_BROWSER_ENV}=1 but {missing}");
            }
            eprintln!("skipped: {missing}; apt-get install chromium chromium-driver");
            return None;
        }
        let port = free_port();
        let mut driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        wait_for_line(&mut driver, "ChromeDriver was started successfully");
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-quic", "--no-first-run",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let (_, answer) = webdriver(address, "POST", "/session", Some(&capabilities));
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer}"))
            .to_owned();
        let browser = Self {
            driver,
            address,
            session,
            _profile: profile,
        };
        // Element lookups wait up to this long for the element to appear.
        browser.command("POST", "/timeouts", Some(json!({"implicit": 5000})));
        Some(browser)
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let (status, answer) = webdriver(self.address, method, &path, body.as_ref());
        assert_eq!(status, 200, "WebDriver {method} {path}: {answer}");
        answer["value"].clone()
    }

    pub fn open(&self, url: &str) {
        self.command("POST", "/url", Some(json!({"url": url})));
    }

    pub fn current_url(&self) -> String {
        self.command("GET", "/url", None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn find(&self, css: &str) -> Element<'_> {
        let value = self.command(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        Element {
            browser: self,
            id: element_id(&value),
        }
    }

    pub fn count(&self, css: &str) -> usize {
        self.command(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .unwrap()
        .len()
    }

    pub fn page_text(&self) -> String {
        self.find("body").text()
    }

    /// Waits until as many elements match `css` as `expected`, for what script changes after
    /// a pause (the live lint). The page waits, not this thread: the check runs in the browser
    /// on each of its timer ticks, and fails after 15 seconds with what it saw.
    pub fn wait_for_count(&self, css: &str, expected: usize) {
        let script = "const [css, expected, done] = arguments; \
            const deadline = Date.now() + 15000; \
            (function check() { \
                const count = document.querySelectorAll(css).length; \
                if (count === expected || Date.now() > deadline) { done(count); } \
                else { setTimeout(check, 50); } \
            })();";
        let count = self.command(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": [css, expected]})),
        );
        assert_eq!(count, json!(expected), "{css}: waited for {expected}");
    }

    /// Runs `script` in the page; it gets `args` as `arguments`, and a callback last that it
    /// calls with its answer (within 15 seconds).
    pub fn run_async(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Waits until the text of the element matching `css` is `expected`, checking in the page
    /// on its own timer, for what script changes after a pause (the notes' save state).
    pub fn wait_for_text(&self, css: &str, expected: &str) {
        let script = "const [css, expected, done] = arguments; \
            const deadline = Date.now() + 15000; \
            (function check() { \
                const element = document.querySelector(css); \
                const text = element ? element.textContent : null; \
                if (text === expected || Date.now() > deadline) { done(text); } \
                else { setTimeout(check, 50); } \
            })();";
        let text = self.run_async(script, json!([css, expected]));
        assert_eq!(text, json!(expected), "{css}: waited for {expected:?}");
    }

    /// Runs `script` in the page and answers what it returns.
    pub fn script(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Resizes the window, for the phone-sized and desktop views.
    pub fn set_size(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    /// Emulates the reader's colour scheme preference (`dark` or `light`).
    pub fn color_scheme(&self, scheme: &str) {
        self.command(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": {
                "features": [{"name": "prefers-color-scheme", "value": scheme}]
            }})),
        );
    }

    /// Saves a PNG of the page, for a person to look at when a test fails.
    pub fn screenshot(&self, path: &Path) {
        let base64 = self.command("GET", "/screenshot", None);
        let bytes = decode_base64(base64.as_str().unwrap());
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = webdriver(
            self.address,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Element<'_> {
    fn command(&self, method: &str, action: &str, body: Option<Value>) -> Value {
        self.browser
            .command(method, &format!("/element/{}{action}", self.id), body)
    }

    pub fn click(&self) {
        self.command("POST", "/click", Some(json!({})));
    }

    /// Clicks something that loads a new page, and returns once the old page is gone.
    pub fn click_and_wait_for_page(&self) {
        let old_page = self.browser.find("html");
        self.click();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let path = format!(
            "/session/{}/element/{}/name",
            self.browser.session, old_page.id
        );
        while std::time::Instant::now() < deadline {
            let (status, answer) = webdriver(self.browser.address, "GET", &path, None);
            if status == 404 && answer["value"]["error"] == "stale element reference" {
                return;
            }
        }
        panic!("the click did not load a new page within 10 seconds");
    }

    pub fn clear(&self) {
        self.command("POST", "/clear", Some(json!({})));
    }

    pub fn type_text(&self, text: &str) {
        self.command("POST", "/value", Some(json!({"text": text})));
    }

    pub fn text(&self) -> String {
        self.command("GET", "/text", None)
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn webdriver(address: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let body = body.map(Value::to_string);
    let (status, text) = http(address, method, path, body.as_deref(), "application/json");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn decode_base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for byte in text.bytes() {
        let Some(value) = ALPHABET.iter().position(|&c| c == byte) else {
            continue;
        };
        buffer = (buffer << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// What Python's `icalendar` (PyPI) reads in an invite: `scripts/check_ics.py`. `None` (after
/// saying so) when the package is not installed and the environment does not require it
/// (`HINDSIGHT_REQUIRE_ICALENDAR=1`, as CI sets).
pub fn icalendar(invite: &str) -> Option<Value> {
    let available = Command::new("python3")
        .args(["-c", "import icalendar"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !available {
        if std::env::var("HINDSIGHT_REQUIRE_ICALENDAR").is_ok_and(|value| value == "1") {
            panic!("Python's icalendar is required (pip install icalendar)");
        }
        eprintln!("skipped: Python's icalendar is not installed (pip install icalendar)");
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/check_ics.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(invite.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "icalendar refused the invite: {}\n{invite}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).unwrap())
}

/// A PNG of `width` × `height` whose pixels `color` gives: stored (uncompressed) deflate
/// blocks, so the test needs no image library, and a real browser decodes it.
pub fn png(width: u32, height: u32, color: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for byte in bytes {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // no filter
        for x in 0..width {
            raw.extend_from_slice(&color(x, y));
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (index, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(index + 1 == blocks.len()));
        let length = block.len() as u16;
        zlib.extend_from_slice(&length.to_le_bytes());
        zlib.extend_from_slice(&(!length).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &header);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}
