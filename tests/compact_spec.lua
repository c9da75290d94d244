-- Specification of listdigest.compact: what goes into an LLM prompt for a
-- thread. Checked on the rendered text of real threads of the sample kvmarm
-- week; every expected line below was read in the mbox, not in our output.
local compact = require "listdigest.compact"
local pipeline = require "listdigest.pipeline"
local rules = require "listdigest.rules"
local tu = require "listdigest.timeutil"

local SAMPLE = "examples/kvmarm-2022-W04.mbox"
local WEEK = { since = tu.parse("2022-01-24"), ["until"] = tu.parse("2022-01-31") }

local _, ctx = assert(pipeline.run({ source = SAMPLE, rules = assert(rules.load("kvmarm", { root = "." })),
                                     window = WEEK }))

local function find_thread(title)
  for _, t in ipairs(ctx.threads) do
    if t.title == title then return t end
  end
  error("no thread " .. title)
end

local function is_cover(m) return m.subj.n == 0 and not m.subj.reply end

-- The prompt order summarize.lua uses: the cover letter first, then by date.
local function prompt_msgs(t, filter)
  local list = {}
  for i, m in ipairs(t.messages) do
    if not filter or filter(m) then list[#list + 1] = { m = m, i = i } end
  end
  table.sort(list, function(a, b)
    if is_cover(a.m) ~= is_cover(b.m) then return is_cover(a.m) end
    if (a.m.date or 0) ~= (b.m.date or 0) then return (a.m.date or 0) < (b.m.date or 0) end
    return a.i < b.i
  end)
  local out = {}
  for k, e in ipairs(list) do
    local m = e.m
    out[k] = { id = m.message_id, from = m.from, subject = m.subject, cover = is_cover(m),
               date = m.date and tu.rfc3339(m.date) or nil, segments = m.segments }
  end
  return out
end

local function by_id(msgs, out)
  local map = {}
  for i, m in ipairs(msgs) do map[m.id] = out.messages[i] end
  return map
end

local function from_of(msgs, out, name)
  for i, m in ipairs(msgs) do
    if m.from:find(name, 1, true) then return out.messages[i], m end
  end
  error("no message from " .. name)
end

local function all_text(out)
  local parts = {}
  for _, m in ipairs(out.messages) do parts[#parts + 1] = m.text end
  return table.concat(parts, "\n")
end

local function count(hay, needle)
  local n, init = 0, 1
  while true do
    local s, e = hay:find(needle, init, true)
    if not s then return n end
    n, init = n + 1, e + 1
  end
end

local function contains(hay, needle) return hay:find(needle, 1, true) ~= nil end

local SME = "[PATCH v9 00/40] arm64/sme: Initial support for the Scalable Matrix Extension"
local NV = "[PATCH v6 00/64] KVM: arm64: ARMv8.3/8.4 Nested Virtualization support"
local SKIP = "[PATCH v3] kselftest: kvm/arm64: Skip tests if we can't create a vgic-v3"
local A510 = "[PATCH 0/4] KVM: arm64: A510 errata workaround and fixes for fixup_guest_exit()"
local IDREGS = "[RFC PATCH v4 00/26] KVM: arm64: Make CPU ID registers writable by userspace"

describe("compact.tokens", function()
  it("counts about one token per four ASCII bytes, rounded up", function()
    assert.are.equal(0, compact.tokens(""))
    assert.are.equal(1, compact.tokens("abc"))
    assert.are.equal(1, compact.tokens("abcd"))
    assert.are.equal(2, compact.tokens("abcde"))
    assert.are.equal(100, compact.tokens(("x"):rep(400)))
  end)

  it("counts one token per CJK character and half a token per other non-ASCII one", function()
    assert.are.equal(4, compact.tokens("中文测试"))
    assert.are.equal(5, compact.tokens("かなカナ한"))
    assert.are.equal(1, compact.tokens("éé"))           -- Latin: 2 bytes each, like bytes/4
    assert.are.equal(2, compact.tokens("abcd中"))
    assert.are.equal(1, compact.tokens("\xff"))           -- an invalid byte counts as a byte
  end)

  it("is deterministic and never less for a whole than for its parts' sum minus rounding", function()
    local s = H.read(SAMPLE):sub(1, 100000)
    assert.are.equal(compact.tokens(s), compact.tokens(s))
    local a, b = s:sub(1, 50000), s:sub(50001)
    assert.is_true(compact.tokens(s) <= compact.tokens(a) + compact.tokens(b))
    assert.is_true(compact.tokens(s) >= compact.tokens(a) + compact.tokens(b) - 1)
  end)
end)

describe("compact.thread on a patch series", function()
  for _, title in ipairs({ SME, NV }) do
    describe(title:sub(1, 40), function()
      local t = find_thread(title)
      local msgs = prompt_msgs(t)
      local out = compact.thread(msgs)

      it("is at least 4 times shorter than the raw thread text", function()
        assert.is_true(out.raw_tokens / out.tokens >= 4, ("%d / %d"):format(out.raw_tokens, out.tokens))
        local sum, raw = 0, 0
        for _, m in ipairs(out.messages) do sum, raw = sum + m.tokens, raw + m.raw_tokens end
        assert.are.equal(sum, out.tokens)
        assert.are.equal(raw, out.raw_tokens)
      end)

      it("keeps each message's id, in the order given", function()
        assert.are.equal(#msgs, #out.messages)
        for i, m in ipairs(msgs) do assert.are.equal(m.id, out.messages[i].id) end
      end)

      it("keeps every line of the cover letter's own text and diffstat", function()
        assert.is_true(msgs[1].cover)
        local text = out.messages[1].text
        assert.is_false(out.messages[1].truncated)
        for _, seg in ipairs(t.root.segments) do
          if seg.kind == "text" or seg.kind == "diffstat" or seg.kind == "trailer" then
            for line in seg.text:gmatch("[^\n]+") do
              if line:match("%S") then assert.is_true(contains(text, line .. "\n"), line) end
            end
          end
        end
      end)

      it("replaces each patch's diff by its files, hunk headers and first changed lines", function()
        for i = 2, #msgs do
          local raw_hunks, raw_files, diff = 0, {}, false
          for _, seg in ipairs(msgs[i].segments) do
            if seg.kind == "diff" then
              diff = true
              for line in seg.text:gmatch("[^\n]+") do
                if line:match("^@@ %-%d") then raw_hunks = raw_hunks + 1 end
                local f = line:match("^diff %-%-git a/(%S+)")
                if f then raw_files[#raw_files + 1] = f end
              end
            end
          end
          local text = out.messages[i].text
          if diff then
            -- every hunk header is kept (as "@@ function") or counted in a marker
            local kept = count(text, "\n@@")
            local said = 0
            for n in text:gmatch("in (%d+) more hunks") do said = said + tonumber(n) end
            assert.are.equal(raw_hunks, kept + said, msgs[i].subject)
            assert.is_nil(text:find("\nindex %x+%.%.%x+"), msgs[i].subject)
            assert.is_true(out.messages[i].dropped.diff > 0 or raw_hunks == 0)
            for _, f in ipairs(raw_files) do
              assert.is_true(contains(text, "diff " .. f) or contains(text, "more files]"), f)
            end
          end
        end
      end)

      it("keeps the patches' diffstat lines (column padding squeezed)", function()
        for i = 2, #msgs do
          for _, seg in ipairs(msgs[i].segments) do
            if seg.kind == "diffstat" then
              for line in seg.text:gmatch("[^\n]+") do
                local squeezed = line:gsub("  +", " ")
                assert.is_true(contains(out.messages[i].text, squeezed), squeezed)
              end
            end
          end
        end
      end)

      it("drops signatures and the list footer", function()
        local all = all_text(out)
        assert.is_false(contains(all, "kvmarm mailing list"))
        assert.is_false(contains(all, "lists.cs.columbia.edu/mailman/listinfo"))
        assert.is_nil(all:find("\n%-%- \n"))
        for _, m in ipairs(out.messages) do assert.is_true(m.dropped.footer > 0) end
      end)
    end)
  end

  it("keeps the sme cover letter's opening paragraph and changelog verbatim", function()
    local out = compact.thread(prompt_msgs(find_thread(SME)))
    local text = out.messages[1].text
    assert.is_true(contains(text, [[
This series provides initial support for the ARMv9 Scalable Matrix
Extension (SME).  SME takes the approach used for vectors in SVE and
extends this to provide architectural support for matrix operations.  A
more detailed overview can be found in [1].
]]))
    assert.is_true(contains(text, [[
v9:
 - Remove defensive programming around IS_ENABLED() and FGT in KVM code.
 - Fix naming of TPIDR2 FGT register bit.
]]))
    assert.is_true(contains(text, " Documentation/arm64/sme.rst                   | 432 +++++++++++++\n"))
    assert.is_true(contains(text, "  arm64/sme: Implement ZA context switching\n"))   -- the shortlog
  end)

  it("keeps the nested virtualization cover letter's changes verbatim", function()
    local out = compact.thread(prompt_msgs(find_thread(NV)))
    local text = out.messages[1].text
    assert.is_true(contains(text, "Here the first drop of the KVM/arm64 NV support code for 2022. Nothing\n"))
    assert.is_true(contains(text, [[
- We forbid NV+SVE for now. This is a change in ABI, and I hope to
  remove this requirement at some point. I've pushed out a kvmtool
  change that enforces this [2], and QEMU will need similar surgery
  for now.
]]))
    assert.is_true(contains(text, "Jintack Lim (18):\n"))
  end)

  it("keeps a patch's commit message and trailers", function()
    local msgs = prompt_msgs(find_thread(NV))
    local out = compact.thread(msgs)
    local m = by_id(msgs, out)["20220128121912.509006-42-maz@kernel.org"]
    assert.is_not_nil(m)
    assert.is_true(contains(m.text, "When supporting nested virtualization a guest hypervisor executing TLBI\n"))
    assert.is_true(contains(m.text, "Signed-off-by: Jintack Lim <jintack.lim@linaro.org>\n"))
    assert.is_true(contains(m.text, "Signed-off-by: Marc Zyngier <maz@kernel.org>\n"))
  end)
end)

describe("compact.thread on a review thread", function()
  local t = find_thread(SKIP)
  local msgs = prompt_msgs(t)
  local out = compact.thread(msgs)
  local all = all_text(out)

  it("keeps the reviewers' own words and trailers verbatim", function()
    local andrew = from_of(msgs, out, "Andrew Jones")
    assert.is_true(contains(andrew.text, "Reviewed-by: Andrew Jones <drjones@redhat.com>"))
    local shuah = from_of(msgs, out, "Shuah Khan")
    assert.is_true(contains(shuah.text, "Printing the negative error code returned by vgic_v3_setup will be useful.\n"))
    assert.is_true(contains(shuah.text, "Same here.\n"))
    assert.is_true(contains(shuah.text, "Reviewed-by: Shuah Khan <skhan@linuxfoundation.org>"))
    local ricardo = from_of(msgs, out, "Ricardo Koller")
    assert.is_true(contains(ricardo.text, "Tried both gicv2 and v3 and the change works as expected.\n"))
    assert.is_true(contains(ricardo.text, "Tested-by: Ricardo Koller <ricarkol@google.com>"))
    assert.is_true(contains(all, "If the function fails for any reason other than the system not\n" ..
                                 "supporting vgic-v3 it will abort rather than return.\n"))
    assert.is_true(contains(all, "Ah right. Makes sense.\n"))
  end)

  it("drops quotes of the patch, which the prompt already holds", function()
    -- four of the eight mails quote the commit message; it is read once
    assert.are.equal(1, count(all, "Fix this by changing vgic_v3_setup() to return an error if the vgic can't\n"))
    assert.are.equal(1, count(all, "v3:\n - Use custom print_skip() helper."))
    -- a quoted diff line that answers nothing is not repeated
    assert.is_true(count(all, "KVM_DEV_TYPE_ARM_VGIC_V3, false);") <= 1)
    local ricardo = from_of(msgs, out, "Ricardo Koller")
    assert.is_true(ricardo.dropped.quote >= 60)
    assert.is_true(ricardo.tokens < 80)
    assert.is_true(contains(ricardo.text, "quoted lines omitted"))
  end)

  it("keeps the quoted lines an inline comment answers", function()
    local shuah = from_of(msgs, out, "Shuah Khan")
    assert.is_true(contains(shuah.text, '> +\t\tprint_skip("Failed to create vgic-v3");\n' ..
                                        "Printing the negative error code"))
  end)

  it("keeps the quote of a reply whose parent is not in the prompt", function()
    -- Shuah's review alone: the patch it answers is not in the prompt
    local alone = {}
    for _, m in ipairs(msgs) do
      if m.from:find("Shuah", 1, true) then alone[1] = m break end
    end
    local o = compact.thread(alone)
    local text = o.messages[1].text
    assert.is_true(contains(text, "On 1/26/22 7:52 AM, Mark Brown wrote:\n"))
    assert.is_true(contains(text, '> +\t\tprint_skip("Failed to create vgic-v3, skipping");\n'))
    assert.is_true(contains(text, "earlier quoted lines omitted"))
    assert.is_true(o.messages[1].tokens < o.messages[1].raw_tokens)
  end)

  it("keeps the quotes of patches that are not in the week", function()
    -- Fuad Tabba reviews patches posted before the window; only replies are here
    local rt = find_thread(IDREGS)
    local rmsgs = prompt_msgs(rt)
    local o = compact.thread(rmsgs)
    local fuad
    for i, m in ipairs(rmsgs) do
      if m.from:find("Fuad Tabba", 1, true) and m.subject:find("03/26", 1, true) then fuad = o.messages[i] end
    end
    assert.is_true(contains(fuad.text, "> +       u32     sys_reg;        /* Register ID */\n" ..
                                       "Nit: Why not have the comment above, as for the other fields of this struct?\n"))
    assert.is_true(contains(fuad.text, "earlier quoted lines omitted"))
  end)

  it("drops signatures and the Mailman footer", function()
    assert.is_false(contains(all, "kvmarm mailing list"))
    assert.is_false(contains(all, "2.30.2"))
    local a510 = all_text(compact.thread(prompt_msgs(find_thread(A510))))
    assert.is_false(contains(a510, "Without deviation from the norm, progress is not possible."))
    assert.is_false(contains(a510, "kvmarm mailing list"))
    assert.is_true(contains(a510, "nit: we can drop this IS_ENABLED()...\n"))
    assert.is_true(contains(a510, "Urgh. That's pretty nasty :-(.\n"))
  end)
end)

describe("compact.quote_known", function()
  it("knows a quote whose lines are in an earlier text, whatever its depth and indent", function()
    local earlier = { "The arch_timer and vgic_irq kselftests assume that they can create a\n" ..
                      "vgic-v3, using the library function vgic_v3_setup() which aborts with a\n" }
    assert.is_true(compact.quote_known("On Wed, X wrote:\n> The arch_timer and vgic_irq kselftests " ..
                                       "assume that they can create a\n> >  vgic-v3, using the library " ..
                                       "function vgic_v3_setup() which aborts with a\n", earlier))
    assert.is_false(compact.quote_known("> Something nobody said in the prompt\n> and more of it\n", earlier))
    assert.is_true(compact.quote_known(">\n>  \n", {}))            -- nothing quoted at all
    assert.is_true(compact.quote_known("> }\n> +\n", { "}\n+\n" })) -- only short lines: judged on them
    assert.is_false(compact.quote_known("> }\n", {}))
  end)
end)

describe("compact.thread budget", function()
  local t = find_thread(NV)
  local msgs = prompt_msgs(t)

  it("splits a thread over budget into consecutive chunks, each within it", function()
    local out = compact.thread(msgs, { budget = 2000 })
    assert.is_true(#out.chunks > 1)
    local next_first = 1
    for _, c in ipairs(out.chunks) do
      assert.are.equal(next_first, c.first)
      assert.is_true(c.last >= c.first)
      assert.is_true(c.tokens <= 2000, c.tokens)
      local sum = 0
      for i = c.first, c.last do sum = sum + out.messages[i].tokens + compact.defaults.header_tokens end
      assert.are.equal(sum, c.tokens)
      next_first = c.last + 1
    end
    assert.are.equal(#msgs + 1, next_first)
  end)

  it("is one chunk when the thread fits", function()
    local out = compact.thread(prompt_msgs(find_thread(SKIP)))
    assert.are.same({ { first = 1, last = 8, tokens = out.chunks[1].tokens } }, out.chunks)
    assert.are.equal(out.tokens + 8 * compact.defaults.header_tokens, out.chunks[1].tokens)
  end)

  it("truncates a single message bigger than the budget, with a marker", function()
    local out = compact.thread(msgs, { budget = 2000 })
    local cover = out.messages[1]
    assert.is_true(cover.truncated)
    assert.is_true(cover.tokens + compact.defaults.header_tokens <= 2000)
    assert.is_truthy(cover.text:find("%[message truncated: about %d+ tokens omitted%]\n$"))
    assert.is_true(contains(cover.text, "Here the first drop of the KVM/arm64 NV support code for 2022."))
  end)

  it("never cuts inside a UTF-8 sequence", function()
    local han = ("中文字符"):rep(5000)   -- one line, no place to cut but inside it
    for _, budget in ipairs({ 100, 101, 102, 103, 777 }) do
      local out = compact.thread({ { id = "x", segments = { { kind = "text", text = han } } } },
                                 { budget = budget, header_tokens = 0 })
      local text = out.messages[1].text
      assert.is_not_nil(utf8.len(text), budget)
      assert.is_true(out.messages[1].tokens <= budget)
      assert.is_true(out.messages[1].truncated)
    end
    local out = compact.thread(msgs, { budget = 1500 })
    for _, m in ipairs(out.messages) do assert.is_not_nil(utf8.len(m.text)) end
  end)

  it("sees quotes as known only within their own chunk", function()
    local rmsgs = prompt_msgs(find_thread(SKIP))
    local pair = { rmsgs[1], (select(2, from_of(rmsgs, compact.thread(rmsgs), "Andrew Jones"))) }
    local together = compact.thread(pair)
    assert.are.equal(1, #together.chunks)
    assert.is_false(contains(together.messages[2].text, "> "))
    -- a budget that holds the patch but not the reply next to it
    local budget = together.messages[1].tokens + compact.defaults.header_tokens + 10
    local apart = compact.thread(pair, { budget = budget })
    assert.are.same({ 1, 1 }, { apart.chunks[1].first, apart.chunks[1].last })
    assert.are.same({ 2, 2 }, { apart.chunks[2].first, apart.chunks[2].last })
    local reply = apart.messages[2].text
    assert.is_true(contains(reply, "On Wed, Jan 26, 2022 at 02:52:42PM +0000, Mark Brown wrote:\n"))
    assert.is_true(contains(reply, ">  tools/testing/selftests/kvm/lib/aarch64/vgic.c   | 4 +++-\n"))
    assert.is_true(contains(reply, "Reviewed-by: Andrew Jones <drjones@redhat.com>"))
  end)
end)

describe("compact.thread arguments", function()
  it("raises on a caller's mistake", function()
    assert.has_error(function() compact.thread("x") end)
    assert.has_error(function() compact.thread({ { segments = { { kind = "prose", text = "" } } } }) end)
    assert.has_error(function() compact.thread({ { segments = { { kind = "text" } } } }) end)
    assert.has_error(function() compact.thread({}, { budget = "big" }) end)
    assert.has_error(function() compact.thread({}, { budget = 0 }) end)
  end)

  it("takes a message's text when it has no segments, and an empty thread", function()
    local out = compact.thread({ { id = "a", text = "hello\n\n\n\nworld\n" } })
    assert.are.equal("hello\n\nworld\n", out.messages[1].text)
    local none = compact.thread({})
    assert.are.same({}, none.messages)
    assert.are.same({}, none.chunks)
    assert.are.equal(0, none.tokens)
  end)
end)

describe("compaction of the sample week", function()
  it("makes the patch series at least 4 times smaller, fast #timing", function()
    local raw, compacted, n = 0, 0, 0
    local t0 = os.clock()
    for _, t in ipairs(ctx.threads) do
      local out = compact.thread(prompt_msgs(t))
      if t.facts.series then
        raw, compacted, n = raw + out.raw_tokens, compacted + out.tokens, n + 1
      end
    end
    local elapsed = os.clock() - t0
    print(("\ncompact: %d patch-series threads, %d raw -> %d compacted tokens (%.2fx) in %.0f ms")
      :format(n, raw, compacted, raw / compacted, elapsed * 1000))
    assert.is_true(raw / compacted >= 4)
    -- well under 100 ms for the week; the sanitizer build is several times slower
    assert.is_true(elapsed < (H.build == "build" and 0.1 or 1.0), elapsed)
  end)
end)
