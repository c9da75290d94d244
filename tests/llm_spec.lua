-- Specification of listdigest.llm, the chat-completions client the summarize
-- stage uses: what it sends, how it falls back from json_schema to json_object
-- to text per server, how each kind of bad answer is retried or reported, how
-- many requests it keeps in flight, and that the API key never leaks. Runs
-- against tests/tools/openai_server.py on 127.0.0.1 only.
local llm = require "listdigest.llm"
local http = require "listdigest.http"
local json = require "listdigest.json"

local ENV = "env -u LD_PRELOAD "

local function now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

local SCHEMA = {
  type = "object",
  properties = {
    text = { type = "string" },
    points = { type = "array", items = { type = "string" } },
    conclusion = { type = "string" },
    open_questions = { type = "array", items = { type = "string" } },
  },
  required = { "text", "points", "conclusion", "open_questions" },
}

local SYSTEM = "You summarise kernel mailing-list threads. Reply in JSON.\nGlossary:\nRME: Realm Management Extension"

-- A thread-summary request whose user message starts with FIRST.
local function req(first, opts)
  opts = opts or {}
  return {
    messages = {
      { role = "system", content = opts.system or SYSTEM },
      { role = "user", content = first .. "\nThe thread body." },
    },
    schema = opts.schema == nil and SCHEMA or opts.schema or nil,
    name = "thread_summary",
  }
end

-- N requests "thread 1" .. "thread N".
local function batch(n)
  local b = {}
  for i = 1, n do b[i] = req("thread " .. i) end
  return b
end

