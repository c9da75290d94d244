-- listdigest.fetch and listdigest.atom: fetching a week from public-inbox.
-- The integration part starts a real public-inbox-httpd (the software
-- lore.kernel.org runs) on 127.0.0.1 with tests/fixtures/pi/ and a
-- fault-injecting proxy in front of it; nothing leaves loopback.
local fetch = require "listdigest.fetch"
local json = require "listdigest.json"
local atom = require "listdigest.atom"
local mbox = require "listdigest.mbox"
local tu = require "listdigest.timeutil"

local SINCE, UNTIL = 1642982400, 1643587200          -- 2022-01-24 .. 2022-01-31 (W04)
local FIXTURE = "tests/fixtures/pi/kvmarm-W04-conversations.mbox.gz"
local LATE = "tests/fixtures/pi/late-reply.mbox"
local LATE_ID = "a28f54a5-47d2-651a-0a2f-4274ab9d5855@arm.com"
local COVER_ID = "20220106042708.2869332-1-reijiw@google.com"   -- [RFC PATCH v4 00/26], 2022-01-06
local INTRUDER_ID = "20211215100000.intruder-1-constructed@listdigest.invalid"

local FEED = [[<?xml version="1.0" encoding="us-ascii"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0"><title>q - search results</title><updated>2022-04-01T18:20:45Z</updated><entry><author><name>Jos&#233; R</name><email>j@example.org</email></author><title
type="html">Re: [PATCH] a &amp; b&#39;s &lt;fix&gt;</title><updated>2022-02-01T18:39:06Z</updated><link
href="http://127.0.0.1:8089/kvmarm/weird+id%2Fwith%25chars=and&#38;more@example.org/"/><id>urn:uuid:1</id><thr:in-reply-to
ref="urn:uuid:2" href="http://127.0.0.1:8089/kvmarm/parent%2Fid@example.org/"/><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><pre>body</pre></div></content></entry><entry><title>second</title><updated>2022-01-31T00:00:00+01:00</updated><link href="http://h/l/plain@example.org/"/></entry></feed>]]

