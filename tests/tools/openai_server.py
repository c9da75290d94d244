#!/usr/bin/env python3
"""OpenAI-protocol chat-completions server for listdigest's LLM specs and benchmark.

Usage: openai_server.py [--personality P] [--key K] [--echo-auth] [--latency MS]
         [--models A,B] [--formats T,...] [--text fenced|prose|json] [--plan N:FAULT,...]
         [--stall S] [--retry-after S] [--port N] [--lifetime S]
Listens on 127.0.0.1 only (port 0 = any free port), prints the port on stdout
line 1 and exits by itself after --lifetime seconds (default 300) or on SIGTERM.
Python 3 standard library only.

Strict like the real API: only POST /v1/chat/completions and GET /v1/models;
Content-Type must be application/json, the body must parse, model (a known one,
--models, default gpt-4o-mini,test-model) and messages (non-empty, role
system|user|assistant, content a string) are required, any top-level parameter
but model, messages, temperature, max_tokens, response_format, top_p, n, stop,
seed is a 400 "Unrecognized request argument supplied: X". With --key, requests
need "Authorization: Bearer K" (401 otherwise; --echo-auth puts the header
received into the 401 message, as some providers do).

Personalities (P, default openai) differ like the real servers (see
shared/notes/llm-providers.md): accepted response_format types (--formats
overrides), error body shapes, the "json" word rule, extra response fields.
  openai   text/json_object/json_schema; json_object needs "json" in messages
  deepseek text/json_object (json_schema: 400 "This response_format type is
           unavailable now"); "json" rule; unknown model 400; x-ds-trace-id
  qwen     all three; "json" rule; InvalidParameter errors
  ollama   ignores response_format: always answers text (see --text)
  llamacpp text/json_object (400 'response_format type must be one of ...'); any model
  vllm     all three; stop_reason, prompt_logprobs; 401 body {"error":"Unauthorized"}

The answer is deterministic: {"text": "Summary of: <first line of the first user
message>", "points": ["<TERM>: <expansion>" for each glossary-looking line
"TERM: ..." / "- TERM = ..." in the messages, sorted], "conclusion": ...,
"open_questions": []}; as JSON text in an honoured json mode, else per --text:
fenced (prose, then the JSON in a ```json fence; default), prose (no JSON), json.
usage.prompt_tokens = ceil(characters of all message contents / 4),
completion_tokens = ceil(characters of the content / 4).

Faults: a marker FAULT:<kind>[:<K>][:<tag>] in any message applies to the first
K attempts carrying that exact marker (no K: all); --plan 3:500,7:reset applies
to the Nth chat request. Kinds: 429 (Retry-After: --retry-after, default 1),
500, 502, 503, timeout (sleep --stall seconds, default 3, before answering),
reset (close without answering), nonjson (an HTML 200), truncated
(Content-Length beyond the bytes sent, then close), cutjson (the JSON body cut
in half, length matching), empty (content ""), blank (content of blank lines),
length (finish_reason "length"), filter (finish_reason "content_filter"),
prose (a prose answer whatever the mode), shape (a JSON object of another
shape: {"summary": ..., "bullets": [...]}, as a json_object server may give),
think (the answer after a "<think>" block holding a decoy JSON object, as a
reasoning model without a reasoning parser sends), thinkcut (only an
unfinished "<think>" block).

--reasoning: like OpenAI's reasoning models, a 400 for max_tokens ("Use
'max_completion_tokens' instead") and for a temperature other than 1.
--thinking-off: like Qwen3 open models, a 400 unless enable_thinking is false
(the qwen personality accepts enable_thinking).

Control: GET /_stats -> {requests, in_flight, max_in_flight, markers: {marker:
attempts}, log: [{n, status, fault, format, headers, body}]} (body parsed if JSON);
POST /_reset clears them and applies a JSON body of settings (the long option
names with "_" for "-": {"personality": "deepseek", "latency": 300}).
"""
import argparse
import json
import math
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ALLOWED = {"model", "messages", "temperature", "max_tokens", "response_format",
           "top_p", "n", "stop", "seed", "max_completion_tokens"}
