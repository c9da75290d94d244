-- Specification of listdigest.mbox: splitting mbox files (RFC 4155, mboxo and
-- mboxrd), .gz archives and single raw messages into messages, on real mail.
-- The header scan and message bodies are not interpreted here (see mime_spec).
local mbox = require "listdigest.mbox"

local FIX = "tests/fixtures/mbox/"
local W04_PATHS = { "examples/kvmarm-2022-W04.mbox", H.corpus .. "/kernel-lists/kvmarm/kvmarm-2022-W04.mbox" }

local function gunzip(path)
  local code, out = H.run("gzip -dc " .. H.shquote(path))
  assert(code == 0, "gzip -dc " .. path)
  return out
end

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- The MANIFEST's way of counting messages: lines that begin "From ".
local function count_from_lines(data)
  local n = data:sub(1, 5) == "From " and 1 or 0
  for _ in data:gmatch("\nFrom ") do n = n + 1 end
  return n
end

local function count(data, pat)
  local n = 0
  for _ in ("\n" .. data):gmatch(pat) do n = n + 1 end
  return n
end

local function all_messages(box)
  local raws, froms = {}, {}
  for i, raw, from in box:messages() do
    raws[i], froms[i] = raw, from
  end
  return raws, froms
end

local tmp
setup(function() tmp = H.tmpdir() end)
teardown(function() os.execute("rm -rf " .. H.shquote(tmp)) end)

