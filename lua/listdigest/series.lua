-- Patch series on top of the JWZ conversations: which conversations make one
-- report entry (a series sent unthreaded, one fix backported to several
-- stable branches), what each series is (version, n/N, cover, partial
-- re-rolls), which earlier version it follows, and what a GIT PULL asks for.
-- It never splits a conversation and never reads the network or the store:
-- the pipeline passes a lookup for versions outside the week.
local outcome = require "listdigest.outcome"

local M = {}

-- Rule names, as `listdigest threads` prints them.
M.RULES = {
  jwz = "jwz",                       -- one JWZ conversation, as threaded
  unthreaded = "unthreaded-series",  -- patches of one series sent without In-Reply-To
  backports = "backports",           -- one fix sent to several stable branches
}

-- Unthreaded patches of one series belong together when sent this close to
-- the first of them (git send-email without --thread, or a slow SMTP relay).
M.UNTHREADED_WINDOW = 20 * 60

---------------------------------------------------------------------------
-- Small helpers over parsed messages
---------------------------------------------------------------------------

local function addr(m) return (m.from_addr or ""):lower() end

local function earlier(a, b)
  local da, db = a.date or math.huge, b.date or math.huge
  if da ~= db then return da < db end
  return (a.index or 0) < (b.index or 0)
end

