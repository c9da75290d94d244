-- Specifications of listdigest.mime (core/mime.c, rfc2047.c, date.c,
-- segment.c via core/lmime.c), checked against real mail in
-- tests/fixtures/mime/ (copied from ../shared/corpus, see MANIFEST.md §2, §6)
-- and deliberately broken mail in tests/fixtures/broken/. Expected values come
-- from the corpus tables or from independent decoders written here (base64,
-- quoted-printable) and the iconv(1) command, never from mime.parse itself.
local mime = require "listdigest.mime"
local json = require "dkjson"

local FIX = "tests/fixtures/mime/"

local function read_json(path) return assert(json.decode(H.read(path))) end

local function tsv(path)
  local rows, head = {}, nil
  for line in H.read(path):gmatch("([^\n]*)\n") do
    local cols = {}
    for c in (line .. "\t"):gmatch("([^\t]*)\t") do
      -- CSV-style quoting: "a ""b"" c"
      if c:match('^".*"$') then c = c:sub(2, -2):gsub('""', '"') end
      cols[#cols + 1] = c
    end
    if not head then head = cols else
      local r = {}
      for i, k in ipairs(head) do r[k] = cols[i] end
      rows[#rows + 1] = r
    end
  end
  return rows
end

-- Days from 1970-01-01 of a Gregorian date (Hinnant), independent of C.
local function epoch(y, m, d, hh, mm, ss)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return (era * 146097 + doe - 719468) * 86400 + hh * 3600 + mm * 60 + ss
end

local B64 = {}
do
  local a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  for i = 1, 64 do B64[a:byte(i)] = i - 1 end
end
local function unbase64(s)
  local out, acc, bits = {}, 0, 0
  for i = 1, #s do
    local v = B64[s:byte(i)]
    if v then
      acc = (acc << 6 | v) & 0xFFFFFF
      bits = bits + 6
      if bits >= 8 then
        bits = bits - 8
        out[#out + 1] = string.char((acc >> bits) & 0xFF)
      end
    end
  end
  return table.concat(out)
end

local function unqp(s)
  s = s:gsub("\r\n", "\n"):gsub("[ \t]+\n", "\n"):gsub("=\n", "")
  return (s:gsub("=(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- iconv(1) as the oracle for charset conversion.
local function iconv(data, from)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb")); f:write(data); f:close()
  local p = io.popen("iconv -f " .. H.shquote(from) .. " -t UTF-8 " .. tmp .. " 2>/dev/null")
  local out = p:read("a")
  local ok = p:close()
  os.remove(tmp)
  return ok and out or nil
end

local function split_raw(raw)
  local h, b = raw:match("^(.-\r?\n)\r?\n(.*)$")
  return h, b
end

-- First value of header name (a Lua pattern over the lower-cased name),
-- unfolded lines kept.
local function raw_header(raw, name)
  local h = (split_raw(raw) or raw):gsub("\r\n", "\n")
  for line in h:gsub("\n([ \t])", "\1\1"):gmatch("([^\n]*)\n") do
    local n, v = line:match("^([^:]+):[ \t]*(.*)$")
    if n and n:lower():match("^" .. name:lower() .. "$") then return v end
  end
end

local function has_defect(msg, pat)
  for _, d in ipairs(msg.defects) do
    if d:find(pat) then return true end
  end
  return false
end

local function kinds(segs, kind)
  local out = {}
  for _, s in ipairs(segs) do if s.kind == kind then out[#out + 1] = s.text end end
  return out
end

local function concat_segments(segs)
  local t = {}
  for i, s in ipairs(segs) do t[i] = s.text end
  return table.concat(t)
end

local kernel = tsv(FIX .. "kernel-lists/INDEX.tsv")
local function kernel_file(name) return H.read(FIX .. "kernel-lists/" .. name) end
local function kernel_with(feature)
  local out = {}
  for _, r in ipairs(kernel) do
    if ("," .. r.features .. ","):find("," .. feature .. ",", 1, true) then out[#out + 1] = r end
  end
  return out
end

describe("mime.parse on real list mail (kernel-lists/INDEX.tsv)", function()
  it("decodes the Subject of all 71 mails to the indexed UTF-8 text", function()
    assert.are.equal(71, #kernel)
    for _, r in ipairs(kernel) do
      local m = mime.parse(kernel_file(r.file))
      local want = r.subject_decoded == "None" and "" or r.subject_decoded
      assert.are.equal(want, m.subject, r.file)
    end
  end)

  it("reads every Date to the indexed UTC minute", function()
    for _, r in ipairs(kernel) do
      local m = mime.parse(kernel_file(r.file), { body = false })
      local y, mo, d, hh, mi = r.date_utc:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+)Z$")
      assert.is_not_nil(m.date, r.file)
      assert.are.equal(os.date("!%Y-%m-%dT%H:%MZ", m.date), r.date_utc, r.file)
      assert.are.equal(epoch(tonumber(y), tonumber(mo), tonumber(d), tonumber(hh), tonumber(mi), 0),
        m.date - m.date % 60, r.file)
      assert.are.equal("date", m.date_source)
    end
  end)

  it("segments every mail so that the segments concatenate to the text", function()
    for _, r in ipairs(kernel) do
      local m = mime.parse(kernel_file(r.file))
      assert.are.equal(m.text, concat_segments(m.segments), r.file)
      assert.is_true(utf8.len(m.text) ~= nil, r.file .. " text is UTF-8")
      assert.are.equal(#kernel_file(r.file), m.size)
    end
  end)

  it("takes Message-ID, In-Reply-To and References from the <...> tokens of the raw headers", function()
    for _, r in ipairs(kernel) do
      local raw = kernel_file(r.file)
      local m = mime.parse(raw, { body = false })
      local mid = raw_header(raw, "[Mm]essage%-[Ii][Dd]")
      assert.are.equal(mid:match("<([^>]+)>"), m.message_id, r.file)
      local irt = raw_header(raw, "In%-Reply%-To")
      assert.are.equal(irt and irt:match("<([^>]+)>"), m.in_reply_to, r.file)
      local refs, seen = {}, {}
      local rv = raw_header(raw, "References")
      for id in (rv or ""):gmatch("<([^>]+)>") do
        if not seen[id] then seen[id] = true; refs[#refs + 1] = id end
      end
      assert.are.same(refs, m.references, r.file)
    end
  end)

  it("keeps only the id of an In-Reply-To followed by a (message from ...) comment", function()
    local rows = kernel_with("odd-in-reply-to")
    assert.are.equal(2, #rows)
    local m = mime.parse(kernel_file("kvmarm-20210503-53ee170a.eml"))
    assert.are.equal("87bl9sunnw.wl-maz@kernel.org", m.in_reply_to)
  end)

  it("handles References without In-Reply-To and In-Reply-To without References", function()
    for _, r in ipairs(kernel_with("references-no-irt")) do
      local m = mime.parse(kernel_file(r.file), { body = false })
      assert.is_nil(m.in_reply_to, r.file)
      assert.is_true(#m.references > 0, r.file)
    end
    for _, r in ipairs(kernel_with("irt-no-references")) do
      local m = mime.parse(kernel_file(r.file), { body = false })
      assert.is_string(m.in_reply_to, r.file)
      assert.are.same({}, m.references, r.file)
    end
  end)

  it("decodes bodies in koi8-r, windows-125x, iso-8859-x, gb2312 and iso-2022-jp exactly as iconv(1) does", function()
    local checked = 0
    for _, r in ipairs(kernel) do
      local raw = kernel_file(r.file)
      local ct = (raw_header(raw, "Content%-Type") or ""):gsub("\n", " ")
      local cte = (raw_header(raw, "Content%-Transfer%-Encoding") or "7bit"):lower()
      local cs = ct:match('charset="?([%w%-_]+)')
      if r.features:find("charset-", 1, true) and cs and ct:match("^text/plain")
          and not ct:lower():find("flowed") and not r.features:find("charset-y")
          and not r.features:find("charset-true") and not r.features:find("charset-8") then
        local _, body = split_raw(raw)
        if cte:find("base64") then body = unbase64(body)
        elseif cte:find("quoted") then body = unqp(body) end
        body = body:gsub("\r\n", "\n")
        -- gb2312 mail routinely holds GBK characters: both sides read GB18030.
        local from = cs:lower():match("^gb") and "GB18030" or cs
        local want = iconv(body, from)
        if want then
          local m = mime.parse(raw)
          assert.are.equal(want, m.text, r.file)
          checked = checked + 1
        end
      end
    end
    assert.is_true(checked >= 15, "checked " .. checked)
  end)

  it("decodes adjacent gb2312 B-words into one string", function()
    local raw = kernel_file("kvmarm-20210414-620f9a20.eml")
    local from = raw_header(raw, "From")
    local b = from:match("=%?gb2312%?B%?([^?]*)%?=")
    local bytes = unbase64(b)
    local want = iconv(bytes, "GB18030")
    assert.truthy(want and #want > 0)
    local m = mime.parse(raw)
    assert.are.equal(want, m.from_name)
    assert.are.equal("yinhua_chen@outlook.com", m.from_addr)
    -- the same name split mid-character over two adjacent words, as long
    -- names are (RFC 2047 §6.2: decode, join, then convert)
    local function b64(s)
      local a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
      return (s:gsub("..?.?", function(c)
        local n, k = 0, #c
        for i = 1, 3 do n = n << 8 | (c:byte(i) or 0) end
        local o = ""
        for i = 3, 0, -1 do
          local v = (n >> (6 * i)) & 63
          o = o .. (3 - i <= k and a:sub(v + 1, v + 1) or "=")
        end
        return o
      end))
    end
    local split = "=?gb2312?B?" .. b64(bytes:sub(1, 3)) .. "?=\r\n =?GB2312?B?" .. b64(bytes:sub(4)) .. "?="
    assert.are.equal(want, mime.decode_header(split))
  end)

  for _, feat in ipairs({ "charset-y", "charset-yes", "charset-true", "charset-8" }) do
    it("keeps the whole body of mails declaring " .. feat:gsub("charset%-", "charset=") .. " (Python's email loses it)", function()
      local rows = kernel_with(feat)
      assert.are.equal(2, #rows)
      for _, r in ipairs(rows) do
        local raw = kernel_file(r.file)
        local _, body = split_raw(raw)
        local cte = (raw_header(raw, "Content%-Transfer%-Encoding") or ""):lower()
        if cte:find("quoted") then body = unqp(body) end
        body = body:gsub("\r\n", "\n")
        local m = mime.parse(raw)
        assert.is_true(utf8.len(body) ~= nil)   -- these bodies are UTF-8
        assert.are.equal(body, m.text, r.file)
        assert.is_true(has_defect(m, 'bad charset "'), r.file)
        if body:find("\ndiff %-%-git") then
          assert.is_true(#kinds(m.segments, "diff") > 0, r.file .. " has its diff")
        end
      end
    end)
  end

  it("reads the text/plain part of multipart/signed mail and lists the signature as a leaf", function()
    for _, r in ipairs(kernel_with("multipart-signed")) do
      local m = mime.parse(kernel_file(r.file))
      local last = m.parts[#m.parts]
      assert.are.equal("application/pgp-signature", last.type, r.file)
      assert.are.equal("2", last.path, r.file)
      assert.are.equal("text/plain", m.parts[1].type, r.file)
      assert.truthy(m.parts[1].path:match("^1"), r.file)
      assert.is_falsy(m.text:find("BEGIN PGP SIGNATURE", 1, true))
      assert.is_true(#m.text > 100)
    end
  end)

  it("prefers the text/plain alternative over text/html", function()
    for _, r in ipairs(kernel_with("has-text-html-part")) do
      local m = mime.parse(kernel_file(r.file))
      local html = false
      for _, p in ipairs(m.parts) do if p.type == "text/html" then html = true end end
      assert.is_true(html, r.file)
      assert.is_falsy(m.text:lower():find("<div", 1, true), r.file)
      assert.is_falsy(m.text:lower():find("<html", 1, true), r.file)
    end
  end)

  it("descends into message/rfc822 parts", function()
    for _, r in ipairs(kernel_with("message-rfc822")) do
      local m = mime.parse(kernel_file(r.file))
      local nested = false
      for _, p in ipairs(m.parts) do if p.path:find("%.") then nested = true end end
      assert.is_true(nested, r.file)
    end
  end)

  it("decodes a top-level base64 or quoted-printable body", function()
    for _, feat in ipairs({ "top-base64", "top-qp" }) do
      for _, r in ipairs(kernel_with(feat)) do
        local raw = kernel_file(r.file)
        local m = mime.parse(raw)
        assert.is_falsy(m.text:find("=\n", 1, true), r.file)
        assert.is_true(#m.text > 50, r.file)
        assert.is_nil(m.text:find("\u{FFFD}", 1, true), r.file)
      end
    end
  end)

  it("finds patches sent as attachments and reads them as text", function()
    for _, r in ipairs(kernel_with("patch-attachment")) do
      local m = mime.parse(kernel_file(r.file))
      assert.is_true(#kinds(m.segments, "diff") > 0, r.file)
    end
  end)

  it("joins the soft line breaks of real format=flowed mail (RFC 3676)", function()
    local joined = 0
    for _, r in ipairs(kernel) do
      local raw = kernel_file(r.file)
      local ct = (raw_header(raw, "Content%-Type") or ""):lower()
      local cte = (raw_header(raw, "Content%-Transfer%-Encoding") or "7bit"):lower()
      local cs = ct:match('charset="?([%w%-_]+)')
      if ct:find("flowed") and ct:find("^text/plain") and cs then
        local _, body = split_raw(raw)
        if cte:find("base64") then body = unbase64(body)
        elseif cte:find("quoted") then body = unqp(body) end
        body = iconv(body, cs:lower():match("^gb") and "GB18030" or cs)
        local m = mime.parse(raw)
        local lines = {}
        for line in body:gsub("\r\n", "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
        for i = 1, #lines - 1 do
          local q1, t1 = lines[i]:match("^(>*) ?(.*)$")
          local q2, t2 = lines[i + 1]:match("^(>*) ?(.*)$")
          if t1:match("%S $") and q1 == q2 and t1 ~= "-- " and t2:match("^%S") then
            assert.truthy(m.text:find(t1 .. t2, 1, true), r.file .. ": " .. t1)
            joined = joined + 1
          end
        end
      end
    end
    assert.is_true(joined > 0)
  end)

  it("keeps body lines starting with From", function()
    for _, r in ipairs(kernel_with("body-From_-line")) do
      local raw = kernel_file(r.file)
      local m = mime.parse(raw)
      assert.truthy(m.text:find("\nFrom ", 1, true) or m.text:find("^From "), r.file)
    end
  end)

  it("recognises the kvmarm Mailman footer as a list-footer segment", function()
    local m = mime.parse(kernel_file("kvmarm-20210107-3e74f0bb.eml"))
    local last = m.segments[#m.segments]
    assert.are.equal("list-footer", last.kind)
    assert.truthy(last.text:find("kvmarm mailing list\nkvmarm@lists.cs.columbia.edu\n", 1, true))
    assert.truthy(last.text:find("^_+\n"))
  end)

  it("records raw 8-bit UTF-8 headers as UTF-8 without a defect", function()
    for _, r in ipairs(kernel_with("raw-8bit-header")) do
      local m = mime.parse(kernel_file(r.file), { body = false })
      assert.is_false(has_defect(m, "windows%-1252"), r.file)
      for _, h in ipairs(m.header_list) do assert.is_true(utf8.len(h[2]) ~= nil, r.file) end
    end
  end)
end)

describe("mime.decode_header (mail-parser headers/unstructured.json)", function()
  -- mail-parser inserts a space between an encoded word and text glued to
  -- it ("[SPAM]=?utf-8?...?=" -> "[SPAM] ..."); RFC 2047 §5 adds no such
  -- space, so we differ on purpose in those three cases.
  local glued = {
    ["[SUSPECTED SPAM]=?utf-8?B?VGhpcyBpcyB0aGUgb3JpZ2luYWwgc3ViamVjdA==?=\n"] = true,
    ["Some text =?utf-8?Q??=here\n"] = true,
  }
  local cases = read_json(FIX .. "headers/unstructured.json")
  it("decodes every table value to its expected UTF-8 text", function()
    local n = 0
    for _, c in ipairs(cases) do
      if not glued[c.header] and not c.header:find("^%[SUSPECTED SPAM%]=%?utf%-8%?B%?VGhpcyBpcyB0aGUgb\r?\n") then
        assert.are.equal(c.expected, mime.decode_header(c.header), c.header)
        n = n + 1
      end
    end
    assert.is_true(n >= 15)
  end)

  it("decodes B and Q words in any charset iconv knows, with RFC 2231 language tags", function()
    assert.are.equal("Привет", mime.decode_header("=?koi8-r?B?8NLJ18XU?="))
    assert.are.equal("日本", mime.decode_header("=?ISO-2022-JP?B?GyRCRnxLXBsoQg==?="))
    assert.are.equal("Grüße", mime.decode_header("=?iso-8859-1*de?Q?Gr=FC=DFe?="))
    assert.are.equal("€ sign", mime.decode_header("=?windows-1252?Q?=80_sign?="))
    assert.are.equal("中文", mime.decode_header("=?big5?B?pKSk5Q==?="))
  end)

  it("falls back to UTF-8 or windows-1252 for bogus charsets and never drops bytes", function()
    assert.are.equal("café", mime.decode_header("=?y?Q?caf=C3=A9?="))          -- valid UTF-8
    assert.are.equal("café", mime.decode_header("=?unknown-8bit?Q?caf=E9?="))  -- not UTF-8: cp1252
    assert.are.equal("a\u{FFFD}b", mime.decode_header("=?utf-8?Q?a=FFb?="))
    assert.are.equal("caf\u{FFFD}", mime.decode_header("=?utf-8?B?Y2Fmww==?="))
  end)

  it("reads raw 8-bit headers as UTF-8 when valid, else as windows-1252", function()
    assert.are.equal("Żenczykowski", mime.decode_header("Żenczykowski"))
    assert.are.equal("Zürich", mime.decode_header("Z\xfcrich"))
    local m = mime.parse("Subject: Z\xfcrich\nFrom: a@b.c\nMessage-ID: <x@y>\n\nbody\n")
    assert.are.equal("Zürich", m.subject)
    assert.is_true(has_defect(m, "windows%-1252"))
  end)
end)

describe("mime.parse_date (mail-parser headers/date.json and RFC 5322 §4.3)", function()
  local cases = read_json(FIX .. "headers/date.json")
  it("reads every date of the table to its UTC instant and zone", function()
    local n = 0
    for _, c in ipairs(cases) do
      -- " 4 8 15 16 23 42, ..." is a fuzz string mail-parser maps to a
      -- date by position; we refuse dates with no h:m time (documented).
      if not c.header:find("4 8 15 16 23 42", 1, true) then
        local t, tz = mime.parse_date(c.header)
        local e = c.expected
        if e == json.null or e == nil then
          assert.is_nil(t, c.header)
        else
          local off = (e.tz_hour * 60 + e.tz_minute) * (e.tz_before_gmt and -1 or 1)
          local want = epoch(e.year, e.month, e.day, e.hour, e.minute, e.second) - off * 60
          assert.are.equal(want, t, c.header)
          assert.are.equal(off, tz or 0, c.header)
          n = n + 1
        end
      end
    end
    assert.is_true(n >= 20)
  end)

  it("maps two-digit years below 50 to 20xx and the others to 19xx", function()
    assert.are.equal(epoch(2049, 1, 1, 0, 0, 0), (mime.parse_date("1 Jan 49 00:00:00 GMT")))
    assert.are.equal(epoch(1950, 1, 1, 0, 0, 0), (mime.parse_date("1 Jan 50 00:00:00 GMT")))
  end)

  it("accepts missing seconds and weekday, any case, zones without sign and comments", function()
    local t0 = epoch(2021, 5, 3, 13, 35, 0)
    assert.are.equal(t0, (mime.parse_date("Mon, 3 May 2021 15:35 +0200")))
    assert.are.equal(t0, (mime.parse_date("3 MAY 2021 15:35:00 +0200 (CEST)")))
    assert.are.equal(t0, (mime.parse_date("mon, 03 may 2021 15:35:00 0200")))
    assert.are.equal(t0 + 7 * 3600, (mime.parse_date("Mon, 3 May 2021 15:35:00 EST")))
    assert.are.equal(t0 + 2 * 3600, (mime.parse_date("Mon, 3 May 2021 15:35:00 UT")))
    local t, tz = mime.parse_date("Tue, 1 Jul 2003 10:52:37 -0800 (PST)")
    assert.are.equal(epoch(2003, 7, 1, 18, 52, 37), t)
    assert.are.equal(-480, tz)
  end)

  it("reads the asctime form of mbox From_ lines", function()
    assert.are.equal(epoch(2022, 1, 24, 10, 0, 0), (mime.parse_date("Mon Jan 24 10:00:00 2022")))
  end)
end)

describe("Message-ID, In-Reply-To and References (mail-parser headers/id.json)", function()
  local cases = read_json(FIX .. "headers/id.json")
  it("extracts the ids of every table value", function()
    for _, c in ipairs(cases) do
      -- "<1234   @   local(blah)  .machine .example>": ids are compared
      -- byte-wise when threading, so we drop the CFWS blanks inside <>.
      if not c.header:find("(blah)", 1, true) then
        local m = mime.parse("From: a@b.c\nReferences: " .. c.header .. "\nbody\n", { body = false })
        local want = (c.expected == json.null or c.expected == nil) and {} or c.expected
        assert.are.same(want, m.references, c.header)
      end
    end
  end)

  it("keeps bogus ids like <yes> but records a defect", function()
    local m = mime.parse("From: a@b.c\nMessage-ID: <yes>\nIn-Reply-To: <no>\n\nbody\n")
    assert.are.equal("yes", m.message_id)
    assert.are.equal("no", m.in_reply_to)
    assert.is_true(has_defect(m, "no @"))
  end)

  it("makes up a stable synthetic Message-ID from the content when none is given", function()
    local raw = "From: a@b.c\nSubject: x\n\nbody\n"
    local a, b = mime.parse(raw), mime.parse(raw)
    local c = mime.parse(raw .. "more\n")
    assert.is_true(a.message_id_synthetic)
    assert.truthy(a.message_id:match("^synthetic%.%x+@listdigest%.invalid$"))
    assert.are.equal(a.message_id, b.message_id)
    assert.are_not.equal(a.message_id, c.message_id)
    assert.is_true(has_defect(a, "Message%-ID"))
  end)

  it("takes bare ids without brackets and removes duplicate References", function()
    local m = mime.parse("From: a@b.c\nMessage-ID: abc@example.org\nReferences: <1@x> <2@x>\n <1@x>\n\nbody\n")
    assert.are.equal("abc@example.org", m.message_id)
    assert.are.same({ "1@x", "2@x" }, m.references)
  end)
end)

describe("header fields", function()
  local raw = "Received: from a by b; Mon, 3 May 2021 15:35:25 +0200\n" ..
    "Received: from c by d; Mon, 3 May 2021 15:35:20 +0200\n" ..
    "From: \"Zyngier, Marc\" <maz@kernel.org>\n" ..
    "To: kvmarm@lists.linux.dev, Oliver Upton <oliver.upton@linux.dev>\n" ..
    "Cc: =?utf-8?q?Ren=C3=A9?= <rene@example.org>, bare@example.org (Bare Name)\n" ..
    "cc: undisclosed-recipients:;\nCC: Third <third@example.org>\n" ..
    "Subject: [PATCH v2 1/3] KVM: arm64:\n\tfolded   subject\n" ..
    "List-Id: Kernel-based VM on ARM <kvmarm.lists.cs.columbia.edu>\n" ..
    "Message-ID: <id@x>\n\nbody\n"
  local m = mime.parse(raw)

  it("unfolds and collapses the Subject", function()
    assert.are.equal("[PATCH v2 1/3] KVM: arm64: folded subject", m.subject)
  end)

  it("keeps every header in order and the first occurrence by lower-case name", function()
    assert.are.equal(10, #m.header_list)
    assert.are.equal("received", m.header_list[1][1])
    assert.are.equal("received", m.header_list[2][1])
    assert.truthy(m.headers.received:find("15:35:25", 1, true))
    assert.are.equal("René <rene@example.org>, bare@example.org (Bare Name)", m.headers.cc)
    assert.are.equal(#raw, m.size)
  end)

  it("splits From, To and Cc into names and addresses", function()
    assert.are.equal("Zyngier, Marc", m.from_name)
    assert.are.equal("maz@kernel.org", m.from_addr)
    assert.are.equal("Zyngier, Marc <maz@kernel.org>", m.from)
    assert.are.same({ { name = "", addr = "kvmarm@lists.linux.dev" },
      { name = "Oliver Upton", addr = "oliver.upton@linux.dev" } }, m.to)
    assert.are.same({ { name = "René", addr = "rene@example.org" },
      { name = "Bare Name", addr = "bare@example.org" },
      { name = "Third", addr = "third@example.org" } }, m.cc)
  end)

  it("extracts the List-Id", function()
    assert.are.equal("kvmarm.lists.cs.columbia.edu", m.list_id)
  end)
end)

describe("date fallbacks", function()
  local hdr = "From: a@b.c\nMessage-ID: <d@x>\nReceived: from x by y; Tue, 4 May 2021 10:00:00 +0000\n"
  it("uses the From_ line when the Date is absurd", function()
    local m = mime.parse(hdr .. "Date: Thu, 1 Jan 1970 00:00:00 +0000\n\nb\n",
      { from_line = "From maz@kernel.org Mon May  3 13:35:25 2021" })
    assert.are.equal(epoch(2021, 5, 3, 13, 35, 25), m.date)
    assert.are.equal("from_line", m.date_source)
    assert.is_true(has_defect(m, "Date"))
  end)

  it("ignores public-inbox's epoch-0 From_ placeholder and uses the topmost Received", function()
    local m = mime.parse(hdr .. "Date: garbage\n\nb\n",
      { from_line = "From mboxrd@z Thu Jan  1 00:00:00 1970" })
    assert.are.equal(epoch(2021, 5, 4, 10, 0, 0), m.date)
    assert.are.equal("received", m.date_source)
  end)

  it("rejects a Date days after the delivery date", function()
    local m = mime.parse(hdr .. "Date: Fri, 1 Jan 2038 00:00:00 +0000\n\nb\n")
    assert.are.equal("received", m.date_source)
    assert.are.equal(epoch(2021, 5, 4, 10, 0, 0), m.date)
  end)

  it("keeps a plausible Date with its zone", function()
    local m = mime.parse(hdr .. "Date: Tue, 4 May 2021 09:00:00 -0700\n\nb\n")
    assert.are.equal("date", m.date_source)
    assert.are.equal(-420, m.tz_offset)
  end)
end)

describe("MIME structure", function()
  it("reads RFC 2231 boundary*= and charset*= (cpython msg_33)", function()
    local m = mime.parse(H.read(FIX .. "cpython-email/msg_33.txt"))
    assert.are.equal(2, #m.parts)
    assert.are.equal("us-ascii", m.parts[1].charset)
    assert.are.equal("part 1\npart 2\n", m.text)
  end)

  it("joins RFC 2231 continuations and percent-decodes charset'lang' values", function()
    local m = mime.parse("From: a@b.c\nMessage-ID: <p@x>\nContent-Type: multipart/mixed; boundary=B\n\n" ..
      "--B\nContent-Type: text/plain\n\nhi\n--B\nContent-Type: application/octet-stream\n" ..
      "Content-Disposition: attachment;\n filename*0*=utf-8'en'%E2%82%AC%20;\n filename*1=\"rates.txt\"\n\nxx\n--B--\n")
    assert.are.equal("€ rates.txt", m.parts[2].filename)
    assert.are.equal("attachment", m.parts[2].disposition)
    assert.are.equal("2", m.parts[2].path)
  end)

  it("lists nested parts with IMAP-style paths (nodemailer nested.eml)", function()
    local m = mime.parse(H.read(FIX .. "nodemailer/nested.eml"))
    local paths = {}
    for _, p in ipairs(m.parts) do paths[#paths + 1] = p.path .. " " .. p.type end
    assert.are.same({ "1.1.1 text/plain", "1.1.2 text/html", "2.1 text/plain", "2.2 text/html" }, paths)
    -- upstream expects the text "Dear Sir," ... "Good evening." ... "The footer"
    assert.truthy(m.text:find("Dear Sir,.*Good evening%..*The footer"))
    assert.is_falsy(m.text:find("<p>", 1, true))
  end)

  it("reads text and then text parts of a multipart/mixed in order (nodemailer mixed.eml)", function()
    local m = mime.parse(H.read(FIX .. "nodemailer/mixed.eml"))
    local a = m.text:find("This e-mail message has been scanned for Viruses and Content and cleared", 1, true)
    local b = m.text:find("Good Morning;", 1, true)
    assert.truthy(a and b and a < b)
  end)

  it("decodes a base64-encoded root entity as one attachment (nodemailer)", function()
    local m = mime.parse(H.read(FIX .. "nodemailer/base64encodedroot.eml"))
    assert.are.equal(1, #m.parts)
    assert.are.equal("image/png", m.parts[1].type)
    assert.are.equal("", m.text)
  end)

  it("turns HTML into text with libxml2 when there is no plain part", function()
    local m = mime.parse("From: a@b.c\nMessage-ID: <h@x>\nContent-Type: text/html; charset=iso-8859-1\n\n" ..
      "<html><head><style>p{}</style></head><body><p>Caf\xe9 &amp; <b>tea</b></p>" ..
      "<blockquote>quoted</blockquote><script>x()</script><div>end</div></body></html>\n")
    assert.are.equal("Café & tea\n\n> quoted\n\nend\n", m.text)
  end)

  it("unflows format=flowed with DelSp=yes and keeps quote depth (RFC 3676)", function()
    local m = mime.parse("From: a@b.c\nMessage-ID: <f@x>\nContent-Type: text/plain; format=flowed; delsp=yes\n\n" ..
      "> quoted soft \n> line\nHel \nlo world\n -- stuffed\n-- \nsig\n")
    assert.are.equal("> quoted softline\nHello world\n-- stuffed\n-- \nsig\n", m.text)
  end)
end)

describe("patchwork mails and fuzz (patchwork/EXPECTATIONS.json)", function()
  local exp = read_json(FIX .. "patchwork/EXPECTATIONS.json")
  for name, e in pairs(exp.mail) do
    it("segments " .. name .. " as its expectations say", function()
      local raw = H.read(FIX .. "patchwork/" .. e.file)
      local m = mime.parse(raw)
      local diffs = kinds(m.segments, "diff")
      if e.diff == true then assert.is_true(#diffs > 0, "a diff") end
      if e.diff == false then assert.are.equal(0, #diffs) end
      if e.diff_starts_with then
        assert.are.equal(e.diff_starts_with, diffs[1]:sub(1, #e.diff_starts_with))
      end
      if e.comment then   -- patchwork's "comment" is the prose with its trailers
        local t = table.concat(kinds(m.segments, "text")) .. table.concat(kinds(m.segments, "trailer"))
        assert.truthy(t:find("%S"), "a comment")
      end
      local all = table.concat(diffs)
      for pat, n in pairs(e.counts or {}) do
        local lit = pat:gsub("\\n", "\n")
        local _, c = ("\n" .. all):gsub(lit:gsub("%p", "%%%0"), "")
        assert.are.equal(n, c, pat)
      end
      if name == "0019-multipart-patch" then assert.is_falsy(m.text:find("<div", 1, true)) end
      if name == "0016-no-subject" then assert.are.equal("", m.subject) end
      if name == "0011-no-newline-at-end-of-file" then
        local _, c = all:gsub("\\ No newline at end of file", "")
        assert.are.equal(2, c)
      end
      if name == "0010-invalid-charset" then assert.truthy(m.defects[1]) end
      assert.are.equal(m.text, concat_segments(m.segments))
    end)
  end

  it("parses every fuzzed mail without crashing, recording defects", function()
    local n = 0
    for name, e in pairs(exp.fuzz) do
      local m = mime.parse(H.read(FIX .. "patchwork/" .. e.file))
      assert.is_table(m.defects, name)
      -- x-face.mbox is well-formed apart from a long (legal) X-Face field
      if name ~= "x-face" then assert.is_true(#m.defects > 0, name) end
      assert.is_true(utf8.len(m.subject) ~= nil, name)
      assert.is_true(utf8.len(m.text) ~= nil, name)
      n = n + 1
    end
    assert.are.equal(11, n)
  end)
end)

describe("broken mail (tests/fixtures/broken)", function()
  local function broken(name) return mime.parse(H.fixture("broken/" .. name)) end

  it("parses a message that is only a newline", function()
    local m = broken("only-newline.eml")
    assert.are.equal("", m.subject)
    assert.is_true(m.message_id_synthetic)
    assert.is_true(has_defect(m, "no header fields"))
  end)

  it("parses truncated headers", function()
    local m = broken("truncated-headers.eml")
    assert.are.equal("[PATCH] cut he", m.subject)
    assert.are.equal("trunc@example.org", m.message_id)
    assert.is_true(has_defect(m, "ends inside its headers"))
  end)

  it("starts the body at the first non-header line when the blank line is missing", function()
    local m = broken("no-blank-line.eml")
    assert.are.equal("This body starts right after the headers.\nSecond line.\n", m.text)
    assert.is_true(has_defect(m, "no blank line"))
  end)

  it("survives NUL bytes in headers and body", function()
    local m = broken("nul-bytes.eml")
    assert.are.equal("nul\0 in subject", m.subject)
    assert.are.equal("body with a \0 NUL byte\n", m.text)
    assert.is_true(has_defect(m, "NUL byte in headers"))
    assert.is_true(has_defect(m, "NUL byte in part 1"))
  end)

  it("keeps an enormous header line whole", function()
    local m = broken("enormous-header.eml")
    assert.are.equal(200000, #m.subject)
    assert.are.equal("huge@example.org", m.message_id)
    assert.is_true(has_defect(m, "998"))
  end)

  it("skips base64 garbage with a defect", function()
    local m = broken("base64-garbage.eml")
    assert.are.equal("Hello world\n", m.text)
    assert.is_true(has_defect(m, "invalid base64"))
  end)

  it("reads an unterminated multipart to its end", function()
    local m = broken("unterminated-multipart.eml")
    assert.are.equal("first part\nsecond part, never closed\n", m.text)
    assert.is_true(has_defect(m, "no closing boundary"))
  end)

  it("stops descending below 32 levels of nesting", function()
    local m = broken("deep-nesting.eml")
    assert.is_true(has_defect(m, "deeper than 32"))
    assert.are.equal(0, #m.parts)
  end)

  it("reads a multipart without boundary as text", function()
    local m = broken("bad-multipart-no-boundary.eml")
    assert.are.equal("just text really\n", m.text)
    assert.is_true(has_defect(m, "without boundary"))
  end)

  it("parses binary noise", function()
    local m = broken("no-headers-binary.eml")
    assert.is_true(#m.defects > 0)
    assert.is_true(utf8.len(m.text) ~= nil)
  end)

  it("raises on caller mistakes", function()
    assert.has_error(function() mime.parse(nil) end)
    assert.has_error(function() mime.parse("x", { from_line = 3 }) end)
  end)

  it("parses headers only when asked", function()
    local m = mime.parse(kernel_file("kvmarm-20210107-3e74f0bb.eml"), { body = false })
    assert.is_nil(m.text)
    assert.is_nil(m.segments)
    assert.is_nil(m.parts)
    assert.is_string(m.message_id)
  end)
end)

describe("mime.segment", function()
  local patch = table.concat({
    "The vgic needs this.\n",
    "\n",
    "Signed-off-by: A Person <a@example.org>\n",
    "Reviewed-by: B Person <b@example.org>\n",
    "---\n",
    " arch/arm64/kvm/vgic.c | 3 ++-\n",
    " 1 file changed, 2 insertions(+), 1 deletion(-)\n",
    "\n",
    "diff --git a/arch/arm64/kvm/vgic.c b/arch/arm64/kvm/vgic.c\n",
    "index 1111111..2222222 100644\n",
    "--- a/arch/arm64/kvm/vgic.c\n",
    "+++ b/arch/arm64/kvm/vgic.c\n",
    "@@ -1,3 +1,4 @@\n",
    " a\n",
    "\n",
    "-b\n",
    "+c\n",
    "+d\n",
    "-- \n",
    "2.30.0\n",
  })

  it("splits a patch mail into text, trailer, diffstat, diff and signature", function()
    local s = mime.segment(patch)
    local k = {}
    for i, seg in ipairs(s) do k[i] = seg.kind end
    assert.are.same({ "text", "trailer", "diffstat", "diff", "signature" }, k)
    assert.are.equal(patch, concat_segments(s))
    assert.truthy(s[4].text:find("^diff %-%-git"))
    assert.truthy(s[4].text:find("%+d\n$"))
  end)

  it("puts the attribution line with the quote, and trailers inside quotes stay quotes", function()
    local text = "Hi,\n\nOn Mon, 3 May 2021 at 15:35, Marc Zyngier\n<maz@kernel.org> wrote:\n" ..
      "> Signed-off-by: X <x@y>\n> code\n\nReply here.\n"
    local s = mime.segment(text)
    assert.are.equal("text", s[1].kind)
    assert.are.equal("Hi,\n\n", s[1].text)
    assert.are.equal("quote", s[2].kind)
    assert.truthy(s[2].text:find("^On Mon"))
    assert.are.equal("text", s[3].kind)
    assert.are.equal(3, #s)
  end)

  it("finds a generic Mailman footer", function()
    local text = "body\n_______________________________________________\n" ..
      "linux-arm-kernel mailing list\nlinux-arm-kernel@lists.infradead.org\n" ..
      "http://lists.infradead.org/mailman/listinfo/linux-arm-kernel\n"
    local s = mime.segment(text)
    assert.are.equal("list-footer", s[2].kind)
    assert.are.equal(2, #s)
  end)

  it("returns no segments for empty text", function()
    assert.are.same({}, mime.segment(""))
  end)
end)

describe("segmenting hostile diffs", function()
  it("takes a hunk header with absurd line counts without overflowing (UBSan watches)", function()
    local mime = require "listdigest.mime"
    local segs = mime.segment("diff --git a/x b/x\n--- a/x\n+++ b/x\n" ..
      "@@ -99999999999999999999999,99999999999999999999 +1,99999999999999999999999 @@\n+a\n-b\n")
    assert.are.equal(1, #segs)
    assert.are.equal("diff", segs[1].kind)
  end)
end)

describe("dates with a mangled day of the week", function()
  it("skips the unknown leading word instead of giving up (patchwork/fuzz/charset.mbox)", function()
    local mime = require "listdigest.mime"
    -- date -u -d '2011-12-05 16:49:35 -0800' +%s
    assert.are.equal(1323132575, (mime.parse_date("on, 05 Dec 2011 16:49:35 -0800")))
    assert.are.equal(1323132575, (mime.parse_date("Mon, 05 Dec 2011 16:49:35 -0800")))
  end)
end)

describe("regressions found by fuzzing (fuzz/)", function()
  it("reads a To: with a second '<' after a closed '<a>' without wrapping a length (fuzz-mime-1)", function()
    local mime = require "listdigest.mime"
    local msg = mime.parse(H.fixture("broken/fuzz-mime-1.bin"))
    assert.is_table(msg.to)
    assert.are.equal("a@b", msg.from_addr)
  end)
end)

describe("regressions found by fuzzing, continued", function()
  it("never passes invalid UTF-8 through iconv's decoder of a mangled UTF-8 label (fuzz-rfc2047-1)", function()
    local mime = require "listdigest.mime"
    local raw = H.fixture("broken/fuzz-rfc2047-1.bin")     -- =?\xffutf8?B?ofe1l69?=
    local s = mime.decode_header(raw)
    assert.is_truthy(utf8.len(s), "decoded header is not valid UTF-8")
    -- a1 f7 b5 97 af: five bytes no UTF-8 decoder may accept, five U+FFFD
    assert.are.equal(string.rep("\u{FFFD}", 5), s)
  end)
end)

-- Disagreements with GMime 3 that were ours (tests/differential/NOTES.md,
-- "Fixed"). Expected values come from the RFCs, the fixtures' own bytes,
-- mail-parser's expected parse (.json) and iconv(1).
describe("header blocks with broken lines (RFC 5322 §2.2, §4.2)", function()
  it("folds a line of blanks after a field (obs-FWS) instead of ending the header block", function()
    local m = mime.parse("From: a@b.c\nCc: x@example.org,\n \t\n w@example.org\n" ..
      "Date: Wed, 1 Jun 2016 22:00:54 +0200\nMessage-ID: <ws@x>\n\nbody\n")
    assert.are.same({ { name = "", addr = "x@example.org" }, { name = "", addr = "w@example.org" } }, m.cc)
    assert.are.equal("date", m.date_source)
    assert.are.equal(epoch(2016, 6, 1, 20, 0, 54), m.date)
    assert.are.equal("body\n", m.text)
    assert.is_false(has_defect(m, "blank line"))
  end)

  it("reads a line of blanks right after the last field as a fold too, as GMime does", function()
    local m = mime.parse("From: a@b.c\nSubject: s\n \t\n\nHello\n")
    assert.are.equal("s", m.subject)
    assert.are.equal("Hello\n", m.text)
    m = mime.parse("From: a@b.c\nSubject: s\n \nHello\n")
    assert.are.equal("s", m.subject)
    assert.are.equal("Hello\n", m.text)
    assert.is_true(has_defect(m, "no blank line"))
  end)

  it("skips a long field broken without its folding blank (MimeKit issue 358) and keeps the MIME tree", function()
    -- MimeKit UnitTests/TestData/messages/issue358.txt (MIT, corpus mime-edge/mimekit)
    local raw = H.fixture("broken/mimekit-issue358.eml")
    local m = mime.parse(raw)
    assert.are.equal(raw_header(raw, "subject"), m.subject)
    local types = {}
    for _, p in ipairs(m.parts) do types[#types + 1] = p.type end
    assert.are.same({ "text/plain", "text/html" }, types)
    -- the text/plain alternative is the quoted-printable line "Test headers"
    assert.are.equal("Test headers", (m.text:gsub("%s+$", "")))
    assert.is_true(has_defect(m, "1 line in the headers neither field nor fold"))
  end)

  it("reads fields that follow continuation lines which lost their blanks", function()
    local m = mime.parse("From: a@b.c\nReceived: from x\n(using TLSv1.3)\nby mx; Thu, 12 Feb 2026 12:21:04 +0000\n" ..
      "Subject: kept\nMessage-ID: <u@x>\n\nbody\n")
    assert.are.equal("kept", m.subject)
    assert.are.equal("u@x", m.message_id)
    assert.are.equal(4, #m.header_list)
    assert.are.equal("body\n", m.text)
    assert.is_true(has_defect(m, "2 lines in the headers"))
  end)

  it("recovers the Date after a broken Cc in patchwork/fuzz/base64err.mbox", function()
    local raw = H.read(FIX .. "patchwork/fuzz/base64err.mbox")
    local m = mime.parse(raw)
    assert.are.equal(",  1 Jun 2016 22:00:54 +02", m.headers.date)
    assert.are.equal("date", m.date_source)
    local body = raw:match("\n\n(.*)$")   -- what follows the first empty line
    assert.are.equal(body:sub(1, 40), m.text:sub(1, 40))
  end)

  it("still starts the body at a line that no field follows, or at a boundary line", function()
    local m = mime.parse("From: a@b.c\nSubject: s\nHi,\nhttps://example.org/x\n\nbye\n")
    assert.are.equal("Hi,\nhttps://example.org/x\n\nbye\n", m.text)
    m = mime.parse("Content-Type: multipart/mixed; boundary=x\nFrom: a@b.c\n--x\n" ..
      "Content-Type: text/plain\n\nhi\n--x--\n")
    assert.are.equal("hi", m.text)   -- the line break before a delimiter is its own (RFC 2046 §5.1.1)
    assert.is_false(has_defect(m, "neither field nor fold"))
  end)
end)

describe("From and addresses that GMime reads better than we did", function()
  it("prefers the angle-addr when the display name has an unbalanced quote (patchwork/fuzz/dateheader.mbox)", function()
    local m = mime.parse('From: eph S. M" <jom>\nTo: "Smith <s@example.org>\n\nb\n')
    assert.are.equal("eph S. M", m.from_name)
    assert.are.equal("jom", m.from_addr)
    assert.are.equal("s@example.org", m.to[1].addr)
  end)

  it("never returns raw non-UTF-8 bytes in a name or an address (patchwork/fuzz/date-too-long.mbox)", function()
    local m = mime.parse(H.read(FIX .. "patchwork/fuzz/date-too-long.mbox"))
    -- From:\xC7eph S. M" <jom>
    assert.are.equal(iconv("\xC7eph S. M", "WINDOWS-1252"), m.from_name)
    assert.are.equal("jom", m.from_addr)
    m = mime.parse("From: \xC7eph@example.org\nTo: j\xC3\xBCrgen@example.org, <\xE9t\xE9@example.org>\n\nb\n")
    assert.are.equal(iconv("\xC7eph@example.org", "WINDOWS-1252"), m.from_addr)
    assert.are.equal("j\xC3\xBCrgen@example.org", m.to[1].addr)    -- UTF-8 kept (RFC 6532)
    assert.are.equal(iconv("\xE9t\xE9@example.org", "WINDOWS-1252"), m.to[2].addr)
    assert.is_true(has_defect(m, "address is not UTF%-8"))
  end)

  it("keeps a quoted display name that starts with a blank (notmuch threading-ghost-root: \" via RT\")", function()
    local m = mime.parse('From: " via RT" <rt@example.org>\n\nb\n')
    assert.are.equal("via RT", m.from_name)
    -- a name longer than the stack buffer is copied from the heap (ASan watches)
    local long = string.rep("x", 300)
    m = mime.parse('From: "  ' .. long .. '" <l@example.org>\nTo: " ' .. long .. '" <t@example.org>\n\nb\n')
    assert.are.equal(long, m.from_name)
    assert.are.equal(long, m.to[1].name)
  end)

  it("keeps a quoted filename that starts with a blank, trimmed", function()
    local m = mime.parse("From: a@b.c\nContent-Type: multipart/mixed; boundary=B\n\n--B\n\nhi\n--B\n" ..
      "Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=\" notes.txt\"\n\n" ..
      "xx\n--B--\n")
    assert.are.equal("notes.txt", m.parts[2].filename)
  end)
end)

describe("multipart structure that GMime reads better than we did", function()
  it("splits on a quoted boundary with a space, folded in the header (mail-parser thirdparty/012)", function()
    -- mail-parser resources/eml/thirdparty/012 (a Dovecot test mail, MIT: COPYING)
    local exp = read_json(FIX .. "mail-parser/thirdparty-012.json")
    local ct = exp.parts[1].headers[4].value.ContentType
    assert.are.equal("foo bar", ct.attributes[1].value)
    local m = mime.parse(H.read(FIX .. "mail-parser/thirdparty-012.eml"))
    local paths = {}
    for _, p in ipairs(m.parts) do paths[#paths + 1] = p.path .. " " .. p.type end
    assert.are.same({ "1 text/x-myown", "2.1 text/html", "2.2 text/plain" }, paths)
    local sub = exp.parts[3].body.Message
    assert.are.equal(sub.parts[sub.text_body[1] + 1].body.Text, m.text)
    assert.is_false(has_defect(m, "no body parts"))
  end)

  it("reads a multipart holding only its close delimiter as empty, not as text (cpython msg_42)", function()
    local m = mime.parse(H.read(FIX .. "cpython-email/msg_42.txt"))
    assert.are.equal("Stuff\n", m.text)
    assert.are.equal(1, #m.parts)
    assert.is_true(has_defect(m, "multipart/mixed in part 2 has no body parts"))
    assert.is_false(has_defect(m, "read as text/plain"))
  end)

  it("prefers a non-empty alternative to an empty text/plain one", function()
    local m = mime.parse("From: a@b.c\nContent-Type: multipart/alternative; boundary=A\n\n" ..
      "--A\nContent-Type: text/plain\n\n\n--A\nContent-Type: text/html\n\n<p>Only here</p>\n--A--\n")
    assert.are.equal("Only here", (m.text:gsub("%s+$", "")))
  end)
end)
