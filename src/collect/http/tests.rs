//! The client against a misbehaving server on 127.0.0.1 (issue 5's list, case by case). Small
//! timeouts and backoff keep the whole file to a few seconds.

use std::time::Duration;

use encoding_rs::GBK;
use tokio::time::Instant;

use super::test_server::{Logged, Reply, Server};
use super::*;

const TITLE: &str = "中国有色金属工业协会关于召开会议的通知";
const SITE: &str = "https://www.chinania.org.cn";

fn opts() -> HttpOptions {
    HttpOptions {
        min_gap: Duration::ZERO,
        connect_timeout: Duration::from_millis(300),
        timeout: Duration::from_millis(300),
        backoff_base: Duration::from_millis(10),
        max_attempts: 3,
        max_body: 64 * 1024,
        ..HttpOptions::default()
    }
}

fn client(opts: HttpOptions) -> Client {
    Client::new(opts).unwrap()
}

async fn get(c: &Client, url: Url) -> Result<Response, Error> {
    c.fetch(&Request::new(url)).await
}

async fn page(c: &Client, url: Url) -> Page {
    match get(c, url).await.unwrap() {
        Response::Fetched(p) => p,
        other => panic!("expected a page, got {other:?}"),
    }
}

/// SITE's pages fetched from `base`.
fn mirror(base: &str) -> Mirror {
    Mirror::new(Url::parse(SITE).unwrap(), Url::parse(base).unwrap())
}

fn gbk(s: &str) -> Vec<u8> {
    GBK.encode(s).0.into_owned()
}

/// Every path, robots.txt included, is a 404.
fn not_found(_: &Logged, _: usize) -> Reply {
    Reply::status(404)
}

fn gaps(starts: &[Instant]) -> Vec<Duration> {
    starts.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let server = Server::start(|r, n| match r.path.as_str() {
        "/flaky" if n < 2 => Reply::status(500),
        "/flaky" => Reply::ok("fine"),
        _ => Reply::status(404),
    })
    .await;
    let p = page(&client(opts()), server.url("/flaky")).await;
    assert_eq!((p.status, p.text.as_str()), (200, "fine"));
    assert_eq!(server.hits("/flaky").len(), 3);
    server.stop().await;
}

#[tokio::test]
async fn retry_after_seconds_is_waited_out() {
    let server = Server::start(|r, n| match r.path.as_str() {
        "/busy" if n == 0 => Reply::status(429).header("Retry-After", "1"),
        "/busy" => Reply::ok("now"),
        _ => Reply::status(404),
    })
    .await;
    let p = page(&client(opts()), server.url("/busy")).await;
    assert_eq!(p.text, "now");
    let hits = server.hits("/busy");
    assert_eq!(hits.len(), 2);
    assert!(
        hits[1].at - hits[0].at >= Duration::from_secs(1),
        "{:?}",
        hits[1].at - hits[0].at
    );
    server.stop().await;
}

#[tokio::test]
async fn retry_after_beyond_the_cap_is_not_retried() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/away" => Reply::status(503).header("Retry-After", "3600"),
        _ => Reply::status(404),
    })
    .await;
    let started = std::time::Instant::now();
    let err = get(&client(opts()), server.url("/away")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::RetryAfterTooLong {
                status: 503,
                attempts: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(server.hits("/away").len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_fails_after_every_attempt() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/slow" => Reply::Slow(Duration::from_secs(2), Box::new(Reply::ok("late"))),
        _ => Reply::status(404),
    })
    .await;
    let url = server.url("/slow");
    let started = std::time::Instant::now();
    let err = get(&client(opts()), url.clone()).await.unwrap_err();
    // A response that never comes is tried twice, not max_attempts times.
    assert!(matches!(err, Error::Timeout { attempts: 2, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(url.as_str()) && msg.contains("timed out"),
        "{msg}"
    );
    assert!(msg.contains("2 attempts"), "{msg}");
    assert_eq!(server.hits("/slow").len(), 2);
    assert!(started.elapsed() < Duration::from_secs(2));
    server.stop().await;
}

#[tokio::test]
async fn a_body_cut_off_mid_stream_is_retried_then_reported() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/cut" => Reply::CutOff {
            declared: 1000,
            sent: vec![b'a'; 100],
        },
        _ => Reply::status(404),
    })
    .await;
    let url = server.url("/cut");
    let err = get(&client(opts()), url.clone()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::BodyCutOff {
                received: 100,
                expected: Some(1000),
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(url.as_str()) && msg.contains("cut off after 100 of 1000 bytes"),
        "{msg}"
    );
    assert_eq!(server.hits("/cut").len(), 3);
    server.stop().await;
}

