-- The Markdown report in the reference layout (shared/reference/
-- kvmarm-weekly-report.md): header, statistics, category distribution, then
-- per category the threads by message count with summary and message list.
-- Writes text from the report model only; decides nothing about the mail.
local timeutil = require "listdigest.timeutil"
local attention = require "listdigest.attention"

local M = {}

local STRINGS = {
  zh = {
    title = "%s 邮件列表 AI 总结报告",
    title_offline = "%s 邮件列表周报（离线抽取式摘要）",
    generated = "生成时间", window = "分析周期", window_fmt = "%s 至 %s（不含，UTC）",
    stats = "📊 总体统计", total_messages = "总邮件数", total_threads = "总 Thread 数",
    participants = "参与者", large = "大型 Thread** (>%d封)", large_unit = "个",
    distribution = "分类分布", dist_line = "- **%s**: %d threads (%d 邮件)",
    section_count = "共 %d 个 thread",
    thread = "Thread %d", msgs = "📧 邮件数", people = "👥 参与者", started = "📅 开始时间",
    context = "另有 %d 封窗口外的上下文邮件",
    summary_llm = "🤖 AI 总结", summary_extractive = "📝 摘要（抽取自邮件原文）",
    summary_failed = "⚠️ 摘要失败", failed_line = "未能生成摘要：%s",
    failed_extract = "以下为从邮件原文抽取的内容：",
    footer_llm = "摘要由模型 %s 生成：%d 次请求，提示 %d tokens，输出 %d tokens，缓存命中 %d，失败 %d%s。",
    footer_money = "，估算费用 $%.4f", footer_offline = "摘要为离线抽取（未调用模型）。",
    list = "📝 邮件列表", sender = "发件人", link = "存档", outside = "（窗口外）",
    points = "要点", conclusion = "结论", questions = "待解决的问题",
    series = "系列", version_total = "v%d，共 %d 个补丁", version_one = "v%d，共 %d 个补丁", present = "（已到 %d/%d）",
    previous = "上一版 v%d（%s）", previous_link = "上一版 v%d（%s，[存档](<%s>)）",
    previous_undated = "上一版 v%d（[存档](<%s>)）",
    history = "同一线程中的旧版本：%s", history_item = "v%d（%s，[存档](<%s>)）", history_item_nolink = "v%d（%s）",
    branches = "稳定分支", pull = "拉取请求", root_missing = "（线程起点不在本档案中）",
    empty_week = "本周期内没有邮件。",
    status = "状态", states = { new = "新提交", ["under review"] = "审阅中", ["changes requested"] = "需要修改",
      reviewed = "已审阅", acked = "已获 Ack", applied = "已合入", superseded = "已被新版本取代",
      pulled = "已拉取", ["not yet pulled"] = "尚未拉取" },
    applied_by = "由 %s 合入%s", applied_where = " %s", pulled_by = "已由 %s 拉取",
    superseded_by = "已被 v%d 取代（%s，[存档](<%s>)）", superseded_by_nolink = "已被 v%d 取代（%s）",
    newer_after = "窗口之后有 v%d（%s）", evidence = "[依据](<%s>)",
    glance = "🔎 本周概览", happened = "**已合入**：%d · **已拉取**：%d · **新系列**：%d · **新版本**：%d",
    attention = "⚠️ 需要关注", attention_none = "没有等待处理的事项。", age = "%d 天",
  },
  en = {
    title = "%s mailing list AI summary report",
    title_offline = "%s mailing list weekly report (offline, extractive summaries)",
    generated = "Generated", window = "Window", window_fmt = "%s to %s (exclusive, UTC)",
    stats = "📊 Overall statistics", total_messages = "Messages", total_threads = "Threads",
    participants = "Participants", large = "Large threads** (>%d messages)", large_unit = "",
    distribution = "By category", dist_line = "- **%s**: %d threads (%d messages)",
    section_count = "%d threads",
    thread = "Thread %d", msgs = "📧 Messages", people = "👥 Participants", started = "📅 Started",
    context = "plus %d context messages from outside the window",
    summary_llm = "🤖 AI summary", summary_extractive = "📝 Summary (extracted from the mail)",
    summary_failed = "⚠️ Summary failed", failed_line = "No summary could be made: %s",
    failed_extract = "What follows is extracted from the mail:",
    footer_llm = "Summaries by %s: %d requests, %d prompt tokens, %d completion tokens, %d cached, %d failed%s.",
    footer_money = ", about $%.4f", footer_offline = "Summaries extracted offline (no model was called).",
    list = "📝 Messages", sender = "From", link = "archive", outside = " (outside the window)",
    points = "Key points", conclusion = "Conclusion", questions = "Open questions",
    series = "Series", version_total = "v%d, %d patches", version_one = "v%d, %d patch", present = " (%d/%d present)",
    previous = "previous v%d on %s", previous_link = "previous v%d on %s ([archive](<%s>))",
    previous_undated = "previous v%d ([archive](<%s>))",
    history = "earlier in this conversation: %s", history_item = "v%d on %s ([archive](<%s>))",
    history_item_nolink = "v%d on %s",
    branches = "Stable branches", pull = "Pull request", root_missing = " (the thread's first message is not in this archive)",
    empty_week = "No messages in this window.",
    status = "Status", states = { new = "new", ["under review"] = "under review",
      ["changes requested"] = "changes requested", reviewed = "reviewed", acked = "acked", applied = "applied",
      superseded = "superseded", pulled = "pulled", ["not yet pulled"] = "not yet pulled" },
    applied_by = "applied by %s%s", applied_where = " to %s", pulled_by = "pulled by %s",
    superseded_by = "superseded by v%d on %s ([archive](<%s>))", superseded_by_nolink = "superseded by v%d on %s",
    newer_after = "v%d posted after this window, on %s", evidence = "[evidence](<%s>)",
    glance = "🔎 At a glance", happened = "**Applied**: %d · **Pulled**: %d · **New series**: %d · **New versions**: %d",
    attention = "⚠️ Needs attention", attention_none = "Nothing is waiting on anyone.", age = "%d days",
  },
}

