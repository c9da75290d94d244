-- Specification of listdigest.mailout: the report as a multipart/alternative
-- message (Markdown as text/plain, HTML) that our own MIME parser reads back
-- to the same text, and its delivery over SMTP to a real server (Debian's
-- python3-aiosmtpd, delivering into a Maildir) started on 127.0.0.1 only.
local mailout = require "listdigest.mailout"
local mime = require "listdigest.mime"
local mbox = require "listdigest.mbox"

local SUBJECT = "KVMARM 邮件列表 AI 总结报告 2022-W04"
local REPORT = "report --source examples/kvmarm-2022-W04.mbox --rules kvmarm --since 2022-01-24 "
  .. "--until 2022-01-31 --offline --out -"
-- the spec's helpers are plain Debian programs: no sanitizer runtime for them
local PY = "env -u LD_PRELOAD /usr/bin/python3"

local function report(format)
  local code, out, err = H.listdigest(REPORT .. " --format " .. format)
  assert(code == 0, "listdigest report --format " .. format .. ": " .. err)
  return out
end

local function lines(raw)
  local t = {}
  for l in (raw .. "\r\n"):gmatch("(.-)\r\n") do t[#t + 1] = l end
  return t
end

local function header_block(raw) return raw:sub(1, raw:find("\r\n\r\n", 1, true) + 1) end

-- RFC 2045 §6.7 decoding, written independently of core/rfc2047.c.
local function qp_decode(s)
  s = s:gsub("=\r\n", "")
  s = s:gsub("=(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  return (s:gsub("\r\n", "\n"))
end

-- The parts of a multipart body: { headers = "...", body = "..." }.
local function split_parts(raw)
  local boundary = raw:match('boundary="([^"]+)"')
  local delim = "\r\n--" .. boundary
  local parts, pos = {}, raw:find(delim, 1, true)
  while pos do
    local after = pos + #delim
    if raw:sub(after, after + 1) == "--" then break end
    local nxt = raw:find(delim, after, true)
    local part = raw:sub(after + 2, nxt - 1)
    local hend = part:find("\r\n\r\n", 1, true)
    parts[#parts + 1] = { headers = part:sub(1, hend + 1), body = part:sub(hend + 4) }
    pos = nxt
  end
  return parts, boundary
end

describe("listdigest.mailout.compose", function()
  local md, html, raw, msg

  setup(function()
    md, html = report("md"), report("html")
    raw = mailout.compose{
      from = "listdigest <digest@example.org>",
      to = { "kvmarm@lists.example.org", "Reviewer <reviewer@example.net>" },
      subject = SUBJECT, text = md, html = html, date = 1643587200,
    }
    msg = mime.parse(raw)
  end)

  it("works on the real report, which is long, UTF-8 and has long lines", function()
    assert.is_true(#md > 1000 and #html > 1000)
    assert.truthy(md:find("[\128-\255]"))
  end)

  it("writes an RFC 2047 UTF-8 subject that our parser decodes to the original", function()
    assert.equal(SUBJECT, msg.headers.subject)
    assert.truthy(header_block(raw):find("Subject: =?UTF-8?B?", 1, true))
    for word in raw:gmatch("=%?[^?]+%?[BbQq]%?[^?]*%?=") do
      assert.is_true(#word <= 75, word)
    end
  end)

  it("keeps header lines within 78 octets and every line within 998, all CRLF", function()
    for _, l in ipairs(lines(header_block(raw))) do assert.is_true(#l <= 78, l) end
    assert.falsy(raw:find("[\0-\8\11\12\14-\31\127-\255]"), "a NUL, control or 8-bit byte")
    for _, l in ipairs(lines(raw)) do
      assert.is_true(#l <= 998)
      assert.falsy(l:find("[\r\n]"))
    end
  end)

  it("writes Date in UTC per RFC 5322 §3.3 and a well-formed Message-ID", function()
    assert.equal("Mon, 31 Jan 2022 00:00:00 +0000", msg.headers.date)
    assert.equal(1643587200, msg.date)
    assert.truthy(header_block(raw):find("\r\nMessage%-ID: <listdigest%.%x+@example%.org>\r\n"))
    assert.is_false(msg.message_id_synthetic or false)
    local other = mime.parse(mailout.compose{ from = "a@b.example", to = { "c@d.example" },
      subject = "x", text = "", html = "" })
    assert.are_not.equal(msg.message_id, other.message_id)
    assert.truthy(other.headers.date:match("^%a%a%a, %d%d? %a%a%a %d%d%d%d %d%d:%d%d:%d%d %+0000$"))
  end)

  it("uses the message_id given, and lists the recipients in To", function()
    local m = mime.parse(mailout.compose{ from = "a@b.example", to = { "c@d.example" },
      subject = "x", text = "t", html = "h", message_id = "fixed.1@listdigest.invalid" })
    assert.equal("fixed.1@listdigest.invalid", m.message_id)
    assert.equal("kvmarm@lists.example.org", msg.to[1].addr)
    assert.equal("reviewer@example.net", msg.to[2].addr)
    assert.equal("Reviewer", msg.to[2].name)
  end)

  it("is multipart/alternative: text/plain then text/html, UTF-8, quoted-printable", function()
    assert.truthy(msg.headers["content-type"]:find("multipart/alternative", 1, true))
    assert.equal("1.0", msg.headers["mime-version"])
    assert.equal(2, #msg.parts)
    assert.equal("text/plain", msg.parts[1].type)
    assert.equal("text/html", msg.parts[2].type)
    assert.equal("utf-8", msg.parts[1].charset)
    -- sizes count the decoded CRLF line ends
    assert.equal(#md:gsub("\n", "\r\n"), msg.parts[1].size)
    assert.equal(#html:gsub("\n", "\r\n"), msg.parts[2].size)
    assert.same({}, msg.defects)
  end)

  it("decodes back to exactly the Markdown through our MIME parser", function()
    assert.equal(md, msg.text)
  end)

  it("decodes back to exactly the HTML and the Markdown by the book", function()
    local parts, boundary = split_parts(raw)
    assert.equal(2, #parts)
    assert.truthy(parts[2].headers:find("Content-Type: text/html; charset=utf-8", 1, true))
    assert.truthy(parts[2].headers:find("Content-Transfer-Encoding: quoted-printable", 1, true))
    assert.equal(html, qp_decode(parts[2].body))
    assert.equal(md, qp_decode(parts[1].body))
    for _, p in ipairs(parts) do
      assert.falsy(p.body:find(boundary, 1, true))
      for _, l in ipairs(lines(p.body)) do
        assert.is_true(#l <= 76, l)
        assert.falsy(l:find("[ \t]$"), "trailing blank in " .. l)
        assert.falsy(l:find("^From "))
        assert.falsy(l:find("[\128-\255]"))
      end
    end
  end)

  it("round-trips awkward text: long lines, '=', trailing blanks, From_, no final newline", function()
    local text = ("x"):rep(300) .. "\n= =41 \t\nFrom here\n.\n" .. ("é"):rep(100) .. "\r\nend"
    local r = mailout.compose{ from = "a@b.example", to = { "c@d.example" }, subject = "x",
      text = text, html = "<p>" .. text .. "</p>" }
    local parts = split_parts(r)
    assert.equal((text:gsub("\r\n", "\n")), qp_decode(parts[1].body))
    assert.equal((("<p>" .. text .. "</p>"):gsub("\r\n", "\n")), qp_decode(parts[2].body))
    assert.equal((text:gsub("\r\n", "\n")), mime.parse(r).text)
    for _, l in ipairs(lines(r)) do assert.is_true(#l <= 78, l) end
  end)

  it("folds a long subject into words of whole characters", function()
    local s = ("邮件列表总结 "):rep(20)
    s = s:sub(1, -2)
    local r = mailout.compose{ from = "a@b.example", to = { "c@d.example" }, subject = s,
      text = "", html = "" }
    assert.equal(s, mime.parse(r).headers.subject)
    for _, l in ipairs(lines(header_block(r))) do assert.is_true(#l <= 78, l) end
  end)

  it("leaves a short ASCII subject as it is", function()
    local r = mailout.compose{ from = "a@b.example", to = { "c@d.example" },
      subject = "KVMARM weekly report", text = "", html = "" }
    assert.truthy(r:find("\r\nSubject: KVMARM weekly report\r\n", 1, true))
  end)

  it("raises on input a header cannot carry", function()
    local function compose(over)
      local t = { from = "a@b.example", to = { "c@d.example" }, subject = "s", text = "", html = "" }
      for k, v in pairs(over) do t[k] = v end
      return function() mailout.compose(t) end
    end
    assert.has_error(compose{ subject = "a\r\nBcc: x@y.example" })
    assert.has_error(compose{ subject = "\255\254" })
    assert.has_error(compose{ from = "a@b.example\r\nBcc: x@y.example" })
    assert.has_error(compose{ to = { "c@d.example\nBcc: x@y.example" } })
    assert.has_error(compose{ to = {} })
    assert.has_error(compose{ to = { "nobody" } })
    assert.has_error(compose{ message_id = "<a@b>" })
    assert.has_error(compose{ cc = { "x@y.example" } })
    assert.has_error(compose{ text = 42 })
  end)
end)

describe("listdigest.mailout.send", function()
  local dir, pid, port, url

  local function free_port()
    local p = io.popen(PY .. [[ -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])']])
    local n = p:read("l")
    p:close()
    return assert(tonumber(n))
  end

  setup(function()
    dir = H.tmpdir()
    port = free_port()
    url = "smtp://127.0.0.1:" .. port
    local p = io.popen(PY .. " -m aiosmtpd -n -l 127.0.0.1:" .. port
      .. " -c aiosmtpd.handlers.Mailbox " .. H.shquote(dir .. "/mbox")
      .. " >" .. H.shquote(dir .. "/log") .. " 2>&1 & echo $!")
    pid = assert(tonumber(p:read("l")))
    p:close()
    -- wait until it listens
    assert(os.execute(PY .. [[ -c 'import socket,time,sys
for i in range(100):
    try: socket.create_connection(("127.0.0.1",]] .. port .. [[),1).close(); sys.exit(0)
    except OSError: time.sleep(0.05)
sys.exit(1)']]), "aiosmtpd did not start: " .. (H.exists(dir .. "/log") and H.read(dir .. "/log") or ""))
  end)

  teardown(function()
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    if dir then os.execute("rm -rf " .. H.shquote(dir)) end
  end)

  it("delivers the report, which reads back from the server's mbox unchanged", function()
    local md, html = report("md"), report("html")
    local to = { "kvmarm@lists.example.org", "reviewer@example.net" }
    local raw = mailout.compose{ from = "listdigest <digest@example.org>", to = to,
      subject = SUBJECT, text = md, html = html }
    assert.is_true(assert(mailout.send{ url = url, from = "listdigest <digest@example.org>",
      to = to, raw = raw, timeout = 10 }))
    -- aiosmtpd's Mailbox handler writes a Maildir (Python's mailbox.Maildir)
    local files = assert(mbox.maildir(dir .. "/mbox"))
    assert.equal(1, #files)
    local box = assert(mbox.open(files[1]))
    assert.equal(1, box:count())
    local graw = box:message(1)
    box:close()
    local got = mime.parse(graw)
    local sent = mime.parse(raw)
    assert.equal(SUBJECT, got.headers.subject)
    assert.equal(md, got.text)
    assert.equal(sent.message_id, got.message_id)
    assert.equal(sent.date, got.date)
    -- the Maildir file has LF line ends; the HTML part is the same modulo CRLF
    local parts = split_parts((graw:gsub("\r?\n", "\r\n")))
    assert.equal(html, qp_decode(parts[2].body))
    -- aiosmtpd records the envelope in X-MailFrom / X-RcptTo
    assert.equal("digest@example.org", got.headers["x-mailfrom"])
    assert.equal("kvmarm@lists.example.org, reviewer@example.net", got.headers["x-rcptto"])
  end)

  it("returns nil and a message when nobody listens, without the password", function()
    local dead = free_port()
    local code, out = H.run("LISTDIGEST_SMTP_USER=u LISTDIGEST_SMTP_PASSWORD=s3cr3t-pw "
      .. H.lua() .. " -e " .. H.shquote("package.cpath = '" .. H.build .. "/?.so;' .. package.cpath; "
      .. "local m = require 'listdigest.mailout'; "
      .. "print(m.send{ url = 'smtp://me:s3cr3t-pw@127.0.0.1:" .. dead .. "', from = 'a@b.example', "
      .. "to = { 'c@d.example' }, raw = 'Subject: x\\r\\n\\r\\nx\\r\\n', timeout = 5 })"))
    assert.equal(0, code)
    assert.truthy(out:find("^nil\tsmtp smtp://127%.0%.0%.1:" .. dead .. ": "), out)
    assert.falsy(out:find("s3cr3t", 1, true))
  end)

  it("raises on a URL that is not smtp:// or smtps://", function()
    assert.has_error(function()
      mailout.send{ url = "http://127.0.0.1:" .. port, from = "a@b.example",
        to = { "c@d.example" }, raw = "x" }
    end)
  end)
end)

describe("listdigest report --mail-to", function()
  it("mails the report through a real SMTP server, and it parses back to the Markdown", function()
    local dir = H.tmpdir()
    local p = io.popen(PY .. [[ -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])']])
    local port = assert(tonumber(p:read("l")))
    p:close()
    p = io.popen(PY .. " -m aiosmtpd -n -l 127.0.0.1:" .. port .. " -c aiosmtpd.handlers.Mailbox "
      .. H.shquote(dir .. "/mbox") .. " >/dev/null 2>&1 & echo $!")
    local pid = assert(tonumber(p:read("l")))
    p:close()
    os.execute(PY .. [[ -c 'import socket,time,sys
for i in range(100):
    try: socket.create_connection(("127.0.0.1",]] .. port .. [[),1).close(); sys.exit(0)
    except OSError: time.sleep(0.05)
sys.exit(1)']])
    local code, _, err = H.listdigest(("report --source examples/kvmarm-2022-W04.mbox --rules kvmarm " ..
      "--since 2022-01-24 --until 2022-01-31 --offline --format md --out %s --mail-to a@example.org,b@example.org " ..
      "--smtp smtp://127.0.0.1:%d"):format(H.shquote(dir .. "/out"), port), "SOURCE_DATE_EPOCH=1764115200")
    os.execute("kill " .. pid .. " 2>/dev/null")
    assert.are.equal(0, code, err)
    local files = assert(mbox.maildir(dir .. "/mbox"))
    assert.are.equal(1, #files)
    local box = assert(mbox.open(files[1]))
    local got = mime.parse((box:message(1)))
    box:close()
    assert.are.equal("KVMARM 邮件列表周报 2022-01-24 .. 2022-01-31", got.subject)
    assert.are.equal(H.read(dir .. "/out/report.md"), got.text)
    assert.are.equal("a@example.org, b@example.org", got.headers["x-rcptto"])
    -- and nobody listening: the report stays written, the run says so and exits 2
    code, _, err = H.listdigest(("report --source examples/kvmarm-2022-W04.mbox --rules kvmarm " ..
      "--since 2022-01-24 --until 2022-01-31 --offline --out %s --mail-to a@example.org --smtp smtp://127.0.0.1:%d")
      :format(H.shquote(dir .. "/out2"), port))
    assert.are.equal(2, code)
    assert.matches("written but not mailed", err)
    assert.is_true(H.exists(dir .. "/out2/report.md"))
    os.execute("rm -rf " .. H.shquote(dir))
  end)
end)