#[tokio::test]
async fn bodies_over_the_cap_fail_without_reading_them_whole() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/declared" => Reply::ok(vec![b'x'; 100 * 1024]),
        "/chunked" => Reply::Chunked(vec![b'x'; 100 * 1024]),
        "/endless" => Reply::Endless,
        "/fits" => Reply::Chunked(vec![b'x'; 64 * 1024]),
        _ => Reply::status(404),
    })
    .await;
    let c = client(opts());
    for path in ["/declared", "/chunked", "/endless"] {
        let err = get(&c, server.url(path)).await.unwrap_err();
        assert!(
            matches!(err, Error::BodyTooLarge { limit: 65536, .. }),
            "{path}: {err:?}"
        );
        assert!(err
            .to_string()
            .contains("larger than the limit of 65536 bytes"));
        assert_eq!(server.hits(path).len(), 1, "{path} is not retried");
    }
    // The endless writer stopped because we hung up, long before its own bound.
    assert!(server.endless_written().await < 64 * 1024 * 1024);
    // Exactly at the cap is fine.
    assert_eq!(page(&c, server.url("/fits")).await.text.len(), 64 * 1024);
    server.stop().await;
}

#[tokio::test]
async fn redirects_are_followed_and_a_loop_is_cut_short() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/a" => Reply::status(302).header("Location", "/b"),
        "/b" => Reply::status(302).header("Location", "/a"),
        "/old" => Reply::status(301).header("Location", "new?x=1"),
        "/new?x=1" => Reply::ok("moved"),
        _ => Reply::status(404),
    })
    .await;
    let c = client(opts());
    let p = page(&c, server.url("/old")).await;
    assert_eq!((p.url, p.text.as_str()), (server.url("/new?x=1"), "moved"));

    let err = get(&c, server.url("/a")).await.unwrap_err();
    assert!(
        matches!(err, Error::TooManyRedirects { limit: 5, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("too many redirects") && msg.contains(server.url("/a").as_str()),
        "{msg}"
    );
    assert_eq!(server.hits("/a").len() + server.hits("/b").len(), 6);
    server.stop().await;
}

#[tokio::test]
async fn robots_txt_is_fetched_once_and_obeyed() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/robots.txt" => Reply::ok("User-agent: *\nDisallow: /detail/secret\n")
            .header("Content-Type", "text/plain"),
        _ => Reply::ok("ok"),
    })
    .await;
    let c = client(opts());
    let secret = server.url("/detail/secret.html");
    let (a, b, d) = tokio::join!(
        get(&c, server.url("/detail/1.html")),
        get(&c, secret.clone()),
        get(&c, server.url("/list/")),
    );
    assert!(a.is_ok() && d.is_ok());
    let err = b.unwrap_err();
    assert!(Client::is_robots_error(&err) && err.is_robots(), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(secret.as_str()) && msg.contains("Disallow: /detail/secret"),
        "{msg}"
    );
    // Attachments are checked too.
    let err = c
        .content_length(&server.url("/detail/secret.pdf"))
        .await
        .unwrap_err();
    assert!(err.is_robots());

    assert_eq!(server.hits("/robots.txt").len(), 1);
    assert!(server.hits("/detail/secret.html").is_empty());
    assert!(server.hits("/detail/secret.pdf").is_empty());
    server.stop().await;
}

#[tokio::test]
async fn robots_txt_server_error_allows_everything() {
    let server = robots_status_server(503).await;
    let c = client(opts());
    assert_eq!(page(&c, server.url("/x")).await.text, "ok");
    assert_eq!(page(&c, server.url("/y")).await.text, "ok");
    // Retried like any 5xx, then remembered: not asked again for /y.
    assert_eq!(server.hits("/robots.txt").len(), 3);
    server.stop().await;
}

