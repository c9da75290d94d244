-- Fetching a week of a list from a public-inbox server (lore.kernel.org or any
-- other) into the message store, and reading a local public-inbox v2 mirror.
-- Plain functions: the HTTP client (listdigest.http) and the store
-- (listdigest.store) are passed in, so specs can hand in fakes. No parsing of
-- bodies and no report logic here; the window is applied by the caller.
local mbox = require "listdigest.mbox"
local mime = require "listdigest.mime"
local thread = require "listdigest.thread"
local atom = require "listdigest.atom"

local M = {}

-- rt: (receive time) is widened by this much on each side: mail that was
-- received late (or early) for its Date: header still lands in the window.
M.MARGIN = 48 * 3600
-- public-inbox's Atom search pages hold at most this many entries (l= max).
M.ATOM_PAGE = 200

local GZIP_MAGIC = "\31\139"

-- A Message-ID as an RFC 3986 path segment: "/" -> "%2F", "%" -> "%25".
function M.pct_encode(id) return atom.pct_encode(id) end

-- A query-string value: only unreserved characters and ":" stay literal
-- (space, "&", "+", "=", "(", ")" are escaped).
function M.query_encode(s)
  return (s:gsub("[^%w%-%._~:]", function(c) return string.format("%%%02X", c:byte()) end))
end

--[[
query(since, until, list_ids) -> the search string:
  "rt:<since-48h>..<until+48h>" and, with list ids,
  " AND (l:<id> OR l:<id>)". Epoch-second bounds are the only rt: form that
  public-inbox 1.9.0 and newer both read exactly (see notes/public-inbox.md).
]]
function M.query(since, until_, list_ids)
  local q = string.format("rt:%d..%d", since - M.MARGIN, until_ + M.MARGIN)
  if list_ids and #list_ids > 0 then
    local alt = {}
    for i, id in ipairs(list_ids) do alt[i] = "l:" .. id end
    q = q .. " AND (" .. table.concat(alt, " OR ") .. ")"
  end
  return q
end

-- The receive time public-inbox's rt: uses: the date of the topmost
-- Received: header that has a parseable date (after its last ";"), else
-- the Date: header.
function M.received(msg)
  for _, h in ipairs(msg.header_list or {}) do
    if h[1] == "received" then
      local tail = h[2]:match(".*;(.*)$")
      local t = tail and mime.parse_date(tail)
      if t then return t end
    end
  end
  return msg.date
end

-- One raw message as a store item (headers parsed, body not).
function M.item(raw, from_line)
  local m = mime.parse(raw, { from_line = from_line, body = false })
  return {
    message_id = m.message_id, raw = raw, date = m.date, received = M.received(m),
    subject = m.subject, from = m.from, in_reply_to = m.in_reply_to,
    references = m.references or {}, list_id = m.list_id,
  }
end

