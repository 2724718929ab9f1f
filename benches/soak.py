#!/usr/bin/env python3
"""Soak run: many builds against a local mirror that changes between runs, a third of them
killed with SIGKILL at a random moment. Run through benches/soak.sh.

After every run:
* the store passes `PRAGMA integrity_check`;
* no notice's GUID ever changed: canonical link -> GUID, across every run and every feed (a
  notice cross-listed in two channels is one GUID), in the store and in the written RSS;
* the archive never lost a notice: each feed's rows only grow, and every (feed, GUID) seen
  before is still there;
* every written file parses: RSS, Atom and OPML with xmllint (Atom also against the RELAX NG
  schema), JSON Feed with Python's json.

Mutations of the mirror between runs: new, edited (seen on the --refresh runs), removed,
re-ordered and cross-listed notices, and failing pages (a detail page 404, a list page 404, a
list page whose layout no longer matches), each failure undone on the next mutation round.
Prints the counts at the end; exits 1 if any check failed.
"""
import argparse
import collections
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORIGIN = "https://www.chinania.org.cn"
CHANNELS = {
    "chinania-xiehuitongzhi": "html/xiehuidongtai/xiehuitongzhi",
    "chinania-jqzs": "html/hangyetongji/jqzs",
    "chinania-tongji": "html/hangyetongji/tongji",
}
LI = re.compile(r"\t\t\t<li( class=\"top\")?>\n.*?\t\t\t</li>\n", re.S)
HREF = re.compile(r'href="([^"]+)"')


class Mirror:
    """The served copy of the site and the changes made to it."""

    def __init__(self, root, rng):
        self.root = root
        self.rng = rng
        self.undo = []  # (path, original bytes or None) restored before the next round
        self.serial = 0
        self.kinds = collections.Counter()

    def path(self, href):
        # List links may be absolute (`https://www.chinania.org.cn/…`) or carry a query.
        rel = urllib.parse.unquote(urllib.parse.urlsplit(href).path)
        return os.path.join(self.root, rel.lstrip("/"))

    def list_file(self, chan):
        return self.path(CHANNELS[chan] + "/index.html")

    def entries(self, chan):
        if not os.path.exists(self.list_file(chan)):
            return "", []
        html = open(self.list_file(chan), encoding="utf-8").read()
        return html, list(LI.finditer(html))

    def write_list(self, chan, html):
        with open(self.list_file(chan), "w", encoding="utf-8") as f:
            f.write(html)

    def restore(self):
        for path, data in reversed(self.undo):
            if data is None:
                if os.path.exists(path):
                    os.remove(path)
            else:
                with open(path, "wb") as f:
                    f.write(data)
        self.undo.clear()

    def mutate(self):
        self.restore()
        kinds = [self.rng.choice(["new", "new", "edit", "remove", "reorder", "cross", "fail"])
                 for _ in range(self.rng.randint(1, 3))]
        # Failures last, so the other changes of the round see every page.
        for kind in sorted(kinds, key=lambda k: k == "fail"):
            chan = self.rng.choice(sorted(CHANNELS))
            if getattr(self, kind)(chan):
                self.kinds[kind] += 1

    def new(self, chan):
        html, lis = self.entries(chan)
        plain = [m for m in lis if not m.group(1)]
        if not plain:
            return False
        model = self.rng.choice(plain)
        href = HREF.search(model.group(0)).group(1)
        self.serial += 1
        n = self.serial
        day = 1 + n % 28
        new_href = f"/{CHANNELS[chan]}/2026/11{day:02d}/9{n:05d}.html"
        title = f"关于浸泡测试第{n}号通知的通知"
        if not os.path.exists(self.path(href)):
            return False
        page = open(self.path(href), encoding="utf-8").read()
        page = re.sub(r'(<div class="article_title">\s*<p>)[^<]*', lambda m: m.group(1) + title, page, 1)
        page = re.sub(r"发布时间：[^<]*", f"发布时间：2026-11-{day:02d} 09:{n % 60:02d}", page, 1)
        os.makedirs(os.path.dirname(self.path(new_href)), exist_ok=True)
        with open(self.path(new_href), "w", encoding="utf-8") as f:
            f.write(page)
        li = model.group(0).replace(href, new_href)
        li = re.sub(r'(<p class="notice_list_title">)[^<]*', lambda m: m.group(1) + title, li, 1)
        li = re.sub(r'(<p class="notice_list_time">)[^<]*', lambda m: m.group(1) + f"2026-11-{day:02d}", li, 1)
        first = plain[0].start()
        self.write_list(chan, html[:first] + li + html[first:])
        return True

    def edit(self, chan):
        _, lis = self.entries(chan)
        if not lis:
            return False
        href = HREF.search(self.rng.choice(lis).group(0)).group(1)
        if not os.path.exists(self.path(href)):
            return False
        page = open(self.path(href), encoding="utf-8").read()
        self.serial += 1
        page = re.sub(
            r'(<div class="article_title">\s*<p>)([^<]*)',
            lambda m: m.group(1) + re.sub(r"（更正\d+）$", "", m.group(2)) + f"（更正{self.serial}）",
            page,
            1,
        )
        page = page.replace("</div>\n\t\t<div class=\"article_tools\">", f"<p>更正说明{self.serial}。</p></div>\n\t\t<div class=\"article_tools\">", 1)
        with open(self.path(href), "w", encoding="utf-8") as f:
            f.write(page)
        return True

    def remove(self, chan):
        html, lis = self.entries(chan)
        plain = [m for m in lis if not m.group(1)]
        if len(plain) < 3:
            return False
        m = self.rng.choice(plain)
        self.write_list(chan, html[: m.start()] + html[m.end():])
        return True

    def reorder(self, chan):
        html, lis = self.entries(chan)
        if len(lis) < 2:
            return False
        start, end = lis[0].start(), lis[-1].end()
        block = html[start:end]
        items = [m.group(0) for m in lis]
        if "".join(items) != block:
            return False
        self.rng.shuffle(items)
        self.write_list(chan, html[:start] + "".join(items) + html[end:])
        return True

    def cross(self, chan):
        other = self.rng.choice([c for c in sorted(CHANNELS) if c != chan])
        _, lis = self.entries(other)
        plain = [m for m in lis if not m.group(1)]
        html, here = self.entries(chan)
        if not plain or not here:
            return False
        li = self.rng.choice(plain).group(0)
        if HREF.search(li).group(1) in html:
            return False
        at = here[-1].end()
        self.write_list(chan, html[:at] + li + html[at:])
        return True

    def fail(self, chan):
        how = self.rng.choice(["detail404", "detail404", "list404", "layout"])
        if how == "detail404":
            _, lis = self.entries(chan)
            if not lis:
                return False
            target = self.path(HREF.search(self.rng.choice(lis).group(0)).group(1))
            if not os.path.exists(target):
                return False
            self.undo.append((target, open(target, "rb").read()))
            os.remove(target)
        else:
            target = self.list_file(chan)
            if any(path == target for path, _ in self.undo):
                return False
            self.undo.append((target, open(target, "rb").read()))
            if how == "list404":
                os.remove(target)
            else:
                html = open(target, encoding="utf-8").read()
                with open(target, "w", encoding="utf-8") as f:
                    f.write(html.replace("notice_list_ul", "news_list_redesigned"))
        self.kinds["fail:" + how] += 1
        return True


