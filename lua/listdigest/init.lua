-- The listdigest API for report scripts (`listdigest run SCRIPT.lua`):
-- the pipeline's stages and the C modules under one name. Scripts are the
-- user's own programs and are not sandboxed; rules files are.
local pipeline = require "listdigest.pipeline"

local M = {
  mime = require "listdigest.mime",
  mbox = require "listdigest.mbox",
  thread = require "listdigest.thread",
  json = require "listdigest.json",
  subject = require "listdigest.subject",
  timeutil = require "listdigest.timeutil",
  pipeline = pipeline,
}

local function root()
  local ok, b = pcall(require, "listdigest._build")
  return ok and b.root or "."
end

-- rules(name_or_path) -> a loaded rules table (raises on a bad file).
function M.rules(name)
  local r, err = require("listdigest.rules").load(name or "default", { root = root() })
  if not r then error(err, 2) end
  return r
end

--[[
report{ source = FILE, rules = NAME|table, since = WHEN, until = WHEN, lang = }
  -> report model (DESIGN.md), ctx { messages, threads, ... }; raises on error.
]]
function M.report(o)
  local tu = M.timeutil
  local rules = type(o.rules) == "table" and o.rules or M.rules(o.rules)
  local till = o["until"] and assert(tu.parse(o["until"], tu.now())) or tu.now()
  local since = o.since and assert(tu.parse(o.since, till)) or till - 7 * 86400
  local report, ctx = pipeline.run({ source = o.source or rules.source, rules = rules,
    window = { since = since, ["until"] = till }, lang = o.lang })
  if not report then error(ctx, 2) end
  return report, ctx
end

-- render(report, "markdown"|"json") -> string.
function M.render(report, layout) return require("listdigest.render").render(report, layout) end

return M
