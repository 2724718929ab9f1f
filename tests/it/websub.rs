//! WebSub: fake hubs on 127.0.0.1 (axum) record every ping they get. A build pings each hub
//! once per feed file it rewrote, never for an unchanged one; a hub that refuses, fails or is
//! silent costs a warning naming hub and feed, never the run; hubs without a public URL are a
//! configuration error naming the project file.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fs;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

use crate::serve::Serving;
use crate::support::{parse_feed, Project};

type Received = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A hub answering every POST to `/hub` with `status`, recording its form fields.
struct FakeHub {
    url: String,
    received: Received,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeHub {
    fn start(status: StatusCode) -> Self {
        let received: Received = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/hub", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = (received.clone(), status);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = Router::new().route("/hub", post(record)).with_state(state);
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Self {
            url,
            received,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The `hub.url` of every ping so far, checking each is a `hub.mode=publish`.
    fn topics(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|form| {
                let field = |k: &str| {
                    let v: Vec<&String> = form
                        .iter()
                        .filter(|(n, _)| n == k)
                        .map(|(_, v)| v)
                        .collect();
                    assert_eq!(v.len(), 1, "one {k} in {form:?}");
                    v[0].clone()
                };
                assert_eq!(field("hub.mode"), "publish");
                field("hub.url")
            })
            .collect()
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn record(
    State((received, status)): State<(Received, StatusCode)>,
    body: Bytes,
) -> StatusCode {
    let form = url::form_urlencoded::parse(&body).into_owned().collect();
    received.lock().unwrap().push(form);
    status
}

/// A URL where nothing listens (a port bound, then released).
fn down_hub() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/hub", l.local_addr().unwrap())
}

/// The bundled `notices` feed plus a second local feed, `other`.
fn two_feeds() -> Project {
    let p = Project::bundled();
    p.write_feed(
        "other",
        "title = \"Other notices\"\nlink = \"https://www.chinania.org.cn/\"\nlanguage = \"en\"\n\
         timezone = \"Asia/Shanghai\"\n\n[source]\nkind = \"local\"\npath = \"../other\"\n",
    );
    fs::create_dir_all(p.path().join("other")).unwrap();
    fs::write(
        p.path().join("other/2026-11-02-first.txt"),
        "First other notice\n\ndate\n02/11/2026\n\nBody.\n",
    )
    .unwrap();
    p
}

fn project_file(p: &Project, text: &str) {
    fs::write(p.path().join("noticefeed.toml"), text).unwrap();
}

const BASE: &str = "https://feeds.example.org/cnia/";

fn topics_of(feeds: &[&str]) -> BTreeSet<String> {
    feeds
        .iter()
        .flat_map(|f| ["rss.xml", "atom.xml", "json"].map(|ext| format!("{BASE}{f}.{ext}")))
        .collect()
}

fn set(v: Vec<String>) -> BTreeSet<String> {
    let set: BTreeSet<String> = v.iter().cloned().collect();
    assert_eq!(set.len(), v.len(), "a topic pinged twice: {v:?}");
    set
}

#[test]
fn pings_exactly_for_changed_files_and_failing_hubs_only_warn() {
    let hub = FakeHub::start(StatusCode::NO_CONTENT);
    let failing = FakeHub::start(StatusCode::INTERNAL_SERVER_ERROR);
    let down = down_hub();
    let p = two_feeds();
    project_file(
        &p,
        &format!(
            "public_url = \"{BASE}\"\nhub = [\"{}\", \"{}\", \"{down}\"]\n",
            hub.url, failing.url
        ),
    );

    let started = Instant::now();
    let first = p.build();
    first.expect_code(0);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "pings slowed the run"
    );
    assert_eq!(set(hub.topics()), topics_of(&["notices", "other"]));
    assert_eq!(set(failing.topics()), topics_of(&["notices", "other"]));
    for topic in topics_of(&["notices", "other"]) {
        let feed = if topic.contains("/notices.") {
            "notices"
        } else {
            "other"
        };
        for (h, why) in [(&failing.url, "500"), (&down, "")] {
            let warned = first.stderr.lines().any(|l| {
                l.contains(&format!(
                    "{feed}: websub hub {h} was not told {topic} changed"
                )) && l.contains(why)
            });
            assert!(warned, "no warning for {h} and {topic}:\n{}", first.stderr);
        }
    }

    // The feeds announce every hub.
    let rss = fs::read_to_string(p.rss_path()).unwrap();
    let atom = fs::read_to_string(p.atom_path()).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(p.out().join("notices.json")).unwrap()).unwrap();
    for h in [&hub.url, &failing.url, &down] {
        assert!(
            rss.contains(&format!("<atom:link href=\"{h}\" rel=\"hub\"/>")),
            "{rss}"
        );
        assert!(
            atom.contains(&format!("<link href=\"{h}\" rel=\"hub\"/>")),
            "{atom}"
        );
        assert!(
            json["hubs"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!({"type": "WebSub", "url": h})),
            "{json}"
        );
    }
    for f in [p.rss_path(), p.atom_path(), p.out().join("notices.json")] {
        let feed = parse_feed(&f);
        assert_eq!(feed.entries.len(), 10, "{}", f.display());
    }

    // Nothing changed: nothing sent, nothing warned.
    let again = p.build();
    again.expect_code(0);
    assert_eq!(hub.topics().len(), 6, "an unchanged run pings nobody");
    assert!(!again.stderr.contains("websub"), "{}", again.stderr);

    // Only `other` changed: only its three files.
    fs::write(
        p.path().join("other/2026-11-20-second.txt"),
        "Second other notice\n\ndate\n20/11/2026\n\nBody.\n",
    )
    .unwrap();
    p.build().expect_code(0);
    let topics = hub.topics();
    assert_eq!(set(topics[6..].to_vec()), topics_of(&["other"]));
}

#[test]
fn a_silent_hub_delays_the_run_by_the_timeout_at_most() {
    // Accepts connections (the kernel does) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hub", silent.local_addr().unwrap());
    let p = Project::bundled();
    project_file(&p, &format!("public_url = \"{BASE}\"\nhub = \"{url}\"\n"));
    let started = Instant::now();
    let run = p.build();
    run.expect_code(0);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(12), "took {took:?}");
    assert!(
        run.stderr.contains(&format!(
            "websub hub {url} was not told {BASE}notices.rss.xml changed: no answer within 5 s"
        )),
        "{}",
        run.stderr
    );
    assert!(p.rss_path().exists() && p.atom_path().exists());
}

