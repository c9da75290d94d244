-- The HTML report in a real browser (headless Chromium, Debian package
-- "chromium"): it loads without a single console message, it renders at phone
-- and desktop widths (screenshots kept in build/test-output/ for a human to
-- look at), and script smuggled in through a subject or a summary stays text.
-- Every page is a file:// URL in a fresh profile with background networking
-- off and every host name unresolvable: nothing leaves the machine.
--
-- Without Chromium these specs FAIL (they are not skipped): install it with
--   apt-get install --no-install-recommends chromium
local json = require "listdigest.json"
local html = require "listdigest.layouts.html"

local function find_chromium()
  local env = os.getenv("LISTDIGEST_CHROMIUM")
  if env and env ~= "" then return H.run("test -x " .. H.shquote(env)) == 0 and env or nil end
  for _, name in ipairs({ "chromium", "chromium-browser" }) do
    local code, out = H.run("command -v " .. name)
    if code == 0 and out:match("%S") then return (out:gsub("%s+$", "")) end
  end
  return nil
end

local CHROMIUM = find_chromium()
local MISSING = "headless Chromium is required by tests/browser_spec.lua but was not found: install the Debian "
  .. "package 'chromium' (DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium), "
  .. "or point LISTDIGEST_CHROMIUM at the binary"

local function need_chromium() assert(CHROMIUM, MISSING) end

local FLAGS = table.concat({
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--enable-logging=stderr", "--v=0",
  -- belt and braces: no host name resolves, so no request could leave loopback
  H.shquote("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost"),
}, " ")

local OUTDIR = "build/test-output"

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  local _, out = H.run("pwd")
  return (out:gsub("%s+$", "")) .. "/" .. p
end

