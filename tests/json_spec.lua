local json = require "listdigest.json"

describe("json", function()
  it("sorts keys so output is stable", function()
    assert.are.equal('{"a":1,"b":[1,2],"c":"x"}', json.encode({ c = "x", a = 1, b = { 1, 2 } }))
  end)

  it("writes empty tables as arrays unless marked as objects", function()
    assert.are.equal('{"l":[],"o":{}}', json.encode({ l = {}, o = json.object() }))
  end)

  it("round-trips UTF-8, integers, floats and null", function()
    local v = json.decode(json.encode({ s = "中文 é", i = 1642982400, f = 0.5, n = json.null }))
    assert.are.equal("中文 é", v.s)
    assert.are.equal(1642982400, v.i)
    assert.is_true(math.type(v.i) == "integer")
    assert.are.equal(0.5, v.f)
    assert.are.equal(json.null, v.n)
  end)

  it("keeps decoded empty arrays arrays when encoding again", function()
    assert.are.equal('{"a":[]}', json.encode(json.decode('{"a": []}')))
  end)

  it("refuses what JSON cannot carry", function()
    assert.has_error(function() json.encode({ 1, 2, x = 3 }) end)
    assert.has_error(function() json.encode({ f = print }) end)
    assert.has_error(function() json.encode("\xff\xfe") end)
    assert.has_error(function() json.encode(0 / 0) end)
    local t = {}
    t.self = t
    assert.has_error(function() json.encode(t) end)
  end)

  it("returns nil and a position for text that is not JSON", function()
    local v, err = json.decode('{"a": [1, 2}')
    assert.is_nil(v)
    assert.matches("line 1 column %d+", err)
  end)
end)
