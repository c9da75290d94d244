-- `listdigest threads`: what threading and the rules decided, thread by
-- thread, so a rules author can see why a conversation landed where it did.
local json = require "listdigest.json"
local series = require "listdigest.series"

local M = {}

local function rows(report, ctx)
  local by_id = {}
  for _, t in ipairs(ctx.threads) do by_id[t.id] = t end
  local out = {}
  for _, th in ipairs(report.threads) do
    local t = by_id[th.id]
    local f = t.facts
    local tags = {}
    for k in pairs(f.tags) do tags[#tags + 1] = k end
    table.sort(tags)
    out[#out + 1] = {
      id = th.id, title = th.title, category = th.category, rule = t.rule,
      messages = #th.messages, in_window = th.message_count, root_missing = th.root_missing,
      series = th.series, tags = tags, stable = f.stable, paths = #f.paths,
      participants = #th.participants, started = th.started,
      grouping = th.grouping, describe = series.describe(t), state = th.status and th.status.state,
      status = th.status, pull = th.pull,
    }
  end
  return out
end

-- json(report, ctx) -> JSON text: { window=, threads = [...] , dropped_duplicates = N }
function M.json(report, ctx)
  return json.encode({
    list = report.list, window = report.window, stats = { messages = report.stats.messages,
    threads = report.stats.threads }, threads = rows(report, ctx),
    duplicates_dropped = #ctx.dropped, messages_read = #ctx.messages,
  }, { indent = 2 }) .. "\n"
end

-- text(report, ctx) -> a table for the terminal.
function M.text(report, ctx)
  local out = {}
  out[#out + 1] = ("%d threads, %d messages in %s .. %s (read %d, %d duplicates dropped)"):format(
    report.stats.threads, report.stats.messages, report.window.since, report.window["until"],
    #ctx.messages, #ctx.dropped)
  out[#out + 1] = ("%-12s %5s %5s  %-15s %-17s %s"):format("CATEGORY", "MSGS", "CTX", "RULE", "STATE", "TITLE")
  for _, r in ipairs(rows(report, ctx)) do
    out[#out + 1] = ("%-12s %5d %5d  %-15s %-17s %s%s"):format(r.category, r.in_window, r.messages - r.in_window,
      tostring(r.rule or "-"), r.state or "-", r.root_missing and "(root missing) " or "", r.title)
    if r.status and r.status.state_why then
      out[#out + 1] = (" "):rep(52) .. "state: " .. r.status.state_why
    end
    if r.describe and r.describe ~= "" then out[#out + 1] = (" "):rep(52) .. r.describe end
    if r.grouping and r.grouping.rule ~= "jwz" then
      out[#out + 1] = (" "):rep(52) .. "grouped (" .. r.grouping.rule .. "): " .. (r.grouping.why or "")
    end
  end
  return table.concat(out, "\n") .. "\n"
end

return M
