-- Time for listdigest: UTC instants as integer seconds since the epoch, parsed
-- from the command line's forms and formatted for reports. Never local time:
-- the process's TZ must not change a report.
local M = {}

-- Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
-- days_from_civil), so no os.time (which reads the local zone) is needed.
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function valid_date(y, m, d)
  if m < 1 or m > 12 or d < 1 then return false end
  local mdays = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  if m == 2 and (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then return d <= 29 end
  return d <= mdays[m]
end

-- timegm(y, mo, d, h, mi, s) -> epoch seconds of that UTC wall time.
function M.timegm(y, mo, d, h, mi, s)
  return days_from_civil(y, mo, d) * 86400 + (h or 0) * 3600 + (mi or 0) * 60 + (s or 0)
end

-- parse(s, now) -> epoch seconds, or nil, reason. Accepts "7d" / "12h" / "30m"
-- (that long before now), "2025-09-29" (midnight UTC), and RFC 3339
-- ("2025-09-29T10:00:00Z", "...+02:00", fractional seconds ignored).
function M.parse(s, now)
  if type(s) ~= "string" or s == "" then return nil, "empty time" end
  local n, unit = s:match("^(%d+)([dhmw])$")
  if n then
    local mult = { m = 60, h = 3600, d = 86400, w = 7 * 86400 }
    return now - tonumber(n) * mult[unit]
  end
  local y, mo, d, rest = s:match("^(%d%d%d%d)-(%d%d)-(%d%d)(.*)$")
  if not y then
    return nil, ("'%s' is not a time: use 7d, 2025-09-29 or 2025-09-29T10:00:00Z"):format(s)
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if not valid_date(y, mo, d) then return nil, ("'%s' is not a calendar date"):format(s) end
  if rest == "" then return M.timegm(y, mo, d) end
  local h, mi, sec, frac_zone = rest:match("^[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
  if not h then
    h, mi, frac_zone = rest:match("^[Tt ](%d%d):(%d%d)(.*)$")
    sec = "0"
  end
  if not h then return nil, ("'%s': bad time of day"):format(s) end
  local zone = frac_zone:gsub("^%.%d+", "")
  local off
  if zone == "Z" or zone == "z" then
    off = 0
  else
    local sign, zh, zm = zone:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil, ("'%s': RFC 3339 times need a zone (Z or +hh:mm)"):format(s) end
    off = (tonumber(zh) * 60 + tonumber(zm)) * (sign == "-" and -1 or 1)
  end
  h, mi, sec = tonumber(h), tonumber(mi), tonumber(sec)
  if h > 23 or mi > 59 or sec > 60 then return nil, ("'%s': bad time of day"):format(s) end
  return M.timegm(y, mo, d, h, mi, sec) - off * 60
end

-- RFC 3339 in UTC: "2022-01-24T15:57:18Z".
function M.rfc3339(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

-- A human form in UTC: "2022-01-24 15:57 UTC" (with_seconds adds ":18").
function M.human(t, with_seconds)
  return os.date(with_seconds and "!%Y-%m-%d %H:%M:%S UTC" or "!%Y-%m-%d %H:%M UTC", t)
end

-- The message-list stamp of the reference layout: "01-24 15:57".
function M.short(t) return os.date("!%m-%d %H:%M", t) end

-- The instant a report says it was generated: SOURCE_DATE_EPOCH when set
-- (reproducible output), else now.
function M.now()
  local sde = os.getenv("SOURCE_DATE_EPOCH")
  if sde and sde:match("^%d+$") then return tonumber(sde) end
  return os.time()
end

return M
