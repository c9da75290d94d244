-- Sources of mail for the pipeline: where raw messages come from. A local
-- mbox / mbox.gz / single message file, a Maildir, a local public-inbox v2
-- mirror, or a public-inbox server over HTTP (fetched into the store first).
-- Every source is opened as a "box": count(), message(i) -> raw, from_line,
-- messages() (i, raw, from_line), close(), format. Parsing is not done here.
local mbox = require "listdigest.mbox"

local M = {}

-- What kind of source a --source string names: "url", "dir" or "file".
function M.kind(spec)
  if spec:match("^https?://") then return "url" end
  local f = io.open(spec .. "/.", "rb")
  if f then f:close() return "dir" end
  return "file"
end

-- A box over messages fetched one at a time by a function (Maildir files,
-- store rows): get(i) -> raw.
local Box = {}
Box.__index = Box

local function new_box(n, get, format, close)
  return setmetatable({ n = n, get = get, format = format, on_close = close }, Box)
end

function Box:count() return self.n end

function Box:message(i)
  if i < 1 or i > self.n then return nil end
  return self.get(i), nil
end

function Box:messages()
  local i = 0
  return function()
    i = i + 1
    if i > self.n then return nil end
    return i, self.get(i), nil
  end
end

function Box:close()
  if self.on_close then self.on_close() end
  self.on_close = nil
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then error(err, 0) end
  local raw = f:read("a")
  f:close()
  return raw
end

-- The default store: $XDG_CACHE_HOME/listdigest/listdigest.db, else
-- ~/.cache/listdigest/listdigest.db.
function M.default_db()
  local base = os.getenv("XDG_CACHE_HOME")
  if not base or base == "" then base = (os.getenv("HOME") or ".") .. "/.cache" end
  return base .. "/listdigest/listdigest.db"
end

local function mkdir_for(path)
  local dir = path:match("^(.*)/[^/]*$")
  if dir and dir ~= "" then os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'") end
end

-- Opens the store at path (creating its folder); nil, message on failure.
function M.open_store(path)
  local store = require "listdigest.store"
  mkdir_for(path)
  return store.open(path)
end

-- An attempt that receives nothing for this long has stalled (seconds).
M.STALL = 20

--[[
http_client(o) -> an HTTP client for a public-inbox server. o: timeout
(seconds an attempt may take in all, default 120), progress, retries. An
attempt that receives nothing for M.STALL seconds (or the timeout, if less)
is tried once more only, so a server that accepts and never answers fails
in under a minute.
]]
function M.http_client(o)
  local timeout = o.timeout or 120
  return require("listdigest.http").client {
    progress = o.progress, retries = o.retries, timeout = timeout, stall_timeout = math.min(M.STALL, timeout),
  }
end

--[[
fetch(spec, ctx) -> summary, store | nil, message, exit_code
Fetches the window from the public-inbox server at spec into the store
ctx.db (default M.default_db()). ctx: window = {since=, until=}, list,
list_ids, progress (bool|nil), timeout (see http_client).
]]
function M.fetch(spec, ctx)
  local fetch = require "listdigest.fetch"
  local st, err = M.open_store(ctx.db or M.default_db())
  if not st then return nil, err, 1 end
  local client = M.http_client { progress = ctx.progress, timeout = ctx.timeout }
  local list = ctx.list or spec:match("/([^/]+)/*$") or "list"
  local summary, ferr, code = fetch.week {
    base = spec:sub(-1) == "/" and spec or spec .. "/", list = list, list_ids = ctx.list_ids,
    since = ctx.window.since, ["until"] = ctx.window["until"], store = st, http = client,
  }
  client:close()
  if not summary then
    st:close()
    return nil, ferr, code or 2   -- 2: the server failed; 1: the store did (configuration)
  end
  return summary, st
end

--[[
open(spec, ctx) -> box, or nil, message, exit_code. ctx is needed only for
URLs (see fetch). Every failure names the source; a source with no messages
is one.
]]
function M.open(spec, ctx)
  local kind = M.kind(spec)
  local box, err, code
  if kind == "url" then
    local summary, st
    summary, st, code = M.fetch(spec, ctx or {})
    if not summary then return nil, st, code end
    local ids = summary.ids
    box = new_box(#ids, function(i) return st:raw(ids[i]) end, "store", function() st:close() end)
    box.fetch = summary
  elseif kind == "dir" and require("listdigest.fetch").is_v2(spec) then
    local raws
    raws, err = require("listdigest.fetch").read_v2(spec)
    if not raws then return nil, err, 2 end
    box = new_box(#raws, function(i) return raws[i] end, "public-inbox-v2")
  elseif kind == "dir" then
    local paths
    paths, err = mbox.maildir(spec)
    if not paths then return nil, err, 2 end
    box = new_box(#paths, function(i) return read_file(paths[i]) end, "maildir")
  else
    box, err = mbox.open(spec)
    if not box then return nil, err, 2 end
  end
  if box:count() == 0 then
    box:close()
    if kind == "url" then
      -- a week with no mail is a valid, empty report, not a failure
      return new_box(0, function() end, "store")
    end
    return nil, spec .. ": no messages in this " .. (kind == "dir" and "folder" or "file (empty file?)"), 2
  end
  return box
end

return M