local function rfc_to_epoch(s)
  return s and timeutil.parse(s)
end

-- Escapes text from mail so that it renders as the same text and never as
-- markup or HTML (CommonMark): backslash, backtick, "*", "<", ">", "](",
-- "_" at a word edge (intraword "_" is literal), and markers at the start.
local function esc(s, line_start)
  s = (s or ""):gsub("[\r\n]+", " ")
  s = s:gsub("[\\`*<>]", "\\%0"):gsub("%](%()", "\\]%1")
  s = s:gsub("()_", function(i)
    local before, after = s:sub(i - 1, i - 1), s:sub(i + 1, i + 1)
    if i > 1 and before:match("[%w_]") and after:match("[%w_]") then return "_" end
    return "\\_"
  end)
  if not line_start then return s end
  return (s:gsub("^([#>+=|~-])", "\\%1"):gsub("^(%d+)([.)])", "%1\\%2"))
end

-- "Name <addr>" with the address as a CommonMark e-mail autolink.
local function sender(from)
  local name, addr = (from or ""):match("^(.-)%s*<([^<>%s]+@[%w%-%.]+)>$")
  if name and addr:match("^[%w%.!#$%%&'*+/=?^_`{|}~%-]+@[%w%-%.]+$") then
    return (name ~= "" and esc(name) .. " " or "") .. "<" .. addr .. ">"
  end
  return esc(from)
end

