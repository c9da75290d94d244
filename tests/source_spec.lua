-- Sources other than one mbox file: a Maildir, and what is refused.
local mbox = require "listdigest.mbox"
local source = require "listdigest.source"

local SAMPLE = "examples/kvmarm-2022-W04.mbox"

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

describe("a Maildir source", function()
  local dir
  before_each(function()
    dir = H.tmpdir()
    os.execute(("mkdir -p %s/cur %s/new %s/tmp"):format(dir, dir, dir))
  end)
  after_each(function() os.execute("rm -rf " .. H.shquote(dir)) end)

  it("reads every finished delivery in cur/ and new/, in delivery order, and skips tmp/ and dot files", function()
    local box = assert(mbox.open(SAMPLE))
    local n = box:count()
    for i, raw in box:messages() do
      -- Maildir names start with the delivery time; alternate the folders
      write(("%s/%s/%d.M%d.host:2,S"):format(dir, i % 2 == 0 and "new" or "cur", 1643000000 + i, i), raw)
    end
    box:close()
    write(dir .. "/tmp/1643999999.unfinished.host", "Subject: half\n\nnot delivered yet\n")
    write(dir .. "/cur/.hidden", "Subject: no\n\nx\n")
    local md = assert(source.open(dir))
    assert.are.equal(n, md:count())
    local first = assert(mbox.open(SAMPLE))
    assert.are.equal((first:message(1)), (md:message(1)))
    assert.are.equal((first:message(n)), (md:message(n)))
    first:close()
    local code, out, err = H.listdigest(("threads --source %s --rules kvmarm --since 2022-01-24 --until 2022-01-31 --json")
      :format(H.shquote(dir)))
    assert.are.equal(0, code, err)
    assert.are.equal(340, require("listdigest.json").decode(out).messages_read)
  end)

  it("refuses a directory that is not a Maildir, and an empty Maildir", function()
    os.execute(("rm -rf %s/cur %s/new"):format(dir, dir))
    local box, err = source.open(dir)
    assert.is_nil(box)
    assert.matches("not a Maildir", err)
    os.execute(("mkdir -p %s/cur"):format(dir))
    box, err = source.open(dir)
    assert.is_nil(box)
    assert.matches("no messages", err)
  end)
end)

describe("a URL source", function()
  it("that cannot be reached gives exit status 2 and one line naming it", function()
    local dir = H.tmpdir()
    -- port 9 on loopback: nothing listens there (connection refused)
    local code, _, err = H.listdigest(("report --source http://127.0.0.1:9/kvmarm/ --db %s/ld.db " ..
      "--since 2022-01-24 --until 2022-01-31 --out -"):format(H.shquote(dir)))
    os.execute("rm -rf " .. H.shquote(dir))
    assert.are.equal(2, code, err)
    assert.matches("127%.0%.0%.1:9", err)
    assert.are.equal(1, select(2, err:gsub("\n", "")), err)
  end)
end)

describe("a public-inbox v2 mirror as --source DIR", function()
  it("reports from the epochs' git repositories", function()
    local dir = H.tmpdir()
    -- a one-epoch v2 layout (git/0.git, one commit per message, file "m"),
    -- made with git itself from the first 40 messages of the sample week
    local box = assert(mbox.open(SAMPLE))
    local git = "git -C " .. H.shquote(dir .. "/w")
    assert.are.equal(0, (H.run(("mkdir -p %s/w %s/git && %s init -q && %s config user.email t@t && %s config user.name t")
      :format(H.shquote(dir), H.shquote(dir), git, git, git))))
    for i, raw in box:messages() do
      if i > 40 then break end
      write(dir .. "/w/m", raw)
      assert.are.equal(0, (H.run(("%s add m && %s commit -q -m %d"):format(git, git, i))))
    end
    box:close()
    assert.are.equal(0, (H.run(("git clone -q --bare %s %s"):format(H.shquote(dir .. "/w"), H.shquote(dir .. "/git/0.git")))))
    local code, out, err = H.listdigest(("threads --source %s --rules kvmarm --since 2022-01-24 --until 2022-01-31 --json")
      :format(H.shquote(dir)))
    os.execute("rm -rf " .. H.shquote(dir))
    assert.are.equal(0, code, err)
    assert.are.equal(40, require("listdigest.json").decode(out).messages_read)
  end)
end)
