-- Specification of listdigest.thread: JWZ / RFC 5256 §2.2 REFERENCES threading
-- with ghosts, no subject merging, checked against restated upstream cases
-- (JWZ, notmuch) and the derived thread trees of real kvmarm weeks.
local thread = require "listdigest.thread"
local mbox = require "listdigest.mbox"
local json = require "dkjson"

local FIX = "tests/fixtures/"
local W04_PATHS = { "examples/kvmarm-2022-W04.mbox", H.corpus .. "/kernel-lists/kvmarm/kvmarm-2022-W04.mbox" }

local function load_json(name)
  local v, _, err = json.decode(H.fixture("threading/" .. name))
  assert(v, err)
  return v
end

---------------------------------------------------------------------------
-- Test scaffolding, not product code: the few header fields threading needs,
-- read with a plain scan. listdigest.mime is preferred when it loads; the
-- scan stays so that these specs do not depend on the MIME parser.
---------------------------------------------------------------------------
local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
                 jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12 }

local function days_from_civil(y, m, d) -- proleptic Gregorian, 1970-01-01 = 0
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

-- RFC 5322 §3.3 date-time to epoch seconds (nil when unreadable).
local function parse_date(s)
  if not s then return nil end
  local d, mon, y, hh, mm, rest = s:match("(%d+)%s+(%a+)%s+(%d+)%s+(%d+):(%d+)(.*)")
  if not d or not MONTHS[mon:lower():sub(1, 3)] then return nil end
  local ss = rest:match("^:(%d+)") or "0"
  local sign, zh, zm = rest:match("([%+%-])(%d%d)(%d%d)")
  y = tonumber(y)
  if y < 50 then y = y + 2000 elseif y < 1000 then y = y + 1900 end -- RFC 5322 §4.3
  local t = days_from_civil(y, MONTHS[mon:lower():sub(1, 3)], tonumber(d)) * 86400
    + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss)
  if sign then
    local off = tonumber(zh) * 3600 + tonumber(zm) * 60
    t = sign == "+" and t - off or t + off
  end
  return t
end

-- Unfolded header fields (first occurrence wins), names in lower case.
local function scaffold_headers(raw)
  local head = raw:match("^(.-)\r?\n\r?\n") or raw
  head = head:gsub("\r?\n([ \t])", "%1")
  local h = {}
  for line in (head .. "\n"):gmatch("([^\n]*)\n") do
    local name, value = line:match("^([!-9;-~]+):%s*(.-)%s*$")
    if name and not h[name:lower()] then h[name:lower()] = value end
  end
  return h
end

local mime_ok, mime = pcall(require, "listdigest.mime")
if not (mime_ok and type(mime) == "table" and mime.parse) then mime = nil end

-- One thread.build item from a raw message. The raw header values are passed
-- as they are: the binding finds their <id> tokens.
local function item_of(raw)
  if mime then
    local m = mime.parse(raw, { body = false })
    if m and m.message_id then
      -- the raw In-Reply-To value, not just its first id: the parent rule
      -- needs to know whether it held exactly one id and nothing else
      local irt = m.headers and m.headers["in-reply-to"] or m.in_reply_to
      return { id = m.message_id, references = m.references, in_reply_to = irt,
               date = type(m.date) == "number" and m.date or parse_date(scaffold_headers(raw).date) }
    end
  end
  local h = scaffold_headers(raw)
  return {
    id = h["message-id"] and (h["message-id"]:match("<([^>]*)>") or h["message-id"]),
    references = h.references,
    in_reply_to = h["in-reply-to"],
    date = parse_date(h.date),
  }
end

local function items_of_mbox(path)
  local box = assert(mbox.open(path))
  local items = {}
  for i, raw in box:messages() do items[i] = item_of(raw) end
  box:close()
  return items
end
---------------------------------------------------------------------------

-- "a(b c*(d))": ids, '*' for a ghost, children in order.
local function shape(node)
  local s = (node.id or "?") .. (node.ghost and "*" or "")
  local kids = node.children or {}
  if #kids > 0 then
    local t = {}
    for i, c in ipairs(kids) do t[i] = shape(c) end
    s = s .. "(" .. table.concat(t, " ") .. ")"
  end
  return s
end

local function shapes(roots)
  local t = {}
  for i, r in ipairs(roots) do t[i] = shape(r) end
  return table.concat(t, " | ")
end

local function walk(nodes, f, parent)
  for _, n in ipairs(nodes) do
    f(n, parent)
    walk(n.children, f, n)
  end
end

