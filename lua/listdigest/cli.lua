-- The command line: parses arguments, runs a command, maps failures to the
-- exit statuses of DESIGN.md (0 written, 1 usage/config, 2 source, 3 some
-- threads not summarised). core/main.c calls main(argv) and exits with it.
local M = {}

local EXIT_OK, EXIT_USAGE, EXIT_SOURCE, EXIT_PARTIAL = 0, 1, 2, 3

local function build_info()
  local ok, b = pcall(require, "listdigest._build")
  if ok then return b end
  return { version = "dev", root = "." }
end

M.HELP = [[
Usage: listdigest COMMAND [OPTIONS]

Turns a week of a mailing list into a report: every conversation threaded,
classified by the list's Lua rules and summarised.

Commands:
  report    write the report for a window of mail
  threads   show each thread's category, review state and the evidence for
            it (who, which mail), as decided; no summaries are made
  fetch     fetch the window from a public-inbox server into the store only
  run       run a Lua report script with the listdigest modules loaded

Options of report, threads and fetch:
  --source URL|FILE|DIR
                     a public-inbox URL (https://lore.kernel.org/kvmarm/, or
                     https://lore.kernel.org/all/ filtered by the rules'
                     list_ids), an mbox, mbox.gz (mboxrd or mboxo, LF or CRLF),
                     a single message file, a Maildir, or a local public-inbox
                     v2 mirror; default: the rules file's source
  --db FILE          the SQLite store for fetched mail (default:
                     $XDG_CACHE_HOME/listdigest/listdigest.db); a second run
                     fetches only what is new
  --rules NAME|FILE  rules/NAME.lua (default, kvmarm, linux-kselftest) or a path
                     to your own rules file; default: default
  --since WHEN       start of the window, inclusive (7d, 2025-09-29 or RFC 3339;
                     default: 7 days before --until)
  --until WHEN       end of the window, exclusive (default: now); times are UTC
  --timeout S        seconds one request to a public-inbox server may take
                     (default 120); one that receives nothing for 20 s (or S,
                     if less) has stalled and is tried once more, not retried
  --lang zh|en       report language (default: the rules' language)
  --offline          extractive summaries quoted from the mail; no network
                     call is made for them (the default when
                     LISTDIGEST_LLM_URL is not set)

Options of report:
  --format LIST      comma-separated: md, json, html (default: md); html is one
                     self-contained file (inline CSS and SVG, no script)
  --out DIR|-        directory for report.md / report.json / report.html, or -
                     for standard output with a single format (default: -)
  --jobs N           LLM requests in flight (default 4)
  --llm-timeout S    seconds for one LLM request, the whole answer (default
                     120; reasoning models send nothing until they are done)
  --mail-to ADDR[,ADDR]
                     also send the report by e-mail: the Markdown as text/plain
                     and the HTML, as multipart/alternative
  --smtp URL         the SMTP server (default: $LISTDIGEST_SMTP_URL, else
                     smtp://127.0.0.1:25); STARTTLS when offered; login with
                     LISTDIGEST_SMTP_USER / LISTDIGEST_SMTP_PASSWORD; the sender
                     is $LISTDIGEST_SMTP_FROM (default listdigest@localhost)

LLM summaries (any OpenAI-compatible server: OpenAI, DeepSeek, Qwen, Ollama,
llama.cpp, vLLM), configured by the environment:
  LISTDIGEST_LLM_URL    base URL, e.g. https://api.openai.com/v1 or
                        http://127.0.0.1:8080/v1
  LISTDIGEST_LLM_MODEL  the model name (required with a URL)
  LISTDIGEST_LLM_KEY    the API key (else OPENAI_API_KEY; none for local servers)
  LISTDIGEST_LLM_BUDGET tokens of a whole request, prompts and mail (default fits 32k);
                        bigger threads are summarised in parts, then merged
  LISTDIGEST_LLM_PRICE  "prompt,completion" US dollars per million tokens, for
                        the cost estimate (else the rules' prices)
  LISTDIGEST_LLM_PARAMS a JSON object merged into every request, e.g.
                        {"enable_thinking": false} (Qwen3); null drops a field
  LISTDIGEST_LLM_TIMEOUT as --llm-timeout
Summaries are cached in the store (--db): a re-run with nothing new makes no
LLM request.

Options of threads:
  --json             the threads as JSON instead of a table

Usage of run:
  listdigest run SCRIPT.lua [ARGS...]
                     runs SCRIPT with arg = {ARGS...}; require "listdigest" gives
                     the API (see examples/weekly-digest.lua)

  -h, --help         this help;  -V, --version  the version

Exit status: 0 report written; 1 bad usage or configuration (also a model
server that refuses the key or the model: no report); 2 source unreadable or
not mail; 3 report written but some threads not summarised; 130 / 143
stopped by SIGINT / SIGTERM while summarising (the answers that came are
kept; no report).
Set SOURCE_DATE_EPOCH to fix the report's generation time (reproducible output).
]]

local function fail(code, fmt, ...)
  io.stderr:write("listdigest: ", fmt:format(...), "\n")
  return code
end

local VALUE_OPTS = { source = true, rules = true, since = true, ["until"] = true, lang = true,
                     format = true, out = true, db = true, jobs = true, ["mail-to"] = true, smtp = true,
                     ["llm-timeout"] = true, timeout = true }
local FLAG_OPTS = { offline = true, json = true, help = true }
local ALLOWED = {
  report = { source = 1, rules = 1, since = 1, ["until"] = 1, lang = 1, offline = 1, format = 1, out = 1, db = 1,
             jobs = 1, ["mail-to"] = 1, smtp = 1, help = 1, ["llm-timeout"] = 1, timeout = 1 },
  threads = { source = 1, rules = 1, since = 1, ["until"] = 1, lang = 1, offline = 1, json = 1, db = 1, help = 1,
              timeout = 1 },
  fetch = { source = 1, rules = 1, since = 1, ["until"] = 1, db = 1, help = 1, timeout = 1 },
}

-- parse(cmd, args) -> opts | nil, message
local function parse(cmd, args)
  local opts, i = {}, 1
  while i <= #args do
    local a = args[i]
    local name, value = a:match("^%-%-([%w-]+)=(.*)$")
    name = name or a:match("^%-%-([%w-]+)$")
    if a == "-h" then name = "help" end
    if not name then return nil, ("unexpected argument '%s'"):format(a) end
    if not ALLOWED[cmd][name] then return nil, ("'%s' is not an option of %s (see --help)"):format(a, cmd) end
    if VALUE_OPTS[name] then
      if not value then
        i = i + 1
        value = args[i]
        if value == nil then return nil, ("--%s needs a value"):format(name) end
      end
      opts[name] = value
    elseif FLAG_OPTS[name] then
      if value then return nil, ("--%s takes no value"):format(name) end
      opts[name] = true
    end
    i = i + 1
  end
  return opts
end

-- Loads rules and resolves source and window; returns a config or nil, msg, code.
local function configure(opts)
  local rules_mod = require "listdigest.rules"
  local timeutil = require "listdigest.timeutil"
  local rules, err = rules_mod.load(opts.rules or "default", { root = build_info().root })
  if not rules then return nil, err, EXIT_USAGE end
  local source = opts.source or rules.source
  if not source then
    return nil, "no --source given and the rules file names none", EXIT_USAGE
  end
  local now = timeutil.now()
  local till, since = now, nil
  if opts["until"] then
    till, err = timeutil.parse(opts["until"], now)
    if not till then return nil, "--until: " .. err, EXIT_USAGE end
  end
  if opts.since then
    since, err = timeutil.parse(opts.since, till)
    if not since then return nil, "--since: " .. err, EXIT_USAGE end
  else
    since = till - 7 * 86400
  end
  if since >= till then
    return nil, ("--since %s is not before --until %s"):format(timeutil.rfc3339(since), timeutil.rfc3339(till)),
      EXIT_USAGE
  end
  local lang = opts.lang or rules.language or "en"
  if lang ~= "zh" and lang ~= "en" then return nil, "--lang: '" .. lang .. "' is not zh or en", EXIT_USAGE end
  local timeout = opts.timeout and tonumber(opts.timeout)
  if opts.timeout and not (timeout and timeout > 0 and timeout <= 86400) then
    return nil, ("--timeout %s: give a number of seconds above 0"):format(opts.timeout), EXIT_USAGE
  end
  return { rules = rules, source = source, window = { since = since, ["until"] = till }, lang = lang,
           db = opts.db, timeout = timeout }
end

-- The model's settings from the environment and --jobs; nil when summaries
-- are extractive (--offline, or no LISTDIGEST_LLM_URL).
local function llm_config(opts)
  local url = os.getenv("LISTDIGEST_LLM_URL")
  if opts.offline or not url or url == "" then return nil end
  if not url:match("^https?://") then
    return nil, ("LISTDIGEST_LLM_URL=%s is not an http(s) URL"):format(url)
  end
  local model = os.getenv("LISTDIGEST_LLM_MODEL")
  if not model or model == "" then
    return nil, "LISTDIGEST_LLM_URL is set but LISTDIGEST_LLM_MODEL is not: name the model to use"
  end
  local jobs = 4
  if opts.jobs then
    jobs = tonumber(opts.jobs)
    if not jobs or jobs < 1 or jobs > 64 or jobs % 1 ~= 0 then
      return nil, ("--jobs %s: give a whole number from 1 to 64"):format(opts.jobs)
    end
  end
  local budget = os.getenv("LISTDIGEST_LLM_BUDGET")
  if budget and budget ~= "" then
    budget = tonumber(budget)
    if not budget or budget < 1000 then
      return nil, "LISTDIGEST_LLM_BUDGET must be a number of tokens of at least 1000"
    end
  else
    budget = nil
  end
  local timeout = opts["llm-timeout"] or os.getenv("LISTDIGEST_LLM_TIMEOUT")
  if timeout and timeout ~= "" then
    local t = tonumber(timeout)
    if not t or t <= 0 or t > 86400 then
      return nil, ("--llm-timeout %s: give a number of seconds above 0"):format(timeout)
    end
    timeout = t
  else
    timeout = 120
  end
  local params
  local penv = os.getenv("LISTDIGEST_LLM_PARAMS")
  if penv and penv ~= "" then
    local ok, v = pcall(require("listdigest.json").decode, penv)
    if not ok or type(v) ~= "table" or (next(v) ~= nil and v[1] ~= nil) or penv:match("^%s*%[") then
      return nil, 'LISTDIGEST_LLM_PARAMS must be a JSON object, such as {"enable_thinking": false}'
    end
    params = v
  end
  return { url = url, model = model, jobs = math.tointeger(jobs), timeout = timeout, temperature = 0.2,
           max_tokens = 1500, budget = budget, params = params }
end

-- Writes data to path through a temporary file and a rename, so a reader
-- never sees half a report.
local function write_atomic(path, data)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(data)
  local cok, cerr = f:close()
  if not ok or not cok then
    os.remove(tmp)
    return nil, path .. ": " .. tostring(werr or cerr)
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then
    os.remove(tmp)
    return nil, rerr
  end
  return true
end

local FORMATS = {
  md = { layout = "markdown", file = "report.md" },
  json = { layout = "json", file = "report.json" },
  html = { layout = "html", file = "report.html" },
}

-- Sends the report (Markdown and HTML) to --mail-to through --smtp.
function M.mail(report, cfg, opts)
  local mailout = require "listdigest.mailout"
  local render = require "listdigest.render"
  local to = {}
  for a in opts["mail-to"]:gmatch("[^,%s]+") do to[#to + 1] = a end
  if #to == 0 then return nil, "--mail-to names no address" end
  local url = opts.smtp or os.getenv("LISTDIGEST_SMTP_URL") or "smtp://127.0.0.1:25"
  if not url:match("^smtps?://") then return nil, ("--smtp %s is not an smtp:// or smtps:// URL"):format(url) end
  local from = os.getenv("LISTDIGEST_SMTP_FROM") or "listdigest@localhost"
  local subject = ("%s %s %s .. %s"):format((report.list or ""):upper(),
    report.lang == "zh" and "邮件列表周报" or "mailing list report",
    report.window.since:sub(1, 10), report.window["until"]:sub(1, 10))
  local ok, raw = pcall(mailout.compose, { from = from, to = to, subject = subject,
    text = render.render(report, "markdown", cfg.rules), html = render.render(report, "html", cfg.rules) })
  if not ok then return nil, tostring(raw) end
  return mailout.send { url = url, from = from, to = to, raw = raw }
end

local function cmd_report(opts)
  local formats = {}
  for f in (opts.format or "md"):gmatch("[^,%s]+") do
    if not FORMATS[f] then return fail(EXIT_USAGE, "--format: unknown format '%s' (md, json, html)", f) end
    formats[#formats + 1] = f
  end
  if #formats == 0 then return fail(EXIT_USAGE, "--format: no format given") end
  local out = opts.out or "-"
  if out == "-" and #formats > 1 then
    return fail(EXIT_USAGE, "--out -: standard output takes one format; give --out DIR for %s", opts.format)
  end
  local cfg, err, code = configure(opts)
  if not cfg then return fail(code, "%s", err) end
  local lerr
  cfg.llm, lerr = llm_config(opts)
  if lerr then return fail(EXIT_USAGE, "%s", lerr) end
  if out ~= "-" then
    local ok = os.execute("mkdir -p '" .. out:gsub("'", "'\\''") .. "'")
    if not ok then return fail(EXIT_USAGE, "--out %s: cannot create the directory", out) end
  end
  local pipeline = require "listdigest.pipeline"
  local report, perr, pcode = pipeline.run(cfg)
  if not report then return fail(pcode or EXIT_SOURCE, "%s", perr) end
  local render = require "listdigest.render"
  for _, f in ipairs(formats) do
    local text = render.render(report, FORMATS[f].layout, cfg.rules)
    if out == "-" then
      io.stdout:write(text)
    else
      local path = out .. "/" .. FORMATS[f].file
      local ok, werr = write_atomic(path, text)
      if not ok then return fail(EXIT_USAGE, "cannot write %s: %s", path, werr) end
      io.stderr:write(("listdigest: wrote %s (%d threads, %d messages)\n"):format(
        path, report.stats.threads, report.stats.messages))
    end
  end
  if opts["mail-to"] then
    local ok, merr = M.mail(report, cfg, opts)
    if not ok then return fail(EXIT_SOURCE, "the report was written but not mailed: %s", merr) end
  end
  local failed = report.cost.failed or 0
  if failed > 0 then
    io.stderr:write(("listdigest: %d of %d threads could not be summarised (marked in the report)\n")
      :format(failed, #report.threads))
    return EXIT_PARTIAL
  end
  return EXIT_OK
end

local function cmd_threads(opts)
  local cfg, err, code = configure(opts)
  if not cfg then return fail(code, "%s", err) end
  local pipeline = require "listdigest.pipeline"
  local report, perr, pcode, ctx
  -- threads shows no summary: none is made (and no model is asked)
  cfg.llm, cfg.summaries = nil, false
  report, perr, pcode = pipeline.run(cfg)
  if not report then return fail(pcode or EXIT_SOURCE, "%s", perr) end
  ctx = perr
  local view = require "listdigest.threadview"
  io.stdout:write(opts.json and view.json(report, ctx) or view.text(report, ctx))
  return EXIT_OK
end

local function cmd_fetch(opts)
  local cfg, err, code = configure(opts)
  if not cfg then return fail(code, "%s", err) end
  local source = require "listdigest.source"
  if source.kind(cfg.source) ~= "url" then
    return fail(EXIT_USAGE, "fetch: --source %s is not a public-inbox URL", cfg.source)
  end
  local summary, st
  summary, st, code = source.fetch(cfg.source, { db = cfg.db, window = cfg.window, list = cfg.rules.list,
                                                 list_ids = cfg.rules.list_ids, timeout = cfg.timeout })
  if not summary then return fail(code or EXIT_SOURCE, "%s", st) end
  io.stdout:write(("%d messages in the window query (%d new), %d threads completed; %d requests, %d bytes; store %s\n")
    :format(summary.window_hits or 0, summary.new or 0, summary.completed_threads or 0, summary.requests or 0,
            summary.bytes or 0, st.path or cfg.db or source.default_db()))
  st:close()
  return EXIT_OK
end

local function cmd_run(args)
  local script = args[1]
  if not script then return fail(EXIT_USAGE, "run: which script? (listdigest run SCRIPT.lua [ARGS...])") end
  local chunk, err = loadfile(script)
  if not chunk then return fail(EXIT_USAGE, "%s", err) end
  local sargs = { [0] = script }
  for i = 2, #args do sargs[i - 1] = args[i] end
  _G.arg = sargs
  local res = chunk(table.unpack(sargs))
  if math.type(res) == "integer" then return res end
  return EXIT_OK
end

-- main(argv) -> exit status.
function M.main(argv)
  local cmd = argv[1]
  if cmd == nil or cmd == "-h" or cmd == "--help" or cmd == "help" then
    io.stdout:write(M.HELP)
    return cmd == nil and EXIT_USAGE or EXIT_OK
  end
  if cmd == "-V" or cmd == "--version" then
    io.stdout:write("listdigest ", build_info().version, "\n")
    return EXIT_OK
  end
  local rest = table.move(argv, 2, #argv, 1, {})
  if cmd == "run" then return cmd_run(rest) end
  if not ALLOWED[cmd] then return fail(EXIT_USAGE, "unknown command '%s' (see listdigest --help)", cmd) end
  local opts, err = parse(cmd, rest)
  if not opts then return fail(EXIT_USAGE, "%s", err) end
  if opts.help then
    io.stdout:write(M.HELP)
    return EXIT_OK
  end
  if cmd == "report" then return cmd_report(opts) end
  if cmd == "fetch" then return cmd_fetch(opts) end
  return cmd_threads(opts)
end

return M
