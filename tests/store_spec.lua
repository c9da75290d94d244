-- Specification of listdigest.store: the SQLite message store (messages by
-- Message-ID, raw bytes compressed, list membership, fetch state, a key/value
-- cache), on a real week of kvmarm and real files in a temporary folder,
-- including a writer killed with SIGKILL in the middle of a transaction.
-- Fetching from public-inbox is fetch_spec's business, not this file's.
local store = require "listdigest.store"
local mbox = require "listdigest.mbox"
local mime = require "listdigest.mime"

local W04 = "examples/kvmarm-2022-W04.mbox"
local RECEIVED0 = 1643600000 -- the receive time given to message 1; +60 s per message

-- The week as put_messages items, parsed once: {message_id, raw, date, received, ...}.
local week
local function load_week()
  if week then return week end
  local box = assert(mbox.open(W04))
  week = {}
  for i, raw in box:messages() do
    local m = assert(mime.parse(raw, { body = false }))
    week[i] = {
      message_id = m.message_id, raw = raw, date = m.date, received = RECEIVED0 + 60 * (i - 1),
      subject = m.subject, from = m.from, in_reply_to = m.in_reply_to, references = m.references,
    }
  end
  box:close()
  return week
end

local function slice(items, i, j)
  return table.move(items, i, j, 1, {})
end

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

