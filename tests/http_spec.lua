-- Specification of listdigest.http, the HTTP client every network stage uses:
-- retries with backoff and Retry-After, per-host and global in-flight limits,
-- transport failures as nil, message, code, and honest byte counting. Runs
-- against tests/tools/fault_server.py on 127.0.0.1 only; never the internet.
local http = require "listdigest.http"
local json = require "listdigest.json"

local VERSION = H.read("VERSION"):match("[^\n]+")
-- the suite may run with sanitizers preloaded; the helpers must not inherit them
local ENV = "env -u LD_PRELOAD "

local function now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

-- Starts the fault server (extra arguments appended); returns {pid, port, base}.
local function start_server(extra)
  local p = io.popen("echo $$; exec " .. ENV .. "python3 tests/tools/fault_server.py --lifetime 60 " .. (extra or ""))
  local pid, port = p:read("l"), p:read("l")
  assert(tonumber(port), "fault_server did not print its port")
  return { pid = pid, port = port, pipe = p, base = "http://127.0.0.1:" .. port }
end

local function stop_server(s)
  os.execute("kill " .. s.pid .. " 2>/dev/null")
  s.pipe:close()
end

-- A client that retries fast, so the suite stays quick.
local function client(opts)
  local o = { retries = 4, backoff = 0.02, max_backoff = 0.1, progress = false }
  for k, v in pairs(opts or {}) do o[k] = v end
  return http.client(o)
end