FORMATS = {"openai": "text,json_object,json_schema", "deepseek": "text,json_object",
           "qwen": "text,json_object,json_schema", "ollama": "*",
           "llamacpp": "text,json_object", "vllm": "text,json_object,json_schema"}
JSON_WORD = {"openai", "deepseek", "qwen"}
MARKER = re.compile(r"FAULT:([a-z0-9]+)(?::(\d+))?(?::([\w-]+))?")
GLOSS = re.compile(r"^\s*[-*]?\s*([A-Z][A-Z0-9]{1,15})\s*[:=]\s*(\S.*?)\s*$", re.M)
LOCK = threading.Lock()
STATE = {"requests": 0, "in_flight": 0, "max_in_flight": 0, "markers": {}, "log": []}
CONF, DEFAULTS, GEN = {}, {}, [0]


def error_body(p, status, message, etype="invalid_request_error", code=None, param=None):
    """The personality's shape of an error body."""
    if p == "llamacpp":
        return {"error": {"code": status, "message": message, "type": etype}}
    if p == "vllm":
        return {"error": {"message": message, "type": etype, "param": param, "code": status}}
    if p == "qwen":
        return {"error": {"code": code or "invalid_parameter_error", "param": param,
                          "message": message, "type": etype},
                "id": "chatcmpl-" + str(uuid.uuid4()), "request_id": str(uuid.uuid4())}
    if p == "deepseek":
        code = "invalid_request_error"
    return {"error": {"message": message, "type": etype, "param": param, "code": code}}


def refusal(p, kind):
    """Message for a response_format type the personality does not take."""
    return {"openai": "Invalid value: '%s'. Supported values are: 'json_object', 'json_schema', "
                      "and 'text'." % kind,
            "deepseek": "This response_format type is unavailable now",
            "qwen": "<400> InternalError.Algo.InvalidParameter: 'response_format.type' "
                    "%s is not supported" % kind,
            "llamacpp": 'response_format type must be one of "text" or "json_object", but got: '
                        + kind,
            "vllm": "1 validation error for ChatCompletionRequest\nresponse_format.type\n  "
                    "Input should be 'text', 'json_object' or 'json_schema' [type=literal_error, "
                    "input_value='%s', input_type=str]" % kind}.get(p, "unsupported " + kind)


def answer(body):
    msgs = body["messages"]
    user = next((m["content"] for m in msgs if m["role"] == "user"), "")
    first = (user.strip().splitlines() or [""])[0][:200]
    text = "\n".join(m["content"] for m in msgs)
    points = sorted({"%s: %s" % (t, e) for t, e in GLOSS.findall(text) if t != "FAULT"})
    return {"text": "Summary of: " + first, "points": points or ["No glossary lines seen."],
            "conclusion": "A deterministic stub answer.", "open_questions": []}


