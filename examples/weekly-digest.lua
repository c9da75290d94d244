-- A custom weekly digest in a few lines: the busiest people, then every
-- thread as one line per category, with its reviewers.
--   listdigest run examples/weekly-digest.lua FILE.mbox [SINCE UNTIL] [RULES]
local ld = require "listdigest"

local source, since, till = arg[1], arg[2], arg[3]
if not source then
  io.stderr:write("usage: listdigest run examples/weekly-digest.lua FILE.mbox [SINCE UNTIL] [RULES]\n")
  return 1
end
local report = ld.report { source = source, rules = arg[4] or "kvmarm", since = since or "2022-01-24",
                           ["until"] = till or "2022-01-31", lang = "en" }

print(("# %s: %d threads, %d messages, %s .. %s\n"):format(report.list, report.stats.threads,
  report.stats.messages, report.window.since:sub(1, 10), report.window["until"]:sub(1, 10)))

-- Who wrote most in the window.
local posts = {}
for _, th in ipairs(report.threads) do
  for _, m in ipairs(th.messages) do
    if m.in_window then posts[m.from] = (posts[m.from] or 0) + 1 end
  end
end
local people = {}
for who, n in pairs(posts) do people[#people + 1] = { who = who, n = n } end
table.sort(people, function(a, b) return a.n > b.n or (a.n == b.n and a.who < b.who) end)
print("## Most active\n")
for i = 1, math.min(5, #people) do print(("%d. %s (%d)"):format(i, people[i].who, people[i].n)) end

-- One line per thread, grouped by category in the rules' order.
for _, cat in ipairs(report.categories) do
  local lines = {}
  for _, th in ipairs(report.threads) do
    if th.category == cat then
      local reviewers = #th.status.reviewed_by + #th.status.acked_by
      lines[#lines + 1] = ("- %s — %d msgs%s"):format(th.title, th.message_count,
        reviewers > 0 and (", %d review tags"):format(reviewers) or "")
    end
  end
  if #lines > 0 then
    print(("\n## %s (%d)\n"):format(cat, #lines))
    print(table.concat(lines, "\n"))
  end
end
return 0