describe("listdigest.http", function()
  local srv, closed_port

  setup(function()
    srv = start_server()
    -- a port that was just in use and is now closed: connections are refused
    local gone = start_server()
    closed_port = gone.port
    stop_server(gone)
  end)

  teardown(function() stop_server(srv) end)

  local function server_stats(c)
    return json.decode(assert(c:request{ url = srv.base .. "/_stats" }).body)
  end

  local function echo(c, req)
    req.url = srv.base .. "/_echo"
    local res = assert(c:request(req))
    return json.decode(res.body), res
  end

  describe("retries", function()
    it("succeeds after 503, 503, 200 and counts three requests", function()
      local c = client()
      local res = assert(c:request{ url = srv.base .. "/seq?status=503,503,200" })
      assert.are.equal(200, res.status)
      assert.are.equal(3, res.attempts)
      assert.matches("hello from /seq #3", res.body)
      local s = c:stats()
      assert.are.equal(3, s.requests)
      assert.are.equal(2, s.retries)
      c:close()
    end)

    it("honours Retry-After in seconds on a 429", function()
      local c = client()
      local res = assert(c:request{ url = srv.base .. "/ra429?status=429,200&retry_after=1" })
      assert.are.equal(200, res.status)
      assert.are.equal(2, res.attempts)
      assert.is_true(res.elapsed >= 0.95, "waited " .. res.elapsed)
      assert.is_true(res.elapsed < 2.5, "waited " .. res.elapsed)
    end)

    it("honours Retry-After as an HTTP-date, capped by max_retry_after", function()
      local c = client{ max_retry_after = 0.3 }
      local res = assert(c:request{ url = srv.base .. "/radate?status=503,200&retry_after=date:30" })
      assert.are.equal(200, res.status)
      assert.is_true(res.elapsed >= 0.25 and res.elapsed < 2, "waited " .. res.elapsed)
      c = client()
      res = assert(c:request{ url = srv.base .. "/radate2?status=503,200&retry_after=date:2" })
      -- an HTTP-date has one-second resolution: 2 s ahead is 1 to 2 s away
      assert.is_true(res.elapsed >= 0.9 and res.elapsed < 3.5, "waited " .. res.elapsed)
    end)

    it("returns nil, a message naming the URL and the status, and the status when retries run out", function()
      local c = client{ retries = 2 }
      local url = srv.base .. "/always503?status=503"
      local res, err, code = c:request{ url = url }
      assert.is_nil(res)
      assert.are.equal("GET " .. url .. ": HTTP 503 (after 3 attempts)", err)
      assert.are.equal(503, code)
      assert.are.equal(3, server_stats(c).counts["/always503"])
    end)

    it("returns a 404 as a response and does not retry it", function()
      local c = client()
      local res = assert(c:request{ url = srv.base .. "/missing?status=404" })
      assert.are.equal(404, res.status)
      assert.are.equal(1, res.attempts)
      assert.are.equal(1, server_stats(c).counts["/missing"])
    end)

    it("retries the statuses a request names in retry_on", function()
      local c = client()
      local res = assert(c:request{ url = srv.base .. "/r408?status=408,200", retry_on = { 408 } })
      assert.are.equal(200, res.status)
      assert.are.equal(2, res.attempts)
    end)

    it("retries a connection dropped mid-body, and fails with code truncated if it keeps happening", function()
      local c = client()
      local res = assert(c:request{ url = srv.base .. "/drop1?drop=1,0&size=20000" })
      assert.are.equal(200, res.status)
      assert.are.equal(2, res.attempts)
      assert.are.equal(20000, #res.body)
      local url = srv.base .. "/dropall?drop=1&size=20000"
      local r2, err, code = client{ retries = 2 }:request{ url = url }
      assert.is_nil(r2)
      assert.are.equal("truncated", code)
      assert.matches("GET " .. url:gsub("%p", "%%%0") .. ": transfer closed with 10000 bytes remaining to read %(after 3 attempts%)", err)
    end)

    it("gives up on a server that never answers with code timeout, within the time bound", function()
      local c = client{ timeout = 0.3, retries = 1 }
      local t0 = now()
      local res, err, code = c:request{ url = srv.base .. "/hang?delay=20000" }
      local took = now() - t0
      assert.is_nil(res)
      assert.are.equal("timeout", code)
      assert.matches("timed out", err)
      assert.is_true(took >= 0.55 and took < 0.3 * 2 + 1.5, "took " .. took)
    end)

    it("takes a per-request timeout over the client's", function()
      local c = client{ timeout = 30, retries = 0 }
      local t0 = now()
      local _, _, code = c:request{ url = srv.base .. "/hang2?delay=20000", timeout = 0.2 }
      assert.are.equal("timeout", code)
      assert.is_true(now() - t0 < 1.5)
    end)

    it("gives a server that accepts and never answers two stall windows, not its retries", function()
      local c = client{ timeout = 30, stall_timeout = 1, retries = 4, backoff = 0.05 }
      local t0 = now()
      local res, err, code = c:request{ url = srv.base .. "/stall?delay=20000" }
      local took = now() - t0
      assert.is_nil(res)
      assert.are.equal("stalled", code)
      assert.matches("nothing received for 1 s %(after 2 attempts%)$", err)
      assert.is_true(took >= 1.9 and took < 4, "took " .. took)
      -- a slow server that does answer within the window is not stalled
      local ok = assert(client{ stall_timeout = 1 }:request{ url = srv.base .. "/slow?delay=500" })
      assert.are.equal(200, ok.status)
    end)

    it("fails with code connect on a refused connection, after retrying", function()
      local c = client{ retries = 2 }
      local url = "http://127.0.0.1:" .. closed_port .. "/"
      local res, err, code = c:request{ url = url }
      assert.is_nil(res)
      assert.are.equal("connect", code)
      assert.matches("^GET " .. url:gsub("%p", "%%%0") .. ": .*%(after 3 attempts%)$", err)
      assert.are.equal(3, c:stats().requests)
    end)

    it("keeps userinfo out of error messages", function()
      local c = client{ retries = 0 }
      local _, err = c:request{ url = "http://joe:s3cret@127.0.0.1:" .. closed_port .. "/p" }
      assert.matches("^GET http://127.0.0.1:" .. closed_port .. "/p: ", err)
      assert.is_nil(err:find("s3cret", 1, true))
      assert.is_nil(err:find("joe", 1, true))
    end)

    it("retries a response its check rejects, and accepts the next", function()
      local c = client()
      local seen = 0
      local res = assert(c:request{ url = srv.base .. "/judge?size=3,4", check = function(r)
        seen = seen + 1
        if #r.body < 4 then return false, "truncated JSON" end
        return true
      end })
      assert.are.equal(2, res.attempts)
      assert.are.equal(2, seen)
      assert.are.equal("xxxx", res.body)
      local r2, err, code = client{ retries = 1 }:request{ url = srv.base .. "/judge2?size=3",
        check = function() return nil, "invalid JSON" end }
      assert.is_nil(r2)
      assert.matches(": rejected response %(HTTP 200%): invalid JSON %(after 2 attempts%)$", err)
      assert.are.equal(200, code)
    end)

    it("raises what a check raises, after ending the batch", function()
      local c = client()
      assert.has_error(function()
        c:request{ url = srv.base .. "/judge3", check = function() error("boom", 0) end }
      end, "boom")
      assert.are.equal(200, assert(c:request{ url = srv.base .. "/judge3" }).status)
    end)
  end)

  describe("requests and responses", function()
    it("says User-Agent: listdigest/<version> unless told otherwise", function()
      local c = client()
      assert.are.equal("listdigest/" .. VERSION, echo(c, {}).headers["user-agent"])
      assert.are.equal("test/1", echo(client{ user_agent = "test/1" }, {}).headers["user-agent"])
    end)

    it("sends Content-Length: 0 with an empty POST body, and the body otherwise", function()
      local c = client()
      local e = echo(c, { method = "POST", body = "" })
      assert.are.equal("POST", e.method)
      assert.are.equal("0", e.headers["content-length"])
      assert.is_nil(e.headers["expect"])
      e = echo(c, { method = "POST", body = '{"a":1}', headers = { ["Content-Type"] = "application/json" } })
      assert.are.equal('{"a":1}', e.body)
      assert.are.equal("7", e.headers["content-length"])
      assert.are.equal("application/json", e.headers["content-type"])
      e = echo(c, { method = "PUT", body = "x" })
      assert.are.equal("PUT", e.method)
      assert.are.equal("x", e.body)
    end)

    it("takes headers as a map or as lines", function()
      local e = echo(client(), { headers = { "X-One: 1", "X-Two: two words" } })
      assert.are.equal("1", e.headers["x-one"])
      assert.are.equal("two words", e.headers["x-two"])
      e = echo(client(), { headers = { ["X-Three"] = "3" } })
      assert.are.equal("3", e.headers["x-three"])
    end)

    it("offers compression and decodes a gzip body transparently, counting wire bytes", function()
      local c = client()
      assert.matches("gzip", echo(c, {}).headers["accept-encoding"])
      local before = c:stats().bytes_received
      local res = assert(c:request{ url = srv.base .. "/gz?gzip=1&size=100000" })
      assert.are.equal(("x"):rep(100000), res.body)
      assert.are.equal("gzip", res.headers["content-encoding"])
      local got = c:stats().bytes_received - before
      assert.is_true(got > 100 and got < 2000, "counted " .. got .. " bytes")
    end)

    it("counts header and body bytes received and sent", function()
      local c = client()
      local res = assert(c:request{ url = srv.base .. "/big?size=50000", method = "POST", body = ("y"):rep(1000) })
      assert.are.equal(50000, #res.body)
      local s = c:stats()
      assert.is_true(s.bytes_received > 50000 and s.bytes_received < 51000, s.bytes_received)
      assert.is_true(s.bytes_sent > 1000 and s.bytes_sent < 1500, s.bytes_sent)
      assert.are.same({ requests = 1, retries = 0 }, { requests = s.requests, retries = s.retries })
    end)

    it("lower-cases header names and keeps the last of repeated headers", function()
      local res = assert(client():request{ url = srv.base .. "/hdr?header=X-Dup:one&header=X-Dup:two" })
      assert.are.equal("two", res.headers["x-dup"])
      assert.are.equal("text/plain", res.headers["content-type"])
      assert.are.equal("1.1", res.http_version)
    end)

    it("follows redirects and reports the effective URL", function()
      local res = assert(client():request{ url = srv.base .. "/moved?redirect=/_echo" })
      assert.are.equal(200, res.status)
      assert.are.equal(srv.base .. "/_echo", res.url)
    end)

    it("refuses a body bigger than max_body without retrying", function()
      local c = client{ max_body = 1000 }
      local res, err, code = c:request{ url = srv.base .. "/huge?size=5000" }
      assert.is_nil(res)
      assert.are.equal("too_large", code)
      assert.matches("larger than 1000 bytes", err)
      assert.are.equal(1, c:stats().requests)
    end)

    it("verifies TLS certificates and does not retry a failed verification", function()
      if os.execute("command -v openssl >/dev/null") ~= true then return pending("no openssl") end
      local dir = H.tmpdir()
      assert(os.execute(ENV .. "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 " ..
        "-subj /CN=127.0.0.1 -keyout " .. dir .. "/key.pem -out " .. dir .. "/cert.pem 2>/dev/null"))
      local tls = start_server("--tls " .. dir .. "/cert.pem " .. dir .. "/key.pem")
      local c = client()
      local res, err, code = c:request{ url = "https://127.0.0.1:" .. tls.port .. "/" }
      stop_server(tls)
      os.execute("rm -rf " .. H.shquote(dir))
      assert.is_nil(res)
      assert.are.equal("tls", code)
      assert.matches("certificate", err)
      assert.are.equal(1, c:stats().requests)
    end)
  end)

  describe("concurrency", function()
    local function batch(n, path)
      local reqs = {}
      for i = 1, n do reqs[i] = { url = srv.base .. path .. "?delay=300" } end
      return reqs
    end

    it("keeps at most 2 requests in flight per host by default", function()
      local c = client()
      local t0 = now()
      local results = c:perform(batch(6, "/conc2"))
      local took = now() - t0
      for i = 1, 6 do assert.are.equal(200, results[i].status) end
      assert.are.equal(2, server_stats(c).max_in_flight_by_path["/conc2"])
      assert.is_true(took >= 0.85 and took < 1.6, "took " .. took)  -- 3 x 300 ms, not 6 x
    end)

    it("overlaps all 6 with max_per_host = 6", function()
      local c = client{ max_per_host = 6 }
      local t0 = now()
      c:perform(batch(6, "/conc6"))
      local took = now() - t0
      assert.are.equal(6, server_stats(c).max_in_flight_by_path["/conc6"])
      assert.is_true(took < 0.75, "took " .. took)
    end)

    it("keeps max_total over all hosts", function()
      local c = client{ max_per_host = 6, max_total = 3 }
      c:perform(batch(6, "/conc3"))
      assert.are.equal(3, server_stats(c).max_in_flight_by_path["/conc3"])
    end)

    it("returns results in input order, failures as {error, code}, each retried on its own", function()
      local c = client()
      local results = c:perform{
        { url = srv.base .. "/mix1?status=503,200" },
        { url = srv.base .. "/mix2?status=404" },
        { url = "http://127.0.0.1:" .. closed_port .. "/", },
        { url = srv.base .. "/_echo", method = "POST", body = "" },
      }
      assert.are.equal(4, #results)
      assert.are.equal(200, results[1].status)
      assert.are.equal(2, results[1].attempts)
      assert.are.equal(404, results[2].status)
      assert.are.equal("connect", results[3].code)
      assert.matches("^GET http://127.0.0.1:" .. closed_port .. "/: ", results[3].error)
      assert.are.equal("POST", json.decode(results[4].body).method)
      assert.are.same({}, c:perform{})
    end)

    it("does not hold the batch while one request waits out its Retry-After", function()
      local c = client{ max_per_host = 1 }
      local t0 = now()
      local results = c:perform{
        { url = srv.base .. "/slowra?status=429,200&retry_after=1" },
        { url = srv.base .. "/fast1" }, { url = srv.base .. "/fast2" },
      }
      assert.are.equal(200, results[1].status)
      assert.is_true(results[2].elapsed < 0.5 and results[3].elapsed < 0.5)
      assert.is_true(now() - t0 >= 0.95)
    end)
  end)

  describe("the client object", function()
    it("raises on caller mistakes", function()
      assert.has_error(function() http.client{ timout = 3 } end)
      assert.has_error(function() http.client{ retries = -1 } end)
      local c = client()
      assert.has_error(function() c:request{ url = "ftp://127.0.0.1/" } end)
      assert.has_error(function() c:request{ url = srv.base, headers = { ["X-A"] = "1\r\nX-B: 2" } } end)
      assert.has_error(function() c:request{ url = srv.base, headers = { "no colon" } } end)
      assert.has_error(function() c:request{ url = srv.base, body = 42 } end)
      assert.has_error(function() c:perform{ { url = srv.base }, "nope" } end)
    end)

    it("refuses to be used or closed from its own request's check", function()
      local c = client()
      assert.has_error(function()
        c:request{ url = srv.base .. "/reenter", check = function() c:request{ url = srv.base } end }
      end, "attempt to use an http client from its own request's check")
      assert.has_error(function()
        c:request{ url = srv.base .. "/reenter", check = function() c:close() end }
      end, "attempt to close an http client from its own request's check")
      assert.are.equal(200, assert(c:request{ url = srv.base .. "/reenter" }).status)
    end)

    it("is an error to use after close; closing twice is harmless", function()
      local c = client()
      c:close()
      c:close()
      assert.has_error(function() c:stats() end, "attempt to use a closed http client")
      do
        local d <close> = client()
        assert.are.equal("http client", tostring(d))
      end
    end)

    it("prints progress on stderr only when asked (default: when stderr is a terminal)", function()
      local script = ([[package.cpath = %q .. "/?.so;" .. package.cpath
        local c = require("listdigest.http").client{ progress = %s }
        assert(c:request{ url = %q })
        c:close()]])
      -- stock lua5.4 loading the sanitizer build needs its runtime preloaded
      local function run(progress)
        local s = script:format(H.build, progress, srv.base .. "/prog?size=2000000")
        return H.run(H.lua() .. " -e " .. H.shquote(s))
      end
      local code, _, err = run("true")
      assert.are.equal(0, code, err)
      assert.matches("\rfetch: 1 requests, 2%.0 MB\n$", err)
      code, _, err = run("nil")
      assert.are.equal(0, code, err)
      assert.are.equal("", err)
    end)
  end)
end)

describe("listdigest fetch from a server that accepts and never answers", function()
  local srv
  setup(function() srv = start_server("--delay 600000") end)
  teardown(function() stop_server(srv) end)

  local function fetch(extra)
    local db = os.tmpname()
    local t0 = now()
    local code, out, err = H.listdigest("fetch --source " .. srv.base .. "/kvmarm/ --since 2025-09-29 "
      .. "--until 2025-10-06 --db " .. db .. " " .. (extra or ""))
    os.remove(db)
    return code, out, err, now() - t0
  end

  it("fails with the reason after two stalls of --timeout seconds", function()
    local code, out, err, took = fetch("--timeout 2")
    assert.are.equal(2, code, out .. err)
    assert.matches("nothing received for 2 s %(after 2 attempts%)", err)
    assert.is_true(took >= 4 and took < 10, "took " .. took)
  end)

  it("fails in under a minute with the defaults (two stalls of 20 s), not after five timeouts", function()
    local code, out, err, took = fetch()
    assert.are.equal(2, code, out .. err)
    assert.matches("nothing received for 20 s %(after 2 attempts%)", err)
    assert.is_true(took >= 40 and took < 60, "took " .. took)
  end)

  it("refuses a --timeout that is not a positive number", function()
    local code, _, err = fetch("--timeout 0")
    assert.are.equal(1, code)
    assert.matches("%-%-timeout 0: give a number of seconds above 0", err)
  end)
end)
