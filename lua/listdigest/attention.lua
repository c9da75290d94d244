-- "What happened" and "needs attention": one computed block at the top of
-- every report, from the states listdigest.review and listdigest.series
-- found (no model needed). Each item names its entry, its evidence mail
-- and its age; layouts only render it.
local review = require "listdigest.review"

local M = {}

local DAY = 86400

-- A robot's finding on a patch: a kernel test robot build report, a
-- syzbot report, or a notice that the patch does not apply.
local function robot_finding(m)
  local subj, from = (m.subject or ""):lower(), (m.from_addr or ""):lower()
  if from == "lkp@intel.com" then return "kernel test robot" end
  if from:find("^syzbot") then return "syzbot" end
  if subj:find("failed to apply to", 1, true) or subj:find("does not apply", 1, true) then
    return "does not apply"
  end
  return nil
end

local function in_window(d, w) return d ~= nil and d >= w.since and d < w["until"] end

local function days(sec) return math.floor(sec / DAY) end

-- Patch numbers (1..total) of a series whose patch mail got no
-- Reviewed-by / Acked-by, when some sibling did and nothing was given on
-- the whole series; nil otherwise.
local function unreviewed_patches(t)
  local s = t.series
  if not s or (s.total or 1) < 2 or not t.review then return nil end
  local per, any = {}, false
  for _, tr in ipairs(t.review.trailers) do
    if tr.kind == "Reviewed-by" or tr.kind == "Acked-by" then
      if tr.scope == "series" then return nil end
      if tr.on_n then per[tr.on_n] = true any = true end
    end
  end
  if not any then return nil end
  local missing = {}
  for n = 1, s.total do
    if s.patches[n] and not per[n] then missing[#missing + 1] = n end
  end
  return #missing > 0 and missing or nil
end

-- Reviewed-by / Acked-by given in follow-ups to the previous version (an
-- entry of this report) before this version was posted, that this
-- version's patch mails do not carry and nobody gave again: { {kind=, who=, addr=, title= (nil: on the whole
-- series)}... } or nil. A patch whose title is gone from this version may
-- have been dropped: its tags are not asked for.
local function dropped_trailers(t, by_id)
  local s = t.series
  local prev = s and s.previous and by_id[s.previous.id]
  if not prev or not prev.review or prev == t then return nil end
  local title_of = {}
  for _, m in ipairs(prev.messages) do title_of[m.message_id] = m.subj and m.subj.normalized end
  local carried, anywhere, titles = {}, {}, {}
  for _, m in ipairs(t.messages) do
    local sj = m.subj or {}
    if not sj.reply and (sj.version or 1) == s.version and (sj.n or 1) >= 1 then
      titles[sj.normalized or ""] = true
      for _, seg in ipairs(m.segments or {}) do
        if seg.kind == "trailer" then
          for _, tr in ipairs(review.trailer_lines(seg.text)) do
            local key = (sj.normalized or "") .. "\0" .. tr.addr:lower()
            carried[key] = true
            anywhere[tr.addr:lower()] = true
          end
        end
      end
    end
  end
  for _, tr in ipairs((t.review or {}).trailers or {}) do anywhere[tr.addr:lower()] = true end
  local out, seen = {}, {}
  for _, tr in ipairs(prev.review.trailers) do
    -- only tags given before this version was posted could have been carried
    if (tr.kind == "Reviewed-by" or tr.kind == "Acked-by") and tr.date and s.date and tr.date < s.date then
      local addr = tr.addr:lower()
      local title = tr.scope == "patch" and title_of[tr.on_id] or nil
      local missing
      if title then
        missing = titles[title] and not carried[title .. "\0" .. addr] and not anywhere[addr]
      elseif tr.scope == "series" then
        missing = not anywhere[addr]
      end   -- a patch this report does not hold: its tags cannot be told
      local k = tr.kind .. addr .. (title or "")
      if missing and not seen[k] then
        seen[k] = true
        out[#out + 1] = { kind = tr.kind, who = tr.who, addr = addr, title = title }
      end
    end
  end
  return #out > 0 and out or nil
end

--[[
compute(threads, opts) -> block

threads: the pipeline's classified entries (with .review, .status,
.series, .pull, .messages). opts: window = {since=, until=} (epoch
seconds), after_days (rules.attention_after_days, default 5), url(id) ->
archive link or nil.

block = {
  happened = { applied = {item...}, pulled = {...}, new_series = {...}, new_versions = {...} },
  attention = { item... },   -- most urgent kind first, then oldest first
}
item = { id = entry id, title =, kind =, why = (English, for scripts), evidence = Message-ID, url =,
         date = epoch, age_days =, and what layouts word it with: where=, by=, version=, patches={n...},
         total=, robot= "kernel test robot"|"syzbot"|"does not apply" }
"happened" counts what its evidence mail dates in the window; "attention":
  no-reply         a series (not applied, superseded or pulled) whose newest
                   version got no reply from anyone but its author or robots
                   after_days or more before the window's end
  changes-requested  changes requested and no newer version
  not-pulled       a pull request nobody said was pulled
  partial-review   patches without Reviewed-by/Acked-by while siblings have one
  dropped-trailers Reviewed-by/Acked-by given on the previous version that
                   this one's patches do not carry
  robot            a robot's finding in the window (build failure, syzbot,
                   does not apply)
]]
function M.compute(threads, opts)
  local w = opts.window
  local after = (opts.after_days or 5) * DAY
  local url = opts.url or function() return nil end
  local block = { happened = { applied = {}, pulled = {}, new_series = {}, new_versions = {} }, attention = {} }
  local function item(t, kind, why, evidence, date, extra)
    local it = { id = t.id, title = t.title, kind = kind, why = why, evidence = evidence,
                 url = url(evidence or t.id), date = date, age_days = date and days(w["until"] - date) or nil }
    for k, v in pairs(extra or {}) do it[k] = v end
    return it
  end
  local A = block.attention
  local by_id = {}
  for _, t in ipairs(threads) do by_id[t.id] = t end
  for _, t in ipairs(threads) do
    local r, s = t.review or {}, t.series
    if r.applied and in_window(r.applied.date, w) then
      local h = block.happened.applied
      h[#h + 1] = item(t, "applied", r.applied.where and ("to " .. r.applied.where) or "applied", r.applied.id,
                       r.applied.date, { where = r.applied.where, by = r.applied.by })
    end
    if r.pulled and in_window(r.pulled.date, w) then
      local h = block.happened.pulled
      h[#h + 1] = item(t, "pulled", "pulled by " .. (r.pulled.by or "?"), r.pulled.id, r.pulled.date,
                       { by = r.pulled.by, where = r.pulled.where })
    end
    if s and s.author_addr and not t.pull and in_window(s.date, w) then
      local h = s.version > 1 and block.happened.new_versions or block.happened.new_series
      h[#h + 1] = item(t, s.version > 1 and "new-version" or "new-series", "v" .. s.version,
                       s.cover or s.base_id, s.date, { version = s.version })
    end

    local state = r.state
    if t.pull then
      if state == "not yet pulled" then
        A[#A + 1] = item(t, "not-pulled", "nobody said it was pulled", t.pull.id or t.id,
                         (t.root and not t.root_missing and t.root.date) or nil)
      end
    elseif s and state ~= "applied" and state ~= "superseded" then
      -- no answer from anyone but the author or robots since the newest version
      local answered = false
      for _, m in ipairs(t.messages) do
        local by_author = s.author_addr and (m.from_addr or ""):lower() == s.author_addr
        if (m.subj or {}).reply and not by_author and not review.is_bot(m.from_addr)
            and (m.date or 0) >= (s.date or 0) then
          answered = true
          break
        end
      end
      if not answered and s.author_addr and s.date and w["until"] - s.date >= after then
        A[#A + 1] = item(t, "no-reply", ("no reply to v%d"):format(s.version),
                         s.cover or s.base_id, s.date, { version = s.version })
      end
      if state == "changes requested" then
        local cr
        for _, c in ipairs(r.change_requests or {}) do
          if not c.resolved then cr = c break end
        end
        A[#A + 1] = item(t, "changes-requested", cr and ("asked by " .. (cr.by or "?"):gsub("%s*<.*$", "")) or
          "changes requested", cr and cr.id, cr and cr.date, { by = cr and cr.by })
      end
      local dropped = dropped_trailers(t, by_id)
      if dropped then
        local who, seen = {}, {}
        for _, d in ipairs(dropped) do
          local name = d.who:gsub("%s*<.*$", "")
          if not seen[name] then seen[name] = true who[#who + 1] = name end
        end
        A[#A + 1] = item(t, "dropped-trailers", ("%d trailer(s) from v%d not carried: %s"):format(#dropped,
          s.previous.version, table.concat(who, ", ")), s.cover or s.base_id, s.date,
          { trailers = dropped, version = s.previous.version, by = table.concat(who, ", ") })
      end
      local missing = unreviewed_patches(t)
      if missing then
        local ns = {}
        for _, n in ipairs(missing) do ns[#ns + 1] = tostring(n) end
        A[#A + 1] = item(t, "partial-review", ("patch%s %s of %d %s no review"):format(#ns == 1 and "" or "es",
          table.concat(ns, ", "), s.total, #ns == 1 and "has" or "have"), s.cover or s.base_id, s.date,
          { patches = missing, total = s.total })
      end
    end
    for _, m in ipairs(t.messages) do
      local what = m.in_window and robot_finding(m)
      if what then
        A[#A + 1] = item(t, "robot", what, m.message_id, m.date, { robot = what })
        break
      end
    end
  end
  local RANK = { ["changes-requested"] = 1, ["no-reply"] = 2, ["not-pulled"] = 3, ["dropped-trailers"] = 4,
                 ["partial-review"] = 5, robot = 6 }
  table.sort(A, function(a, b)
    if RANK[a.kind] ~= RANK[b.kind] then return RANK[a.kind] < RANK[b.kind] end
    if (a.date or math.huge) ~= (b.date or math.huge) then return (a.date or math.huge) < (b.date or math.huge) end
    return a.id < b.id
  end)
  return block
end

-- How layouts word an item, per language: its kind's label and its why.
local WORDS = {
  zh = {
    kinds = { ["changes-requested"] = "需要修改", ["no-reply"] = "无人回复", ["not-pulled"] = "尚未拉取",
              ["partial-review"] = "部分未审阅", robot = "机器人报告", applied = "已合入", pulled = "已拉取",
              ["dropped-trailers"] = "标签未延续" },
    dropped = "v%d 上 %s 给出的标签未出现在本版本中", where = "合入 %s", by = "由 %s 拉取", version = "v%d 无人回复", asked = "%s 要求修改",
    not_pulled = "尚无人确认拉取", patches = "第 %s 个补丁（共 %d 个）没有审阅",
    patch_one = "第 %s 个补丁（共 %d 个）没有审阅",
    robot = { ["kernel test robot"] = "kernel test robot 报告", syzbot = "syzbot 报告",
              ["does not apply"] = "补丁无法应用" },
  },
  en = {
    kinds = { ["changes-requested"] = "changes requested", ["no-reply"] = "no reply", ["not-pulled"] = "not pulled",
              ["partial-review"] = "partly reviewed", robot = "robot", applied = "applied", pulled = "pulled",
              ["dropped-trailers"] = "trailers dropped" },
    dropped = "v%d tags from %s are not in this version", where = "to %s", by = "by %s", version = "no reply to v%d", asked = "asked by %s",
    not_pulled = "nobody said it was pulled", patches = "patches %s of %d have no review",
    patch_one = "patch %s of %d has no review",
    robot = { ["kernel test robot"] = "kernel test robot report", syzbot = "syzbot report",
              ["does not apply"] = "does not apply" },
  },
}

--- attention.words(item, lang) -> label, why
-- The item's kind and reason in the report's language (en when unknown).
function M.words(it, lang)
  local W = WORDS[lang] or WORDS.en
  local name = function(who) return (tostring(who or "?"):gsub("%s*<.*$", "")) end
  local why = it.why or ""
  if it.kind == "applied" then why = it.where and W.where:format(it.where) or ""
  elseif it.kind == "pulled" then why = W.by:format(name(it.by))
  elseif it.kind == "no-reply" and it.version then why = W.version:format(it.version)
  elseif it.kind == "changes-requested" and it.by then why = W.asked:format(name(it.by))
  elseif it.kind == "not-pulled" then why = W.not_pulled
  elseif it.kind == "partial-review" and it.patches then
    local ns = {}
    for _, n in ipairs(it.patches) do ns[#ns + 1] = tostring(n) end
    why = (#ns == 1 and W.patch_one or W.patches):format(table.concat(ns, ", "), it.total or 0)
  elseif it.kind == "robot" and it.robot then why = W.robot[it.robot] or it.robot
  elseif it.kind == "dropped-trailers" and it.version then why = W.dropped:format(it.version, name(it.by))
  end
  return W.kinds[it.kind] or it.kind, why
end

return M