#[tokio::test]
async fn crawl_delay_longer_than_our_gap_paces_the_host() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/robots.txt" => Reply::ok("User-agent: *\nCrawl-delay: 0.3\n"),
        _ => Reply::ok("ok"),
    })
    .await;
    let c = client(opts());
    for p in ["/1", "/2", "/3"] {
        page(&c, server.url(p)).await;
    }
    let starts: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    assert_eq!(starts.len(), 4);
    for gap in gaps(&starts) {
        assert!(gap >= Duration::from_millis(295), "{gap:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn gbk_page_with_charset_only_in_meta() {
    let html = format!(
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gbk\">\
         <title>{TITLE}</title></head><body><p>{TITLE}</p></body></html>"
    );
    let body = gbk(&html);
    let server = Server::start(move |r, _| match r.path.as_str() {
        "/gbk.html" => Reply::ok(body.clone()), // Content-Type: text/html, no charset
        _ => Reply::status(404),
    })
    .await;
    let p = page(&client(opts()), server.url("/gbk.html")).await;
    assert_eq!(p.content_type.as_deref(), Some("text/html"));
    assert_eq!(p.encoding, "gb18030");
    assert_eq!(p.text, html);
    assert!(!p.had_replacements);
    server.stop().await;
}

#[tokio::test]
async fn gb2312_page_with_charset_only_in_the_header() {
    // 镕 is in GBK but not in GB2312: servers saying "gb2312" send it anyway.
    let text = format!("{TITLE}（朱镕基）");
    let body = gbk(&text);
    let server = Server::start(move |r, _| match r.path.as_str() {
        "/gb2312.html" => Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html; charset=gb2312".into())],
            body: body.clone(),
        },
        "/plain.html" => Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html; charset=GB2312".into())],
            body: gbk(TITLE),
        },
        _ => Reply::status(404),
    })
    .await;
    let c = client(opts());
    let p = page(&c, server.url("/gb2312.html")).await;
    assert_eq!(p.text, text);
    assert_eq!(p.encoding, "gb18030");
    let p = page(&c, server.url("/plain.html")).await;
    assert_eq!(p.text, TITLE);
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_charset_is_flagged_and_the_override_fixes_it() {
    let body = gbk(TITLE);
    let server = Server::start(move |r, _| match r.path.as_str() {
        "/liar.html" => Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: body.clone(),
        },
        _ => Reply::status(404),
    })
    .await;
    let c = client(opts());
    let p = page(&c, server.url("/liar.html")).await;
    assert!(p.had_replacements && p.text.contains('\u{FFFD}'));
    let req = Request {
        url: server.url("/liar.html"),
        encoding: Some(GBK),
        ..Request::default()
    };
    let Response::Fetched(p) = c.fetch(&req).await.unwrap() else {
        panic!("expected a page")
    };
    assert_eq!((p.text.as_str(), p.had_replacements), (TITLE, false));
    server.stop().await;
}

#[tokio::test]
async fn requests_to_one_host_start_at_least_min_gap_apart() {
    let server = robots_status_server(404).await;
    let c = client(HttpOptions {
        min_gap: Duration::from_millis(200),
        ..opts()
    });
    let urls: Vec<Url> = (0..5).map(|i| server.url(&format!("/p{i}"))).collect();
    let results = futures_util::future::join_all(urls.into_iter().map(|u| get(&c, u))).await;
    assert!(results.iter().all(Result::is_ok));
    let mut starts: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    starts.sort();
    assert_eq!(starts.len(), 6, "robots.txt and five pages");
    for gap in gaps(&starts) {
        assert!(gap >= Duration::from_millis(195), "{gap:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn etag_revalidation_gives_not_modified() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/list/" if r.header("If-None-Match") == Some("\"v1\"") => {
            Reply::status(304).header("ETag", "\"v1\"")
        }
        "/list/" => Reply::ok("list")
            .header("ETag", "\"v1\"")
            .header("Last-Modified", "Fri, 09 Oct 2026 01:00:00 GMT"),
        _ => Reply::status(404),
    })
    .await;
    let c = client(opts());
    let first = page(&c, server.url("/list/")).await;
    assert_eq!(first.etag.as_deref(), Some("\"v1\""));
    let req = Request {
        url: server.url("/list/"),
        etag: first.etag.clone(),
        last_modified: first.last_modified.clone(),
        encoding: None,
    };
    match c.fetch(&req).await.unwrap() {
        Response::NotModified {
            url,
            etag,
            last_modified,
        } => {
            assert_eq!(url, server.url("/list/"));
            assert_eq!(etag.as_deref(), Some("\"v1\""));
            // Not repeated in the 304, so the one we asked with is kept.
            assert_eq!(
                last_modified.as_deref(),
                Some("Fri, 09 Oct 2026 01:00:00 GMT")
            );
        }
        other => panic!("expected NotModified, got {other:?}"),
    }
    let second = &server.hits("/list/")[1];
    assert_eq!(second.header("If-None-Match"), Some("\"v1\""));
    assert_eq!(
        second.header("If-Modified-Since"),
        Some("Fri, 09 Oct 2026 01:00:00 GMT")
    );
    server.stop().await;
}

