-- The HTML layout on the sample week's real report model: one self-contained
-- document, a card per thread, charts whose numbers add up, and everything
-- from mail or the model escaped.
local json = require "listdigest.json"
local html = require "listdigest.layouts.html"
local timeutil = require "listdigest.timeutil"

local function model(lang)
  local r = json.decode(H.read("tests/golden/kvmarm-2022-W04.json"))
  r.lang = lang or r.lang
  return r
end

local function count(s, pat)
  local n = 0
  for _ in s:gmatch(pat) do n = n + 1 end
  return n
end

local function escaped(s)
  return (s:gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end

-- Elements HTML5 (and inline SVG) has but libxml2 2.9's HTML4 parser calls invalid.
local HTML5 = { main = 1, header = 1, footer = 1, nav = 1, section = 1, article = 1, figure = 1, figcaption = 1,
  details = 1, summary = 1, svg = 1, rect = 1, text = 1, g = 1 }

local function xmllint_errors(doc)
  if H.run("command -v xmllint") ~= 0 then return nil end
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  f:write(doc)
  f:close()
  local _, _, err = H.run("xmllint --html --noout " .. H.shquote(tmp))
  os.remove(tmp)
  local bad = {}
  for line in err:gmatch("[^\n]+") do
    local tag = line:match("HTML parser error : Tag (%w+) invalid")
    if line:match("parser error") and not (tag and HTML5[tag]) then bad[#bad + 1] = line end
  end
  return bad
end

describe("html layout", function()
  for _, lang in ipairs({ "zh", "en" }) do
    describe("on the kvmarm 2022-W04 model (" .. lang .. ")", function()
      local r = model(lang)
      local out = html.render(r)

      it("is one document with no external references and no script", function()
        assert.are.equal(1, count(out, "<!DOCTYPE html>"))
        assert.truthy(out:match("^<!DOCTYPE html>\n<html lang=\"[%w-]+\">"))
        assert.are.equal(1, count(out, "<html"))
        assert.are.equal(1, count(out, "</html>"))
        assert.truthy(out:find("<style>", 1, true))
        assert.truthy(out:find("prefers-color-scheme:dark", 1, true))
        assert.truthy(out:find("@media print", 1, true))
        assert.truthy(out:find('name="viewport"', 1, true))
        local low = out:lower()
        assert.falsy(low:find("<script", 1, true))
        assert.falsy(low:find("<link", 1, true))
        assert.falsy(low:find("@import", 1, true))
        assert.falsy(low:find("url(", 1, true))
        assert.falsy(low:find("<iframe", 1, true))
        assert.falsy(low:find("<img", 1, true))
        assert.falsy(low:find("%son%a+%s*="))
        assert.are.equal(0, count(low, "src%s*="))
        local links = 0
        for q, v in low:gmatch("href%s*=%s*([\"']?)([^\"'%s>]*)") do
          assert.are.equal('"', q)
          assert.truthy(v:match("^#[%w-]+$") or v:match("^https?://"), "unexpected href: " .. v)
          links = links + 1
        end
        assert.is_true(links > 340)
      end)

      it("has one card per thread, each title escaped, with badges and a message list", function()
        assert.are.equal(23, #r.threads)
        assert.are.equal(#r.threads, count(out, '<article class="card" id="t%-%d+">'))
        assert.are.equal(#r.threads, count(out, "<details>"))
        for i, th in ipairs(r.threads) do
          assert.truthy(out:find(escaped(th.title), 1, true), th.title)
          assert.truthy(out:find(('id="t-%d"'):format(i), 1, true))
          assert.truthy(out:find(('href="#t-%d"'):format(i), 1, true), "contents entry " .. i)
        end
        -- badges: version (with RFC), reviewed-by count only when there are reviews
        assert.falsy(out:find("Reviewed-by ×0", 1, true))
        assert.truthy(out:find("Reviewed-by ×2", 1, true))
        assert.truthy(out:find('<span class="badge">v6</span>', 1, true))
        assert.truthy(out:find('<span class="badge">RFC v4</span>', 1, true))
        -- every message's archive link is present
        for _, th in ipairs(r.threads) do
          for _, m in ipairs(th.messages) do
            assert.truthy(out:find('href="' .. escaped(m.url) .. '"', 1, true), m.url)
          end
        end
      end)

      it("draws the charts as inline SVG; the per-day bars add up to the message count", function()
        assert.are.equal(3, count(out, "<svg "))
        local want = {}
        for _, th in ipairs(r.threads) do
          for _, m in ipairs(th.messages) do
            if m.in_window then
              local d = os.date("!%Y-%m-%d", timeutil.parse(m.date))
              want[d] = (want[d] or 0) + 1
            end
          end
        end
        local sum, days = 0, 0
        for d, n in out:gmatch('<rect class="bar day"[^>]- data%-day="([%d-]+)" data%-count="(%d+)">') do
          n = tonumber(n)
          assert.are.equal(want[d] or 0, n, d)
          assert.truthy(out:find(("<title>%s: %d</title>"):format(d, n), 1, true))
          sum, days = sum + n, days + 1
        end
        assert.are.equal(7, days)
        assert.are.equal(r.stats.messages, sum)
        -- threads per category: one bar per category present, in report order
        local cats, want_cats = {}, {}
        for n, name in out:gmatch('<rect class="bar" [^>]-data%-count="(%d+)"><title>([^<]-): %d+</title>') do
          if #cats < 5 then cats[#cats + 1] = name .. "=" .. n end
        end
        for _, name in ipairs(r.categories) do
          local c = r.stats.by_category[name]
          if c then want_cats[#want_cats + 1] = name .. "=" .. c.threads end
        end
        assert.are.same(want_cats, cats)
      end)

      it("is well-formed enough for libxml2's HTML parser", function()
        local bad = xmllint_errors(out)
        if bad then assert.are.same({}, bad) end
      end)
    end)
  end

  it("uses the language's strings", function()
    local zh, en = html.render(model("zh")), html.render(model("en"))
    assert.truthy(zh:find('<html lang="zh-CN">', 1, true))
    assert.truthy(zh:find("每日邮件数", 1, true))
    assert.truthy(zh:find("目录", 1, true))
    assert.truthy(en:find('<html lang="en">', 1, true))
    assert.truthy(en:find("Messages per day", 1, true))
    assert.truthy(en:find("Contents", 1, true))
    assert.falsy(en:find("目录", 1, true))
  end)

  it("escapes everything from mail and the model and links only http(s)", function()
    local r = model("en")
    local th = r.threads[1]
    th.title = "<b>bold</b> & 'quoted'"
    th.messages[1].subject = "<script>alert(1)</script>"
    th.messages[1].from = '"><svg onload=alert(1)>'
    th.messages[2].url = "javascript:alert(1)"
    th.messages[3].url = " JAVASCRIPT:alert(1)"
    th.messages[4].url = "data:text/html,<script>alert(1)</script>"
    th.messages[5].url = 'https://x.example/"onmouseover="alert(1)'
    th.url = "javascript:alert(2)"
    th.summary.text = "<img src=x onerror=alert(1)>"
    th.summary.points = { "</li></ul><iframe src=//evil>" }
    th.summary.conclusion = "a & b"
    th.series.previous = { version = 5, date = "2022-01-01T00:00:00Z", url = "vbscript:x" }
    th.status.reviewed_by = { "<i>Eve</i> <eve@example.org>" }
    r.threads[2].category = "<u>cat</u>"
    r.categories[#r.categories + 1] = "<u>cat</u>"
    r.stats.by_category["<u>cat</u>"] = { threads = 1, messages = 51 }
    r.cost = { model = "<b>m</b>", requests = 1 }
    local out = html.render(r)
    for _, raw in ipairs({ "<script", "<img", "<svg onload", "<iframe", "<b>bold", "<b>m", "<u>", "<i>Eve" }) do
      assert.falsy(out:find(raw, 1, true), raw)
    end
    local low = out:lower()
    assert.falsy(low:find('href="%s*javascript'))
    assert.falsy(low:find('href="%s*data:'))
    assert.falsy(low:find('href="%s*vbscript:'))
    assert.falsy(low:find("onmouseover=\"", 1, true))
    assert.truthy(out:find("&lt;script&gt;alert(1)&lt;/script&gt;", 1, true))
    assert.truthy(out:find("&lt;img src=x onerror=alert(1)&gt;", 1, true))
    assert.truthy(out:find("&quot;&gt;&lt;svg onload=alert(1)&gt;", 1, true))
    assert.truthy(out:find("&lt;b&gt;bold&lt;/b&gt; &amp; &#39;quoted&#39;", 1, true))
    assert.truthy(out:find("&lt;/li&gt;&lt;/ul&gt;&lt;iframe src=//evil&gt;", 1, true))
    assert.truthy(out:find("&lt;u&gt;cat&lt;/u&gt;", 1, true))
    assert.truthy(out:find("a &amp; b", 1, true))
    assert.truthy(out:find("previous v5 on 2022-01-01", 1, true))
    -- the unsafe URLs lost their links; the subject is still shown as text
    assert.falsy(out:find("alert(2)", 1, true))
    local bad = xmllint_errors(out)
    if bad then assert.are.same({}, bad) end
  end)

  it("renders an empty week", function()
    local r = model("en")
    r.threads, r.stats.by_category = {}, {}
    r.stats.messages, r.stats.threads, r.stats.participants, r.stats.large_threads = 0, 0, 0, 0
    local out = html.render(r)
    assert.truthy(out:find("No messages in this window.", 1, true))
    assert.are.equal(0, count(out, '<article class="card"'))
    assert.are.equal(3, count(out, "<svg "))
    assert.truthy(out:find("</html>\n$"))
  end)
end)
