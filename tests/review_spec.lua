-- listdigest.review: trailers given in follow-ups, "applied" replies and the
-- review state of one report entry. Expectations come from reading the mail:
-- b4's own expected outputs for its samples (../shared/corpus/b4,
-- EXPECTATIONS.json, copied to tests/fixtures/review/) and real kvmarm weeks.
local review = require "listdigest.review"
local pipeline = require "listdigest.pipeline"
local subject = require "listdigest.subject"

local FIX = "tests/fixtures/review/"

-- Parsed threads of an mbox, as the pipeline builds them.
local function threads_of(path)
  local msgs, info = assert(pipeline.read(path))
  local threads = pipeline.threads(msgs)
  pipeline.parse_bodies(msgs, info)
  info.box:close()
  return threads
end

-- The one thread whose root (or first message) has this subject prefix.
local function find(threads, prefix)
  for _, t in ipairs(threads) do
    for _, m in ipairs(t.messages) do
      if m.subject:sub(1, #prefix) == prefix then return t end
    end
  end
  error("no thread " .. prefix)
end

local function analyse(path) return review.analyse(threads_of(path)[1].messages) end

-- A hand-made parsed message: its own text as one "text" segment unless
-- segments are given.
local T0 = 1700000000
local function msg(id, from, subj, parent, text, extra)
  local name, addr = from:match("^(.-)%s*<(.-)>$")
  local m = {
    message_id = id, from = from, from_name = name, from_addr = addr, subject = subj,
    subj = subject.parse(subj), parent_id = parent, in_reply_to = parent,
    references = parent and { parent } or {}, date = T0,
    segments = { { kind = "text", text = text or "" } },
  }
  for k, v in pairs(extra or {}) do m[k] = v end
  return m
end

local AUTHOR = "Patch Author <author@example.org>"
local REVIEWER = "Rita Reviewer <rita@example.org>"
local MAINT = "Marc Maintainer <maint@kernel.org>"

-- a two-patch series with a cover letter
local function series(...)
  local list = {
    msg("cover", AUTHOR, "[PATCH v2 0/2] KVM: arm64: Do things", nil, "Cover text.", { date = T0 }),
    msg("p1", AUTHOR, "[PATCH v2 1/2] KVM: arm64: Do one thing", "cover", "Body.\n",
        { segments = { { kind = "text", text = "Body." },
                       { kind = "trailer", text = "Signed-off-by: Patch Author <author@example.org>\nReviewed-by: Old Reviewer <old@example.org>" },
                       { kind = "diff", text = "diff --git a/x b/x\n" } } }),
    msg("p2", AUTHOR, "[PATCH v2 2/2] KVM: arm64: Do another thing", "cover", "Body.",
        { segments = { { kind = "text", text = "Body." }, { kind = "diff", text = "diff --git a/y b/y\n" } } }),
  }
  for _, m in ipairs({ ... }) do list[#list + 1] = m end
  return list
end

describe("review.trailer_lines", function()
  it("returns the five review kinds with name and address, written canonically", function()
    local t = review.trailer_lines(table.concat({
      "Reviewed-By: Andrew Jones <drjones@redhat.com>",
      "Acked-by: Will Deacon <will@kernel.org>",
      "Tested-by: Fuad Tabba <tabba@google.com>",
      "Reported-by: syzbot+abc@syzkaller.appspotmail.com",
      "Suggested-by: \"Last, First\" <first@example.org>",
      "Signed-off-by: Marc Zyngier <maz@kernel.org>",
      "Cc: stable@vger.kernel.org # 4.4",
      "Link: https://lore.kernel.org/r/x@y",
    }, "\n"))
    assert.same({
      { kind = "Reviewed-by", who = "Andrew Jones <drjones@redhat.com>", name = "Andrew Jones", addr = "drjones@redhat.com" },
      { kind = "Acked-by", who = "Will Deacon <will@kernel.org>", name = "Will Deacon", addr = "will@kernel.org" },
      { kind = "Tested-by", who = "Fuad Tabba <tabba@google.com>", name = "Fuad Tabba", addr = "tabba@google.com" },
      { kind = "Reported-by", who = "syzbot+abc@syzkaller.appspotmail.com", name = "syzbot+abc@syzkaller.appspotmail.com",
        addr = "syzbot+abc@syzkaller.appspotmail.com" },
      { kind = "Suggested-by", who = "Last, First <first@example.org>", name = "Last, First", addr = "first@example.org" },
    }, t)
  end)

  it("drops a trailing # comment and keeps names with parentheses or brackets", function()
    local t = review.trailer_lines("Acked-by: Will Deacon <will@kernel.org> # for arm64\n" ..
      "Tested-by: Followup Tester1 [corporate] <followup-tester1@example.com>")
    assert.equal("Will Deacon <will@kernel.org>", t[1].who)
    assert.equal("Followup Tester1 [corporate] <followup-tester1@example.com>", t[2].who)
  end)

  it("never reads quoted lines or prose that mentions a trailer", function()
    assert.same({}, review.trailer_lines("> Reviewed-by: Quoted Person <q@example.org>\n" ..
      "I'd add Reviewed-by: once this is fixed\nReviewed-by: nobody"))
  end)
end)

describe("review.analyse against b4's samples (expected trailers from b4's reference outputs)", function()
  it("single patch: nested replies count, a trailer naming another address than the sender does not", function()
    local r = analyse(FIX .. "trailers-followup-single.mbox")
    assert.same({ "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>",
                  "Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>" },
                review.for_patch(r, "orig-message@example.com"))
    -- fwup-message-2 answers fwup-message-1, which answers the patch
    assert.equal("fwup-message-2@example.com", r.trailers[2].by_id)
    assert.equal("orig-message@example.com", r.trailers[2].on_id)
    assert.equal("patch", r.trailers[2].scope)
    assert.equal(1, #r.mismatched)
    assert.equal("Mismatched Reviewer1 <mismatched-reviewer1@example.net>", r.mismatched[1].who)
    assert.same({ reviewed_by = 1, acked_by = 0, tested_by = 1, reported_by = 0, suggested_by = 0 }, r.counts)
    assert.equal("reviewed", r.state)
  end)

  it("custody: the author's own Reviewed-by/Suggested-by in the patch are not follow-up trailers", function()
    local r = analyse(FIX .. "trailers-followup-custody.mbox")
    assert.same({ "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>",
                  "Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>" },
                review.for_patch(r, "orig-message@example.com"))
    assert.equal(0, r.counts.suggested_by)
    assert.same({ "Followup Reviewer1 <followup-reviewer1@example.com>" }, r.reviewed_by)
  end)

  it("name-parens: names with (comment), [comment] and 'Last, First' are kept as written", function()
    local r = analyse(FIX .. "trailers-followup-name-parens.mbox")
    assert.same({
      "Reviewed-by: Followup Reviewer1 (corporate) <followup-reviewer1@example.com>",
      "Tested-by: Followup Reviewer2 <followup-reviewer2@example.com>",
      "Tested-by: Followup Tester1 [corporate] <followup-tester1@example.com>",
      "Tested-by: Tester2, Followup <followup-tester2@example.com>",
    }, review.for_patch(r, "orig-message@example.com"))
  end)

  it("nore: a follow-up that lost its Re: (same subject as the patch it answers) is still a follow-up", function()
    local r = analyse(FIX .. "trailers-followup-nore.mbox")
    assert.same({ "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>" },
                review.for_patch(r, "orig-message@example.com"))
  end)

  it("with-cover: a reply to the cover letter applies to every patch (scope series)", function()
    local r = analyse(FIX .. "trailers-followup-with-cover.mbox")
    assert.same({ "Reviewed-by: Coverletter Reviewer1 <followup-reviewer1@example.com>" },
                review.for_patch(r, "patch-1-message@example.com"))
    assert.same({ "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>",
                  "Reviewed-by: Coverletter Reviewer1 <followup-reviewer1@example.com>" },
                review.for_patch(r, "patch-2-message@example.com"))
    local cover = r.trailers[2]
    assert.same({ "series", 0, "cover-message@example.com", "fwup-message-2@example.com" },
                { cover.scope, cover.on_n, cover.on_id, cover.by_id })
    assert.equal(2, r.counts.reviewed_by)
    -- one person (one address) under two spellings: listed once
    assert.same({ "Followup Reviewer1 <followup-reviewer1@example.com>" }, r.reviewed_by)
  end)

  it("partial re-roll: v2 2/2's Reviewed-by stays on v2 2/2; the re-rolled v3 2/2 gets only the cover's", function()
    local r = analyse(FIX .. "trailers-followup-partial-reroll.mbox")
    assert.same({ "Reviewed-by: Coverletter Reviewer1 <followup-reviewer1@example.com>" },
                review.for_patch(r, "patch-1-message@example.com"))
    assert.same({ "Reviewed-by: Coverletter Reviewer1 <followup-reviewer1@example.com>" },
                review.for_patch(r, "patch-v3-2-message@example.com"))
    assert.same({ "Reviewed-by: Followup Reviewer1 <followup-reviewer1@example.com>",
                  "Reviewed-by: Coverletter Reviewer1 <followup-reviewer1@example.com>" },
                review.for_patch(r, "patch-2-message@example.com"))
    assert.equal(2, r.trailers[1].on_version)
  end)

  it("thread with follow-ups: only patch 4/4 was reviewed", function()
    local r = analyse(FIX .. "trailers-thread-with-followups.mbox")
    local id = "20221025-test1-v1-%d-e4f28f57990c@linuxfoundation.org"
    assert.same({ "Reviewed-by: Follow Upper <follow.upper@example.org>" }, review.for_patch(r, id:format(4)))
    for n = 1, 3 do assert.same({}, review.for_patch(r, id:format(n))) end
    assert.equal(4, r.trailers[1].on_n)
  end)

  it("a series nobody answered is new; the author's Signed-off-by lines never count", function()
    local r = analyse(FIX .. "naked-cover-single.mbox")
    assert.same({}, r.trailers)
    assert.equal("new", r.state)
    assert.is_nil(r.applied)
  end)
end)

describe("review.analyse on kvmarm 2021-W11", function()
  local threads = threads_of("tests/fixtures/mbox/kvmarm-2021-W11.mbox.gz")

  it("kvm-unit-tests: Andrew Jones' \"Applied to arm/queue\" on the cover", function()
    local r = review.analyse(find(threads, "Re: [kvm-unit-tests PATCH v4 00/11] GIC fixes").messages)
    assert.equal("applied", r.state)
    assert.equal("arm/queue", r.applied.where)
    assert.equal("Andrew Jones <drjones@redhat.com>", r.applied.by)
    assert.equal("20210315175711.qs3ksosr7smtjgs6@kamzik.brq.redhat.com", r.applied.id)
    assert.same({}, r.applied.commits)
  end)

  it("kvmtool: \"Applied to kvmtool (master), thanks!\" with the 22 commit ids, and Alexandru's Reviewed-by on 13, 20, 21", function()
    local r = review.analyse(find(threads, "[PATCH kvmtool v3 00/22] Unify I/O port").messages)
    assert.equal("applied", r.state)
    assert.equal("kvmtool (master)", r.applied.where)
    assert.equal("Applied to kvmtool (master), thanks!", r.applied.text)
    assert.equal("Will Deacon <will@kernel.org>", r.applied.by)
    assert.equal(22, #r.applied.commits)
    assert.equal("97531eb2ca70", r.applied.commits[1])
    assert.equal("a81be31eee6e", r.applied.commits[2])
    local on = {}
    for _, tr in ipairs(r.trailers) do
      assert.equal("Reviewed-by", tr.kind)
      assert.equal("Alexandru Elisei <alexandru.elisei@arm.com>", tr.who)
      on[#on + 1] = tr.on_n
    end
    assert.same({ 13, 20, 21 }, on)
  end)

  it("stable: \"Queued up everywhere else\"; the stable bot's copies of the patch's trailers are not reviews", function()
    local r = review.analyse(find(threads, "[PATCH][stable-4.{4, 9, 14, 19}]").messages)
    assert.equal("applied", r.state)
    assert.equal("Greg KH <gregkh@linuxfoundation.org>", r.applied.by)
    assert.equal("Queued up everywhere else, and also the other backports you sent, thanks.", r.applied.text)
    assert.is_nil(r.applied.where)
    assert.equal(0, r.counts.reviewed_by)
    assert.is_true(#r.mismatched > 0)
  end)

  it("stable bot: 'Patch \"...\" has been added to the 4.4-stable tree' is applied there", function()
    local r = review.analyse(find(threads, "[PATCH][stable-4.{4,9}]").messages)
    assert.equal("applied", r.state)
    assert.equal("4.4-stable", r.applied.where)
  end)

  it("the author's own \"Applied on 5.12-rc3\" in his patch mail is not applied; Will's Acked-by is", function()
    local r = review.analyse(find(threads, "[PATCH] KVM: arm64: Update comment for parameter rename").messages)
    assert.is_nil(r.applied)
    assert.equal("acked", r.state)
    assert.same({ "Will Deacon <will@kernel.org>" }, r.acked_by)
  end)

  it("SVE on nVHE v2: Will's Acked-by on 5,6,7,9,10, Mark Brown's Reviewed-by on 5 and the cover; the author's inline fix is not a Reported-by", function()
    local r = review.analyse(find(threads, "[PATCH v2 00/11] KVM: arm64: Enable SVE support on nVHE").messages)
    local acks, revs = {}, {}
    for _, tr in ipairs(r.trailers) do
      if tr.kind == "Acked-by" then acks[#acks + 1] = tr.on_n end
      if tr.kind == "Reviewed-by" then revs[#revs + 1] = tr.on_n .. ":" .. tr.scope end
    end
    table.sort(acks)
    table.sort(revs)
    assert.same({ 5, 6, 7, 9, 10 }, acks)
    assert.same({ "0:series", "5:patch" }, revs)
    assert.same({ "Mark Brown <broonie@kernel.org>" }, r.reviewed_by)
    assert.equal(0, r.counts.reported_by)
    assert.equal("acked", r.state)
  end)

  it("over the week, follow-ups give 19 Acked-by, 6 Reviewed-by and 4 Tested-by (cross-checked with the facts table)", function()
    local total = { acked_by = 0, reviewed_by = 0, tested_by = 0 }
    for _, t in ipairs(threads) do
      local r = review.analyse(t.messages)
      for k in pairs(total) do total[k] = total[k] + r.counts[k] end
    end
    assert.same({ acked_by = 19, reviewed_by = 6, tested_by = 4 }, total)
  end)
end)

describe("review.analyse on kvmarm 2022-W04 and W49", function()
  local threads = threads_of("examples/kvmarm-2022-W04.mbox")

  it("Fuad Tabba's Tested-by and Reviewed-by on v2 1/3..3/3 (cover not in the week)", function()
    local r = review.analyse(find(threads, "Re: [PATCH v2 0/3] ARM64: Guest performance improvement during dirty").messages)
    local got = {}
    for _, tr in ipairs(r.trailers) do got[#got + 1] = tr.kind .. " " .. tr.on_n .. " " .. tr.scope end
    table.sort(got)
    assert.same({ "Reviewed-by 1 patch", "Reviewed-by 2 patch", "Reviewed-by 3 patch",
                  "Tested-by 1 patch", "Tested-by 2 patch", "Tested-by 3 patch" }, got)
    assert.equal("20220118015703.3630552-2-jingzhangos@google.com", r.trailers[1].on_id)
    assert.same({ "Fuad Tabba <tabba@google.com>" }, r.tested_by)
    assert.equal("reviewed", r.state)
  end)

  it("vgic_irq v2: Andrew Jones reviewed patches 1, 2, 4 and 5, not 3", function()
    local r = review.analyse(find(threads, "[PATCH v2 0/5] kvm: selftests: aarch64: some fixes for vgic_irq").messages)
    local on = {}
    for _, tr in ipairs(r.trailers) do on[#on + 1] = tr.on_n end
    assert.same({ 1, 2, 4, 5 }, on)
    assert.same({ "Andrew Jones <drjones@redhat.com>" }, r.reviewed_by)
  end)

  it("the GIT PULL answered \"Pulled, thanks.\" is pulled, not applied", function()
    local r = review.analyse(find(threads, "[GIT PULL] KVM/arm64 fixes for 5.17, take #1").messages)
    assert.is_nil(r.applied)
    assert.equal("Pulled, thanks.", r.pulled.text)
    assert.equal("Paolo Bonzini <pbonzini@redhat.com>", r.pulled.by)
    assert.equal("under review", r.state)
  end)

  it("Andrew Jones' \"Please use 'print_skip'\" on v2 asks for changes; v3 is reviewed and tested", function()
    local r = review.analyse(find(threads, "[PATCH v2] kselftest: kvm/arm64: Skip tests").messages)
    assert.equal("changes requested", r.state)
    assert.matches("Please use 'print_skip'", r.state_why, 1, true)
    r = review.analyse(find(threads, "[PATCH v3] kselftest: kvm/arm64: Skip tests").messages)
    assert.equal("reviewed", r.state)
    assert.same({ "Andrew Jones <drjones@redhat.com>", "Shuah Khan <skhan@linuxfoundation.org>" }, r.reviewed_by)
    assert.same({ "Ricardo Koller <ricarkol@google.com>" }, r.tested_by)
  end)

  it("v1 of that patch, reviewed, is \"superseded\" once the pipeline knows a newer version", function()
    local t = find(threads, "[PATCH] kselftest: kvm/arm64: Skip tests")
    assert.equal("reviewed", review.analyse(t.messages).state)
    local r = review.analyse(t.messages, { superseded_by = { version = 3, id = "v3@x", date = 1643210000 } })
    assert.equal("superseded", r.state)
    assert.equal("superseded by v3 <v3@x> of 2022-01-26", r.state_why)
    assert.same({ version = 3, message_id = "v3@x", date = 1643210000 }, r.superseded_by)
  end)

  it("W49: \"Applied to next, thanks!\" with the commit id from b4's thank-you; before it, under review", function()
    local msgs = threads_of(FIX .. "kvmarm-2022-W49-va-bits.mbox")[1].messages
    local r = review.analyse(msgs)
    assert.equal("applied", r.state)
    assert.equal("next", r.applied.where)
    assert.same({ "219072c09abde0f1d0a6ce091be375e8eb7d08f0" }, r.applied.commits)
    local before = {}
    for _, m in ipairs(msgs) do
      if not m.message_id:find("b4-ty", 1, true) then before[#before + 1] = m end
    end
    assert.equal("under review", review.analyse(before).state)
  end)
end)

describe("review.analyse: applied detection", function()
  local function applied(text, from, extra)
    return review.analyse(series(msg("r1", from or MAINT, "Re: [PATCH v2 0/2] KVM: arm64: Do things", "cover", text,
                                     extra)), extra and extra.opts)
  end

  it("recognises maintainers' wordings, with where when given", function()
    local cases = {
      { "Applied to kvmarm/next, thanks!", "kvmarm/next" },
      { "Applied to fixes.", "fixes" },
      { "Thanks, applied.", nil },
      { "Applied, thanks!", nil },
      { "Queued, thanks.", nil },
      { "Queued for 5.13.", "5.13" },
      { "Pushed to kvmarm/next.", "kvmarm/next" },
      { "Picked up into kvm-arm64/misc, thanks.", "kvm-arm64/misc" },
      { "Merged into kvmarm/next", "kvmarm/next" },
      { "Applied the series to kvm-x86 irqs, thanks!", "kvm-x86 irqs" },
    }
    for _, c in ipairs(cases) do
      local r = applied("Hi,\n\n" .. c[1] .. "\n\nM.")
      assert.is_table(r.applied, c[1])
      assert.equal(c[2], r.applied.where, c[1])
      assert.equal(c[1], r.applied.text)
      assert.equal("applied", r.state)
    end
  end)

  it("patchwork-bot: \"This series was applied to <tree> (<branch>)\" and the applier from the next line", function()
    local r = applied("Hello:\n\nThis series was applied to riscv/linux.git (for-next)\n" ..
      "by Palmer Dabbelt <palmer@rivosinc.com>:\n\nOn Mon, ... you wrote:\n" ..
      "Here is the summary with links:\n  - [v2,1/2] KVM: arm64: Do one thing\n" ..
      "    https://git.kernel.org/riscv/c/0123456789ab\n", "patchwork-bot+linux-riscv@kernel.org <patchwork-bot+linux-riscv@kernel.org>")
    assert.equal("riscv/linux.git (for-next)", r.applied.where)
    assert.equal("Palmer Dabbelt <palmer@rivosinc.com>", r.applied.by)
    assert.same({ "0123456789ab" }, r.applied.commits)
  end)

  it("collects commit ids of b4's thank-you list", function()
    local r = applied("Applied to next, thanks!\n\n[1/2] KVM: arm64: Do one thing\n      commit: 1234567890abcdef\n" ..
      "[2/2] KVM: arm64: Do another thing\n      commit: fedcba0987654321\n\nCheers,\n\n\tM.")
    assert.same({ "1234567890abcdef", "fedcba0987654321" }, r.applied.commits)
  end)

  it("is not fooled by testers, questions, quotes or the author's own branch", function()
    for _, text in ipairs({
      "Applied on top of v5.17-rc1, I see a splat at boot.",
      "Applied this series and tested it on my Juno, works fine.",
      "Applied locally, no conflicts.",
      "Applied to v5.16 and it fails to build.",
      "Has this been applied to kvmarm/next?",
      "I think the fix should be applied to the other callers too.",
    }) do
      assert.is_nil(applied(text, REVIEWER).applied, text)
    end
    local quoted = applied("", REVIEWER, { segments = { { kind = "quote", text = "> Applied to next, thanks!" },
                                                      { kind = "text", text = "Is this in -rc3?" } } })
    assert.is_nil(quoted.applied)
    -- an author who maintains the tree applies their own patch; their
    -- pushes and picks are about their own branch
    assert.equal("kvmarm/next", applied("Applied to kvmarm/next, thanks!", AUTHOR).applied.where)
    assert.is_nil(applied("Pushed to my branch, thanks.", AUTHOR).applied)
  end)

  it("reads own text from msg.text when a message has no segments, skipping '>' lines and the signature", function()
    local m = msg("r1", MAINT, "Re: [PATCH v2 0/2] KVM: arm64: Do things", "cover", nil)
    m.segments = nil
    m.text = "> Applied to old, thanks\nThanks, applied to fixes.\n-- \nApplied to sig"
    local r = review.analyse(series(m))
    assert.equal("Thanks, applied to fixes.", r.applied.text)
    assert.equal("fixes", r.applied.where)
  end)

  it("takes extra patterns from the rules (a capture is where); a bad pattern raises", function()
    local r = review.analyse(series(msg("r1", MAINT, "Re: [PATCH v2 0/2] x", "cover", "Landed in kvmarm-6.9, ta.")),
      { applied_patterns = { "^Landed in ([%w%.%-/]+)" } })
    assert.equal("kvmarm-6.9", r.applied.where)
    assert.has_error(function() review.analyse(series(), { applied_patterns = { "(" } }) end)
  end)
end)

describe("review.analyse: review state", function()
  local function reply(id, from, parent, text, date)
    local subj = parent == "p1" and "Re: [PATCH v2 1/2] KVM: arm64: Do one thing" or "Re: [PATCH v2 0/2] KVM: arm64: Do things"
    return msg(id, from, subj, parent, text, { date = date or T0 + 10 })
  end

  it("is new without replies, under review with a reply from someone else", function()
    assert.equal("new", review.analyse(series()).state)
    assert.equal("new", review.analyse(series(reply("a1", AUTHOR, "cover", "Ping?"))).state)
    local r = review.analyse(series(reply("r1", REVIEWER, "p1", "Looks sane, one question: why 42?")))
    assert.equal("under review", r.state)
    assert.matches("Rita Reviewer", r.state_why, 1, true)
  end)

  it("is reviewed with a Reviewed-by, acked with an Acked-by (acked wins)", function()
    local rb = reply("r1", REVIEWER, "p1", "Reviewed-by: Rita Reviewer <rita@example.org>")
    assert.equal("reviewed", review.analyse(series(rb)).state)
    local ab = reply("r2", MAINT, "cover", "Acked-by: Marc Maintainer <maint@kernel.org>")
    local r = review.analyse(series(rb, ab))
    assert.equal("acked", r.state)
    assert.same({ reviewed_by = 1, acked_by = 1, tested_by = 0, reported_by = 0, suggested_by = 0 }, r.counts)
  end)

  it("is changes requested on a reviewer's request, until the same reviewer gives a trailer later", function()
    local ask = reply("r1", REVIEWER, "p1", "Please drop the IS_ENABLED(). We avoid conditional code here.", T0 + 10)
    local r = review.analyse(series(ask))
    assert.equal("changes requested", r.state)
    assert.matches("Please drop the IS_ENABLED", r.state_why, 1, true)
    local ok = reply("r2", REVIEWER, "p1", "Reviewed-by: Rita Reviewer <rita@example.org>", T0 + 20)
    assert.equal("reviewed", review.analyse(series(ask, ok)).state)
    -- a Reviewed-by given before the request does not answer it
    local early = reply("r0", REVIEWER, "p1", "Reviewed-by: Rita Reviewer <rita@example.org>", T0 + 5)
    assert.equal("changes requested", review.analyse(series(early, ask)).state)
  end)

  it("reads NAK, Nacked-by and 'can you please ...' as requests, but not the author's or a reviewer's own correction", function()
    for _, text in ipairs({ "NAK.", "Nacked-by: Rita Reviewer <rita@example.org>",
                            "Can you please split this into two patches?", "This needs a comment." }) do
      assert.equal("changes requested", review.analyse(series(reply("r1", REVIEWER, "p1", text))).state, text)
    end
    assert.equal("new", review.analyse(series(reply("a1", AUTHOR, "p1", "Please fix the typo, I will."))).state)
    assert.equal("under review",
      review.analyse(series(reply("r1", REVIEWER, "p1", "Please fix me up if I've mis-read things here."))).state)
  end)

  it("is applied above everything, and superseded above any review when a newer version exists", function()
    local newer = { superseded_by = { version = 3, id = "v3@x" } }
    local ask = reply("r1", REVIEWER, "p1", "NAK")
    local app = reply("r2", MAINT, "cover", "Applied to kvmarm/next, thanks!", T0 + 30)
    assert.equal("applied", review.analyse(series(ask, app), newer).state)
    local r = review.analyse(series(reply("r3", REVIEWER, "p1", "Reviewed-by: Rita Reviewer <rita@example.org>")),
      newer)
    assert.equal("superseded", r.state)
    assert.equal("superseded by v3 <v3@x> of unknown date", r.state_why)
  end)

  it("is pulled or not yet pulled on a pull request, whatever the verb", function()
    local pr = { msg("pr", MAINT, "[GIT PULL] KVM/arm64 fixes", nil, "Please pull.") }
    assert.equal("not yet pulled", review.analyse(pr, { pull = true }).state)
    pr[2] = msg("r1", "Paolo <pbonzini@redhat.com>", "Re: [GIT PULL] KVM/arm64 fixes", "pr", "Merged, thanks.")
    local r = review.analyse(pr, { pull = true })
    assert.equal("pulled", r.state)
    assert.equal("Merged, thanks.", r.pulled.text)
    assert.is_nil(r.applied)
  end)

  it("does not count trailers in the author's follow-ups or in quotes", function()
    local own = reply("a1", AUTHOR, "p1", "Reviewed-by: Rita Reviewer <rita@example.org>")
    local quoted = reply("r1", REVIEWER, "p1", "")
    quoted.segments = { { kind = "quote", text = "> Reviewed-by: Rita Reviewer <rita@example.org>" } }
    local r = review.analyse(series(own, quoted))
    assert.same({}, r.trailers)
    assert.equal("under review", r.state)
  end)
end)
