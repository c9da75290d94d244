-- What a reply says happened to the patch or pull request it answers:
-- applied (or queued, picked up, merged, pushed) to a tree, or pulled. One
-- sentence at a time, from the reply's own text (quoted lines are context,
-- never evidence). Pure Lua over strings and parsed messages; the labelled
-- set in tests/fixtures/outcome/ measures it (tests/outcome_spec.lua).
local M = {}

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

---------------------------------------------------------------------------
-- Sentences
---------------------------------------------------------------------------

-- Whether the line prev, followed by next, was ended by its writer:
-- sentence punctuation, or a line well short of the ~72 columns mail is
-- wrapped at ("Hi Marc,", "[1/2] title") followed by one that starts with
-- a capital, a digit or a bracket. "... the prefix being" followed by
-- "applied to the symbols." is one wrapped sentence.
local function ended(prev, next)
  if prev:match("[.!?:]%s*$") then return true end
  return #prev <= 40 and next:match("^%s*[%u%d%[%(]") ~= nil
end

-- Splits a sentence-joined paragraph at ". " / "! " / "? " followed by a
-- capital, a digit or an opening bracket; never inside "v5.5", "a.b" or a URL.
local function split_sentences(par, out)
  local start = 1
  local i = 1
  while true do
    local s, e = par:find("[.!?]+%s+", i)
    if not s then break end
    local nextc = par:sub(e + 1, e + 1)
    if nextc:match("[%u%d%[%(\"']") then
      local sent = trim(par:sub(start, e))
      if sent ~= "" then out[#out + 1] = sent end
      start = e + 1
    end
    i = e + 1
  end
  local rest = trim(par:sub(start))
  if rest ~= "" then out[#out + 1] = rest end
end

--[[
sentences(text) -> { sentence, ... }

The sentences of a reply's own text: paragraphs (blank-line separated) are
joined across wrapped lines and cut at sentence ends. A line that is a list
item ("[1/2] ...", "- ...") or that follows a line ended by its writer
(see ended) starts a new sentence, so "Hi Marc,\nApplied to next." gives
two.
]]
function M.sentences(text)
  local out = {}
  local par = {}
  local function flush()
    if #par > 0 then split_sentences(table.concat(par, " "), out) end
    par = {}
  end
  for line in ((text or "") .. "\n"):gmatch("([^\n]*)\n") do
    local l = trim(line)
    if l == "" then
      flush()
    else
      if #par > 0 and (l:match("^%[%d+/%d+%]") or l:match("^[-*]%s") or ended(par[#par], l)) then flush() end
      par[#par + 1] = l
    end
  end
  flush()
  return out
end

---------------------------------------------------------------------------
-- One sentence
---------------------------------------------------------------------------

local function set(words)
  local t = {}
  for w in words:gmatch("%S+") do t[w] = true end
  return t
end

-- Verbs that report an outcome, in the past tense (the present, "apply",
-- the gerund and the infinitive never state one).
local VERBS = {
  applied = "applied", queued = "queued", pushed = "pushed", picked = "picked", merged = "merged",
  pulled = "pulled", taken = "taken", took = "taken", squashed = "squashed", staged = "staged", put = "put",
}
-- Verbs too common to stand alone: they report only with a target that
-- names a branch or tree ("I put it back on my for-next branch").
local WEAK = set "put"
local BRANCHY = { "/", "next", "branch", "tree", "queue", "fixes", "master", "main", "%-rc", "stable" }
local PROGRESSIVE = {
  applying = "applied", queuing = "queued", queueing = "queued", pushing = "pushed", picking = "picked",
  merging = "merged", pulling = "pulled", taking = "taken",
}
-- Verbs that, said by the author of the patch, are about their own tree
-- ("Updated version pushed out", "I've picked up your tags"), not an outcome.
local AUTHOR_VERBS = set "applied queued merged"

-- Whole words that make a clause something other than a report of what
-- happened: the future, a condition, a modal, a negation, a tester's words.
-- Words inside parentheses, quotes and names ("for-next/boot",
-- "kvm-arm64/selftests") are not read.
-- MOOD words count in their own clause ("Queued 1-7, will be on kvm/next
-- tomorrow" reports), TESTER words in the whole sentence ("I applied the
-- series, and tested it" does not).
local MOOD = set [[if once when whenever unless until since because before without although though
  will would could can should may might must shall going plan planning intend wanted want wish please
  not no never cannot anyone somebody someone whoever whether]]
local TESTER = set [[failed fails fail locally cleanly tested testing build builds built boot boots
  booted top conflict conflicts]]

-- Interjections before the verb: "OK, queued.", "Thanks, applied.".
local LEAD = set [[ok okay great good sure yes yep yeah right fine cool nice alright so and now thanks
  thank you thx cheers hi hello all also just finally then both provisionally for]]

-- Between "I" / "we" and the verb: "I have now provisionally applied".
local WE = set "i we i've we've i'd we'd"
local WE_FILL = set "have had now just already provisionally also finally manually actually"

-- What a verb may take before its target: "Applied the series to",
-- "Queued patches 1-5 for", "Applied the first patch only to".
local OBJECT = set [[it this that them these those the series patch patches patchset fix fixes both all up
  now entire whole first second last one two three four five six seven eight nine ten version revision
  only change changes commit commits here too remaining rest of lot everything and cleanup cleanups
  backport backports test tests selftest selftests update updates bits part parts ones]]
-- Adverbs after the verb that leave it a report: "Pushed out.", "Queued up
-- everywhere else", "merged long ago".
local AFTER = set [[out already manually separately everywhere else again locally long ago earlier
  today yesterday meanwhile anyway]]
local TARGET = set "to into on in for as through via"

-- Auxiliaries of a passive report: "has been merged", "were picked up",
-- "now queued"; "is" / "are" only with "now" or "already" ("is queued to
-- the vCPU" describes code).
local AUX = set "has have had been was were got now already also all"
local DETERMINER = set "the this these those all both your my his her our their"

-- Blanks "(...)" and "[...]" groups and quoted strings out of s, keeping
-- every other byte where it was.
local function blank(m) return (" "):rep(#m) end
local function strip_groups(s)
  return (s:gsub("%b()", blank):gsub("%b[]", blank):gsub('%b""', blank):gsub("%b``", blank))
end

-- The target after the verb: "to kvmarm/next, thanks!" -> "kvmarm/next";
-- "to arm64 (for-next/boot), thanks!" -> "arm64 (for-next/boot)"; at most
-- M.WHERE_MAX bytes, else nil (a branch name is never that long).
M.WHERE_MAX = 80
local function clean_where(s)
  if not s then return nil end
  -- keep "(name)" but not "(tested on both ...)"
  local out = s:gsub("%s*(%b())", function(g) if g:find("%s") then return "" end end)
  out = out:match("^%s*(.-)%s*[,;!]") or out
  for _, cut in ipairs({ "%s+[Tt]hanks?%f[%A].*$", "%s+[Tt]hank you.*$", "%s+%-%-?%s.*$", "%s+with%s.*$",
                         "%s+by%s+%u.*$", "%s+after%s.*$", "%s+in order%s.*$", "%s+so that%s.*$",
                         "%s+as well.*$", "%s+and%s.*$" }) do
    out = out:gsub(cut, "")
  end
  out = trim(out):gsub("[.:]+$", "")
  out = trim(out)
  if out == "" or #out > M.WHERE_MAX then return nil end
  return out
end

-- Lower-case words of s, with their positions in s; stop = a clause ends
-- after the word ("Picked up, I'm hoping ...").
local function words(s)
  local out = {}
  for pos, w, e in s:gmatch("()([%w'%-/%.+_:?=&;~]+)()") do
    local bare = w:lower():gsub("[.:]+$", "")
    out[#out + 1] = { w = bare, pos = pos, e = e,
                      stop = #bare < #w or s:match("^%s*[,;:!]", e) ~= nil }
  end
  return out
end

local function vetoed(s, words_set)
  for _, w in ipairs(words(strip_groups(s))) do
    if words_set[w.w] or (words_set == MOOD and (w.w:match("n't$") or w.w:match("'ll$"))) then return w.w end
  end
  if s:find("?%s") or s:find("?$") then return "?" end
  return nil
end

-- Where the verb of a clause is: after interjections and "I have", or
-- after the subject of a passive ("All 7 patches applied", "The series has
-- been merged"). Returns its index in ws and the form, or nil.
local function find_verb(ws)
  local i = 1
  while ws[i] and LEAD[ws[i].w] do i = i + 1 end
  if not ws[i] then return nil end
  if VERBS[ws[i].w] then return i, "verb" end
  -- "These I've queued to arm/mttcg"
  local t = i
  while ws[t] and OBJECT[ws[t].w] and not ws[t].stop do t = t + 1 end
  if ws[t] and WE[ws[t].w] then
    i = t + 1
    while ws[i] and WE_FILL[ws[i].w] do i = i + 1 end
    if ws[i] and VERBS[ws[i].w] then return i, "we" end
    -- "I am queuing it to kvm/next": a report of what is being done
    if ws[i] and (ws[i].w == "am" or ws[i].w == "are") and ws[i + 1] and PROGRESSIVE[ws[i + 1].w] then
      return i + 1, "we"
    end
    return nil
  end
  -- subject words: object words and numbers ("all 7 patches", "this"),
  -- then "is" / "are" or an auxiliary; or a determiner and at most three
  -- words ("The KVM patches") with an auxiliary that is not "is" / "are"
  -- ("The object is queued to the vCPU" describes code)
  local j = i
  while ws[j] and (OBJECT[ws[j].w] or ws[j].w:match("^%d+$")) and not ws[j].stop do j = j + 1 end
  if j > i and ws[j] then
    local k = j
    if ws[k].w == "is" or ws[k].w == "are" then k = k + 1 end
    while ws[k] and AUX[ws[k].w] do k = k + 1 end
    if ws[k] and VERBS[ws[k].w] then return k, "passive" end
  end
  if DETERMINER[ws[i].w] then
    j = i + 1
    while ws[j] and j <= i + 3 and not AUX[ws[j].w] and not VERBS[ws[j].w] and not ws[j - 1].stop
        and ws[j].w ~= "which" and ws[j].w ~= "that" and ws[j].w ~= "who" do
      j = j + 1
    end
    local k = j
    while ws[k] and AUX[ws[k].w] do k = k + 1 end
    if k > j and ws[k] and VERBS[ws[k].w] then return k, "passive" end
  end
  return nil
end

-- One clause (see M.sentence); s is the clause, up to its end.
local function clause(s, ctx)
  s = s:gsub("^%s*[-*]%s+", "")
  local ws = words(strip_groups(s))
  local i, form = find_verb(ws)
  if not i then return nil end
  local verb = VERBS[ws[i].w] or PROGRESSIVE[ws[i].w]
  if ctx.by_author and not AUTHOR_VERBS[verb] then return nil end
  local j = i + 1
  local numbered = false
  if not ws[i].stop then
    -- "pushed back" is a refusal; "put it back on X" is not
    while ws[j] and (OBJECT[ws[j].w] or AFTER[ws[j].w] or ws[j].w:match("^[%d,+%-]+$")
        or (WEAK[verb] and ws[j].w == "back")) do
      if ws[j].w:match("%d") then numbered = true end
      j = j + 1
      if ws[j - 1].stop then break end
    end
  end
  local nxt, where = ws[j], nil
  if verb == "pulled" and nxt and nxt.w == "in" and j == i + 1 then
    return nil -- "pulled in more fixes"
  end
  if ws[j - 1].stop or not nxt then
    where = nil
  elseif TARGET[nxt.w] then
    local rest = s:sub(nxt.e)
    if nxt.w == "as" then rest = rest:gsub("^%s*%a+%s+for%s+", "") end
    where = clean_where(rest)
  elseif not (nxt.w == "thanks" or nxt.w == "thank" or nxt.w == "with") then
    -- "applied the fix to the vgic code" reads as prose: after the verb
    -- and its object only a target, thanks or "with" make a report
    return nil
  end
  if where and (where:lower():match("^the symbols?") or where:lower():match("^the %a+ code")
      or where:match("^v%d+$")) then
    -- prose, or "picked up the fix for v3": the author's next version
    return nil
  end
  if WEAK[verb] then
    local branchy = false
    for _, p in ipairs(BRANCHY) do
      if where and where:lower():find(p) then branchy = true end
    end
    if not branchy then return nil end
  end
  -- on a pull request, "applied 3-4" is about some patches, not the pull
  if ctx.pull and numbered then return nil end
  local kind = (ctx.pull or verb == "pulled") and "pulled" or "applied"
  return { kind = kind, verb = verb, where = where, form = form }
end

-- Where clauses start (after ", ", "; ", " and ", " -- ") and where the
-- scope of their veto words ends (", but", "; ", " -- "): "I've applied
-- this, but it would be worth ..." reports; "I applied the series and
-- tested it" does not.
local function clause_starts(s)
  local starts = { 1 }
  for at in s:gmatch("[,;]%s+()") do starts[#starts + 1] = at end
  for at in s:gmatch("%sand%s+()") do starts[#starts + 1] = at end
  for at in s:gmatch("%s%-%-?%s+()") do starts[#starts + 1] = at end
  table.sort(starts)
  return starts
end

local function scope_end(s, from, pats)
  local best = #s
  for _, pat in ipairs(pats) do
    local at = s:find(pat, from)
    if at and at - 1 < best then best = at - 1 end
  end
  return best
end
local SENTENCE_SCOPE = { ",%s*but%s", ";%s", "%s%-%-?%s" }
-- a relative clause is another clause too: "queued to X with a change
-- that can also run under kvm"
local CLAUSE_SCOPE = { ",%s", ";%s", "%s%-%-?%s", "%sbut%s", "%sthat%s", "%swhich%s", "%swho%s" }

--[[
sentence(s, ctx) -> nil | { kind = "applied"|"pulled", verb =, where =, form = }

Whether one sentence of a reply's own text reports that the patch (or
pull request) it answers was applied, queued, picked up, merged, pushed,
taken, staged, squashed, or pulled. ctx (optional):
  by_author = the sender wrote the patch answered (only applied / queued /
              merged count then: an author's "pushed" is their own tree)
  pull      = the entry is a pull request (every verb then means pulled, and
              a verdict on numbered patches, "applied 3-4", is none)
Forms (case-insensitive, interjections such as "OK," or "Thanks," first),
in the sentence or in one of its clauses:
  verb first           "Applied to next, thanks!", "Queued patches 1-5.",
                       "Picked up.", "Queued as fixes for v5.5"
  I / we               "I have provisionally applied this to kvmarm/next",
                       "I've just pushed that to -next", "I applied it manually"
  passive              "Series applied", "All 7 patches applied!", "Patch
                       applied.", "The series has been merged into X", "now
                       queued up"
  bots                 patchwork-bot's "This series was applied to X",
                       pr-tracker-bot's "... has been merged into torvalds/linux.git",
                       the stable queue's "... can be found in the queue-5.10
                       subdirectory"
After the verb and its object come only a target ("to X", "into X", "on
X", "for 5.12"), thanks, "with ...", or the end: "applied to the symbols"
and "applied the fix to the vgic code" are prose. No clause reports with a
veto word (VETO: the future, modals, conditions, negations, testers'
words) or a question mark between its start and its end (", but", "; ",
" -- " or the sentence's end).
]]
function M.sentence(s, ctx)
  ctx = ctx or {}
  local low = s:lower()
  -- bots first: their sentences carry "by Name", "you sent on", "can be found"
  local pw = low:match("^this series was applied to ()") or low:match("^this patch was applied to ()")
  if pw then
    return { kind = ctx.pull and "pulled" or "applied", verb = "applied", form = "bot",
             where = clean_where(s:sub(pw):gsub(":%s*$", "")) }
  end
  local pr = low:match("^the pull request you sent on .- has been merged into ()%S")
  if pr then
    return { kind = "pulled", verb = "merged", form = "bot", where = clean_where(s:sub(pr):match("^%S+")) }
  end
  local q = s:match("%.patch and it can be found in the (queue%-[%w.]+) subdirectory%.?$")
  if q then return { kind = "applied", verb = "queued", form = "bot", where = q } end

  -- "Fixed them up like below while applying:", "Tweaked the subject when
  -- queuing": a maintainer's edit made while taking the patch
  if not ctx.by_author and not vetoed(s, TESTER)
      and (low:match("^%s*%a+ed%f[%A][^,;]-%f[%a]while applying%f[%A]")
           or low:match("^%s*%a+ed%f[%A][^,;]-%f[%a]when applying%f[%A]")
           or low:match("^%s*%a+ed%f[%A][^,;]-%f[%a]wh[ie][ln]e? queu%a*ing%f[%A]")) then
    return { kind = ctx.pull and "pulled" or "applied", verb = "applied", form = "while" }
  end
  for _, at in ipairs(clause_starts(s)) do
    local scope = s:sub(at, scope_end(s, at, SENTENCE_SCOPE))
    if not vetoed(scope, TESTER) and not vetoed(s:sub(at, scope_end(s, at, CLAUSE_SCOPE)), MOOD) then
      local r = clause(scope, ctx)
      if r then return r end
    end
  end
  return nil
end

---------------------------------------------------------------------------
-- One reply
---------------------------------------------------------------------------

-- Hex commit ids in own lines: "commit: <sha>", ".../c/<sha>", "commit
-- <sha>", "?id=<sha>", 7 to 40 digits.
local COMMIT_PATTERNS = { "[Cc]ommit:?%s+(%x+)", "/c/(%x+)", "/commit/%?id=(%x+)", "[?;&]id=(%x+)" }
local function commit_ids(text, out, seen)
  for _, pat in ipairs(COMMIT_PATTERNS) do
    for sha in text:gmatch(pat) do
      if #sha >= 7 and #sha <= 40 and not seen[sha] then
        seen[sha] = true
        out[#out + 1] = sha
      end
    end
  end
end

-- "Done." (or "Done, thanks.") as the whole answer to a quoted request to
-- take the patch ("could you queue this?", "Please apply").
local function done_answer(sent, quoted)
  if not quoted or not sent:lower():match("^done[.!,]?%s*[%a%s!.]*$") then return false end
  -- the request is what was quoted last (its last three lines), not a
  -- word somewhere in a quoted patch
  local lines = {}
  for line in quoted:lower():gmatch("[^\n]+") do
    if line:match("%w") then lines[#lines + 1] = line end
  end
  local q = table.concat(lines, "\n", math.max(1, #lines - 2))
  return (q:find("%f[%a]queue") or q:find("%f[%a]apply") or q:find("%f[%a]pick") or q:find("%f[%a]take")
    or q:find("%f[%a]merge")) ~= nil and (q:find("?", 1, true) or q:find("%f[%a]please%f[%A]")) ~= nil
end

-- Without segments (a body not segmented), the text up to the signature,
-- its ">" lines as quotes.
local function segments_of(msg)
  if msg.segments then return msg.segments end
  local segs, kind, buf = {}, nil, {}
  local function push()
    if #buf > 0 then segs[#segs + 1] = { kind = kind, text = table.concat(buf, "\n") } end
    buf = {}
  end
  for line in ((msg.text or "") .. "\n"):gmatch("([^\n]*)\n") do
    if line == "-- " then break end
    local k = line:match("^%s*>") and "quote" or "text"
    if k ~= kind then push() kind = k end
    buf[#buf + 1] = line
  end
  push()
  return segs
end

-- Word stems every built-in form needs one of ("Done." included): a text
-- with none of them is not split into sentences at all.
local STEMS = { "appl", "queu", "pick", "pull", "merg", "push", "took", "taken", "squash", "stag", "put", "done" }
local function may_report(text)
  local low = text:lower()
  for _, stem in ipairs(STEMS) do
    if low:find(stem, 1, true) then return true end
  end
  return false
end

--[[
scan(msg, ctx) -> nil | { kind=, verb=, where=, text=, commits = {...} }

The first sentence of a reply's own text (its "text" segments, or without
segments its text up to the signature less ">" lines; quotes are only read
for "Done." answering a quoted request) that reports an outcome
(see M.sentence), with the commit ids its own text gives after it (b4's
"[1/2] title\n commit: <sha>" lines, links to /c/<sha>). ctx: by_author,
pull (as for M.sentence) and patterns: the rules' applied_patterns, Lua
patterns tried on each sentence after the built-in forms (a capture is the
branch).
]]
function M.scan(msg, ctx)
  ctx = ctx or {}
  local any_text = ctx.patterns and #ctx.patterns > 0
  local hit, quoted
  local commits, seen = {}, {}
  for _, seg in ipairs(segments_of(msg)) do
    if seg.kind == "quote" then
      quoted = seg.text
    elseif seg.kind == "text" then
      if hit then
        commit_ids(seg.text, commits, seen)
      elseif any_text or may_report(seg.text) then
        local sents = M.sentences(seg.text)
        for k, sent in ipairs(sents) do
          local r = may_report(sent) and M.sentence(sent, ctx) or nil
          if not r then
            for _, pat in ipairs(ctx.patterns or {}) do
              local st, _, cap = sent:find(pat)
              if st then
                r = { kind = ctx.pull and "pulled" or "applied", verb = "pattern", where = clean_where(cap) }
                break
              end
            end
          end
          if not r and not ctx.by_author and k <= 2 and done_answer(sent, quoted) then
            r = { kind = ctx.pull and "pulled" or "applied", verb = "done" }
          end
          if r then
            r.text = sent
            hit = r
            for j = k + 1, #sents do commit_ids(sents[j], commits, seen) end
            break
          end
        end
      end
      quoted = nil
    end
  end
  if hit then hit.commits = commits end
  return hit
end

return M
