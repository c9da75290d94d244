-- The differential test against GMime 3 (tests/differential/gmime_diff.c,
-- `make differential`) as part of the suite: every message of the shared
-- corpus decoded by both, and the agreement held where NOTES.md leaves it.
-- A new disagreement fails here until it is fixed or explained there.
local CORPUS = H.corpus

describe("decoding agrees with GMime 3 over the shared corpus", function()
  if not H.exists(CORPUS .. "/MANIFEST.md") then
    pending("shared corpus absent: " .. CORPUS)
    return
  end

  local out
  setup(function()
    local code, _, err = H.run("make -s build/gmime-diff")
    assert(code == 0, "cannot build build/gmime-diff (libgmime-3.0-dev?): " .. err)
    local o
    code, o, err = H.run("build/gmime-diff " .. H.shquote(CORPUS))
    assert(code == 0, "gmime-diff failed: " .. err)
    out = o
  end)

  local function rate(field)
    local pct, agree, total = out:match("\n" .. field .. "%s+([%d.]+) %%%s+%((%d+) of (%d+)")
    return tonumber(pct), tonumber(agree), tonumber(total)
  end

  it("agrees on at least 99.5 % of the field comparisons (the issue's target)", function()
    local pct, agree, total = rate("overall")
    assert.is_truthy(pct, out)
    assert.is_true(total > 60000, "compared only " .. tostring(total))
    assert.is_true(pct >= 99.5, ("%.2f %%"):format(pct))
    -- NOTES.md explains 32 disagreements; one more is a regression (or a
    -- new kind to explain there)
    assert.is_true(total - agree <= 32, ("%d disagreements; NOTES.md explains 32"):format(total - agree))
  end)

  it("agrees completely on the real list archives", function()
    for line in out:gmatch("[^\n]+") do
      local path = line:match("^DIFF %S+ %[[^%]]*%] (%S+)")
      if path then
        for _, real in ipairs { "/kernel-lists/", "/notmuch/", "/b4/", "/threading/", "/patchwork/mail/" } do
          assert.is_falsy(path:find(real, 1, true), line)
        end
      end
    end
  end)
end)