local function summary_block(out, th, S)
  local sm = th.summary or {}
  if sm.source == "failed" then
    out[#out + 1] = "#### " .. S.summary_failed
    out[#out + 1] = ""
    out[#out + 1] = S.failed_line:format(esc(sm.error or "unknown error"))
    out[#out + 1] = ""
    if (sm.text or "") ~= "" or #(sm.points or {}) > 0 then
      out[#out + 1] = "*" .. S.failed_extract .. "*"
      out[#out + 1] = ""
    end
  else
    out[#out + 1] = "#### " .. (sm.source == "llm" and S.summary_llm or S.summary_extractive)
    out[#out + 1] = ""
  end
  if sm.text and sm.text ~= "" then
    out[#out + 1] = esc(sm.text, true)
    out[#out + 1] = ""
  end
  if sm.points and #sm.points > 0 then
    out[#out + 1] = "**" .. S.points .. "**:"
    out[#out + 1] = ""
    for _, p in ipairs(sm.points) do out[#out + 1] = "- " .. esc(p) end
    out[#out + 1] = ""
  end
  if sm.conclusion and sm.conclusion ~= "" then
    out[#out + 1] = "**" .. S.conclusion .. "**: " .. esc(sm.conclusion)
    out[#out + 1] = ""
  end
  if sm.open_questions and #sm.open_questions > 0 then
    out[#out + 1] = "**" .. S.questions .. "**:"
    out[#out + 1] = ""
    for _, q in ipairs(sm.open_questions) do out[#out + 1] = "- " .. esc(q) end
    out[#out + 1] = ""
  end
end

local function thread_block(out, n, th, S)
  out[#out + 1] = ("### %s: %s"):format(S.thread:format(n), esc(th.title))
  out[#out + 1] = ""
  local ncontext = #th.messages - th.message_count
  local started = rfc_to_epoch(th.started)
  local line = ("**%s**: %d | **%s**: %d | **%s**: %s"):format(
    S.msgs, th.message_count, S.people, #th.participants, S.started,
    started and timeutil.human(started, true) or "?")
  out[#out + 1] = line
  if ncontext > 0 or th.root_missing then
    local notes = {}
    if ncontext > 0 then notes[#notes + 1] = S.context:format(ncontext) end
    out[#out + 1] = ""
    out[#out + 1] = "*" .. table.concat(notes, "; ") .. (th.root_missing and S.root_missing or "") .. "*"
  end
  local sr = th.series
  if sr and (sr.cover or sr.present or sr.previous) then
    local bits = { (sr.total == 1 and S.version_one or S.version_total):format(sr.version, sr.total) }
    if sr.present then bits[1] = bits[1] .. S.present:format(sr.present, sr.total) end
    local function previous(x)
      local d = x.date and x.date:sub(1, 10)
      if x.url and not d then return S.previous_undated:format(x.version, x.url) end
      return x.url and S.previous_link:format(x.version, d, x.url) or S.previous:format(x.version, d or "?")
    end
    if sr.previous then bits[#bits + 1] = previous(sr.previous) end
    for _, x in ipairs(sr.earlier or {}) do bits[#bits + 1] = previous(x) end
    if sr.history then
      local h = {}
      for _, x in ipairs(sr.history) do
        local d = x.date and x.date:sub(1, 10) or "?"
        h[#h + 1] = x.url and S.history_item:format(x.version, d, x.url) or S.history_item_nolink:format(x.version, d)
      end
      bits[#bits + 1] = S.history:format(table.concat(h, ", "))
    end
    bits[#bits + 1] = "`" .. sr.b4 .. "`"
    out[#out + 1] = ""
    out[#out + 1] = ("**%s**: %s"):format(S.series, table.concat(bits, " · "))
  end
  if sr and sr.branches and #sr.branches > 0 then
    out[#out + 1] = ""
    out[#out + 1] = ("**%s**: %s"):format(S.branches, table.concat(sr.branches, ", "))
  end
  if th.pull then
    out[#out + 1] = ""
    out[#out + 1] = ("**%s**: `%s` %s"):format(S.pull, esc(th.pull.repo or "?"), esc(th.pull.tag or ""))
  end
  local st = th.status
  if st and st.state then
    -- a state only for patches; a pull request says whether it was pulled
    local bits = {}
    local function evidence(id)
      for _, m in ipairs(th.messages) do
        if m.message_id == id and m.url then return " " .. S.evidence:format(m.url) end
      end
      return ""
    end
    if st.pulled then
      bits[1] = S.pulled_by:format(esc((st.pulled.by or "?"):gsub("%s*<.*$", ""))) .. evidence(st.pulled.message_id)
    elseif st.superseded_by then
      local sup = st.superseded_by
      local d = sup.date and sup.date:sub(1, 10) or "?"
      bits[1] = sup.url and S.superseded_by:format(sup.version, d, sup.url) or S.superseded_by_nolink:format(sup.version, d)
    elseif th.series or th.pull then
      bits[1] = S.states[st.state] or st.state
    end
    if sr and sr.newer then
      bits[#bits + 1] = S.newer_after:format(sr.newer.version, (sr.newer.date or "?"):sub(1, 10))
    end
    for _, k in ipairs({ { "reviewed_by", "Reviewed-by" }, { "acked_by", "Acked-by" }, { "tested_by", "Tested-by" } }) do
      local names = {}
      for _, who in ipairs(st[k[1]] or {}) do names[#names + 1] = esc((who:gsub("%s*<.*$", ""))) end
      if #names > 0 then bits[#bits + 1] = k[2] .. ": " .. table.concat(names, ", ") end
    end
    if st.applied then
      local commits = {}
      for i, c in ipairs(st.applied.commits or {}) do
        if i > 3 then commits[#commits + 1] = "…" break end
        commits[#commits + 1] = "`" .. c:sub(1, 12) .. "`"
      end
      bits[#bits + 1] = S.applied_by:format(esc((st.applied.by or "?"):gsub("%s*<.*$", "")),
        st.applied.where and S.applied_where:format(esc(st.applied.where)) or "")
        .. (#commits > 0 and " (" .. table.concat(commits, ", ") .. ")" or "") .. evidence(st.applied.message_id)
    end
    if #bits > 0 then
      out[#out + 1] = ""
      out[#out + 1] = ("**%s**: %s"):format(S.status, table.concat(bits, " · "))
    end
  end
  out[#out + 1] = ""
  summary_block(out, th, S)
  out[#out + 1] = "#### " .. S.list
  out[#out + 1] = ""
  for i, m in ipairs(th.messages) do
    local t = rfc_to_epoch(m.date)
    out[#out + 1] = ("%d. **[%s]** %s%s"):format(i, t and timeutil.short(t) or "??-?? ??:??", esc(m.subject),
      m.in_window and "" or S.outside)
    out[#out + 1] = ("   - %s: %s%s"):format(S.sender, sender(m.from),
      m.url and (" · [%s](<%s>)"):format(S.link, m.url) or "")
  end
  out[#out + 1] = ""
  out[#out + 1] = "---"
  out[#out + 1] = ""
end

-- render(report) -> Markdown string.
-- "At a glance": what happened in the window, then what needs someone
-- (listdigest.attention), each item with its age and evidence link.
local function glance_block(out, block, S, lang)
  local h = block.happened
  out[#out + 1] = "## " .. S.glance
  out[#out + 1] = ""
  out[#out + 1] = S.happened:format(#h.applied, #h.pulled, #h.new_series, #h.new_versions)
  out[#out + 1] = ""
  local function line(it)
    local title = it.url and ("[%s](<%s>)"):format(esc(it.title), it.url) or esc(it.title)
    local age = it.age_days and (" (" .. S.age:format(it.age_days) .. ")") or ""
    local label, why = attention.words(it, lang)
    return ("- **%s**: %s%s%s"):format(label, title, why ~= "" and (" — " .. esc(why)) or "", age)
  end
  for _, it in ipairs(h.applied) do out[#out + 1] = line(it) end
  for _, it in ipairs(h.pulled) do out[#out + 1] = line(it) end
  if #h.applied + #h.pulled > 0 then out[#out + 1] = "" end
  out[#out + 1] = "### " .. S.attention
  out[#out + 1] = ""
  if #block.attention == 0 then out[#out + 1] = S.attention_none end
  for _, it in ipairs(block.attention) do out[#out + 1] = line(it) end
  out[#out + 1] = ""
end

function M.render(report)
  local S = STRINGS[report.lang] or STRINGS.en
  local out = {}
  local offline = not (report.cost and report.cost.model)
  local list = (report.list or ""):upper()
  out[#out + 1] = "# " .. (offline and S.title_offline or S.title):format(list)
  out[#out + 1] = ""
  out[#out + 1] = ("**%s**: %s"):format(S.generated, timeutil.human(timeutil.parse(report.generated_at), true))
  out[#out + 1] = ""
  out[#out + 1] = ("**%s**: %s"):format(S.window, S.window_fmt:format(
    timeutil.human(timeutil.parse(report.window.since)), timeutil.human(timeutil.parse(report.window["until"]))))
  out[#out + 1] = ""
  if report.attention then glance_block(out, report.attention, S, report.lang) end
  out[#out + 1] = "## " .. S.stats
  out[#out + 1] = ""
  local st = report.stats
  out[#out + 1] = ("- **%s**: %d"):format(S.total_messages, st.messages)
  out[#out + 1] = ("- **%s**: %d"):format(S.total_threads, st.threads)
  out[#out + 1] = ("- **%s**: %d"):format(S.participants, st.participants)
  out[#out + 1] = ("- **%s: %d %s"):format(S.large:format(st.large_thread_size), st.large_threads, S.large_unit):gsub("%s+$", "")
  out[#out + 1] = ""
  out[#out + 1] = "### " .. S.distribution
  out[#out + 1] = ""
  for _, name in ipairs(report.categories) do
    local c = st.by_category[name]
    if c then out[#out + 1] = S.dist_line:format(name, c.threads, c.messages) end
  end
  out[#out + 1] = ""
  out[#out + 1] = "---"
  out[#out + 1] = ""
  if #report.threads == 0 then
    out[#out + 1] = S.empty_week
    out[#out + 1] = ""
  end
  for _, name in ipairs(report.categories) do
    local c = st.by_category[name]
    if c then
      out[#out + 1] = "## 📌 " .. name
      out[#out + 1] = ""
      out[#out + 1] = S.section_count:format(c.threads)
      out[#out + 1] = ""
      out[#out + 1] = "---"
      out[#out + 1] = ""
      local n = 0
      for _, th in ipairs(report.threads) do
        if th.category == name then
          n = n + 1
          thread_block(out, n, th, S)
        end
      end
    end
  end
  local c = report.cost or {}
  if c.model then
    out[#out + 1] = "*" .. S.footer_llm:format(esc(c.model), c.requests or 0, c.prompt_tokens or 0,
      c.completion_tokens or 0, c.cached or 0, c.failed or 0,
      c.money_usd and S.footer_money:format(c.money_usd) or "") .. "*"
  else
    out[#out + 1] = "*" .. S.footer_offline .. "*"
  end
  out[#out + 1] = ""
  return table.concat(out, "\n")
end

return M
