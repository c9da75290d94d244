-- Summaries of threads. This file holds the offline, extractive summariser:
-- it quotes the mail itself (cover letter, changelog, the question and the
-- repliers' own first words, the trailers given) and never calls the network.
local M = {}

local MAX_PARA = 600      -- characters kept of an opening paragraph
local MAX_REPLY = 240     -- characters kept of a reply's own words
local MAX_CHANGELOG = 12  -- changelog lines kept
local MAX_REPLIES = 8     -- replies quoted

local function squash(s) return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")) end

local function clip(s, n)
  if #s <= n then return s end
  local cut = s:sub(1, n)
  -- never cut inside a UTF-8 sequence
  while #cut > 0 and (cut:byte(-1) & 0xC0) == 0x80 do cut = cut:sub(1, -2) end
  if #cut > 0 and cut:byte(-1) >= 0xC0 then cut = cut:sub(1, -2) end
  return (cut:gsub("%s+%S*$", "")) .. " …"
end

-- The message's own words: its text segments, in order, as one string.
local function own_text(msg)
  local parts = {}
  for _, seg in ipairs(msg.segments or {}) do
    if seg.kind == "text" then parts[#parts + 1] = seg.text end
  end
  return table.concat(parts, "\n")
end

-- Paragraphs (blank-line separated) of a text, squashed to one line each.
local function paragraphs(text)
  local out = {}
  for para in (text .. "\n\n"):gmatch("(.-)\n%s*\n") do
    local p = squash(para)
    if p ~= "" then out[#out + 1] = p end
  end
  return out
end

-- A greeting or sign-off carries nothing: "Hi Marc,", "Thanks,", "Cheers, M."
local function is_filler(p)
  local l = p:lower()
  return #p < 40 and (l:match("^hi%f[%A]") or l:match("^hello") or l:match("^hey") or l:match("^dear")
    or l:match("^thanks") or l:match("^thank you") or l:match("^cheers") or l:match("^regards")
    or l:match("^best") or l:match("^%-%-") or l:match("^[%a%.%- ]+,?$")) ~= nil
end

local function first_paragraph(text)
  for _, p in ipairs(paragraphs(text)) do
    if not is_filler(p) then return p end
  end
end

-- The first one or two sentences of a paragraph.
local function first_sentences(p, n)
  local out, count = {}, 0
  for sentence in (p .. " "):gmatch("(.-[%.%?!])%s") do
    out[#out + 1] = sentence
    count = count + 1
    if count >= n then break end
  end
  if count == 0 then return p end
  return table.concat(out, " ")
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
      local bullet = line:match("^%s*[%-%*o•]%s+(.*)$")
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

local function name_of(from) return (from or ""):match("^(.-)%s*<") or from or "" end

local function trailers_given(t)
  local out = {}
  for _, m in ipairs(t.messages) do
    if m.subj and m.subj.reply then
      for _, seg in ipairs(m.segments or {}) do
        if seg.kind == "trailer" then
          for line in seg.text:gmatch("[^\n]+") do
            local kind, who = line:match("^%s*(%u%a+%-by):%s*(.-)%s*$")
            if kind and (kind == "Reviewed-by" or kind == "Acked-by" or kind == "Tested-by") then
              out[#out + 1] = ("%s: %s (%s)"):format(kind, who, m.subj.title ~= "" and m.subject or "")
            end
          end
        end
      end
    end
  end
  return out
end

local function questions(msgs)
  local out = {}
  for _, m in ipairs(msgs) do
    for _, p in ipairs(paragraphs(own_text(m))) do
      for q in (p .. " "):gmatch("([^%.%?!]-%?)%s") do
        q = squash(q)
        if #q > 25 then out[#out + 1] = ("%s: %s"):format(name_of(m.from), clip(q, MAX_REPLY)) end
        if #out >= 3 then return out end
      end
    end
  end
  return out
end

local function by_date(a, b) return (a.date or 0) < (b.date or 0) end

--[[
extractive(t) -> summary { text=, points={...}, conclusion=, open_questions={...},
                           source = "extractive" }

t: a pipeline thread (t.messages parsed with bodies, t.facts). For a series:
the cover letter's (else the first patch's) opening paragraph and changelog;
for a discussion: the question asked and the first own sentences of each
reply. Both list the review trailers given in follow-ups and who gave them.
]]
function M.extractive(t)
  local msgs = {}
  for _, m in ipairs(t.messages) do msgs[#msgs + 1] = m end
  table.sort(msgs, by_date)
  local series = t.facts and t.facts.series
  local lead, points = nil, {}
  local replies = {}
  if series then
    local cover
    for _, m in ipairs(msgs) do
      if not m.subj.reply and (m.subj.n == 0 or not cover) then
        if m.subj.n == 0 or (not cover and not m.subj.reply) then cover = m end
        if m.subj.n == 0 then break end
      end
    end
    cover = cover or msgs[1]
    local text = own_text(cover)
    lead = first_paragraph(text)
    for _, line in ipairs(changelog(text)) do points[#points + 1] = line end
    for _, m in ipairs(msgs) do
      if m.subj.reply then replies[#replies + 1] = m end
    end
  else
    lead = first_paragraph(own_text(msgs[1]))
    for i = 2, #msgs do replies[#replies + 1] = msgs[i] end
  end
  for i, m in ipairs(replies) do
    if i > MAX_REPLIES then
      points[#points + 1] = ("(+%d more replies)"):format(#replies - MAX_REPLIES)
      break
    end
    local p = first_paragraph(own_text(m))
    if p then points[#points + 1] = ("%s: %s"):format(name_of(m.from), clip(first_sentences(p, 2), MAX_REPLY)) end
  end
  local trailers = trailers_given(t)
  local conclusion
  if #trailers > 0 then conclusion = table.concat(trailers, "; ") end
  return {
    text = lead and clip(lead, MAX_PARA) or "",
    points = points,
    conclusion = conclusion,
    open_questions = questions(replies),
    source = "extractive",
  }
end

return M
