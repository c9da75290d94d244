-- The JSON report: DESIGN.md's report model, serialised with sorted keys so
-- two runs over the same mail differ only where the mail or the time does.
local json = require "listdigest.json"

local M = {}

-- render(report) -> JSON text (2-space indent, trailing newline).
function M.render(report)
  local copy = {}
  for k, v in pairs(report) do copy[k] = v end
  copy.stats = {}
  for k, v in pairs(report.stats) do copy.stats[k] = v end
  copy.stats.by_category = json.object(report.stats.by_category)
  copy.format = "listdigest-report/1"
  return json.encode(copy, { indent = 2 }) .. "\n"
end

return M