#[tokio::test]
async fn mirror_to_a_local_server_keeps_the_site_urls() {
    let server = Server::start(|r, _| {
        if r.path.starts_with("/uploads/") {
            return Reply::ok(vec![0u8; 1234]).header("Content-Type", "application/octet-stream");
        }
        match r.path.as_str() {
            "/html/xiehuidongtai/xiehuitongzhi/" => Reply::ok("list"),
            "/html/old.html" => Reply::status(302).header("Location", "/html/new.html"),
            "/html/new.html" => Reply::ok("new"),
            _ => Reply::status(404),
        }
    })
    .await;
    let base = server.base();
    let mirror = mirror(&base);
    let c = client(HttpOptions {
        mirrors: vec![mirror],
        ..opts()
    });
    let list = Url::parse(&format!("{SITE}/html/xiehuidongtai/xiehuitongzhi/")).unwrap();
    let p = page(&c, list.clone()).await;
    assert_eq!((p.url, p.text.as_str()), (list, "list"));

    // A relative redirect on the mirror lands in the site's space.
    let p = page(&c, Url::parse(&format!("{SITE}/html/old.html")).unwrap()).await;
    assert_eq!(
        (p.url.as_str(), p.text.as_str()),
        (format!("{SITE}/html/new.html").as_str(), "new")
    );

    // Non-ASCII file names go out percent-encoded as UTF-8.
    let doc = Url::parse(&format!(
        "{SITE}/uploads/2026/0827/附件2：交流报告回执表.docx"
    ))
    .unwrap();
    assert_eq!(c.content_length(&doc).await.unwrap(), Some(1234));
    let head = server
        .requests()
        .into_iter()
        .find(|r| r.method == "HEAD")
        .unwrap();
    assert_eq!(
        head.path,
        "/uploads/2026/0827/%E9%99%84%E4%BB%B62%EF%BC%9A%E4%BA%A4%E6%B5%81%E6%8A%A5%E5%91%8A%E5%9B%9E%E6%89%A7%E8%A1%A8.docx"
    );
    // robots.txt was asked of the mirror, once.
    assert_eq!(server.hits("/robots.txt").len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn mirror_redirect_to_an_absolute_mirror_url_maps_back() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/old.html" => {
            let host = r.header("Host").unwrap_or_default().to_owned();
            Reply::status(302).header("Location", &format!("http://{host}/new.html"))
        }
        "/new.html" => Reply::ok("new"),
        _ => Reply::status(404),
    })
    .await;
    let c = client(HttpOptions {
        mirrors: vec![mirror(&server.base())],
        ..opts()
    });
    let p = page(&c, Url::parse(&format!("{SITE}/old.html")).unwrap()).await;
    assert_eq!(p.url.as_str(), format!("{SITE}/new.html"));
    server.stop().await;
}