describe("mbox.open on a public-inbox (mboxrd) week of kvmarm", function()
  local gz = FIX .. "kvmarm-2021-W11.mbox.gz"
  local data, box

  setup(function()
    data = gunzip(gz)
    box = assert(mbox.open(gz))
  end)
  teardown(function() box:close() end)

  it("finds as many messages as there are ^From lines (301)", function()
    assert.are.equal(301, count_from_lines(data))
    assert.are.equal(301, box:count())
    assert.are.equal(301, #box)
  end)

  it("recognises the gzip container by its magic bytes and the mboxrd flavour", function()
    assert.is_true(box.compressed)
    assert.are.equal("mboxrd", box.format)
  end)

  it("returns the whole From_ line without its line end", function()
    local _, from = box:message(1)
    assert.are.equal("From mboxrd@z Thu Jan  1 00:00:00 1970", from)
  end)

  it("gives every message starting with its first header field", function()
    for i, raw in box:messages() do
      assert.is_truthy(raw:match("^[!-9;-~]+:"), "message " .. i)
    end
  end)

  it("unquotes the 15 >From body lines and leaves no quoted line behind", function()
    assert.are.equal(15, count(data, "\n>From "))
    local from_lines, quoted = 0, 0
    for _, raw in box:messages() do
      from_lines = from_lines + count(raw, "\nFrom ")
      quoted = quoted + count(raw, "\n>+From ")
    end
    assert.are.equal(15, from_lines)
    assert.are.equal(0, quoted)
  end)

  it("loses no byte: messages + From_ lines + separators + removed '>' = the file", function()
    local total = 0
    for _, raw, from in box:messages() do
      total = total + #from + 1 + #raw + 1 -- From_ line, its LF, message, blank separator
    end
    assert.are.equal(#data, total + 15)
  end)

  it("reads the same messages from the uncompressed file (memory-mapped)", function()
    local path = tmp .. "/w11.mbox"
    write(path, data)
    local plain = assert(mbox.open(path))
    assert.is_false(plain.compressed)
    assert.are.equal(box:count(), plain:count())
    for i, raw, from in plain:messages() do
      local r2, f2 = box:message(i)
      assert.are.equal(r2, raw)
      assert.are.equal(f2, from)
    end
    plain:close()
  end)

  it("splits a Lua string into the same messages (mbox.split)", function()
    local s = assert(mbox.split(data))
    assert.are.equal(301, s:count())
    assert.are.same({ all_messages(box) }, { all_messages(s) })
    local z = assert(mbox.split(H.read(gz)))
    assert.is_true(z.compressed)
    assert.are.equal(301, z:count())
  end)

  it("reads a CRLF copy as the same messages modulo CR", function()
    local path = tmp .. "/w11-crlf.mbox"
    write(path, (data:gsub("\n", "\r\n")))
    local crlf = assert(mbox.open(path))
    assert.are.equal(301, crlf:count())
    for i, raw, from in crlf:messages() do
      local lf_raw, lf_from = box:message(i)
      assert.are.equal(lf_from, from)
      assert.are.equal(lf_raw, (raw:gsub("\r\n", "\n")))
    end
    crlf:close()
  end)
end)

describe("mbox.open on the kvmarm 2022-W04 week", function()
  local path
  for _, p in ipairs(W04_PATHS) do
    if not path and H.exists(p) then path = p end
  end
  if not path then
    pending("examples/kvmarm-2022-W04.mbox and the shared corpus are both absent")
    return
  end

  it("finds 340 messages, the ^From line count", function()
    local data = H.read(path)
    local box = assert(mbox.open(path))
    assert.are.equal(count_from_lines(data), box:count())
    assert.are.equal(340, box:count())
    assert.are.equal("mboxrd", box.format)
    box:close()
  end)
end)

describe("mbox.open on other real files", function()
  it("reads notmuch's corpora converted to mboxrd", function()
    for name, n in pairs { ["default.mbox"] = 53, ["duplicate.mbox"] = 9,
                           ["threading-ghost-root.mbox"] = 9, ["broken-reference-loop.mbox"] = 2 } do
      local box = assert(mbox.open(FIX .. name))
      assert.are.equal(n, box:count(), name)
      assert.are.equal(count_from_lines(H.fixture("mbox/" .. name)), box:count(), name)
      box:close()
    end
  end)

  it("reads an mboxo file with classic 'From user date' lines", function()
    local box = assert(mbox.open(FIX .. "columba-devel-2006.mbox"))
    assert.are.equal(25, box:count())
    assert.are.equal("mboxo", box.format)
    local _, from = box:message(1)
    assert.is_truthy(from:match("^From %S+@%S+ %a%a%a %a%a%a +%d+ %d+:%d+:%d+ %d%d%d%d$"))
    box:close()
  end)

  it("splits MimeKit's mbox whose separators are bare 'From - ' lines with no blank line before", function()
    local box = assert(mbox.open(FIX .. "mimekit-simple.mbox.txt"))
    assert.are.equal(3, box:count())
    for i, raw, from in box:messages() do
      assert.are.equal("From - ", from, "message " .. i)
      assert.are.equal("From: fejj@gnome.org\n", raw:match("^[^\n]*\n"))
    end
    box:close()
  end)

  it("reads every member of a multi-member gzip file", function()
    local path = tmp .. "/two.mbox.gz"
    assert.are.equal(0, (H.run("(gzip -c " .. FIX .. "broken-reference-loop.mbox; gzip -c " .. FIX ..
      "default.mbox) > " .. H.shquote(path))))
    local box = assert(mbox.open(path))
    assert.are.equal(2 + 53, box:count())
    box:close()
  end)

  it("reads a patchwork mail with one From_ line as one message", function()
    for _, name in ipairs { "0010-invalid-charset.mbox", "0019-multipart-patch.mbox" } do
      local box = assert(mbox.open(FIX .. name))
      assert.are.equal(1, box:count(), name)
      assert.are.equal("mboxo", box.format)
      box:close()
    end
  end)

  it("reads a raw message with no From_ line (.eml) as exactly one message, unsplit", function()
    for _, name in ipairs { "0007-cvs-format-diff.mbox", "0011-no-newline-at-end-of-file.mbox" } do
      local box = assert(mbox.open(FIX .. name))
      assert.are.equal(1, box:count())
      assert.are.equal("eml", box.format)
      local raw, from = box:message(1)
      assert.is_nil(from)
      assert.are.equal(H.fixture("mbox/" .. name), raw)
      box:close()
    end
  end)
end)

describe("mbox From_ line detection", function()
  local week

  setup(function() week = gunzip(FIX .. "kvmarm-2022-W49.mbox.gz") end)

  it("does not split at an unquoted body line 'From here on ...' after an empty line", function()
    local box = assert(mbox.split(week))
    local n = box:count()
    local raw5 = box:message(5)
    -- Insert an (invalid, unquoted) prose line into the body of message 5.
    local body_at = raw5:find("\n\n", 1, true)
    local evil_raw5 = raw5:sub(1, body_at + 1) .. "From here on, the series changes its ABI.\n\n" .. raw5:sub(body_at + 2)
    local evil = week:gsub(raw5:gsub("%p", "%%%0"), (evil_raw5:gsub("%%", "%%%%")), 1)
    local box2 = assert(mbox.split(evil))
    assert.are.equal(n, box2:count())
    assert.are.equal(evil_raw5, (box2:message(5)))
  end)

  it("keeps the last message whole when the file has no trailing newline", function()
    local trimmed = week:gsub("\n+$", "")
    local box = assert(mbox.split(trimmed))
    assert.are.equal(139, box:count())
    local last = box:message(139)
    local orig = assert(mbox.split(week)):message(139)
    assert.are.equal(orig:gsub("\n+$", ""), last)
  end)

  it("treats a single From_ line with nothing after it as one empty message", function()
    local box = assert(mbox.split("From mboxrd@z Thu Jan  1 00:00:00 1970"))
    assert.are.equal(1, box:count())
    assert.are.same({ "", "From mboxrd@z Thu Jan  1 00:00:00 1970" }, { box:message(1) })
  end)
end)

describe("mbox quoting flavours", function()
  local columba

  setup(function() columba = H.fixture("mbox/columba-devel-2006.mbox") end)

  -- Puts LINE into the body of the first message of the columba (mboxo) file.
  local function with_body_line(line)
    local at = columba:find("\n\n", 1, true)
    return columba:sub(1, at + 1) .. line .. "\n" .. columba:sub(at + 2), columba:sub(1, at + 1)
  end

  it("mboxo: turns ^>From back into ^From and leaves ^>>From alone", function()
    local box = assert(mbox.split((with_body_line(">From the desk of fdietz"))))
    assert.are.equal("mboxo", box.format)
    assert.are.equal(25, box:count())
    assert.is_truthy(box:message(1):find("\n\nFrom the desk of fdietz\n", 1, true))
  end)

  it("takes a file with any ^>>From line for mboxrd (an mboxo writer never makes one)", function()
    local box = assert(mbox.split((with_body_line(">>From twice\n>From once"))))
    assert.are.equal("mboxrd", box.format)
    assert.is_truthy(box:message(1):find("\n\n>From twice\nFrom once\n", 1, true))
  end)

  it("mboxrd: removes exactly one '>' from every ^>+From line", function()
    local box = assert(mbox.split((with_body_line(">>From quoted twice\n>From once\n>>>From thrice"))))
    assert.are.equal("mboxrd", box.format)
    local raw = box:message(1)
    assert.is_truthy(raw:find("\n\n>From quoted twice\nFrom once\n>>From thrice\n", 1, true))
  end)

  it("returns a message without quoted lines byte for byte as stored, and only the quoted one changed", function()
    local box = assert(mbox.split((with_body_line(">From x"))))
    assert.is_falsy(columba:find((box:message(1)), 1, true))
    for i = 2, box:count() do
      assert.is_truthy(columba:find((box:message(i)), 1, true), "message " .. i)
    end
  end)
end)

describe("mbox failures", function()
  it("reports an empty file as zero messages", function()
    local path = tmp .. "/empty.mbox"
    write(path, "")
    local box = assert(mbox.open(path))
    assert.are.equal(0, box:count())
    assert.are.same({}, { box:messages()() })
    box:close()
  end)

  it("refuses a binary file (an executable, a PNG) as not an mbox", function()
    local box, err = mbox.open("/bin/true")
    assert.is_nil(box)
    assert.are.equal("/bin/true: not an mbox file or a mail message", err)
    local png = tmp .. "/x.png"
    write(png, "\137PNG\r\n\26\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\8\6\0\0\0")
    box, err = mbox.open(png)
    assert.is_nil(box)
    assert.are.equal(png .. ": not an mbox file or a mail message", err)
  end)

  it("refuses plain text whose first line is neither From_ nor a header", function()
    assert.are.same({ nil, "not an mbox file or a mail message" },
      { mbox.split("Dear list,\nFrom here on we talk.\n") })
    assert.are.same({ nil, "not an mbox file or a mail message" },
      { mbox.split("From here on, prose.\nand more prose\n") })
  end)

  it("returns nil and 'path: reason' for a missing file or a directory", function()
    local box, err = mbox.open(tmp .. "/nope.mbox")
    assert.is_nil(box)
    assert.are.equal(tmp .. "/nope.mbox: No such file or directory", err)
    box, err = mbox.open(tmp)
    assert.is_nil(box)
    assert.are.equal(tmp .. ": Is a directory", err)
  end)

  it("refuses a truncated gzip stream instead of returning part of it", function()
    local gz = H.fixture("mbox/kvmarm-2021-W11.mbox.gz")
    local path = tmp .. "/cut.mbox.gz"
    write(path, gz:sub(1, #gz // 2))
    local box, err = mbox.open(path)
    assert.is_nil(box)
    assert.are.equal(path .. ": truncated gzip stream", err)
    -- even when only the 8-byte trailer (CRC32, ISIZE) is missing
    assert.are.same({ nil, "truncated gzip stream" }, { mbox.split(gz:sub(1, #gz - 8)) })
  end)

  it("refuses corrupt gzip data", function()
    local gz = H.fixture("mbox/kvmarm-2021-W11.mbox.gz")
    local mid = #gz // 2
    local bad = gz:sub(1, mid) .. string.rep("\255", 64) .. gz:sub(mid + 65)
    local box, err = mbox.split(bad)
    assert.is_nil(box)
    assert.is_truthy(err:match("^corrupt gzip stream: "), err)
  end)

  it("refuses a gzip bomb beyond the inflate limit", function()
    local path = tmp .. "/bomb.gz"
    assert.are.equal(0, (H.run("head -c 50000000 /dev/zero | gzip -9 > " .. H.shquote(path))))
    local box, err = mbox.open(path, { max_inflated = 10 * 1024 * 1024 })
    assert.is_nil(box)
    assert.are.equal(path .. ": gzip data inflates to more than 10485760 bytes; refused", err)
    -- the same limit that refuses a bomb accepts a real week
    assert.is_truthy(mbox.open(FIX .. "kvmarm-2021-W11.mbox.gz", { max_inflated = 10 * 1024 * 1024 }))
  end)
end)

describe("mbox box object", function()
  it("raises on use after close, and closing twice is harmless", function()
    local box = assert(mbox.open(FIX .. "default.mbox"))
    box:close()
    box:close()
    assert.has_error(function() box:count() end, "attempt to use a closed mbox")
    assert.has_error(function() return box.format end, "attempt to use a closed mbox")
    assert.are.equal("mbox (closed)", tostring(box))
  end)

  it("closes a to-be-closed box when its scope ends", function()
    local escaped
    do
      local box <close> = assert(mbox.open(FIX .. "default.mbox"))
      escaped = box
      assert.are.equal(53, box:count())
    end
    assert.has_error(function() escaped:message(1) end, "attempt to use a closed mbox")
  end)

  it("raises on an index out of range (a caller mistake)", function()
    local box = assert(mbox.open(FIX .. "broken-reference-loop.mbox"))
    assert.has_error(function() box:message(0) end)
    assert.has_error(function() box:message(3) end)
    assert.has_error(function() box:message("x") end)
    assert.are.equal(2, select("#", box:message(2)))
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() mbox.open() end)
    assert.has_error(function() mbox.split({}) end)
    assert.has_error(function() mbox.split("", { max_inflated = -1 }) end)
  end)
end)

describe("mbox on the 2021-2023 kvmarm archive (13,020 messages, 128 MB)", function()
  local path = H.corpus .. "/kernel-lists/kvmarm/kvmarm-2021-01-01_2023-01-06.mbox.gz"
  if not H.exists(path) then
    pending("shared corpus archive absent: " .. path)
    return
  end

  it("splits it into 13,020 messages", function()
    local box = assert(mbox.open(path))
    assert.are.equal(13020, box:count())
    assert.is_true(box.compressed)
    box:close()
  end)
end)
