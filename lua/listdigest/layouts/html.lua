-- The HTML report: one self-contained file (inline CSS and SVG, no script, no
-- external fetches) with a header, charts, a contents list by category and a
-- card per thread. Every string from mail or the model is escaped; links go
-- only to http(s) URLs. Writes text from the report model only.
local timeutil = require "listdigest.timeutil"
local attention = require "listdigest.attention"

local M = {}

local STRINGS = {
  zh = {
    html_lang = "zh-CN",
    title = "%s 邮件列表 AI 总结报告", title_offline = "%s 邮件列表周报（离线抽取式摘要）",
    generated = "生成时间", window = "分析周期", window_fmt = "%s 至 %s（不含，UTC）",
    total_messages = "总邮件数", total_threads = "总 Thread 数", participants = "参与者",
    large = "大型 Thread（>%d 封）", charts = "📊 图表", per_day = "每日邮件数（UTC）",
    per_category = "各分类 Thread 数", active_series = "最活跃的补丁系列（按邮件数）", none = "无",
    contents = "目录", section_count = "共 %d 个 thread，%d 封邮件",
    msgs = "📧 邮件数", people = "👥 参与者", started = "📅 开始时间",
    context = "另有 %d 封窗口外的上下文邮件", root_missing = "线程起点不在本档案中",
    summary_llm = "🤖 AI 总结", summary_extractive = "📝 摘要（抽取自邮件原文）",
    summary_failed = "⚠️ 摘要失败", failed_line = "未能生成摘要：%s", failed_extract = "以下为从邮件原文抽取的内容：",
    footer_llm = "摘要由模型 %s 生成：%d 次请求，提示 %d tokens，输出 %d tokens，缓存命中 %d，失败 %d%s。",
    footer_money = "，估算费用 $%.4f", footer_offline = "摘要为离线抽取（未调用模型）。",
    list = "📝 邮件列表（%d 封）", sender = "发件人", link = "存档", outside = "（窗口外）",
    points = "要点", conclusion = "结论", questions = "待解决的问题",
    series = "系列", version_total = "v%d，共 %d 个补丁", present = "（已到 %d/%d）",
    previous = "上一版 v%d（%s）", branches = "稳定分支", pull = "拉取请求", empty_week = "本周期内没有邮件。",
    status = "状态", reviewed_count = "Reviewed-by ×%d",
    states = { new = "新提交", ["under review"] = "审阅中", ["changes requested"] = "需要修改",
      reviewed = "已审阅", acked = "已获 Ack", applied = "已合入", superseded = "已被新版本取代",
      pulled = "已拉取", ["not yet pulled"] = "尚未拉取" },
    applied_by = "由 %s 合入%s", applied_where = " %s", pulled_by = "已由 %s 拉取", top = "↑ 目录",
    superseded_by = "已被 v%d 取代（%s）", newer_after = "窗口之后有 v%d（%s）", evidence = "依据",
    glance = "🔎 本周概览", happened = "已合入 %d · 已拉取 %d · 新系列 %d · 新版本 %d",
    attention = "⚠️ 需要关注", attention_none = "没有等待处理的事项。", age = "%d 天",
  },
  en = {
    html_lang = "en",
    title = "%s mailing list AI summary report",
    title_offline = "%s mailing list weekly report (offline, extractive summaries)",
    generated = "Generated", window = "Window", window_fmt = "%s to %s (exclusive, UTC)",
    total_messages = "Messages", total_threads = "Threads", participants = "Participants",
    large = "Large threads (>%d messages)", charts = "📊 Charts", per_day = "Messages per day (UTC)",
    per_category = "Threads per category", active_series = "Most active series (by messages)", none = "none",
    contents = "Contents", section_count = "%d threads, %d messages",
    msgs = "📧 Messages", people = "👥 Participants", started = "📅 Started",
    context = "plus %d context messages from outside the window",
    root_missing = "the thread's first message is not in this archive",
    summary_llm = "🤖 AI summary", summary_extractive = "📝 Summary (extracted from the mail)",
    summary_failed = "⚠️ Summary failed", failed_line = "No summary could be made: %s",
    failed_extract = "What follows is extracted from the mail:",
    footer_llm = "Summaries by %s: %d requests, %d prompt tokens, %d completion tokens, %d cached, %d failed%s.",
    footer_money = ", about $%.4f", footer_offline = "Summaries extracted offline (no model was called).",
    list = "📝 Messages (%d)", sender = "From", link = "archive", outside = " (outside the window)",
    points = "Key points", conclusion = "Conclusion", questions = "Open questions",
    series = "Series", version_total = "v%d, %d patches", present = " (%d/%d present)",
    previous = "previous v%d on %s", branches = "Stable branches", pull = "Pull request",
    empty_week = "No messages in this window.", status = "Status", reviewed_count = "Reviewed-by ×%d",
    states = { new = "new", ["under review"] = "under review",
      ["changes requested"] = "changes requested", reviewed = "reviewed", acked = "acked", applied = "applied",
      superseded = "superseded", pulled = "pulled", ["not yet pulled"] = "not yet pulled" },
    applied_by = "applied by %s%s", applied_where = " to %s", pulled_by = "pulled by %s", top = "↑ Contents",
    superseded_by = "superseded by v%d on %s", newer_after = "v%d posted after this window, on %s",
    evidence = "evidence",
    glance = "🔎 At a glance", happened = "Applied %d · Pulled %d · New series %d · New versions %d",
    attention = "⚠️ Needs attention", attention_none = "Nothing is waiting on anyone.", age = "%d days",
  },
}

