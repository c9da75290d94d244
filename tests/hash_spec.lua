local hash = require "listdigest.hash"

describe("hash.sha256", function()
  it("matches the FIPS 180-4 examples", function()
    assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hash.sha256("abc"))
    assert.are.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      hash.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
    assert.are.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hash.sha256(""))
    assert.are.equal("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
      hash.sha256(string.rep("a", 1000000)))
  end)

  it("agrees with sha256sum on real mail, across block boundaries", function()
    local code, out = H.run("sha256sum examples/kvmarm-2022-W04.mbox")
    assert.are.equal(0, code)
    assert.are.equal(out:match("^(%x+)"), hash.sha256(H.read("examples/kvmarm-2022-W04.mbox")))
  end)

  it("keeps the parts of a multi-part key apart", function()
    assert.are_not.equal(hash.sha256("ab", "c"), hash.sha256("a", "bc"))
    assert.are.equal(hash.sha256("ab", "c"), hash.sha256("ab", "c"))
  end)
end)