-- Console messages (console.*, uncaught exceptions, CSP and resource-load
-- errors) as Chromium logs them on stderr with --enable-logging=stderr:
--   [2295:2295:1126/031204.823933:INFO:CONSOLE:1] "x", source: file:///p.html (1)
-- (older builds: "INFO:CONSOLE(1)"). Everything else there (dbus, GPU,
-- sandbox, the wrapper script) is noise and ignored.
local function console_lines(stderr)
  local found = {}
  for line in stderr:gmatch("[^\n]+") do
    if line:match(":CONSOLE[%(:]") or line:find("Uncaught", 1, true) then found[#found + 1] = line end
  end
  return found
end

-- Loads PATH (a local file) in a fresh profile with the extra ARGS
-- ("--dump-dom", "--screenshot=..."); returns stdout, the console lines, the
-- full stderr and the seconds it took.
local function load(path, args)
  need_chromium()
  local profile = H.tmpdir()
  local t0 = os.time()
  local code, out, err = H.run(("HOME=%s XDG_CONFIG_HOME=%s XDG_CACHE_HOME=%s timeout 60 %s %s --user-data-dir=%s %s %s")
    :format(H.shquote(profile), H.shquote(profile), H.shquote(profile), H.shquote(CHROMIUM), FLAGS,
      H.shquote(profile .. "/profile"), args, H.shquote("file://" .. abspath(path))))
  H.run("rm -rf " .. H.shquote(profile))
  assert(code == 0, ("chromium exited %s on %s:\n%s"):format(tostring(code), path, err))
  return out, console_lines(err), err, os.time() - t0
end

local function escaped(s)
  return (s:gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end

-- How a text node holding S comes back from --dump-dom (only & < > escaped).
local function as_text(s)
  return (s:gsub("[&<>]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;" }))
end

local function plain(s) return (s:gsub("%W", "%%%0")) end

local function png_ok(path, min)
  assert.is_true(H.exists(path), path .. " was not written")
  local data = H.read(path)
  assert.are.equal("\137PNG\r\n\26\n", data:sub(1, 8), path .. " is not a PNG")
  assert.is_true(#data > min, ("%s is only %d bytes"):format(path, #data))
  -- IHDR: width and height, big-endian, right after the signature and chunk header
  return string.unpack(">I4I4", data, 17)
end

local SUBJECT = "<script>document.documentElement.setAttribute('data-pwned','subject')</script>"
local SUMMARY = [[<img src=x onerror="document.documentElement.setAttribute('data-pwned','summary')">]]

describe("the html report in headless chromium", function()
  it("has chromium to run in (Debian package 'chromium')", function()
    need_chromium()
  end)

  local dir = H.tmpdir()
  setup(function() os.execute("mkdir -p " .. H.shquote(OUTDIR)) end)
  teardown(function() H.run("rm -rf " .. H.shquote(dir)) end)

  describe("console detector", function()
    it("sees a deliberate console.error and an uncaught exception", function()
      local page = dir .. "/console.html"
      write(page, '<!DOCTYPE html><html><body><p>hi</p><script>console.error("x-deliberate-error");'
        .. 'throw new Error("x-deliberate-throw")</script></body></html>')
      local dom, lines = load(page, "--dump-dom")
      assert.truthy(dom:find("<p>hi</p>", 1, true))
      local all = table.concat(lines, "\n")
      assert.are.equal(2, #lines, all)
      assert.truthy(all:find("x-deliberate-error", 1, true), all)
      assert.truthy(all:find("Uncaught Error: x-deliberate-throw", 1, true), all)
    end)

    it("sees nothing on a clean page (the noise on stderr is filtered out)", function()
      local page = dir .. "/clean.html"
      write(page, "<!DOCTYPE html><html><body><p>clean</p></body></html>")
      local dom, lines = load(page, "--dump-dom")
      assert.truthy(dom:find("<p>clean</p>", 1, true))
      assert.are.same({}, lines)
    end)
  end)

  describe("the kvmarm 2022-W04 report from the binary", function()
    local out = dir .. "/report"
    local report = out .. "/report.html"
    setup(function()
      local code, _, err = H.listdigest(("report --source examples/kvmarm-2022-W04.mbox --rules kvmarm "
        .. "--since 2022-01-24 --until 2022-01-31 --offline --format html --out %s"):format(H.shquote(out)))
      assert(code == 0, "listdigest report failed: " .. err)
    end)

    it("loads with no console messages and all 23 cards in the DOM", function()
      local dom, lines = load(report, "--dump-dom")
      assert.are.same({}, lines)
      local cards = 0
      for _ in dom:gmatch('<article class="card" id="t%-%d+">') do cards = cards + 1 end
      assert.are.equal(23, cards)
    end)

    for _, v in ipairs({ { "phone", 412, 915 }, { "desktop", 1280, 2000 } }) do
      local name, w, h = v[1], v[2], v[3]
      it(("renders a %dx%d screenshot (%s/report-%s.png) with no console messages"):format(w, h, OUTDIR, name), function()
        local png = OUTDIR .. "/report-" .. name .. ".png"
        os.remove(png)
        local _, lines = load(report, ("--screenshot=%s --window-size=%d,%d"):format(H.shquote(abspath(png)), w, h))
        assert.are.same({}, lines)
        local pw, ph = png_ok(png, 20000)
        assert.are.equal(w, pw)
        assert.are.equal(h, ph)
      end)
    end
  end)

  describe("script in a subject or a summary", function()
    local function model()
      local r = json.decode(H.read("tests/golden/kvmarm-2022-W04.json"))
      local th = r.threads[1]
      th.title = SUBJECT
      th.messages[1].subject = SUBJECT
      th.summary = th.summary or {}
      th.summary.text = SUMMARY
      return r
    end

    it("stays text: no data-pwned on the page, the payloads shown escaped", function()
      local out = html.render(model())
      local page = dir .. "/xss.html"
      write(page, out)
      local dom, lines = load(page, "--dump-dom")
      assert.truthy(dom:find("<article", 1, true), "the page did not render")
      assert.falsy(dom:find("data-pwned=", 1, true), "an injected script ran")
      assert.are.same({}, lines)
      assert.truthy(out:find(escaped(SUBJECT), 1, true))
      assert.truthy(out:find(escaped(SUMMARY), 1, true))
      assert.truthy(dom:find(as_text(SUBJECT), 1, true), "the subject payload is not on the page as text")
      assert.truthy(dom:find(as_text(SUMMARY), 1, true), "the summary payload is not on the page as text")
    end)

    -- Positive controls: the same page with one payload left unescaped (as a
    -- layout that forgot esc() would write it) does run it, so the check above
    -- can fail.
    for _, v in ipairs({ { "subject", SUBJECT }, { "summary", SUMMARY } }) do
      local which, payload = v[1], v[2]
      it("does run the " .. which .. " payload when it is not escaped (control)", function()
        local out, n = html.render(model()):gsub(plain(escaped(payload)), (payload:gsub("%%", "%%%%")))
        assert.is_true(n > 0)
        local page = dir .. "/control-" .. which .. ".html"
        write(page, out)
        local dom = load(page, "--dump-dom")
        assert.truthy(dom:find('<html[^>]*data%-pwned="' .. which .. '"'), "the unescaped payload did not run")
      end)
    end
  end)
end)
