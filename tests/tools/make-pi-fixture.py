#!/usr/bin/env python3
"""Builds tests/fixtures/pi/ (the public-inbox test inbox's mail) from the shared
corpus. Run once by hand; the output is committed. Not used by the suite.

  tests/tools/make-pi-fixture.py [CORPUS_DIR]   (default ../shared/corpus)

kvmarm-W04-conversations.mbox.gz: every message of examples/kvmarm-2022-W04.mbox
(the 2022-W04 week by Date:) plus every other message of the 2021-01..2023-01
archive connected to one of them by References/In-Reply-To (whole conversations,
both sides of the week), in archive order, mboxrd; minus the late reply below;
plus one constructed same-subject intruder (the archive has no real one).
late-reply.mbox: one real W04 reply held back, imported later by the
"one new reply" spec and bench run.
"""
import gzip, os, re, sys

SEP = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
LATE = "a28f54a5-47d2-651a-0a2f-4274ab9d5855@arm.com"          # Re: [PATCH 4/4] ... A510 (leaf)
INTRUDER_FROM = "20220106042708.2869332-1-reijiw@google.com"    # [RFC PATCH v4 00/26] cover letter
INTRUDER_ID = "20211215100000.intruder-1-constructed@listdigest.invalid"

def split(data):
    return [p for p in re.split(rb"(?m)^From mboxrd@z Thu Jan  1 00:00:00 1970\n", data) if p.strip()]

def header_block(raw):
    h = raw.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    return re.sub(r"\n[ \t]+", " ", h)

def field(raw, name):
    for line in header_block(raw).split("\n"):
        k, _, v = line.partition(":")
        if k.strip().lower() == name:
            return v.strip()
    return ""

IDS = re.compile(r"<([^<>\s]+)>")

def mid(raw):
    found = IDS.findall(field(raw, "message-id"))
    return found[0] if found else None

def refs(raw):
    return IDS.findall(field(raw, "references")) + IDS.findall(field(raw, "in-reply-to"))

def intruder(raw):
    """The cover letter re-posted as an unrelated new thread: same Subject,
    new Message-ID, no References, Date/Received a month earlier."""
    head, body = raw.split(b"\n\n", 1)
    out, skip = [], False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skip:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].lower()
        skip = name in (b"message-id", b"references", b"in-reply-to", b"date", b"received")
        if not skip:
            out.append(line)
    out = [b"Received: from constructed.invalid by listdigest-fixture; Wed, 15 Dec 2021 10:00:00 +0000",
           b"X-Listdigest-Fixture: constructed same-subject intruder, from <" + INTRUDER_FROM.encode() + b">"] + out
    out += [b"Message-ID: <" + INTRUDER_ID.encode() + b">", b"Date: Wed, 15 Dec 2021 10:00:00 +0000"]
    return b"\n".join(out) + b"\n\n" + body

def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus"
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    big = split(gzip.open(os.path.join(corpus, "kernel-lists/kvmarm/kvmarm-2021-01-01_2023-01-06.mbox.gz")).read())
    week = split(open(os.path.join(here, "examples/kvmarm-2022-W04.mbox"), "rb").read())
    parent = {}
    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for raw in big:
        for r in refs(raw):
            parent[find(mid(raw))] = find(r)
    want = {find(mid(raw)) for raw in week}
    keep, late, cover = [], None, None
    for raw in big:
        m = mid(raw)
        if find(m) not in want:
            continue
        if m == LATE:
            late = raw
            continue
        if m == INTRUDER_FROM:
            cover = raw
        keep.append(raw)
    assert late and cover
    keep.insert(0, intruder(cover))
    def mboxrd(msgs):   # the corpus is mboxrd already: bodies stay as they are
        return b"".join(SEP + (m if m.endswith(b"\n\n") else m.rstrip(b"\n") + b"\n\n") for m in msgs)
    outdir = os.path.join(here, "tests/fixtures/pi")
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "kvmarm-W04-conversations.mbox.gz"), "wb") as f:
        f.write(gzip.compress(mboxrd(keep), 9, mtime=0))
    with open(os.path.join(outdir, "late-reply.mbox"), "wb") as f:
        f.write(mboxrd([late]))
    print(len(keep), "messages (+1 late reply)")

main()
