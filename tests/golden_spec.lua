-- The sample week's reports, byte for byte against reviewed golden files
-- (tests/golden/update rewrites them; review the diff before committing).
local CASES = {
  { file = "kvmarm-2022-W04.md", args = "--format md" },
  { file = "kvmarm-2022-W04.json", args = "--format json" },
  { file = "kvmarm-2022-W04.en.md", args = "--lang en --format md" },
}

describe("golden reports for the sample kvmarm week", function()
  for _, c in ipairs(CASES) do
    it("matches tests/golden/" .. c.file, function()
      local code, out, err = H.listdigest(("report --source examples/kvmarm-2022-W04.mbox --rules kvmarm " ..
        "--since 2022-01-24 --until 2022-01-31 --offline %s --out -"):format(c.args), "SOURCE_DATE_EPOCH=1764115200")
      assert.are.equal(0, code, err)
      local want = H.read("tests/golden/" .. c.file)
      if out ~= want then
        local tmp = os.tmpname()
        local f = io.open(tmp, "wb")
        f:write(out)
        f:close()
        local _, diff = H.run(("diff -u %s %s | head -60"):format(H.shquote("tests/golden/" .. c.file), tmp))
        os.remove(tmp)
        error("output differs from tests/golden/" .. c.file .. ":\n" .. diff)
      end
    end)
  end

  it("does not depend on the process's time zone", function()
    local _, a = H.listdigest("report --source examples/kvmarm-2022-W04.mbox --rules kvmarm --since 2022-01-24 " ..
      "--until 2022-01-31 --format md --out -", "SOURCE_DATE_EPOCH=1764115200 TZ=Asia/Shanghai")
    assert.are.equal(H.read("tests/golden/kvmarm-2022-W04.md"), a)
  end)
end)