def tokens(s):
    return int(math.ceil(len(s) / 4))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openai_server/1"

    def log_message(self, fmt, *args):  # quiet: specs read our stdout
        pass

    def send(self, status, obj, headers=(), raw=None, ctype="application/json"):
        data = raw if raw is not None else json.dumps(obj).encode()
        if getattr(self, "entry", None):
            self.entry["status"] = status  # before the client can read it and ask /_stats
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return status

    def fail(self, status, message, **kw):
        return self.send(status, error_body(CONF["personality"], status, message, **kw))

    def do_GET(self):
        self.entry = None  # one handler serves every request of a connection
        if self.path == "/_stats":
            with LOCK:
                return self.send(200, STATE)
        if self.path == "/v1/models":
            if CONF["personality"] != "llamacpp" and not self.authorized():
                return self.unauthorized()
            return self.send(200, {"object": "list", "data": [
                {"id": m, "object": "model", "owned_by": "stub"} for m in CONF["models"]]})
        return self.fail(404, "Not found: " + self.path, etype="not_found_error")

    def do_POST(self):
        self.entry = None
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_reset":
            with LOCK:
                # handlers still asleep from before count no more
                STATE.update(requests=0, in_flight=0, max_in_flight=0, markers={}, log=[])
                GEN[0] += 1
                settings = json.loads(raw or b"{}")
                if "formats" in settings:
                    settings["formats_override"] = settings.pop("formats")
                CONF.clear()
                CONF.update(DEFAULTS, **settings)
                configure()
            return self.send(200, {"ok": True})
        if self.path != "/v1/chat/completions":
            return self.fail(404, "Not found: " + self.path, etype="not_found_error")
        entry = {"headers": {k.lower(): v for k, v in self.headers.items()}, "status": None,
                 "body": raw.decode("utf-8", "replace"), "fault": None, "format": None}
        with LOCK:
            gen = GEN[0]
            STATE["requests"] += 1
            entry["n"] = STATE["requests"]
            STATE["in_flight"] += 1
            STATE["max_in_flight"] = max(STATE["max_in_flight"], STATE["in_flight"])
            STATE["log"].append(entry)
        self.entry = entry
        try:
            entry["status"] = self.chat(raw, entry)
        finally:
            with LOCK:
                STATE["in_flight"] -= gen == GEN[0]

    def authorized(self):
        return not CONF["key"] or self.headers.get("Authorization") == "Bearer " + CONF["key"]

    def unauthorized(self):
        p, got = CONF["personality"], self.headers.get("Authorization", "(none)")
        echo = " (received: %s)" % got if CONF["echo_auth"] else ""
        if p == "vllm":
            return self.send(401, {"error": "Unauthorized" + echo})
        msg = {"deepseek": "Authentication Fails, Your api key: ****%s is invalid" % got[-4:],
               "llamacpp": "Invalid API Key"}.get(p, "Incorrect API key provided.")
        etype = "authentication_error" if p in ("deepseek", "llamacpp") else "invalid_request_error"
        return self.fail(401, msg + echo, etype=etype, code="invalid_api_key")

    def chat(self, raw, entry):
        p = CONF["personality"]
        time.sleep(CONF["latency"] / 1000)
        if not self.authorized():
            return self.unauthorized()
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return self.fail(400, "Unsupported Media Type: Only 'application/json' is allowed")
        try:
            body = json.loads(raw)
            entry["body"] = body
        except ValueError as e:
            return self.fail(400, "We could not parse the JSON body of your request. (%s)" % e)
        if not isinstance(body, dict):
            return self.fail(400, "The request body must be a JSON object.")
        for k in body:
            if k not in ALLOWED and not (k == "enable_thinking" and p == "qwen"):
                return self.fail(400, "Unrecognized request argument supplied: " + k)
        if CONF["reasoning"]:  # OpenAI's reasoning models
            if "max_tokens" in body:
                return self.fail(400, "Unsupported parameter: 'max_tokens' is not supported with this "
                                 "model. Use 'max_completion_tokens' instead.", code="unsupported_parameter",
                                 param="max_tokens")
            if "temperature" in body and body["temperature"] != 1:
                return self.fail(400, "Unsupported value: 'temperature' does not support %s with this "
                                 "model. Only the default (1) value is supported." % body["temperature"],
                                 code="unsupported_value", param="temperature")
        if CONF["thinking_off"] and body.get("enable_thinking") is not False:  # Qwen3 open models
            return self.fail(400, "parameter.enable_thinking must be set to false for non-streaming calls",
                             code="invalid_parameter_error")
        msgs = body.get("messages")
        if not isinstance(body.get("model"), str):
            return self.fail(400, "you must provide a model parameter", param="model")
        if not isinstance(msgs, list) or not msgs:
            return self.fail(400, "'messages' must be a non-empty array", param="messages")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") \
                    or not isinstance(m.get("content"), str) or set(m) - {"role", "content", "name"}:
                return self.fail(400, "Invalid value for 'messages[%d]'" % i, param="messages")
        mt, t = body.get("max_tokens", 1), body.get("temperature", 1)
        if type(mt) is not int or mt < 1 or type(t) not in (int, float) or not 0 <= t <= 2:
            return self.fail(400, "max_tokens must be at least 1, temperature in [0, 2]")
        model = body["model"]
        if p != "llamacpp" and model not in CONF["models"]:
            if p == "deepseek":
                return self.fail(400, "Model Not Exist")
            return self.fail(404, "The model `%s` does not exist or you do not have access to it."
                             % model, etype="not_found_error", code="model_not_found", param="model")
        rf = body.get("response_format")
        kind = rf.get("type") if isinstance(rf, dict) else ("text" if rf is None else None)
        entry["format"] = kind
        accepted = CONF["formats"]
        if accepted != "*":
            if kind not in accepted.split(","):
                return self.fail(400, refusal(p, str(kind)), code="invalid_value",
                                 param="response_format.type")
            if kind == "json_schema":
                js = rf.get("json_schema")
                if not isinstance(js, dict) or not isinstance(js.get("name"), str) \
                        or not isinstance(js.get("schema"), dict):
                    return self.fail(400, "Missing required parameter: "
                                     "'response_format.json_schema.name' or '.schema'",
                                     param="response_format.json_schema")
        text = "\n".join(m["content"] for m in msgs)
        if kind == "json_object" and p in JSON_WORD and "json" not in text.lower():
            return self.fail(400, "'messages' must contain the word 'json' in some form, to use "
                             "'response_format' of type 'json_object'.", param="messages")
        fault = self.fault(text, entry["n"])
        entry["fault"] = fault
        return self.reply(body, kind if accepted != "*" else "text", fault)

    def fault(self, text, n):
        """The fault this attempt gets, if any: a marker, else the plan."""
        for m in MARKER.finditer(text):
            with LOCK:
                seen = STATE["markers"][m.group(0)] = STATE["markers"].get(m.group(0), 0) + 1
            if not m.group(2) or seen <= int(m.group(2)):
                return m.group(1)
        return CONF["plan"].get(n)

    def reply(self, body, mode, fault):
        p = CONF["personality"]
        if fault in ("429", "500", "502", "503"):
            status = int(fault)
            hdrs = [("Retry-After", str(CONF["retry_after"]))] if status == 429 else []
            msg = {429: "Rate limit reached for requests", 500: "The server had an error",
                   502: "Bad gateway", 503: "The engine is currently overloaded"}[status]
            return self.send(status, error_body(p, status, msg, etype="server_error"), hdrs)
        if fault == "timeout":
            time.sleep(CONF["stall"])
        if fault == "reset":  # RST instead of an answer
            self.entry["status"] = 0
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return 0
        if fault == "nonjson":
            return self.send(200, None, raw=b"<html>502 Bad Gateway</html>", ctype="text/html")
        obj = answer(body)
        js = json.dumps(obj, ensure_ascii=False)
        if fault == "shape":  # valid JSON, but not the object asked for
            js = json.dumps({"summary": obj["text"], "bullets": obj["points"]}, ensure_ascii=False)
        if fault == "prose" or (mode == "text" and CONF["text"] == "prose"):
            content = "Summary of the thread: %s. Nothing more to add." % obj["text"]
        elif mode == "text" and CONF["text"] == "fenced":
            content = "Here is the summary you asked for:\n\n```json\n%s\n```\n" % js
        else:
            content = ("\n\n" if p == "deepseek" else "") + js
        if fault == "think":  # a reasoning model without a reasoning parser, with a decoy inside
            content = ('<think>\nThe user wants JSON. Maybe {"text": "decoy from the thinking"}?\n'
                       'Let me answer properly.\n</think>\n\n' + content)
        elif fault == "thinkcut":  # cut inside the thinking
            content = '<think>\nStill thinking about {"text": "decoy"} and more'
        finish = {"length": "length", "filter": "content_filter"}.get(fault, "stop")
        content = {"empty": "", "blank": "\n\n  \n", "length": content[:len(content) // 2]}.get(
            fault, content)
        prompt = tokens("".join(m["content"] for m in body["messages"]))
        usage = {"prompt_tokens": prompt, "completion_tokens": tokens(content),
                 "total_tokens": prompt + tokens(content)}
        choice = {"index": 0, "message": {"role": "assistant", "content": content},
                  "finish_reason": finish}
        res = {"id": "chatcmpl-%d" % STATE["requests"], "object": "chat.completion",
               "created": int(time.time()), "model": body["model"], "choices": [choice],
               "usage": usage}
        hdrs = []
        if p == "openai":
            res.update(system_fingerprint="fp_stub", service_tier="default")
            choice["logprobs"] = None
            choice["message"].update(refusal=None, annotations=[])
            usage.update(prompt_tokens_details={"cached_tokens": 0, "audio_tokens": 0},
                         completion_tokens_details={"reasoning_tokens": 0})
        elif p == "deepseek":
            res.update(id=str(uuid.uuid4()), system_fingerprint="fp_8802369eaa_prod0623_fp8_kvcache")
            usage.update(prompt_cache_hit_tokens=0, prompt_cache_miss_tokens=prompt,
                         prompt_tokens_details={"cached_tokens": 0})
            hdrs.append(("x-ds-trace-id", uuid.uuid4().hex))
        elif p == "qwen":
            res.update(system_fingerprint=None, service_tier=None)
            usage["prompt_tokens_details"] = {"cached_tokens": 0}
        elif p == "ollama":
            res.update(id="chatcmpl-%d" % (STATE["requests"] % 999), system_fingerprint="fp_ollama")
        elif p == "llamacpp":
            res.update(system_fingerprint="b6000-stub", timings={
                "prompt_n": prompt, "prompt_ms": 1.5, "predicted_n": usage["completion_tokens"],
                "predicted_ms": 2.5, "predicted_per_second": 400.0})
            usage["prompt_tokens_details"] = {"cached_tokens": 0}
        elif p == "vllm":
            res.update(prompt_logprobs=None, kv_transfer_params=None)
            choice.update(stop_reason=None, logprobs=None)
            usage["prompt_tokens_details"] = None
        data = json.dumps(res, ensure_ascii=False).encode()
        if fault == "cutjson":
            return self.send(200, None, hdrs, raw=data[:len(data) // 2])
        if fault == "truncated":
            self.entry["status"] = 200
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data) + 100))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            self.close_connection = True
            return 200
        return self.send(200, res, hdrs)


