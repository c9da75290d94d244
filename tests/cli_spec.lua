-- The command line end to end: the binary, real mail, exit statuses.
local json = require "listdigest.json"

local SAMPLE = "examples/kvmarm-2022-W04.mbox"
local WEEK = "--since 2022-01-24 --until 2022-01-31"
local q = H.shquote

local function ls(dir)
  local p = io.popen("ls -A " .. q(dir))
  local s = p:read("a")
  p:close()
  return s
end

describe("listdigest command line", function()
  it("prints help naming every command, and exits 0", function()
    local code, out = H.listdigest("--help")
    assert.are.equal(0, code)
    for _, w in ipairs({ "report", "threads", "run", "--source", "--rules", "--since", "--until", "--format",
                         "--out", "--lang", "--offline", "--json", "Exit status" }) do
      assert.is_truthy(out:find(w, 1, true), w)
    end
  end)

  it("prints the version from the VERSION file", function()
    local code, out = H.listdigest("--version")
    assert.are.equal(0, code)
    assert.are.equal("listdigest " .. H.read("VERSION"), out)
  end)

  it("writes Markdown, JSON and HTML for the sample week, with every message of the mbox", function()
    local dir = H.tmpdir()
    local code, _, err = H.listdigest(("report --source %s --rules kvmarm %s --offline --format md,json,html --out %s")
      :format(SAMPLE, WEEK, q(dir)))
    assert.are.equal(0, code, err)
    local report = json.decode(H.read(dir .. "/report.json"))
    local md = H.read(dir .. "/report.md")
    -- the sample holds 340 messages, all dated in the week (MANIFEST)
    assert.are.equal(340, report.stats.messages)
    local listed = 0
    for _, th in ipairs(report.threads) do listed = listed + #th.messages end
    assert.are.equal(340, listed)
    assert.is_truthy(md:find("2022-01-24 00:00 UTC", 1, true))
    local html = H.read(dir .. "/report.html")
    assert.are.equal(23, select(2, html:gsub('<article class="card"', "")))
    assert.is_nil(html:find("<script", 1, true))
    os.execute("rm -rf " .. q(dir))
  end)

  it("writes one format to standard output and refuses two", function()
    local code, out = H.listdigest(("report --source %s %s --format json --out -"):format(SAMPLE, WEEK))
    assert.are.equal(0, code)
    assert.is_truthy(json.decode(out))
    code = H.listdigest(("report --source %s %s --format md,json --out -"):format(SAMPLE, WEEK))
    assert.are.equal(1, code)
  end)

  it("shows threads with their categories as JSON", function()
    local code, out, err = H.listdigest(("threads --source %s --rules kvmarm %s --json"):format(SAMPLE, WEEK))
    assert.are.equal(0, code, err)
    local v = json.decode(out)
    assert.are.equal(340, v.messages_read)
    for _, t in ipairs(v.threads) do
      assert.is_string(t.category)
      assert.is_string(t.title)
    end
  end)

  it("runs a report script with the API loaded", function()
    local code, out, err = H.listdigest("run examples/weekly-digest.lua " .. SAMPLE)
    assert.are.equal(0, code, err)
    assert.matches("^# kvmarm: %d+ threads, 340 messages, 2022%-01%-24 %.%. 2022%-01%-31", out)
    assert.is_truthy(out:find("## Most active", 1, true))
  end)

  describe("bad input gets one clear line, the right status and no report", function()
    local dir
    before_each(function() dir = H.tmpdir() end)
    after_each(function() os.execute("rm -rf " .. q(dir)) end)

    local function expect(args, status, pattern)
      local out = dir .. "/out"
      local code, _, err = H.listdigest(args .. " --out " .. q(out))
      assert.are.equal(status, code, err)
      local lines = select(2, err:gsub("\n", ""))
      assert.are.equal(1, lines, err)
      assert.matches(pattern, err)
      assert.is_false(H.exists(out .. "/report.md"))
    end

    it("a path that does not exist", function()
      expect(("report --source %s/nope.mbox %s"):format(dir, WEEK), 2, "nope%.mbox")
    end)

    it("an empty file", function()
      io.open(dir .. "/empty.mbox", "w"):close()
      expect(("report --source %s/empty.mbox %s"):format(dir, WEEK), 2, "empty%.mbox")
    end)

    it("a file that is not mail", function()
      local f = io.open(dir .. "/pic.png", "wb")
      f:write("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\8\6\0\0\0\31\21\196\137")
      f:close()
      expect(("report --source %s/pic.png %s"):format(dir, WEEK), 2, "pic%.png")
    end)

    it("a truncated gzip file", function()
      os.execute(("gzip -c %s | head -c 100000 > %s/cut.mbox.gz"):format(SAMPLE, q(dir)))
      expect(("report --source %s/cut.mbox.gz %s"):format(dir, WEEK), 2, "cut%.mbox%.gz")
    end)

    it("a rules file with a syntax error, naming file and line", function()
      local f = io.open(dir .. "/bad.lua", "w")
      f:write("return {\n  list = 'x',\n  categories = {\n    { name = 'A' \n  }\n")
      f:close()
      expect(("report --source %s --rules %s/bad.lua %s"):format(SAMPLE, dir, WEEK), 1, "bad%.lua:%d+")
    end)

    it("a rules file with an unknown category field", function()
      local f = io.open(dir .. "/field.lua", "w")
      f:write("return { list = 'x', categories = { { name = 'A', mtach = function(t) return true end } } }\n")
      f:close()
      expect(("report --source %s --rules %s/field.lua %s"):format(SAMPLE, dir, WEEK), 1, "field%.lua.*mtach")
    end)

    it("--since after --until", function()
      expect(("report --source %s --since 2022-02-01 --until 2022-01-24"):format(SAMPLE), 1, "%-%-since")
    end)

    it("an unknown option", function()
      expect(("report --source %s --frmat md"):format(SAMPLE), 1, "%-%-frmat")
    end)
  end)
end)

describe("make install", function()
  it("installs the binary, Lua files, rules and man page; the installed tool finds its Lua files", function()
    local dest = H.tmpdir()
    local code, _, err = H.run(("make -s install DESTDIR=%s PREFIX=/opt/ld"):format(H.shquote(dest)))
    assert.are.equal(0, code, err)
    local root = dest .. "/opt/ld"
    for _, f in ipairs({ "/bin/listdigest", "/share/listdigest/lua/listdigest/cli.lua",
                         "/share/listdigest/rules/kvmarm.lua", "/share/man/man1/listdigest.1" }) do
      assert.is_true(H.exists(root .. f), f)
    end
    -- run from elsewhere, with no hint where the Lua files are
    local sample = os.getenv("PWD") .. "/examples/kvmarm-2022-W04.mbox"
    code, _, err = H.run(("cd / && env -u LISTDIGEST_HOME %s/bin/listdigest threads --rules kvmarm --source %s " ..
      "--since 2022-01-24 --until 2022-01-31 --json"):format(H.shquote(root), H.shquote(sample)))
    assert.are.equal(0, code, err)
    os.execute("rm -rf " .. H.shquote(dest))
  end)
end)
