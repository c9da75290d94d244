-- The pipeline: source -> parse -> thread -> classify -> summarise -> report
-- model. Each stage is a function over plain tables so report scripts can
-- run any prefix of it; rendering is the layouts' job (listdigest.render).
local mime = require "listdigest.mime"
local thread = require "listdigest.thread"
local subject = require "listdigest.subject"
local rules_mod = require "listdigest.rules"
local source = require "listdigest.source"
local summarize = require "listdigest.summarize"
local review = require "listdigest.review"
local series_mod = require "listdigest.series"
local timeutil = require "listdigest.timeutil"
local attention = require "listdigest.attention"

local M = {}

-- Files a message's diffs touch, from "diff --git a/X b/Y" and "+++ b/Y".
local function diff_paths(msg, out, seen)
  for _, seg in ipairs(msg.segments or {}) do
    if seg.kind == "diff" then
      for line in seg.text:gmatch("[^\n]+") do
        local p = line:match("^diff %-%-git a/(%S+)") or line:match("^%+%+%+ b/(%S+)")
        if p and not seen[p] then
          seen[p] = true
          out[#out + 1] = p
        end
      end
    end
  end
end

--[[
read(spec, ctx) -> messages, info | nil, message, exit_code

Reads every message of the source (see listdigest.source; ctx is its
fetch context for URLs) and parses its headers (bodies wait until a thread
is known to be reported). messages[i] is mime.parse's table plus
  .index      position in the source (1-based)
  .subj       subject.parse(msg.subject)
info = { source = spec, count = N, format = "mboxrd"|..., box = the open
source (info.box:close() when done), fetch = the fetch summary for URLs }.
]]
function M.read(spec, ctx)
  local box, err, code = source.open(spec, ctx)
  if not box then return nil, err, code or 2 end
  local msgs = {}
  for i, raw, from_line in box:messages() do
    local msg = mime.parse(raw, { from_line = from_line, body = false })
    msg.index = i
    msg.subj = subject.parse(msg.subject)
    msgs[i] = msg
  end
  local info = { source = spec, count = #msgs, format = box.format, box = box, fetch = box.fetch }
  return msgs, info
end

-- Parses the bodies of the given messages (text, parts, segments) in place.
function M.parse_bodies(msgs, info)
  for _, msg in ipairs(msgs) do
    if not msg.text then
      local raw, from_line = info.box:message(msg.index)
      local full = mime.parse(raw, { from_line = from_line })
      for k, v in pairs(full) do
        if msg[k] == nil or k == "defects" then msg[k] = v end
      end
    end
  end
end

--[[
threads(msgs) -> list of threads (JWZ; no subject merging), each
  { id = root Message-ID (a ghost's when the root never arrived),
    root_missing = bool, messages = {msg...} in tree order (depth-first,
    siblings by date), with msg.depth and msg.parent_id set }
and the list of messages dropped as duplicate Message-IDs.
]]
function M.threads(msgs)
  local items = {}
  for i, m in ipairs(msgs) do
    -- the raw In-Reply-To: the parent rule needs to know whether it held
    -- exactly one id and nothing else (listdigest.thread parses it)
    items[i] = { id = m.message_id, references = m.references, in_reply_to = m.headers["in-reply-to"],
                 date = m.date }
  end
  local roots, dups = thread.build(items)
  local out, t, conv = {}, nil, nil
  for _, root in ipairs(roots) do
    -- roots of one conversation (replies to a ghost that only another
    -- message's References name) are adjacent and share root.thread
    if not t or root.thread == nil or root.thread ~= conv then
      if t and #t.messages > 0 then out[#out + 1] = t end
      t = { id = root.id, root_missing = root.ghost == true, messages = {} }
      conv = root.thread
    end
    local function walk(node, depth, parent_id)
      if node.index then
        local m = msgs[node.index]
        m.depth, m.parent_id = depth, parent_id
        t.messages[#t.messages + 1] = m
        if not t.root then t.root = m end
      end
      for _, child in ipairs(node.children or {}) do
        walk(child, node.index and depth + 1 or depth, node.id)
      end
    end
    walk(root, 0, nil)
  end
  if t and #t.messages > 0 then out[#out + 1] = t end
  local dropped = {}
  for _, i in ipairs(dups or {}) do dropped[#dropped + 1] = msgs[i] end
  return out, dropped
end

local function in_window(m, window)
  return m.date ~= nil and m.date >= window.since and m.date < window["until"]
end

-- Marks each message in or out of the window and keeps the threads with at
-- least one message in it.
function M.select(threads, window)
  local out = {}
  for _, t in ipairs(threads) do
    local n = 0
    for _, m in ipairs(t.messages) do
      m.in_window = in_window(m, window)
      if m.in_window then n = n + 1 end
    end
    t.window_count = n
    if n > 0 then out[#out + 1] = t end
  end
  return out
end

-- The title a thread is known by: its root's subject, else (root missing) the
-- earliest message's subject without reply prefixes.
local function thread_title(t)
  if t.pull then
    if t.pull.subject then return t.pull.subject end
    for _, m in ipairs(t.messages) do
      if m.message_id == t.pull.id then return m.subject end
    end
  end
  local lead = t.series and (t.series.cover or (t.series.history and t.series.base_id))
  if lead then
    for _, m in ipairs(t.messages) do
      if m.message_id == lead then return m.subject end
    end
  end
  if t.root and not t.root_missing then return t.root.subject end
  local first = t.messages[1]
  for _, m in ipairs(t.messages) do
    if (m.date or math.huge) < (first.date or math.huge) then first = m end
  end
  local s = first.subj
  local tags = {}
  for _, tok in ipairs(s.tag_list or {}) do tags[#tags + 1] = tok end
  if #tags > 0 then return "[" .. table.concat(tags, " ") .. "] " .. s.title end
  return s.title
end

--[[
facts(t, list) -> the table rules match on (see rules/default.lua):
  title (no tags, no Re:), subject (the thread's title as shown), tags (union
  over the thread's non-reply mails, or its first mail's when all are
  replies; a pull request, as listdigest.series found it, has ["GIT PULL"]
  and no series), prefixes, version, series = {version=, total=, cover=} or
  nil, stable = {...} or nil, autosel, paths, messages (summaries),
  participants, list.
]]
function M.facts(t, list)
  local paths, seen_paths = {}, {}
  -- The thread is what its first mail says it is: its root, else (root
  -- missing) its earliest mail. A patch posted as a reply inside a
  -- discussion does not make the discussion a patch thread.
  local lead = (not t.root_missing and t.root) or t.messages[1]
  for _, m in ipairs(t.messages) do
    if (m.date or math.huge) < (lead.date or math.huge) and t.root_missing then lead = m end
  end
  local s = lead.subj
  local tags, prefixes = {}, {}
  for k in pairs(s.tags or {}) do tags[k] = true end
  for _, p in ipairs(s.prefixes or {}) do prefixes[p] = true end
  local stable = s.stable and table.move(s.stable, 1, #s.stable, 1, {}) or nil
  local autosel, version, total = s.autosel, s.version, s.total
  local cover = (s.n == 0 and not s.reply) and lead.message_id or nil
  local any_patch = tags.PATCH
  if t.pull then
    -- listdigest.series knows it is a pull request, whatever patches ride along
    tags["GIT PULL"], any_patch, total, version, cover = true, false, nil, nil, nil
  end
  if t.series then
    -- listdigest.series knows better: merged unthreaded series, backports
    version, total = t.series.version or version, t.series.total or total
    cover = t.series.cover or cover
    if t.series.branches and #t.series.branches > 0 then stable = t.series.branches end
  end
  local participants, seen = {}, {}
  local msgs = {}
  for _, m in ipairs(t.messages) do
    diff_paths(m, paths, seen_paths)
    if m.segments then
      for _, seg in ipairs(m.segments) do
        if seg.kind == "diff" then m.has_diff = true break end
      end
    end
    if not seen[m.from_addr] then
      seen[m.from_addr] = true
      participants[#participants + 1] = m.from
    end
    msgs[#msgs + 1] = { subject = m.subject, from = m.from, from_addr = m.from_addr, date = m.date,
                        is_reply = m.subj.reply, has_diff = m.has_diff == true }
  end
  local prefix_list = {}
  for p in pairs(prefixes) do prefix_list[#prefix_list + 1] = p end
  table.sort(prefix_list)
  local series
  if any_patch or total then
    series = { version = version or 1, total = total or 1, cover = cover }
  end
  return {
    title = subject.parse(t.title).title, subject = t.title, tags = tags,
    prefixes = prefix_list, version = version, series = series, stable = stable,
    autosel = autosel == true, paths = paths, messages = msgs, participants = participants,
    list = list,
  }
end

-- Percent-encodes a Message-ID for a public-inbox URL path ("/" -> %2F).
function M.msgid_path(id)
  return (id:gsub("[^%w%-%._~@!$&'()*+,;=:]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- Hosts whose lists lore.kernel.org archives under the List-Id's first
-- label (kvmarm.lists.cs.columbia.edu -> https://lore.kernel.org/kvmarm/).
M.LORE_HOSTS = { "vger.kernel.org", "lists.linux.dev", "lists.infradead.org", "lists.ozlabs.org",
                 "lists.cs.columbia.edu", "lists.linaro.org", "lists.01.org" }

--[[
list_of_mail(msgs) -> name, lore_url | nil

The list most of the in-window messages name in their List-Id: its first
label ("linux-arm-kernel" for linux-arm-kernel.lists.infradead.org), and
its lore.kernel.org archive when the host is one lore carries
(M.LORE_HOSTS); nil when no message has a List-Id.
]]
function M.list_of_mail(msgs)
  local count, best = {}, nil
  for _, m in ipairs(msgs) do
    local id = m.in_window ~= false and m.list_id and m.list_id:lower():match("^%s*([%w%.%-_]+)%s*$")
    if id then
      count[id] = (count[id] or 0) + 1
      if not best or count[id] > count[best] or (count[id] == count[best] and id < best) then best = id end
    end
  end
  if not best then return nil end
  local name, host = best:match("^([^.]+)%.(.+)$")
  if not name then return best end
  for _, h in ipairs(M.LORE_HOSTS) do
    if host == h then return name, "https://lore.kernel.org/" .. name .. "/" end
  end
  return name
end

-- The archive a message links to: the --source URL when mail came from a
-- public-inbox server, else the rules' source when it is one, else the
-- lore archive of the mail's List-Id (fallback), else nothing.
local function archive_base(rules, spec, fallback)
  for _, base in ipairs({ spec, rules.source }) do
    if type(base) == "string" and base:match("^https?://") then
      return base:sub(-1) == "/" and base or base .. "/"
    end
  end
  return fallback
end

--[[
store_lookup(st, list) -> { previous = fn(addr, title, version),
                            newer = fn(addr, title, version, until_t) }
Other versions of a series among the list's stored mail (fetched by earlier
runs): cover letters and single patches, not replies, from the same address,
whose title has the same key; previous: the newest with a lower version;
newer: the newest with a higher version posted before until_t. Each returns
{id=, version=, date=} or nil. The store is read once, at the first call.
]]
function M.store_lookup(st, list)
  local index
  local function candidates(addr, title)
    if not index then
      index = {}
      for _, r in ipairs(st:messages { list = list } or {}) do
        local s = subject.parse(r.subject or "")
        if not s.reply and (s.tags.PATCH or s.tags.RFC) and (s.n == nil or s.n == 0) then
          local a = ((r.from or ""):match("<([^>]+)>") or r.from or ""):lower()
          local key = a .. "\0" .. series_mod.title_key(s.normalized or s.title)
          index[key] = index[key] or {}
          table.insert(index[key], { id = r.message_id, version = s.version or 1, date = r.date })
        end
      end
    end
    return index[(addr or ""):lower() .. "\0" .. series_mod.title_key(title)] or {}
  end
  local function newest(list_, keep)
    local best
    for _, c in ipairs(list_) do
      if keep(c) and (not best or c.version > best.version
          or (c.version == best.version and (c.date or 0) > (best.date or 0))) then
        best = c
      end
    end
    return best
  end
  return {
    previous = function(addr, title, version)
      return newest(candidates(addr, title), function(c) return c.version < version end)
    end,
    newer = function(addr, title, version, until_t)
      return newest(candidates(addr, title), function(c)
        return c.version > version and c.date ~= nil and c.date < until_t
      end)
    end,
  }
end

-- Where other versions are looked up: the store (the one fetched mail went
-- to, or the one --db names), then, for a public-inbox source, the
-- archive's search. Returns the store to close and the lookups (as
-- store_lookup's), or nil.
function M.version_store(opts, rules)
  local url = source.kind(opts.source) == "url"
  if not url and not opts.db then return nil end
  local st = source.open_store(opts.db or source.default_db())
  if not st then return nil end
  local list = rules.list or opts.source:match("/([^/]+)/*$") or "list"
  local in_store = M.store_lookup(st, list)
  if not url then return st, in_store end
  local fetch = require "listdigest.fetch"
  local client
  local function ask(fn, o)
    client = client or source.http_client { progress = false, retries = 1, timeout = opts.timeout }
    o.base, o.http, o.store, o.list = opts.source, client, st, list
    return fn(o)
  end
  return st, {
    previous = function(addr, title, version)
      return in_store.previous(addr, title, version)
        or ask(fetch.previous_version, { addr = addr, title = title, version = version })
    end,
    newer = function(addr, title, version, until_t)
      return in_store.newer(addr, title, version, until_t)
        or ask(fetch.newer_version, { addr = addr, title = title, version = version, ["until"] = until_t })
    end,
  }
end

-- The report model's status from listdigest.review's analysis.
function M.status(r)
  return {
    state = r.state, state_why = r.state_why,
    reviewed_by = r.reviewed_by, acked_by = r.acked_by, tested_by = r.tested_by,
    applied = r.applied and { by = r.applied.by, where = r.applied.where, commits = r.applied.commits,
                              message_id = r.applied.id,
                              date = r.applied.date and timeutil.rfc3339(r.applied.date) or nil } or nil,
    pulled = r.pulled and { by = r.pulled.by, message_id = r.pulled.id } or nil,
    superseded_by = r.superseded_by and { version = r.superseded_by.version,
                                          message_id = r.superseded_by.message_id,
                                          date = r.superseded_by.date } or nil,
  }
end

-- USD for the tokens, from LISTDIGEST_LLM_PRICE ("prompt,completion" per
-- million tokens) or the rules' prices for the model; nil when unknown.
local function money(cost, rules)
  local p
  local env = os.getenv("LISTDIGEST_LLM_PRICE")
  if env and env ~= "" then
    local a, b = env:match("^%s*([%d.]+)%s*,%s*([%d.]+)%s*$")
    if a then p = { prompt = tonumber(a), completion = tonumber(b) } end
  end
  p = p or (rules.prices or {})[cost.model or ""]
  if not p then return nil end
  return (cost.prompt_tokens * p.prompt + cost.completion_tokens * p.completion) / 1e6
end

--[[
summarize_llm(threads, opts, lang) -> cost | nil, message, exit_status
opts.llm = { url =, model =, key = nil (the client reads the environment),
jobs =, timeout =, temperature =, max_tokens =, budget =, params = {...} }. Uses the store
(opts.db) as the summary cache and to remember which response_format the
server accepts.
]]
function M.summarize_llm(threads, opts, lang)
  local llm = require "listdigest.llm"
  local o = opts.llm
  local st, err = source.open_store(opts.db or source.default_db())
  if not st then return nil, err end
  -- what the server honours, learned per server and model: fallbacks, and
  -- text mode once its JSON did not fit even after a correction
  local format_key = "response_format:" .. o.url .. " " .. o.model
  local quirks_key = "quirks:" .. o.url .. " " .. o.model
  -- provider parameters: the rules' for this model, then the environment's
  local extra
  for _, src in ipairs({ (opts.rules.llm_params or {})[o.model] or {}, o.params or {} }) do
    for k, v in pairs(src) do
      extra = extra or {}
      extra[k] = v
    end
  end
  local client = llm.client {
    url = o.url, model = o.model, key = o.key, jobs = o.jobs, timeout = o.timeout,
    temperature = o.temperature, max_tokens = o.max_tokens,
    response_format = st:state("llm", format_key), params = extra, quirks = st:state("llm", quirks_key),
  }
  local cost, serr, scode = summarize.llm(threads, {
    rules = opts.rules, lang = lang, client = client, url = o.url, model = o.model, store = st, budget = o.budget,
    -- what changes the answer is in the cache key (extra only when given)
    params = { temperature = o.temperature, max_tokens = o.max_tokens, extra = extra },
  })
  if client.format then st:set_state("llm", format_key, client.format) end
  if client.quirks ~= "" then st:set_state("llm", quirks_key, client.quirks) end
  if cost and cost.text_mode then st:set_state("llm", format_key, "text") end
  client:close()
  st:close()
  if not cost then return nil, serr, scode end
  cost.money_usd = money(cost, opts.rules)
  return cost
end

--[[
run(opts) -> report, ctx | nil, message, exit_code

opts: source, rules (a loaded rules table), window = {since=, until=},
lang, db (the store: fetched mail, the summary cache), progress, timeout
(of a request to a public-inbox server, source.http_client), llm (the
model's settings, see summarize_llm; nil: extractive summaries offline),
summaries (false: no summary at all, for `listdigest threads`). The report
is DESIGN.md's report model; ctx keeps what the stages saw (messages,
threads) for `listdigest threads` and scripts.
]]
function M.run(opts)
  local rules = opts.rules
  local msgs, info, code = M.read(opts.source, {
    db = opts.db, window = opts.window, list = rules.list, list_ids = rules.list_ids, progress = opts.progress,
    timeout = opts.timeout,
  })
  if not msgs then return nil, info, code end
  local all, dropped = M.threads(msgs)
  local reported = M.select(all, opts.window)
  local body_msgs = {}
  for _, t in ipairs(reported) do
    for _, m in ipairs(t.messages) do body_msgs[#body_msgs + 1] = m end
  end
  M.parse_bodies(body_msgs, info)
  info.box:close()

  -- report entries: conversations, with unthreaded series and backports of
  -- one patch to several stable branches merged (listdigest.series)
  local st, lookup = M.version_store(opts, rules)
  reported = series_mod.link_versions(series_mod.group(reported), lookup and lookup.previous)
  series_mod.supersede(reported, series_mod.version_index(msgs), {
    ["until"] = opts.window["until"], since = opts.window.since, lookup = lookup and lookup.newer })
  if st then st:close() end
  -- default rules name no list: the mail's List-Id does
  local mail_list, mail_archive = M.list_of_mail(msgs)
  local base = archive_base(rules, opts.source, mail_archive)
  for _, t in ipairs(reported) do
    t.window_count = 0
    for _, m in ipairs(t.messages) do
      if m.in_window then t.window_count = t.window_count + 1 end
    end
    t.title = thread_title(t)
    t.facts = M.facts(t, rules.list)
    local category, rule = rules_mod.classify(rules, t.facts)
    if not category then return nil, rule, 1 end
    t.category, t.rule = category, rule
    t.defects = {}
    for _, d in ipairs((t.series and t.series.defects) or (t.pull and t.pull.defects) or {}) do
      t.defects[#t.defects + 1] = d
    end
    t.review = review.analyse(t.messages, { applied_patterns = rules.applied_patterns, pull = t.pull ~= nil,
                                            superseded_by = t.series and t.series.superseded_by,
                                            doubt = t.series and t.series.defects and t.series.defects[1] })
    t.status = M.status(t.review)
  end
  local lang = opts.lang or rules.language or "en"
  local cost
  if opts.summaries == false then
    cost = nil
  elseif opts.llm then
    local err, code
    cost, err, code = M.summarize_llm(reported, opts, lang)
    if not cost then return nil, err, code or 1 end
  else
    for _, t in ipairs(reported) do t.summary = summarize.extractive(t) end
  end
  local report = M.model(reported, {
    rules = rules, window = opts.window, base = base, source = info, lang = lang, cost = cost, list = mail_list,
  })
  report.attention = M.attention_model(attention.compute(reported, {
    window = opts.window, after_days = rules.attention_after_days,
    url = function(id) return base and id and (base .. M.msgid_path(id) .. "/") or nil end,
  }))
  return report, { messages = msgs, threads = reported, all_threads = all, dropped = dropped, info = info }
end

local function sorted_by_date(list)
  local copy = {}
  for i, m in ipairs(list) do copy[i] = { m = m, i = i } end
  table.sort(copy, function(a, b)
    local da, db = a.m.date or math.huge, b.m.date or math.huge
    if da ~= db then return da < db end
    return a.i < b.i
  end)
  local out = {}
  for i, e in ipairs(copy) do out[i] = e.m end
  return out
end

-- The report model's series: version, size, what is present, the previous
-- version (with a link), stable branches, and the b4 command that fetches it.
function M.series_model(t, base, earlier)
  local sr = t.series
  if not sr then
    local f = t.facts.series
    return f and { version = f.version, total = f.total, cover = f.cover,
                   b4 = f.cover and ("b4 am " .. f.cover) or nil } or nil
  end
  local first = sr.cover or (sr.patches and sr.patches[1]) or t.id
  local prev = sr.previous and {
    version = sr.previous.version, message_id = sr.previous.id,
    date = sr.previous.date and timeutil.rfc3339(sr.previous.date) or nil,
    url = base and sr.previous.id and (base .. M.msgid_path(sr.previous.id) .. "/") or nil,
  } or nil
  local history
  for _, h in ipairs(sr.history or {}) do
    history = history or {}
    history[#history + 1] = { version = h.version, message_id = h.id, total = h.total, present = h.present,
                              date = h.date and timeutil.rfc3339(h.date) or nil,
                              url = base and h.id and (base .. M.msgid_path(h.id) .. "/") or nil }
  end
  local newer = sr.newer and {
    version = sr.newer.version, message_id = sr.newer.id,
    date = sr.newer.date and timeutil.rfc3339(sr.newer.date) or nil,
    url = base and (base .. M.msgid_path(sr.newer.id) .. "/") or nil,
  } or nil
  return {
    version = sr.version or 1, total = sr.total or 1, present = sr.present, cover = sr.cover,
    previous = prev, earlier = earlier, newer = newer, branches = sr.branches, rfc = sr.rfc or nil, resend = sr.resend or nil,
    project = sr.project, rerolls = sr.rerolls and #sr.rerolls > 0 and sr.rerolls or nil,
    history = history,
    b4 = "b4 am " .. first,
  }
end

-- listdigest.attention's block with dates in RFC 3339, as the report model
-- carries them.
function M.attention_model(block)
  local function fix(list)
    for _, it in ipairs(list) do
      if it.date then it.date = timeutil.rfc3339(it.date) end
    end
  end
  for _, k in ipairs({ "applied", "pulled", "new_series", "new_versions" }) do fix(block.happened[k]) end
  fix(block.attention)
  return block
end

-- The versions before the previous one, as far as the report's entries
-- link them (v10 -> v9 -> v8): {version=, message_id=, date=, url=},
-- newest first; nil when there are none.
local function earlier_versions(t, by_id, base)
  local out, seen = {}, { [t] = true }
  local p = t.series and t.series.previous and by_id[t.series.previous.id]
  while p and not seen[p] and p.series and p.series.previous do
    seen[p] = true
    local pv = p.series.previous
    out[#out + 1] = { version = pv.version, message_id = pv.id, date = pv.date and timeutil.rfc3339(pv.date) or nil,
                      url = base and pv.id and (base .. M.msgid_path(pv.id) .. "/") or nil }
    p = by_id[pv.id]
  end
  return #out > 0 and out or nil
end

-- Builds DESIGN.md's report model from the classified, summarised threads.
function M.model(threads, ctx)
  local rules, base = ctx.rules, ctx.base
  local by_id = {}
  for _, t in ipairs(threads) do by_id[t.id] = t end
  local report = {
    list = rules.list or ctx.list or "list",
    lang = ctx.lang,
    window = { since = timeutil.rfc3339(ctx.window.since), ["until"] = timeutil.rfc3339(ctx.window["until"]) },
    generated_at = timeutil.rfc3339(timeutil.now()),
    source = ctx.source.source,
    cost = ctx.cost or { requests = 0, prompt_tokens = 0, completion_tokens = 0, cached = 0, failed = 0 },
    threads = {},
  }
  local large = rules.large_thread or 20
  local stats = { messages = 0, threads = #threads, participants = 0, large_threads = 0,
                  large_thread_size = large, by_category = {} }
  local everyone = {}
  for _, t in ipairs(threads) do
    local entry = {
      id = t.id, title = t.title, category = t.category, root_missing = t.root_missing,
      url = base and (base .. M.msgid_path(t.id) .. "/") or nil,
      messages = {}, participants = {},
      series = M.series_model(t, base, earlier_versions(t, by_id, base)),
      pull = t.pull and { repo = t.pull.repo, tag = t.pull.tag or t.pull.ref,
                          reply = t.pull.reply and { by = t.pull.reply.by, verdict = t.pull.reply.verdict,
                                                     message_id = t.pull.reply.id } or nil } or nil,
      grouping = t.grouping and { rule = t.grouping.rule, why = t.grouping.why } or nil,
      status = t.status,
      summary = t.summary,
      defects = t.defects and #t.defects > 0 and t.defects or nil,
    }
    local sup = entry.status and entry.status.superseded_by
    if sup then
      sup.url = base and (base .. M.msgid_path(sup.message_id) .. "/") or nil
      if type(sup.date) == "number" then sup.date = timeutil.rfc3339(sup.date) end
    end
    local seen = {}
    local ordered = sorted_by_date(t.messages)
    for _, m in ipairs(ordered) do
      entry.messages[#entry.messages + 1] = {
        message_id = m.message_id, date = m.date and timeutil.rfc3339(m.date) or nil,
        from = m.from, from_addr = m.from_addr, subject = m.subject,
        url = base and (base .. M.msgid_path(m.message_id) .. "/") or nil,
        in_window = m.in_window, depth = m.depth,
      }
      if m.in_window and not seen[m.from_addr] then
        seen[m.from_addr] = true
        entry.participants[#entry.participants + 1] = m.from
        everyone[m.from_addr] = true
      end
    end
    entry.started = ordered[1].date and timeutil.rfc3339(ordered[1].date) or nil
    entry.last = ordered[#ordered].date and timeutil.rfc3339(ordered[#ordered].date) or nil
    entry.message_count = t.window_count
    stats.messages = stats.messages + t.window_count
    if t.window_count > large then stats.large_threads = stats.large_threads + 1 end
    local c = stats.by_category[t.category] or { threads = 0, messages = 0 }
    c.threads, c.messages = c.threads + 1, c.messages + t.window_count
    stats.by_category[t.category] = c
    report.threads[#report.threads + 1] = entry
  end
  for _ in pairs(everyone) do stats.participants = stats.participants + 1 end
  report.stats = stats
  report.categories = rules.report_order
  -- Report order: category order of the rules, then message count (desc),
  -- then start time, then id: stable across runs.
  local rank = {}
  for i, name in ipairs(report.categories) do rank[name] = i end
  table.sort(report.threads, function(a, b)
    local ra, rb = rank[a.category] or math.huge, rank[b.category] or math.huge
    if ra ~= rb then return ra < rb end
    if a.message_count ~= b.message_count then return a.message_count > b.message_count end
    if (a.started or "") ~= (b.started or "") then return (a.started or "") < (b.started or "") end
    return a.id < b.id
  end)
  return report
end

return M