-- items, err = items_of(body): every message of an mbox / mbox.gz body.
local function items_of(body)
  local box, err = mbox.split(body)
  if not box then return nil, err end
  local items = {}
  for _, raw, from_line in box:messages() do
    local it = M.item(raw, from_line)
    if it.message_id then items[#items + 1] = it end
  end
  box:close()
  return items
end

local function fail(msg, code) return nil, msg, code or 2 end

local function base_of(base)
  if not base:match("/$") then base = base .. "/" end
  return base
end

local function status_error(res, what)
  return string.format("%s: %s answered %d%s", what, res.url or "?", res.status,
    res.headers and res.headers["content-type"] and (" (" .. res.headers["content-type"] .. ")") or "")
end

-- Times a gzip body that does not inflate (a truncated stream behind a
-- complete HTTP response) is asked for again.
M.GZIP_RETRIES = 2

-- Is RES a 200 whose gzip body is broken? -> reason | nil
local function broken_gzip(res)
  if res.status == 200 and res.body:sub(1, 2) == GZIP_MAGIC then
    local box, err = mbox.split(res.body)
    if not box then return "bad gzip body: " .. tostring(err) end
    box:close()
  end
end

-- c:perform(reqs), asking again (up to M.GZIP_RETRIES times) for the
-- responses whose gzip body is broken; those end as { error=, code="truncated" }.
local function perform_gz(c, reqs)
  local results = c:perform(reqs)
  local redo = {}
  for i, r in ipairs(results) do
    if not r.error and broken_gzip(r) then redo[#redo + 1] = i end
  end
  for _ = 1, M.GZIP_RETRIES do
    if #redo == 0 then break end
    local again = {}
    for k, i in ipairs(redo) do again[k] = reqs[i] end
    local rs = c:perform(again)
    local still = {}
    for k, i in ipairs(redo) do
      results[i] = rs[k]
      if not rs[k].error and broken_gzip(rs[k]) then still[#still + 1] = i end
    end
    redo = still
  end
  for _, i in ipairs(redo) do
    results[i] = { error = reqs[i].method .. " " .. reqs[i].url .. ": " .. broken_gzip(results[i]),
                   code = "truncated" }
  end
  return results
end

-- Stores items in one transaction, with STATE = { [key] = value } written in
-- the same one; returns the number of new messages or nil, err.
local function store_batch(st, list, items, state)
  local ok, err = st:begin()
  if not ok then return nil, err end
  local n, perr = 0, nil
  if #items > 0 then n, perr = st:put_messages(list, items) end
  if n then
    for k, v in pairs(state or {}) do
      local sok, serr = st:set_state(list, k, v)
      if not sok then n, perr = nil, serr break end
    end
  end
  if not n then
    st:rollback()
    return nil, perr
  end
  ok, err = st:commit()
  if not ok then return nil, err end
  return n
end

-- ids referenced by a store row or item (References plus In-Reply-To)
local function refs_of(m)
  local out = {}
  for _, r in ipairs(m.references or {}) do out[#out + 1] = r end
  if m.in_reply_to then out[#out + 1] = m.in_reply_to end
  return out
end

--[[
conversations(st, ids) -> list of conversations, each
  { members = {row...} (stored messages, by date), ghosts = {id...},
    first = the earliest member's Message-ID }
Starting from the stored messages IDS, everything the store holds that is
connected to them by References / In-Reply-To (in either direction) is
gathered and threaded (listdigest.thread); a conversation is one JWZ
conversation (roots sharing .thread). Ghosts are ids referenced but not stored.
]]
function M.conversations(st, ids)
  local rows, seen, frontier = {}, {}, {}
  local function add(list)
    for _, r in ipairs(list or {}) do
      if not seen[r.message_id] then
        seen[r.message_id] = true
        rows[#rows + 1] = r
        frontier[#frontier + 1] = r
      end
    end
  end
  local first, err = st:lookup(ids)
  if not first then return nil, err end
  add(first)
  local asked = {}
  while #frontier > 0 do
    local batch = frontier
    frontier = {}
    local want = {}
    for _, r in ipairs(batch) do
      for _, ref in ipairs(refs_of(r)) do
        if not seen[ref] and not asked[ref] then
          asked[ref] = true
          want[#want + 1] = ref
        end
      end
    end
    if #want > 0 then
      local found, lerr = st:lookup(want)
      if not found then return nil, lerr end
      add(found)
    end
    for _, r in ipairs(batch) do
      local kids, rerr = st:referencing(r.message_id)
      if not kids then return nil, rerr end
      local new = {}
      for _, k in ipairs(kids) do
        local kid = type(k) == "table" and k.message_id or k
        if not seen[kid] and not asked[kid] then
          asked[kid] = true
          new[#new + 1] = kid
        end
      end
      if #new > 0 then
        local found, lerr = st:lookup(new)
        if not found then return nil, lerr end
        add(found)
      end
    end
  end
  local items = {}
  for i, r in ipairs(rows) do
    items[i] = { id = r.message_id, references = r.references or {}, in_reply_to = r.in_reply_to, date = r.date }
  end
  local roots = thread.build(items)
  local convs, by_num = {}, {}
  local function walk(node, c)
    if node.index then
      c.members[#c.members + 1] = rows[node.index]
    elseif node.id then
      c.ghosts[#c.ghosts + 1] = node.id
    end
    for _, child in ipairs(node.children or {}) do walk(child, c) end
  end
  for _, root in ipairs(roots) do
    local c = root.thread and by_num[root.thread]
    if not c then
      c = { members = {}, ghosts = {} }
      convs[#convs + 1] = c
      if root.thread then by_num[root.thread] = c end
    end
    walk(root, c)
  end
  for _, c in ipairs(convs) do
    table.sort(c.members, function(a, b)
      local da, db = a.date or math.huge, b.date or math.huge
      if da ~= db then return da < db end
      return a.message_id < b.message_id
    end)
    c.first = c.members[1] and c.members[1].message_id
  end
  return convs
end

--[[
belonging(known, candidates) -> kept, dropped
Keeps the candidates connected to the conversation by References /
In-Reply-To: a message belongs when it names a member or a member's
reference, or when a member names it; repeated to a fixed point. KNOWN is
the conversation's rows; candidates are items. The thread endpoints add
same-subject messages that are not connected: those are dropped.
]]
function M.belonging(known, candidates)
  local node = {}
  local function take(m)
    node[m.message_id] = true
    for _, r in ipairs(refs_of(m)) do node[r] = true end
  end
  for _, m in ipairs(known) do take(m) end
  local kept, pending = {}, {}
  for _, c in ipairs(candidates) do pending[#pending + 1] = c end
  local changed = true
  while changed do
    changed = false
    local rest = {}
    for _, c in ipairs(pending) do
      local hit = node[c.message_id]
      if not hit then
        for _, r in ipairs(refs_of(c)) do
          if node[r] then hit = true break end
        end
      end
      if hit then
        take(c)
        kept[#kept + 1] = c
        changed = true
      else
        rest[#rest + 1] = c
      end
    end
    pending = rest
  end
  return kept, pending
end

local function ghost_key(id) return "completed:" .. id end

local REFUSED = "x=m refused"

-- The window query as an mbox download, stored in one transaction.
-- -> hit ids, new | nil, REFUSED (the server answered HTML: x=m refused, as
-- a GET would) | nil, err, code
local function window_mbox(o, url)
  local res = perform_gz(o.http, { { method = "POST", url = url, body = "" } })[1]
  if res.error then return fail(res.error, 2) end
  if res.status == 404 then return {}, 0 end     -- no hits: an error page, not an error
  if res.status ~= 200 then return fail(status_error(res, "window query"), 2) end
  -- gzip as public-inbox sends it; a plain mbox if something on the way
  -- inflated it; anything else (HTML: the search page a GET gets) = refused
  if res.body:sub(1, 2) ~= GZIP_MAGIC and res.body:sub(1, 5) ~= "From " then return nil, REFUSED end
  local items, perr = items_of(res.body)
  if not items then return fail("window query: " .. tostring(perr), 2) end
  local n, serr = store_batch(o.store, o.list, items)
  if not n then return fail("store: " .. tostring(serr), 1) end
  local ids = {}
  for i, it in ipairs(items) do ids[i] = it.message_id end
  return ids, n
end

-- Fetches /ID/raw for each id concurrently and stores them in one
-- transaction. -> new count | nil, err, code
local function fetch_raws(o, base, ids)
  if #ids == 0 then return 0 end
  local reqs = {}
  for i, id in ipairs(ids) do
    reqs[i] = { method = "GET", url = base .. M.pct_encode(id) .. "/raw" }
  end
  local results = o.http:perform(reqs)
  local items, first_err = {}, nil
  for i, r in ipairs(results) do
    if r.error then
      first_err = first_err or r.error
    elseif r.status == 200 then
      local got = items_of(r.body)
      for _, it in ipairs(got or {}) do items[#items + 1] = it end
      if not got then first_err = first_err or (reqs[i].url .. ": not a message") end
    elseif r.status ~= 404 then
      first_err = first_err or status_error(r, "raw")
    end
  end
  local n, serr = store_batch(o.store, o.list, items)
  if not n then return fail("store: " .. tostring(serr), 1) end
  if first_err then return nil, first_err, 2, n end
  return n
end

-- The window query through Atom pages (x=A, o=0,200,...) and /raw per new
-- message. -> hit ids, new | nil, err, code
local function window_atom(o, base, q)
  local ids, seen, offset = {}, {}, 0
  while true do
    local url = base .. "?q=" .. M.query_encode(q) .. "&x=A&o=" .. offset
    local res, err = o.http:request{ method = "GET", url = url }
    if not res then return fail(err, 2) end
    if res.status == 404 then break end          -- no hits (an HTML page)
    if res.status ~= 200 then return fail(status_error(res, "atom page"), 2) end
    local feed, perr = atom.parse(res.body)
    if not feed then return fail(url .. ": " .. perr, 2) end
    for _, e in ipairs(feed.entries) do
      if e.message_id and not seen[e.message_id] then
        seen[e.message_id] = true
        ids[#ids + 1] = e.message_id
      end
    end
    if o.on_progress then o.on_progress{ phase = "atom", done = #ids } end
    -- a short page is the last; 1.9.0 answers a bare "</feed>" past the end
    if #feed.entries < M.ATOM_PAGE then break end
    offset = offset + M.ATOM_PAGE
  end
  local missing = {}
  for _, id in ipairs(ids) do
    local has, herr = o.store:has(id)
    if has == nil and herr then return fail("store: " .. herr, 1) end
    if not has then missing[#missing + 1] = id end
  end
  local n, err, code = fetch_raws(o, base, missing)
  if not n then return nil, err, code end
  return ids, n
end

-- The cover letters and single patches from o.addr whose subject holds
-- o.title's words, as the archive's search lists them (one Atom page:
-- `f:ADDR AND s:"WORDS"`): { {id=, version=, date=}... }, or nil when the
-- request failed (a failed request is no answer, not an error: links are a
-- nicety).
local function search_versions(o, words)
  local subject = require "listdigest.subject"
  local q = ('f:%s AND s:"%s"'):format(o.addr, table.concat(words, " "))
  local res = o.http:request{ method = "GET", url = base_of(o.base) .. "?q=" .. M.query_encode(q) .. "&x=A" }
  if not res or (res.status ~= 200 and res.status ~= 404) then return nil end
  local out = {}
  if res.status == 200 then
    local feed = atom.parse(res.body)
    for _, e in ipairs(feed and feed.entries or {}) do
      local s = subject.parse(e.title or "")
      if e.message_id and not s.reply and (s.n == nil or s.n == 0) then
        out[#out + 1] = { id = e.message_id, version = s.version or 1, date = e.updated_t }
      end
    end
  end
  return out
end

local function title_words(title)
  local words = {}
  for w in (title or ""):lower():gmatch("[%w]+") do words[#words + 1] = w end
  return words
end

local function remembered(known)
  if known == "" then return nil end
  local id, v, d = known:match("^(.-)\t(%d+)\t(%d*)$")
  return id and { id = id, version = tonumber(v), date = tonumber(d) } or nil
end

local function remember(best)
  return best and ("%s\t%d\t%s"):format(best.id, best.version, best.date or "") or ""
end

--[[
previous_version{ base =, http =, store =, list =, addr =, title =, version = }
  -> { id =, version =, date = } | nil
Asks the archive's search (search_versions) for the newest earlier version
of a series: a cover letter or single patch from addr whose subject holds
title's words, with a version below `version`. The answer, or that there is
none, is remembered in the store (state "prev:...") so later runs do not ask
again.
]]
function M.previous_version(o)
  local words = title_words(o.title)
  if #words == 0 or not o.addr then return nil end
  local key = ("prev:%s:%s:%d"):format(o.addr:lower(), table.concat(words, " "), o.version)
  local known = o.store:state(o.list, key)
  if known then return remembered(known) end
  local found = search_versions(o, words)
  if not found then return nil end
  local best
  for _, c in ipairs(found) do
    if c.version < o.version and (not best or c.version > best.version) then best = c end
  end
  o.store:set_state(o.list, key, remember(best))
  return best
end

--[[
newer_version{ base =, http =, store =, list =, addr =, title =, version =, ["until"] = }
  -> { id =, version =, date = } | nil
The newest later version of a series posted before `until` (epoch seconds),
by the same search. Remembered in the store (state "next:...") only when
`until` is already past: then no later mail can change the answer.
]]
function M.newer_version(o)
  local words = title_words(o.title)
  if #words == 0 or not o.addr then return nil end
  local key = ("next:%s:%s:%d:%d"):format(o.addr:lower(), table.concat(words, " "), o.version, o["until"])
  local known = o.store:state(o.list, key)
  if known then return remembered(known) end
  local found = search_versions(o, words)
  if not found then return nil end
  local best
  for _, c in ipairs(found) do
    if c.version > o.version and c.date and c.date < o["until"] and (not best or c.version > best.version) then
      best = c
    end
  end
  if o["until"] <= os.time() then o.store:set_state(o.list, key, remember(best)) end
  return best
end

--[[
week{ base =, list =, since =, ["until"] =, store =, http =, list_ids = nil,
      atom = false, on_progress = nil }
  -> summary | nil, err, code, partial_summary

Fills the store with the window's messages and the conversations they belong
to. base: the list's public-inbox URL ("http://127.0.0.1:PORT/kvmarm/",
"https://lore.kernel.org/all/"); list: the store's list name; since/until:
epoch seconds (the report window; rt: is widened by M.MARGIN); list_ids:
List-Id values to filter a cross-list index on; atom = true skips the mbox
download and reads Atom pages (also chosen automatically when the server
answers the POST with HTML).

Requests: 1 for the window query (Atom: one per 200 hits plus one /raw per
message not yet stored), then one t.mbox.gz per conversation that still has
a ghost (a parent or root not stored), has a hit dated in the window and
was not completed before; the ghosts are remembered (store state
"completed:<id>") in the same transaction as the messages, so a killed run
leaves whole messages only and the next run completes what is missing.

summary = { ids = {Message-ID...} (the hits dated in the window and every
  stored member of their conversations, by date), window_hits = (what the
  widened rt: query returned), in_window = (hits dated in the window), new =,
  completed_threads =,
  requests =, retries =, bytes = (received, on the wire), bytes_sent =,
  fallback = "atom"|nil, dropped = {Message-ID...} (strangers the thread
  endpoint added), completions = { {id =, url =, kept =, dropped =}... } }
code: 2 = the source failed (unreachable, refused, broken answer); 1 = the
store failed.
]]
function M.week(o)
  assert(type(o) == "table", "fetch.week: options table expected")
  assert(type(o.base) == "string" and o.base:match("^https?://"), "fetch.week: base must be an http(s) URL")
  assert(type(o.list) == "string" and o.list ~= "", "fetch.week: list expected")
  assert(math.type(o.since) == "integer" and math.type(o["until"]) == "integer", "fetch.week: since/until must be integers")
  assert(o.store and o.http, "fetch.week: store and http expected")
  local base = base_of(o.base)
  local st, c = o.store, o.http
  local s0 = c:stats()
  local summary = { ids = {}, window_hits = 0, new = 0, completed_threads = 0, dropped = {}, completions = {} }
  local function finish()
    local s1 = c:stats()
    summary.requests = s1.requests - s0.requests
    summary.retries = (s1.retries or 0) - (s0.retries or 0)
    summary.bytes = s1.bytes_received - s0.bytes_received
    summary.bytes_sent = (s1.bytes_sent or 0) - (s0.bytes_sent or 0)
    return summary
  end
  local function failed(err, code)
    return nil, err, code, finish()
  end

  -- 1. the window
  local q = M.query(o.since, o["until"], o.list_ids)
  local hit_ids, n, code
  if not o.atom then
    hit_ids, n, code = window_mbox(o, base .. "?q=" .. M.query_encode(q) .. "&x=m")
    if not hit_ids and n ~= REFUSED then return failed(n, code) end
  end
  if not hit_ids then
    summary.fallback = "atom"
    hit_ids, n, code = window_atom(o, base, q)
    if not hit_ids then return failed(n, code) end
  end
  summary.window_hits = #hit_ids
  summary.new = summary.new + n
  if o.on_progress then o.on_progress{ phase = "window", done = #hit_ids, new = n } end

  -- 2. whole conversations, of the hits whose Date: is in the window (the
  -- margin's other hits are stored for a neighbouring week, not followed)
  local seeds, lerr = M.in_window(st, hit_ids, o.since, o["until"])
  if not seeds then return failed("store: " .. tostring(lerr), 1) end
  summary.in_window = #seeds
  local convs, cerr = M.conversations(st, seeds)
  if not convs then return failed("store: " .. tostring(cerr), 1) end
  local todo = {}
  for _, conv in ipairs(convs) do
    local open = {}
    for _, g in ipairs(conv.ghosts) do
      local v, serr = st:state(o.list, ghost_key(g))
      if v == nil and serr then return failed("store: " .. serr, 1) end
      if not v then open[#open + 1] = g end
    end
    if #open > 0 and conv.first then
      todo[#todo + 1] = conv
      conv.url = base .. M.pct_encode(conv.first) .. "/t.mbox.gz"
    end
  end
  local first_err, first_code
  if #todo > 0 then
    local reqs = {}
    for i, conv in ipairs(todo) do reqs[i] = { method = "GET", url = conv.url } end
    local results = perform_gz(c, reqs)
    for i, conv in ipairs(todo) do
      local r = results[i]
      local items, perr
      if r.error then
        perr = r.error
      elseif r.status == 404 then
        items = {}     -- the server does not know the thread: nothing to add
      elseif r.status ~= 200 or (r.body:sub(1, 2) ~= GZIP_MAGIC and r.body:sub(1, 5) ~= "From ") then
        perr = status_error(r, "thread")
      else
        items, perr = items_of(r.body)
        if not items then perr = conv.url .. ": " .. tostring(perr) end
      end
      if items then
        local kept, dropped = M.belonging(conv.members, items)
        local state = {}
        for _, g in ipairs(conv.ghosts) do state[ghost_key(g)] = tostring(os.time()) end
        local added, serr = store_batch(st, o.list, kept, state)
        if not added then return failed("store: " .. tostring(serr), 1) end
        summary.new = summary.new + added
        summary.completed_threads = summary.completed_threads + 1
        local rec = { id = conv.first, url = conv.url, kept = #kept, dropped = {} }
        for _, d in ipairs(dropped) do
          rec.dropped[#rec.dropped + 1] = d.message_id
          summary.dropped[#summary.dropped + 1] = d.message_id
        end
        summary.completions[#summary.completions + 1] = rec
      else
        first_err = first_err or perr
        first_code = first_code or 2
      end
      if o.on_progress then o.on_progress{ phase = "threads", done = i, total = #todo } end
    end
  end

  -- 3. the ids the report reads: hits and their whole conversations
  local ids, err = M.conversation_ids(st, seeds)
  if not ids then return failed("store: " .. tostring(err), 1) end
  summary.ids = ids
  if first_err then return failed(first_err, first_code) end
  return finish()
end

--[[
in_window(st, ids, since, until) -> the stored messages among IDS whose Date:
(else receive time) is in [since, until) | nil, err
]]
function M.in_window(st, ids, since, until_)
  local rows, err = st:lookup(ids)
  if not rows then return nil, err end
  local out = {}
  for _, r in ipairs(rows) do
    local t = r.date or r.received
    if t and t >= since and t < until_ then out[#out + 1] = r.message_id end
  end
  return out
end

--[[
conversation_ids(st, ids) -> Message-IDs of the stored messages IDS and of
every stored message of their conversations, ordered by date | nil, err
]]
function M.conversation_ids(st, ids)
  local convs, err = M.conversations(st, ids)
  if not convs then return nil, err end
  local rows = {}
  for _, c in ipairs(convs) do
    for _, m in ipairs(c.members) do rows[#rows + 1] = m end
  end
  table.sort(rows, function(a, b)
    local da, db = a.date or math.huge, b.date or math.huge
    if da ~= db then return da < db end
    return a.message_id < b.message_id
  end)
  local out = {}
  for i, r in ipairs(rows) do out[i] = r.message_id end
  return out
end

--[[
ids_for_report(st, list, since, until) -> ids | nil, err
The messages of LIST whose Date: is in [since, until) plus every stored
message of their conversations (context from before or after the window),
ordered by date. What a report over the store reads; works offline.
]]
function M.ids_for_report(st, list, since, until_)
  local rows, err = st:messages{ list = list, since = since, ["until"] = until_, by = "date" }
  if not rows then return nil, err end
  local ids = {}
  for i, r in ipairs(rows) do ids[i] = r.message_id end
  return M.conversation_ids(st, ids)
end

-- Local public-inbox v2 mirrors --------------------------------------------

local function shq(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function is_dir(path)
  local f = io.open(path .. "/.", "rb")
  if f then f:close() return true end
  return false
end

local function is_git_dir(path)
  return is_dir(path .. "/objects") and io.open(path .. "/HEAD", "rb") ~= nil
end

--[[
v2_epochs(dir) -> { git dir, ... } oldest epoch first | nil, err
A v2 inbox holds DIR/git/0.git, DIR/git/1.git, ... (newer public-inbox also
has DIR/all.git, which only points at the epochs and is skipped). A single
epoch (a bare repository, or a clone with .git) is accepted as it is.
]]
function M.v2_epochs(dir)
  local epochs = {}
  if is_dir(dir .. "/git") then
    local p = io.popen("ls -1 " .. shq(dir .. "/git") .. " 2>/dev/null")
    for name in p:lines() do
      local n = name:match("^(%d+)%.git$")
      if n then epochs[#epochs + 1] = { n = tonumber(n), path = dir .. "/git/" .. name } end
    end
    p:close()
    table.sort(epochs, function(a, b) return a.n < b.n end)
    for i, e in ipairs(epochs) do epochs[i] = e.path end
  elseif is_git_dir(dir) then
    epochs[1] = dir
  elseif is_git_dir(dir .. "/.git") then
    epochs[1] = dir .. "/.git"
  end
  if #epochs == 0 then return nil, dir .. ": not a public-inbox v2 directory (no git/N.git epochs)" end
  return epochs
end

-- Is DIR a public-inbox v2 mirror (rather than a Maildir)?
function M.is_v2(dir)
  return is_dir(dir .. "/git") or (is_git_dir(dir) and not is_dir(dir .. "/cur"))
end

--[[
read_v2(dir) -> raws (a list of raw messages, oldest commit first) | nil, err
Reads every epoch with two git processes each: `git log --format=%H` for the
commits and one `git cat-file --batch` for all their "m" blobs. Commits
without an "m" (public-inbox's deletions) are skipped.
]]
function M.read_v2(dir)
  local epochs, err = M.v2_epochs(dir)
  if not epochs then return nil, err end
  local raws = {}
  for _, gd in ipairs(epochs) do
    local git = "git --git-dir=" .. shq(gd)
    local p = io.popen(git .. " log --reverse --format=%H 2>&1")
    local list = os.tmpname()
    local f = assert(io.open(list, "wb"))
    local n = 0
    for line in p:lines() do
      if line:match("^%x+$") then
        f:write(line, ":m\n")
        n = n + 1
      end
    end
    f:close()
    local ok, _, code = p:close()
    if not ok and n == 0 then
      os.remove(list)
      -- an empty epoch (no commits yet) is not an error
      local q = io.popen(git .. " rev-parse --verify -q HEAD 2>/dev/null")
      local head = q:read("a")
      q:close()
      if head ~= "" then return nil, gd .. ": git log failed (exit " .. tostring(code) .. ")" end
    elseif n > 0 then
      local b = io.popen(git .. " cat-file --batch < " .. shq(list))
      for _ = 1, n do
        local header = b:read("l")
        if not header then break end
        local size = header:match("^%x+ blob (%d+)$")
        if size then
          raws[#raws + 1] = b:read(tonumber(size))
          b:read(1)   -- the LF after the content
        end
        -- "<commit>:m missing": a deletion commit
      end
      local bok = b:close()
      os.remove(list)
      if not bok then return nil, gd .. ": git cat-file failed" end
    else
      os.remove(list)
    end
  end
  return raws
end

--[[
store_raws(st, list, raws) -> new count | nil, err
Parses the headers of raw messages and stores them in one transaction
(a v2 mirror or any other local source into the store).
]]
function M.store_raws(st, list, raws)
  local items = {}
  for _, raw in ipairs(raws) do
    local it = M.item(raw)
    if it.message_id then items[#items + 1] = it end
  end
  return store_batch(st, list, items)
end

return M
