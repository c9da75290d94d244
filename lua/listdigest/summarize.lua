-- Summaries of threads. This file holds the offline, extractive summariser:
-- it quotes the mail itself (cover letter, changelog, the question and the
-- repliers' own first words, the trailers given) and never calls the network.
-- It does not judge or paraphrase; the LLM summariser does that.
local M = {}

local MAX_LEAD = 600      -- characters kept of an opening paragraph
local MAX_REPLY = 240     -- characters kept of a reply's own words
local MAX_CHANGELOG = 12  -- changelog items kept
local MAX_REPLIES = 8     -- replies quoted
local MAX_QUESTIONS = 3
local SUBSTANTIAL = 50    -- a lead shorter than this is passed over when a longer one exists
-- Prompt tokens of mail per request by default: a 32k-context model keeps
-- room for the prompt, the answer and listdigest.compact's estimate running
-- 15-25 % under real tokenizers on code.
M.BUDGET = 20000

local function squash(s) return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")) end

-- Cuts s to at most n bytes at a word boundary, never inside a UTF-8 sequence.
local function clip(s, n)
  if #s <= n then return s end
  local cut = s:sub(1, n)
  while #cut > 0 and (cut:byte(-1) & 0xC0) == 0x80 do cut = cut:sub(1, -2) end
  if #cut > 0 and cut:byte(-1) >= 0xC0 then cut = cut:sub(1, -2) end
  return (cut:gsub("%s+%S*$", "")) .. " …"
end

-- The message's own words: its text segments (no quotes, diffs, trailers,
-- signatures or list footers), in order.
local function own_text(msg)
  local parts = {}
  for _, seg in ipairs(msg.segments or {}) do
    if seg.kind == "text" then parts[#parts + 1] = seg.text end
  end
  return table.concat(parts, "\n")
end

-- Paragraphs (blank-line separated), raw.
local function paragraphs(text)
  local out = {}
  for para in (text .. "\n\n"):gmatch("(.-)\n[ \t]*\n") do
    if para:match("%S") then out[#out + 1] = para end
  end
  return out
end

-- Is this line the heading of a changelog block? "v8:", "Changes in v3:",
-- "v2 -> v3:", "Changelog:", "A number of changes since [1]:".
local function changelog_heading(line)
  local l = line:lower():gsub("^%s+", ""):gsub("%s+$", "")
  if #l > 80 then return false end
  if l:match("^v%d+%s*:?$") or l:match("^v%d+%s*[%-=]+>%s*v%d+") or l:match("^%-*%s*v%d+%s*:") then return true end
  if l:sub(-1) ~= ":" then return false end
  return l:match("change") ~= nil or l:match("since v%d") ~= nil
end

-- Words that say nothing on their own: greetings, sign-offs, attribution
-- lines, snip markers, asides in parentheses.
local function is_filler(p)
  local l = p:lower()
  if l:match("^%[%s*%.%.%.%s*%]$") or l:match("^%[snip%]$") or l:match("^<snip>$") then return true end
  if #p < 60 and p:sub(-1) == "," then return true end          -- "Hi Marc,", "On Wed, ... +0000,"
  if p:match("^%(.*%)$") then return true end
  return #p < 40 and (l:match("^hi%f[%A]") or l:match("^hello") or l:match("^hey") or l:match("^dear")
    or l:match("^thanks") or l:match("^thank you") or l:match("^cheers") or l:match("^regards")
    or l:match("^best") or l:match("^%-%-") or l:match("^[%a%.%- ]+,?!?$")) ~= nil
end

-- A paragraph of code, not prose: a diff-like or C-like line.
local function is_code(p)
  return p:match("^%s*[%+%-@{}#]") ~= nil or p:match(";%s*$") ~= nil or p:match("[{}]%s*$") ~= nil
end

-- The opening paragraph worth quoting: the first substantial prose one,
-- else the first prose one at all.
local function lead_paragraph(text)
  local short
  for _, raw in ipairs(paragraphs(text)) do
    local first_line = raw:match("^[^\n]*")
    local p = squash(raw)
    if not changelog_heading(first_line) and not is_filler(p) and not is_code(raw) then
      if #p >= SUBSTANTIAL then return p end
      short = short or p
    end
  end
  return short
end

-- The first n sentences of a paragraph.
local function first_sentences(p, n)
  local out = {}
  for sentence in (p .. " "):gmatch("(.-[%.%?!])%s") do
    out[#out + 1] = sentence
    if #out >= n then break end
  end
  if #out == 0 then return p end
  return table.concat(out, " ")
end

-- The latest changelog block of a cover letter or patch: the items under
-- its first heading, each squashed to one line (continuations joined).
local function changelog(text)
  local items, inside, cur, prev_blank = {}, false, nil, false
  local function flush()
    if cur then items[#items + 1] = squash(cur) end
    cur = nil
  end
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if not inside then
      if changelog_heading(line) then inside = true end
    else
      local bullet = line:match("^%s*[%-%*•]%s+(.*)$")
      local blank = line:match("^%s*$") ~= nil
      if bullet then
        flush()
        if #items >= MAX_CHANGELOG then break end
        cur = bullet
      elseif blank then
        -- blank lines separate items; the block goes on
      elseif cur and line:match("^%s+%S") then
        cur = cur .. " " .. line
      elseif cur and not prev_blank and not changelog_heading(line) then
        cur = cur .. " " .. line   -- an unindented continuation of a wrapped item
      else
        break                      -- prose after the list, the next version's block
      end
      prev_blank = blank
    end
  end
  flush()
  return items
end

local function name_of(from) return ((from or ""):match("^(.-)%s*<") or from or ""):gsub('^"(.*)"$', "%1") end

-- Review trailers given in follow-ups, grouped: "Reviewed-by: Fuad Tabba
-- (1/3, 2/3)", from listdigest.review's attribution (t.review, or computed).
local REVIEW = { "Reviewed-by", "Acked-by", "Tested-by" }

local function trailers_given(t)
  local r = t.review or require("listdigest.review").analyse(t.messages)
  local by_kind = {}
  for _, tr in ipairs(r.trailers) do
    local k = by_kind[tr.kind] or { order = {}, patches = {} }
    by_kind[tr.kind] = k
    if not k.patches[tr.name] then
      k.order[#k.order + 1] = tr.name
      k.patches[tr.name] = {}
    end
    local on = r.trailers and tr.on_n and tr.on_n > 0 and tr.scope == "patch" and tr.on_n
    if on then
      local list = k.patches[tr.name]
      local label = tostring(on)
      if list[#list] ~= label then list[#list + 1] = label end
    end
  end
  local parts = {}
  for _, kind in ipairs(REVIEW) do
    local k = by_kind[kind]
    if k then
      local people = {}
      for _, name in ipairs(k.order) do
        local p = k.patches[name]
        people[#people + 1] = #p > 0 and ("%s (%s %s)"):format(name, #p > 1 and "patches" or "patch",
          table.concat(p, ", ")) or name
      end
      parts[#parts + 1] = kind .. ": " .. table.concat(people, ", ")
    end
  end
  return parts
end

local function questions(msgs)
  local out = {}
  for _, m in ipairs(msgs) do
    for _, raw in ipairs(paragraphs(own_text(m))) do
      if not is_code(raw) then
        for q in (squash(raw) .. " "):gmatch("([^%.%?!]-%?)%s") do
          q = squash(q)
          if #q > 25 and not q:match("[;=]") then
            out[#out + 1] = ("%s: %s"):format(name_of(m.from), clip(q, MAX_REPLY))
            if #out >= MAX_QUESTIONS then return out end
          end
        end
      end
    end
  end
  return out
end

local function by_date(a, b)
  if (a.date or 0) ~= (b.date or 0) then return (a.date or 0) < (b.date or 0) end
  return (a.index or 0) < (b.index or 0)
end

-- The mail a series is best described by: its cover letter (0/N), else its
-- first patch, else its first own mail.
local function series_lead(msgs)
  local first
  for _, m in ipairs(msgs) do
    if not m.subj.reply then
      if m.subj.n == 0 then return m end
      if not first or (m.subj.n or math.huge) < (first.subj.n or math.huge) then first = m end
    end
  end
  return first
end

--[[
extractive(t) -> summary { text=, points={...}, conclusion=, open_questions={...},
                           source = "extractive" }

t: a pipeline thread (t.messages parsed with bodies, t.facts; a message
with in_window == false is context: it may lead, it is never quoted as a
reply). For a series:
the cover letter's (else the first patch's) opening paragraph and its
latest changelog; for a discussion: the question asked (the first mail's
opening) and the first own sentences of each reply. Both list the review
trailers given in follow-ups and who gave them (conclusion), and questions
the repliers asked (open_questions).
]]
function M.extractive(t)
  local msgs = {}
  for _, m in ipairs(t.messages) do msgs[#msgs + 1] = m end
  table.sort(msgs, by_date)
  local lead, points, replies = nil, {}, {}
  local cover = t.facts and t.facts.series and series_lead(msgs)
  if cover then
    local text = own_text(cover)
    lead = lead_paragraph(text)
    for _, item in ipairs(changelog(text)) do points[#points + 1] = item end
    if not lead and cover.subj.n == 0 then
      -- a cover letter that is only a changelog: describe by the first patch
      for _, m in ipairs(msgs) do
        if m.subj.n == 1 and not m.subj.reply then lead = lead_paragraph(own_text(m)) break end
      end
    end
    for _, m in ipairs(msgs) do
      if m.subj.reply then replies[#replies + 1] = m end
    end
  else
    local start = 1
    for i, m in ipairs(msgs) do
      lead = lead_paragraph(own_text(m))
      if lead then start = i break end
    end
    for i = start + 1, #msgs do replies[#replies + 1] = msgs[i] end
  end
  -- the week's activity: replies outside the window are context, not quoted
  local in_window = {}
  for _, m in ipairs(replies) do
    if m.in_window ~= false then in_window[#in_window + 1] = m end
  end
  replies = in_window
  local quoted = 0
  for _, m in ipairs(replies) do
    local p = lead_paragraph(own_text(m))
    if p then
      quoted = quoted + 1
      if quoted > MAX_REPLIES then
        points[#points + 1] = ("(+%d more replies)"):format(#replies - MAX_REPLIES)
        break
      end
      points[#points + 1] = ("%s: %s"):format(name_of(m.from), clip(first_sentences(p, 2), MAX_REPLY))
    end
  end
  local trailers = trailers_given(t)
  return {
    text = lead and clip(lead, MAX_LEAD) or "",
    points = points,
    conclusion = #trailers > 0 and table.concat(trailers, "; ") or nil,
    open_questions = questions(replies),
    source = "extractive",
  }
end

---------------------------------------------------------------------------
-- LLM summaries
---------------------------------------------------------------------------

-- The order mail goes into a prompt: the cover letter first, then by date.
local function prompt_order(t)
  local msgs = {}
  for _, m in ipairs(t.messages) do msgs[#msgs + 1] = m end
  table.sort(msgs, function(a, b)
    local ca, cb = a.subj.n == 0 and not a.subj.reply, b.subj.n == 0 and not b.subj.reply
    if ca ~= cb then return ca end
    return by_date(a, b)
  end)
  return msgs
end

local function str_list(v)
  local out = {}
  if type(v) == "table" then
    for _, x in ipairs(v) do
      if type(x) == "string" and x:match("%S") then out[#out + 1] = x end
    end
  end
  return out
end

-- Whether v is a list of strings (or absent).
local function strings_or_nil(v)
  if v == nil then return true end
  if type(v) ~= "table" then return false end
  for k, x in pairs(v) do
    if math.type(k) ~= "integer" or type(x) ~= "string" then return false end
  end
  return true
end

--[[
from_answer(res) -> summary | nil, reason
The model's answer as a report summary, checked against the schema we ask
for: a JSON object whose "text" is a non-empty string, "points" and
"open_questions" lists of strings and "conclusion" a string (each of those
three may be absent); or, when the answer holds no JSON object (text mode),
its text. reason says what did not fit ("the model's JSON has no text",
"points is not a list of strings").
]]
local function from_answer(res)
  local j = res.json
  if type(j) ~= "table" then
    local text = (res.content or ""):gsub("^%s+", ""):gsub("%s+$", "")
    if text == "" then return nil, "the model returned no text" end
    return { text = text, points = {}, open_questions = {}, source = "llm", model = res.model }
  end
  if type(j.text) ~= "string" or not j.text:match("%S") then return nil, "the model's JSON has no text" end
  for _, k in ipairs({ "points", "open_questions" }) do
    if not strings_or_nil(j[k]) then return nil, ("the model's JSON: %s is not a list of strings"):format(k) end
  end
  if j.conclusion ~= nil and type(j.conclusion) ~= "string" then
    return nil, "the model's JSON: conclusion is not a string"
  end
  return {
    text = j.text, points = str_list(j.points),
    conclusion = type(j.conclusion) == "string" and j.conclusion:match("%S") and j.conclusion or nil,
    open_questions = str_list(j.open_questions), source = "llm", model = res.model,
  }
end
M.from_answer = from_answer

local repair   -- defined below run_jobs

-- The request that tells the model what was wrong with its answer.
local function corrective(job, why)
  local msgs = table.move(job.messages, 1, #job.messages, 1, {})
  msgs[#msgs + 1] = { role = "assistant", content = job.res.content or "" }
  msgs[#msgs + 1] = { role = "user", content = ("That answer does not fit: %s. Answer again with one JSON " ..
    "object and nothing else, with exactly these keys: \"text\" (a string), \"points\" (a list of " ..
    "strings), \"conclusion\" (a string) and \"open_questions\" (a list of strings)."):format(why) }
  return msgs
end

--[[
Runs the requests of jobs (each { messages = }) through the cache and the
client; sets job.res (a client result) or job.error. Cache key: SHA-256 of
the model, the parameters and the rendered messages (which hold the
compacted thread and the filled prompt). Each answer is stored the moment it
arrives (one transaction each), and only when the report can use it
(from_answer), so a run stopped half-way keeps what it paid for and a re-run
asks only for the rest. Returns nil, or on a stop
{ message =, code = exit status } after which no report is written: a
configuration error the server gave (a refused key, an unknown model: at
most --jobs requests are sent), or SIGINT / SIGTERM.
]]
local function run_jobs(jobs, ctx, cost)
  local json = require "listdigest.json"
  local hash = require "listdigest.hash"
  local params = json.encode(ctx.params or {})
  local pending, requests = {}, {}
  for _, job in ipairs(jobs) do
    -- a follow-up (job.fresh: a corrective or text-mode request) is stored
    -- under the key of the thread's first request, never looked up
    job.key = job.key or "llm:" .. hash.sha256(ctx.model or "", params, json.encode(job.messages))
    local hit = not job.fresh and ctx.store and ctx.store:cache_get(job.key)
    local cached = hit and json.decode(hit)
    if type(cached) == "table" and (cached.content or cached.json) then
      if cached.json == json.null then cached.json = nil end
      job.res = cached
      cost.cached = cost.cached + 1
    else
      pending[#pending + 1] = job
      requests[#requests + 1] = { messages = job.messages, schema = not job.text and ctx.schema or nil,
                                  name = "thread_summary", text = job.text or nil }
    end
  end
  if #requests == 0 then return nil end
  local kept, fatal = 0, nil
  local results = ctx.client:complete(requests, function(i, r)
    local job = pending[i]
    if r.error then
      job.error = r.error
      if r.fatal and not fatal then fatal = r end
      return false
    end
    job.res, job.error = r, nil
    local u = r.usage or {}
    cost.prompt_tokens = cost.prompt_tokens + (u.prompt_tokens or 0)
    cost.completion_tokens = cost.completion_tokens + (u.completion_tokens or 0)
    if ctx.store and from_answer(r) then
      ctx.store:cache_put(job.key, json.encode({ content = r.content, json = r.json or json.null,
        model = r.model, format = r.format }), ctx.model)
      kept = kept + 1
    end
    return false
  end)
  if fatal then
    return { code = 1, message = ("the model server refused the request (%s, model %s): %s"):format(
      ctx.url or "?", ctx.model or "?", fatal.error) }
  end
  if results.interrupted then
    return { code = results.interrupted == "SIGINT" and 130 or 143,
             message = ("interrupted (%s): %d of %d answers kept in the store; run again to ask for the rest")
               :format(results.interrupted, kept, #requests) }
  end
  return nil
end

--[[
Answers that came but do not fit (from_answer): one corrective request that
says what was wrong, then, for those still off, the first request again in
text mode (where JSON of another shape again gives its longest string as the
text); what fits is stored under the thread's first key. Sets
cost.text_mode when a thread needed text mode (the caller remembers it for
the server and model). Returns what run_jobs returns.
]]
repair = function(jobs, ctx, cost)
  local function off(list)
    local out = {}
    for _, job in ipairs(list) do
      if job.res and not job.error then
        local ok, why = from_answer(job.res)
        if not ok then out[#out + 1] = { job = job, why = why } end
      end
    end
    return out
  end
  local bad = off(jobs)
  if #bad == 0 then return nil end
  local fixes = {}
  for i, b in ipairs(bad) do
    fixes[i] = { messages = corrective(b.job, b.why), key = b.job.key, fresh = true, parent = b.job }
  end
  local stop = run_jobs(fixes, ctx, cost)
  if stop then return stop end
  local texts = {}
  for _, f in ipairs(fixes) do
    if f.res and from_answer(f.res) then
      f.parent.res, f.parent.error = f.res, nil
    else
      texts[#texts + 1] = { messages = f.parent.messages, key = f.parent.key, fresh = true, text = true,
                            parent = f.parent }
    end
  end
  if #texts == 0 then return nil end
  stop = run_jobs(texts, ctx, cost)
  if stop then return stop end
  local json = require "listdigest.json"
  for _, t in ipairs(texts) do
    local res = t.res
    if res and not from_answer(res) and type(res.json) == "table" then
      -- text was asked and JSON of another shape came again: its longest
      -- string is the text ({"summary": "..."})
      local best = ""
      for _, v in pairs(res.json) do
        if type(v) == "string" and #v > #best then best = v end
      end
      res = best:match("%S") and { content = best, model = res.model, format = "text", usage = res.usage } or nil
      if res and ctx.store then
        ctx.store:cache_put(t.parent.key, json.encode({ content = res.content, json = json.null, model = res.model,
                                                        format = "text" }), ctx.model)
      end
    end
    if res and from_answer(res) then
      t.parent.res, t.parent.error = res, nil
      cost.text_mode = true
    end
  end
  return nil
end

--[[
llm(threads, ctx) -> cost | nil, message, exit_status
Summarises every thread with the model: compacts its mail (listdigest.
compact), fills the rules' prompt for its category, and asks; a thread over
the token budget (the whole request: system prompt, instructions, facts,
glossary and mail) is summarised in parts, then merged, in rounds while the
merged parts do not fit one request (map-reduce). Sets
t.summary to { text, points, conclusion, open_questions, source = "llm",
model } or { source = "failed", error = } and t.prompt_tokens = {raw=,
compacted=}.
ctx = { rules =, lang =, client = llm client, url =, model =, params = {...},
        store = a store for the cache, or nil, budget = tokens or nil }
nil, message, status: the run stopped (run_jobs): a configuration error
(status 1) or a signal (130, 143); what was answered is in the store.
cost = { requests =, prompt_tokens =, completion_tokens =, cached =, failed =,
         model = } (requests: what the client sent, retries included).
]]
-- Tokens a request is estimated to take (listdigest.compact's estimate).
local function request_tokens(messages)
  local compact = require "listdigest.compact"
  local n = 0
  for _, m in ipairs(messages) do n = n + compact.tokens(m.content) + 4 end
  return n
end

-- Room a request must leave for mail at least: a budget that leaves less
-- after the fixed part of a request is refused.
M.MIN_MAIL = 1000

-- Groups partials (strings) into runs whose merge request fits budget, two
-- at least per run so that every round merges something.
local function merge_groups(partials, fits)
  local groups, cur = {}, {}
  for _, p in ipairs(partials) do
    cur[#cur + 1] = p
    if #cur > 2 and not fits(cur) then
      table.remove(cur)
      groups[#groups + 1] = cur
      cur = { p }
    end
  end
  if #cur == 1 and #groups > 0 then
    table.insert(groups[#groups], cur[1])
  elseif #cur > 0 then
    groups[#groups + 1] = cur
  end
  return groups
end

function M.llm(threads, ctx)
  local compact = require "listdigest.compact"
  local prompts = require "listdigest.prompts"
  ctx.schema = prompts.SCHEMA
  local budget = ctx.budget or M.BUDGET
  local cost = { requests = 0, prompt_tokens = 0, completion_tokens = 0, cached = 0, failed = 0, model = ctx.model }
  local before = ctx.client:stats().requests
  local first = {}
  for _, t in ipairs(threads) do
    -- the budget is the whole request: the system prompt, the instructions,
    -- the facts and the glossary (all of it, an upper bound) take theirs first
    local fixed = request_tokens(prompts.thread(ctx.rules, t, {}, ctx.lang, 99, 99))
    if budget - fixed < M.MIN_MAIL then
      return nil, ("the token budget (LISTDIGEST_LLM_BUDGET=%d) leaves no room for mail: the fixed part of a " ..
        "request takes %d tokens, and at least %d are needed for the thread"):format(budget, fixed, M.MIN_MAIL), 1
    end
    local ordered = prompt_order(t)
    local input = {}
    for i, m in ipairs(ordered) do
      input[i] = { id = m.message_id, from = m.from, subject = m.subject,
                   date = m.date and os.date("!%Y-%m-%d %H:%M UTC", m.date) or "",
                   cover = m.subj.n == 0 and not m.subj.reply, segments = m.segments or {} }
    end
    -- header_tokens: what M.mail_block's From/Date/Subject lines cost per message
    local out = compact.thread(input, { budget = budget - fixed, header_tokens = 64 })
    t.prompt_tokens = { raw = out.raw_tokens, compacted = out.tokens }
    local blocks = {}
    for i, cm in ipairs(out.messages) do blocks[i] = prompts.mail_block(i, ordered[i], cm.text) end
    t.llm_jobs = {}
    local chunks = out.chunks
    if #chunks <= 1 then
      t.llm_jobs[1] = { messages = prompts.thread(ctx.rules, t, blocks, ctx.lang) }
    else
      for p, c in ipairs(chunks) do
        t.llm_jobs[p] = { messages = prompts.thread(ctx.rules, t, table.move(blocks, c.first, c.last, 1, {}),
                                                     ctx.lang, p, #chunks) }
      end
      t.glossary_text = table.concat(blocks, "\n")
    end
    for _, job in ipairs(t.llm_jobs) do first[#first + 1] = job end
  end
  local stop = run_jobs(first, ctx, cost)
  if stop then return nil, stop.message, stop.code end
  stop = repair(first, ctx, cost)
  if stop then return nil, stop.message, stop.code end
  -- reduce: the parts of each split thread merged, in rounds while the
  -- merged parts do not fit one request (map-reduce recurses)
  for _, t in ipairs(threads) do
    if #t.llm_jobs > 1 then
      t.partials = {}
      for _, job in ipairs(t.llm_jobs) do
        if job.error then t.merge_error = job.error break end
        t.partials[#t.partials + 1] = job.res.content
      end
      if t.merge_error then t.partials = nil end
    end
  end
  while true do
    local round = {}
    for _, t in ipairs(threads) do
      if t.partials then
        local function merge(list) return prompts.merge(ctx.rules, t, list, ctx.lang, t.glossary_text) end
        local function fits(list) return request_tokens(merge(list)) <= budget end
        local groups = fits(t.partials) and { t.partials } or merge_groups(t.partials, fits)
        t.round = {}
        for i, g in ipairs(groups) do
          t.round[i] = { messages = merge(g) }
          round[#round + 1] = t.round[i]
        end
      end
    end
    if #round == 0 then break end
    stop = run_jobs(round, ctx, cost)
    if stop then return nil, stop.message, stop.code end
    stop = repair(round, ctx, cost)
    if stop then return nil, stop.message, stop.code end
    for _, t in ipairs(threads) do
      if t.round then
        local merged = {}
        for _, job in ipairs(t.round) do
          if job.error then t.merge_error = job.error break end
          merged[#merged + 1] = job.res.content
        end
        if t.merge_error then
          t.partials = nil
        elseif #t.round == 1 then
          t.merge_job, t.partials = t.round[1], nil
        else
          t.partials = merged
        end
        t.round = nil
      end
    end
  end
  for _, t in ipairs(threads) do
    local job = t.merge_job or t.llm_jobs[1]
    local err = t.merge_error or job.error
    local summary
    if not err then summary, err = from_answer(job.res) end
    if summary then
      t.summary = summary
    else
      -- the failure is stated; the extract from the mail still helps the reader
      t.summary = M.extractive(t)
      t.summary.source, t.summary.error = "failed", err
      cost.failed = cost.failed + 1
    end
    t.llm_jobs, t.merge_job, t.merge_error, t.glossary_text = nil, nil, nil, nil
  end
  cost.requests = ctx.client:stats().requests - before
  return cost
end

return M