def check_files(out, schema, counts, problems, run):
    names = sorted(n for n in os.listdir(out) if not n.startswith("."))
    xml = [os.path.join(out, n) for n in names if n.endswith(".xml") or n.endswith(".opml")]
    atom = [p for p in xml if p.endswith(".atom.xml")]
    for files, extra in ((xml, []), (atom, ["--relaxng", schema])):
        if not files:
            continue
        r = subprocess.run(["xmllint", "--noout", *extra, *files], capture_output=True, text=True)
        if r.returncode != 0:
            problems.append(f"run {run}: xmllint {' '.join(extra)}: {r.stderr[-2000:]}")
    for n in names:
        p = os.path.join(out, n)
        if n.endswith(".json"):
            try:
                doc = json.load(open(p, encoding="utf-8"))
                if not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/1"):
                    problems.append(f"run {run}: {n}: not a JSON Feed")
            except ValueError as e:
                problems.append(f"run {run}: {n}: {e}")
    counts["files parsed"] += len(xml) + len([n for n in names if n.endswith(".json")])
    return [p for p in xml if p.endswith(".rss.xml")]


def rss_items(path):
    """(link, guid) of every RSS item, by a plain regex: xmllint has already said it is XML."""
    text = open(path, encoding="utf-8").read()
    out = []
    for item in re.findall(r"<item>(.*?)</item>", text, re.S):
        link = re.search(r"<link>([^<]*)</link>", item)
        guid = re.search(r"<guid[^>]*>([^<]*)</guid>", item)
        if link and guid:
            out.append((link.group(1), guid.group(1)))
    return out