local CSS = [[
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#59636e;--card:#f6f8fa;--line:#d0d7de;--accent:#0969da;--bar:#2f81f7}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--card:#161b22;--line:#30363d;--accent:#4493f8;--bar:#388bfd}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.55 system-ui,-apple-system,"Segoe UI","Noto Sans","PingFang SC","Microsoft YaHei",sans-serif}
main{max-width:60rem;margin:0 auto;padding:1rem}
a{color:var(--accent)}h1{font-size:1.6rem;line-height:1.25}
h1,h2,h3,p,li,td,summary{overflow-wrap:anywhere}
.muted,.meta{color:var(--muted);font-size:.92rem}
.totals{display:flex;flex-wrap:wrap;gap:.6rem;padding:0;list-style:none}
.totals li{flex:1 1 8rem;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.5rem .8rem}
.totals b{display:block;font-size:1.5rem}
figure{margin:1rem 0}svg{width:100%;height:auto;max-width:40rem;display:block}
svg text{fill:currentColor;font-size:12px}svg .bar{fill:var(--bar)}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.8rem 1rem;margin:1rem 0}
.card h3{margin:.2rem 0 .5rem;font-size:1.1rem}.badges{display:flex;flex-wrap:wrap;gap:.35rem;margin:.3rem 0}
.badge{border:1px solid var(--line);border-radius:999px;padding:0 .55rem;font-size:.82rem;white-space:nowrap}
.badge.cat{background:var(--accent);color:var(--bg);border-color:var(--accent)}
code{font-size:.85em;overflow-wrap:anywhere}
details{margin-top:.6rem}summary{cursor:pointer;font-weight:600}details ol{padding-left:1.6rem}details li{margin:.3rem 0}
.time{font-family:ui-monospace,monospace;color:var(--muted)}
footer{margin:2rem 0 1rem;color:var(--muted);font-size:.9rem}
@media (max-width:40rem){main{padding:.6rem}body{font-size:15px}.card{padding:.6rem}}
@media print{
:root{--bg:#fff;--fg:#000;--muted:#333;--card:#fff;--line:#999;--accent:#000;--bar:#555}
body{background:#fff;color:#000}.card{break-inside:avoid-page}details>*{display:block}summary{list-style:none}nav,.top{display:none}}
@media print{details::details-content{content-visibility:visible;display:block;height:auto}}
]]

-- Text for an HTML text node or a quoted attribute value.
local ENT = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
local function esc(s)
  s = tostring(s == nil and "" or s):gsub("[%z\1-\8\11\12\14-\31\127]", "")
  return (s:gsub("[&<>\"']", ENT))
end

-- An http(s) URL without whitespace or control characters, else nil.
local function safe_url(u)
  if type(u) ~= "string" then return nil end
  local scheme = u:match("^(%a[%w+.-]*):")
  if not scheme or not scheme:lower():match("^https?$") or u:find("[%z\1-\32\127<>\"'`]") then return nil end
  return u
end

-- html: already escaped markup; a link only when url is http(s).
local function link(url, html)
  url = safe_url(url)
  return url and ('<a href="%s">%s</a>'):format(esc(url), html) or html
end

local function name_of(who) return (tostring(who or "?"):gsub("%s*<.*$", "")) end

local function clip(s, n)
  s = tostring(s or "")
  if utf8.len(s) and utf8.len(s) > n then return s:sub(1, utf8.offset(s, n + 1) - 1) .. "…" end
  return s
end

-- A horizontal bar chart: rows = {label = text, value = n, href = "#id"}.
local function hbars(title, rows, S)
  local W, lw, rh = 640, 300, 22
  local max = 0
  for _, r in ipairs(rows) do max = math.max(max, r.value) end
  local h = math.max(#rows, 1) * rh + 8
  local o = { ('<figure><figcaption>%s</figcaption><svg viewBox="0 0 %d %d" role="img" aria-label="%s">')
    :format(esc(title), W, h, esc(title)) }
  if #rows == 0 then o[#o + 1] = ('<text x="4" y="16">%s</text>'):format(esc(S.none)) end
  for i, r in ipairs(rows) do
    local y = (i - 1) * rh + 4
    local bw = max > 0 and math.floor((W - lw - 40) * r.value / max + 0.5) or 0
    local label = ('<text x="%d" y="%d" text-anchor="end">%s</text>'):format(lw - 6, y + 14, esc(clip(r.label, 40)))
    o[#o + 1] = (r.href and ('<a href="%s">%s</a>'):format(esc(r.href), label) or label)
      .. ('<rect class="bar" x="%d" y="%d" width="%d" height="%d" data-count="%d"><title>%s: %d</title></rect>')
        :format(lw, y, bw, rh - 6, r.value, esc(r.label), r.value)
      .. ('<text x="%d" y="%d">%d</text>'):format(lw + bw + 4, y + 14, r.value)
  end
  o[#o + 1] = "</svg></figure>"
  return table.concat(o)
end

-- Messages per UTC day of the window (in-window messages only), as columns.
local function day_chart(report, S)
  local counts, days = {}, {}
  local since, till = timeutil.parse(report.window.since), timeutil.parse(report.window["until"])
  if since and till then
    for t = since - since % 86400, till - 1, 86400 do
      local d = os.date("!%Y-%m-%d", t)
      days[#days + 1], counts[d] = d, 0
    end
  end
  for _, th in ipairs(report.threads) do
    for _, m in ipairs(th.messages) do
      local t = m.in_window and timeutil.parse(m.date)
      if t then
        local d = os.date("!%Y-%m-%d", t)
        if not counts[d] then days[#days + 1], counts[d] = d, 0 end
        counts[d] = counts[d] + 1
      end
    end
  end
  table.sort(days)
  local W, H, top, bottom = 640, 200, 18, 22
  local max = 0
  for _, d in ipairs(days) do max = math.max(max, counts[d]) end
  local cw = (W - 8) / math.max(#days, 1)
  local o = { ('<figure><figcaption>%s</figcaption><svg viewBox="0 0 %d %d" role="img" aria-label="%s">')
    :format(esc(S.per_day), W, H, esc(S.per_day)) }
  for i, d in ipairs(days) do
    local n = counts[d]
    local bh = max > 0 and math.floor((H - top - bottom) * n / max + 0.5) or 0
    local x = math.floor(4 + (i - 1) * cw + cw * 0.15)
    local bw, y = math.floor(cw * 0.7), H - bottom - bh
    o[#o + 1] = ('<rect class="bar day" x="%d" y="%d" width="%d" height="%d" data-day="%s" data-count="%d">'
      .. '<title>%s: %d</title></rect><text x="%d" y="%d" text-anchor="middle">%d</text>'
      .. '<text x="%d" y="%d" text-anchor="middle">%s</text>')
      :format(x, y, bw, bh, d, n, d, n, x + bw // 2, y - 4, n, x + bw // 2, H - 6, d:sub(6))
  end
  o[#o + 1] = "</svg></figure>"
  return table.concat(o)
end

local function summary_html(o, sm, S)
  sm = sm or {}
  if sm.source == "failed" then
    o[#o + 1] = ("<h4>%s</h4><p>%s</p>"):format(esc(S.summary_failed), esc(S.failed_line:format(sm.error or "unknown error")))
    if (sm.text or "") ~= "" or #(sm.points or {}) > 0 then o[#o + 1] = ("<p><em>%s</em></p>"):format(esc(S.failed_extract)) end
  else
    o[#o + 1] = ("<h4>%s</h4>"):format(esc(sm.source == "llm" and S.summary_llm or S.summary_extractive))
  end
  if (sm.text or "") ~= "" then
    for para in (sm.text .. "\n\n"):gmatch("(.-)\n%s*\n") do
      if para:match("%S") then o[#o + 1] = "<p>" .. esc(para):gsub("\n", "<br>") .. "</p>" end
    end
  end
  local function list(label, items)
    if items and #items > 0 then
      o[#o + 1] = ("<p><strong>%s</strong></p><ul>"):format(esc(label))
      for _, p in ipairs(items) do o[#o + 1] = "<li>" .. esc(p) .. "</li>" end
      o[#o + 1] = "</ul>"
    end
  end
  list(S.points, sm.points)
  if (sm.conclusion or "") ~= "" then
    o[#o + 1] = ("<p><strong>%s</strong>: %s</p>"):format(esc(S.conclusion), esc(sm.conclusion))
  end
  list(S.questions, sm.open_questions)
end

local function card(o, idx, th, S)
  local sr, st = th.series, th.status or {}
  o[#o + 1] = ('<article class="card" id="t-%d"><h3>%s</h3><div class="badges"><span class="badge cat">%s</span>')
    :format(idx, link(th.url, esc(th.title)), esc(th.category))
  if sr and sr.version then o[#o + 1] = ('<span class="badge">%sv%d</span>'):format(sr.rfc and "RFC " or "", sr.version) end
  if st.pulled then
    o[#o + 1] = ('<span class="badge">%s</span>'):format(esc(S.pulled_by:format(name_of(st.pulled.by))))
  elseif (sr or th.pull) and st.state then
    o[#o + 1] = ('<span class="badge">%s</span>'):format(esc(S.states[st.state] or st.state))
  end
  if #(st.reviewed_by or {}) > 0 then
    o[#o + 1] = ('<span class="badge">%s</span>'):format(esc(S.reviewed_count:format(#st.reviewed_by)))
  end
  o[#o + 1] = "</div>"
  local started = th.started and timeutil.parse(th.started)
  local meta = { ("%s: %d"):format(S.msgs, th.message_count), ("%s: %d"):format(S.people, #(th.participants or {})),
    ("%s: %s"):format(S.started, started and timeutil.human(started, true) or "?") }
  local ncontext = #th.messages - th.message_count
  if ncontext > 0 then meta[#meta + 1] = S.context:format(ncontext) end
  if th.root_missing then meta[#meta + 1] = S.root_missing end
  o[#o + 1] = '<p class="meta">' .. esc(table.concat(meta, " · ")) .. "</p>"
  if sr and (sr.cover or sr.present or sr.previous) then
    local bits = { esc(S.version_total:format(sr.version or 1, sr.total or 1)
      .. (sr.present and S.present:format(sr.present, sr.total or 1) or "")) }
    if sr.previous then
      local d = sr.previous.date and sr.previous.date:sub(1, 10) or "?"
      bits[#bits + 1] = link(sr.previous.url, esc(S.previous:format(sr.previous.version or 0, d)))
    end
    if sr.b4 then bits[#bits + 1] = "<code>" .. esc(sr.b4) .. "</code>" end
    o[#o + 1] = ("<p><strong>%s</strong>: %s</p>"):format(esc(S.series), table.concat(bits, " · "))
  end
  if sr and sr.branches and #sr.branches > 0 then
    local b = {}
    for _, x in ipairs(sr.branches) do b[#b + 1] = esc(x) end
    o[#o + 1] = ("<p><strong>%s</strong>: %s</p>"):format(esc(S.branches), table.concat(b, ", "))
  end
  if th.pull then
    o[#o + 1] = ("<p><strong>%s</strong>: <code>%s</code> %s</p>"):format(esc(S.pull), esc(th.pull.repo or "?"), esc(th.pull.tag or ""))
  end
  local bits = {}
  local function evidence(id)
    for _, m in ipairs(th.messages) do
      if m.message_id == id and m.url then return " " .. link(m.url, esc(S.evidence)) end
    end
    return ""
  end
  if st.superseded_by then
    local sup = st.superseded_by
    bits[#bits + 1] = link(sup.url, esc(S.superseded_by:format(sup.version, (sup.date or "?"):sub(1, 10))))
  end
  if sr and sr.newer then
    bits[#bits + 1] = link(sr.newer.url, esc(S.newer_after:format(sr.newer.version, (sr.newer.date or "?"):sub(1, 10))))
  end
  if st.pulled then bits[#bits + 1] = esc(S.pulled_by:format(name_of(st.pulled.by))) .. evidence(st.pulled.message_id) end
  for _, k in ipairs({ { "reviewed_by", "Reviewed-by" }, { "acked_by", "Acked-by" }, { "tested_by", "Tested-by" } }) do
    local names = {}
    for _, who in ipairs(st[k[1]] or {}) do names[#names + 1] = esc(name_of(who)) end
    if #names > 0 then bits[#bits + 1] = k[2] .. ": " .. table.concat(names, ", ") end
  end
  if st.applied then
    local commits = {}
    for i, c in ipairs(st.applied.commits or {}) do
      if i > 3 then commits[#commits + 1] = "…" break end
      commits[#commits + 1] = "<code>" .. esc(tostring(c):sub(1, 12)) .. "</code>"
    end
    bits[#bits + 1] = esc(S.applied_by:format(name_of(st.applied.by),
      st.applied.where and S.applied_where:format(st.applied.where) or ""))
      .. (#commits > 0 and " (" .. table.concat(commits, ", ") .. ")" or "") .. evidence(st.applied.message_id)
  end
  if #bits > 0 then o[#o + 1] = ("<p><strong>%s</strong>: %s</p>"):format(esc(S.status), table.concat(bits, " · ")) end
  summary_html(o, th.summary, S)
  o[#o + 1] = ("<details><summary>%s</summary><ol>"):format(esc(S.list:format(#th.messages)))
  for _, m in ipairs(th.messages) do
    local t = timeutil.parse(m.date or "")
    o[#o + 1] = ('<li><span class="time">%s</span> %s%s<br><span class="muted">%s: %s</span></li>'):format(
      esc(t and timeutil.short(t) or "??-?? ??:??"), link(m.url, esc(m.subject)),
      m.in_window and "" or esc(S.outside), esc(S.sender), esc(m.from))
  end
  o[#o + 1] = '</ol></details><p class="top"><a href="#contents">' .. esc(S.top) .. "</a></p></article>"
end

-- render(report) -> HTML string (one self-contained document).
-- "At a glance" (listdigest.attention): what happened, then what needs
-- someone, each item linked to its evidence.
local function glance(o, block, S, lang)
  local h = block.happened
  o[#o + 1] = ('<section id="glance"><h2>%s</h2><p>%s</p>'):format(esc(S.glance),
    esc(S.happened:format(#h.applied, #h.pulled, #h.new_series, #h.new_versions)))
  local function items(list)
    if #list == 0 then return end
    o[#o + 1] = "<ul>"
    for _, it in ipairs(list) do
      local label, why = attention.words(it, lang)
      o[#o + 1] = ('<li><span class="badge">%s</span> %s%s%s</li>'):format(esc(label),
        link(it.url, esc(it.title)), why ~= "" and (" — " .. esc(why)) or "",
        it.age_days and (' <span class="muted">(' .. esc(S.age:format(it.age_days)) .. ")</span>") or "")
    end
    o[#o + 1] = "</ul>"
  end
  items(h.applied)
  items(h.pulled)
  o[#o + 1] = ("<h3>%s</h3>"):format(esc(S.attention))
  if #block.attention == 0 then o[#o + 1] = ('<p class="muted">%s</p>'):format(esc(S.attention_none)) end
  items(block.attention)
  o[#o + 1] = "</section>"
end

function M.render(report)
  local S = STRINGS[report.lang] or STRINGS.en
  local st = report.stats
  local offline = not (report.cost and report.cost.model)
  local title = (offline and S.title_offline or S.title):format((report.list or ""):upper())
  local function human(s, secs) local t = s and timeutil.parse(s) return t and timeutil.human(t, secs) or "?" end
  local o = { '<!DOCTYPE html>\n<html lang="' .. S.html_lang .. '"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">', "<title>" .. esc(title) .. "</title>",
    "<style>\n" .. CSS .. "</style></head><body><main>",
    "<header><h1>" .. esc(title) .. "</h1>",
    ('<p class="muted">%s: %s<br>%s: %s</p>'):format(esc(S.generated), esc(human(report.generated_at, true)),
      esc(S.window), esc(S.window_fmt:format(human(report.window.since), human(report.window["until"])))),
    '<ul class="totals">' }
  for _, kv in ipairs({ { S.total_messages, st.messages }, { S.total_threads, st.threads },
    { S.participants, st.participants }, { S.large:format(st.large_thread_size or 0), st.large_threads } }) do
    o[#o + 1] = ("<li><b>%d</b>%s</li>"):format(kv[2] or 0, esc(kv[1]))
  end
  o[#o + 1] = "</ul></header>"
  if report.attention then glance(o, report.attention, S, report.lang) end
  o[#o + 1] = "<section><h2>" .. esc(S.charts) .. "</h2>"
  o[#o + 1] = day_chart(report, S)
  local catrows, sec = {}, {}
  for i, name in ipairs(report.categories) do
    local c = st.by_category[name]
    if c then
      sec[name] = i
      catrows[#catrows + 1] = { label = name, value = c.threads, href = "#cat-" .. i }
    end
  end
  o[#o + 1] = hbars(S.per_category, catrows, S)
  local idx, series = {}, {}
  for i, th in ipairs(report.threads) do
    idx[th] = i
    if th.series then series[#series + 1] = th end
  end
  table.sort(series, function(a, b)
    if a.message_count ~= b.message_count then return a.message_count > b.message_count end
    return idx[a] < idx[b]
  end)
  local srows = {}
  for i = 1, math.min(#series, 8) do
    srows[i] = { label = series[i].title, value = series[i].message_count, href = "#t-" .. idx[series[i]] }
  end
  o[#o + 1] = hbars(S.active_series, srows, S) .. "</section>"
  o[#o + 1] = '<nav id="contents"><h2>' .. esc(S.contents) .. "</h2><ul>"
  for _, name in ipairs(report.categories) do
    if sec[name] then
      o[#o + 1] = ('<li><a href="#cat-%d">%s</a> <span class="muted">(%d)</span><ol>'):format(sec[name], esc(name),
        st.by_category[name].threads)
      for _, th in ipairs(report.threads) do
        if th.category == name then
          o[#o + 1] = ('<li><a href="#t-%d">%s</a> <span class="muted">(%d)</span></li>'):format(idx[th], esc(th.title),
            th.message_count)
        end
      end
      o[#o + 1] = "</ol></li>"
    end
  end
  o[#o + 1] = "</ul></nav>"
  if #report.threads == 0 then o[#o + 1] = "<p>" .. esc(S.empty_week) .. "</p>" end
  for _, name in ipairs(report.categories) do
    if sec[name] then
      local c = st.by_category[name]
      o[#o + 1] = ('<section id="cat-%d"><h2>📌 %s</h2><p class="muted">%s</p>'):format(sec[name], esc(name),
        esc(S.section_count:format(c.threads, c.messages)))
      for _, th in ipairs(report.threads) do
        if th.category == name then card(o, idx[th], th, S) end
      end
      o[#o + 1] = "</section>"
    end
  end
  local c = report.cost or {}
  o[#o + 1] = "<footer><p>" .. esc(c.model and S.footer_llm:format(c.model, c.requests or 0, c.prompt_tokens or 0,
    c.completion_tokens or 0, c.cached or 0, c.failed or 0, c.money_usd and S.footer_money:format(c.money_usd) or "")
    or S.footer_offline) .. "</p></footer></main></body></html>\n"
  return table.concat(o, "\n")
end

return M
