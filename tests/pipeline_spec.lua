-- The pipeline over real weeks: threading properties, the window, and the
-- report model checked against facts tables derived independently from the
-- same mail (../shared/corpus MANIFEST "Derived tables").
local pipeline = require "listdigest.pipeline"
local rules = require "listdigest.rules"
local tu = require "listdigest.timeutil"

local SAMPLE = "examples/kvmarm-2022-W04.mbox"
local WEEK = { since = tu.parse("2022-01-24"), ["until"] = tu.parse("2022-01-31") }

-- facts.tsv rows keyed by Message-ID; fields quoted CSV-style when they hold '"'.
local function facts(path)
  local rows, cols = {}, nil
  for line in io.lines(path) do
    local f = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      if field:match('^".*"$') then field = field:sub(2, -2):gsub('""', '"') end
      f[#f + 1] = field
    end
    if not cols then
      cols = f
    else
      local row = {}
      for i, c in ipairs(cols) do row[c] = f[i] end
      rows[row.message_id] = row
      rows[#rows + 1] = row
    end
  end
  return rows
end

local function squash(s) return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")) end

local function run(source, rules_name, window)
  local r = assert(rules.load(rules_name, { root = "." }))
  return assert(pipeline.run({ source = source, rules = r, window = window }))
end

describe("pipeline on the sample kvmarm week (2022-W04)", function()
  local report, ctx = run(SAMPLE, "kvmarm", WEEK)
  local F = facts("tests/fixtures/weeks/kvmarm-2022-W04.facts.tsv")

  it("puts every message of the mbox in exactly one thread", function()
    local seen = {}
    for _, t in ipairs(ctx.all_threads) do
      for _, m in ipairs(t.messages) do
        assert.is_nil(seen[m.message_id], m.message_id)
        seen[m.message_id] = true
      end
    end
    local n = 0
    for _, m in ipairs(ctx.messages) do
      assert.is_true(seen[m.message_id], m.message_id)
      n = n + 1
    end
    assert.are.equal(#F, n)
  end)

  it("hangs each reply under its parent whenever the parent is present", function()
    local present = {}
    for _, m in ipairs(ctx.messages) do present[m.message_id] = m end
    local checked = 0
    for _, row in ipairs(F) do
      local parent = row.parent_by_rule
      if parent ~= "" and present[parent] then
        assert.are.equal(parent, present[row.message_id].parent_id, row.message_id)
        checked = checked + 1
      end
    end
    assert.is_true(checked > 250)   -- most of the week's 340 mails reply to one present
  end)

  it("lists every message once, with the Date, sender and subject of the mail", function()
    local listed = 0
    for _, th in ipairs(report.threads) do
      for _, m in ipairs(th.messages) do
        local row = assert(F[m.message_id], m.message_id)
        assert.are.equal(row.date_utc, m.date)
        assert.are.equal(squash(row.from), m.from)
        assert.are.equal(squash(row.subject), m.subject)
        assert.is_true(m.in_window)
        listed = listed + 1
      end
    end
    assert.are.equal(340, listed)
    assert.are.equal(340, report.stats.messages)
  end)

  it("orders each thread's messages by their UTC instant", function()
    for _, th in ipairs(report.threads) do
      for i = 2, #th.messages do
        assert.is_true(th.messages[i - 1].date <= th.messages[i].date, th.title)
      end
    end
  end)

  it("makes one entry per conversation, as the facts' threads", function()
    -- 23 connected components in kvmarm-2022-W04.threads.json
    assert.are.equal(23, report.stats.threads)
    local sizes = {}
    for _, th in ipairs(report.threads) do sizes[#sizes + 1] = #th.messages end
    table.sort(sizes, function(a, b) return a > b end)
    assert.are.same({ 65, 51, 42, 40, 23, 14, 12, 11, 11, 11, 9, 8, 8, 7, 5, 5, 4, 3, 3, 3, 2, 2, 1 }, sizes)
  end)

  it("files the week's threads where a reader would (decided from the subjects)", function()
    local cat = {}
    for _, th in ipairs(report.threads) do cat[th.title] = th.category end
    assert.are.equal("GIT PULL", cat["[GIT PULL] KVM/arm64 fixes for 5.17, take #1"])
    assert.are.equal("PATCH", cat["[PATCH v6 00/64] KVM: arm64: ARMv8.3/8.4 Nested Virtualization support"])
    assert.are.equal("PATCH", cat["[PATCH v10 00/39] arm64/sme: Initial support for the Scalable Matrix Extension"])
    assert.are.equal("PATCH", cat["[PATCH v2 kvmtool 00/10] arm64: Improve PMU support on heterogeneous systems"])
    assert.are.equal("RFC", cat["[RFC PATCH 00/12] arm64: implement read-only page tables"])
    assert.are.equal("Selftest", cat["[PATCH v2 0/5] kvm: selftests: aarch64: some fixes for vgic_irq"])
    assert.are.equal("Selftest", cat["[PATCH v3] kselftest: kvm/arm64: Skip tests if we can't create a vgic-v3"])
    -- its root (from the week before) is missing: titled from the earliest reply, without "Re:"
    assert.are.equal("Selftest", cat["[PATCH 1/2] kvm: selftests: aarch64: fix assert in gicv3_access_reg"])
    assert.are.equal("Discussion", cat["KVM/arm64: Guest ABI changes do not appear rollback-safe"])
  end)

  it("gives series their version, size and b4 command", function()
    for _, th in ipairs(report.threads) do
      if th.title == "[PATCH v9 00/40] arm64/sme: Initial support for the Scalable Matrix Extension" then
        assert.are.equal(9, th.series.version)
        assert.are.equal(40, th.series.total)
        assert.are.equal("b4 am " .. th.id, th.series.b4)
        return
      end
    end
    error("v9 SME series not found")
  end)

  it("summarises offline from the mail itself: cover letter, changelog, replies, trailers", function()
    local by = {}
    for _, th in ipairs(report.threads) do by[th.title] = th end
    local sme = by["[PATCH v9 00/40] arm64/sme: Initial support for the Scalable Matrix Extension"].summary
    assert.are.equal("extractive", sme.source)
    -- the cover letter's opening paragraph
    assert.matches("^This series provides initial support for the ARMv9 Scalable Matrix Extension", sme.text)
    -- its changelog: v9's first item in the cover letter
    local found = false
    for _, p in ipairs(sme.points) do
      found = found or p == "Remove defensive programming around IS_ENABLED() and FGT in KVM code."
    end
    assert.is_true(found, table.concat(sme.points, "\n"))
    -- a discussion: the question asked is the lead
    local abi = by["KVM/arm64: Guest ABI changes do not appear rollback-safe"].summary
    assert.is_true(#abi.text > 40)
    -- trailers given in follow-ups, with who gave them
    local vgic = by["[PATCH v3] kselftest: kvm/arm64: Skip tests if we can't create a vgic-v3"]
    assert.is_truthy(vgic.summary.conclusion and vgic.summary.conclusion:find("Reviewed%-by"))
    assert.is_true(#vgic.status.reviewed_by > 0)
  end)
end)

describe("the window", function()
  it("reports threads touching it, counting only its messages and keeping the rest as context", function()
    local window = { since = tu.parse("2022-01-26"), ["until"] = tu.parse("2022-01-27") }
    local report = run(SAMPLE, "kvmarm", window)
    local F = facts("tests/fixtures/weeks/kvmarm-2022-W04.facts.tsv")
    local expected = 0
    for _, row in ipairs(F) do
      local t = tu.parse(row.date_utc)
      if t >= window.since and t < window["until"] then expected = expected + 1 end
    end
    assert.are.equal(expected, report.stats.messages)
    local context = 0
    for _, th in ipairs(report.threads) do
      local inside = 0
      for _, m in ipairs(th.messages) do
        local t = tu.parse(m.date)
        assert.are.equal(t >= window.since and t < window["until"], m.in_window)
        if m.in_window then inside = inside + 1 else context = context + 1 end
      end
      assert.is_true(inside > 0)
      assert.are.equal(inside, th.message_count)
    end
    assert.is_true(context > 0)
  end)
end)

describe("a second list, adapted by rules alone (linux-kselftest 2025-W26)", function()
  local src = "tests/fixtures/weeks/kselftest-2025-W26.mbox.gz"
  local report = run(src, "linux-kselftest", { since = tu.parse("2025-06-23"), ["until"] = tu.parse("2025-06-30") })
  local F = facts("tests/fixtures/weeks/kselftest-2025-W26.facts.tsv")

  it("reads all 499 messages from the gzip file and reports each Message-ID once", function()
    -- the week holds one mail delivered twice (rows 97 and 98 of the facts)
    local distinct = {}
    for _, row in ipairs(F) do distinct[row.message_id] = true end
    local n, ids = 0, 0
    for _ in pairs(distinct) do ids = ids + 1 end
    for _, th in ipairs(report.threads) do n = n + #th.messages end
    assert.are.equal(499, #F)
    assert.are.equal(498, ids)
    assert.are.equal(ids, n)
    assert.are.equal(ids, report.stats.messages)
  end)

  it("uses the list's own categories, in English", function()
    assert.are.equal("en", report.lang)
    local cat = {}
    for _, th in ipairs(report.threads) do cat[th.title] = th.category end
    assert.are.equal("KVM", cat["[PATCH v6 00/28] KVM: arm64: Implement support for SME"])
    local seen = {}
    for _, th in ipairs(report.threads) do seen[th.category] = (seen[th.category] or 0) + 1 end
    assert.is_truthy(seen["KVM selftests"])
    assert.is_truthy(seen["net selftests"])
    assert.is_nil(seen["PATCH"])   -- kvmarm's categories do not leak in
  end)
end)

describe("linking a series to its previous version", function()
  it("finds the earlier version in the store when it is not in the week's mail", function()
    local mbox = require "listdigest.mbox"
    local mime = require "listdigest.mime"
    local store = require "listdigest.store"
    local dir = H.tmpdir()
    local V8 = "20220125001114.193425-1-broonie@kernel.org"      -- [PATCH v8 00/38] arm64/sme, read from the mbox
    local V9 = "20220126151120.3811248-1-broonie@kernel.org"     -- [PATCH v9 00/40]
    -- the store holds v8's cover letter (an earlier run fetched it); the mbox holds v9's conversation only
    local st = assert(store.open(dir .. "/ld.db"))
    local f = assert(io.open(dir .. "/v9.mbox", "wb"))
    local box = assert(mbox.open(SAMPLE))
    for _, raw, from_line in box:messages() do
      local m = mime.parse(raw, { body = false })
      if m.message_id == V8 then
        assert(st:put_messages("kvmarm", { { message_id = m.message_id, raw = raw, date = m.date, subject = m.subject,
          from = m.from, in_reply_to = m.in_reply_to, references = m.references } }))
      end
      local refs = table.concat(m.references, " ")
      if m.message_id == V9 or refs:find(V9, 1, true) or m.in_reply_to == V9 then
        f:write(from_line, "\n", (raw:gsub("\n(>*From )", "\n>%1")), "\n")
      end
    end
    box:close()
    f:close()
    st:close()
    local r = assert(rules.load("kvmarm", { root = "." }))
    local report = assert(pipeline.run({ source = dir .. "/v9.mbox", rules = r, window = WEEK, db = dir .. "/ld.db" }))
    os.execute("rm -rf " .. H.shquote(dir))
    assert.are.equal(1, #report.threads)
    local s = report.threads[1].series
    assert.are.equal(9, s.version)
    assert.are.equal(8, s.previous.version)
    assert.are.equal(V8, s.previous.message_id)
    assert.are.equal("https://lore.kernel.org/kvmarm/" .. V8 .. "/", s.previous.url)
    assert.are.equal("2022-01-25", s.previous.date:sub(1, 10))
  end)
end)
