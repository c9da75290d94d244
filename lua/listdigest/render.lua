-- Chooses a layout and renders the report model with it. A layout is a Lua
-- module listdigest.layouts.NAME with render(report) -> string.
local M = {}

-- render(report, layout_name [, rules]) -> string. The Markdown layout may be
-- replaced by the rules' `layout` field.
function M.render(report, name, rules)
  if name == "markdown" and rules and rules.layout then name = rules.layout end
  local ok, layout = pcall(require, "listdigest.layouts." .. name)
  if not ok then error(("unknown layout '%s': %s"):format(name, layout), 0) end
  return layout.render(report)
end

return M