#[tokio::test]
async fn mirror_to_a_file_folder_keeps_the_site_urls() {
    let dir = tempfile::tempdir().unwrap();
    let list_dir = dir.path().join("html/xiehuidongtai/xiehuitongzhi");
    std::fs::create_dir_all(&list_dir).unwrap();
    std::fs::write(
        list_dir.join("index.html"),
        gbk(&format!("<meta charset=gbk>{TITLE}")),
    )
    .unwrap();
    let uploads = dir.path().join("uploads/2026/0827");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::write(uploads.join("附件2：交流报告回执表.docx"), vec![7u8; 4321]).unwrap();

    let base = Url::from_directory_path(dir.path()).unwrap();
    let c = client(HttpOptions {
        mirrors: vec![mirror(base.as_str())],
        ..opts()
    });
    let list = Url::parse(&format!("{SITE}/html/xiehuidongtai/xiehuitongzhi/?page=1")).unwrap();
    let p = page(&c, list.clone()).await;
    assert_eq!(p.url, list);
    assert_eq!(p.text, format!("<meta charset=gbk>{TITLE}"));
    assert_eq!(p.content_type.as_deref(), Some("text/html"));

    let doc = Url::parse(&format!(
        "{SITE}/uploads/2026/0827/附件2：交流报告回执表.docx"
    ))
    .unwrap();
    assert_eq!(c.content_length(&doc).await.unwrap(), Some(4321));

    let missing = Url::parse(&format!("{SITE}/html/nope.html")).unwrap();
    let err = get(&c, missing.clone()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Status {
                status: 404,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(missing.as_str()));
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let server = Server::start(not_found).await;
    let url = server.url("/gone.html");
    let err = get(&client(opts()), url.clone()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Status {
                status: 404,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(404));
    assert_eq!(
        err.to_string(),
        format!("{url}: http status 404 (Not Found) after 1 attempt")
    );
    assert_eq!(server.hits("/gone.html").len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn user_agent_is_honest_and_compression_is_offered() {
    let server = Server::start(|_, _| Reply::ok("ok")).await;
    page(&client(opts()), server.url("/a")).await;
    let hit = &server.hits("/a")[0];
    assert_eq!(hit.header("User-Agent"), Some(DEFAULT_USER_AGENT));
    assert!(DEFAULT_USER_AGENT.starts_with("noticefeed/"));
    let ae = hit.header("Accept-Encoding").unwrap_or_default();
    for enc in ["gzip", "br", "deflate"] {
        assert!(ae.contains(enc), "{ae}");
    }
    let c = client(HttpOptions {
        user_agent: "examplebot/2.0 (+https://example.org/bot)".into(),
        ..opts()
    });
    page(&c, server.url("/b")).await;
    assert_eq!(
        server.hits("/b")[0].header("User-Agent"),
        Some("examplebot/2.0 (+https://example.org/bot)")
    );
    server.stop().await;
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    // A port that was free a moment ago: nothing listens there now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = Url::parse(&format!("http://127.0.0.1:{port}/x")).unwrap();
    // Without robots.txt, so the request itself is the one that finds the host down.
    let c = client(HttpOptions {
        obey_robots: false,
        ..opts()
    });
    let err = get(&c, url.clone()).await.unwrap_err();
    assert!(
        matches!(err, Error::Unreachable { attempts: 2, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{url}: 127.0.0.1 unreachable (tcp connect error")),
        "{msg}"
    );
    assert!(
        msg.contains("refused") && msg.ends_with("after 2 attempts"),
        "{msg}"
    );
    // The host is down for the run: the next request is not even tried.
    let started = Instant::now();
    let other = Url::parse(&format!("http://127.0.0.1:{port}/y")).unwrap();
    let err = get(&c, other.clone()).await.unwrap_err();
    assert!(
        matches!(err, Error::Unreachable { attempts: 0, .. }),
        "{err:?}"
    );
    assert!(err.to_string().ends_with("; not requested"), "{err}");
    assert!(started.elapsed() < Duration::from_millis(50));
    let down = c.down_hosts();
    assert_eq!(down.len(), 1, "{down:?}");
    assert_eq!(down[0].host, "127.0.0.1");
}

#[tokio::test]
async fn an_unresolvable_host_is_down_after_one_retry_and_reported_by_the_site_name() {
    // `.invalid` never resolves (RFC 2606); the mirror keeps the site's name in messages.
    let c = client(HttpOptions {
        mirrors: vec![mirror("http://noticefeed-test.invalid:8080")],
        ..opts()
    });
    let started = Instant::now();
    let err = get(&c, site("/html/a/")).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "{SITE}/html/a/: www.chinania.org.cn unreachable (dns error"
        )),
        "{msg}"
    );
    for n in 0..5 {
        let err = get(&c, site(&format!("/html/{n}.html"))).await.unwrap_err();
        assert!(
            matches!(err, Error::Unreachable { attempts: 0, .. }),
            "{err:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let down = c.down_hosts();
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].host, "www.chinania.org.cn");
    assert!(down[0].reason.starts_with("dns error"), "{down:?}");
}

#[tokio::test]
async fn three_responses_in_a_row_that_never_come_make_the_host_down() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/robots.txt" => Reply::status(404),
        _ => Reply::Slow(Duration::from_secs(5), Box::new(Reply::ok("late"))),
    })
    .await;
    let c = client(opts());
    // Two attempts of the first request, one of the second: three in a row.
    let first = get(&c, server.url("/a")).await.unwrap_err();
    assert!(
        matches!(first, Error::Timeout { attempts: 2, .. }),
        "{first:?}"
    );
    let second = get(&c, server.url("/b")).await.unwrap_err();
    assert!(
        matches!(second, Error::Unreachable { attempts: 1, .. }),
        "{second:?}"
    );
    assert!(
        second
            .to_string()
            .contains("3 requests in a row got no answer"),
        "{second}"
    );
    let third = get(&c, server.url("/c")).await.unwrap_err();
    assert!(
        matches!(third, Error::Unreachable { attempts: 0, .. }),
        "{third:?}"
    );
    assert_eq!(server.hits("/a").len() + server.hits("/b").len(), 3);
    assert!(server.hits("/c").is_empty());
    server.stop().await;
}

#[tokio::test]
async fn an_answer_between_timeouts_keeps_the_host_up() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/ok" => Reply::ok("fine"),
        "/robots.txt" => Reply::status(404),
        _ => Reply::Slow(Duration::from_secs(5), Box::new(Reply::ok("late"))),
    })
    .await;
    let c = client(opts());
    get(&c, server.url("/a")).await.unwrap_err();
    page(&c, server.url("/ok")).await;
    get(&c, server.url("/b")).await.unwrap_err();
    assert_eq!(page(&c, server.url("/ok")).await.text, "fine");
    assert!(c.down_hosts().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn the_run_deadline_ends_waiting_requests_and_refuses_new_ones() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/robots.txt" => Reply::status(404),
        _ => Reply::Slow(Duration::from_secs(5), Box::new(Reply::ok("late"))),
    })
    .await;
    let c = client(HttpOptions {
        timeout: Duration::from_secs(10),
        deadline: Some(Duration::from_millis(400)),
        ..opts()
    });
    let started = Instant::now();
    let err = get(&c, server.url("/a")).await.unwrap_err();
    assert!(err.is_deadline(), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("not fetched, the run's deadline (400ms) was reached"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(c.deadline_passed());
    let err = get(&c, server.url("/b")).await.unwrap_err();
    assert!(err.is_deadline(), "{err:?}");
    assert!(server.hits("/b").is_empty());
    server.stop().await;
}

#[tokio::test]
async fn only_http_urls_are_fetched() {
    let c = client(opts());
    let err = c.fetch(&Request::default()).await.unwrap_err();
    assert!(matches!(err, Error::Scheme { .. }), "{err:?}");
    let err = get(&c, Url::parse("file:///etc/passwd").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Scheme { .. }), "{err:?}");
}