#[test]
fn hubs_without_a_public_url_are_a_configuration_error() {
    let p = Project::bundled();
    project_file(&p, "hubs = [\"https://hub.example/\"]\n");
    let run = p.build();
    run.expect_code(2);
    assert!(
        run.stderr.contains("noticefeed.toml")
            && run.stderr.contains("`hub`")
            && run.stderr.contains("notices"),
        "{}",
        run.stderr
    );
    assert!(!p.rss_path().exists(), "nothing published");
}

#[test]
fn serve_every_pings_with_its_own_address_as_public_url() {
    let hub = FakeHub::start(StatusCode::ACCEPTED);
    let p = Project::bundled();
    project_file(&p, &format!("hub = \"{}\"\n", hub.url));
    let mut s = Serving::start(
        p.path(),
        &[
            "--feeds",
            "feeds",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--out",
            "public",
            "--every",
            "1h",
        ],
    );
    s.wait_for("the first build", |l| {
        l.contains("websub: 3 of 3 pings accepted")
    });
    let want: BTreeSet<String> = ["rss.xml", "atom.xml", "json"]
        .iter()
        .map(|e| format!("{}/notices.{e}", s.base))
        .collect();
    assert_eq!(set(hub.topics()), want);
    assert_eq!(s.stop(), 0);
}
