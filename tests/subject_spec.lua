-- Specs for lua/listdigest/subject.lua, the subject-tag grammar.
-- Expectations come from three places: hand-written cases from kernel lists,
-- patchwork's subject tests (tests/fixtures/subjects/SUBJECT-PARSING.json,
-- copied from corpus/patchwork) and the derived facts tables of the kvmarm and
-- linux-kselftest weeks (tests/fixtures/subjects/kernel-lists-subjects.tsv:
-- the distinct (week, is_reply_subject, bracket_tags, version, patch_n,
-- patch_total, subject) rows of corpus/kernel-lists/*/*.facts.tsv).
local subject = require "listdigest.subject"
local json = require "dkjson" -- a dependency of Debian's lua-busted

local function keys(set)
  local out = {}
  for k in pairs(set) do out[#out + 1] = k end
  table.sort(out)
  return out
end

describe("subject.parse", function()
  local function check(s, want)
    local got = subject.parse(s)
    for k, v in pairs(want) do
      if k == "tags" then
        assert.are.same(v, keys(got.tags), "tags of " .. s)
      else
        assert.are.same(v, got[k], k .. " of " .. s)
      end
    end
    return got
  end

  it("reads version and n/N from [PATCH v7 03/28]", function()
    check("[PATCH v7 03/28] KVM: arm64: Fix the thing", {
      reply = false, tags = { "PATCH" }, tag_list = { "PATCH", "v7", "03/28" }, prefixes = {},
      version = 7, n = 3, total = 28, title = "KVM: arm64: Fix the thing",
      normalized = "kvm: arm64: fix the thing", stable = nil, autosel = false,
    })
  end)

  it("reads RFC before or after PATCH", function()
    check("[RFC PATCH] x", { tags = { "PATCH", "RFC" }, version = nil, n = nil })
    check("[PATCH RFC 00/35] mm: remove nth_page()", { tags = { "PATCH", "RFC" }, n = 0, total = 35, title = "mm: remove nth_page()" })
    check("[RFC PATCH v3 00/12] arm64: x", { tags = { "PATCH", "RFC" }, version = 3, n = 0, total = 12 })
  end)

  it("keeps project words as prefixes", function()
    check("[PATCH kvmtool v4 04/15] arm64: Handle PSCI calls in userspace",
      { prefixes = { "kvmtool" }, version = 4, n = 4, total = 15, tags = { "PATCH" } })
    check("[kvm-unit-tests PATCH] arm64: timer: x", { prefixes = { "kvm-unit-tests" }, tags = { "PATCH" } })
    check("[PATCH v9 net-next 02/15] tcp: fast path functions later",
      { prefixes = { "net-next" }, version = 9, n = 2, total = 15 })
    check("[PATCH bpf] bpf: x", { prefixes = { "bpf" } })
  end)

  it("reads stable branches: stable-N.M, braces, N.M.y, STABLE", function()
    check("[PATCH][stable-4.19] KVM: arm64: Fix", { stable = { "4.19" }, tags = { "PATCH", "STABLE" },
      groups = { "PATCH", "stable-4.19" }, title = "KVM: arm64: Fix" })
    check("[PATCH][stable-4.{4, 9, 14, 19}] KVM: arm64: Fix exclusive limit for IPA size",
      { stable = { "4.4", "4.9", "4.14", "4.19" }, tag_list = { "PATCH", "stable-4.{4, 9, 14, 19}" } })
    check("[PATCH 6.1.y] KVM: arm64: x", { stable = { "6.1" }, tags = { "PATCH", "STABLE" }, prefixes = {} })
    check("[STABLE 5.15.y] [PATCH] KVM: arm64: Fix softirq masking in FPSIMD register saving sequence",
      { stable = { "5.15" }, tags = { "PATCH", "STABLE" },
        title = "KVM: arm64: Fix softirq masking in FPSIMD register saving sequence" })
  end)

  it("reads AUTOSEL with its branch, and leaves a bare branch to the rules", function()
    check("[PATCH AUTOSEL 5.15 02/10] KVM: arm64: x",
      { autosel = true, stable = { "5.15" }, tags = { "AUTOSEL", "PATCH", "STABLE" }, n = 2, total = 10 })
    -- Greg's stable review series: no STABLE word, so the branch stays a prefix.
    check("[PATCH 5.10 289/290] KVM: arm64: Fix nVHE hyp panic host context restore",
      { stable = nil, prefixes = { "5.10" }, n = 289, total = 290, tags = { "PATCH" } })
  end)

  it("reads GIT PULL as one tag", function()
    check("[GIT PULL] KVM/arm64 fixes for 5.17, take #1",
      { tags = { "GIT PULL" }, tag_list = { "GIT PULL" }, title = "KVM/arm64 fixes for 5.17, take #1", version = nil })
  end)

  it("splits on commas and accepts n/N before the version", function()
    check("[PATCH v6,19/24] x", { version = 6, n = 19, total = 24, tag_list = { "PATCH", "v6", "19/24" } })
    check("[PATCH 3/5 v2] x", { version = 2, n = 3, total = 5 })
  end)

  it("reads RESEND anywhere in the group", function()
    check("[PATCH v2 RESEND 1/2] x", { tags = { "PATCH", "RESEND" }, version = 2, n = 1, total = 2 })
    check("[RESEND PATCH net-next 6/6] selftests: net: x", { tags = { "PATCH", "RESEND" }, prefixes = { "net-next" } })
  end)

  it("reads glued PATCHvN and mixed-case Patch", function()
    check("[PATCHv3 net-next 0/3] bonding: x", { version = 3, n = 0, total = 3, tags = { "PATCH" }, prefixes = { "net-next" } })
    check("[Patch v3 1/2] selftests/mm: x", { version = 3, tags = { "PATCH" } })
  end)

  it("finds reply markers before, between and after bracket groups", function()
    check("Re: Re: [PATCH] x", { reply = true, tags = { "PATCH" }, title = "x" })
    check("RE: [PATCH v2] Re: foo", { reply = true, version = 2, title = "foo" })
    check("[PATCH] Re: x", { reply = true, title = "x" })
    check("Re:Re: Re: [PATCH v7 2/2] selftests/bpf: x", { reply = true, version = 7, n = 2, total = 2 })
    check("Fwd: [PATCH] x", { reply = true })
    check("FW: x", { reply = true, title = "x" })
    check("AW: [PATCH] x", { reply = true })
    check("Aw: x", { reply = true })
    check("WG: x", { reply = true })
    check("SV: x", { reply = true })
    check("回复: [PATCH] 中文标题", { reply = true, title = "中文标题" })
    check("答复：x", { reply = true, title = "x" })
    check("转发: x", { reply = true })
    check("Re[2]: x", { reply = true, title = "x" })
  end)

  it("does not take subsystem prefixes or words for reply markers", function()
    check("wg: fix the thing", { reply = false, title = "wg: fix the thing" })
    check("Revert \"KVM: x\"", { reply = false })
    check("KVM: Re: something", { reply = false, title = "KVM: Re: something" })
    check("Rework: x", { reply = false })
  end)

  it("skips a pasted \"Subject:\" before the groups", function()
    check("Re: Subject: [PATCH] selftests/mm: add test for (BATCH_PROCESS)MADV_DONTNEED",
      { reply = true, tags = { "PATCH" }, title = "selftests/mm: add test for (BATCH_PROCESS)MADV_DONTNEED" })
  end)

  it("only strips leading bracket groups and collapses folded blanks", function()
    check("[PATCH] rewrite [a-z] regexes", { title = "rewrite [a-z] regexes" })
    check("[PATCH v2]   KVM:\n  arm64:\tx  ", { title = "KVM: arm64: x", normalized = "kvm: arm64: x" })
    check("no tags at all", { title = "no tags at all", tag_list = {}, groups = {}, reply = false })
    check("", { title = "", reply = false })
  end)

  it("takes the version from a trailing (vN) and drops it from normalized", function()
    check("Hello, world (v2)", { version = 2, title = "Hello, world (v2)", normalized = "hello, world" })
    check("[PATCH v3] x (v2)", { version = 3 })
  end)

  it("normalizes every version of one series to the same key", function()
    local a = subject.parse("[PATCH v6 00/28] KVM: arm64: Implement support for SME")
    local b = subject.parse("Re: [PATCH v7 00/29] KVM: arm64: Implement support for SME")
    assert.are.equal(a.normalized, b.normalized)
  end)

  it("raises on a non-string", function()
    assert.has_error(function() subject.parse(nil) end)
    assert.has_error(function() subject.parse(42) end)
  end)
end)

describe("subject against patchwork's subject tests", function()
  local data = json.decode(H.fixture("subjects/SUBJECT-PARSING.json"))
  local count = 0

  for i, c in ipairs(data.cases) do
    if c.kind == "clean_subject" then
      count = count + 1
      -- patchwork keeps non-PATCH tags in the name as "[RFC] meep"; our title
      -- drops every leading group (tags are in tags/tag_list), so the expected
      -- title is expected_name minus its leading "[...]" group.  Kept prefixes
      -- are our tag_list minus PATCH and minus the list's own prefixes.
      it(("clean_subject #%d %q"):format(i, c.subject), function()
        local got = subject.parse(c.subject)
        local want_title = c.expected_name:gsub("^%[[^%]]*%]%s*", "")
        assert.are.equal(want_title, got.title)
        local drop = {}
        for _, p in ipairs(c.extra_prefixes_to_drop) do drop[p:lower()] = true end
        local kept = {}
        for _, tok in ipairs(got.tag_list) do
          if tok ~= "PATCH" and not drop[tok:lower()] then kept[#kept + 1] = tok end
        end
        assert.are.same(c.expected_kept_prefixes, kept)
      end)
    elseif c.kind == "is_reply_subject" then
      count = count + 1
      it(("is_reply_subject %q"):format(c.subject), function()
        if c.subject:find(":") then
          assert.are.equal(c.expected, subject.parse(c.subject).reply)
        else
          -- Deliberate difference: patchwork takes "RE meep" (no colon) for a
          -- reply.  We require the colon: on kernel lists every client writes
          -- "Re:", and without the colon a title such as "RE fixes for ..."
          -- or "re ..." would be misread and detached from its series.
          assert.is_false(subject.parse(c.subject).reply)
        end
      end)
    elseif c.kind == "split_prefix_text" then
      count = count + 1
      it(("split_prefix_text %q"):format(c.input), function()
        local got = subject.parse("[" .. c.input .. "] x")
        assert.are.same(c.expected, got.tag_list)
      end)
    elseif c.kind == "series_marker" then
      count = count + 1
      it(("series_marker %s"):format(table.concat(c.prefixes, ",")), function()
        local s = #c.prefixes > 0 and ("[" .. table.concat(c.prefixes, " ") .. "] x") or "x"
        local got = subject.parse(s)
        if c.expected_n_of_N == json.null or c.expected_n_of_N == nil then
          assert.is_nil(got.n)
          assert.is_nil(got.total)
        else
          assert.are.same(c.expected_n_of_N, { got.n, got.total })
        end
      end)
    elseif c.kind == "version" then
      count = count + 1
      it(("version %q %s"):format(c.subject, table.concat(c.prefixes, ",")), function()
        local s = (#c.prefixes > 0 and ("[" .. table.concat(c.prefixes, " ") .. "] ") or "") .. c.subject
        local got = subject.parse(s)
        -- Deliberate difference: patchwork defaults the version to 1; we
        -- report nil when the subject states none, so that "no version
        -- given" and "v1" stay distinguishable (b4 and series matching
        -- treat an unversioned re-post differently from an explicit v1).
        if c.expected_version == 1 then
          assert.is_nil(got.version)
        else
          assert.are.equal(c.expected_version, got.version)
        end
      end)
    else
      error("unknown case kind " .. tostring(c.kind))
    end
  end

  it("covers every case of the file", function()
    assert.are.equal(#data.cases, count)
    assert.are.equal(32, count)
  end)
end)

describe("subject against the kvmarm and linux-kselftest facts tables", function()
  local rows = {}
  local text = H.fixture("subjects/kernel-lists-subjects.tsv")
  local header = true
  for line in text:gmatch("[^\n]+") do
    if header then
      header = false
    else
      local week, is_reply, btags, version, pn, ptotal, subj = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      assert(week, "bad fixture line: " .. line)
      rows[#rows + 1] = { week = week, is_reply = is_reply == "1", bracket_tags = btags,
        version = tonumber(version), n = tonumber(pn), total = tonumber(ptotal), subject = subj }
    end
  end

  -- Rows where we are sure the heuristic table is wrong, and why.
  local EXCEPTIONS = {
    -- The table stops at the first non-bracket text; a reply marker may sit
    -- between groups, so the second group (v2, 0/6) belongs to the subject.
    ["Re: [External] Re: [v2 0/6] KVM: arm64: implement vcpu_is_preempted check"] = {
      bracket_tags = "External | v2 0/6", version = 2, n = 0, total = 6 },
    -- "Re:" after a bracket group still marks a reply (the bot quotes a thread).
    ["[syzbot ci] Re: mm: remove nth_page()"] = { is_reply = true },
    -- A "Subject:" pasted into the subject hides the [PATCH] group from the
    -- table; we skip the pasted header and read the group.
    ["Re: Subject: [PATCH] selftests/mm: add test for (BATCH_PROCESS)MADV_DONTNEED"] = {
      bracket_tags = "PATCH" },
  }
  -- "PATCHv2"/"PATCHv3": the version is glued to PATCH; the table misses it.
  local function glued_version(r)
    local v = r.bracket_tags:match("^PATCHv(%d+)")
    return v and { version = tonumber(v) } or nil
  end

  it("reads the fixture (1514 distinct rows from five weeks)", function()
    assert.are.equal(1514, #rows)
    local weeks = {}
    for _, r in ipairs(rows) do weeks[r.week] = true end
    assert.are.same({ "kselftest-2025-W26", "kselftest-2025-W34", "kvmarm-2021-W11", "kvmarm-2022-W04", "kvmarm-2022-W49" }, keys(weeks))
  end)

  it("agrees on is_reply_subject, bracket_tags, version and n/N of every row", function()
    local failures, excepted, glued = {}, 0, 0
    for _, r in ipairs(rows) do
      local want = { is_reply = r.is_reply, bracket_tags = r.bracket_tags, version = r.version, n = r.n, total = r.total }
      local fix = EXCEPTIONS[r.subject] or glued_version(r)
      if fix then
        if EXCEPTIONS[r.subject] then excepted = excepted + 1 else glued = glued + 1 end
        for k, v in pairs(fix) do want[k] = v end
      end
      local p = subject.parse(r.subject)
      local got = { is_reply = p.reply, bracket_tags = table.concat(p.groups, " | "), version = p.version, n = p.n, total = p.total }
      for k, v in pairs(want) do
        if got[k] ~= v then
          failures[#failures + 1] = ("%s: %s: want %s, got %s"):format(r.subject, k, tostring(v), tostring(got[k]))
        end
      end
    end
    assert.are.same({}, failures)
    assert.are.equal(3, excepted)
    assert.is_true(glued >= 8) -- PATCHv2/PATCHv3 rows of kselftest W34
  end)

  it("finds stable branches exactly where the table's tags name one", function()
    for _, r in ipairs(rows) do
      local p = subject.parse(r.subject)
      local named = r.bracket_tags:find("stable%-") ~= nil or r.bracket_tags:find("%d%.y") ~= nil
      assert.are.equal(named, p.stable ~= nil, r.subject)
    end
    local p = subject.parse("Re: [PATCH][stable-4.{4,9,14,19}] KVM: arm64: Fix exclusive limit for IPA size")
    assert.are.same({ "4.4", "4.9", "4.14", "4.19" }, p.stable)
    assert.are.same({ "5.4" }, subject.parse("[PATCH][stable-5.4] KVM: arm64: Reject VM creation when the default IPA size is unsupported").stable)
  end)

  it("leaves no PATCH/RFC word among the prefixes", function()
    for _, r in ipairs(rows) do
      for _, w in ipairs(subject.parse(r.subject).prefixes) do
        assert.is_nil(w:upper():find("^PATCH"), r.subject)
        assert.is_nil(w:upper():find("^RFC"), r.subject)
        assert.is_nil(w:find("^%d+/%d+$"), r.subject)
        assert.is_nil(w:find("^[vV]%d+$"), r.subject)
      end
    end
  end)
end)
