-- Loaded by busted before every spec: points Lua at the build's C modules
-- (build/listdigest.so, or the sanitizer build named by LISTDIGEST_BUILD) and
-- the source tree's Lua files, and gives specs a few shared helpers.
local build = os.getenv("LISTDIGEST_BUILD") or "build"
package.cpath = build .. "/?.so;" .. package.cpath
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path

-- Line-buffered, so that busted's summary is out before a sanitizer that
-- finds a leak at exit ends the process without flushing stdio.
io.stdout:setvbuf("line")

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

-- No child of busted inherits the sanitizer runtime that tests/run
-- preloads into it: the programs specs start are either built with
-- it (build/asan), given it explicitly (H.lua()), or not meant to carry it
-- (an installed listdigest, make, git, perl, python), and some of those
-- deadlock at exit with it (libp11-kit's destructor, through libcurl) or
-- fail its leak check.
do
  local execute, popen = os.execute, io.popen
  function os.execute(cmd)
    if cmd == nil then return execute() end
    return execute("unset LD_PRELOAD; " .. cmd)
  end
  function io.popen(cmd, mode) return popen("unset LD_PRELOAD; " .. cmd, mode) end
end

-- The command prefix that runs a program of ours under valgrind memcheck
-- when tests/run --valgrind set it; "" otherwise.
H.valgrind = os.getenv("LISTDIGEST_VALGRIND") or ""
if H.valgrind ~= "" then H.valgrind = H.valgrind .. " " end

-- Runs a shell command; returns its exit code, stdout and stderr.
function H.run(cmd)
  local tmp = os.tmpname()
  local p = io.popen(cmd .. " 2>" .. tmp)
  local out = p:read("a")
  local _, _, code = p:close()
  local err = H.read(tmp)
  os.remove(tmp)
  -- UBSan writes its reports ("core/x.c:12:5: runtime error: ...") to
  -- stderr whatever its log_path says when it runs next to ASan: fail here
  if err:find("%.[ch]:%d+:%d+: runtime error: ") then
    error("UndefinedBehaviorSanitizer report from: " .. cmd .. "\n" .. err, 2)
  end
  return code, out, err
end

-- The command that runs stock lua5.4 on the build this suite tests: with the
-- sanitizer runtime preloaded again when the modules are the ASan build, under
-- valgrind in a valgrind run.
function H.lua()
  local preload = os.getenv("LD_PRELOAD")
  return (preload and ("LD_PRELOAD=" .. H.shquote(preload) .. " ") or "") .. H.valgrind .. "lua5.4"
end

function H.tmpdir()
  local p = io.popen("mktemp -d")
  local d = p:read("l")
  p:close()
  return d
end

function H.shquote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

_G.H = H

-- Runs the listdigest binary with ARGS (a shell-quoted string) and ENV
-- (assignments, "A=1 B=2"): the ASan build checks itself, leaks included;
-- a valgrind run puts it under memcheck.
function H.listdigest(args, env)
  return H.run((env or "") .. " " .. H.valgrind .. H.bin .. " " .. args)
end
