-- Loaded by busted before every spec: points Lua at the build's C modules
-- (build/listdigest.so, or the sanitizer build named by LISTDIGEST_BUILD) and
-- the source tree's Lua files, and gives specs a few shared helpers.
local build = os.getenv("LISTDIGEST_BUILD") or "build"
package.cpath = build .. "/?.so;" .. package.cpath
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path

local H = {}
H.build = build
H.bin = build .. "/listdigest"
H.corpus = os.getenv("LISTDIGEST_CORPUS") or "../shared/corpus"

function H.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function H.fixture(name) return H.read("tests/fixtures/" .. name) end

function H.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- Runs a shell command; returns its exit code, stdout and stderr. The
-- sanitizer runtime that tests/run preloads into busted is not passed on:
-- the programs run here are either built with it (build/asan) or not meant
-- to carry it (an installed listdigest, make, git), and some deadlock at
-- exit with it preloaded (libp11-kit's destructor, through libcurl).
function H.run(cmd)
  local tmp = os.tmpname()
  local p = io.popen("unset LD_PRELOAD; " .. cmd .. " 2>" .. tmp)
  local out = p:read("a")
  local _, _, code = p:close()
  local err = H.read(tmp)
  os.remove(tmp)
  return code, out, err
end

-- The command that runs stock lua5.4 on the build this suite tests: with the
-- sanitizer runtime preloaded again when the modules are the ASan build.
function H.lua()
  local preload = os.getenv("LD_PRELOAD")
  return (preload and ("LD_PRELOAD=" .. H.shquote(preload) .. " ") or "") .. "lua5.4"
end

function H.tmpdir()
  local p = io.popen("mktemp -d")
  local d = p:read("l")
  p:close()
  return d
end

function H.shquote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

_G.H = H

-- Runs the listdigest binary with ARGS (a shell-quoted string); leak checking
-- is on for it when the suite runs under the sanitizer build.
function H.listdigest(args, env)
  local asan = os.getenv("LISTDIGEST_ASAN_OPTIONS")
  local prefix = (asan and ("ASAN_OPTIONS=" .. asan .. " ") or "") .. (env or "")
  return H.run(prefix .. " " .. H.bin .. " " .. args)
end
