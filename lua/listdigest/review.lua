-- Review facts of one report entry (a conversation or a merged series):
-- trailers given in follow-ups (Reviewed-by, Acked-by, ...) attributed to the
-- patch or cover they answer, "applied" replies from maintainers, and one
-- review state. Pure Lua over parsed messages (listdigest.pipeline's tables);
-- it does not group series or know about other entries: the pipeline says
-- which newer version supersedes the entry (opts.superseded_by).
local outcome = require "listdigest.outcome"

local M = {}

-- Trailer kinds we collect from follow-ups, by lower-case key.
local KINDS = {
  ["reviewed-by"] = "Reviewed-by", ["acked-by"] = "Acked-by", ["tested-by"] = "Tested-by",
  ["reported-by"] = "Reported-by", ["suggested-by"] = "Suggested-by",
}
local COUNT_KEY = {
  ["Reviewed-by"] = "reviewed_by", ["Acked-by"] = "acked_by", ["Tested-by"] = "tested_by",
  ["Reported-by"] = "reported_by", ["Suggested-by"] = "suggested_by",
}

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end
local function lower(s) return s and s:lower() or nil end

--[[
trailer_lines(text) -> { {kind=, who=, name=, addr=}, ... }

The review trailers on lines of text of the form "Kind: Name <addr>" (the
kind in any case, written back canonically: "Reviewed-By" -> "Reviewed-by"),
optionally followed by a "# comment", or "Kind: addr" with a bare address
(name = the address). Lines starting with ">" (quotes) never count; other
trailers (Signed-off-by, Cc, Fixes, Link) are not returned.
]]
function M.trailer_lines(text)
  local out = {}
  for line in (text or ""):gmatch("[^\n]+") do
    local key, value = line:match("^%s*([%a-]+)%s*:%s*(.-)%s*$")
    local kind = key and KINDS[key:lower()]
    if kind and value ~= "" then
      value = trim((value:gsub("%s+#.*$", "")))
      local name, addr = value:match("^(.-)%s*<([^<>%s]+@[^<>%s]+)>$")
      if not name then
        addr = value:match("^([^<>%s]+@[^<>%s]+)$")
        name = addr
      end
      if addr then
        name = trim(name):gsub('^"(.*)"$', "%1")
        if name == "" then name = addr end
        local who = (name == addr) and addr or (name .. " <" .. addr .. ">")
        out[#out + 1] = { kind = kind, who = who, name = name, addr = addr }
      end
    end
  end
  return out
end

-- A message's own lines: its "text" and "trailer" segments (never quotes,
-- diffs, signatures or list footers). Without segments (bodies not
-- segmented), its text up to the signature with ">" lines dropped.
local function own_text(msg)
  if msg.segments then
    local parts = {}
    for _, seg in ipairs(msg.segments) do
      if seg.kind == "text" or seg.kind == "trailer" then parts[#parts + 1] = seg.text end
    end
    return table.concat(parts, "\n")
  end
  local parts = {}
  for line in (msg.text or ""):gmatch("[^\n]*") do
    if line == "-- " then break end
    if not line:match("^%s*>") then parts[#parts + 1] = line end
  end
  return table.concat(parts, "\n")
end

local function own_lines(msg)
  local lines = {}
  for line in own_text(msg):gmatch("[^\n]+") do lines[#lines + 1] = line end
  return lines
end

local function squash(s) return trim((s or ""):gsub("%s+", " ")):lower() end

-- b4's rule for accepting a follow-up trailer as given by the sender: the
-- address matches, or the name matches (case-insensitive), or the sender's
-- name has the "Last, First" form and every part of it is in the trailer's
-- name. Anything else ("Reviewed-by: Other Person <x>" sent by someone
-- else, a forwarded patch's trailers) is a mismatch and is not counted.
local function sender_matches(tr, msg)
  if lower(tr.addr) == lower(msg.from_addr) then return true end
  local tname, fname = squash(tr.name), squash(msg.from_name)
  if fname == "" then return false end
  if tname == fname then return true end
  if fname:find(",", 1, true) then
    for chunk in fname:gmatch("[^,]+") do
      if not tname:find(trim(chunk), 1, true) then return false end
    end
    return true
  end
  return false
end

---------------------------------------------------------------------------
-- Changes requested
---------------------------------------------------------------------------

local CHANGE_VERBS = "fix change drop rework update split rename move remove add use address resend respin " ..
  "repost rebase squash fold document avoid keep make reword"
local CHANGE_VERB = {}
for v in CHANGE_VERBS:gmatch("%S+") do CHANGE_VERB[v] = true end

-- Whether an own line of a reviewer asks for changes (a deterministic,
-- deliberately narrow list; see the file's specs):
--   NAK / NACK / Nacked-by:
--   "Please <verb> ..." and "Can/Could/Would you (please) <verb> ..." with a change verb
--   "this needs ...", "needs to be fixed/changed/reworked/..."
--   "should be fixed/changed/dropped/split/moved/renamed/removed"
local function change_request(l)
  local low = trim(l):lower()
  if low:match("^nak%f[%A]") or low:match("^nack%f[%A]") or low:match("^nacked%-by:") then return true end
  -- "Please fix me up if I've mis-read things" asks for a correction of the reviewer
  local v, obj = low:match("^please,?%s+(%a+)%s*(%a*)")
  if v and CHANGE_VERB[v] and obj ~= "me" then return true end
  v = low:match("^%a+ you,?%s+please%s+(%a+)") or low:match("^can you%s+(%a+)") or low:match("^could you%s+(%a+)")
    or low:match("^would you%s+(%a+)")
  if v and CHANGE_VERB[v] and (low:match("^can ") or low:match("^could ") or low:match("^would ")) then return true end
  if low:match("^this needs%f[%A]") or low:match("^that needs%f[%A]") then return true end
  local w = low:match("^%a+ needs? to be (%a+)") or low:match("^%a+ should be (%a+)")
  if w and (w == "fixed" or w == "changed" or w == "reworked" or w == "dropped" or w == "updated" or w == "split"
      or w == "moved" or w == "renamed" or w == "removed") then
    return true
  end
  return false
end

---------------------------------------------------------------------------
-- Structure: patch mails, parents, authors
---------------------------------------------------------------------------

local function is_patchlike(m)
  local s = m.subj or {}
  return not s.reply and ((s.n ~= nil) or (s.tags and s.tags.PATCH) == true)
end

-- The parent of m inside the entry: parent_id, else In-Reply-To, else the
-- nearest References entry present.
local function parent_of(m, by_id)
  if m.parent_id and by_id[m.parent_id] then return by_id[m.parent_id] end
  if m.in_reply_to and by_id[m.in_reply_to] then return by_id[m.in_reply_to] end
  local refs = m.references or {}
  for i = #refs, 1, -1 do
    if by_id[refs[i]] and refs[i] ~= m.message_id then return by_id[refs[i]] end
  end
end

local function ancestors(m, by_id)
  local out, seen = {}, { [m] = true }
  local p = parent_of(m, by_id)
  while p and not seen[p] do
    seen[p] = true
    out[#out + 1] = p
    p = parent_of(p, by_id)
  end
  return out
end

-- Marks patch mails (role = "patch" or "cover") and follow-ups (role =
-- "reply"). A mail with a PATCH subject but the same subject as the patch it
-- answers is a follow-up whose "Re:" was lost (b4's "nore" sample); a
-- non-reply, non-patch mail that a patch mail by the same sender answers
-- directly is a cover letter without a "0/N" (b4's "naked cover").
local function roles(messages, by_id)
  local role = {}
  for _, m in ipairs(messages) do
    if is_patchlike(m) then
      role[m] = (m.subj.n == 0) and "cover" or "patch"
      for _, a in ipairs(ancestors(m, by_id)) do
        if is_patchlike(a) then
          if squash(a.subject) == squash(m.subject) and lower(a.from_addr) ~= lower(m.from_addr) then
            role[m] = "reply"
          end
          break
        end
      end
    else
      role[m] = "reply"
    end
  end
  for _, m in ipairs(messages) do
    if role[m] == "patch" then
      local p = parent_of(m, by_id)
      if p and role[p] == "reply" and not (p.subj or {}).reply and not parent_of(p, by_id)
          and lower(p.from_addr) == lower(m.from_addr) then
        role[p] = "cover"
      end
    end
  end
  -- No patch mail at all (a discussion, a pull request): the conversation's
  -- opener (its first non-reply mail without a parent) stands for the cover.
  local any = false
  for _, m in ipairs(messages) do
    if role[m] ~= "reply" then any = true break end
  end
  if not any then
    for _, m in ipairs(messages) do
      if not (m.subj or {}).reply and not parent_of(m, by_id) then
        role[m] = "cover"
        break
      end
    end
  end
  return role
end

-- Senders that are robots, not reviewers (patterns on the address): their
-- replies do not make a series "under review".
M.BOTS = { "^lkp@intel%.com$", "^syzbot", "bot[+@]", "^noreply@", "^no%-reply@", "^patchwork%-bot",
           "^pr%-tracker%-bot@", "^kernelci", "^bot@" }

function M.is_bot(addr)
  addr = (addr or ""):lower()
  for _, p in ipairs(M.BOTS) do
    if addr:find(p) then return true end
  end
  return false
end

local function same_person(a, b)
  if not a or not b then return false end
  if lower(a.from_addr) and lower(a.from_addr) == lower(b.from_addr) then return true end
  local na, nb = squash(a.from_name), squash(b.from_name)
  return na ~= "" and na == nb
end

local function by_date(list)
  local idx = {}
  for i, x in ipairs(list) do idx[x] = i end
  table.sort(list, function(a, b)
    local da, db = a.date or math.huge, b.date or math.huge
    if da ~= db then return da < db end
    return idx[a] < idx[b]
  end)
  return list
end

local function quote(s)
  s = trim(s)
  if #s > 80 then s = s:sub(1, 77) .. "..." end
  return '"' .. s .. '"'
end

-- Every state an entry can be in, most decisive first.
M.STATES = { "applied", "pulled", "not yet pulled", "unknown", "superseded", "changes requested", "acked",
             "reviewed", "under review", "new" }

--[[
analyse(messages, opts) -> r

messages: every parsed message of one report entry (pipeline tables with
segments, parent_id, subj). opts (optional): applied_patterns = { Lua
pattern, ... } matched against each own sentence of a follow-up after
listdigest.outcome's built-in forms (a capture, when the pattern has one,
is where it was applied; an invalid pattern raises), pull = the entry is
a pull request (every report in a reply is then "pulled"), superseded_by =
{version=, id=, date=} (series.supersede's newer version posted before the
window's end), doubt = why the state cannot be told (versions whose dates
contradict them).

r = {
  trailers = { {kind=, who=, name=, addr=, by_id=, by=, on_id=, on_n=, on_version=, scope="patch"|"series", date=}, ... },
  mismatched = the trailer lines of follow-ups that name someone else than the sender (not counted),
  counts = { reviewed_by=, acked_by=, tested_by=, reported_by=, suggested_by= },
  reviewed_by = { who, ... }, acked_by =, tested_by =, reported_by =, suggested_by = (unique by address, first spelling),
  applied = nil | { by=, id=, where=, commits={...}, text=, date=, on_id=, on_n= },
  pulled = nil | { by=, id=, text=, where=, date= }   ("Pulled, thanks." on a pull request: not applied),
  superseded_by = nil | { version=, message_id=, date= }   (opts.superseded_by),
  change_requests = { {by=, id=, text=, on_id=, resolved=bool}, ... },
  state = one of M.STATES, decided in that order of precedence by the first
          that holds: "applied" (a reply reports it taken), for a pull
          request "pulled" / "not yet pulled", "unknown" (opts.doubt: the
          mail contradicts itself), "superseded", "changes
          requested" (a request its author has not answered with a
          trailer), "acked", "reviewed", "under review" (a reply from
          someone else than the author or a robot, M.BOTS), "new",
  state_why = the evidence: who, which mail, what they wrote,
}
]]
function M.analyse(messages, opts)
  opts = opts or {}
  assert(type(messages) == "table", "review.analyse: messages must be a list")
  for i, pat in ipairs(opts.applied_patterns or {}) do
    local ok, err = pcall(string.find, "", pat)
    if not ok then error(("review.analyse: applied_patterns[%d] %q: %s"):format(i, pat, err), 2) end
  end
  local by_id = {}
  for _, m in ipairs(messages) do
    if m.message_id then by_id[m.message_id] = m end
  end
  local role = roles(messages, by_id)

  -- the patch mail or cover a follow-up answers; authors
  local function anchor(m)
    for _, a in ipairs(ancestors(m, by_id)) do
      if role[a] == "patch" or role[a] == "cover" then return a end
    end
  end
  local authors = {}
  for _, m in ipairs(messages) do
    if role[m] ~= "reply" then authors[#authors + 1] = m end
  end
  local function by_author(m, on)
    if on then return same_person(m, on) end
    for _, a in ipairs(authors) do
      if same_person(m, a) then return true end
    end
    return false
  end

  local r = {
    trailers = {}, mismatched = {}, change_requests = {},
    counts = { reviewed_by = 0, acked_by = 0, tested_by = 0, reported_by = 0, suggested_by = 0 },
    reviewed_by = {}, acked_by = {}, tested_by = {}, reported_by = {}, suggested_by = {},
  }
  local seen_tr, seen_who = {}, {}
  local applied_hits, pulled, others = {}, nil, nil

  for _, m in ipairs(messages) do
    if role[m] == "reply" then
      local on = anchor(m)
      local own = by_author(m, on)
      if not own and not others and not M.is_bot(m.from_addr) then others = m end
      local lines = own_lines(m)
      if not own then
        for _, tr in ipairs(M.trailer_lines(table.concat(lines, "\n"))) do
          tr.by_id, tr.by, tr.date = m.message_id, m.from, m.date
          if on then
            tr.on_id, tr.on_n, tr.on_version = on.message_id, on.subj.n, on.subj.version
            tr.scope = role[on] == "cover" and "series" or "patch"
            if role[on] == "cover" then tr.on_n = 0 end
          else
            -- the patch answered is not in the entry: its id and number
            -- from the reply's own In-Reply-To and subject
            local sn = m.subj and m.subj.n
            tr.on_id, tr.on_n, tr.on_version = m.in_reply_to or m.parent_id, sn, m.subj and m.subj.version
            tr.scope = (sn == 0 or (sn == nil and not (m.subj and m.subj.tags and m.subj.tags.PATCH)))
              and "series" or "patch"
          end
          if not sender_matches(tr, m) then
            r.mismatched[#r.mismatched + 1] = tr
          else
            local key = table.concat({ tr.kind, lower(tr.addr), tr.on_id or "" }, "\0")
            if not seen_tr[key] then
              seen_tr[key] = true
              r.trailers[#r.trailers + 1] = tr
              local ck = COUNT_KEY[tr.kind]
              r.counts[ck] = r.counts[ck] + 1
              local wk = ck .. "\0" .. lower(tr.addr)
              if not seen_who[wk] then
                seen_who[wk] = true
                r[ck][#r[ck] + 1] = tr.who
              end
            end
          end
        end
      end
      -- what the reply says happened (listdigest.outcome): an author may
      -- apply their own series, never push or pick it
      local hit = outcome.scan(m, { by_author = own, pull = opts.pull, patterns = opts.applied_patterns })
      -- on a pull request, a verdict on a patch posted inside its thread is
      -- not one on the pull
      if hit and opts.pull and on and is_patchlike(on) then hit = nil end
      -- Greg's stable bot: 'Patch "X" has been added to the 4.14-stable tree'
      local tree = (m.subject or ""):match('^[Pp]atch ".*" has been added to the (%S+) tree$')
      if tree then
        hit = { kind = "applied", where = tree, text = m.subject, commits = hit and hit.commits or {} }
      end
      if hit and hit.kind == "pulled" then
        pulled = pulled or { by = m.from, id = m.message_id, text = hit.text, where = hit.where, date = m.date }
      elseif hit then
        -- patchwork-bot names the applier: "... applied to X by Name <addr>:"
        applied_hits[#applied_hits + 1] = {
          by = hit.form == "bot" and hit.text:match("%sby%s+(.-%S)%s*:?%s*$") or m.from, id = m.message_id,
          where = hit.where, text = hit.text, date = m.date, commits = hit.commits,
          on_id = on and on.message_id, on_n = on and on.subj.n,
        }
      end

      if not own then
        -- change requests
        for _, raw in ipairs(lines) do
          if change_request(raw) then
            r.change_requests[#r.change_requests + 1] = {
              by = m.from, addr = m.from_addr, id = m.message_id, text = trim(raw), date = m.date,
              on_id = on and on.message_id,
            }
            break
          end
        end
      end
    end
  end

  by_date(applied_hits)
  if applied_hits[1] then
    r.applied = applied_hits[1]
  end
  r.pulled = pulled

  -- a request is resolved when its author later (or in the same mail)
  -- gives a trailer on the same patch or on the whole series
  for _, cr in ipairs(r.change_requests) do
    cr.resolved = false
    for _, tr in ipairs(r.trailers) do
      if lower(tr.addr) == lower(cr.addr) or tr.by_id == cr.id then
        if (tr.date or 0) >= (cr.date or 0) and (tr.on_id == cr.on_id or tr.scope == "series") then
          cr.resolved = true
        end
      end
    end
  end

  local open
  for _, cr in ipairs(r.change_requests) do
    if not cr.resolved then open = cr break end
  end
  if r.applied and not opts.pull then
    r.state = "applied"
    r.state_why = ("%s in <%s>: %s"):format(r.applied.by, r.applied.id, quote(r.applied.text))
  elseif opts.pull then
    if r.pulled then
      r.state = "pulled"
      r.state_why = ("%s in <%s>: %s"):format(r.pulled.by, r.pulled.id, quote(r.pulled.text))
    else
      r.state = "not yet pulled"
      r.state_why = "no reply says it was pulled"
    end
  elseif opts.doubt then
    r.state = "unknown"
    r.state_why = opts.doubt
  elseif opts.superseded_by then
    local n = opts.superseded_by
    r.superseded_by = { version = n.version, message_id = n.id, date = n.date }
    r.state = "superseded"
    r.state_why = ("superseded by v%d <%s> of %s"):format(n.version, n.id,
      n.date and os.date("!%Y-%m-%d", n.date) or "unknown date")
  elseif open then
    r.state = "changes requested"
    r.state_why = ("%s in <%s>: %s"):format(open.by, open.id, quote(open.text))
  elseif r.counts.acked_by > 0 then
    r.state = "acked"
    r.state_why = ("Acked-by from %s"):format(table.concat(r.acked_by, ", "))
  elseif r.counts.reviewed_by > 0 then
    r.state = "reviewed"
    r.state_why = ("Reviewed-by from %s"):format(table.concat(r.reviewed_by, ", "))
  elseif others then
    r.state = "under review"
    r.state_why = ("reply from %s in <%s>"):format(others.from or "?", others.message_id or "?")
  else
    r.state = "new"
    r.state_why = "no reply from anyone but the author"
  end
  return r
end

--[[
for_patch(r, id) -> { "Kind: Name <addr>", ... }

The follow-up trailers that apply to the patch mail with Message-ID id, as
b4 would add them: those given in replies to that patch, then those given
in replies to the cover letter (scope "series" applies to every patch).
]]
function M.for_patch(r, id)
  local out = {}
  for _, tr in ipairs(r.trailers) do
    if tr.scope == "patch" and tr.on_id == id then out[#out + 1] = tr.kind .. ": " .. tr.who end
  end
  for _, tr in ipairs(r.trailers) do
    if tr.scope == "series" then out[#out + 1] = tr.kind .. ": " .. tr.who end
  end
  return out
end

return M
