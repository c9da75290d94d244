-- Sources of mail for the pipeline: where raw messages come from. A local
-- mbox / mbox.gz / single message file, or a Maildir; public-inbox over HTTP
-- comes with the fetch work. Parsing is not done here.
local mbox = require "listdigest.mbox"

local M = {}

-- What kind of source a --source string names: "url", "dir" or "file".
function M.kind(spec)
  if spec:match("^https?://") then return "url" end
  local f = io.open(spec .. "/.", "rb")
  if f then f:close() return "dir" end
  return "file"
end

-- A Maildir as a box with the mbox box's methods (count, message, messages,
-- close, format): one message per file, no From_ line.
local Maildir = {}
Maildir.__index = Maildir

function Maildir:count() return #self.paths end

function Maildir:message(i)
  local path = self.paths[i]
  local f, err = io.open(path, "rb")
  if not f then error(err, 2) end
  local raw = f:read("a")
  f:close()
  return raw, nil
end

function Maildir:messages()
  local i = 0
  return function()
    i = i + 1
    if i > #self.paths then return nil end
    return i, self:message(i)
  end
end

function Maildir:close() end

--[[
open(spec) -> box, or nil, message. A box has :count(), :message(i) ->
raw, from_line, :messages() (an iterator of i, raw, from_line), :close() and
.format. Every failure names the source; a source with no messages is one.
]]
function M.open(spec)
  local kind = M.kind(spec)
  local box, err
  if kind == "url" then
    return nil, spec .. ": fetching from a public-inbox server is not supported by this build yet; " ..
      "download the week as an mbox (for example <list>/?q=...&x=m) and pass the file"
  elseif kind == "dir" then
    local paths
    paths, err = mbox.maildir(spec)
    if not paths then return nil, err end
    box = setmetatable({ paths = paths, format = "maildir" }, Maildir)
  else
    box, err = mbox.open(spec)
    if not box then return nil, err end
  end
  if box:count() == 0 then
    box:close()
    return nil, spec .. ": no messages in this " .. (kind == "dir" and "Maildir" or "file (empty file?)")
  end
  return box
end

return M
