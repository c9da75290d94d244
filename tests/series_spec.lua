-- listdigest.series: which conversations make one report entry (threaded
-- series, unthreaded series, stable backports), what each series is, which
-- version it follows, and what a GIT PULL asks for. Expectations come from
-- patchwork's and b4's fixtures (tests/fixtures/series/, copied from
-- ../shared/corpus) and from reading the kvmarm weeks' mail.
local pipeline = require "listdigest.pipeline"
local series = require "listdigest.series"
local subject = require "listdigest.subject"
local json = require "listdigest.json"
local H = _G.H   -- tests/helper.lua (busted's helper)

local FIX = "tests/fixtures/series/"

-- Reads an mbox into conversations with parsed bodies, groups them and
-- links versions (no lookup).
local function load(path, lookup)
  local msgs, info = assert(pipeline.read(path))
  local threads = pipeline.threads(msgs)
  pipeline.parse_bodies(msgs, info)
  info.box:close()
  local groups = series.group(threads)
  series.link_versions(groups, lookup)
  series.supersede(groups, series.version_index(msgs), { ["until"] = math.huge })
  return groups, threads, msgs
end

local function by_id(groups, id)
  for _, g in ipairs(groups) do
    if g.id == id then return g end
  end
  error("no entry " .. id)
end

local function sorted(list)
  local c = table.move(list, 1, #list, 1, {})
  table.sort(c)
  return c
end

-- Synthetic mail for subject forms the corpus lacks.
local function mail(id, from_addr, subj, date, parent)
  return { message_id = id, from = "Sender <" .. from_addr .. ">", from_addr = from_addr, subject = subj,
           subj = subject.parse(subj), date = date, parent_id = parent, segments = {}, index = 0 }
end
local function conv(...)
  local ms = { ... }
  return { id = ms[1].message_id, root = ms[1], root_missing = false, messages = ms }
end

local T0 = 1700000000

describe("series.group on patchwork's series fixtures", function()
  local E = json.decode(H.read(FIX .. "patchwork/EXPECTATIONS.json")).series
  -- Fixtures where we deliberately differ from patchwork, because a JWZ
  -- conversation is never split (a v2 or a stray patch sent as a reply stays
  -- in the conversation it replied to, and is reported inside it):
  -- A v2 posted as a reply into v1 leads the entry (v1 is its history),
  -- so the entry's own cover and patches are v2's.
  local DEVIATES = {
    ["bugs-nocover"] = { { 3, 4 } },               -- v2 1/2, 2/2 lead; v1 is history
    ["revision-threaded-to-cover"] = { { 4, 5, 6 } }, -- the v2 cover + patches lead; v1 is history
    ["bugs-unnumbered"] = { { 1, 2 } },            -- "This is an orphaned patch!" stays, uncounted
  }

  -- Positions (1-based, in the mbox) of each entry's cover and patches,
  -- entries in date order of their first mail.
  local function members(groups)
    local out = {}
    for _, g in ipairs(groups) do
      if g.series then
        local pos, ids = {}, {}
        if g.series.cover then ids[g.series.cover] = true end
        for _, id in pairs(g.series.patches) do ids[id] = true end
        for _, m in ipairs(g.messages) do
          if ids[m.message_id] then pos[#pos + 1] = m.index end
        end
        out[#out + 1] = sorted(pos)
      end
    end
    table.sort(out, function(a, b) return a[1] < b[1] end)
    return out
  end

  for name, exp in pairs(E) do
    if not exp.template then
      it("groups " .. name .. " as patchwork does" .. (DEVIATES[name] and " (documented deviation)" or ""), function()
        local groups = load(FIX .. "patchwork/" .. name .. ".mbox")
        local want = DEVIATES[name] or exp.expected_series
        local got = members(groups)
        -- revision-unlabeled / revision-basic lists are already in date order
        table.sort(want, function(a, b) return a[1] < b[1] end)
        assert.are.same(want, got)
        if exp.received_all ~= nil then
          assert.are.equal(exp.received_all, groups[1].series.complete)
        end
      end)
    end
  end

  it("leads v1's entry with a whole v2 sent as a reply into it, v1 as its history", function()
    local groups = load(FIX .. "patchwork/bugs-nocover.mbox")
    assert.are.equal(1, #groups)
    local s = groups[1].series
    assert.are.same({ 2, 2, 2 }, { s.version, s.present, s.total })
    assert.are.equal("1473633055-10316-2-git-send-email-stephenfinucane@gmail.com", s.patches[1])
    assert.are.same({}, s.rerolls)
    assert.are.same({ 1, 2 }, s.versions)
    assert.are.same({ { version = 1, id = s.history[1].id, date = s.history[1].date, present = 2, total = 2 } },
                    s.history)
    assert.are.equal(4, #groups[1].messages)
    assert.matches("follows v1 in the same conversation", series.describe(groups[1]), 1, true)
  end)

  it("merges two unthreaded [net,v2,n/2] patches of one sender sent 8 minutes apart", function()
    local groups = load(FIX .. "patchwork/base-no-references.mbox")
    assert.are.equal(1, #groups)
    local g = groups[1]
    assert.are.equal("unthreaded-series", g.grouping.rule)
    assert.matches("xiaolou4617@gmail.com", g.grouping.why, 1, true)
    assert.are.equal(2, #g.parts)
    assert.are.equal("1495516865-17019-1-git-send-email-xiaolou4617@gmail.com", g.id)
    assert.are.equal(2, g.series.version)
    assert.are.equal(2, g.series.present)
    assert.are.equal("net", g.series.project)
  end)

  it("does not merge two threaded submissions of one unlabeled series", function()
    local groups = load(FIX .. "patchwork/revision-unlabeled.mbox")
    assert.are.equal(2, #groups)
    for _, g in ipairs(groups) do assert.are.equal("jwz", g.grouping.rule) end
    assert.is_nil(groups[2].series.previous)   -- both v1: neither follows the other
  end)

  it("links v2 to v1 by title and author, with or without a cover", function()
    for _, name in ipairs({ "revision-basic", "revision-no-cover-letter" }) do
      local groups = load(FIX .. "patchwork/" .. name .. ".mbox")
      local v1, v2 = groups[1], groups[2]
      assert.are.equal(1, v1.series.version)
      assert.are.equal(2, v2.series.version)
      assert.are.equal(1, v2.series.previous.version)
      assert.are.equal("1473632524-8585-1-git-send-email-stephenfinucane@gmail.com", v2.series.previous.url_id)
      assert.are.equal(2, v1.series.superseded_by.version)
      assert.are.equal(v2.series.cover or v2.series.patches[1], v1.series.superseded_by.id)
      assert.is_nil(v2.series.superseded_by)
    end
  end)

  it("takes the cover's version for unversioned patches and reads Mercurial's 'n of N'", function()
    local g = load(FIX .. "patchwork/base-different-versions.mbox")[1]
    assert.are.equal(3, g.series.version)
    assert.are.equal(4, g.series.present)
    assert.are.equal("net-next", g.series.project)
    local hg = load(FIX .. "patchwork/mercurial-cover-letter.mbox")[1]
    assert.are.equal("patchbomb.1485159385@nuevo", hg.series.cover)
    assert.are.equal(2, hg.series.present)
  end)
end)

describe("series.group on b4's samples", function()
  it("records a v3 of one patch sent as a reply into v2 as a partial re-roll", function()
    local groups = load(FIX .. "b4/trailers-followup-partial-reroll.mbox")
    assert.are.equal(1, #groups)
    local s = groups[1].series
    assert.are.equal(2, s.version)
    assert.are.equal("cover-message@example.com", s.cover)
    assert.are.same({ [1] = "patch-1-message@example.com", [2] = "patch-2-message@example.com" }, s.patches)
    assert.are.same({ { n = 2, version = 3, id = "patch-v3-2-message@example.com" } }, s.rerolls)
    assert.are.equal(6, #groups[1].messages)
    assert.are.equal("v2 (2 patches, 2/2 present), re-rolled v3 2/2", series.describe(groups[1]))
  end)

  it("takes a subject-less root by the patch's author as a naked cover", function()
    local g = load(FIX .. "b4/naked-cover-single.mbox")[1]
    assert.are.equal("20221025-widget-v1-0-author@example.org", g.series.cover)
    assert.are.equal("do a thing to the widget subsystem", g.series.title)
    assert.are.equal("20221025-widget-v1-1-author@example.org", g.series.patches[1])
    assert.are.equal("Test Author <author@example.org>", g.series.author)
  end)

  it("does not count a reviewer's reply without 'Re:' as a patch or a re-roll", function()
    local g = load(FIX .. "b4/trailers-followup-nore.mbox")[1]
    assert.are.equal(1, g.series.present)
    assert.are.equal("orig-message@example.com", g.series.patches[1])
    assert.are.same({}, g.series.rerolls)
  end)

  it("reads a 0/4 cover with its four patches", function()
    local g = load(FIX .. "b4/shazam-git1-just-series.mbox")[1]
    assert.are.equal(4, g.series.total)
    assert.are.equal(4, g.series.present)
    assert.is_true(g.series.complete)
  end)
end)

describe("series.group on subject forms", function()
  it("merges unthreaded '[PATCH v6,n/3]' patches within 20 minutes, cover first", function()
    local a = mail("p1", "dev@x.org", "[PATCH v6,1/3] foo: one", T0)
    local b = mail("p2", "dev@x.org", "[PATCH v6,2/3] foo: two", T0 + 60)
    local c = mail("p3", "dev@x.org", "[PATCH v6,3/3] foo: three", T0 + 19 * 60)
    local cov = mail("p0", "dev@x.org", "[PATCH v6,0/3] foo: all", T0 - 30)
    local groups = series.group({ conv(c), conv(a), conv(cov), conv(b) })
    assert.are.equal(1, #groups)
    local g = groups[1]
    assert.are.equal("unthreaded-series", g.grouping.rule)
    assert.are.equal("p0", g.id)
    assert.are.equal("p0", g.series.cover)
    assert.are.same({ "p0", "p1", "p2", "p3" }, { g.parts[1].id, g.parts[2].id, g.parts[3].id, g.parts[4].id })
    assert.are.equal(3, g.series.present)
    assert.are.equal("foo: all", g.series.title)
  end)

  it("leaves a patch sent more than 20 minutes after the first, or by another sender, apart", function()
    local a = mail("p1", "dev@x.org", "[PATCH 3/5 v2] foo: one", T0)
    local late = mail("p2", "dev@x.org", "[PATCH 4/5 v2] foo: two", T0 + 21 * 60)
    local other = mail("p3", "else@x.org", "[PATCH 5/5 v2] foo: three", T0 + 60)
    local groups = series.group({ conv(a), conv(late), conv(other) })
    assert.are.equal(3, #groups)
    assert.are.equal(2, groups[1].series.version)
    assert.are.equal("p1", groups[1].series.patches[3])
    assert.are.equal("jwz", groups[2].grouping.rule)
  end)

  it("does not merge patches of different versions, totals or projects", function()
    local groups = series.group({
      conv(mail("a", "d@x", "[PATCH v2 1/2] x", T0)),
      conv(mail("b", "d@x", "[PATCH v3 2/2] y", T0 + 60)),
      conv(mail("c", "d@x", "[PATCH v2 2/3] y", T0 + 60)),
      conv(mail("d", "d@x", "[PATCH kvmtool v2 2/2] y", T0 + 60)),
    })
    assert.are.equal(4, #groups)
  end)

  it("reads RESEND, RFC and project words", function()
    local g = series.group({ conv(mail("r", "d@x", "[RFC PATCH RESEND v3 00/12] x", T0)) })[1]
    assert.is_true(g.series.resend)
    assert.is_true(g.series.rfc)
    assert.are.equal(3, g.series.version)
    assert.are.equal("r", g.series.cover)
    local k = series.group({ conv(mail("k", "d@x", "[kvm-unit-tests PATCH] arm: y", T0)) })[1]
    assert.are.equal("kvm-unit-tests", k.series.project)
    assert.are.equal(1, k.series.version)
    assert.are.equal("k", k.series.patches[1])
    assert.are.equal("kvm-unit-tests v1 (1 patch, 1/1 present)", series.describe(k))
  end)

  it("merges one fix sent as [PATCH][stable-4.19], [PATCH 6.1.y] and [STABLE 5.15.y]", function()
    local groups = series.group({
      conv(mail("s1", "dev@x.org", "[PATCH][stable-4.19] KVM: fix it", T0)),
      conv(mail("s2", "dev@x.org", "[PATCH 6.1.y] KVM: fix it", T0 + 86400)),
      conv(mail("s3", "dev@x.org", "[STABLE 5.15.y] KVM: fix it", T0 + 60)),
      conv(mail("s4", "other@x.org", "[PATCH 6.6.y] KVM: fix it", T0 + 60)),
    })
    assert.are.equal(2, #groups)
    local g = groups[1]
    assert.are.equal("backports", g.grouping.rule)
    assert.are.same({ "4.19", "5.15", "6.1" }, g.series.branches)
    assert.are.equal("s1", g.id)
    assert.are.same({ "6.6" }, groups[2].series.branches)  -- another sender's backport stays apart
  end)

  it("never splits a conversation", function()
    local root = mail("c0", "d@x", "[PATCH 0/2] x", T0)
    local p1 = mail("c1", "d@x", "[PATCH 1/2] a", T0 + 1, "c0")
    local other = mail("o1", "e@x", "[PATCH] unrelated: fix", T0 + 2, "c0")
    local groups = series.group({ conv(root, p1, other) })
    assert.are.equal(1, #groups)
    assert.are.equal(3, #groups[1].messages)
    assert.are.equal(1, groups[1].series.present)
  end)
end)

describe("series.link_versions", function()
  it("asks the lookup for a version outside the groups and ignores answers that are not older", function()
    local asked
    local groups = series.group({ conv(mail("v3", "d@x.org", "[PATCH v3 0/2] Foo the bar", T0)) })
    series.link_versions(groups, function(author, title)
      asked = { author, title }
      return { id = "v2-cover", version = 2, date = T0 - 86400 }
    end)
    assert.are.same({ "d@x.org", "foo the bar" }, asked)
    assert.are.same({ version = 2, id = "v2-cover", date = T0 - 86400, url_id = "v2-cover" }, groups[1].series.previous)

    groups = series.group({ conv(mail("v3", "d@x.org", "[PATCH v3 0/2] Foo the bar", T0)) })
    series.link_versions(groups, function() return { id = "x", version = 3, date = T0 } end)
    assert.is_nil(groups[1].series.previous)
    series.link_versions(groups, function() return nil end)
    assert.is_nil(groups[1].series.previous)
  end)

  it("does not link a RESEND of the same version, nor another author's series", function()
    local groups = series.group({
      conv(mail("a", "d@x.org", "[PATCH v2] foo: bar", T0)),
      conv(mail("b", "d@x.org", "[PATCH RESEND v2] foo: bar", T0 + 3600)),
      conv(mail("c", "e@x.org", "[PATCH v3] foo: bar", T0 + 7200)),
    })
    series.link_versions(groups)
    assert.is_nil(groups[2].series.previous)
    assert.is_nil(groups[3].series.previous)
  end)
end)

describe("series.parse_pull on patchwork's pull requests", function()
  local function pull(name)
    local msgs, info = assert(pipeline.read(FIX .. "pull/" .. name .. ".mbox"))
    pipeline.parse_bodies(msgs, info)
    info.box:close()
    return series.parse_pull(msgs[1])
  end

  it("reads git://, git+ssh:// and http:// URLs with the branch on the same line", function()
    local p = pull("0003-git-pull-request-with-diff")
    assert.are.equal("git://git.kernel.org/pub/scm/linux/kernel/git/tip/linux-2.6-tip.git", p.repo)
    assert.are.equal("x86-fixes-for-linus", p.tag)
    assert.are.equal("git+ssh://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git",
      pull("0004-git-pull-request-git+ssh").repo)
    local h = pull("0006-git-pull-request-http")
    assert.are.equal("http://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git", h.repo)
    assert.are.equal("next", h.ref)
    assert.are.equal("next", pull("0001-git-pull-request").tag)
  end)

  it("reads a tag on the line after the URL", function()
    local p = pull("0023-git-pull-request-newline-in-url")
    assert.are.equal("https://git.kernel.org/pub/scm/linux/kernel/git/matthias.bgg/linux.git/", p.repo)
    assert.are.equal("tags/v5.4-next-soc", p.ref)
    assert.are.equal("v5.4-next-soc", p.tag)
  end)
end)

describe("series on kvmarm 2022-W04", function()
  local groups, threads = load("examples/kvmarm-2022-W04.mbox")

  it("keeps each of the 23 conversations as one entry (nothing there is unthreaded)", function()
    assert.are.equal(#threads, #groups)
    assert.are.equal(23, #groups)
    local seen, n = {}, 0
    for _, g in ipairs(groups) do
      assert.are.equal("jwz", g.grouping.rule)
      for _, m in ipairs(g.messages) do
        assert.is_nil(seen[m.message_id])
        seen[m.message_id] = true
        n = n + 1
      end
    end
    assert.are.equal(340, n)
  end)

  it("reports SME v8, v9 and v10 separately, each pointing at the one before", function()
    local v8 = by_id(groups, "20220125001114.193425-1-broonie@kernel.org")
    local v9 = by_id(groups, "20220126151120.3811248-1-broonie@kernel.org")
    local v10 = by_id(groups, "20220126152749.233712-1-broonie@kernel.org")
    assert.are.same({ 8, 38, 38 }, { v8.series.version, v8.series.total, v8.series.present })
    assert.are.same({ 9, 40, 40 }, { v9.series.version, v9.series.total, v9.series.present })
    assert.are.same({ 10, 39, 39 }, { v10.series.version, v10.series.total, v10.series.present })
    assert.is_nil(v8.series.previous)
    assert.are.equal(8, v9.series.previous.version)
    assert.are.equal(v8.id, v9.series.previous.id)
    assert.are.equal(9, v10.series.previous.version)
    assert.are.equal(v9.id, v10.series.previous.url_id)
    assert.are.equal("Mark Brown <broonie@kernel.org>", v10.series.author)
    assert.are.equal("arm64/sme: initial support for the scalable matrix extension", v10.series.title)
    assert.are.equal("v10 (39 patches, 39/39 present), previous v9 2022-01-26", series.describe(v10))
  end)

  it("reads the 64-patch NV series as one entry of 65 mails", function()
    local nv = by_id(groups, "20220128121912.509006-1-maz@kernel.org")
    assert.are.equal(65, #nv.messages)
    assert.are.equal(6, nv.series.version)
    assert.are.equal(64, nv.series.present)
    assert.are.equal("20220128121912.509006-2-maz@kernel.org", nv.series.patches[1])
    assert.is_true(nv.series.complete)
  end)

  it("links the three single-patch vgic-v3 selftest versions and the A510 v2", function()
    local v2 = by_id(groups, "20220126135319.1918802-1-broonie@kernel.org")
    local v3 = by_id(groups, "20220126145242.3473836-1-broonie@kernel.org")
    assert.are.equal("20220125192851.3907611-1-broonie@kernel.org", v2.series.previous.id)
    assert.are.equal(v2.id, v3.series.previous.id)
    local a510 = by_id(groups, "20220127122052.1584324-1-james.morse@arm.com")
    assert.are.equal("20220125153803.549084-1-james.morse@arm.com", a510.series.previous.id)
  end)

  it("reads the kvmtool and RFC series", function()
    local kt = by_id(groups, "20220127162033.54290-1-alexandru.elisei@arm.com")
    assert.are.equal("kvmtool", kt.series.project)
    assert.are.same({ 2, 10 }, { kt.series.version, kt.series.present })
    local rfc = by_id(groups, "20220126173011.3476262-1-ardb@kernel.org")
    assert.is_true(rfc.series.rfc)
    assert.are.same({ 1, 12 }, { rfc.series.version, rfc.series.present })
  end)

  it("reads the GIT PULL's repository and tag, and Paolo's 'Pulled, thanks.'", function()
    local g = by_id(groups, "20220128101245.506715-1-maz@kernel.org")
    assert.is_nil(g.series)
    assert.are.same({
      id = "20220128101245.506715-1-maz@kernel.org",
      repo = "git://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git",
      ref = "tags/kvmarm-fixes-5.17-1", tag = "kvmarm-fixes-5.17-1",
      base = "1c53a1ae36120997a82f936d044c71075852e521", head = "278583055a237270fac70518275ba877bf9e4013",
      reply = { by = "Paolo Bonzini <pbonzini@redhat.com>", verdict = "pulled", text = "Pulled, thanks.",
                id = "8a78eca4-79b2-e183-f01a-6f56124bfdeb@redhat.com" },
    }, g.pull)
    assert.matches("pulled by Paolo Bonzini", series.describe(g), 1, true)
  end)
end)

describe("series on kvmarm 2021-W11", function()
  local groups, threads = load("tests/fixtures/mbox/kvmarm-2021-W11.mbox.gz")

  it("puts every conversation in exactly one entry", function()
    local seen, parts = {}, 0
    for _, g in ipairs(groups) do
      for _, t in ipairs(g.parts) do
        assert.is_nil(seen[t])
        seen[t] = true
        parts = parts + 1
      end
    end
    assert.are.equal(#threads, parts)
    assert.are.equal(36, #threads)
    assert.are.equal(31, #groups)   -- 36 conversations, backports merged 2 + 2 + 4 into 3
  end)

  it("makes the IPA-size fix to stable-4.{4,9,14,19} and its 4.{4,9} resend one entry", function()
    local g = by_id(groups, "20210315110833.4135927-1-maz@kernel.org")
    assert.are.equal("backports", g.grouping.rule)
    assert.are.same({ "4.4", "4.9", "4.14", "4.19" }, g.series.branches)
    assert.are.equal(2, #g.parts)
    assert.are.equal("20210315114646.4137198-1-maz@kernel.org", g.parts[2].id)
    assert.are.equal(9, #g.messages)   -- 2 patches, Greg's and Marc's replies, 4 "added to" notes
    assert.matches("262b003d059c6671601a19057e9fe1a5e7f23722", g.grouping.why, 1, true)
  end)

  it("makes the I-cache isolation fix to 5.4 and 5.10 one entry; the 5.4-only fix stays alone", function()
    local g = by_id(groups, "20210315111000.4136196-1-maz@kernel.org")
    assert.are.same({ "5.4", "5.10" }, g.series.branches)
    assert.are.equal(4, #g.messages)
    local single = by_id(groups, "20210315110952.4136142-1-maz@kernel.org")
    assert.are.equal("jwz", single.grouping.rule)
    assert.are.same({ "5.4" }, single.series.branches)
  end)

  it("joins Andrew's 5.11 and 5.10 backports (branch only in 'Cc: stable # 5.1x.y only') and Greg's review copies", function()
    local g = by_id(groups, "20210315122136.1687370-1-ascull@google.com")
    assert.are.equal("backports", g.grouping.rule)
    assert.are.same({ "5.10", "5.11" }, g.series.branches)
    assert.are.equal(4, #g.parts)
    assert.are.equal(7, #g.messages)
    assert.are.equal("c4b000c3928d4f20acef79dccf3a65ae3795e0b0", g.series.upstream)
  end)

  it("links v6 'Stage-2 for the host' to v5 'A stage 2 for the host'", function()
    local v6 = by_id(groups, "20210319100146.1149909-1-qperret@google.com")
    assert.are.equal(5, v6.series.previous.version)
    assert.are.equal("20210315143536.214621-1-qperret@google.com", v6.series.previous.id)
    assert.are.same({ 6, 38, 38 }, { v6.series.version, v6.series.total, v6.series.present })
  end)

  it("lists the FWB fixes posted inside the v5 thread without counting them", function()
    local v5 = by_id(groups, "20210315143536.214621-1-qperret@google.com")
    assert.are.equal(60, #v5.messages)
    assert.are.equal(36, v5.series.present)
    assert.are.equal(3, #v5.series.inside)
    assert.are.equal("Fixes for FWB", v5.series.inside[1].title)
    assert.are.same({}, v5.series.rerolls)
  end)

  it("links the other second versions of the week", function()
    assert.are.equal("20210315041844.64915-1-gshan@redhat.com",
      by_id(groups, "20210316041126.81860-1-gshan@redhat.com").series.previous.id)
    assert.are.equal("20210316101312.102925-1-maz@kernel.org",
      by_id(groups, "20210318122532.505263-1-maz@kernel.org").series.previous.id)
    local kut = by_id(groups, "20210319165359.58498-1-alexandru.elisei@arm.com")
    assert.are.equal("kvm-unit-tests", kut.series.project)
    assert.are.equal("20210318162022.84482-1-alexandru.elisei@arm.com", kut.series.previous.id)
  end)

  it("gives no author to a conversation known only by replies, and does not link it", function()
    for _, g in ipairs(groups) do
      if g.root_missing and g.series and g.series.present == 0 then
        assert.is_nil(g.series.author)
        assert.is_nil(g.series.previous)
      end
    end
  end)
end)
