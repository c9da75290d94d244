-- Subject-line grammar for kernel mailing lists, built with lpeg: reply markers
-- (Re:/Fwd:/AW:/回复: ...), the leading [PATCH v7 03/28]-style bracket groups and
-- the tags, versions, n/N markers, stable branches and project words inside them.
-- It is not a threading heuristic: it reads one Subject (already unfolded and
-- RFC 2047-decoded by the parse stage) and never looks at other messages.
local lpeg = require "lpeg"

local P, R, S, C, Cc, Ct, Cg, Cs = lpeg.P, lpeg.R, lpeg.S, lpeg.C, lpeg.Cc, lpeg.Ct, lpeg.Cg, lpeg.Cs

local M = {}

-- Case-insensitive literal for an ASCII word.
local function ci(word)
  local p = P(true)
  for ch in word:gmatch(".") do
    local lo, up = ch:lower(), ch:upper()
    p = p * (lo == up and P(ch) or S(lo .. up))
  end
  return p
end

local sp = S" \t\r\n\v\f"
local ws = sp^0
local digit = R"09"
local digits = digit^1
local number = digits / tonumber

---------------------------------------------------------------------------
-- Reply markers.  "Re:" and "Fwd:" in any case; the localised forms that
-- clients put in front of a subject (German AW/WG, Scandinavian SV, Dutch
-- Antw, Chinese 回复/答复/转发/回覆) only capitalised, because lower-case
-- "wg:" or "sv:" would read as a kernel subsystem prefix.  A counter such as
-- "Re[2]:" or "Re^2:" is accepted; the colon may be the full-width "：".
-- Unlike patchwork we require the colon: "RE meep" is a title, not a reply
-- (see tests/subject_spec.lua).
---------------------------------------------------------------------------
local colon = P":" + P"\239\188\154" -- U+FF1A FULLWIDTH COLON
local reply_word = ci"fwd" + ci"fw" + ci"re"
  + P"AW" + P"Aw" + P"WG" + P"Wg" + P"SV" + P"Sv" + P"Antw" + P"ANTW"
  + P"回复" + P"答复" + P"转发" + P"回覆"
local reply_counter = P"[" * digits * P"]" + P"^" * digits
local reply = reply_word * reply_counter^-1 * ws * colon

-- One leading bracket group: its raw contents (no nested brackets).
local group = P"[" * C((1 - S"[]")^0) * P"]"

-- A pasted "Subject:" ("Re: Subject: [PATCH] selftests/mm: ...") is noise.
local pasted_header = ci"subject" * ws * colon

local REPLY, NOISE = {}, {}
local lead_item = reply * Cc(REPLY) + pasted_header * Cc(NOISE) + group
-- The leading part: any mix of reply markers and bracket groups, then the title.
local subject_grammar = Ct((ws * lead_item)^0) * ws * lpeg.Cp()

---------------------------------------------------------------------------
-- Tokens inside one bracket group: separated by blanks and commas, except
-- inside braces ("stable-4.{4, 9, 14, 19}" is one token); "0 of 12" and
-- "GIT PULL" are single tokens.
---------------------------------------------------------------------------
local tsep = sp + P","
local braced = P"{" * (1 - P"}")^0 * P"}"
local tchar = braced + (1 - (tsep + S"{}[]"))
local n_of_N = digits * sp^1 * ci"of" * sp^1 * digits
local two_words = function(a, b) return a * sp^1 * b end
local multiword = two_words(ci"git", ci"pull") + two_words(ci"not", ci"for" * sp^1 * ci"merge")
  + two_words(ci"do", ci"not" * sp^1 * ci"merge")