def key_of(link):
    return re.sub(r"^http://", "https://", link)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="noticefeed-soak-")
    site = os.path.join(work, "site")
    shutil.copytree(os.path.join(ROOT, "tests/fixtures/chinania"), site)
    feeds = os.path.join(work, "feeds")
    os.makedirs(os.path.join(feeds, "sites"))
    shutil.copy(os.path.join(ROOT, "feeds/sites/chinania.toml"), os.path.join(feeds, "sites"))
    for chan in CHANNELS:
        shutil.copy(os.path.join(ROOT, f"feeds/{chan}.toml"), feeds)
    with open(os.path.join(feeds, "soak-all.toml"), "w", encoding="utf-8") as f:
        f.write('title = "soak: three channels merged"\nlink = "https://www.chinania.org.cn/"\n'
                'language = "zh-CN"\ntimezone = "Asia/Shanghai"\nmax_items = 300\n\n'
                '[source]\nkind = "merge"\nfeeds = [%s]\n' % ", ".join(f'"{c}"' for c in CHANNELS))
    state = os.path.join(work, "state.sqlite")
    out = os.path.join(work, "public")
    schema = os.path.join(ROOT, "tests/fixtures/schemas/atom.rng")
    port_file = os.path.join(work, "port")
    server = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests/fixtures/serve.py"), "--root", site, "--port", "0",
         "--port-file", port_file, "--quiet"],
        stdout=subprocess.DEVNULL,
        # Killed builds reset their connections; the server's tracebacks about it go here.
        stderr=open(os.path.join(work, "server.log"), "w"),
    )
    problems = []
    counts = collections.Counter()
    codes = collections.Counter()
    guid_of = {}  # canonical link key -> GUID, over every run and feed
    rows_before = {}  # feed -> row count
    pairs_before = set()  # (feed, guid)
    durations = []
    mirror = Mirror(site, rng)
    kill_runs = set(rng.sample(range(2, args.runs + 1), args.runs // 3))
    started = time.time()
    try:
        for _ in range(100):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        port = open(port_file).read().strip()
        for run in range(1, args.runs + 1):
            if run > 1:
                mirror.mutate()
            cmd = [args.bin, "--feeds", feeds, "--state", state, "--mirror",
                   f"{ORIGIN}=http://127.0.0.1:{port}", "--delay-ms", "0", "-q", "build", "--out", out]
            if run % 10 == 0:
                cmd.append("--refresh")
            t0 = time.time()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            killed = False
            if run in kill_runs:
                typical = sorted(durations)[len(durations) // 2] if durations else 0.5
                try:
                    proc.wait(timeout=rng.uniform(0, typical * 0.95))
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    killed = True
            try:
                _, stderr = proc.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, stderr = proc.communicate()
                problems.append(f"run {run}: did not finish in 300 s")
            if killed:
                counts["killed with SIGKILL"] += 1
                codes["killed"] += 1
            else:
                durations.append(time.time() - t0)
                codes[proc.returncode] += 1
                if run in kill_runs:
                    counts["finished before its kill"] += 1
                if proc.returncode not in (0, 1):
                    problems.append(f"run {run}: exit {proc.returncode}: {stderr.decode(errors='replace')[-2000:]}")

            if not os.path.exists(state):
                continue
            db = sqlite3.connect(state, timeout=30)
            try:
                verdict = [r[0] for r in db.execute("PRAGMA integrity_check")]
                if verdict == ["ok"]:
                    counts["integrity checks ok"] += 1
                else:
                    problems.append(f"run {run}: integrity_check: {verdict}")
                rows = db.execute("SELECT feed, guid, link_key FROM item").fetchall()
            finally:
                db.close()
            per_feed = collections.Counter(f for f, _, _ in rows)
            for feed, n in rows_before.items():
                if per_feed[feed] < n:
                    problems.append(f"run {run}: feed {feed} lost rows: {n} -> {per_feed[feed]}")
            pairs = {(f, g) for f, g, _ in rows}
            lost = pairs_before - pairs
            if lost:
                problems.append(f"run {run}: notices left the archive: {sorted(lost)[:5]}")
            rows_before, pairs_before = dict(per_feed), pairs
            for feed, guid, key in rows:
                if key is None:
                    continue
                if guid_of.setdefault(key, guid) != guid:
                    problems.append(f"run {run}: {key} in {feed}: GUID {guid_of[key]} became {guid}")
                    counts["GUID changes"] += 1
            if os.path.isdir(out):
                for rss in check_files(out, schema, counts, problems, run):
                    for link, guid in rss_items(rss):
                        key = key_of(link)
                        if guid_of.setdefault(key, guid) != guid:
                            problems.append(f"run {run}: {os.path.basename(rss)}: {link}: GUID {guid_of[key]} became {guid}")
                            counts["GUID changes"] += 1
            counts["runs"] += 1
            if run % 25 == 0:
                print(f"... run {run}: {len(rows)} archived rows, {len(guid_of)} notices, "
                      f"{len(problems)} problems", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)

    elapsed = time.time() - started
    print(f"soak: seed {seed}, {args.runs} runs in {elapsed:.0f} s (median run {sorted(durations)[len(durations) // 2]:.2f} s)")
    print("  runs killed with SIGKILL: %d (+%d that finished before their kill)"
          % (counts["killed with SIGKILL"], counts["finished before its kill"]))
    print("  exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items(), key=str)))
    print("  mutations: " + ", ".join(f"{k} {v}" for k, v in sorted(mirror.kinds.items())))
    print(f"  PRAGMA integrity_check ok: {counts['integrity checks ok']} of {counts['runs']} runs")
    print(f"  notices tracked (link -> GUID): {len(guid_of)}; GUID changes: {counts['GUID changes']}")
    print("  archive rows at the end: " + ", ".join(f"{k} {v}" for k, v in sorted(rows_before.items()))
          + f"; rows lost: {sum(1 for p in problems if 'lost rows' in p or 'left the archive' in p)}")
    print(f"  files parsed: {counts['files parsed']}")
    print(f"  problems: {len(problems)}")
    for p in problems[:20]:
        print("    " + p)
    if not problems:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"  work folder kept: {work}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