/// robots.txt copies between runs, as the store keeps them for `app`.
#[derive(Debug, Default)]
struct MemoryRobots(std::sync::Mutex<HashMap<String, CachedRobots>>);

impl RobotsCache for MemoryRobots {
    fn get(&self, robots_url: &str) -> Option<CachedRobots> {
        self.0.lock().unwrap().get(robots_url).cloned()
    }
    fn put(&self, robots_url: &str, entry: CachedRobots) {
        self.0.lock().unwrap().insert(robots_url.to_owned(), entry);
    }
}

const SECRET_RULES: &str = "User-agent: *\nDisallow: /detail/secret\n";

/// A cache holding `SITE`'s robots.txt fetched `age` ago, and a client mirroring `SITE` to
/// `server` that uses it.
/// A site whose robots.txt answers `status` and whose every page is `ok`.
async fn robots_status_server(status: u16) -> Server {
    Server::start(move |r, _| match r.path.as_str() {
        "/robots.txt" => Reply::status(status),
        _ => Reply::ok("ok"),
    })
    .await
}

/// A client keeping robots.txt copies in `cache`.
fn caching_client(cache: &Arc<MemoryRobots>) -> Client {
    client(HttpOptions {
        robots_cache: Some(cache.clone()),
        ..opts()
    })
}

fn cached_client(server: &Server, age: Duration) -> (Client, Arc<MemoryRobots>) {
    let cache = Arc::new(MemoryRobots::default());
    cache.put(
        &format!("{SITE}/robots.txt"),
        CachedRobots {
            status: 200,
            body: SECRET_RULES.into(),
            etag: Some("\"r1\"".into()),
            last_modified: Some("Fri, 23 Jan 2026 08:00:00 GMT".into()),
            fetched_at: SystemTime::now() - age,
        },
    );
    let c = client(HttpOptions {
        mirrors: vec![mirror(&server.base())],
        robots_cache: Some(cache.clone()),
        ..opts()
    });
    (c, cache)
}

fn site(path: &str) -> Url {
    Url::parse(&format!("{SITE}{path}")).unwrap()
}