local token = C(multiword * #(tsep + -1) + n_of_N * #(tsep + -1) + tchar^1)
local group_tokens = Ct((tsep^0 * token)^0 * tsep^0)

---------------------------------------------------------------------------
-- Classifying one token.  Each pattern must consume the whole token.
---------------------------------------------------------------------------
local collapse = Cs((sp^1 / " " + 1)^0)

-- Tag keywords, mapped to their canonical upper-case name.
local keyword = ci"patch" * Cc"PATCH" + ci"rfc" * Cc"RFC" + ci"rft" * Cc"RFT"
  + ci"resend" * Cc"RESEND" + ci"repost" * Cc"REPOST" + ci"fixup" * Cc"FIXUP"
  + ci"autosel" * Cc"AUTOSEL" + ci"stable" * Cc"STABLE" + ci"pull" * Cc"PULL"
  + ci"announce" * Cc"ANNOUNCE" + ci"regression" * Cc"REGRESSION" + ci"bug" * Cc"BUG"
  + ci"git" * sp^1 * ci"pull" * Cc"GIT PULL"
  + ci"not" * sp^1 * ci"for" * sp^1 * ci"merge" * Cc"NOT FOR MERGE"
  + ci"do" * sp^1 * ci"not" * sp^1 * ci"merge" * Cc"DO NOT MERGE"

local version_n = S"vV" * number * -(P"." * digit)
local version_dotted = S"vV" * digits * (P"." * digits)^1
local n_slash_N = Cg(number, "n") * (ws * P"/" * ws + sp^1 * ci"of" * sp^1) * Cg(number, "total")

-- A token made of an optional version, an optional keyword, an optional
-- version and an optional n/N, glued or not: "PATCH", "PATCHv2", "RFCv3",
-- "PATCH1/8", "v2PATCH1/4", "v2.3PATCH1/4", "v7", "03/28", "0 of 12".
local glued = Ct((Cg(version_n, "version") + version_dotted)^-1
  * Cg(keyword, "tag")^-1
  * Cg(version_n, "version")^-1
  * n_slash_N^-1) * -1

-- Kernel branch numbers: "4.19", "5.15.y", "6.1.y", "linux-6.6.y",
-- "stable-4.{4,9,14,19}" (expanded), "stable-5.10".
local kver = C(digits * P"." * digits)
local brace_list = P"{" * Ct(ws * C(digits) * (ws * P"," * ws * C(digits))^0 * ws) * P"}"
local branch_spec = Ct(kver) * (P".y" + P".Y")^-1
  + (C(digits * P".") * brace_list) / function(head, tails)
      local out = {}
      for i, t in ipairs(tails) do out[i] = head .. t end
      return out
    end
local stable_dash = ci"stable" * S"-_/ :" * branch_spec * -1
local dot_y = (ci"linux" * P"-")^-1 * Ct(kver) * S".-" * S"yY" * -1
local bare_kver = Ct(kver * (P"." * digits)^-1 / function(v) return v:match("^%d+%.%d+") end) * -1

local title_version = P{ "(" * ws * S"vV" * C(digits) * ws * ")" * ws * -1 + 1 * lpeg.V(1) }
local title_version_strip = Cs((P"(" * ws * S"vV" * digits * ws * ")" * ws * -1 / "" + 1)^0)

local function add_stable(res, list)
  res.stable = res.stable or {}
  for _, v in ipairs(list) do
    local seen = false
    for _, w in ipairs(res.stable) do if w == v then seen = true end end
    if not seen then res.stable[#res.stable + 1] = v end
  end
end

-- Folds one token into the result; returns nothing.
local function take_token(res, tok, kernel_versions)
  local g = glued:match(tok)
  if g then
    if g.tag then res.tags[g.tag] = true end
    if g.tag == "AUTOSEL" then res.autosel = true end
    if g.version and not res.version then res.version = g.version end
    if g.n and not res.n then res.n, res.total = g.n, g.total end
    return
  end
  local list = stable_dash:match(tok) or dot_y:match(tok)
  if list then
    res.tags.STABLE = true
    add_stable(res, list)
    return
  end
  local kv = bare_kver:match(tok)
  if kv then
    -- A bare "5.15" is a stable branch only next to STABLE or AUTOSEL
    -- ("[PATCH AUTOSEL 5.15 02/10]", "[STABLE 5.15]"); decided after the
    -- whole subject is read.  Otherwise ("[PATCH 5.10 289/290]") it stays a
    -- project word and the rules file decides.
    kernel_versions[#kernel_versions + 1] = { tok = tok, branch = kv[1] }
    return
  end
  res.prefixes[#res.prefixes + 1] = tok
end

--- subject.parse(s) -> table
-- s: one Subject header value (string; folded whitespace allowed).  Raises on
-- a non-string.  Never fails on odd input: anything it cannot read stays in
-- the title.  Returns a fresh table:
--   reply      boolean  a reply/forward marker appeared before, between or
--                       after the leading bracket groups ("[PATCH] Re: x")
--   tags       set      canonical upper-case tag words: PATCH, RFC, RFT, RESEND,
--                       REPOST, FIXUP, AUTOSEL, STABLE (also set by any stable
--                       branch form), PULL, "GIT PULL", ANNOUNCE, REGRESSION,
--                       BUG, "NOT FOR MERGE", "DO NOT MERGE"
--   tag_list   array    raw tokens of all leading bracket groups, in order
--   groups     array    raw contents of each leading bracket group, blanks
--                       collapsed ("PATCH v7 03/28")
--   prefixes   array    tokens that are not tags, versions, n/N or stable
--                       branches: "kvmtool", "net-next", "kvm-unit-tests", "5.10"
--   version    integer|nil  from vN / VN / PATCHvN, else a trailing "(vN)"
--   n, total   integer|nil  from n/N or "n of N" (first one wins)
--   stable     array|nil    stable branches: "stable-4.19", "4.{4,9}", "6.1.y",
--                       or bare "5.15" next to STABLE / AUTOSEL
--   autosel    boolean
--   title      string   subject minus reply markers, a pasted "Subject:" and
--                       the leading groups, blanks collapsed
--   normalized string   lower-cased title without a trailing "(vN)", for
--                       matching the versions of one series
function M.parse(s)
  if type(s) ~= "string" then
    error("subject.parse: expected a string, got " .. type(s), 2)
  end
  local items, title_at = subject_grammar:match(s)
  local res = {
    reply = false, tags = {}, tag_list = {}, groups = {}, prefixes = {},
    autosel = false,
  }
  local kernel_versions = {}
  for _, item in ipairs(items) do
    if item == REPLY then
      res.reply = true
    elseif item ~= NOISE then
      local raw = collapse:match(item):match("^%s*(.-)%s*$")
      res.groups[#res.groups + 1] = raw
      for _, tok in ipairs(group_tokens:match(raw)) do
        local canon = collapse:match(tok)
        res.tag_list[#res.tag_list + 1] = canon
        take_token(res, canon, kernel_versions)
      end
    end
  end
  for _, kv in ipairs(kernel_versions) do
    if res.tags.STABLE or res.autosel then
      res.tags.STABLE = true
      add_stable(res, { kv.branch })
    else
      res.prefixes[#res.prefixes + 1] = kv.tok
    end
  end
  res.title = collapse:match(s:sub(title_at)):match("^%s*(.-)%s*$")
  if not res.version then
    local v = title_version:match(res.title)
    if v then res.version = tonumber(v) end
  end
  res.normalized = title_version_strip:match(res.title):match("^%s*(.-)%s*$"):lower()
  return res
end

--- subject.is_reply(s) -> boolean
-- True when s carries a reply/forward marker (same rule as parse(s).reply).
function M.is_reply(s)
  return M.parse(s).reply
end

--- subject.title(s) -> string
-- The title of s (same as parse(s).title).
function M.title(s)
  return M.parse(s).title
end

-- The lpeg patterns, for callers that build on the grammar (tests, series
-- matching).  Read-only by convention.
M.patterns = { reply = reply, group = group, token = token, glued = glued }

return M