local function size(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local n = f:seek("end")
  f:close()
  return n
end

-- Big-endian 32-bit integer at 0-based OFFSET of S.
local function be32(s, offset)
  local a, b, c, d = s:byte(offset + 1, offset + 4)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

local function sqlite_cli()
  return H.run("command -v sqlite3 >/dev/null") == 0
end

local function sql(path, statement)
  local code, out, err = H.run("sqlite3 " .. H.shquote(path) .. " " .. H.shquote(statement))
  assert(code == 0, err)
  return out
end

local function sleep(seconds) H.run("sleep " .. seconds) end

local dir
before_each(function() dir = H.tmpdir() end)
after_each(function() os.execute("rm -rf " .. H.shquote(dir)) end)

local function open(name, opts)
  return assert(store.open(dir .. "/" .. (name or "store.db"), opts))
end

describe("store.open", function()
  it("creates a SQLite file in WAL mode with the versioned schema", function()
    local path = dir .. "/store.db"
    local st = open()
    assert.equal(path, st.path)
    assert.equal(3, st:put_messages("kvmarm", slice(load_week(), 1, 3)))
    st:close()
    assert.equal(path, st.path) -- still known after close

    local head = H.read(path):sub(1, 100)
    assert.equal("SQLite format 3\0", head:sub(1, 16))
    -- File format read/write versions 2 = WAL (sqlite fileformat2 §1.3.4).
    assert.equal(2, head:byte(19))
    assert.equal(2, head:byte(20))
    assert.equal(store.schema_version, be32(head, 60)) -- PRAGMA user_version
    assert.equal(0x4c445354, be32(head, 68))           -- PRAGMA application_id "LDST"
    if sqlite_cli() then
      assert.equal("wal\n", sql(path, "PRAGMA journal_mode"))
      assert.equal("1\n", sql(path, "PRAGMA user_version"))
      local tables = sql(path, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
      assert.equal("cache\nfetch_state\nmessage_lists\nmessage_raw\nmessages\nrefs\n", tables)
      assert.matches("refs_ref", sql(path, "SELECT name FROM sqlite_schema WHERE type = 'index'"))
      assert.equal("3\n", sql(path, "SELECT count(*) FROM messages"))
    end
  end)

  it("reopens a store with its messages and does not recreate the schema", function()
    local st = open()
    st:put_messages("kvmarm", slice(load_week(), 1, 5))
    st:close()
    st = open()
    assert.equal(5, st:count("kvmarm"))
    assert.is_true(st:check())
    st:close()
  end)

  it("refuses a file that is not SQLite, naming it, and leaves the file alone", function()
    local path = dir .. "/garbage.db"
    local garbage = H.read(W04):sub(1, 8192)
    write(path, garbage)
    local st, err = store.open(path)
    assert.is_nil(st)
    assert.equal(path .. ": ", err:sub(1, #path + 2))
    assert.matches("not a database", err)
    assert.equal(garbage, H.read(path))
  end)

  it("refuses a store whose schema is newer than this code", function()
    local path = dir .. "/store.db"
    open():close()
    local data = H.read(path)
    write(path, data:sub(1, 60) .. "\0\0\0\99" .. data:sub(65)) -- user_version = 99
    local st, err = store.open(path)
    assert.is_nil(st)
    assert.equal(path .. ": schema version 99 is newer than this listdigest understands (1)", err)
  end)

  it("refuses another program's SQLite database", function()
    local path = dir .. "/other.db"
    open("other.db"):close()
    local data = H.read(path)
    write(path, data:sub(1, 68) .. "ABCD" .. data:sub(73)) -- another application_id
    local st, err = store.open(path)
    assert.is_nil(st)
    assert.matches("not a listdigest store", err)
  end)

  it("refuses a SQLite database of another program that has tables", function()
    if not sqlite_cli() then return pending("needs the sqlite3 command") end
    local path = dir .. "/other.db"
    sql(path, "CREATE TABLE notes (x)")
    local st, err = store.open(path)
    assert.is_nil(st)
    assert.equal(path .. ": not a listdigest store (it has other tables)", err)
    assert.equal("notes\n", sql(path, "SELECT name FROM sqlite_schema"))
    assert.equal("delete\n", sql(path, "PRAGMA journal_mode")) -- not switched to WAL either
  end)

  it("opens an in-memory store", function()
    local st = assert(store.open(":memory:"))
    assert.equal(1, st:put_messages("kvmarm", slice(load_week(), 1, 1)))
    assert.equal(load_week()[1].raw, st:raw(load_week()[1].message_id))
    st:close()
  end)

  it("fails with a reason when the folder does not exist (mkdir is the caller's job)", function()
    local st, err = store.open(dir .. "/no/such/dir/store.db")
    assert.is_nil(st)
    assert.matches("^" .. dir:gsub("%p", "%%%0") .. "/no/such/dir/store.db: ", err)
  end)

  it("raises on caller mistakes", function()
    assert.has_error(function() store.open() end)
    assert.has_error(function() store.open(dir .. "/x.db", { busy_timeout = "soon" }) end)
  end)
end)

describe("a store handle", function()
  it("raises when used after close; closing twice is harmless", function()
    local st = open()
    st:close()
    st:close()
    assert.has_error(function() st:has("x@y") end, "attempt to use a closed store")
    assert.has_error(function() st:put_messages("kvmarm", {}) end, "attempt to use a closed store")
  end)

  it("is closed by a to-be-closed variable", function()
    local outer
    do
      local st <close> = open()
      outer = st
      st:put_messages("kvmarm", slice(load_week(), 1, 1))
    end
    assert.has_error(function() outer:count("kvmarm") end, "attempt to use a closed store")
    assert.matches("closed", tostring(outer))
  end)
end)

describe("put_messages", function()
  it("keeps every raw message byte for byte, compressed smaller than the mbox", function()
    local items = load_week()
    local st = open()
    assert.equal(340, st:put_messages("kvmarm", items))
    st:close()
    local path = dir .. "/store.db"
    -- The last close checkpoints the WAL into the file (and removes it).
    local stored = size(path) + size(path .. "-wal")
    assert.is_true(stored < size(W04) * 0.6,
      ("store %d bytes vs mbox %d bytes"):format(stored, size(W04)))
    st = open()
    for i, item in ipairs(items) do
      local raw = st:raw(item.message_id)
      if raw ~= item.raw then
        error(("message %d <%s> differs after the round trip"):format(i, item.message_id))
      end
    end
    st:close()
  end)

  it("deduplicates by Message-ID: the same week twice is 340 new, then 0", function()
    local st = open()
    assert.equal(340, st:put_messages("kvmarm", load_week()))
    assert.equal(0, st:put_messages("kvmarm", load_week()))
    assert.equal(340, st:count("kvmarm"))
    assert.equal(340, st:count())
  end)

  it("keeps the first copy when the same Message-ID comes with other content", function()
    local st = open()
    local first = {
      message_id = "same@example.org", raw = "Subject: first\n\nfirst body\n", subject = "first", date = 100,
    }
    local second = {
      message_id = "same@example.org", raw = "Subject: second\n\nsecond body\n", subject = "second", date = 200,
    }
    assert.equal(1, st:put_messages("kvmarm", { first }))
    assert.equal(0, st:put_messages("kvmarm", { second }))
    assert.equal(first.raw, st:raw("same@example.org"))
    local row = st:lookup({ "same@example.org" })[1]
    assert.equal("first", row.subject)
    assert.equal(100, row.date)
    -- ... also when both copies arrive in one call (the x=m stream can repeat one).
    assert.equal(1, st:put_messages("other", {
      { message_id = "twice@example.org", raw = "A\n" }, { message_id = "twice@example.org", raw = "B\n" },
    }))
    assert.equal("A\n", st:raw("twice@example.org"))
  end)

  it("records a message under every list it is put in, stored once", function()
    local st = open()
    local ten = slice(load_week(), 1, 10)
    assert.equal(10, st:put_messages("kvmarm", ten))
    assert.equal(10, st:put_messages("linux-arm-kernel", ten)) -- new to that list
    assert.equal(0, st:put_messages("linux-arm-kernel", ten))
    assert.equal(10, st:count("kvmarm"))
    assert.equal(10, st:count("linux-arm-kernel"))
    assert.equal(10, st:count())
    assert.equal(0, st:count("nobody"))
    assert.equal(10, #st:messages { list = "linux-arm-kernel" })
  end)

  it("gives received the current time when the item has none", function()
    local st = open()
    local before = os.time()
    st:put_messages("kvmarm", { { message_id = "now@example.org", raw = "X: y\n\n" } })
    local row = st:lookup({ "now@example.org" })[1]
    assert.is_true(row.received >= before - 1 and row.received <= os.time() + 1)
    assert.is_nil(row.date)
  end)

  it("stores an empty raw message and binary bytes exactly", function()
    local st = open()
    local binary = "X: y\n\n" .. ("\0\1\2\255"):rep(1000)
    st:put_messages("kvmarm", {
      { message_id = "empty@example.org", raw = "" }, { message_id = "bin@example.org", raw = binary },
    })
    assert.equal("", st:raw("empty@example.org"))
    assert.equal(binary, st:raw("bin@example.org"))
  end)

  it("raises on a malformed item before writing anything", function()
    local st = open()
    local items = slice(load_week(), 1, 10)
    items[7] = { message_id = "bad@example.org", raw = "x", date = "yesterday" }
    assert.has_error(function() st:put_messages("kvmarm", items) end,
      "bad item #7 to 'put_messages' (date must be an integer, got string)")
    assert.equal(0, st:count("kvmarm"))
    items[7] = { raw = "x" }
    assert.has_error(function() st:put_messages("kvmarm", items) end)
    items[7] = { message_id = "ok@example.org", raw = "x", references = { "a@b", 42 } }
    assert.has_error(function() st:put_messages("kvmarm", items) end)
    assert.has_error(function() st:put_messages("kvmarm", "not a table") end)
    assert.has_error(function() st:put_messages(nil, {}) end)
    assert.equal(0, st:count())
    -- and no transaction was left open
    assert.is_true(st:begin())
    assert.is_true(st:rollback())
  end)

  it("stores a week five times over (1,700 messages) in one transaction quickly", function()
    local items = {}
    for copy = 1, 5 do
      for _, m in ipairs(load_week()) do
        items[#items + 1] = {
          message_id = copy .. "." .. m.message_id, raw = m.raw, date = m.date, subject = m.subject,
          from = m.from, in_reply_to = m.in_reply_to, references = m.references,
        }
      end
    end
    local st = open()
    local t = os.time()
    assert.is_true(st:begin())
    assert.equal(1700, st:put_messages("kvmarm", items))
    assert.is_true(st:commit())
    assert.is_true(os.time() - t <= 5)
    assert.equal(1700, st:count("kvmarm"))
    assert.equal(items[1234].raw, st:raw(items[1234].message_id))
  end)
end)

describe("has, raw, lookup", function()
  it("answer false / nil / nothing for an unknown Message-ID", function()
    local st = open()
    st:put_messages("kvmarm", slice(load_week(), 1, 3))
    assert.is_true(st:has(load_week()[2].message_id))
    assert.is_false(st:has("unknown@example.org"))
    assert.is_nil(st:raw("unknown@example.org"))
    assert.same({}, st:lookup({ "unknown@example.org" }))
  end)

  it("lookup returns the parsed fields in the order asked, skipping missing ids", function()
    local items = load_week()
    local st = open()
    st:put_messages("kvmarm", items)
    local rows = st:lookup({ items[30].message_id, "missing@example.org", items[2].message_id })
    assert.equal(2, #rows)
    for k, i in ipairs({ 30, 2 }) do
      local row, item = rows[k], items[i]
      assert.same({
        message_id = item.message_id, date = item.date, received = item.received, subject = item.subject,
        from = item.from, in_reply_to = item.in_reply_to, references = item.references,
      }, row)
      assert.is_nil(row.raw)
    end
  end)
end)

describe("messages{}", function()
  local st, items
  before_each(function()
    items = load_week()
    st = open()
    st:put_messages("kvmarm", items)
  end)
  after_each(function() st:close() end)

  -- The spec's own count: items with since <= item[field] < until.
  local function expected(field, since, till)
    local ids = {}
    for _, item in ipairs(items) do
      local v = item[field]
      if (not since or v >= since) and (not till or v < till) then ids[#ids + 1] = item end
    end
    table.sort(ids, function(a, b)
      if a[field] ~= b[field] then return a[field] < b[field] end
      return a.message_id < b.message_id
    end)
    for i, item in ipairs(ids) do ids[i] = item.message_id end
    return ids
  end

  local function ids_of(rows)
    local ids = {}
    for i, row in ipairs(rows) do ids[i] = row.message_id end
    return ids
  end

  it("selects since <= date < until, ordered by date then Message-ID", function()
    local day = 1643068800 -- 2022-01-25T00:00:00Z
    assert.equal("2022-01-25 00:00:00", os.date("!%Y-%m-%d %H:%M:%S", day))
    local want = expected("date", day, day + 86400)
    assert.is_true(#want > 20 and #want < 340)
    assert.same(want, ids_of(st:messages { list = "kvmarm", since = day, ["until"] = day + 86400 }))
    assert.same(want, ids_of(st:messages { list = "kvmarm", since = day, ["until"] = day + 86400, by = "date" }))
  end)

  it("includes a message dated exactly since and excludes one dated exactly until", function()
    local dates = {}
    for i, item in ipairs(items) do dates[i] = item.date end
    table.sort(dates)
    local t0, t1 = dates[50], dates[250]
    local rows = st:messages { list = "kvmarm", since = t0, ["until"] = t1 }
    assert.same(expected("date", t0, t1), ids_of(rows))
    assert.equal(t0, rows[1].date)
    for _, row in ipairs(rows) do assert.is_true(row.date < t1) end
    local at_t1 = 0
    for _, d in ipairs(dates) do if d == t1 then at_t1 = at_t1 + 1 end end
    assert.equal(#expected("date", t0, t1 + 1), #rows + at_t1)
  end)

  it("treats a missing bound as open", function()
    local t = items[100].date
    assert.equal(340, #st:messages { list = "kvmarm" })
    assert.same(expected("date", t, nil), ids_of(st:messages { list = "kvmarm", since = t }))
    assert.same(expected("date", nil, t), ids_of(st:messages { list = "kvmarm", ["until"] = t }))
    assert.same({}, st:messages { list = "kvmarm", since = t, ["until"] = t })
    assert.same({}, st:messages { list = "other" })
  end)

  it("selects by receive time with by = \"received\"", function()
    local t0, t1 = RECEIVED0 + 60 * 99, RECEIVED0 + 60 * 199 -- messages 100 .. 199
    local rows = st:messages { list = "kvmarm", since = t0, ["until"] = t1, by = "received" }
    assert.equal(100, #rows)
    assert.same(expected("received", t0, t1), ids_of(rows))
    assert.equal(items[100].message_id, rows[1].message_id)
    assert.equal(items[199].message_id, rows[100].message_id)
  end)

  it("returns rows without raw, with the fields that were put", function()
    local row = st:messages { list = "kvmarm", since = items[1].date, ["until"] = items[1].date + 1 }
    local found
    for _, r in ipairs(row) do if r.message_id == items[1].message_id then found = r end end
    assert.is_table(found)
    assert.equal(items[1].subject, found.subject)
    assert.equal(items[1].from, found.from)
    assert.same(items[1].references, found.references)
    assert.is_nil(found.raw)
  end)

  it("raises on a malformed query", function()
    assert.has_error(function() st:messages {} end)
    assert.has_error(function() st:messages { list = "kvmarm", by = "subject" } end)
    assert.has_error(function() st:messages { list = "kvmarm", since = "monday" } end)
  end)
end)

describe("referencing", function()
  it("finds exactly the stored messages naming an id in In-Reply-To or References", function()
    local items = load_week()
    local st = open()
    st:put_messages("kvmarm", items)
    -- Every id the week names, stored or not (ghosts), against a scan done here.
    local named, checked, nonempty = {}, 0, 0
    for _, item in ipairs(items) do
      named[item.message_id] = true
      if item.in_reply_to then named[item.in_reply_to] = true end
      for _, r in ipairs(item.references) do named[r] = true end
    end
    for id in pairs(named) do
      local want = {}
      for _, item in ipairs(items) do
        local hit = item.in_reply_to == id
        for _, r in ipairs(item.references) do hit = hit or r == id end
        if hit then want[#want + 1] = item.message_id end
      end
      local got = st:referencing(id)
      table.sort(want)
      table.sort(got)
      assert.same(want, got)
      checked = checked + 1
      if #got > 0 then nonempty = nonempty + 1 end
    end
    assert.is_true(checked > 340 and nonempty > 50)
    assert.same({}, st:referencing("nobody@example.org"))
  end)

  it("finds a reply that has In-Reply-To and no References, and one with References only", function()
    local st = open()
    st:put_messages("kvmarm", {
      { message_id = "root@example.org", raw = "A: b\n\n", date = 1 },
      { message_id = "irt@example.org", raw = "A: b\n\n", date = 3, in_reply_to = "root@example.org" },
      { message_id = "refs@example.org", raw = "A: b\n\n", date = 2, references = { "x@y", "root@example.org" } },
      { message_id = "other@example.org", raw = "A: b\n\n", date = 4, in_reply_to = "irt@example.org" },
    })
    assert.same({ "refs@example.org", "irt@example.org" }, st:referencing("root@example.org")) -- by date
    assert.same({ "other@example.org" }, st:referencing("irt@example.org"))
  end)
end)

describe("fetch state and cache", function()
  it("round-trips state per list, unsets with nil, and keeps it across reopening", function()
    local st = open()
    assert.is_nil(st:state("kvmarm", "last"))
    assert.is_true(st:set_state("kvmarm", "last", "2022-01-31T00:00:00Z"))
    st:set_state("kvmarm", "cursor", "a\0b")
    st:set_state("linux-arm-kernel", "last", "other")
    st:set_state("kvmarm", "last", "2022-02-07T00:00:00Z")
    st:close()
    st = open()
    assert.equal("2022-02-07T00:00:00Z", st:state("kvmarm", "last"))
    assert.equal("a\0b", st:state("kvmarm", "cursor"))
    assert.equal("other", st:state("linux-arm-kernel", "last"))
    assert.is_true(st:set_state("kvmarm", "last", nil))
    assert.is_nil(st:state("kvmarm", "last"))
    assert.equal("other", st:state("linux-arm-kernel", "last"))
    assert.has_error(function() st:set_state("kvmarm", "last", 42) end)
  end)

  it("round-trips cache values with meta and times, replaces and deletes", function()
    local st = open()
    assert.is_nil(st:cache_get("summary:abc"))
    local before = os.time()
    local text = ("摘要 summary\0with a NUL "):rep(100)
    assert.is_true(st:cache_put("summary:abc", text, '{"model":"m"}'))
    local v, meta, created, updated = st:cache_get("summary:abc")
    assert.equal(text, v)
    assert.equal('{"model":"m"}', meta)
    assert.is_true(created >= before - 1 and updated >= created)
    st:cache_put("summary:abc", "new")
    local v2, meta2, created2 = st:cache_get("summary:abc")
    assert.equal("new", v2)
    assert.is_nil(meta2)
    assert.equal(created, created2)
    st:cache_put("summary:abc", nil)
    assert.is_nil(st:cache_get("summary:abc"))
    assert.has_error(function() st:cache_put("k", {}) end)
  end)
end)

describe("transactions", function()
  it("rollback leaves nothing of what was put", function()
    local st = open()
    assert.is_true(st:begin())
    assert.equal(340, st:put_messages("kvmarm", load_week()))
    st:set_state("kvmarm", "last", "x")
    assert.is_true(st:has(load_week()[1].message_id))
    assert.is_true(st:rollback())
    assert.equal(0, st:count())
    assert.is_false(st:has(load_week()[1].message_id))
    assert.is_nil(st:state("kvmarm", "last"))
  end)

  it("commit keeps everything, and closing with a transaction open rolls it back", function()
    local st = open()
    st:begin()
    st:put_messages("kvmarm", slice(load_week(), 1, 20))
    st:set_state("kvmarm", "last", "x")
    assert.is_true(st:commit())
    st:begin()
    st:put_messages("kvmarm", slice(load_week(), 21, 40))
    st:close()
    st = open()
    assert.equal(20, st:count("kvmarm"))
    assert.equal("x", st:state("kvmarm", "last"))
  end)

  it("raises on nesting and on commit or rollback without begin", function()
    local st = open()
    assert.has_error(function() st:commit() end, "store: commit without begin")
    assert.has_error(function() st:rollback() end, "store: rollback without begin")
    st:begin()
    assert.has_error(function() st:begin() end, "store: begin inside a transaction (transactions do not nest)")
    assert.is_true(st:commit())
  end)

  it("a full disk fails put_messages with a reason and leaves nothing half-written", function()
    local items = load_week()
    local st = open(nil, { max_size = 400000 }) -- the week needs about 1.5 MB
    assert.equal(10, st:put_messages("kvmarm", slice(items, 1, 10)))
    local n, err = st:put_messages("kvmarm", items)
    assert.is_nil(n)
    assert.matches("^storing <.+>: database or disk is full$", err)
    assert.equal(10, st:count("kvmarm"))

    -- Inside the caller's transaction: the failed call leaves nothing; SQLite
    -- may also have ended the whole transaction, which commit then reports.
    assert.is_true(st:begin())
    assert.equal(10, st:put_messages("kvmarm", slice(items, 11, 20)))
    n, err = st:put_messages("kvmarm", items)
    assert.is_nil(n)
    assert.matches("database or disk is full", err)
    local ok, cerr = st:commit()
    if ok then
      assert.equal(20, st:count("kvmarm"))
    else
      assert.equal("the transaction was rolled back after an earlier failure", cerr)
      assert.equal(10, st:count("kvmarm"))
    end
    assert.is_false(st:has(items[300].message_id))
    assert.is_true(st:check())
    st:close()
    st = open()
    assert.equal(340 - st:count("kvmarm"), st:put_messages("kvmarm", items)) -- without the cap
  end)

  it("after a failed write in a transaction, begin still raises, rollback works, nothing leaks out", function()
    local items = load_week()
    local st = open(nil, { max_size = 400000 })
    assert.is_true(st:begin())
    assert.is_nil(st:put_messages("kvmarm", items))
    assert.has_error(function() st:begin() end, "store: begin inside a transaction (transactions do not nest)")
    -- If SQLite ended the transaction, writes refuse rather than autocommit.
    local ok, err = st:set_state("kvmarm", "k", "v")
    if not ok then assert.equal("the transaction was rolled back after an earlier failure", err) end
    assert.is_true(st:rollback())
    assert.is_nil(st:state("kvmarm", "k"))
    assert.equal(0, st:count())
    assert.is_true(st:begin())
    assert.is_true(st:commit())
  end)

  -- The writer is a separate process so that it can be killed for real.
  it("a writer killed with SIGKILL mid-transaction leaves none of its messages, a sound file, " ..
     "and readers unblocked meanwhile", function()
    local items = load_week()
    local path, marker, log = dir .. "/store.db", dir .. "/ready", dir .. "/child.log"
    local st = open()
    assert.equal(40, st:put_messages("kvmarm", slice(items, 1, 40)))
    st:close()

    local script = dir .. "/writer.lua"
    write(script, ([[
package.cpath = %q .. "/?.so;" .. package.cpath
local store, mbox, mime = require "listdigest.store", require "listdigest.mbox", require "listdigest.mime"
local st = assert(store.open(%q))
local items = {}
for i, raw in assert(mbox.open(%q)):messages() do
  if i > 40 then
    local m = mime.parse(raw, { body = false })
    -- five copies under other ids: enough to spill uncommitted pages into the WAL
    for copy = 0, 4 do
      items[#items + 1] = { message_id = (copy == 0 and "" or copy .. ".") .. m.message_id, raw = raw, date = m.date }
    end
  end
end
assert(st:begin())
for i = 1, #items, 100 do assert(st:put_messages("kvmarm", table.move(items, i, math.min(i + 99, #items), 1, {}))) end
local f = assert(io.open(%q, "w")) f:write("ready") f:close()
local deadline = os.time() + 60
while os.time() < deadline do end -- wait to be killed
]]):format(H.build, path, W04, marker))
    local code, out = H.run(H.lua() .. " " .. H.shquote(script) .. " >" .. H.shquote(log) .. " 2>&1 & echo $!")
    assert.equal(0, code)
    local pid = assert(tonumber(out:match("%d+")))
    local function alive()
      local f = io.open("/proc/" .. pid .. "/stat")
      if not f then return false end
      local state = f:read("a"):match("%) (%a)")
      f:close()
      return state ~= "Z" and state ~= "X"
    end
    finally(function() if alive() then H.run("kill -9 " .. pid) end end)
    for _ = 1, 400 do
      if H.exists(marker) or not alive() then break end
      sleep(0.05)
    end
    assert(H.exists(marker), "the writer did not get ready: " .. (H.exists(log) and H.read(log) or ""))
    assert.is_true(size(path .. "-wal") > 1000000) -- uncommitted frames are on disk

    -- While the writer holds its transaction: reads go on (WAL), writes wait then fail.
    local reader = open(nil, { busy_timeout = 50 })
    assert.equal(40, reader:count("kvmarm"))
    assert.is_false(reader:has(items[41].message_id))
    assert.equal(items[1].raw, reader:raw(items[1].message_id))
    local ok, err = reader:begin()
    assert.is_nil(ok)
    assert.matches("locked", err)
    ok, err = reader:put_messages("kvmarm", slice(items, 41, 41))
    assert.is_nil(ok)
    assert.matches("locked", err)
    reader:close()

    H.run("kill -9 " .. pid)
    for _ = 1, 200 do
      if not alive() then break end
      sleep(0.05)
    end
    assert.is_false(alive())
    local child_err = H.read(log)
    assert.is_nil(child_err:match("Sanitizer") or child_err:match("runtime error"), child_err)

    st = open()
    assert.equal(40, st:count("kvmarm"))
    assert.equal(40, st:count())
    assert.is_false(st:has(items[41].message_id))
    assert.is_true(st:check())
    -- The next run completes the job.
    assert.equal(300, st:put_messages("kvmarm", items))
    assert.equal(340, st:count("kvmarm"))
    st:close()
    if sqlite_cli() then assert.equal("ok\n", sql(path, "PRAGMA integrity_check")) end
  end)
end)
