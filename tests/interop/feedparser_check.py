#!/usr/bin/env python3
"""Reads feed files with feedparser, the parser behind many real readers, and prints what it
saw as JSON, so the Rust integration test can compare it with the feed-rs reading.

Usage: feedparser_check.py FILE...   (prints one JSON object: {FILE: {...}, ...})
Exits 3 when feedparser is not installed, so the caller can say how to install it.
"""

import calendar
import json
import sys

try:
    import feedparser
except ImportError:
    sys.stderr.write("feedparser is not installed (python3 -m pip install feedparser)\n")
    sys.exit(3)


def utc(parsed):
    """feedparser gives UTC struct_time; spell it as RFC 3339 UTC for an exact comparison."""
    if parsed is None:
        return None
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % tuple(parsed[:6])


def alternate(entry):
    # feedparser invents `link` from the id when an Atom entry has none; read the links
    # actually present instead.
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("type", "text/html") != "application/atom+xml":
            return link.get("href")
    return None


def read(path):
    d = feedparser.parse(path)
    return {
        "bozo": int(bool(d.bozo)),
        "bozo_exception": str(d.get("bozo_exception")) if d.bozo else None,
        "version": d.get("version"),
        "title": d.feed.get("title"),
        "ids": [e.get("id") for e in d.entries],
        "titles": [e.get("title") for e in d.entries],
        "links": [alternate(e) for e in d.entries],
        "dates": [utc(e.get("published_parsed")) for e in d.entries],
        "tags": [[t.get("term") for t in e.get("tags", [])] for e in d.entries],
    }


if __name__ == "__main__":
    json.dump({p: read(p) for p in sys.argv[1:]}, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
