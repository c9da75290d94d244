local tu = require "listdigest.timeutil"

describe("timeutil", function()
  it("reads a bare date as midnight UTC", function()
    -- 2022-01-24 is 19016 days after the epoch (2022-01-01 = 18993, +23)
    assert.are.equal(19016 * 86400, tu.parse("2022-01-24"))
  end)

  it("applies the offset of an RFC 3339 time", function()
    assert.are.equal(tu.parse("2022-01-24") + 8 * 3600, tu.parse("2022-01-24T10:00:00+02:00"))
    assert.are.equal(tu.parse("2022-01-24") + 10 * 3600 + 30 * 60, tu.parse("2022-01-24T10:00:00-00:30"))
    assert.are.equal(tu.parse("2022-01-24T08:00:00Z"), tu.parse("2022-01-24T08:00:00.123Z"))
  end)

  it("counts relative times back from now", function()
    assert.are.equal(1000000 - 7 * 86400, tu.parse("7d", 1000000))
    assert.are.equal(1000000 - 3600, tu.parse("1h", 1000000))
  end)

  it("refuses dates that are not on the calendar and words that are not times", function()
    assert.is_nil(tu.parse("2022-02-30"))
    assert.is_nil(tu.parse("2021-02-29"))
    assert.is_truthy(tu.parse("2024-02-29"))
    assert.is_nil(tu.parse("yesterday"))
    assert.is_nil(tu.parse("2022-01-24T10:00:00"))   -- no zone: ambiguous
  end)

  it("formats in UTC whatever the process's zone", function()
    assert.are.equal("2022-01-24T15:57:18Z", tu.rfc3339(tu.parse("2022-01-24T15:57:18Z")))
    assert.are.equal("01-24 15:57", tu.short(tu.parse("2022-01-24T15:57:18Z")))
    assert.are.equal("2022-01-24 15:57 UTC", tu.human(tu.parse("2022-01-24T15:57:18Z")))
  end)

  it("agrees with timegm across leap years and centuries", function()
    assert.are.equal(951782400, tu.timegm(2000, 2, 29))       -- date -u -d 2000-02-29 +%s
    assert.are.equal(4107542400, tu.timegm(2100, 3, 1))       -- 2100 is not a leap year
    assert.are.equal(0, tu.timegm(1970, 1, 1))
  end)
end)
