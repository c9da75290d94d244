-- Loads rules files (rules/*.lua) into a sandbox, validates them and runs
-- their functions under an instruction budget; classifies a thread with them.
-- The rules files themselves (fields, inheritance, helpers) are documented at
-- the top of rules/default.lua.  This module is trusted code: it alone may set
-- debug hooks and open files; it never decides a category itself.
local subject = require "listdigest.subject"

local M = {}

M.LOAD_BUDGET = 20000000 -- VM instructions for loading one file, inherits included
M.CALL_BUDGET = 2000000  -- VM instructions for one call of a rules function
M.MEMORY_LIMIT_KB = 256 * 1024 -- growth of the Lua heap allowed during one budgeted run
M.STRING_REP_MAX = 1024 * 1024 -- largest string that string.rep may build in a sandbox

local HOOK_STEP = 1000 -- the count hook fires every HOOK_STEP instructions

---------------------------------------------------------------------------
-- Small utilities
---------------------------------------------------------------------------

local function deepcopy(v, seen)
  if type(v) ~= "table" then return v end
  seen = seen or {}
  if seen[v] then return seen[v] end
  local out = {}
  seen[v] = out
  for k, x in pairs(v) do out[deepcopy(k, seen)] = deepcopy(x, seen) end
  return out
end

local function levenshtein(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- " (did you mean 'x'?)" for the closest candidate within a small distance, else "".
local function did_you_mean(word, candidates)
  if type(word) ~= "string" then return "" end
  local best, best_d
  local lw = word:lower()
  for _, c in ipairs(candidates) do
    local d = levenshtein(lw, c:lower())
    if not best_d or d < best_d or (d == best_d and c < best) then best, best_d = c, d end
  end
  if best and best_d <= math.max(2, #word // 3) then
    return (" (did you mean '%s'?)"):format(best)
  end
  return ""
end

-- Keys of t sorted (numbers before strings, then by value) for stable messages.
local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return out
end

-- A value quoted for a message: 'categorys', 42, nil.
local function qstr(v)
  if type(v) == "string" then return "'" .. v .. "'" end
  return tostring(v)
end

---------------------------------------------------------------------------
-- The budget.  A count hook on the running coroutine counts instructions of
-- everything inside the region (the rules' code and the helpers it calls);
-- past the budget it raises, and keeps raising on every further instruction
-- so that a rules file cannot swallow the error with pcall and go on.  While
-- a region runs, the string metatable's __index is the sandbox's string table
-- so that ("").dump is unreachable too.  Regions do not nest: an inherit()
-- during a load runs under the outer load's budget.
---------------------------------------------------------------------------

local safe_string = {}
for k, v in pairs(string) do
  if k ~= "dump" then safe_string[k] = v end
end
safe_string.rep = function(s, n, sep)
  local len = #tostring(s) * math.max(0, tonumber(n) or 0) + #tostring(sep or "") * math.max(0, (tonumber(n) or 0) - 1)
  if len > M.STRING_REP_MAX then
    error(("string.rep: result of %d bytes exceeds the rules sandbox limit of %d"):format(len, M.STRING_REP_MAX), 2)
  end
  return string.rep(s, n, sep)
end

local region = nil -- { exhausted = msg|nil, where = " in ..." } while a budgeted region runs

local budgeted
budgeted = function(budget, what, f, ...)
  if region then return pcall(f, ...) end
  local old_hook, old_mask, old_count = debug.gethook()
  local smt = getmetatable("")
  local old_index = smt.__index
  local mem0 = collectgarbage("count")
  local used = 0
  local state = { where = "" }
  -- The hook never raises while budgeted itself runs (before or after its
  -- pcall): the error must stay inside the pcall.
  local function interrupted_is_budgeted()
    local i = debug.getinfo(3, "f")
    return i ~= nil and i.func == budgeted
  end
  local function keep_raising()
    if not interrupted_is_budgeted() then error(state.exhausted, 0) end
  end
  local function fail(msg)
    state.exhausted = msg
    debug.sethook(keep_raising, "", 1)
    error(msg, 0)
  end
  region = state
  smt.__index = safe_string
  debug.sethook(function()
    if interrupted_is_budgeted() then return end
    used = used + HOOK_STEP
    if used > budget then fail(what .. ": instruction budget exceeded" .. state.where) end
    if collectgarbage("count") - mem0 > M.MEMORY_LIMIT_KB then
      fail(what .. ": memory limit exceeded" .. state.where)
    end
  end, "", HOOK_STEP)
  local r = table.pack(pcall(f, ...))
  if type(old_hook) == "function" then
    debug.sethook(old_hook, old_mask, old_count)
  else
    debug.sethook()
  end
  smt.__index = old_index
  region = nil
  return table.unpack(r, 1, r.n)
end

-- pcall/xpcall for the sandbox: once the budget is gone, re-raise.
local function sandbox_pcall(f, ...)
  local r = table.pack(pcall(f, ...))
  if region and region.exhausted then error(region.exhausted, 0) end
  return table.unpack(r, 1, r.n)
end
local function sandbox_xpcall(f, handler, ...)
  local r = table.pack(xpcall(f, handler, ...))
  if region and region.exhausted then error(region.exhausted, 0) end
  return table.unpack(r, 1, r.n)
end

---------------------------------------------------------------------------
-- Validation
---------------------------------------------------------------------------

-- Top-level fields a rules file may set (see rules/default.lua).
local FIELDS = {
  "list", "source", "list_ids", "description", "language", "glossary",
  "categories", "report_order", "prompts", "layout", "large_thread", "prices", "applied_patterns",
  "attention_after_days", "llm_params",
}
local FIELD_SET = {}
for _, f in ipairs(FIELDS) do FIELD_SET[f] = true end
local CATEGORY_FIELDS = { "name", "match", "description" }
local CATEGORY_FIELD_SET = { name = true, match = true, description = true }
local LANGUAGES = { zh = true, en = true }

local function is_array(t)
  if type(t) ~= "table" then return false end
  local n = #t
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

local function check_string_array(r, field, path)
  local v = r[field]
  if v == nil then return true end
  if not is_array(v) then
    return nil, ("%s: %s must be an array of strings"):format(path, field)
  end
  for i, s in ipairs(v) do
    if type(s) ~= "string" or s == "" then
      return nil, ("%s: %s[%d] must be a non-empty string (got %s)"):format(path, field, i, qstr(s))
    end
  end
  return true
end

-- validate(r, path) -> true | nil, message naming path
local function validate(r, path)
  for _, k in ipairs(sorted_keys(r)) do
    if not FIELD_SET[k] then
      return nil, ("%s: unknown field %s%s"):format(path, qstr(k), did_you_mean(k, FIELDS))
    end
  end
  for _, f in ipairs{ "list", "source", "description", "layout" } do
    if r[f] ~= nil and (type(r[f]) ~= "string" or r[f] == "") then
      return nil, ("%s: %s must be a non-empty string (got %s)"):format(path, f, qstr(r[f]))
    end
  end
  if r.layout and not r.layout:match("^[%w_-]+$") then
    return nil, ("%s: layout must be a layout name such as \"markdown\" (got %s)"):format(path, qstr(r.layout))
  end
  if r.llm_params ~= nil then
    if type(r.llm_params) ~= "table" then
      return nil, ("%s: llm_params must be a table of model = {parameters} (got %s)"):format(path, qstr(r.llm_params))
    end
    for model, p in pairs(r.llm_params) do
      if type(model) ~= "string" or type(p) ~= "table" then
        return nil, ("%s: llm_params[%s] must be a table of request parameters"):format(path, qstr(model))
      end
    end
  end
  if r.attention_after_days ~= nil and (type(r.attention_after_days) ~= "number" or r.attention_after_days < 0) then
    return nil, ("%s: attention_after_days must be a number of days >= 0 (got %s)"):format(path,
      qstr(r.attention_after_days))
  end
  if r.large_thread ~= nil and (math.type(r.large_thread) ~= "integer" or r.large_thread < 1) then
    return nil, ("%s: large_thread must be a positive integer (got %s)"):format(path, qstr(r.large_thread))
  end
  if r.prices ~= nil then
    if type(r.prices) ~= "table" then
      return nil, ("%s: prices must be a table {[\"model\"] = {prompt = N, completion = N}}"):format(path)
    end
    for _, model in ipairs(sorted_keys(r.prices)) do
      local p = r.prices[model]
      if type(model) ~= "string" or type(p) ~= "table" or type(p.prompt) ~= "number" or type(p.completion) ~= "number"
        or p.prompt < 0 or p.completion < 0 then
        return nil, ("%s: prices[%s] must be {prompt = N, completion = N} (US dollars per million tokens)")
          :format(path, qstr(model))
      end
    end
  end
  local pok, perr = check_string_array(r, "applied_patterns", path)
  if not pok then return nil, perr end
  for i, pat in ipairs(r.applied_patterns or {}) do
    local good, why = pcall(string.find, "", pat)
    if not good then
      return nil, ("%s: applied_patterns[%d] is not a Lua pattern: %s"):format(path, i, tostring(why):gsub("^.-: ", ""))
    end
  end
  local ok, err = check_string_array(r, "list_ids", path)
  if not ok then return nil, err end
  if r.language == nil then r.language = "en" end -- a file of its own need not say
  if not LANGUAGES[r.language] then
    return nil, ("%s: language must be \"zh\" or \"en\" (got %s)"):format(path, qstr(r.language))
  end
  if r.glossary ~= nil then
    if type(r.glossary) ~= "table" then
      return nil, ("%s: glossary must be a table of term = \"meaning\""):format(path)
    end
    for _, k in ipairs(sorted_keys(r.glossary)) do
      local v = r.glossary[k]
      if type(k) ~= "string" or k == "" then
        return nil, ("%s: glossary keys must be non-empty strings (got %s)"):format(path, qstr(k))
      end
      if type(v) ~= "string" or v == "" then
        return nil, ("%s: glossary[%s] must be a non-empty string (got %s)"):format(path, qstr(k), qstr(v))
      end
    end
  end
  -- categories
  local cats = r.categories
  if not is_array(cats) or #cats == 0 then
    return nil, ("%s: categories must be a non-empty array of { name = ..., match = function(t) ... end }"):format(path)
  end
  local names, name_list, defaults = {}, {}, {}
  for i, c in ipairs(cats) do
    if type(c) ~= "table" then
      return nil, ("%s: categories[%d] must be a table (got %s)"):format(path, i, qstr(c))
    end
    for _, k in ipairs(sorted_keys(c)) do
      if not CATEGORY_FIELD_SET[k] then
        return nil, ("%s: categories[%d] has unknown field %s%s"):format(path, i, qstr(k), did_you_mean(k, CATEGORY_FIELDS))
      end
    end
    if type(c.name) ~= "string" or c.name == "" then
      return nil, ("%s: categories[%d] has no name"):format(path, i)
    end
    if names[c.name] then
      return nil, ("%s: categories[%d]: duplicate category name %s"):format(path, i, qstr(c.name))
    end
    names[c.name] = true
    name_list[#name_list + 1] = c.name
    if c.match == nil then
      defaults[#defaults + 1] = c.name
    elseif type(c.match) ~= "function" then
      return nil, ("%s: categories[%d].match (%s) must be a function (got %s)"):format(path, i, c.name, type(c.match))
    end
    if c.description ~= nil and type(c.description) ~= "string" then
      return nil, ("%s: categories[%d].description must be a string"):format(path, i)
    end
  end
  if #defaults ~= 1 then
    return nil, ("%s: exactly one category must have no match function (the default); found %d%s"):format(
      path, #defaults, #defaults > 1 and (": " .. table.concat(defaults, ", ")) or "")
  end
  -- report_order
  if r.report_order ~= nil then
    local ok2, err2 = check_string_array(r, "report_order", path)
    if not ok2 then return nil, err2 end
    local seen = {}
    for i, n in ipairs(r.report_order) do
      if not names[n] then
        return nil, ("%s: report_order[%d] names no category: %s%s"):format(path, i, qstr(n), did_you_mean(n, name_list))
      end
      if seen[n] then return nil, ("%s: report_order lists %s twice"):format(path, qstr(n)) end
      seen[n] = true
    end
  end
  -- prompts
  if type(r.prompts) ~= "table" then
    return nil, ("%s: prompts must be a table with at least a \"default\" prompt"):format(path)
  end
  local prompt_keys = { "system", "default" }
  for _, n in ipairs(name_list) do prompt_keys[#prompt_keys + 1] = n end
  for _, k in ipairs(sorted_keys(r.prompts)) do
    local v = r.prompts[k]
    if type(k) ~= "string" or not (k == "system" or k == "default" or names[k]) then
      return nil, ("%s: prompts[%s] names no category%s"):format(path, qstr(k), did_you_mean(k, prompt_keys))
    end
    if type(v) ~= "string" or v == "" then
      return nil, ("%s: prompts[%s] must be a non-empty string"):format(path, qstr(k))
    end
  end
  if not r.prompts.default then
    return nil, ("%s: prompts.default is missing"):format(path)
  end
  return true
end

---------------------------------------------------------------------------
-- The sandbox
---------------------------------------------------------------------------

local SAFE_BASE = {
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
  select = select, tonumber = tonumber, tostring = tostring, type = type,
  rawequal = rawequal, rawget = rawget, rawlen = rawlen, unpack = table.unpack,
  pcall = sandbox_pcall, xpcall = sandbox_xpcall,
}
-- Deliberately absent: io, os, require, load, loadstring, dofile, loadfile,
-- debug, package, collectgarbage, print (stdout may carry the report);
-- setmetatable (a __gc finalizer would run later, outside any budget) and
-- getmetatable (reaches the shared string metatable); rawset (would create
-- globals behind the unknown-global check, and there are no metatables to
-- bypass); coroutine (a count hook is per coroutine: a new coroutine would
-- run without a budget).
local SAFE_LIBS = { string = safe_string, table = table, math = math, utf8 = utf8 }

local function starts_with_any(s, ...)
  if type(s) ~= "string" then return false end
  for i = 1, select("#", ...) do
    local p = select(i, ...)
    if s:sub(1, #p) == p then return true end
  end
  return false
end

-- Helpers every rules file sees (documented in rules/default.lua).
local function make_helpers(load_inherited)
  local h = {}

  function h.inherit(name)
    if type(name) ~= "string" then error("inherit: expected a rules name or path", 2) end
    local r, err = load_inherited(name)
    if not r then error(("inherit %s: %s"):format(qstr(name), err), 2) end
    return r
  end

  function h.extend(base, overrides)
    if type(base) == "string" then base = h.inherit(base) end
    if type(base) ~= "table" or type(overrides) ~= "table" then
      error("extend: expected (base rules table or name, overrides table)", 2)
    end
    local out = deepcopy(base)
    for k, v in pairs(overrides) do
      if (k == "glossary" or k == "prompts") and type(v) == "table" and type(out[k]) == "table" then
        for term, text in pairs(v) do
          if text == false then out[k][term] = nil else out[k][term] = text end
        end
      else
        out[k] = v
      end
    end
    if overrides.categories ~= nil then
      -- Base prompts and report order name the base's categories: keep only
      -- what still names a category.
      local names = {}
      for _, c in ipairs(type(out.categories) == "table" and out.categories or {}) do
        if type(c) == "table" and c.name then names[c.name] = true end
      end
      if type(out.prompts) == "table" then
        local fresh = overrides.prompts or {}
        for k in pairs(out.prompts) do
          if k ~= "system" and k ~= "default" and not names[k] and fresh[k] == nil then
            out.prompts[k] = nil
          end
        end
      end
      if overrides.report_order == nil then out.report_order = nil end
    end
    return out
  end

  function h.category(r, name)
    local names = {}
    for _, c in ipairs(type(r) == "table" and type(r.categories) == "table" and r.categories or {}) do
      if c.name == name then return c end
      names[#names + 1] = c.name
    end
    error(("category: no category %s%s"):format(qstr(name), did_you_mean(name, names)), 2)
  end

  function h.has_path(t, ...)
    for _, p in ipairs(type(t.paths) == "table" and t.paths or {}) do
      if starts_with_any(p, ...) then return true end
    end
    return false
  end

  function h.all_paths(t, ...)
    local paths = type(t.paths) == "table" and t.paths or {}
    if #paths == 0 then return false end
    for _, p in ipairs(paths) do
      if not starts_with_any(p, ...) then return false end
    end
    return true
  end

  function h.title_has(t, ...)
    local title = type(t.title) == "string" and t.title:lower() or ""
    for i = 1, select("#", ...) do
      if title:find(select(i, ...):lower(), 1, true) then return true end
    end
    return false
  end

  h.parse_subject = subject.parse
  return h
end

local function make_env(helpers)
  local env = {}
  for k, v in pairs(SAFE_BASE) do env[k] = v end
  for k, lib in pairs(SAFE_LIBS) do
    local copy = {}
    for name, f in pairs(lib) do copy[name] = f end
    env[k] = copy
  end
  for k, v in pairs(helpers) do env[k] = v end
  local known = sorted_keys(env)
  return setmetatable(env, {
    __index = function(_, k)
      error(("unknown global %s%s"):format(qstr(k), did_you_mean(k, known)), 2)
    end,
    __newindex = function(_, k)
      error(("unknown global %s (rules files declare variables with local)"):format(qstr(k)), 2)
    end,
  })
end

---------------------------------------------------------------------------
-- Loading
---------------------------------------------------------------------------

local function resolve(name, root)
  if name:find("/", 1, true) or name:match("%.lua$") then return name end
  if not name:match("^[%w_.-]+$") then
    return nil, ("bad rules name %s (use a name such as \"kvmarm\" or a path)"):format(qstr(name))
  end
  if root == nil or root == "" or root == "." then return "rules/" .. name .. ".lua" end
  return (root:gsub("/+$", "")) .. "/rules/" .. name .. ".lua"
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  if not s then return nil, path .. ": read failed" end
  return s
end

-- load_raw(name, ctx) -> validated table as the file returned it | nil, err
-- ctx = { root =, budget =, stack = { paths being loaded } }
local function load_raw(name, ctx)
  local path, err = resolve(name, ctx.root)
  if not path then return nil, err end
  for _, p in ipairs(ctx.stack) do
    if p == path then
      return nil, ("inheritance cycle: %s -> %s"):format(table.concat(ctx.stack, " -> "), path)
    end
  end
  local src, rerr = read_file(path)
  if not src then return nil, ("%s: cannot read rules file: %s"):format(path, rerr) end
  local helpers = make_helpers(function(n)
    local r, e = load_raw(n, ctx)
    if not r then return nil, e end
    return deepcopy(r)
  end)
  local chunk, cerr = load(src, "@" .. path, "t", make_env(helpers))
  if not chunk then return nil, cerr end
  ctx.stack[#ctx.stack + 1] = path
  local ok, res = budgeted(ctx.budget, path, chunk)
  ctx.stack[#ctx.stack] = nil
  if not ok then
    if type(res) == "string" and res:match(": instruction budget exceeded$") then
      res = res .. " while loading"
    end
    return nil, tostring(res)
  end
  if type(res) ~= "table" then
    return nil, ("%s: a rules file must return a table (got %s)"):format(path, type(res))
  end
  local vok, verr = validate(res, path)
  if not vok then return nil, verr end
  return res
end

local info = setmetatable({}, { __mode = "k" }) -- loaded rules -> { path, call_budget }

--- rules.load(name_or_path, opts) -> rules | nil, err
-- name_or_path: "kvmarm" (resolved to <opts.root>/rules/kvmarm.lua, or
-- rules/kvmarm.lua when root is nil or ".") or a path to any file (contains
-- "/" or ends in ".lua").  opts (optional): root, load_budget, call_budget
-- (VM instructions; defaults M.LOAD_BUDGET, M.CALL_BUDGET).
-- The file is loaded as text with chunk name "@"..path, so every message
-- names file and line.  Returns the validated table plus two computed fields:
--   report_order      array of every category name in report order
--                     (the file's report_order, then unlisted categories
--                     in categories order)
--   default_category  name of the one category without match
-- Every failure (missing file, syntax, runtime error, budget, validation)
-- returns nil and a message; only a non-string name raises.
function M.load(name, opts)
  if type(name) ~= "string" or name == "" then
    error("rules.load: expected a rules name or path, got " .. type(name), 2)
  end
  opts = opts or {}
  local ctx = { root = opts.root, budget = opts.load_budget or M.LOAD_BUDGET, stack = {} }
  local raw, err = load_raw(name, ctx)
  if not raw then return nil, err end
  local r = {}
  for k, v in pairs(raw) do r[k] = v end
  local order, listed = {}, {}
  for _, n in ipairs(raw.report_order or {}) do order[#order + 1] = n; listed[n] = true end
  for _, c in ipairs(raw.categories) do
    if not listed[c.name] then order[#order + 1] = c.name end
    if c.match == nil then r.default_category = c.name end
  end
  r.report_order = order
  r.layout = r.layout or "markdown"
  info[r] = { path = resolve(name, opts.root), call_budget = opts.call_budget or M.CALL_BUDGET }
  return r
end

--- rules.path(r) -> string | nil
-- The path r was loaded from (as used in its chunk name).
function M.path(r)
  return info[r] and info[r].path
end

local function source_of(f, fallback)
  local ok, i = pcall(debug.getinfo, f, "S")
  if ok and i and i.source and i.source:sub(1, 1) == "@" then return i.source:sub(2) end
  return fallback
end

--- rules.call(r, label, f, ...) -> true, results... | false, err
-- Calls a function from a loaded rules table (a match function, a hook)
-- protected and under r's call budget.  label names it in messages, e.g.
-- "categories[2].match"; a budget overrun reads
-- "rules/kvmarm.lua: instruction budget exceeded in categories[2].match".
-- Always call rules functions through here (or classify): outside a budgeted
-- region the sandbox's string restrictions do not apply.
function M.call(r, label, f, ...)
  if type(f) ~= "function" then error("rules.call: expected a function for " .. tostring(label), 2) end
  local meta = info[r] or {}
  local file = source_of(f, meta.path or "rules")
  local budget = meta.call_budget or M.CALL_BUDGET
  local args = table.pack(...)
  local function run()
    region.where = " in " .. label
    return f(table.unpack(args, 1, args.n))
  end
  local res = table.pack(budgeted(budget, file, run))
  if not res[1] then
    local e = tostring(res[2])
    if not e:find(" in " .. label, 1, true) then e = e .. " (in " .. label .. ")" end
    return false, e
  end
  return table.unpack(res, 1, res.n)
end

--- rules.classify(r, t) -> category name, rule | nil, err
-- r: a table from rules.load; t: the thread facts table the pipeline builds
-- (title, subject, tags, prefixes, version, series, stable, paths, messages,
-- participants, list).  Match functions see a deep copy of t, are tried in
-- categories order (the default category is skipped) and the first that
-- returns a true value wins; none → r.default_category.  A match function
-- that raises or exceeds the budget makes classify return nil and the
-- message (file:line ... (in categories[i].match)); the caller may fall back
-- to r.default_category and report the message.  rule names what decided,
-- for `listdigest threads`: the name of the category whose match function
-- returned true, or "default" (no match function did).
function M.classify(r, t)
  if type(r) ~= "table" or type(r.categories) ~= "table" then
    error("rules.classify: expected a rules table from rules.load", 2)
  end
  if type(t) ~= "table" then error("rules.classify: expected a thread facts table", 2) end
  local tc = deepcopy(t)
  for i, c in ipairs(r.categories) do
    if c.match then
      local ok, hit = M.call(r, ("categories[%d].match"):format(i), c.match, tc)
      if not ok then return nil, hit end
      if hit then return c.name, c.name end
    end
  end
  return r.default_category, "default"
end

--- rules.prompt(r, category) -> string
-- The prompt template for category: prompts[category], else prompts.default.
function M.prompt(r, category)
  return r.prompts[category] or r.prompts.default
end

local function escape_pattern(s) return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end

--- rules.glossary_for(r, text) -> array of { term =, meaning = }
-- The glossary entries relevant to text, sorted by term: a plain term when
-- it occurs in text as a whole word (case-sensitive); a pattern term ending
-- in "*" (e.g. "FEAT_*") when text has a word starting with its stem.
-- text nil or "" → every entry (for a prompt that wants the full glossary).
function M.glossary_for(r, text)
  local out = {}
  local words
  if text and text ~= "" then
    -- one pass over the text: its words, for the common one-word terms
    -- (a frontier pattern per term rescans the whole thread every time)
    words = {}
    for w in text:gmatch("[%w_]+") do words[w] = true end
  end
  for _, term in ipairs(sorted_keys(r.glossary or {})) do
    local hit
    if not words then
      hit = true
    elseif term:sub(-1) == "*" then
      -- "FEAT_*": a word that starts with the stem and goes on
      local stem = term:sub(1, -2)
      for w in pairs(words) do
        if #w > #stem and w:sub(1, #stem) == stem then hit = true break end
      end
      hit = hit or text:find(escape_pattern(stem) .. "{") ~= nil
    elseif term:match("^[%w_]+$") then
      hit = words[term] == true
    else
      -- Word boundaries only where the term itself starts/ends with a word
      -- character ("-rc" and "cover letter" are glossary terms too).
      local pat = escape_pattern(term)
      if term:find("^[%w_]") then pat = "%f[%w_]" .. pat end
      if term:find("[%w_]$") then pat = pat .. "%f[^%w_]" end
      hit = text:find(term, 1, true) ~= nil and text:find(pat) ~= nil
    end
    if hit then out[#out + 1] = { term = term, meaning = r.glossary[term] } end
  end
  return out
end

--- rules.fill(template, vars) -> string
-- Replaces each {{name}} in template with tostring(vars[name]).  A name
-- missing from vars raises (a caller mistake: the prompt needs it).
function M.fill(template, vars)
  return (template:gsub("{{%s*([%w_]+)%s*}}", function(k)
    local v = vars[k]
    if v == nil then error(("rules.fill: no value for {{%s}}"):format(k), 3) end
    return tostring(v)
  end))
end

-- Exposed for specs.
M._validate = validate
M._did_you_mean = did_you_mean

return M