-- Compares our forest with derived_threads: the same roots with the same
-- trees (ids, ghosts, children order), grouped into the same conversations.
local function assert_same_threads(expected, roots, what)
  local ours = {}
  for _, r in ipairs(roots) do ours[r.id] = r end
  local n_roots = 0
  for ti, t in ipairs(expected) do
    local conv
    for _, er in ipairs(t.tree) do
      n_roots = n_roots + 1
      local r = ours[er.id]
      assert(r, what .. ": expected root " .. er.id .. " of thread " .. ti)
      assert.are.equal(shape(er), shape(r), what .. ": tree of " .. er.id)
      conv = conv or r.thread
      assert.are.equal(conv, r.thread, what .. ": " .. er.id .. " in the same conversation")
    end
    -- "messages" counts distinct present messages
    local present = 0
    for _, er in ipairs(t.tree) do
      walk({ ours[er.id] }, function(n) if not n.ghost then present = present + 1 end end)
    end
    assert.are.equal(t.messages, present, what .. ": messages in thread " .. ti)
  end
  assert.are.equal(n_roots, #roots, what .. ": number of roots")
end

-- Properties any forest must have, whatever the input.
local function assert_forest_properties(items, roots, dups)
  local seen, by_id, dropped = {}, {}, {}
  for _, d in ipairs(dups) do dropped[d] = true end
  walk(roots, function(n, parent)
    if n.index then
      assert.is_nil(seen[n.index], "message " .. n.index .. " appears once")
      seen[n.index] = parent or true
      by_id[n.id] = n
    else
      assert.is_true(n.ghost)
      assert.is_true(#n.children > 0, "a ghost without children is pruned")
    end
  end)
  for i in ipairs(items) do
    if dropped[i] then
      assert.is_nil(seen[i], "duplicate " .. i .. " is not in the forest")
    else
      assert.is_truthy(seen[i], "message " .. i .. " is in the forest")
    end
  end
  -- a reply sits under its parent whenever the parent is present (In-Reply-To
  -- with one id, as all these test mails have), except where a loop was cut
  for i, it in ipairs(items) do
    local irt = type(it.in_reply_to) == "string" and it.in_reply_to:match("^%s*<([^>]+)>%s*$")
    if irt and by_id[irt] and not dropped[i] and seen[i] ~= true then
      assert.are.equal(irt, seen[i].id, "message " .. i .. " under its In-Reply-To")
    end
  end
end

describe("thread.build on the restated JWZ and notmuch cases (JWZ-CASES.json)", function()
  local cases = {}
  for _, c in ipairs(load_json("JWZ-CASES.json").cases) do cases[c.id] = c end

  local function build_case(id)
    local items = {}
    for i, m in ipairs(assert(cases[id], id).messages) do
      items[i] = { id = m.message_id,
                   in_reply_to = m.in_reply_to ~= json.null and m.in_reply_to or nil,
                   references = m.references ~= json.null and m.references or nil }
    end
    return shapes((thread.build(items)))
  end

  it("chains messages by References (jwz-chain-by-references)", function()
    assert.are.equal("a(b(c(d(e))))", build_case("jwz-chain-by-references"))
  end)

  it("keeps a missing middle message as a ghost between its neighbours (jwz-missing-middle-becomes-dummy)", function()
    -- JWZ prunes a one-child dummy; we keep it, as notmuch's trees and our
    -- derived trees do, so a reader sees that a message is missing.
    assert.are.equal("a(b(c*(d(e))))", build_case("jwz-missing-middle-becomes-dummy"))
  end)

  it("uses the first id of a multi-id In-Reply-To when there are no References (jwz-in-reply-to-only-first-id)", function()
    assert.are.equal("a*(x)", build_case("jwz-in-reply-to-only-first-id"))
  end)

  it("does not merge root messages by subject (subject-grouping-of-root-set, deliberately not followed)", function()
    assert.are.equal("a | b | c | d", build_case("subject-grouping-of-root-set"))
  end)

  it("ignores an In-Reply-To without any <id> and uses References (notmuch-broken-irt-use-references)", function()
    assert.are.equal("foo@one.com(msg-002)", build_case("notmuch-broken-irt-use-references"))
  end)

  it("threads by In-Reply-To alone (notmuch-irt-only)", function()
    assert.are.equal("foo@three.com(msg-006)", build_case("notmuch-irt-only"))
  end)

  it("ignores garbage after the ids of References (notmuch-garbage-after-references)", function()
    assert.are.equal("foo@five.com(bar@five.com)", build_case("notmuch-garbage-after-references"))
  end)

  describe("pruning of containers for absent messages", function()
    it("drops a ghost leaf (prune-dummy-leaf)", function()
      assert.is_truthy(cases["prune-dummy-leaf"])
      -- y replies to a (one-id In-Reply-To) but its References end in z,
      -- which therefore hangs under b with nothing below it
      local roots = thread.build {
        { id = "a" }, { id = "b", references = "<a>" },
        { id = "y", in_reply_to = "<a>", references = "<a> <b> <z>" },
      }
      assert.are.equal("a(b y)", shapes(roots))
    end)

    it("keeps a ghost with one child (prune-dummy-with-one-child, deliberately not followed)", function()
      assert.is_truthy(cases["prune-dummy-with-one-child"])
      local roots = thread.build { { id = "a" }, { id = "b", references = "<a>" },
                                   { id = "c", references = "<a> <b> <z>" } }
      assert.are.equal("a(b(z*(c)))", shapes(roots))
    end)

    it("keeps a ghost root with one child: the thread's real root is missing (prune-promote-single-child-of-top-level-dummy)", function()
      assert.is_truthy(cases["prune-promote-single-child-of-top-level-dummy"])
      local roots = thread.build { { id = "a", date = 1 }, { id = "b", references = "<z>", date = 2 } }
      assert.are.equal("a | z*(b)", shapes(roots))
    end)

    it("keeps nested ghosts and orders their children by date (prune-nested-dummy-children-move-up)", function()
      assert.is_truthy(cases["prune-nested-dummy-children-move-up"])
      local roots = thread.build {
        { id = "a", date = 1 },
        { id = "d", references = "<z> <y>", date = 40 },
        { id = "b", references = "<z> <y>", date = 20 },
        { id = "c", references = "<z> <y>", date = 30 },
      }
      assert.are.equal("a | z*(y*(b c d))", shapes(roots))
      assert.are.equal(20, roots[2].date, "a ghost is dated by its earliest message")
    end)
  end)
end)

describe("thread.build on notmuch's corpora (EXPECTATIONS.json)", function()
  local exp = load_json("notmuch.EXPECTATIONS.json").files

  it("finds notmuch's 24 threads in default.mbox, with the expected trees and counts", function()
    local items = items_of_mbox(FIX .. "mbox/default.mbox")
    local roots, dups = thread.build(items)
    local convs = {}
    for _, r in ipairs(roots) do convs[r.thread] = true end
    assert.are.equal(24, #convs)
    assert.are.equal(24, #exp["default.mbox"].derived_threads)
    assert_same_threads(exp["default.mbox"].derived_threads, roots, "default.mbox")
    assert.are.equal(1, #dups, "the [notmuch] archive thread has one duplicate file")
    assert_forest_properties(items, roots, dups)
  end)

  it("keeps the first of several messages with one Message-ID and reports the others", function()
    local items = items_of_mbox(FIX .. "mbox/duplicate.mbox")
    local roots, dups = thread.build(items)
    assert_same_threads(exp["duplicate.mbox"].derived_threads, roots, "duplicate.mbox")
    assert.are.same({ 2, 4, 6, 7, 8, 9 }, dups)
    walk(roots, function(n) if n.index then assert.is_true(n.index == 1 or n.index == 3 or n.index == 5) end end)
  end)

  it("keeps ghost roots and places a fake root under its ghost parent (threading-ghost-root)", function()
    local items = items_of_mbox(FIX .. "mbox/threading-ghost-root.mbox")
    local roots, dups = thread.build(items)
    assert_same_threads(exp["threading-ghost-root.mbox"].derived_threads, roots, "ghost-root")
    assert_forest_properties(items, roots, dups)
    -- the RT "Resolved" mail under the never-received ticket is a second root
    -- of the FYI conversation: References link them
    local fyi, ticket
    for _, r in ipairs(roots) do
      if r.id == "87bmc6lp3h.fsf@len.workgroup" then fyi = r end
      if r.id:match("^RT%-Ticket") then ticket = r end
    end
    assert.are.equal(fyi.thread, ticket.thread)
  end)

  it("keeps the oldest message as root when In-Reply-To headers form a loop (broken-reference-loop)", function()
    local items = items_of_mbox(FIX .. "mbox/broken-reference-loop.mbox")
    local roots = thread.build(items)
    assert_same_threads(exp["broken-reference-loop.mbox"].derived_threads, roots, "loop")
    assert.are.equal("mid-loop-12@example.org(mid-loop-21@example.org)", shapes(roots))
  end)
end)

describe("thread.build on real kvmarm weeks (<week>.threads.json)", function()
  local function check_week(mbox_path, threads_json)
    local items = items_of_mbox(mbox_path)
    local exp = load_json(threads_json)
    assert.are.equal(exp.messages, #items)
    local roots, dups = thread.build(items)
    assert.are.same({}, dups)
    assert_same_threads(exp.threads, roots, threads_json)
    assert_forest_properties(items, roots, dups)
  end

  it("rebuilds every tree of 2021-W11 (301 messages, 36 threads)", function()
    check_week(FIX .. "mbox/kvmarm-2021-W11.mbox.gz", "kvmarm-2021-W11.threads.json")
  end)

  it("rebuilds every tree of 2022-W49 (139 messages)", function()
    check_week(FIX .. "mbox/kvmarm-2022-W49.mbox.gz", "kvmarm-2022-W49.threads.json")
  end)

  local w04
  for _, p in ipairs(W04_PATHS) do
    if not w04 and H.exists(p) then w04 = p end
  end
  if w04 then
    it("rebuilds every tree of 2022-W04 (340 messages)", function()
      check_week(w04, "kvmarm-2022-W04.threads.json")
    end)
  else
    pending("2022-W04: examples/kvmarm-2022-W04.mbox and the shared corpus are both absent")
  end

  it("rebuilds every tree of the columba-devel mboxo sample", function()
    local items = items_of_mbox(FIX .. "mbox/columba-devel-2006.mbox")
    local roots, dups = thread.build(items)
    assert_same_threads(load_json("columba-devel-2006.EXPECTATIONS.json").derived_threads, roots, "columba")
    assert_forest_properties(items, roots, dups)
  end)
end)

describe("thread.build edge cases", function()
  it("keeps the oldest message as root when References form a cycle", function()
    local roots = thread.build {
      { id = "A", references = { "C" }, date = 100 },
      { id = "B", references = { "A" }, date = 50 },
      { id = "C", references = { "B" }, date = 200 },
    }
    -- parents by rule: A under C, B under A, C under B; cut at B (the oldest)
    assert.are.equal("B(C(A))", shapes(roots))
  end)

  it("keeps the root when a message's References point at its own descendant", function()
    local roots = thread.build {
      { id = "root", references = "<reply>", date = 1 },
      { id = "reply", in_reply_to = "<root>", date = 2 },
    }
    assert.are.equal("root(reply)", shapes(roots))
  end)

  it("ignores a self-reference and falls back to the next candidate", function()
    local roots = thread.build {
      { id = "p", date = 1 },
      { id = "s", in_reply_to = "<s>", references = "<p> <s>", date = 2 },
      { id = "t", references = { "<t>" }, date = 3 },
    }
    assert.are.equal("p(s) | t", shapes(roots))
  end)

  it("does not trust a noisy In-Reply-To over References", function()
    local roots = thread.build {
      { id = "x", date = 1 }, { id = "y", date = 2 },
      { id = "z", in_reply_to = "<x> (message from Joe of 1 Jan)", references = "<x> <y>", date = 3 },
    }
    -- z goes under y (last of References), not under x; y itself has no
    -- header naming a parent, but References puts it in x's conversation
    assert.are.equal("x | y(z)", shapes(roots))
    assert.are.equal(roots[1].thread, roots[2].thread)
  end)

  it("orders roots and siblings by date, undated last, ties by input order", function()
    local roots = thread.build {
      { id = "late", date = 30 }, { id = "nodate" }, { id = "early", date = 10 },
      { id = "tie2", date = 20 }, { id = "tie1", date = 20 },
    }
    assert.are.equal("early | tie2 | tie1 | late | nodate", shapes(roots))
  end)

  it("accepts ids with or without angle brackets, as strings or lists", function()
    local roots = thread.build {
      { id = "<a@x>" }, { id = "b@x", in_reply_to = "a@x" }, { id = "c@x", references = { "<a@x>", " b@x " } },
    }
    assert.are.equal("a@x(b@x(c@x))", shapes(roots))
  end)

  it("threads messages without Message-ID as separate roots", function()
    local roots = thread.build { { date = 2 }, { references = "<gone>", date = 1 } }
    assert.are.equal("gone*(?) | ?", shapes(roots))
    assert.are.equal(2, roots[1].children[1].index)
    assert.are.equal(1, roots[2].index)
  end)

  it("returns empty lists for no messages", function()
    assert.are.same({ {}, {} }, { thread.build {} })
  end)

  it("raises on malformed items (a caller mistake)", function()
    assert.has_error(function() thread.build("x") end)
    assert.has_error(function() thread.build { 5 } end)
    assert.has_error(function() thread.build { { id = {} } } end)
    assert.has_error(function() thread.build { { id = "a", references = { 1 } } } end)
    assert.has_error(function() thread.build { { id = "a", date = "today" } } end)
  end)
end)

describe("thread.build on the 2021-2023 kvmarm archive", function()
  local path = H.corpus .. "/kernel-lists/kvmarm/kvmarm-2021-01-01_2023-01-06.mbox.gz"
  if not H.exists(path) then
    pending("shared corpus archive absent: " .. path)
    return
  end

  it("threads 13,020 messages quickly, losing none", function()
    local items = items_of_mbox(path)
    assert.are.equal(13020, #items)
    local t0 = os.clock()
    local roots, dups = thread.build(items)
    local elapsed = os.clock() - t0
    assert_forest_properties(items, roots, dups)
    -- a few ms in C; the bound leaves room for table building and sanitizers
    assert.is_true(elapsed < 1.0, "thread.build took " .. elapsed .. " s")
  end)
end)