describe("listdigest.llm", function()
  local srv, ctl

  setup(function()
    local p = io.popen("echo $$; exec " .. ENV .. "python3 tests/tools/openai_server.py --lifetime 120")
    local pid, port = p:read("l"), p:read("l")
    assert(tonumber(port), "openai_server did not print its port")
    srv = { pid = pid, pipe = p, base = "http://127.0.0.1:" .. port }
    ctl = http.client{ progress = false, retries = 0 }
  end)

  teardown(function()
    os.execute("kill " .. srv.pid .. " 2>/dev/null")
    srv.pipe:close()
  end)

  -- Resets the server's counters and settings (openai_server.py's long options).
  local function reset(settings)
    assert(ctl:request{ method = "POST", url = srv.base .. "/_reset",
                        body = json.encode(settings or json.object()) })
  end

  local function stats()
    return json.decode(assert(ctl:request{ url = srv.base .. "/_stats" }).body)
  end

  -- A client that retries fast; no key unless asked (the environment may hold one).
  local function client(opts)
    local o = { url = srv.base .. "/v1", model = "gpt-4o-mini", key = false, retries = 3,
                backoff = 0.02, max_backoff = 0.05, timeout = 5, progress = false }
    for k, v in pairs(opts or {}) do o[k] = v end
    return llm.client(o)
  end

  -- A Lua script in a new folder, run by stock lua5.4 against this build (its
  -- own process: environment, stderr); BODY sees llm and URL. Returns the
  -- folder and the script's path.
  local function lua_script(name, body)
    local dir = H.tmpdir()
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(("package.cpath = %q .. \"/?.so;\" .. package.cpath\nlocal llm = require \"listdigest.llm\"\n" ..
             "local URL = %q\n"):format(H.build, srv.base .. "/v1"), body)
    f:close()
    return dir, dir .. "/" .. name
  end

  local function statuses(log)
    local s = {}
    for i, e in ipairs(log) do s[i] = (e.format or "?") .. " " .. tostring(e.status) end
    return s
  end

  describe("requests", function()
    it("sends model, messages, temperature, max_tokens and a json_schema format, and decodes the answer", function()
      reset()
      local c = client{ key = "sk-test-0123456789", temperature = 0.2, max_tokens = 321 }
      local r = c:complete{ req("[PATCH v2 1/3] KVM: arm64: fix the vgic") }[1]
      assert.is_nil(r.error)
      assert.are.equal("Summary of: [PATCH v2 1/3] KVM: arm64: fix the vgic", r.json.text)
      assert.are.same({ "RME: Realm Management Extension" }, { table.unpack(r.json.points) })
      assert.are.equal("json_schema", r.format)
      assert.are.equal("stop", r.finish_reason)
      assert.are.equal("gpt-4o-mini", r.model)
      assert.are.equal(1, r.attempts)
      local text = SYSTEM .. "[PATCH v2 1/3] KVM: arm64: fix the vgic\nThe thread body."
      assert.are.equal(math.ceil(#text / 4), r.usage.prompt_tokens)
      assert.are.equal(math.ceil(#r.content / 4), r.usage.completion_tokens)
      local e = stats().log[1]
      assert.are.equal("application/json", e.headers["content-type"])
      assert.are.equal("Bearer sk-test-0123456789", e.headers["authorization"])
      local b = e.body
      assert.are.equal("gpt-4o-mini", b.model)
      assert.are.equal(0.2, b.temperature)
      assert.are.equal(321, b.max_tokens)
      assert.is_nil(b.max_completion_tokens)
      assert.are.equal("system", b.messages[1].role)
      assert.are.equal(SYSTEM, b.messages[1].content)
      assert.are.equal("user", b.messages[2].role)
      assert.are.equal("json_schema", b.response_format.type)
      assert.are.equal("thread_summary", b.response_format.json_schema.name)
      assert.is_true(b.response_format.json_schema.strict)
      assert.are.equal(json.encode(SCHEMA), json.encode(b.response_format.json_schema.schema))
      local keys = {}
      for k in pairs(b) do keys[#keys + 1] = k end
      table.sort(keys)
      assert.are.same({ "max_tokens", "messages", "model", "response_format", "temperature" }, keys)
      c:close()
    end)

    it("sends no Authorization header without a key, and tolerates a trailing / in the URL", function()
      reset()
      local c = client{ url = srv.base .. "/v1/" }
      assert.is_nil(c:complete{ req("one") }[1].error)
      assert.is_nil(stats().log[1].headers["authorization"])
    end)

    it("takes the key from LISTDIGEST_LLM_KEY, else OPENAI_API_KEY", function()
      local dir, script = lua_script("env.lua", [[
local c = llm.client{ url = URL, model = "gpt-4o-mini", progress = false, retries = 0 }
local r = c:complete{ { messages = { { role = "user", content = "hello JSON" } } } }[1]
io.write(r.error or "ok", "|", llm.redact("log: sk-env-first sk-env-second"))
]])
      reset()
      local code, out = H.run("LISTDIGEST_LLM_KEY=sk-env-first OPENAI_API_KEY=sk-env-second " .. H.lua() .. " " .. script)
      assert.are.equal(0, code)
      assert.are.equal("ok|log: [redacted] [redacted]", out)
      code, out = H.run("env -u LISTDIGEST_LLM_KEY OPENAI_API_KEY=sk-env-second " .. H.lua() .. " " .. script)
      assert.are.equal(0, code)
      assert.are.equal("ok|log: sk-env-first [redacted]", out)
      code = H.run("env -u LISTDIGEST_LLM_KEY -u OPENAI_API_KEY " .. H.lua() .. " " .. script)
      assert.are.equal(0, code)
      local log = stats().log
      assert.are.equal("Bearer sk-env-first", log[1].headers.authorization)
      assert.are.equal("Bearer sk-env-second", log[2].headers.authorization)
      assert.is_nil(log[3].headers.authorization)
      os.execute("rm -rf " .. H.shquote(dir))
    end)

    it("adds \"Answer in JSON.\" for json_object when no message says JSON, as OpenAI requires", function()
      reset()
      local c = client{ response_format = "json_object" }
      local r = c:complete{ req("one", { system = "Summarise the thread." }), req("two", { schema = false }) }
      assert.is_nil(r[1].error)
      assert.are.equal("json_object", r[1].format)
      -- the two requests run at once: find each in the log by its user message
      local one, two
      for _, e in ipairs(stats().log) do
        if e.body.messages[2].content:find("^one") then one = e else two = e end
      end
      assert.are.equal("Summarise the thread.\n\nAnswer in JSON.", one.body.messages[1].content)
      assert.are.equal(SYSTEM, two.body.messages[1].content)
      assert.are.equal("json_object", two.body.response_format.type)
    end)

    it("asks for json_object at most when a request has no schema", function()
      reset()
      local r = client():complete{ req("no schema", { schema = false }) }[1]
      assert.are.equal("json_object", r.format)
      assert.are.equal("json_object", stats().log[1].body.response_format.type)
    end)

    it("raises on caller mistakes", function()
      assert.has_error(function() llm.client{ model = "m" } end)
      assert.has_error(function() llm.client{ url = "ftp://x", model = "m" } end)
      assert.has_error(function() client{ jobz = 3 } end, "llm.client: unknown field jobz")
      assert.has_error(function() client{ response_format = "xml" } end)
      local c = client()
      assert.has_error(function() c:complete{ { messages = {} } } end)
      assert.has_error(function() c:complete{ { messages = { { role = "developer", content = "x" } } } } end)
      assert.has_error(function() c:complete{ { messages = { { role = "user" } } } } end)
      assert.has_error(function() c:complete{ { messages = { { role = "user", content = "x" } }, name = "a b" } } end)
      assert.has_error(function() c:complete{ { messages = { { role = "user", content = "x" } }, schema = { f = print } } } end)
      c:close()
      c:close()
      assert.has_error(function() c:complete{} end, "attempt to use a closed llm client")
    end)

    it("reports a message that is not UTF-8 as that request's failure", function()
      reset()
      local r = client():complete{ req("ok"), req("bad \xff\xfe") }
      assert.is_nil(r[1].error)
      assert.are.equal("utf8", r[2].code)
      assert.are.equal(1, stats().requests)
    end)
  end)

  describe("response_format fallback", function()
    it("falls back to json_object on DeepSeek and remembers it for the next batch", function()
      reset{ personality = "deepseek" }
      local c = client{ jobs = 1 }
      local r = c:complete{ req("a"), req("b") }
      assert.are.equal("json_object", r[1].format)
      assert.are.equal("Summary of: a", r[1].json.text)
      assert.are.equal(2, r[1].attempts)
      assert.are.equal("json_object", r[2].format)
      assert.are.equal(1, r[2].attempts)
      assert.are.equal("json_object", c.format)
      assert.are.same({ "json_schema 400", "json_object 200", "json_object 200" }, statuses(stats().log))
      local s = c:stats()
      assert.are.equal(1, s.fallbacks)
      assert.are.equal(0, s.failed)
      assert.are.equal(3, s.requests)
      reset{ personality = "deepseek" }
      r = c:complete{ req("c"), req("d") }
      assert.are.same({ "json_object 200", "json_object 200" }, statuses(stats().log))
    end)

    it("sends no more refused requests than are in flight when the first refusal comes back", function()
      reset{ personality = "llamacpp", latency = 50 }
      local c = client{ jobs = 3 }
      local batch = {}
      for i = 1, 9 do batch[i] = req("t" .. i) end
      local r = c:complete(batch)
      local refused = 0
      for _, e in ipairs(stats().log) do if e.status == 400 then refused = refused + 1 end end
      assert.is_true(refused >= 1 and refused <= 3, refused .. " refused")
      for i = 1, 9 do assert.are.equal("json_object", r[i].format) end
      assert.are.equal(1, c:stats().fallbacks)
      assert.are.equal("json_object", c.format)
    end)

    it("recognises each provider's way of refusing json_schema", function()
      for _, p in ipairs{ "openai", "qwen", "vllm", "llamacpp", "deepseek" } do
        reset{ personality = p, formats = "text,json_object" }
        local c = client()
        local r = c:complete{ req("x") }[1]
        assert.are.equal("json_object", r.format, p)
        assert.are.same({ "json_schema 400", "json_object 200" }, statuses(stats().log), p)
        assert.are.equal(0, c:stats().failed, p)
      end
    end)

    it("stays at json_schema on OpenAI, Qwen and vLLM", function()
      for _, p in ipairs{ "openai", "qwen", "vllm" } do
        reset{ personality = p }
        local c = client()
        local r = c:complete{ req("x") }[1]
        assert.are.equal("json_schema", r.format, p)
        assert.are.equal("json_schema", c.format, p)
        assert.are.same({ "json_schema 200" }, statuses(stats().log), p)
      end
    end)

    it("digs the JSON out of the fenced text Ollama answers when it ignores the format", function()
      reset{ personality = "ollama", text = "fenced" }
      local c = client()
      local r = c:complete{ req("fenced") }[1]
      assert.are.equal("Summary of: fenced", r.json.text)
      assert.matches("^Here is the summary", r.content)
      assert.are.equal("text", r.format)
      assert.are.equal("json_schema", c.format)
      assert.are.equal(1, stats().requests)
    end)

    it("falls back to text when the answer holds no JSON, and returns the prose", function()
      reset{ personality = "ollama", text = "prose" }
      local c = client()
      local r = c:complete{ req("prose") }[1]
      assert.is_nil(r.error)
      assert.is_nil(r.json)
      assert.matches("^Summary of the thread: Summary of: prose", r.content)
      assert.are.equal("text", r.format)
      assert.are.equal(3, r.attempts)
      assert.are.equal("text", c.format)
      assert.are.equal(2, c:stats().fallbacks)
      local log = stats().log
      assert.are.same({ "json_schema 200", "json_object 200", "text 200" }, statuses(log))
      assert.is_nil(log[3].body.response_format)
    end)

    it("starts at the level it is given, and fails instead of falling back when fallback = false", function()
      reset{ personality = "deepseek" }
      local r = client{ response_format = "json_object" }:complete{ req("x") }[1]
      assert.are.equal("json_object", r.format)
      assert.are.same({ "json_object 200" }, statuses(stats().log))
      reset{ personality = "deepseek" }
      local c = client{ response_format = "json_schema", fallback = false }
      r = c:complete{ req("y") }[1]
      assert.are.equal("format", r.code)
      assert.matches("refuses response_format json_schema: This response_format type is unavailable now", r.error)
      assert.are.equal("json_schema", c.format)
      assert.are.equal(1, stats().requests)
    end)
  end)

  describe("faults", function()
    it("honours Retry-After on a 429, then succeeds", function()
      reset{ retry_after = 1 }
      local t0 = now()
      local r = client():complete{ req("x FAULT:429:1") }[1]
      local took = now() - t0
      assert.is_nil(r.error)
      assert.are.equal(2, r.attempts)
      assert.is_true(took >= 0.95 and took < 3, "took " .. took)
    end)

    it("retries 500 and 503, a reset connection, a non-JSON body and truncated JSON, then succeeds", function()
      reset()
      local markers = { "FAULT:500:2", "FAULT:503:1", "FAULT:reset:1", "FAULT:nonjson:1",
                        "FAULT:truncated:1", "FAULT:cutjson:1", "FAULT:empty:1", "FAULT:blank:2" }
      local batch = {}
      for i, m in ipairs(markers) do batch[i] = req(m) end
      local c = client()
      local r = c:complete(batch)
      for i, m in ipairs(markers) do
        assert.is_nil(r[i].error, m .. ": " .. tostring(r[i].error))
        assert.are.equal("Summary of: " .. m, r[i].json.text)
        assert.are.equal(tonumber(m:match("%d+$")) + 1, r[i].attempts, m)
      end
      local s = c:stats()
      assert.are.equal(0, s.failed)
      assert.are.equal(18, s.requests)
      assert.are.equal(10, s.retries)
    end)

    it("retries what the server's plan breaks by request number", function()
      reset{ plan = "1:503,2:502" }
      local r = client{ jobs = 1 }:complete{ req("a") }[1]
      assert.is_nil(r.error)
      assert.are.equal(3, r.attempts)
    end)

    it("retries a timeout, and fails with code timeout when the server never answers in time", function()
      reset{ stall = 1.5 }
      local c = client{ timeout = 0.4, retries = 1 }
      local r = c:complete{ req("FAULT:timeout:1"), req("FAULT:timeout:9:b") }
      assert.is_nil(r[1].error)
      assert.are.equal(2, r[1].attempts)
      assert.are.equal("timeout", r[2].code)
      assert.matches("^POST " .. srv.base:gsub("%p", "%%%0") .. "/v1/chat/completions: .*timed out.*%(after 2 attempts%)$", r[2].error)
    end)

    it("retries an answer cut by max_tokens once, then reports it", function()
      reset()
      local r = client():complete{ req("FAULT:length") }[1]
      assert.are.equal("length", r.code)
      assert.are.equal("truncated by max_tokens (finish_reason length) (after 2 attempts)", r.error)
      assert.are.equal(2, r.attempts)
    end)

    it("treats any other finish_reason as incomplete: retried, then reported", function()
      reset()
      local r = client{ retries = 2 }:complete{ req("FAULT:filter") }[1]
      assert.are.equal("incomplete", r.code)
      assert.matches("finish_reason content_filter", r.error)
      assert.are.equal(3, r.attempts)
    end)

    it("reports blank content that never improves as code empty", function()
      reset()
      local r = client{ retries = 1 }:complete{ req("FAULT:blank") }[1]
      assert.are.equal("empty", r.code)
      assert.are.equal(2, r.attempts)
    end)

    it("fails one request for good while the rest of the batch succeeds", function()
      reset()
      local c = client{ retries = 2 }
      local r = c:complete{ req("a"), req("FAULT:500"), req("c") }
      assert.is_nil(r[1].error)
      assert.is_nil(r[3].error)
      assert.are.equal(500, r[2].code)
      assert.are.equal("HTTP 500: The server had an error (after 3 attempts)", r[2].error)
      assert.are.equal(1, c:stats().failed)
    end)

    it("does not retry a 404 for an unknown model, and says what the server said", function()
      reset()
      local r = client{ model = "no-such-model" }:complete{ req("x") }[1]
      assert.are.equal(404, r.code)
      assert.are.equal(1, r.attempts)
      assert.matches("^HTTP 404: The model `no%-such%-model` does not exist", r.error)
    end)
  end)

  describe("concurrency and accounting", function()

    it("keeps jobs = 8 requests in flight at once", function()
      reset{ latency = 300 }
      local t0 = now()
      local r = client{ jobs = 8 }:complete(batch(8))
      local took = now() - t0
      for i = 1, 8 do assert.are.equal("Summary of: thread " .. i, r[i].json.text) end
      assert.are.equal(8, stats().max_in_flight)
      assert.is_true(took < 1.2, "took " .. took)
    end)

    it("keeps no more than jobs = 2 in flight", function()
      reset{ latency = 300 }
      local t0 = now()
      client{ jobs = 2 }:complete(batch(8))
      local took = now() - t0
      assert.are.equal(2, stats().max_in_flight)
      assert.is_true(took >= 1.15, "took " .. took)
    end)

    it("sums the usage the server reports, retried answers included", function()
      reset()
      local c = client()
      local r = c:complete{ req("a"), req("bb"), req("FAULT:empty:1") }
      local p, q = 0, 0
      for _, e in ipairs(r) do
        p = p + e.usage.prompt_tokens
        q = q + e.usage.completion_tokens
      end
      local s = c:stats()
      -- the empty answer was billed too: its prompt counts, its completion is 0
      assert.are.equal(p + r[3].usage.prompt_tokens, s.prompt_tokens)
      assert.are.equal(q, s.completion_tokens)
      assert.are.equal(4, s.requests)
      assert.are.equal(1, s.retries)
    end)
  end)

  describe("provider parameters", function()
    it("learns max_completion_tokens and no temperature from a reasoning model's 400s, once", function()
      reset{ reasoning = true }
      local c = client{ temperature = 0.2, max_tokens = 100, jobs = 1 }
      local r = c:complete(batch(3))
      for _, x in ipairs(r) do assert.is_nil(x.error, x.error) end
      assert.are.equal("max_completion_tokens,no_temperature", c.quirks)
      local log = stats().log
      local codes = {}
      for i, e in ipairs(log) do codes[i] = e.status end
      assert.are.same({ 400, 400, 200, 200, 200 }, codes)
      assert.are.equal(100, log[3].body.max_completion_tokens)
      assert.is_nil(log[3].body.max_tokens)
      assert.is_nil(log[3].body.temperature)
      -- a client told the quirks (the store remembers them) sends no request in vain
      reset{ reasoning = true }
      c = client{ temperature = 0.2, max_tokens = 100, quirks = "max_completion_tokens,no_temperature" }
      assert.is_nil(c:complete{ req("x") }[1].error)
      assert.are.equal(1, #stats().log)
      assert.are.equal(200, stats().log[1].status)
    end)

    it("merges params into every request; null drops a field", function()
      reset{ personality = "qwen", thinking_off = true }
      local r = client():complete{ req("x") }[1]
      assert.are.equal(400, r.code)
      assert.matches("enable_thinking must be set to false", r.error)
      reset{ personality = "qwen", thinking_off = true }
      r = client{ params = { enable_thinking = false, temperature = json.null } }:complete{ req("x") }[1]
      assert.is_nil(r.error, r.error)
      local b = stats().log[1].body
      assert.is_false(b.enable_thinking)
      assert.is_nil(b.temperature)
      assert.has_error(function() client{ params = "x" } end)
    end)
  end)

  describe("progress", function()
    it("writes a whole line now and then to a log while requests wait", function()
      local dir, script = lua_script("progress.lua", [[
local c = llm.client{ url = URL, model = "gpt-4o-mini", key = false, progress = "lines", progress_every = 0.3,
                      jobs = 1, retries = 0 }
local r = c:complete{ { messages = { { role = "user", content = "one JSON" } } },
                      { messages = { { role = "user", content = "two JSON" } } } }
io.write(r[1].error or "ok", r[2].error or "ok")
]])
      reset{ latency = 800 }
      local code, out, err = H.run(H.lua() .. " " .. script)
      os.execute("rm -rf " .. H.shquote(dir))
      assert.are.equal(0, code, err)
      assert.are.equal("okok", out)
      assert.matches("llm: %d/2 answered, 0 retries, [%d.]+k tokens, oldest waiting %d+ s\n", err)
      assert.is_nil(err:find("\r", 1, true))
    end)
  end)

  describe("reasoning models", function()
    it("skips the <think> block, and the decoy JSON inside it", function()
      reset()
      local r = client():complete{ req("FAULT:think x"), req("FAULT:think y", { schema = false }) }
      for i, x in ipairs(r) do
        assert.is_nil(x.error, x.error)
        assert.are.equal("Summary of: FAULT:think " .. (i == 1 and "x" or "y"), x.json.text)
        assert.is_nil(x.content:find("think>", 1, true), x.content)
      end
    end)

    it("retries an answer cut inside its thinking", function()
      reset()
      local r = client():complete{ req("FAULT:thinkcut:1 x") }[1]
      assert.is_nil(r.error, r.error)
      assert.are.equal(2, r.attempts)
      assert.are.equal("Summary of: FAULT:thinkcut:1 x", r.json.text)
    end)
  end)

  describe("answers as they come, and stopping", function()

    it("tells on_result of each outcome as it arrives, and cancels the rest when it says so", function()
      reset{ latency = 200 }
      local seen = {}
      local r = client{ jobs = 2 }:complete(batch(8), function(i, res)
        seen[#seen + 1] = i
        assert.is_table(res)
        return #seen == 2
      end)
      local answered, cancelled = 0, 0
      for _, x in ipairs(r) do
        if x.error then
          assert.are.equal("cancelled", x.code)
          cancelled = cancelled + 1
        else
          answered = answered + 1
        end
      end
      assert.is_true(answered >= 2 and answered <= 3, "answered " .. answered)
      assert.are.equal(8, answered + cancelled)
      assert.are.equal(8, #seen)                 -- the cancelled ones are told too
      assert.is_true(stats().requests <= 4)
    end)

    it("raises an error of on_result after stopping the batch", function()
      reset()
      assert.has_error(function()
        client():complete(batch(3), function() error("boom") end)
      end)
    end)

    it("stops at the first refused key: at most jobs requests reach the server, the key's end redacted", function()
      reset{ personality = "deepseek", key = "sk-right" }
      local r = client{ key = "sk-wrong-9f8e7d6c5b4a3210fedcba", jobs = 3 }:complete(batch(12))
      local fatal = 0
      for _, x in ipairs(r) do
        if x.fatal then
          fatal = fatal + 1
          assert.are.equal(401, x.code)
          -- DeepSeek's 401 shows the key's last four characters: "****dcba"
          assert.is_nil(x.error:find("dcba", 1, true), x.error)
          assert.matches("Your api key: [redacted] is invalid", x.error, 1, true)
        else
          assert.are.equal("cancelled", x.code)
        end
      end
      assert.is_true(fatal >= 1 and fatal <= 3)
      -- counted by the key they carry: a straggler of an earlier test has none
      local sent = 0
      for _, e in ipairs(stats().log) do
        if e.headers.authorization == "Bearer sk-wrong-9f8e7d6c5b4a3210fedcba" then sent = sent + 1 end
      end
      assert.is_true(sent <= 3, "requests " .. sent)
    end)

    it("stops at an unknown model (a 404, or DeepSeek's 400)", function()
      for _, p in ipairs{ "openai", "deepseek" } do
        reset{ personality = p }
        local r = client{ model = "no-such-model", jobs = 2 }:complete(batch(6))
        assert.is_true(r[1].fatal or r[2].fatal, p)
        local sent = 0
        for _, e in ipairs(stats().log) do
          if type(e.body) == "table" and e.body.model == "no-such-model" then sent = sent + 1 end
        end
        assert.is_true(sent <= 2, p)
      end
    end)
  end)

  describe("the API key", function()
    local KEY = "sk-wrong-9f8e7d6c5b4a3210fedcba"

    it("never appears in an error, even when the server echoes the Authorization header", function()
      for _, p in ipairs{ "openai", "vllm", "llamacpp", "deepseek" } do
        reset{ personality = p, key = "sk-right", echo_auth = true }
        local c = client{ key = KEY }
        local r = c:complete{ req("x") }[1]
        assert.are.equal(401, r.code, p)
        assert.are.equal(1, r.attempts, p)
        assert.is_nil(r.error:find("9f8e7d6c", 1, true), p .. ": " .. r.error)
        assert.is_nil(r.error:find("sk-wrong", 1, true), p .. ": " .. r.error)
        assert.matches("%[redacted%]", r.error, 1, p)
        for k, v in pairs(c:stats()) do assert.is_nil(tostring(v):find("wrong", 1, true), k) end
        assert.is_nil(tostring(c):find("wrong", 1, true))
        -- the server did see it: the test would prove nothing otherwise
        assert.are.equal("Bearer " .. KEY, stats().log[1].headers.authorization)
        c:close()
      end
    end)

    it("is redacted by llm.redact once a client used it", function()
      local c = client{ key = KEY }
      assert.are.equal("auth [redacted] end", llm.redact("auth " .. KEY .. " end"))
      assert.are.equal("nothing here", llm.redact("nothing here"))
      c:close()
    end)

    it("succeeds with the right key", function()
      reset{ key = "sk-right" }
      assert.is_nil(client{ key = "sk-right" }:complete{ req("x") }[1].error)
    end)
  end)
end)
