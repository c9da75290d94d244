-- Bounds: what listdigest does with mail built to exhaust it. Each limit is
-- named in core/mime.h or core/mbox.h; each spec builds an input past it and
-- checks that the parse ends, keeps what the limit promises and says what it
-- dropped. Runs against the ASan+UBSan build (tests/run), so an overflow
-- anywhere on these paths fails the spec too. Timings are generous upper
-- bounds that catch a quadratic path, not benchmarks.
local mime = require "listdigest.mime"
local mbox = require "listdigest.mbox"
local thread = require "listdigest.thread"

local MiB = 1024 * 1024

local function has_defect(m, pat)
  for _, d in ipairs(m.defects) do
    if d:find(pat, 1, true) then return true end
  end
  return false
end

local function timed(f)
  local t0 = os.clock()
  local r = table.pack(f())
  return os.clock() - t0, table.unpack(r, 1, r.n)
end

local HEAD = "From: Ann <ann@example.org>\nSubject: bounds\nDate: Mon, 24 Jan 2022 10:00:00 +0000\n" ..
  "Message-ID: <bounds@example.org>\n"

describe("MIME bounds", function()
  it("stops descending at 32 levels of nesting and keeps the text above", function()
    local depth = 40
    local open, close = {}, {}
    for i = 1, depth do
      open[#open + 1] = ("Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n"):format(i, i)
      if i == 1 then
        open[#open + 1] = "Content-Type: text/plain\n\nlevel one text\n--b1\n"
      end
      close[#close + 1] = ("\n--b%d--\n"):format(depth - i + 1)
    end
    local raw = HEAD .. "MIME-Version: 1.0\n" .. table.concat(open) ..
      "Content-Type: text/plain\n\ntoo deep to read\n" .. table.concat(close)
    local m = mime.parse(raw)
    assert.is_true(has_defect(m, "deeper than 32"))
    assert.are.equal("level one text", m.text)   -- the line break before a delimiter is its own
    assert.are.equal(1, #m.parts)
  end)

  it("records 1000 parts of a multipart with 1500 and says so", function()
    local t = { HEAD, "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"p\"\n\n" }
    for i = 1, 1500 do
      t[#t + 1] = ("--p\nContent-Type: text/plain\n\npart %d\n"):format(i)
    end
    t[#t + 1] = "--p--\n"
    local secs, m = timed(function() return mime.parse(table.concat(t)) end)
    assert.are.equal(1000, #m.parts)
    assert.are.equal("1000", m.parts[1000].path)
    assert.is_true(has_defect(m, "more than 1000 parts; rest ignored"))
    assert.truthy(m.text:find("\npart 1000$"))
    assert.falsy(m.text:find("part 1001", 1, true))
    assert.is_true(secs < 5, ("%.2f s"):format(secs))
  end)

  it("keeps 10000 header fields, and past them the first of each field it reads", function()
    local t = { "From: Ann <ann@example.org>\n" }
    for i = 1, 30000 do t[#t + 1] = ("X-Filler-%d: %d\n"):format(i, i) end
    -- after the cap: the fields threading and listing read are still taken
    t[#t + 1] = "Subject: late subject\nMessage-ID: <late@example.org>\nIn-Reply-To: <parent@example.org>\n"
    t[#t + 1] = "Subject: second subject\n\nbody after 30003 fields\n"
    local secs, m = timed(function() return mime.parse(table.concat(t)) end)
    assert.are.equal(10003, #m.header_list)
    assert.are.equal("late subject", m.subject)
    assert.are.equal("late@example.org", m.message_id)
    assert.are.equal("parent@example.org", m.in_reply_to)
    assert.are.equal("body after 30003 fields\n", m.text)
    assert.is_true(has_defect(m, "more than 10000 header fields; 20002 not kept"))
    assert.is_true(secs < 5, ("%.2f s"):format(secs))
  end)

  it("keeps a 4 MiB header line whole and flags it", function()
    local subject = string.rep("long ", 4 * MiB // 5)
    local m = mime.parse(HEAD:gsub("Subject: bounds", "Subject: " .. subject) .. "\nbody\n")
    assert.are.equal(#subject - 1, #m.subject)   -- the trailing blank is trimmed
    assert.are.equal("bounds@example.org", m.message_id)
    assert.is_true(has_defect(m, "longer than 998 bytes"))
    assert.are.equal("body\n", m.text)
  end)

  it("cuts the readable text at 16 MiB however far base64 expands", function()
    -- 24 MiB of text in base64: 76-character lines of "YWJj" = "abc"
    local line = string.rep("YWJj", 19) .. "\n"     -- 57 decoded bytes
    local lines = (24 * MiB) // 57 + 1
    local raw = HEAD .. "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" ..
      string.rep(line, lines)
    local secs, m = timed(function() return mime.parse(raw) end)
    assert.are.equal(16 * MiB, #m.text)
    assert.are.equal(string.rep("abc", 10), m.text:sub(1, 30))
    assert.is_true(has_defect(m, "readable text longer than 16 MiB; cut in part 1"))
    assert.are.equal(lines * 57, m.parts[1].size)   -- the part's size is still the whole
    assert.is_true(secs < 30, ("%.2f s"):format(secs))
  end)

  it("cuts at a UTF-8 boundary and reads no further parts once the text is full", function()
    local big = string.rep("é", 8 * MiB + 1)          -- 2 bytes each: 16 MiB + 2
    local raw = HEAD .. "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"u\"\n\n" ..
      "--u\nContent-Type: text/plain; charset=utf-8\n\n" .. big .. "\n" ..
      "--u\nContent-Type: text/plain\n\nsecond part\n--u--\n"
    local m = mime.parse(raw)
    assert.are.equal(16 * MiB, #m.text)
    assert.is_truthy(utf8.len(m.text))
    assert.falsy(m.text:find("second part", 1, true))
    assert.is_true(has_defect(m, "cut in part 1"))
  end)

  it("reads only the headers of a message larger than 64 MiB", function()
    local raw = HEAD .. "Content-Type: text/plain\n\n" .. string.rep("x", 64 * MiB) .. "\n"
    local m = mime.parse(raw)
    assert.are.equal("bounds", m.subject)
    assert.are.equal("bounds@example.org", m.message_id)
    assert.are.equal("", m.text)
    assert.is_true(has_defect(m, "larger than 64 MiB; body not read"))
    -- just under the limit, the body is read
    local small = mime.parse(HEAD .. "\n" .. string.rep("y", 1000) .. "\n")
    assert.are.equal(1001, #small.text)
  end)

  it("keeps the first and the last 999 of 50000 References, in order, without duplicates", function()
    local refs = {}
    for i = 1, 50000 do refs[i] = ("<r%d@example.org>"):format(i) end
    refs[#refs + 1] = "<r49990@example.org>"   -- a duplicate inside the tail: kept once
    local raw = HEAD .. "References: " .. table.concat(refs, "\n ") .. "\n\nbody\n"
    local secs, m = timed(function() return mime.parse(raw, { body = false }) end)
    -- the ring holds the last 999 ids: r49003 .. r50000 and the duplicate
    assert.are.equal(999, #m.references)
    assert.are.equal("r1@example.org", m.references[1])
    assert.are.equal("r49003@example.org", m.references[2])
    assert.are.equal("r50000@example.org", m.references[999])
    local seen = {}
    for i, r in ipairs(m.references) do
      assert.is_nil(seen[r], r)
      seen[r] = true
      if i > 1 then assert.are.equal(("r%d@example.org"):format(49001 + i), r) end
    end
    assert.is_true(has_defect(m, "more than 1000 References; 49001 in the middle dropped"))
    assert.is_true(secs < 5, ("%.2f s"):format(secs))
  end)
end)

describe("archive bounds", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.run("rm -rf " .. H.shquote(dir)) end)

  it("refuses a gzip bomb past 1 GiB with a clear error, without running out of memory", function()
    -- 17 gzip members of 64 MiB of zeros each: 1088 MiB inflated from ~1 MB
    local path = dir .. "/bomb.mbox.gz"
    local code = H.run(("head -c %d /dev/zero | gzip -1 > %s/member.gz && for i in $(seq 17); do cat %s/member.gz; done > %s")
      :format(64 * MiB, H.shquote(dir), H.shquote(dir), H.shquote(path)))
    assert.are.equal(0, code)
    local rc, out, err = H.listdigest("threads --source " .. H.shquote(path) .. " --since 2022-01-01 --until 2022-02-01")
    assert.are_not.equal(0, rc)
    assert.are.equal("", out)
    assert.truthy(err:find("gzip data inflates to more than 1073741824 bytes; refused", 1, true), err)
    assert.falsy(err:find("AddressSanitizer", 1, true), err)
  end)
end)

describe("threading bounds", function()
  it("puts 10,000 replies under one message", function()
    local items = { { id = "root@x", date = 1 } }
    for i = 1, 10000 do
      items[#items + 1] = { id = ("r%d@x"):format(i), in_reply_to = "<root@x>", references = { "root@x" }, date = 1 + i }
    end
    local secs, roots = timed(function() return thread.build(items) end)
    assert.are.equal(1, #roots)
    assert.are.equal("root@x", roots[1].id)
    assert.are.equal(10000, #roots[1].children)
    assert.are.equal("r1@x", roots[1].children[1].id)
    assert.are.equal("r10000@x", roots[1].children[10000].id)
    assert.is_true(secs < 5, ("%.2f s"):format(secs))
  end)

  it("reports a 10,000-reply thread end to end as one conversation", function()
    local t = { "From ann@example.org Mon Jan 24 10:00:00 2022\n" .. HEAD .. "\nthe root\n\n" }
    for i = 1, 10000 do
      t[#t + 1] = ("From bob@example.org Mon Jan 24 10:00:00 2022\nFrom: Bob <bob@example.org>\n" ..
        "Subject: Re: bounds\nDate: Mon, 24 Jan 2022 %02d:%02d:%02d +0000\nMessage-ID: <r%d@example.org>\n" ..
        "In-Reply-To: <bounds@example.org>\nReferences: <bounds@example.org>\n\nreply %d\n\n")
        :format(11 + i // 3600, i // 60 % 60, i % 60, i, i)
    end
    local dir = H.tmpdir()
    local f = assert(io.open(dir .. "/replies.mbox", "wb"))
    f:write(table.concat(t))
    f:close()
    local rc, out, err = H.listdigest("threads --source " .. H.shquote(dir .. "/replies.mbox") ..
      " --since 2022-01-24 --until 2022-01-31")
    H.run("rm -rf " .. H.shquote(dir))
    assert.are.equal(0, rc, err)
    local rows = {}
    for line in out:gmatch("[^\n]+") do
      if line:match("^%S+%s+%d+%s") then rows[#rows + 1] = line end
    end
    assert.are.equal(1, #rows, out)
    assert.truthy(rows[1]:match("^%S+%s+10001%s"), rows[1])
  end)

  it("keeps 100,000 messages with one subject apart, in linear time", function()
    -- no subject merging (JWZ without it): each message is its own thread
    local n = 100000
    local items = {}
    for i = 1, n do items[i] = { id = ("s%d@x"):format(i), subject = "[PATCH] same subject", date = i } end
    local secs, roots = timed(function() return thread.build(items) end)
    assert.are.equal(n, #roots)
    assert.is_true(secs < 10, ("%.2f s"):format(secs))
  end)

  it("survives a reference cycle and a self-reference among 10,000 messages", function()
    local items = {}
    for i = 1, 10000 do
      -- each refers to the next: a ring of 10,000
      items[i] = { id = ("c%d@x"):format(i), references = { ("c%d@x"):format(i % 10000 + 1) }, date = i }
    end
    items[#items + 1] = { id = "self@x", references = { "self@x" }, in_reply_to = "<self@x>", date = 0 }
    local roots = thread.build(items)
    local count = 0
    local function walk(nodes) for _, x in ipairs(nodes) do count = count + 1 walk(x.children) end end
    walk(roots)
    assert.are.equal(10001, count)      -- every message once, no ghost, nothing lost
    local ids = {}
    for _, r in ipairs(roots) do ids[r.id] = true end
    assert.is_true(ids["self@x"])
  end)
end)

describe("series bounds", function()
  local series = require "listdigest.series"

  it("groups and links 20,000 same-subject patches of one sender in n log n", function()
    -- the worst case of the old pairwise loops: one sender, one title, all
    -- versions, all at one time, every conversation an unthreaded part
    local subject = require "listdigest.subject"
    local function conv(i)
      local subj = ("[PATCH v%d %d/3] same subject"):format(i % 9 + 1, i % 3 + 1)
      local m = { message_id = ("p%d@x"):format(i), index = i, date = 1643000000,
        from = "Dev <dev@example.org>", from_addr = "dev@example.org",
        subject = subj, subj = subject.parse(subj), segments = {} }
      return { id = m.message_id, root = m, root_missing = false, messages = { m } }
    end
    local function run(n)
      local threads = {}
      for i = 1, n do threads[i] = conv(i) end
      return timed(function() return series.link_versions(series.group(threads)) end)
    end
    local small = run(2000)
    local big, entries = run(20000)
    assert.is_true(#entries > 0)
    -- ten times the input: a quadratic path would take a hundred times longer
    assert.is_true(big < small * 30 + 1, ("2000: %.2f s, 20000: %.2f s"):format(small, big))
  end)
end)