// See: #5, #4 (a rerun against an unchanged site makes no robots.txt request)
#[tokio::test]
async fn a_fresh_cached_robots_txt_is_used_without_a_request() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/robots.txt" => Reply::ok("User-agent: *\nDisallow:\n"),
        _ => Reply::ok("ok"),
    })
    .await;
    let (c, cache) = cached_client(&server, Duration::from_secs(60 * 60));
    let before = cache.get(&format!("{SITE}/robots.txt"));
    assert_eq!(page(&c, site("/list/")).await.text, "ok");
    // The cached rules apply, not the server's current (allow-all) ones.
    let err = get(&c, site("/detail/secret.html")).await.unwrap_err();
    assert!(
        err.to_string().contains("Disallow: /detail/secret"),
        "{err}"
    );
    assert!(server.hits("/robots.txt").is_empty());
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/list/"]);
    // Nothing to write back.
    assert_eq!(cache.get(&format!("{SITE}/robots.txt")), before);
    server.stop().await;
}

#[tokio::test]
async fn a_stale_cached_robots_txt_is_revalidated_and_a_304_keeps_its_rules() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/robots.txt" if r.header("If-None-Match") == Some("\"r1\"") => Reply::status(304),
        "/robots.txt" => Reply::ok("User-agent: *\nDisallow:\n"),
        _ => Reply::ok("ok"),
    })
    .await;
    let (c, cache) = cached_client(&server, Duration::from_secs(25 * 60 * 60));
    let asked = SystemTime::now();
    let (a, b) = tokio::join!(
        get(&c, site("/list/")),
        get(&c, site("/detail/secret.html"))
    );
    assert!(a.is_ok());
    let err = b.unwrap_err();
    assert!(
        err.is_robots() && err.to_string().contains("Disallow: /detail/secret"),
        "{err}"
    );
    let robots = server.hits("/robots.txt");
    assert_eq!(robots.len(), 1, "one conditional request");
    assert_eq!(robots[0].header("If-None-Match"), Some("\"r1\""));
    assert_eq!(
        robots[0].header("If-Modified-Since"),
        Some("Fri, 23 Jan 2026 08:00:00 GMT")
    );
    assert!(server.hits("/detail/secret.html").is_empty());
    // The 304 restarted the copy's age and kept body and validators.
    let entry = cache.get(&format!("{SITE}/robots.txt")).unwrap();
    assert!(entry.fetched_at >= asked, "{entry:?}");
    assert_eq!(
        (entry.status, entry.body.as_str(), entry.etag.as_deref()),
        (200, SECRET_RULES, Some("\"r1\""))
    );
    server.stop().await;
}

#[tokio::test]
async fn an_updated_robots_txt_replaces_the_cached_one() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/robots.txt" => Reply::ok("User-agent: *\nDisallow: /list/\n")
            .header("Content-Type", "text/plain")
            .header("ETag", "\"r2\""),
        _ => Reply::ok("ok"),
    })
    .await;
    let (c, cache) = cached_client(&server, Duration::from_secs(25 * 60 * 60));
    // The new rules apply: the secret is allowed now, the list is not.
    assert_eq!(page(&c, site("/detail/secret.html")).await.text, "ok");
    let err = get(&c, site("/list/")).await.unwrap_err();
    assert!(err.to_string().contains("Disallow: /list/"), "{err}");
    assert_eq!(server.hits("/robots.txt").len(), 1);
    assert_eq!(
        server.hits("/robots.txt")[0].header("If-None-Match"),
        Some("\"r1\"")
    );
    let entry = cache.get(&format!("{SITE}/robots.txt")).unwrap();
    assert_eq!(
        (entry.status, entry.body.as_str(), entry.etag.as_deref()),
        (200, "User-agent: *\nDisallow: /list/\n", Some("\"r2\""))
    );
    assert_eq!(entry.last_modified, None);
    server.stop().await;
}

#[tokio::test]
async fn a_missing_robots_txt_is_cached_and_a_server_error_is_not() {
    let server = robots_status_server(404).await;
    let cache = Arc::new(MemoryRobots::default());
    let c = caching_client(&cache);
    page(&c, server.url("/a")).await;
    let key = server.url("/robots.txt");
    let entry = cache.get(key.as_str()).unwrap();
    assert_eq!((entry.status, entry.body.as_str()), (404, ""));
    // A later run with the same cache asks nothing.
    let c = caching_client(&cache);
    page(&c, server.url("/b")).await;
    assert_eq!(server.hits("/robots.txt").len(), 1);
    server.stop().await;

    let server = robots_status_server(503).await;
    let cache = Arc::new(MemoryRobots::default());
    let c = caching_client(&cache);
    page(&c, server.url("/a")).await;
    assert_eq!(cache.get(server.url("/robots.txt").as_str()), None);
    server.stop().await;
}