describe("listdigest.atom", function()
  it("reads entries: the Message-ID from the link, percent-decoded after XML entities", function()
    local feed = assert(atom.parse(FEED))
    assert.equal("q - search results", feed.title)
    assert.equal(2, #feed.entries)
    local e = feed.entries[1]
    assert.equal("weird+id/with%chars=and&more@example.org", e.message_id)
    assert.equal("parent/id@example.org", e.in_reply_to)
    assert.equal("Re: [PATCH] a & b's <fix>", e.title)
    assert.equal("José R", e.author.name)
    assert.equal("j@example.org", e.author.email)
    assert.equal("2022-02-01T18:39:06Z", e.updated)
    assert.equal(1643740746, e.updated_t)
    assert.equal("plain@example.org", feed.entries[2].message_id)
    assert.equal(1643583600, feed.entries[2].updated_t)
    assert.is_nil(feed.entries[2].in_reply_to)
  end)

  it("takes a bare </feed> (public-inbox 1.9.0 past the last page) and an empty feed as zero entries", function()
    assert.same({}, assert(atom.parse("</feed>")).entries)
    assert.same({}, assert(atom.parse("\n</feed>\n")).entries)
    assert.same({}, assert(atom.parse('<feed xmlns="http://www.w3.org/2005/Atom"></feed>')).entries)
  end)

  it("refuses HTML error pages, broken XML and documents with a DTD", function()
    local f, err = atom.parse("<html><body>[No results found]</body></html>")
    assert.is_nil(f)
    assert.matches("not an Atom feed", err)
    f, err = atom.parse("<feed><entry>")
    assert.is_nil(f)
    assert.matches("not well%-formed", err)
    f, err = atom.parse('<!DOCTYPE feed [<!ENTITY a "aaaa">]><feed xmlns="http://www.w3.org/2005/Atom"><title>&a;</title></feed>')
    assert.is_nil(f)
    assert.matches("DTD", err)
  end)

  it("percent-encodes Message-IDs with RFC 3986 pchar rules", function()
    assert.equal("weird+id%2Fwith%25chars=and&more@example.org", atom.pct_encode("weird+id/with%chars=and&more@example.org"))
    assert.equal("a%20b%3C%3E%23%3F%C3%A9", atom.pct_encode("a b<>#?é"))
    assert.equal("-._~!$&'()*+,;=:@", atom.pct_encode("-._~!$&'()*+,;=:@"))
    assert.equal("a/b%zz%", atom.pct_decode("a%2fb%zz%"))
  end)
end)

describe("listdigest.fetch helpers", function()
  it("asks for rt: in epoch seconds widened by 48 hours, with an optional List-Id filter", function()
    assert.equal("rt:1642809600..1643760000", fetch.query(SINCE, UNTIL))
    assert.equal("rt:1642809600..1643760000 AND (l:kvmarm.lists.linux.dev OR l:kvmarm.lists.cs.columbia.edu)",
      fetch.query(SINCE, UNTIL, { "kvmarm.lists.linux.dev", "kvmarm.lists.cs.columbia.edu" }))
    assert.equal("rt:1..2%20AND%20%28l:a.b%29", fetch.query_encode("rt:1..2 AND (l:a.b)"))
  end)

  it("takes the receive time from the topmost Received: header with a date", function()
    local raw = "Received: from a by b with ESMTP id 1\n\tfor <x@y>; Mon, 24 Jan 2022 09:57:24 +0100 (CET)\n" ..
      "Received: from c by d; Mon, 24 Jan 2022 03:57:23 -0500\n" ..
      "Message-ID: <m@x>\nDate: Sun, 23 Jan 2022 10:00:00 +0000\nSubject: s\n\nbody\n"
    local it = fetch.item(raw)
    assert.equal(1643014644, it.received)
    assert.equal("m@x", it.message_id)
    it = fetch.item("Received: from nowhere\nMessage-ID: <n@x>\nDate: Sun, 23 Jan 2022 10:00:00 +0000\n\nb\n")
    assert.equal(it.date, it.received)
  end)

  it("keeps thread-endpoint messages connected by References / In-Reply-To and drops same-subject strangers", function()
    local known = { { message_id = "r1@x", in_reply_to = "cover@x", references = { "cover@x" } } }
    local cands = {
      { message_id = "cover@x", references = {} },                                        -- named by a member
      { message_id = "p1@x", in_reply_to = "cover@x", references = { "cover@x" } },       -- names the cover
      { message_id = "r2@x", in_reply_to = "p1@x", references = { "p1@x" } },             -- via p1: fixed point
      { message_id = "stranger@x", references = {} },                                     -- same subject only
      { message_id = "other@x", in_reply_to = "stranger@x", references = { "stranger@x" } },
    }
    local kept, dropped = fetch.belonging(known, cands)
    local k, d = {}, {}
    for _, m in ipairs(kept) do k[#k + 1] = m.message_id end
    for _, m in ipairs(dropped) do d[#d + 1] = m.message_id end
    table.sort(k)
    table.sort(d)
    assert.same({ "cover@x", "p1@x", "r2@x" }, k)
    assert.same({ "other@x", "stranger@x" }, d)
  end)
end)

describe("listdigest.fetch.week with a fake transport", function()
  local ok_store, store = pcall(require, "listdigest.store")
  if not ok_store then
    pending("listdigest.store is not built")
    return
  end
  local function msg(id, subject, date, refs)
    local h = { "From mboxrd@z Thu Jan  1 00:00:00 1970", "Message-ID: <" .. id .. ">", "Subject: " .. subject,
                "Date: " .. date, "From: A <a@example.org>" }
    if refs then
      h[#h + 1] = "In-Reply-To: <" .. refs[#refs] .. ">"
      h[#h + 1] = "References: <" .. table.concat(refs, "> <") .. ">"
    end
    return table.concat(h, "\n") .. "\n\nbody\n\n"
  end
  local COVER = msg("cover@x", "[PATCH 0/1] frob", "Mon, 17 Jan 2022 10:00:00 +0000")
  local REPLY = msg("reply@x", "Re: [PATCH 0/1] frob", "Tue, 25 Jan 2022 10:00:00 +0000", { "cover@x" })
  local STRANGER = msg("stranger@x", "[PATCH 0/1] frob", "Mon, 10 Jan 2022 10:00:00 +0000")
  local FEED1 = '<feed xmlns="http://www.w3.org/2005/Atom"><entry><link href="http://h/l/reply@x/"/></entry></feed>'

  -- a transport answering from a table of URL patterns; counts requests
  local function fake(routes)
    local c, log = {}, {}
    local function answer(r)
      log[#log + 1] = (r.method or "GET") .. " " .. r.url
      for _, route in ipairs(routes) do
        if r.url:find(route[1]) and (not route.method or route.method == r.method) then
          local a = route[2]
          if type(a) == "function" then a = a(r) end
          return a
        end
      end
      return { status = 404, headers = { ["content-type"] = "text/plain" }, body = "Not Found" }
    end
    function c:request(r)
      local a = answer(r)
      if a.error then return nil, a.error, a.code end
      return a
    end
    function c:perform(reqs)
      local out = {}
      for i, r in ipairs(reqs) do out[i] = answer(r) end
      return out
    end
    function c:stats() return { requests = #log, retries = 0, bytes_received = 0, bytes_sent = 0 } end
    return c, log
  end
  local function run(st, c, o)
    local opts = { base = "http://pi.invalid/l", list = "l", since = SINCE, ["until"] = UNTIL, store = st, http = c }
    for k, v in pairs(o or {}) do opts[k] = v end
    return fetch.week(opts)
  end

  it("stores the hits, completes the conversation once and remembers it", function()
    local st = assert(store.open(":memory:"))
    local c, log = fake{
      { "x=m$", { status = 200, headers = {}, body = REPLY }, method = "POST" },
      { "/reply@x/t%.mbox%.gz$", { status = 200, headers = {}, body = COVER .. REPLY .. STRANGER } },
    }
    local s = assert(run(st, c))
    assert.equal("POST http://pi.invalid/l/?q=rt:1642809600..1643760000&x=m", log[1])
    assert.equal(2, s.requests)
    assert.same({ "cover@x", "reply@x" }, s.ids)
    assert.same({ "stranger@x" }, s.dropped)
    assert.is_false(st:has("stranger@x"))
    s = assert(run(st, c))
    assert.equal(1, s.requests)
    assert.equal(0, s.new)
    st:close()
  end)

  it("remembers a ghost the archive does not have, so later runs do not ask again", function()
    local st = assert(store.open(":memory:"))
    local c = fake{
      { "x=m$", { status = 200, headers = {}, body = REPLY }, method = "POST" },
      { "t%.mbox%.gz$", { status = 200, headers = {}, body = REPLY } },
    }
    assert.equal(2, assert(run(st, c)).requests)
    assert.equal(1, assert(run(st, c)).requests)
    st:close()
  end)

  it("stores a hit of the rt: margin dated outside the window but does not follow its conversation", function()
    local st = assert(store.open(":memory:"))
    local early = msg("early@x", "Re: [PATCH] old", "Sat, 22 Jan 2022 10:00:00 +0000", { "old@x" })
    local c = fake{ { "x=m$", { status = 200, headers = {}, body = early }, method = "POST" } }
    local s = assert(run(st, c))
    assert.equal(1, s.requests)
    assert.equal(1, s.window_hits)
    assert.equal(0, s.in_window)
    assert.same({}, s.ids)
    assert.is_true(st:has("early@x"))
    st:close()
  end)

  it("reads Atom pages and /raw when the POST answers HTML", function()
    local st = assert(store.open(":memory:"))
    local c, log = fake{
      { "x=m$", { status = 200, headers = { ["content-type"] = "text/html" }, body = "<html>x=m ignored</html>" } },
      { "x=A&o=0$", { status = 200, headers = {}, body = FEED1 } },
      { "/reply@x/raw$", { status = 200, headers = {}, body = REPLY } },
      { "/reply@x/t%.mbox%.gz$", { status = 200, headers = {}, body = COVER .. REPLY } },
    }
    local s = assert(run(st, c))
    assert.equal("atom", s.fallback)
    assert.same({ "cover@x", "reply@x" }, s.ids)
    assert.equal(4, #log)
    st:close()
  end)

  it("reports a transport failure as code 2 and an unexpected status too", function()
    local st = assert(store.open(":memory:"))
    local s, err, code = run(st, fake{ { "x=m$", { error = "POST http://pi.invalid/l/?q=...: reset", code = "reset" } } })
    assert.is_nil(s)
    assert.equal(2, code)
    assert.matches("reset", err)
    s, err, code = run(st, fake{ { "x=m$", { status = 403, headers = {}, body = "no" } } })
    assert.is_nil(s)
    assert.equal(2, code)
    assert.matches("403", err)
    st:close()
  end)
end)

-- The integration specs need public-inbox and the store and http modules.
local have_pi = os.execute("tests/tools/pi-server check >/dev/null 2>&1")
local have_mods = pcall(require, "listdigest.store") and pcall(require, "listdigest.http")

describe("fetching from a real public-inbox-httpd on 127.0.0.1", function()
  if not have_pi or not have_mods then
    pending(not have_pi and "public-inbox is not installed (scripts/install-deps.sh --test)"
      or "listdigest.store / listdigest.http are not built")
    return
  end
  local store = require "listdigest.store"
  local http = require "listdigest.http"
  local W, port, pport, ppid, base, pbase, ctl
  local fixture = {}            -- message id -> item, parsed from the fixture
  local reference               -- sorted ids stored by a clean run

  local function sh(cmd)
    local code, out, err = H.run(cmd)
    assert(code == 0, cmd .. " failed: " .. out .. err)
    return out
  end

  local function client(o)
    local opts = { retries = 3, backoff = 0.02, max_backoff = 0.1, progress = false, timeout = 30 }
    for k, v in pairs(o or {}) do opts[k] = v end
    return http.client(opts)
  end

  local n_db = 0
  local function new_store()
    n_db = n_db + 1
    local path = W .. "/s" .. n_db .. ".db"
    return assert(store.open(path)), path
  end

  local function week(st, c, o)
    local opts = { base = base, list = "kvmarm", since = SINCE, ["until"] = UNTIL, store = st, http = c }
    for k, v in pairs(o or {}) do opts[k] = v end
    return fetch.week(opts)
  end

  local function stored(st)
    local ids = {}
    for _, r in ipairs(assert(st:messages{ list = "kvmarm" })) do ids[#ids + 1] = r.message_id end
    table.sort(ids)
    return ids
  end

  local function fault(match, kind, times)
    assert(ctl:request{ url = ("http://127.0.0.1:%d/_fault?match=%s&fault=%s&times=%d")
      :format(pport, fetch.query_encode(match), kind, times or 1) })
  end
  local function clear() assert(ctl:request{ url = ("http://127.0.0.1:%d/_clear"):format(pport) }) end

  -- ids of fixture messages passing PRED
  local function fixture_ids(pred)
    local out = {}
    for id, it in pairs(fixture) do
      if pred(it) then out[#out + 1] = id end
    end
    table.sort(out)
    return out
  end

  lazy_setup(function()
    W = H.tmpdir()
    -- the servers are not ours to sanitize: no ASan preload for perl and python
    -- PI_EXTINDEX=1: also the cross-list index at /all/, as on lore
    port = tonumber(sh("env -u LD_PRELOAD PI_EXTINDEX=1 PI_LIFETIME=600 tests/tools/pi-server start " .. H.shquote(W .. "/pi") ..
      " kvmarm " .. FIXTURE):match("(%d+)%s*$"))
    base = ("http://127.0.0.1:%d/kvmarm/"):format(port)
    os.execute(("env -u LD_PRELOAD python3 tests/tools/pi-proxy.py --upstream %d --lifetime 600 >%s 2>/dev/null & echo $! >%s")
      :format(port, H.shquote(W .. "/proxy.port"), H.shquote(W .. "/proxy.pid")))
    for _ = 1, 100 do
      local f = io.open(W .. "/proxy.port")
      local p = f and f:read("l")
      if f then f:close() end
      if p and p ~= "" then pport = tonumber(p) break end
      os.execute("sleep 0.05")
    end
    ppid = H.read(W .. "/proxy.pid"):match("%d+")
    assert(pport, "pi-proxy did not start")
    pbase = ("http://127.0.0.1:%d/kvmarm/"):format(pport)
    ctl = client()
    local box = assert(mbox.open(FIXTURE))
    for _, raw, from_line in box:messages() do
      local it = fetch.item(raw, from_line)
      fixture[it.message_id] = it
    end
    box:close()
  end)

  lazy_teardown(function()
    if ppid then os.execute("kill " .. ppid .. " 2>/dev/null") end
    if W then
      os.execute("env -u LD_PRELOAD tests/tools/pi-server stop " .. H.shquote(W .. "/pi"))
      os.execute("rm -rf " .. H.shquote(W))
    end
  end)

  it("downloads the window with one POST, completes conversations across its edges, drops the intruder", function()
    local st = new_store()
    local c = client()
    local s = assert(week(st, c))
    -- the hits: every fixture message received in the widened rt: window
    local lo, hi = SINCE - fetch.MARGIN, UNTIL + fetch.MARGIN
    local expect_hits = fixture_ids(function(m) return m.received >= lo and m.received <= hi end)
    assert.equal(#expect_hits, s.window_hits)
    assert.is_nil(s.fallback)
    -- all of the week (by Date:) is stored and listed for the report
    local week_ids = fixture_ids(function(m) return m.date >= SINCE and m.date < UNTIL end)
    assert.equal(339, #week_ids)   -- the 340 of examples/kvmarm-2022-W04.mbox minus the held-back reply
    local listed = {}
    for _, id in ipairs(s.ids) do listed[id] = true end
    for _, id in ipairs(week_ids) do
      assert.is_true(listed[id], id)
      assert.is_true(st:has(id), id)
    end
    -- the cover letter from 2022-01-06 whose replies are in W04: context
    assert.is_true(st:has(COVER_ID))
    assert.is_true(listed[COVER_ID])
    assert.is_true(fixture[COVER_ID].date < SINCE)
    -- the same-subject stranger came back from t.mbox.gz and was not kept
    assert.same({ INTRUDER_ID }, s.dropped)
    assert.is_false(st:has(INTRUDER_ID))
    assert.is_nil(listed[INTRUDER_ID])
    -- one t.mbox.gz per conversation with a ghost, not one per message
    assert.is_true(s.completed_threads > 0)
    assert.equal(1 + s.completed_threads, s.requests)
    local urls = {}
    for _, comp in ipairs(s.completions) do
      assert.is_nil(urls[comp.url])
      urls[comp.url] = true
    end
    assert.equal(#s.ids, st:count("kvmarm"))
    assert.is_true(s.bytes > 0)
    reference = stored(st)

    -- a second run for the same window: one request, nothing new
    local s2 = assert(week(st, c))
    assert.equal(1, s2.requests)
    assert.equal(0, s2.new)
    assert.equal(0, s2.completed_threads)
    assert.same(s.ids, s2.ids)
    st:close()
  end)

  it("reports from the server end to end: the week counted, conversations completed as context", function()
    local db = W .. "/cli.db"
    local args = ("--source %s --rules kvmarm --db %s --since 2022-01-24 --until 2022-01-31")
      :format(base, H.shquote(db))
    local code, out, err = H.listdigest("report " .. args .. " --format json --out -")
    assert.are.equal(0, code, err)
    local report = json.decode(out)
    -- 339 of the week are on the server (one reply is held back for a later spec)
    assert.are.equal(339, report.stats.messages)
    assert.are.equal(23, report.stats.threads)
    local cover
    for _, th in ipairs(report.threads) do
      for _, m in ipairs(th.messages) do
        if m.message_id == COVER_ID then cover = m end
        assert.are.equal(m.date >= "2022-01-24" and m.date < "2022-01-31", m.in_window, m.message_id)
        assert.are.equal(base .. fetch.pct_encode(m.message_id) .. "/", m.url)
      end
    end
    assert.is_false(cover.in_window)        -- the cover letter from 2022-01-06
    -- the CLI's fetch on the same store: one request, nothing new
    code, out, err = H.listdigest("fetch " .. args)
    assert.are.equal(0, code, err)
    assert.matches("%(0 new%), 0 threads completed; 1 requests", out)
  end)

  it("finds a series' previous version through the archive's search, once", function()
    local st = new_store()
    local c = client()
    local o = { base = base, http = c, store = st, list = "kvmarm", addr = "broonie@kernel.org",
                title = "arm64/sme: initial support for the scalable matrix extension", version = 10 }
    local prev = fetch.previous_version(o)
    -- [PATCH v9 00/40] of 2022-01-26 15:10 is the newest earlier cover letter on the server
    assert.are.equal("20220126151120.3811248-1-broonie@kernel.org", prev.id)
    assert.are.equal(9, prev.version)
    o.version = 9
    assert.are.equal("20220125001114.193425-1-broonie@kernel.org", fetch.previous_version(o).id)
    o.version = 8
    assert.is_nil(fetch.previous_version(o))          -- v8 is the first this archive has
    -- asked again: answered from the store, no request
    local before = c:stats().requests
    o.version = 10
    assert.are.equal(9, fetch.previous_version(o).version)
    o.version = 8
    assert.is_nil(fetch.previous_version(o))
    assert.are.equal(before, c:stats().requests)
    st:close()
  end)

  it("finds a newer version posted before a window's end through the same search, remembered once past", function()
    local st = new_store()
    local c = client()
    local o = { base = base, http = c, store = st, list = "kvmarm", addr = "broonie@kernel.org",
                title = "arm64/sme: initial support for the scalable matrix extension", version = 8,
                ["until"] = tu.parse("2022-01-31") }
    -- v9 (2022-01-26 15:11) and v10 (15:27) follow v8: the newest wins
    assert.are.equal("20220126152749.233712-1-broonie@kernel.org", fetch.newer_version(o).id)
    o["until"] = tu.parse("2022-01-26T15:20:00Z")
    assert.are.equal(9, fetch.newer_version(o).version)
    o.version, o["until"] = 10, tu.parse("2022-01-31")
    assert.is_nil(fetch.newer_version(o))
    local before = c:stats().requests
    assert.is_nil(fetch.newer_version(o))               -- a past window: answered from the store
    o.version = 8
    assert.are.equal(10, fetch.newer_version(o).version)
    assert.are.equal(before, c:stats().requests)
    st:close()
  end)

  it("answers an empty window (404 HTML) with zero hits, not an error", function()
    local st = new_store()
    local s = assert(fetch.week{ base = base, list = "kvmarm", since = 1893456000, ["until"] = 1894060800,
      store = st, http = client() })
    assert.equal(0, s.window_hits)
    assert.equal(1, s.requests)
    assert.same({}, s.ids)
    st:close()
  end)

  it("fetches from the cross-list index /all/ with a List-Id filter (l:, accepted by public-inbox 1.9.0)", function()
    local all = base:gsub("/kvmarm/$", "/all/")
    local st = new_store()
    local s = assert(week(st, client(), { base = all, list_ids = { "kvmarm.lists.linux.dev", "kvmarm.lists.cs.columbia.edu" } }))
    assert.same(reference, stored(st))
    assert.same({ INTRUDER_ID }, s.dropped)
    local st2 = new_store()
    s = assert(week(st2, client(), { base = all, list_ids = { "nosuchlist.example.org" } }))
    assert.equal(0, s.window_hits)
    st:close()
    st2:close()
  end)

  it("reads the same messages through Atom pages and /raw (forced, and when the POST answers HTML)", function()
    local st = new_store()
    local s = assert(week(st, client(), { atom = true }))
    assert.equal("atom", s.fallback)
    assert.same(reference, stored(st))
    assert.same({ INTRUDER_ID }, s.dropped)
    st:close()
    clear()
    fault("x=m", "html", 1)
    st = new_store()
    s = assert(week(st, client(), { base = pbase }))
    assert.equal("atom", s.fallback)
    assert.same(reference, stored(st))
    st:close()
  end)

  it("retries a server that answers 503 then 200", function()
    clear()
    fault("POST", "503", 1)
    local st = new_store()
    local s = assert(week(st, client(), { base = pbase }))
    assert.is_true(s.retries >= 1)
    assert.equal(2 + s.completed_threads, s.requests)
    assert.same(reference, stored(st))
    st:close()
  end)

  it("fails clearly on a connection dropped mid-body, stores nothing half, and a later run completes", function()
    clear()
    fault("x=m", "drop", 0)
    local st = new_store()
    local s, err, code = week(st, client({ retries = 1 }), { base = pbase })
    assert.is_nil(s)
    assert.equal(2, code)
    assert.matches("POST http://127.0.0.1", err)
    assert.equal(0, st:count("kvmarm"))
    -- the thread downloads dropped: the window is stored whole, the rest waits
    clear()
    fault("t.mbox.gz", "drop", 0)
    s, err, code = week(st, client({ retries = 1 }), { base = pbase })
    assert.is_nil(s)
    assert.equal(2, code)
    assert.matches("t%.mbox%.gz", err)
    assert.is_true(st:count("kvmarm") > 0)
    assert.is_true(st:check())
    clear()
    s = assert(week(st, client(), { base = pbase }))
    assert.same(reference, stored(st))
    st:close()
  end)

  it("refuses a truncated gzip without storing any of it, and a later run completes", function()
    clear()
    fault("x=m", "truncgz", 0)
    local st = new_store()
    local s, err, code = week(st, client(), { base = pbase })
    assert.is_nil(s)
    assert.equal(2, code)
    assert.matches("gzip", err)
    assert.equal(0, st:count("kvmarm"))
    clear()
    s = assert(week(st, client(), { base = pbase }))
    assert.same(reference, stored(st))
    st:close()
  end)

  it("resumes a fetch killed mid-run to the same store content", function()
    clear()
    fault("t.mbox.gz", "delay:20000", 0)
    local st, path = new_store()
    st:close()
    local script = W .. "/fetch-week.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
local fetch = require "listdigest.fetch"
local st = assert(require("listdigest.store").open(arg[1]))
local c = require("listdigest.http").client{ progress = false }
assert(fetch.week{ base = arg[2], list = "kvmarm", since = ]] .. SINCE .. [[, ["until"] = ]] .. UNTIL .. [[,
  store = st, http = c })
]])
    f:close()
    local asan = os.getenv("LISTDIGEST_ASAN_OPTIONS")
    local pid = sh(("%s %s run %s %s %s >/dev/null 2>&1 & echo $!"):format(
      asan and ("ASAN_OPTIONS=" .. asan) or "", H.bin, H.shquote(script), H.shquote(path), H.shquote(pbase))):match("%d+")
    -- wait until the window is committed and the thread downloads hang
    local n = 0
    for _ = 1, 200 do
      local log = assert(ctl:request{ url = ("http://127.0.0.1:%d/_log"):format(pport) }).body
      if log:find("t.mbox.gz", 1, true) then
        local rd = assert(store.open(path))
        n = rd:count("kvmarm")
        rd:close()
        if n > 0 then break end
      end
      os.execute("sleep 0.05")
    end
    os.execute("kill -KILL " .. pid)
    os.execute("sleep 0.2")
    assert.is_true(n > 0)
    assert.is_true(n < #reference)
    clear()
    st = assert(store.open(path))
    assert.is_true(st:check())
    local s = assert(week(st, client(), { base = pbase }))
    assert.is_true(s.completed_threads > 0)
    assert.same(reference, stored(st))
    st:close()
  end)

  it("reads the inbox's v2 git epochs with git (one cat-file process per epoch)", function()
    local raws = assert(fetch.read_v2(W .. "/pi/inboxes/kvmarm"))
    local ids = {}
    for i, raw in ipairs(raws) do ids[i] = fetch.item(raw).message_id end
    table.sort(ids)
    assert.same(fixture_ids(function() return true end), ids)
    local st = new_store()
    assert.equal(#raws, fetch.store_raws(st, "kvmarm", raws))
    assert.is_nil(fetch.read_v2(W))
    st:close()
  end)

  -- last: it changes the inbox
  it("a run after one new reply arrived makes one request and stores that reply", function()
    local st, path = new_store()
    local c = client()
    assert(week(st, c))
    sh("env -u LD_PRELOAD tests/tools/pi-server add " .. H.shquote(W .. "/pi") .. " kvmarm " .. LATE)
    local s = assert(week(st, c))
    assert.equal(1, s.requests)       -- its parent is stored: no ghost, no thread download
    assert.equal(1, s.new)
    assert.is_true(st:has(LATE_ID))
    local listed = {}
    for _, id in ipairs(s.ids) do listed[id] = true end
    assert.is_true(listed[LATE_ID])
    local in_week = 0
    for _, r in ipairs(assert(st:lookup(assert(fetch.ids_for_report(st, "kvmarm", SINCE, UNTIL))))) do
      if r.date >= SINCE and r.date < UNTIL then in_week = in_week + 1 end
    end
    assert.equal(340, in_week)      -- all of examples/kvmarm-2022-W04.mbox
    st:close()
  end)
end)
