-- Sources of mail for the pipeline: where raw messages come from. Today a
-- local mbox / mbox.gz / single message file; public-inbox over HTTP and
-- Maildir come with the fetch work. Parsing is not done here.
local mbox = require "listdigest.mbox"

local M = {}

-- What kind of source a --source string names: "url", "dir" or "file".
function M.kind(spec)
  if spec:match("^https?://") then return "url" end
  local f = io.open(spec .. "/.", "rb")
  if f then f:close() return "dir" end
  return "file"
end

-- open(spec) -> box (see listdigest.mbox: box:count(), box:message(i)),
-- or nil, message. Every failure names the source.
function M.open(spec)
  local kind = M.kind(spec)
  if kind == "url" then
    return nil, spec .. ": fetching from a public-inbox server is not supported by this build yet; " ..
      "download the week as an mbox (for example <list>/?q=...&x=m) and pass the file"
  elseif kind == "dir" then
    return nil, spec .. ": is a directory; Maildir sources are not supported by this build yet"
  end
  local box, err = mbox.open(spec)
  if not box then return nil, err end
  if box:count() == 0 then
    box:close()
    return nil, spec .. ": no messages in this file (empty file?)"
  end
  return box
end

return M