#[tokio::test]
async fn a_stale_copy_outlives_a_server_error() {
    let server = robots_status_server(503).await;
    let (c, cache) = cached_client(&server, Duration::from_secs(25 * 60 * 60));
    let before = cache.get(&format!("{SITE}/robots.txt"));
    let err = get(&c, site("/detail/secret.html")).await.unwrap_err();
    assert!(err.is_robots(), "{err}");
    assert_eq!(server.hits("/robots.txt").len(), 3, "retried like any 5xx");
    assert_eq!(
        cache.get(&format!("{SITE}/robots.txt")),
        before,
        "kept as it was"
    );
    server.stop().await;
}

/// What `fetch` saves and a `file://` mirror reads back: the bytes as served, an attachment's
/// size beside where it would be, and a header charset the page itself does not declare.
/// URL, body, Content-Type.
type SavedPage = (String, Vec<u8>, Option<String>);

#[derive(Debug, Default)]
struct MemorySink {
    pages: std::sync::Mutex<Vec<SavedPage>>,
    lengths: std::sync::Mutex<Vec<(String, u64)>>,
}

impl PageSink for MemorySink {
    fn page(&self, url: &Url, body: &[u8], content_type: Option<&str>) {
        self.pages.lock().unwrap().push((
            url.to_string(),
            body.to_vec(),
            content_type.map(str::to_owned),
        ));
    }
    fn length(&self, url: &Url, length: u64) {
        self.lengths.lock().unwrap().push((url.to_string(), length));
    }
}

// See: #8
#[tokio::test]
async fn the_sink_gets_what_was_served_and_a_file_mirror_reads_its_sidecars() {
    let server = Server::start(|r, _| match r.path.as_str() {
        "/robots.txt" => Reply::ok("User-agent: *\nAllow: /\n"),
        "/old" => Reply::status(301).header("Location", "/list.html"),
        "/list.html" => Reply::ok(gbk(TITLE)).header("Content-Type", "text/html; charset=gbk"),
        "/a.pdf" => Reply::ok(vec![1u8; 1234]),
        _ => Reply::status(404),
    })
    .await;
    let sink = Arc::new(MemorySink::default());
    let c = client(HttpOptions {
        mirrors: vec![mirror(&server.base())],
        sink: Some(sink.clone()),
        ..opts()
    });
    page(&c, site("/old")).await;
    assert_eq!(c.content_length(&site("/a.pdf")).await.unwrap(), Some(1234));
    let pages = sink.pages.lock().unwrap().clone();
    let urls: Vec<&str> = pages.iter().map(|(u, _, _)| u.as_str()).collect();
    // Saved under the URL asked for (a file mirror does not redirect), in the site's space.
    assert_eq!(urls, [format!("{SITE}/robots.txt"), format!("{SITE}/old")]);
    assert_eq!(pages[1].1, gbk(TITLE), "the bytes as served, not decoded");
    assert_eq!(pages[1].2.as_deref(), Some("text/html; charset=gbk"));
    assert_eq!(
        *sink.lengths.lock().unwrap(),
        [(format!("{SITE}/a.pdf"), 1234)]
    );
    server.stop().await;

    // The folder `fetch` makes of that: the page, its Content-Type, the attachment's size.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old"), gbk(TITLE)).unwrap();
    std::fs::write(
        dir.path().join("old.noticefeed-type"),
        "text/html; charset=gbk",
    )
    .unwrap();
    std::fs::write(dir.path().join("a.pdf.noticefeed-length"), "1234\n").unwrap();
    let base = Url::from_directory_path(dir.path()).unwrap();
    let c = client(HttpOptions {
        mirrors: vec![mirror(base.as_str())],
        ..opts()
    });
    let p = page(&c, site("/old")).await;
    assert_eq!((p.text.as_str(), p.encoding), (TITLE, "gb18030"));
    assert_eq!(c.content_length(&site("/a.pdf")).await.unwrap(), Some(1234));
    std::fs::write(dir.path().join("b.pdf.noticefeed-length"), "many").unwrap();
    let err = c.content_length(&site("/b.pdf")).await.unwrap_err();
    assert!(matches!(err, Error::File { .. }), "{err:?}");
}
