#!/usr/bin/env python3
"""The scale benchmark's corpus (benches/scale.sh): FEEDS local feeds, each a folder with one JSON
Lines file of NOTICES notices, written deterministically (fixed seed) into DIR.

    python3 benches/scale_corpus.py DIR [--feeds 100] [--notices 1000]
    python3 benches/scale_corpus.py DIR --edit FEED     # rewrite the newest notice of one feed
    python3 benches/scale_corpus.py DIR --add FEED      # append one newer notice to one feed

DIR/feeds/sNNN.toml are the definitions (`kind = "local"`, `max_items = 50`),
DIR/notices/sNNN/notices.jsonl the notices, oldest first, as an export appended over the years:
Chinese titles, bodies of about 1 KB in a few paragraphs, a date with a time of day, a link
under the association's site, and an explicit id on every tenth notice. 100 x 1,000 is about
138 MB, the corpus of issue 11. Only the standard library; Python 3.8+.
"""

import argparse
import datetime
import json
import random
import sys
from pathlib import Path

SEED = 20261201

# Words of the association's notices, so bodies look like (and compress like) real ones.
SUBJECTS = [
    "有色金属", "铜", "铝", "铅锌", "镍钴", "锡锑", "稀土", "钨钼", "锂", "黄金", "白银",
    "再生金属", "硅", "镁", "钛", "铜加工", "铝加工", "冶炼", "矿山", "新能源材料",
]
KINDS = [
    "工作会议", "座谈会", "论坛", "培训班", "标准化会议", "年会", "研讨会", "调研活动",
    "统计数据", "形势分析", "政策解读", "表彰决定", "招聘公告", "展览会", "专家委员会会议",
]
PLACES = [
    "北京", "上海", "西安", "杭州", "哈尔滨", "昆明", "长沙", "兰州", "包头", "赣州", "雄安",
    "郑州", "成都", "贵阳", "南宁", "沈阳",
]
WORDS = [
    "协会", "会员单位", "行业", "企业", "高质量发展", "绿色低碳", "产业链", "供应链", "安全",
    "生产", "消费", "进口", "出口", "价格", "产量", "同比增长", "环比下降", "项目", "技术",
    "创新", "数字化", "智能矿山", "节能", "减排", "双碳", "标准", "规范", "政策", "市场",
    "资源", "循环利用", "国际合作", "人才", "培训", "党建", "质量", "品牌", "投资", "效益",
    "研究", "报告", "统计", "会议", "通知", "要求", "组织", "报名", "联系人", "附件",
]
PUNCT = ["，", "，", "，", "、", "。"]


def sentence(rng: random.Random, chars: int) -> str:
    out = []
    n = 0
    while n < chars:
        w = rng.choice(WORDS if rng.random() < 0.8 else SUBJECTS + PLACES)
        out.append(w)
        n += len(w)
        if rng.random() < 0.25:
            p = rng.choice(PUNCT)
            out.append(p)
            n += 1
    return "".join(out).rstrip("，、") + "。"


def body(rng: random.Random) -> str:
    # About 1 KB of UTF-8 (three bytes a character), in three to five paragraphs.
    paragraphs = rng.randint(3, 5)
    per = rng.randint(320, 420) // paragraphs
    return "\n\n".join(sentence(rng, per) for _ in range(paragraphs))


def title(rng: random.Random, year: int) -> str:
    return "关于{}{}年{}{}{}的通知".format(
        "召开" if rng.random() < 0.6 else "举办",
        year,
        rng.choice(PLACES) if rng.random() < 0.5 else "",
        rng.choice(SUBJECTS),
        rng.choice(KINDS),
    )


START = datetime.datetime(2016, 1, 4, 9, 0)
SPAN_DAYS = 3650


def notice(feed: int, index: int, count: int, rng: random.Random, edited: bool = False) -> dict:
    # Oldest first, `count` notices spread over ten years from 2016 (all in the past, whatever
    # the count), at an office hour; index `count` is the newest.
    day = START + datetime.timedelta(days=index * SPAN_DAYS // count)
    when = day + datetime.timedelta(minutes=rng.randint(0, 8 * 60))
    n = {
        "title": title(rng, when.year),
        "date": when.strftime("%Y-%m-%d %H:%M"),
        "link": "https://www.chinania.org.cn/html/s{:03}/{}/{:06}.html".format(
            feed, when.year, index
        ),
        "author": "中国有色金属工业协会",
        "tags": [rng.choice(SUBJECTS), rng.choice(KINDS)],
        "body": body(rng),
    }
    if index % 10 == 0:
        n["id"] = "s{:03}-{:06}".format(feed, index)
    if edited:
        n["title"] = n["title"] + "（更正）"
        n["body"] = n["body"] + "\n\n更正：会议地点有变，详见附件。"
    return n


def line(n: dict) -> str:
    return json.dumps(n, ensure_ascii=False, separators=(",", ":")) + "\n"


def feed_rng(feed: int, index: int) -> random.Random:
    # One generator per notice, so --edit and --add can rebuild any one notice alone.
    return random.Random(SEED * 1_000_003 + feed * 100_003 + index)


def definition(feed: int) -> str:
    return """title = "有色金属行业通知 {f:03}"
description = "Scale benchmark feed {f:03}: a JSON Lines export of an association's notices"
link = "https://www.chinania.org.cn/"
language = "zh-CN"
timezone = "Asia/Shanghai"
max_items = 50

[source]
kind = "local"
path = "../notices/s{f:03}"
""".format(f=feed)


def generate(root: Path, feeds: int, notices: int) -> None:
    (root / "feeds").mkdir(parents=True, exist_ok=True)
    total = 0
    for f in range(feeds):
        (root / "feeds" / "s{:03}.toml".format(f)).write_text(definition(f), encoding="utf-8")
        folder = root / "notices" / "s{:03}".format(f)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "notices.jsonl"
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for i in range(notices):
                out.write(line(notice(f, i, notices, feed_rng(f, i))))
        total += path.stat().st_size
    print("{} feeds x {} notices: {} bytes of notice files".format(feeds, notices, total))


def rewrite_newest(root: Path, feed: int) -> None:
    path = root / "notices" / "s{:03}".format(feed) / "notices.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = len(lines) - 1
    edited = notice(feed, index, len(lines), feed_rng(feed, index), edited=True)
    lines[index] = line(edited)
    path.write_text("".join(lines), encoding="utf-8")
    print(edited["title"])


def append_one(root: Path, feed: int) -> None:
    path = root / "notices" / "s{:03}".format(feed) / "notices.jsonl"
    with path.open("r", encoding="utf-8") as f:
        index = sum(1 for _ in f)
    n = notice(feed, index, index, feed_rng(feed, index))
    with path.open("a", encoding="utf-8", newline="\n") as out:
        out.write(line(n))
    print(n["title"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir", type=Path)
    p.add_argument("--feeds", type=int, default=100)
    p.add_argument("--notices", type=int, default=1000)
    p.add_argument("--edit", type=int, metavar="FEED", help="rewrite the newest notice of FEED")
    p.add_argument("--add", type=int, metavar="FEED", help="append one newer notice to FEED")
    a = p.parse_args()
    if a.edit is not None:
        rewrite_newest(a.dir, a.edit)
    elif a.add is not None:
        append_one(a.dir, a.add)
    else:
        if a.feeds < 1 or a.notices < 1:
            p.error("--feeds and --notices must be at least 1")
        generate(a.dir, a.feeds, a.notices)
    return 0


if __name__ == "__main__":
    sys.exit(main())