def configure():
    """Normalises CONF after the command line or a /_reset."""
    if isinstance(CONF.get("models"), str):
        CONF["models"] = CONF["models"].split(",")
    CONF["formats"] = CONF.get("formats_override") or FORMATS[CONF["personality"]]
    if isinstance(CONF.get("plan"), str):
        CONF["plan"] = {int(n): k for n, _, k in
                        (item.partition(":") for item in CONF["plan"].split(",") if item)}


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a stalled handler must not keep us alive
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        pass  # clients that give up (timeouts) are the point here


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--personality", choices=sorted(FORMATS), default="openai")
    ap.add_argument("--key", default="")
    ap.add_argument("--echo-auth", action="store_true")
    ap.add_argument("--latency", type=float, default=0, help="milliseconds per request")
    ap.add_argument("--models", default="gpt-4o-mini,test-model")
    ap.add_argument("--formats", dest="formats_override", default="")
    ap.add_argument("--text", choices=["fenced", "prose", "json"], default="fenced")
    ap.add_argument("--plan", default="")
    ap.add_argument("--stall", type=float, default=3)
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=300)
    ap.add_argument("--reasoning", action="store_true")
    ap.add_argument("--thinking-off", action="store_true")
    args = ap.parse_args()
    DEFAULTS.update(vars(args))
    CONF.update(DEFAULTS)
    configure()
    server = Server(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)

    def stop(*_):
        os._exit(0)  # handlers may be asleep; do not wait for them

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Timer(args.lifetime, stop).start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
