//! Load generator for `benches/serve.sh` (not a test): N connections on loopback, each sending
//! the same request back to back for a while, then requests per second and latency percentiles.
//!
//!   serve_load URL [--connections 64] [--seconds 10] [--header 'Name: value']...
//!
//! One reqwest client per connection (a pool of one), so there really are N connections.

// A benchmark tool: a bad argument may panic with its message.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut connections = 64usize;
    let mut seconds = 10u64;
    let mut headers: Vec<(String, String)> = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--connections" => connections = args.next().unwrap().parse().unwrap(),
            "--seconds" => seconds = args.next().unwrap().parse().unwrap(),
            "--header" => {
                let h = args.next().unwrap();
                let (k, v) = h.split_once(':').expect("--header 'Name: value'");
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            _ => url = Some(a),
        }
    }
    let url = url.expect("usage: serve_load URL [--connections N] [--seconds S] [--header H]");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (url, headers) = (url.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .no_gzip()
                .no_brotli()
                .no_deflate()
                .build()
                .unwrap();
            let mut lat = Vec::new();
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let mut req = client.get(&url);
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                let res = req.send().await.unwrap();
                *statuses.entry(res.status().as_u16()).or_default() += 1;
                res.bytes().await.unwrap();
                lat.push(started.elapsed());
            }
            (lat, statuses)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for t in tasks {
        let (lat, st) = t.await.unwrap();
        all.extend(lat);
        for (k, v) in st {
            *statuses.entry(k).or_default() += v;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        all[i].as_secs_f64() * 1000.0
    };
    println!(
        "{} requests in {wall:.1} s over {connections} connections: {:.0} requests/s; \
         latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; statuses {statuses:?}",
        all.len(),
        all.len() as f64 / wall,
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
}