-- A mail that posts a patch or a cover letter (not a reply, not a pull);
-- "[STABLE 5.15.y] x" posts a backport without saying PATCH.
local function patchish(m)
  local s = m.subj
  if not s or s.reply or s.tags["GIT PULL"] then return false end
  return s.tags.PATCH == true or s.n ~= nil or (s.stable ~= nil and #s.stable > 0)
end

-- The message's own lines: no quotes, diffs or footers. Uses the body
-- segments when parsed, else the plain text, else nothing.
local OWN = { text = true, trailer = true }
local function own_text(m, kinds)
  kinds = kinds or OWN
  if m.segments then
    local out = {}
    for _, seg in ipairs(m.segments) do
      if kinds[seg.kind] then out[#out + 1] = seg.text end
    end
    return table.concat(out, "\n")
  end
  return m.text or ""
end

local function version_less(a, b)
  local a1, a2 = a:match("^(%d+)%.(%d+)")
  local b1, b2 = b:match("^(%d+)%.(%d+)")
  a1, a2, b1, b2 = tonumber(a1) or 0, tonumber(a2) or 0, tonumber(b1) or 0, tonumber(b2) or 0
  if a1 ~= b1 then return a1 < b1 end
  return a2 < b2
end

local function add_unique(list, seen, v)
  if v and not seen[v] then
    seen[v] = true
    list[#list + 1] = v
  end
end

local function utc_day(t)
  return t and os.date("!%Y-%m-%d", t) or "?"
end

---------------------------------------------------------------------------
-- One conversation (or a merge of several): its lead mail and its series
---------------------------------------------------------------------------

-- The mail a conversation is known by: its root; when the root is missing,
-- the earliest top-level patch mail (its parent is the absent cover), else
-- the earliest mail.
local function lead_of(t)
  if t.root and not t.root_missing then return t.root end
  local present, best = {}, nil
  for _, m in ipairs(t.messages) do present[m.message_id] = true end
  for _, m in ipairs(t.messages) do
    if patchish(m) and not present[m.parent_id or ""] and (not best or earlier(m, best)) then best = m end
  end
  if best then return best end
  for _, m in ipairs(t.messages) do
    if not best or earlier(m, best) then best = m end
  end
  return best
end

-- The mail whose subject states the series: the lead when it is a patch or a
-- cover; a subject-less "naked" cover (b4: a root by the author whose first
-- child is a [PATCH]) lends its id to the series of that patch; a
-- conversation rooted in a reply to a patch keeps that patch's numbers. A
-- patch posted inside a discussion does not make the discussion a series.
local function series_base(t, lead)
  if patchish(lead) then return lead, lead.subj.n == 0 and lead or nil end
  if lead.subj.reply then
    if lead.subj.tags.PATCH or lead.subj.n then return lead, nil end
    return nil
  end
  for _, m in ipairs(t.messages) do
    if m ~= lead and patchish(m) and m.parent_id == lead.message_id and addr(m) == addr(lead) then
      return m, lead
    end
  end
  return nil
end

-- Builds one version's series from the messages (tree order: parents
-- first), given the base mail and the cover (either may be nil / the same
-- mail). strict: a mail without a version is v1 (the lead is a re-roll
-- posted into the v1 conversation), not the lead's version.
local function build_version(messages, base, cover, strict)
  local s = base.subj
  local V = s.version or 1
  local total = s.total or 1
  local info = {
    version = V, total = total, cover = cover and cover.message_id or nil,
    patches = {}, present = 0, rerolls = {},
    -- a conversation known only by replies to an absent patch: its sender
    -- is not the replier
    author = not s.reply and (base.from or base.from_addr) or nil,
    author_addr = not s.reply and addr(base) or nil,
    title = (cover and cover ~= base and cover.subj.normalized) or s.normalized,
    resend = (s.tags.RESEND or s.tags.REPOST) == true,
    rfc = (s.tags.RFC or s.tags.RFT) == true,
    date = (cover or base).date,
    base_id = base.message_id,
    versions = { V },
  }
  if s.n and s.n >= 1 and total > 1 and not cover then
    -- a series without a cover is known by its subject, not by patch n's title
    info.title = s.normalized
  end
  for _, p in ipairs(s.prefixes or {}) do
    if not p:match("^[%d.]+$") then info.project = p break end
  end
  local seen_version = { [V] = true }
  info.inside = {}
  -- titles of this version's mails: a later version of one of them is a re-roll
  local titles = { [info.title] = true }
  for _, m in ipairs(messages) do
    if patchish(m) and (m.subj.version or V) == V then titles[m.subj.normalized] = true end
  end
  for _, m in ipairs(messages) do
    if patchish(m) then
      local ms = m.subj
      local n = ms.n or (ms.total == nil and 1 or nil)
      -- an unversioned mail of the same N belongs to the cover's version
      -- ("[PATCH net-next v3 0/4]" then "[PATCH 1/4]"); of another N, it is v1
      local v = ms.version or ((not strict and (ms.total or 1) == total) and V or 1)
      if n and v == V then
        if n >= 1 and not info.patches[n] then
          -- an extra "3/2" belongs to the series but is not one of its N
          info.patches[n] = m.message_id
          if n <= total then info.present = info.present + 1 end
        elseif n == 0 and not info.cover then
          info.cover = m.message_id
        end
      elseif n and v > V and ((ms.total or 1) == total or titles[ms.normalized]) then
        info.rerolls[#info.rerolls + 1] = { n = n, version = v, id = m.message_id }
        if not seen_version[v] then
          seen_version[v] = true
          info.versions[#info.versions + 1] = v
        end
      elseif n and v < V and ((ms.total or 1) == total or (ms.version and titles[ms.normalized])) then
        -- an older version of this one: history (see build_series)
        info.older = info.older or {}
        info.older[#info.older + 1] = m
      elseif m ~= base and m ~= cover then
        -- another series posted inside the conversation ("[PATCH 0/2] Fixes
        -- for FWB" sent as a reply into a v5 series): listed, not counted
        info.inside[#info.inside + 1] = { n = n, version = v, total = ms.total, id = m.message_id,
                                          title = ms.title }
      end
    end
  end
  table.sort(info.versions)
  info.complete = true
  for n = 1, total do
    if not info.patches[n] then info.complete = false break end
  end
  info.patch_titles = {}
  for _, m in ipairs(messages) do
    if patchish(m) and (m.subj.n or 1) >= 1 and (m.subj.version or V) == V then
      info.patch_titles[#info.patch_titles + 1] = m.subj.normalized
    end
  end
  return info
end

-- Builds group.series: the newest version posted in the conversation
-- leads (a v2 sent as a reply into the v1 thread gives the entry its
-- title, version, b4 id and state), the older ones are its history:
-- { {version=, id= (cover, else first patch), date=, present=, total=}, ... }
-- oldest first.
local function build_series(messages, base, cover)
  local info = build_version(messages, base, cover)
  local newest
  for _, r in ipairs(info.rerolls) do
    if not newest or r.version > newest.version or (r.version == newest.version and r.n < newest.n) then
      newest = r
    end
  end
  local lead = info
  if newest then
    local nb
    for _, m in ipairs(messages) do
      if m.message_id == newest.id then nb = m break end
    end
    local newer = build_version(messages, nb, nb.subj.n == 0 and nb or nil, true)
    -- a partial re-roll ("[PATCH v3 2/2]" into the v2 thread) leaves v2 in
    -- the lead, as b4 does; a whole new posting takes it
    if newer.cover or newer.total == 1 or newer.complete then lead = newer end
  end
  local seen = {}
  local function add(i)
    if not seen[i.version] then
      seen[i.version] = true
      lead.history = lead.history or {}
      lead.history[#lead.history + 1] = { version = i.version, id = i.cover or i.patches[1] or i.base_id,
                                          date = i.date, present = i.present, total = i.total }
    end
  end
  if lead ~= info then
    add(info)
    lead.versions = info.versions
    lead.author, lead.author_addr = info.author or lead.author, info.author_addr or lead.author_addr
  end
  for _, m in ipairs(lead.older or {}) do
    local v = m.subj.version or 1
    if v < lead.version then
      add({ version = v, cover = m.subj.n == 0 and m.message_id or nil, base_id = m.message_id, date = m.date,
            patches = {}, total = m.subj.total or 1 })
    end
  end
  if not lead.history then return lead end
  table.sort(lead.history, function(a, b) return a.version < b.version end)
  -- an older version posted after the newest one (v2 sent as a reply into
  -- v3): the versions contradict their dates, and nothing is guessed
  for _, h in ipairs(lead.history) do
    if h.date and lead.date and h.date > lead.date then
      lead.defects = lead.defects or {}
      lead.defects[#lead.defects + 1] = ("v%d was posted after v%d in the same conversation"):format(
        h.version, lead.version)
    end
  end
  -- mails of the older versions are history, not another series inside
  -- the conversation
  local kept = {}
  for _, x in ipairs(lead.inside) do
    if not seen[x.version or 1] then kept[#kept + 1] = x end
  end
  lead.inside = kept
  return lead
end

---------------------------------------------------------------------------
-- Backports: the upstream commit a stable backport names, and its branches
---------------------------------------------------------------------------

-- "Commit <sha> upstream.", "[ Upstream commit <sha> ]", "upstream commit <sha>".
local function upstream_commit(m)
  local text = own_text(m)
  for line in text:gmatch("[^\n]+") do
    local sha = line:match("^%s*[Cc]ommit (%x+) upstream")
      or line:match("^%s*%[%s*[Uu]pstream commit (%x+)%s*%]")
      or line:match("^%s*[Uu]pstream commit (%x+)")
    if sha and #sha >= 12 then return sha:lower() end
  end
  return nil
end

-- Branches a backport mail targets: the subject's stable branches
-- ("[PATCH][stable-4.{4,9}]", "[PATCH 6.1.y]"); for a mail that names its
-- upstream commit, a bare "5.10" in the subject (the stable review series
-- "[PATCH 5.10 289/290]"), else the "Cc: stable@vger.kernel.org # 5.10.y only"
-- comment.
local function backport_branches(m, sha)
  local s = m.subj
  if s.stable and #s.stable > 0 then return table.move(s.stable, 1, #s.stable, 1, {}) end
  if not sha then return nil end
  for _, p in ipairs(s.prefixes or {}) do
    local kv = p:match("^(%d+%.%d+)[%.%dy]*$")
    if kv then return { kv } end
  end
  local out, seen = {}, {}
  for line in own_text(m):gmatch("[^\n]+") do
    local comment = line:match("^%s*[Cc][Cc]:%s*<?stable@vger%.kernel%.org>?%s*#(.*)$")
    if comment then
      for v in comment:gmatch("(%d+%.%d+)") do add_unique(out, seen, v) end
    end
  end
  return #out > 0 and out or nil
end

---------------------------------------------------------------------------
-- GIT PULL
---------------------------------------------------------------------------

local URL = "^(%a[%w+.-]*://%S+)"

--- series.parse_pull(msg) -> { repo =, ref =, tag =, base =, head = } | nil
-- Reads a git request-pull body (the mail's own text segments, else its
-- text): "are available in the Git repository at:" followed by "<url> <ref>"
-- or "<url>" with the ref on the next line. tag is the ref without "tags/"
-- (or the branch name); base / head are the "since commit" and "up to"
-- commits when given. nil when the mail holds no such block.
function M.parse_pull(m)
  local text = own_text(m, { text = true })
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  for i, line in ipairs(lines) do
    if line:lower():match("are available in the git repository at") then
      local j = i + 1
      while lines[j] and lines[j]:match("^%s*$") do j = j + 1 end
      local url, rest = (lines[j] or ""):match("^%s*(%S+)%s*(.-)%s*$")
      if url and url:match(URL) then
        local ref = rest ~= "" and rest:match("^(%S+)") or nil
        if not ref then
          local nxt = lines[j + 1] or ""
          ref = nxt:match("^%s*(%S+)%s*$")
          if ref and (ref:match(URL) or ref:match(":$")) then ref = nil end
        end
        local out = { repo = url, ref = ref }
        out.tag = ref and (ref:match("^refs/tags/(.+)") or ref:match("^tags/(.+)") or ref:match("^refs/heads/(.+)") or ref)
        out.base = text:match("changes since commit (%x+)")
        out.head = text:match("up to (%x+)")
        return out
      end
    end
  end
  return nil
end

-- The sender address git send-email writes into its Message-IDs
-- ("20210223205634.604221-1-eric.auger@redhat.com"), or nil.
local function sender_in_id(id)
  local a = (id or ""):match("^%d+%.%d+%-%d+%-([^@%s]+@[^@%s]+)$")
  return a and a:lower() or nil
end

-- Whether a mail's subject or body asks for a pull: "[GIT PULL]",
-- "[PULL]", "[GIT] Networking", or git request-pull's "The following
-- changes since commit" in its own text.
local function asks_pull(m)
  local s = m.subj
  if s.tags["GIT PULL"] or s.tags.PULL then return true end
  for _, p in ipairs(s.prefixes or {}) do
    if p == "GIT" then return true end
  end
  return not s.reply and own_text(m, { text = true }):find("following changes since commit", 1, true) ~= nil
end

-- The pull request a conversation is: its lead when that asks for a pull;
-- else (the lead is a patch riding along) its earliest top-level mail that
-- does; else, when its root never arrived, a reply to that root whose
-- subject names a pull request ("Re: [GIT PULL] KVM/arm64 fixes for 5.9":
-- the entry takes its title, pull.subject).
local function find_pull(g, lead)
  local present = {}
  for _, m in ipairs(g.messages) do present[m.message_id] = true end
  local opener, subject_from
  if not lead.subj.reply and (asks_pull(lead) or M.parse_pull(lead)) then
    opener = lead
  else
    for _, m in ipairs(g.messages) do
      if not m.subj.reply and not present[m.parent_id or ""] and asks_pull(m)
          and (not opener or earlier(m, opener)) then
        opener = m
      end
    end
    if not opener and g.root_missing then
      for _, m in ipairs(g.messages) do
        if m.subj.reply and m.parent_id == g.id and asks_pull(m) and (not opener or earlier(m, opener)) then
          opener, subject_from = m, m
        end
      end
    end
  end
  if not opener then return nil end
  local pull = (not subject_from and M.parse_pull(opener)) or {}
  if not pull.repo and not subject_from then
    pull.defects = { "the pull request names no repository (no \"are available in the Git repository at\" block)" }
  end
  if subject_from then pull.subject = subject_from.subject:gsub("^%s*[Rr][Ee]:%s*", "") end
  pull.id = not subject_from and opener.message_id or nil
  -- the requester: the opener's sender, or for an absent root the sender
  -- its git send-email Message-ID names
  local requester = subject_from and (sender_in_id(g.id) or "") or addr(opener)
  local replies = {}
  for _, m in ipairs(g.messages) do
    if (subject_from or m ~= opener) and addr(m) ~= requester then replies[#replies + 1] = m end
  end
  table.sort(replies, earlier)
  for _, m in ipairs(replies) do
    local hit = outcome.scan(m, { pull = true })
    if hit then
      pull.reply = { by = m.from or m.from_addr, verdict = hit.verb, id = m.message_id, where = hit.where,
                     text = hit.text }
      break
    end
  end
  return pull
end

---------------------------------------------------------------------------
-- group()
---------------------------------------------------------------------------

-- A fresh entry for the given parts (threads), in that order.
local function make_entry(parts, rule, why)
  local e = { parts = parts, messages = {}, grouping = { rule = rule, why = why } }
  local seen = {}
  for _, t in ipairs(parts) do
    for _, m in ipairs(t.messages) do
      if not seen[m] then
        seen[m] = true
        e.messages[#e.messages + 1] = m
      end
    end
  end
  e.root, e.root_missing = parts[1].root, parts[1].root_missing == true
  e.id = parts[1].id
  return e
end

-- Per-thread facts used to decide merges.
local function survey(t)
  local lead = lead_of(t)
  local base, cover = series_base(t, lead)
  local f = { t = t, lead = lead, base = base, cover = cover }
  if base and not base.subj.reply then
    f.ns = {}
    local V = base.subj.version or 1
    for _, m in ipairs(t.messages) do
      if patchish(m) and (m.subj.version or V) == V and m.subj.n then f.ns[m.subj.n] = true end
    end
    f.headless = (cover == nil) and base.subj.n ~= nil and base.subj.n >= 1
    f.covered = cover ~= nil and base.subj.n == 0 and base.subj.total ~= nil
  end
  -- a backport: one patch (every patch mail has the lead's title) that
  -- names stable branches or its upstream commit
  if base and not base.subj.reply then
    local titles, one = {}, true
    for _, m in ipairs(t.messages) do
      if patchish(m) then titles[m.subj.normalized] = true end
    end
    for k in pairs(titles) do if k ~= base.subj.normalized then one = false end end
    if one then
      local sha = upstream_commit(base)
      local branches = backport_branches(base, sha)
      if sha or (base.subj.stable and #base.subj.stable > 0) then
        f.backport = { sha = sha, branches = branches }
      end
    end
  end
  return f
end

local function unthreaded_key(f)
  local s = f.base.subj
  local project = table.concat(s.prefixes or {}, " ")
  return table.concat({ addr(f.base), tostring(s.version or 1), tostring(s.total), project,
                        s.tags.RFC and "rfc" or "" }, "\0")
end

-- Rule 2: clusters of conversations of one unthreaded series. Returns a
-- list of clusters (lists of survey facts), each of two or more.
local function unthreaded_clusters(facts)
  local by_key, order = {}, {}
  for _, f in ipairs(facts) do
    if f.base and (f.headless or f.covered) and f.base.subj.total and f.base.subj.total > 1 then
      local k = unthreaded_key(f)
      if not by_key[k] then by_key[k] = {} order[#order + 1] = k end
      table.insert(by_key[k], f)
    end
  end
  local clusters = {}
  for _, k in ipairs(order) do
    local list = by_key[k]
    table.sort(list, function(a, b) return earlier(a.base, b.base) end)
    -- Clusters in the order they were opened, which is the order of their
    -- first parts' dates: those from head on are within the window of the
    -- part at hand. A cluster takes each n, and one cover, once; free[n] is
    -- the first cluster from head on without n, so that many parts with one
    -- n at one time cost n log n, not n^2. An undated part joins none and
    -- leads one that none can join.
    local open, head, free = {}, 1, {}
    for _, f in ipairs(list) do
      local d = f.base.date
      if d then
        while head <= #open and d - open[head].first.base.date > M.UNTHREADED_WINDOW do
          head = head + 1
        end
        local want = {}
        for n in pairs(f.ns) do want[#want + 1] = n end
        if f.covered then want[#want + 1] = "cover" end
        local i = head
        for _, n in ipairs(want) do
          local j = math.max(free[n] or 1, head)
          while j <= #open and open[j].ns[n] do j = j + 1 end
          free[n] = j
          i = math.max(i, j)
        end
        local function clash(c)
          for _, n in ipairs(want) do if c.ns[n] then return true end end
          return false
        end
        while i <= #open and clash(open[i]) do i = i + 1 end
        local c = open[i]
        if c then
          c.list[#c.list + 1] = f
        else
          c = { first = f, list = { f }, ns = {} }
          open[#open + 1] = c
        end
        for _, n in ipairs(want) do c.ns[n] = true end
      end
    end
    for _, c in ipairs(open) do
      if #c.list > 1 then clusters[#clusters + 1] = c.list end
    end
  end
  return clusters
end

-- Rule 3: clusters of backports of one fix. Linked when they name the same
-- upstream commit, or have the same sender and title and name stable
-- branches.
local function backport_clusters(facts, taken)
  local parent = {}
  local function find(x)
    while parent[x] ~= x do x = parent[x] end
    return x
  end
  local cands = {}
  for _, f in ipairs(facts) do
    if f.backport and not taken[f] then
      cands[#cands + 1] = f
      parent[f] = f
    end
  end
  local by_sha, by_title = {}, {}
  for _, f in ipairs(cands) do
    local keys = {}
    if f.backport.sha then keys[#keys + 1] = { by_sha, f.backport.sha } end
    if f.base.subj.stable and #f.base.subj.stable > 0 then
      keys[#keys + 1] = { by_title, addr(f.base) .. "\0" .. f.base.subj.normalized }
    end
    for _, kk in ipairs(keys) do
      local tbl, k = kk[1], kk[2]
      if tbl[k] then parent[find(f)] = find(tbl[k]) else tbl[k] = f end
    end
  end
  local groups, order = {}, {}
  for _, f in ipairs(cands) do
    local r = find(f)
    if not groups[r] then groups[r] = {} order[#order + 1] = r end
    table.insert(groups[r], f)
  end
  local out = {}
  for _, r in ipairs(order) do
    if #groups[r] > 1 then
      table.sort(groups[r], function(a, b) return earlier(a.lead, b.lead) end)
      out[#out + 1] = groups[r]
    end
  end
  return out
end

local function sorted_branches(list)
  local out, seen = {}, {}
  for _, b in ipairs(list) do add_unique(out, seen, b) end
  table.sort(out, version_less)
  return out
end

local function plural(n, word) return n .. " " .. word .. (n == 1 and "" or "s") end

local function series_why(s)
  local bits = {}
  if s.cover then bits[#bits + 1] = "cover " .. s.cover end
  bits[#bits + 1] = ("v%d %d/%d present"):format(s.version, s.present, s.total)
  for _, r in ipairs(s.rerolls) do
    bits[#bits + 1] = ("re-roll v%d of %d/%d (%s) sent into it"):format(r.version, r.n, s.total, r.id)
  end
  if s.inside and #s.inside > 0 then
    bits[#bits + 1] = ("%d mails of another series inside (%s)"):format(#s.inside, s.inside[1].title)
  end
  return table.concat(bits, "; ")
end

--- series.group(threads) -> entries
-- threads: the pipeline's conversations ({id=, root=, root_missing=,
-- messages={parsed msgs}}), any order; not modified. Returns a new list, in
-- the order of each entry's first conversation in `threads`:
--   { id, messages, root, root_missing, parts = {threads...},
--     grouping = {rule=, why=}, series = nil|{...}, pull = nil|{...} }
-- (fields listed in tests/series_spec.lua and the report). Rules, in order:
--   jwz                a conversation is one entry, never split;
--   unthreaded-series  conversations led by patches (and at most one 0/N
--                      cover) of one sender, version, N and project, none
--                      repeating an n, dated within UNTHREADED_WINDOW of
--                      the first, make one entry;
--   backports          single-patch conversations naming the same upstream
--                      commit, or with the same sender and title and stable
--                      branches, make one entry listing the branches.
function M.group(threads)
  local facts, pos = {}, {}
  for i, t in ipairs(threads) do
    facts[i] = survey(t)
    pos[facts[i]] = i
  end
  local taken, made = {}, {}

  for _, cl in ipairs(unthreaded_clusters(facts)) do
    table.sort(cl, function(a, b)
      local na, nb = a.base.subj.n or 0, b.base.subj.n or 0
      if na ~= nb then return na < nb end
      return earlier(a.base, b.base)
    end)
    local parts, span = {}, 0
    for _, f in ipairs(cl) do
      parts[#parts + 1] = f.t
      taken[f] = true
      span = math.max(span, (f.base.date or 0) - (cl[1].base.date or 0))
    end
    local s = cl[1].base.subj
    local e = make_entry(parts, M.RULES.unthreaded,
      ("%d conversations without In-Reply-To links merged: same sender %s, v%d, n/%d%s, sent within %d min"):format(
        #parts, addr(cl[1].base), s.version or 1, s.total,
        (#(s.prefixes or {}) > 0) and (", [" .. table.concat(s.prefixes, " ") .. "]") or "",
        math.ceil(math.abs(span) / 60)))
    local cover = cl[1].cover
    e.id = (cover or cl[1].base).message_id
    e.root, e.root_missing = cl[1].lead, false
    local ordered = {}
    for _, t in ipairs(parts) do for _, m in ipairs(t.messages) do ordered[#ordered + 1] = m end end
    e.series = build_series(ordered, cover or cl[1].base, cover)
    local first = math.huge
    for _, f in ipairs(cl) do first = math.min(first, pos[f]) end
    made[#made + 1] = { at = first, entry = e }
  end

  for _, cl in ipairs(backport_clusters(facts, taken)) do
    local parts, branches, shas, shaseen = {}, {}, {}, {}
    local first = math.huge
    for _, f in ipairs(cl) do
      parts[#parts + 1] = f.t
      taken[f] = true
      first = math.min(first, pos[f])
      for _, b in ipairs(f.backport.branches or {}) do branches[#branches + 1] = b end
      add_unique(shas, shaseen, f.backport.sha)
    end
    branches = sorted_branches(branches)
    local e = make_entry(parts, M.RULES.backports,
      ("%d conversations are one fix sent to stable branches %s: %s"):format(#parts,
        #branches > 0 and table.concat(branches, ", ") or "(unnamed)",
        #shas > 0 and ("upstream commit " .. table.concat(shas, ", "))
          or ("same sender " .. addr(cl[1].base) .. " and title")))
    e.id = cl[1].lead.message_id
    e.root, e.root_missing = cl[1].lead, false
    e.series = build_series(parts[1].messages, cl[1].base, cl[1].cover)
    e.series.branches = #branches > 0 and branches or nil
    e.series.upstream = shas[1]
    made[#made + 1] = { at = first, entry = e }
  end

  for i, f in ipairs(facts) do
    if not taken[f] then
      local e = make_entry({ f.t }, M.RULES.jwz, ("one JWZ conversation of %s"):format(plural(#f.t.messages, "message")))
      if f.base then
        e.series = build_series(f.t.messages, f.base, f.cover)
        if f.backport then
          e.series.branches = f.backport.branches and sorted_branches(f.backport.branches) or nil
          e.series.upstream = f.backport.sha
        end
      end
      made[#made + 1] = { at = i, entry = e }
    end
  end

  table.sort(made, function(a, b) return a.at < b.at end)
  local out = {}
  for _, x in ipairs(made) do
    local e = x.entry
    local lead = lead_of({ root = e.root, root_missing = e.root_missing, messages = e.messages })
    e.pull = find_pull(e, lead)
    if e.pull then e.series = nil end
    if e.series then
      local why = series_why(e.series)
      if e.series.branches then why = why .. "; stable " .. table.concat(e.series.branches, ", ") end
      e.grouping.why = e.grouping.why .. "; " .. why
    elseif e.pull then
      e.grouping.why = e.grouping.why .. "; pull request " .. (e.pull.repo or "?") .. " " .. (e.pull.ref or "")
    end
    out[#out + 1] = e
  end
  return out
end

---------------------------------------------------------------------------
-- Versions
---------------------------------------------------------------------------

local STOP = { a = true, an = true, the = true }

--- series.title_key(title) -> string
-- The form two versions of one series share: lower case, "(vN)", RESEND and
-- punctuation dropped, articles dropped ("A stage 2 for the host" and
-- "Stage-2 for the host" give the same key).
function M.title_key(title)
  local t = (title or ""):lower():gsub("%(%s*v%d+%s*%)", " "):gsub("resend", " ")
  local words = {}
  for w in t:gmatch("[%w]+") do
    if not STOP[w] then words[#words + 1] = w end
  end
  return table.concat(words, " ")
end

-- Share of the smaller set of patch titles found in the other series.
local function patch_overlap(a, b)
  if #a < 2 or #b < 2 then return 0 end
  local set = {}
  for _, t in ipairs(a) do set[t] = true end
  local hit = 0
  for _, t in ipairs(b) do if set[t] then hit = hit + 1 end end
  return hit / math.min(#a, #b)
end

-- Candidates for earlier versions, per sender address and project: entries
-- {g=, key=title key, i=position}, newest version first, then newest date,
-- then first in GROUPS (the order the choice below wants).
local function version_candidates(groups)
  local by, entry = {}, {}
  for i, g in ipairs(groups) do
    local s = g.series
    if s and s.author_addr and not s.branches then
      local k = s.author_addr .. "\0" .. (s.project or "")
      by[k] = by[k] or {}
      local e = { g = g, key = M.title_key(s.title), i = i }
      table.insert(by[k], e)
      entry[g] = { list = by[k], e = e }
    end
  end
  for _, list in pairs(by) do
    table.sort(list, function(a, b)
      local sa, sb = a.g.series, b.g.series
      if sa.version ~= sb.version then return sa.version > sb.version end
      if (sa.date or 0) ~= (sb.date or 0) then return (sa.date or 0) > (sb.date or 0) end
      return a.i < b.i
    end)
  end
  return entry
end

-- The first entry of LIST (sorted as above) with a version below V.
local function first_below(list, v)
  local lo, hi = 1, #list + 1
  while lo < hi do
    local mid = (lo + hi) // 2
    if list[mid].g.series.version < v then hi = mid else lo = mid + 1 end
  end
  return lo
end

--- series.link_versions(groups, lookup)
-- For each group with a series of version v > 1, finds the newest earlier
-- version of the same series (same sender address and project, and the same
-- title key or half of the patch titles in common) among groups, else asks
-- lookup(author_addr, title, version) -> {id=, version=, date=} | nil (an
-- earlier version, e.g. from the store; lookup may be nil),
-- and sets group.series.previous = {version=, id=, date=, url_id=} (url_id:
-- the Message-ID to link). Backports are not linked. Returns groups.
-- Candidates are looked at newest first and the first match wins, so a
-- sender's many series with one subject cost n log n, not n^2.
function M.link_versions(groups, lookup)
  local cands = version_candidates(groups)
  for _, g in ipairs(groups) do
    local s, c = g.series, cands[g]
    if c and s.version > 1 then
      local best
      for j = first_below(c.list, s.version), #c.list do
        local o = c.list[j]
        if o.key == c.e.key or patch_overlap(s.patch_titles or {}, o.g.series.patch_titles or {}) >= 0.5 then
          best = o.g
          break
        end
      end
      if best then
        local bs = best.series
        s.previous = { version = bs.version, id = best.id, date = bs.date,
                       url_id = bs.cover or bs.patches[1] or best.id }
      elseif lookup then
        local r = lookup(s.author_addr, s.title, s.version)
        if r and r.version and r.version < s.version then
          s.previous = { version = r.version, id = r.id, date = r.date, url_id = r.id }
        end
      end
    end
  end
  return groups
end

---------------------------------------------------------------------------
-- Newer versions: superseded series
---------------------------------------------------------------------------

-- The project prefix of a subject ("kvmtool", "net-next"), "" for none.
local function project_of(subj)
  for _, p in ipairs(subj.prefixes or {}) do
    if not p:match("^[%d.]+$") then return p end
  end
  return ""
end

-- Whether two project prefixes can name one series: the same, or a kernel
-- tree's name ("net-next", "bpf", "mm-hotfixes") against another or none;
-- "kvmtool" or "kvm-unit-tests" is another project than the kernel.
local TREES = { [""] = true, net = true, bpf = true, mm = true, rdma = true }
local function tree_name(p) return TREES[p] or p:match("%-next$") ~= nil or p:match("^mm%-") ~= nil end
local function same_project(a, b)
  return a == b or (tree_name(a) and tree_name(b))
end

-- The words of a title after its subsystem prefix ("KVM: arm64: Do x" ->
-- {do, x}), as a set, their count, and the prefix ("kvm: arm64", or "").
local function title_words(title)
  local t = (title or ""):lower()
  local prefix, rest = t:match("^(.*):%s*(.-)$")
  t = rest or t
  local set, n = {}, 0
  for w in t:gsub("%(%s*v%d+%s*%)", " "):gmatch("[%w]+") do
    if not set[w] then set[w] = true n = n + 1 end
  end
  return set, n, prefix or ""
end

-- Two titles of one series: the same title key; or the words after the
-- prefix of one all in the other, three at least ("sbi_shutdown add exit
-- code" -> "sbi_shutdown add pass/fail exit code"; never "Nested Stage
-- Setup (VFIO part)" -> "(IOMMU part)"); or the same two words or more
-- after the prefix when one title had none ("grammer correction" ->
-- "kselftests:grammer correction").
local function similar(a, b)
  if a.key == b.key then return true end
  local common = 0
  for w in pairs(a.words) do if b.words[w] then common = common + 1 end end
  if common >= 3 and (common == a.nwords or common == b.nwords) then return true end
  return common >= 2 and common == a.nwords and common == b.nwords and (a.prefix == "" or b.prefix == "")
end

local function title_entry(title)
  local words, n, prefix = title_words(title)
  return { key = M.title_key(title), words = words, nwords = n, prefix = prefix }
end

--- series.version_index(messages) -> index
-- What series.supersede looks newer versions up in, from every message of
-- the source (headers parsed; not only the reported week), by sender
-- address: each patch and cover letter, and each reply to a versioned
-- patch whose conversation's root is absent (a v14 known only by the
-- replies it got: its sender from the root's git send-email Message-ID).
-- index = { by_addr = {addr = {entry...}}, by_key = {title key = {entry...}}
-- (for conversations whose sender is unknown) }, entries {id=, addr=,
-- version=, n=, date= (nil for a version seen only in replies), seen= (the
-- reply's date), project=, key=, words=, nwords=}.
function M.version_index(messages)
  local by_addr, by_key, ids = {}, {}, {}
  for _, m in ipairs(messages) do
    if m.message_id then ids[m.message_id] = true end
  end
  local function add(a, e)
    by_addr[a] = by_addr[a] or {}
    table.insert(by_addr[a], e)
    by_key[e.key] = by_key[e.key] or {}
    table.insert(by_key[e.key], e)
  end
  for _, m in ipairs(messages) do
    local sj = m.subj
    if sj and m.message_id then
      if patchish(m) then
        local e = title_entry(sj.normalized)
        e.id, e.addr, e.version, e.n, e.date, e.project = m.message_id, addr(m), sj.version or 1, sj.n, m.date,
          project_of(sj)
        add(e.addr, e)
      elseif sj.reply and sj.tags.PATCH and sj.version then
        local root = (m.references or {})[1] or m.in_reply_to
        local a = sender_in_id(root)
        if a and not ids[root] then
          local e = title_entry(sj.normalized)
          e.id, e.addr, e.version, e.n, e.seen, e.project = root, a, sj.version, sj.n, m.date, project_of(sj)
          add(a, e)
        end
      end
    end
  end
  return { by_addr = by_addr, by_key = by_key }
end

--- series.supersede(groups, index, opts)
-- For each group with a series, the newest later version of it in index
-- (series.version_index): posted by the same sender, under the same
-- project, with a higher version, not before this one, not inside this
-- conversation, and with a title like this one's (see similar) or one of
-- its patches' titles. A conversation known only by replies to an
-- absent patch (a robot's report on patch 5 of 23) has its sender from the
-- patch's git send-email Message-ID when it has one; without, the same
-- title key and a higher version decide alone. The newest such version
-- posted (or, known only from replies, seen) before opts.until sets
-- series.superseded_by =
-- {version=, id=, date=} (id: its cover, else its first patch); a later
-- one only sets series.newer = {...}: a report of a past week says what
-- it said then. Backports and pull requests are left alone. A newer entry
-- among groups that has no previous version (or an older one) gets this
-- one as series.previous. opts = { until = epoch, since = epoch, lookup =
-- fn(addr, title, version, until) -> {version=, id=, date=} | nil }: a
-- series posted before since and not superseded in index is looked up
-- there (the store, the archive's search: a newer version posted before
-- the window is not in the window's mail). Returns groups.
function M.supersede(groups, index, opts)
  local until_t = opts["until"]
  local entry_of = {}
  for _, g in ipairs(groups) do
    for _, m in ipairs(g.messages) do entry_of[m.message_id] = g end
  end
  for _, g in ipairs(groups) do
    local s = g.series
    if s and not s.branches and not g.pull then
      local inside = {}
      for _, m in ipairs(g.messages) do inside[m.message_id] = true end
      -- the series' own title is compared word by word; its patches' titles
      -- by key only (one shared patch title is enough, a look-alike is not)
      local mine = { title_entry(s.title) }
      local keys = { [mine[1].key] = true }
      for _, t in ipairs(s.patch_titles or {}) do
        local k = M.title_key(t)
        if not keys[k] then
          keys[k] = true
          mine[#mine + 1] = { key = k }
        end
      end
      local author = s.author_addr
      if not author and g.root_missing then author = sender_in_id(g.id) end
      local project = s.project or ""
      local lists = {}
      if author then
        lists[1] = index.by_addr[author] or {}
      else
        -- no sender to match: only the same title key, never a look-alike
        local seen_key = {}
        for _, t in ipairs(mine) do
          if not seen_key[t.key] then
            seen_key[t.key] = true
            lists[#lists + 1] = index.by_key[t.key] or {}
          end
        end
      end
      local since = s.author_addr and s.date or nil
      local best = {}   -- per side of until_t: the newest version, its lowest n
      for _, list in ipairs(lists) do
        for _, c in ipairs(list) do
          if c.version > s.version and same_project(c.project, project) and not inside[c.id]
              and (not since or not c.date or c.date >= since) then
            if keys[c.key] or similar(mine[1], c) then
              local when = c.date or c.seen
              local side = (when and until_t and when >= until_t) and "after" or "before"
              local b = best[side]
              if not b or c.version > b.version or (c.version == b.version and (c.n or 1) < (b.n or 1)) then
                best[side] = c
              end
            end
          end
        end
      end
      -- the chosen version's cover (n = 0) or first patch, among its mails
      local function first_of(c)
        local pick = c
        for _, o in ipairs(index.by_addr[c.addr]) do
          if o.version == c.version and o.project == c.project and o.date and c.date
              and math.abs(o.date - c.date) <= M.UNTHREADED_WINDOW and (o.n or 1) < (pick.n or 1) then
            pick = o
          end
        end
        return { version = pick.version, id = pick.id, date = pick.date }
      end
      if not best.before and opts.lookup and s.author_addr and s.date and opts.since and s.date < opts.since then
        local found = opts.lookup(s.author_addr, s.title, s.version, until_t)
        if found and found.version > s.version then s.superseded_by = found end
      end
      if best.before then
        s.superseded_by = first_of(best.before)
        local h = entry_of[s.superseded_by.id]
        local hs = h and h.series
        if hs and hs.version > s.version and (not hs.previous or hs.previous.version < s.version) then
          hs.previous = { version = s.version, id = g.id, date = s.author_addr and s.date or nil,
                          url_id = s.cover or s.patches[1] or g.id }
        end
      end
      if best.after and (not best.before or best.after.version > best.before.version) then
        s.newer = first_of(best.after)
      end
    end
  end
  return groups
end

--- series.describe(group) -> string
-- One line for `listdigest threads`: "v10 (39 patches, 39/39 present),
-- previous v9 2022-01-26"; RFC / RESEND / project, re-rolls, stable
-- branches and pull requests added when present; "" for a plain discussion.
function M.describe(g)
  if g.pull then
    local p = g.pull
    local out = ("pull %s %s"):format(p.repo or "?", p.tag or p.ref or "?")
    if p.reply then out = out .. (", %s by %s"):format(p.reply.verdict, p.reply.by) end
    return out
  end
  local s = g.series
  if not s then return "" end
  local head = {}
  if s.rfc then head[#head + 1] = "RFC" end
  if s.resend then head[#head + 1] = "RESEND" end
  if s.project then head[#head + 1] = s.project end
  head[#head + 1] = "v" .. s.version
  local out = ("%s (%d %s, %d/%d present)"):format(table.concat(head, " "), s.total,
    s.total == 1 and "patch" or "patches", s.present, s.total)
  if s.history then
    local h = {}
    for _, x in ipairs(s.history) do h[#h + 1] = "v" .. x.version end
    out = out .. ", follows " .. table.concat(h, " ") .. " in the same conversation"
  end
  if #s.rerolls > 0 then
    local r = {}
    for _, x in ipairs(s.rerolls) do r[#r + 1] = ("v%d %d/%d"):format(x.version, x.n, s.total) end
    out = out .. ", re-rolled " .. table.concat(r, " ")
  end
  if s.branches then out = out .. ", stable " .. table.concat(s.branches, " ") end
  if s.previous then out = out .. (", previous v%d %s"):format(s.previous.version, utc_day(s.previous.date)) end
  return out
end

return M
