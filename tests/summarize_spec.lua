-- LLM summaries end to end: the CLI against the suite's OpenAI-protocol
-- server (tests/tools/openai_server.py) on 127.0.0.1, over the real sample
-- week. Prompts are checked as the server received them.
local json = require "listdigest.json"
local mbox = require "listdigest.mbox"

local SAMPLE = "examples/kvmarm-2022-W04.mbox"
local WEEK = "--since 2022-01-24 --until 2022-01-31"
local KEY = "sk-test-a1b2c3d4e5f6-DO-NOT-LEAK"
local q = H.shquote

local function start(args)
  local p = io.popen("unset LD_PRELOAD; echo $$; exec python3 tests/tools/openai_server.py --lifetime 120 " .. (args or ""))
  local pid, port = p:read("l"), p:read("l")
  assert(tonumber(port), "openai_server did not print its port")
  return { pid = pid, port = port, pipe = p, url = "http://127.0.0.1:" .. port .. "/v1" }
end

local function stop(srv)
  os.execute("kill " .. srv.pid .. " 2>/dev/null")
  srv.pipe:close()
end

local function stats(srv)
  local _, out = H.run(("python3 -c %s"):format(q(([[
import json, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/_stats").read().decode())]]):format(srv.port))))
  return json.decode(out)
end

local function reset(srv, settings)
  H.run(("python3 -c %s"):format(q(([[
import urllib.request
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/_reset", data=%q.encode(), method="POST",
  headers={"Content-Type": "application/json"}))]]):format(srv.port, json.encode(settings or json.object())))))
end

local function env(srv, extra)
  return ("LISTDIGEST_LLM_URL=%s LISTDIGEST_LLM_MODEL=gpt-4o-mini LISTDIGEST_LLM_KEY=%s %s")
    :format(srv.url, KEY, extra or "")
end

local function report(srv, dir, args, extra_env)
  return H.listdigest(("report --source %s --rules kvmarm %s --db %s/ld.db --format md,json --out %s %s")
    :format(SAMPLE, WEEK, q(dir), q(dir .. "/out"), args or ""), env(srv, extra_env))
end

-- The chat requests the server logged, as {system=, user=} strings.
local function prompts_of(st)
  local out = {}
  for _, e in ipairs(st.log) do
    if type(e.body) == "table" and e.body.messages then
      out[#out + 1] = { system = e.body.messages[1].content, user = e.body.messages[2].content, body = e.body,
                        headers = e.headers }
    end
  end
  return out
end

local function find(ps, needle)
  for _, p in ipairs(ps) do
    if p.user:find(needle, 1, true) then return p end
  end
end

-- The GIT PULL entry of DIR/out/report.json was summarised by the model.
local function assert_pull_summarised(dir)
  local pull
  for _, th in ipairs(json.decode(H.read(dir .. "/out/report.json")).threads) do
    if th.category == "GIT PULL" then pull = th end
  end
  assert.are.equal("llm", pull.summary.source)
  assert.matches("^Summary of: ", pull.summary.text)
end

describe("LLM summaries through an OpenAI-protocol server", function()
  local srv, dir
  setup(function() srv = start("--key " .. KEY) end)
  teardown(function() stop(srv) end)
  before_each(function()
    dir = H.tmpdir()
    reset(srv)
  end)
  after_each(function() os.execute("rm -rf " .. q(dir)) end)

  it("summarises every thread with the model and caches: a re-run makes no request", function()
    local code, _, err = report(srv, dir)
    assert.are.equal(0, code, err)
    local r = json.decode(H.read(dir .. "/out/report.json"))
    local st = stats(srv)
    assert.are.equal(23, #r.threads)
    for _, th in ipairs(r.threads) do
      assert.are.equal("llm", th.summary.source, th.title)
      assert.matches("^Summary of: ", th.summary.text)
    end
    assert.are.equal(st.requests, r.cost.requests)
    assert.is_true(r.cost.requests >= 23)
    assert.is_true(r.cost.prompt_tokens > 0 and r.cost.completion_tokens > 0)
    assert.are.equal("gpt-4o-mini", r.cost.model)
    -- gpt-4o-mini is priced in rules/default.lua: 0.15 / 0.60 USD per million
    assert.are.near((r.cost.prompt_tokens * 0.15 + r.cost.completion_tokens * 0.60) / 1e6, r.cost.money_usd, 1e-9)
    assert.matches("gpt%-4o%-mini", H.read(dir .. "/out/report.md"))

    -- again, nothing new: every answer comes from the cache
    reset(srv)
    code, _, err = report(srv, dir)
    assert.are.equal(0, code, err)
    assert.are.equal(0, stats(srv).requests)
    local r2 = json.decode(H.read(dir .. "/out/report.json"))
    assert.are.equal(0, r2.cost.requests)
    assert.are.equal(r.cost.requests, r2.cost.cached)
    for i, th in ipairs(r2.threads) do assert.are.same(r.threads[i].summary, th.summary) end
  end)

  it("summarises again only the thread that got a new reply", function()
    -- the week without one reply of the GIT PULL thread, then the whole week
    local box = assert(mbox.open(SAMPLE))
    local held = "8a78eca4-79b2-e183-f01a-6f56124bfdeb@redhat.com"   -- Paolo: "Pulled, thanks."
    local f = assert(io.open(dir .. "/partial.mbox", "wb"))
    local found = false
    for _, raw, from_line in box:messages() do
      if raw:find("Message-ID: <" .. held .. ">", 1, true) or raw:find("Message-Id: <" .. held .. ">", 1, true) then
        found = true
      else
        f:write(from_line, "\n", (raw:gsub("\n(>*From )", "\n>%1")), "\n")
      end
    end
    f:close()
    box:close()
    assert.is_true(found, "the pull request's reply is in the sample")
    local code, _, err = H.listdigest(("report --source %s/partial.mbox --rules kvmarm %s --db %s/ld.db --format json --out -")
      :format(q(dir), WEEK, q(dir)), env(srv))
    assert.are.equal(0, code, err)
    local first = stats(srv).requests
    reset(srv)
    code, _, err = report(srv, dir)
    assert.are.equal(0, code, err)
    local st = stats(srv)
    assert.are.equal(1, st.requests)
    assert.truthy(prompts_of(st)[1].user:find("[GIT PULL] KVM/arm64 fixes for 5.17, take #1", 1, true))
    assert.is_true(first >= 23)
  end)

  it("sends prompts that keep the cover letter, reviewers' words, trailers and the thread's glossary", function()
    local code, _, err = report(srv, dir, "--lang en")
    assert.are.equal(0, code, err)
    local ps = prompts_of(stats(srv))
    -- the v9 SME series: its cover letter whole, and the glossary entries its mail uses.
    -- (A thread this big may go in parts: find the request carrying the cover letter.)
    local sme = assert(find(ps, "Subject: [PATCH v9 00/40] arm64/sme: Initial support for the Scalable Matrix Extension"))
    assert.truthy(sme.user:find("This series provides initial support for the ARMv9 Scalable Matrix\nExtension (SME)", 1, true))
    assert.truthy(sme.user:find("Remove defensive programming around IS_ENABLED() and FGT in KVM code.", 1, true))
    assert.truthy(sme.system:find("- SME: Scalable Matrix Extension", 1, true))
    assert.truthy(sme.system:find("- SVE: Scalable Vector Extension", 1, true))
    assert.is_nil(sme.system:find("- RME:", 1, true))          -- not used by this thread
    assert.truthy(sme.system:find("English", 1, true))
    -- the mail is fenced as data and the system prompt says so
    assert.truthy(sme.user:find("<<<MAIL 1\n", 1, true))
    assert.truthy(sme.system:find("quoted data written by third parties", 1, true))
    -- a review thread: the reviewer's own words and the trailers he gave
    local v3 = assert(find(ps, "Subject: [PATCH v3] kselftest: kvm/arm64: Skip tests if we can't create a vgic-v3"))
    assert.truthy(v3.user:find("Reviewed-by: Andrew Jones <drjones@redhat.com>", 1, true))
    assert.truthy(v3.user:find("Tested-by: Ricardo Koller <ricarkol@google.com>", 1, true))
    assert.truthy(v3.user:find("Printing the negative error code returned by vgic_v3_setup", 1, true))
    -- no list footer, no signature
    for _, p in ipairs(ps) do assert.is_nil(p.user:find("kvmarm mailing list\nkvmarm@lists.cs.columbia.edu", 1, true)) end
    -- the request as the API wants it
    assert.are.equal("gpt-4o-mini", sme.body.model)
    assert.are.equal("json_schema", sme.body.response_format.type)
    assert.are.equal(1500, sme.body.max_tokens)
    assert.are.equal("Bearer " .. KEY, sme.headers.Authorization or sme.headers.authorization)
  end)

  it("marks a thread that keeps failing, summarises the rest, and exits 3", function()
    local code, _, err = H.listdigest(("report --source %s --rules tests/fixtures/rules-llm/kvmarm-faulty-pull.lua %s " ..
      "--db %s/ld.db --format md,json --out %s"):format(SAMPLE, WEEK, q(dir), q(dir .. "/out")), env(srv))
    assert.are.equal(3, code, err)
    assert.matches("1 of 23 threads could not be summarised", err)
    local r = json.decode(H.read(dir .. "/out/report.json"))
    local failed = 0
    for _, th in ipairs(r.threads) do
      if th.category == "GIT PULL" then
        assert.are.equal("failed", th.summary.source)
        assert.matches("500", th.summary.error)
        failed = failed + 1
      else
        assert.are.equal("llm", th.summary.source)
      end
    end
    assert.are.equal(1, failed)
    assert.are.equal(1, r.cost.failed)
    assert.truthy(H.read(dir .. "/out/report.md"):find("摘要失败", 1, true))
  end)

  it("never writes the API key into reports, the store, errors or output", function()
    local code, out, err = report(srv, dir)
    assert.are.equal(0, code, err)
    -- and a failing run, whose errors are the likeliest place to leak
    local code2, out2, err2 = H.listdigest(("report --source %s --rules kvmarm %s --db %s/other.db --out -")
      :format(SAMPLE, WEEK, q(dir)), ("LISTDIGEST_LLM_URL=%s LISTDIGEST_LLM_MODEL=gpt-4o-mini LISTDIGEST_LLM_KEY=wrong-%s")
      :format(srv.url, KEY))
    assert.are.equal(1, code2, err2)
    for _, text in ipairs({ out, err, out2, err2, H.read(dir .. "/out/report.md"), H.read(dir .. "/out/report.json"),
                            H.read(dir .. "/ld.db"), H.read(dir .. "/other.db") }) do
      assert.is_nil(text:find(KEY, 1, true))
    end
    local _, wal = H.run("cat " .. q(dir .. "/ld.db-wal") .. " 2>/dev/null")
    assert.is_nil(wal:find(KEY, 1, true))
  end)

  it("stops at a refused key: exit 1 within seconds, at most --jobs requests, one line, no report", function()
    local t0 = os.time()
    local code, out, err = H.listdigest(("report --source %s --rules kvmarm %s --db %s/ld.db --jobs 3 " ..
      "--format md,json --out %s"):format(SAMPLE, WEEK, q(dir), q(dir .. "/out")),
      ("LISTDIGEST_LLM_URL=%s LISTDIGEST_LLM_MODEL=gpt-4o-mini LISTDIGEST_LLM_KEY=wrong-%s"):format(srv.url, KEY))
    assert.are.equal(1, code, err)
    assert.is_true(os.time() - t0 <= 6)
    assert.is_true(stats(srv).requests <= 3, "requests " .. stats(srv).requests)
    assert.matches("^listdigest: the model server refused the request %(" .. srv.url:gsub("%p", "%%%0") ..
      ", model gpt%-4o%-mini%): HTTP 401", err)
    assert.are.equal(1, select(2, err:gsub("\n", "")))
    assert.are.equal("", out)
    assert.is_false(H.exists(dir .. "/out/report.md"))
    assert.is_false(H.exists(dir .. "/out/report.json"))
  end)

  it("keeps every answer the moment it arrives: after SIGTERM the re-run asks only for the rest", function()
    -- the whole week once, for the number of requests it takes
    local code, _, err = report(srv, dir)
    assert.are.equal(0, code, err)
    local full = stats(srv).requests
    -- again into a new store, slowly, stopped half-way
    reset(srv, { latency = 400 })
    local cmd = ("%s %s%s report --source %s --rules kvmarm %s --db %s/b.db --jobs 2 --format md --out %s")
      :format(env(srv), H.valgrind, H.bin, SAMPLE, WEEK, q(dir), q(dir .. "/b"))
    local rc, out, serr = H.run(("%s 2>%s & pid=$!; sleep 3; kill -TERM $pid; wait $pid; echo $?")
      :format(cmd, q(dir .. "/b.err")))
    local status = tonumber(out:match("(%d+)%s*$"))
    local text = H.read(dir .. "/b.err")
    assert.are.equal(143, status, text .. serr .. tostring(rc))
    local kept, asked = text:match("interrupted %(SIGTERM%): (%d+) of (%d+) answers kept")
    assert.is_not_nil(kept, text)
    kept = tonumber(kept)
    assert.is_true(kept >= 1 and kept < tonumber(asked), text)
    assert.is_false(H.exists(dir .. "/b/report.md"))
    -- the re-run pays only for what was not kept
    reset(srv)
    code, _, err = H.listdigest(("report --source %s --rules kvmarm %s --db %s/b.db --format md --out %s")
      :format(SAMPLE, WEEK, q(dir), q(dir .. "/b")), env(srv))
    assert.are.equal(0, code, err)
    assert.are.equal(full - kept, stats(srv).requests)
  end)

  it("answers an answer of another shape with one correction, and keeps the corrected one", function()
    local function run()
      return H.listdigest(("report --source %s --rules tests/fixtures/rules-llm/kvmarm-shape-pull.lua %s " ..
        "--db %s/ld.db --format json --out %s"):format(SAMPLE, WEEK, q(dir), q(dir .. "/out")), env(srv))
    end
    local code, _, err = run()
    assert.are.equal(0, code, err)
    assert_pull_summarised(dir)
    -- the correction said what was wrong
    local fix
    for _, p in ipairs(prompts_of(stats(srv))) do
      local last = p.body.messages[#p.body.messages].content
      if last:find("That answer does not fit", 1, true) then fix = last end
    end
    assert.matches("has no text", fix)
    -- the corrected answer is stored under the thread's first request: no request again
    reset(srv)
    code, _, err = run()
    assert.are.equal(0, code, err)
    assert.are.equal(0, stats(srv).requests)
  end)

  it("asks in text mode when the JSON keeps not fitting, and remembers that for the server and model", function()
    local code, _, err = H.listdigest(("report --source %s --rules tests/fixtures/rules-llm/kvmarm-shape-always.lua " ..
      "%s --db %s/ld.db --format json --out %s"):format(SAMPLE, WEEK, q(dir), q(dir .. "/out")), env(srv))
    assert.are.equal(0, code, err)
    assert_pull_summarised(dir)
    local asked = {}
    for _, p in ipairs(prompts_of(stats(srv))) do
      if p.user:find("FAULT:shape", 1, true) or p.system:find("FAULT:shape", 1, true) then
        asked[#asked + 1] = p.body.response_format and p.body.response_format.type or "text"
      end
    end
    assert.are.same({ "json_schema", "json_schema", "text" }, asked)
    local _, st = H.run(("sqlite3 %s \"SELECT value FROM fetch_state WHERE key = 'response_format:%s gpt-4o-mini'\"")
      :format(q(dir .. "/ld.db"), srv.url))
    assert.are.equal("text", st:match("%S+"))
  end)

  it("passes LISTDIGEST_LLM_PARAMS to a Qwen3 server that needs enable_thinking false, and refuses bad ones", function()
    reset(srv, { personality = "qwen", thinking_off = true })
    local code, _, err = report(srv, dir, "", [[LISTDIGEST_LLM_PARAMS='{"enable_thinking": false}']])
    assert.are.equal(0, code, err)
    for _, p in ipairs(prompts_of(stats(srv))) do assert.is_false(p.body.enable_thinking) end
    for _, bad in ipairs({ "'[1, 2]'", "'{not json'", "'\"x\"'" }) do
      code, _, err = report(srv, dir, "", "LISTDIGEST_LLM_PARAMS=" .. bad)
      assert.are.equal(1, code, bad)
      assert.matches("LISTDIGEST_LLM_PARAMS must be a JSON object", err)
    end
    code, _, err = report(srv, dir, "--llm-timeout abc")
    assert.are.equal(1, code)
    assert.matches("--llm-timeout abc", err, 1, true)
  end)

  it("keeps every request within the budget, merging in rounds, and refuses a budget with no room for mail", function()
    local code, _, err = report(srv, dir, "", "LISTDIGEST_LLM_BUDGET=3000")
    assert.are.equal(0, code, err)
    local r = json.decode(H.read(dir .. "/out/report.json"))
    for _, th in ipairs(r.threads) do assert.are.equal("llm", th.summary.source, th.title) end
    local biggest, merges, merged_parts = 0, 0, 0
    for _, p in ipairs(prompts_of(stats(srv))) do
      local chars = #p.system + #p.user
      biggest = math.max(biggest, chars)
      if p.user:find("\n<<<PART 1\n", 1, true) then
        merges = merges + 1
        for _ in p.user:gmatch("\n<<<PART %d+\n") do merged_parts = merged_parts + 1 end
      end
    end
    -- the server counts a token per 4 characters; listdigest's estimate runs close to that on mail
    print(("budget 3000: biggest request %d characters (~%d tokens), %d merge requests"):format(biggest,
      biggest // 4, merges))
    assert.is_true(biggest / 4 <= 3000 * 1.15, "biggest request ~" .. biggest // 4 .. " tokens")
    assert.is_true(merges >= 1)
    code, _, err = report(srv, dir, "", "LISTDIGEST_LLM_BUDGET=2000")
    assert.are.equal(1, code)
    assert.matches("leaves no room for mail", err)
  end)

  it("summarises or fails with its reason every thread against every behaviour at once; the re-run fills the gaps",
    function()
    -- Qwen3-like (needs enable_thinking false), reasoning-model-like (refuses
    -- max_tokens and temperature), an answer held 30 s for the pull request
    -- (past --llm-timeout), <think> with a decoy for PATCH, another JSON
    -- shape for Selftest: tests/fixtures/rules-llm/kvmarm-every-fault.lua.
    reset(srv, { personality = "qwen", thinking_off = true, reasoning = true, stall = 30 })
    local function run()
      return H.listdigest(("report --source %s --rules tests/fixtures/rules-llm/kvmarm-every-fault.lua %s " ..
        "--db %s/ld.db --jobs 8 --llm-timeout 1 --format json --out %s"):format(SAMPLE, WEEK, q(dir), q(dir .. "/out")),
        env(srv, [[LISTDIGEST_LLM_PARAMS='{"enable_thinking": false}']]))
    end
    local code, _, err = run()
    assert.are.equal(3, code, err)
    assert.matches("1 of 23 threads could not be summarised", err)
    local r = json.decode(H.read(dir .. "/out/report.json"))
    local seen = {}
    for _, th in ipairs(r.threads) do
      seen[th.category] = true
      if th.category == "GIT PULL" then
        assert.are.equal("failed", th.summary.source)
        assert.matches("timed out after %d+ milliseconds .*%(after 5 attempts%)", th.summary.error)
      else
        assert.are.equal("llm", th.summary.source, th.title)
        assert.matches("^Summary of: ", th.summary.text)
        assert.is_nil(th.summary.text:find("decoy", 1, true))
      end
    end
    assert.is_true(seen.PATCH and seen.Selftest and seen["GIT PULL"] and true)
    local st = stats(srv)
    local faults = {}
    for _, e in ipairs(st.log) do
      if e.fault then faults[e.fault] = (faults[e.fault] or 0) + 1 end
    end
    assert.are.equal(5, faults.timeout)
    assert.is_true((faults.think or 0) >= 1 and faults.shape == 1)
    local answered = 0
    for _, e in ipairs(st.log) do
      if e.status == 200 then   -- what works, once learned
        answered = answered + 1
        assert.is_false(e.body.enable_thinking)
        assert.is_nil(e.body.max_tokens)
        assert.is_nil(e.body.temperature)
        assert.is_true(e.body.max_completion_tokens > 0)
      end
    end
    assert.is_true(answered >= 22)
    -- the re-run (the server's fault counts go on: the pull is answered now)
    -- asks only for the pull request, and gets it
    local before = #prompts_of(st)
    code, _, err = run()
    assert.are.equal(0, code, err)
    assert_pull_summarised(dir)
    local all = prompts_of(stats(srv))
    local again = table.move(all, before + 1, #all, 1, {})
    assert.is_true(#again >= 1)
    for _, p in ipairs(again) do assert.truthy(p.user:find("FAULT:timeout:5:pull", 1, true), p.user:sub(1, 200)) end
    for _, th in ipairs(json.decode(H.read(dir .. "/out/report.json")).threads) do
      assert.are.equal("llm", th.summary.source, th.title)
    end
  end)

  it("refuses a URL without a model, and --offline makes no request", function()
    local code, _, err = H.listdigest(("report --source %s %s --out -"):format(SAMPLE, WEEK),
      ("LISTDIGEST_LLM_URL=%s"):format(srv.url))
    assert.are.equal(1, code)
    assert.matches("LISTDIGEST_LLM_MODEL", err)
    code, _, err = report(srv, dir, "--offline")
    assert.are.equal(0, code, err)
    assert.are.equal(0, stats(srv).requests)
    assert.are.equal("extractive", json.decode(H.read(dir .. "/out/report.json")).threads[1].summary.source)
  end)
end)
