#!/usr/bin/env python3
"""A parallel request processor in the style users reach for instead of vj
(the pattern of the OpenAI cookbook's api_request_parallel_processor,
written here from its description, stdlib only):

- a request capacity that starts full at --rpm and refills at --rpm per
  minute, capped at --rpm; a request goes out whenever a unit is there;
- no cap on requests in flight (a thread per request in flight);
- after a 429, no new request for --pause seconds (15) after the last one;
- a failed request goes back on a retry queue that is served first, up to
  --attempts tries (5), then it is given up.

It sends N chat requests (OpenAI wire format, or Gemini generateContent)
to --url and prints one JSON line: wall seconds, requests, 429s, given up.
For scripts/bench/limiter.sh; loopback fakes only.
"""
import argparse
import collections
import http.client
import json
import threading
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--format", choices=("openai", "gemini"), default="openai")
    ap.add_argument("--rpm", type=float, required=True)
    ap.add_argument("-n", type=int, default=900)
    ap.add_argument("--pause", type=float, default=15.0)
    ap.add_argument("--attempts", type=int, default=5)
    a = ap.parse_args()

    u = urllib.parse.urlsplit(a.url)
    host, port = u.hostname, u.port or 80
    if a.format == "openai":
        path = "/v1/chat/completions"
        headers = {"Content-Type": "application/json", "Authorization": "Bearer bench"}
        body = lambda i: json.dumps({"model": "deepseek-chat", "messages": [
            {"role": "user", "content": "Write a caption for image %d." % i}]})
    else:
        path = "/v1beta/models/gemini-2.5-flash:generateContent"
        headers = {"Content-Type": "application/json", "x-goog-api-key": "bench"}
        body = lambda i: json.dumps({"contents": [
            {"role": "user", "parts": [{"text": "Write a caption for image %d." % i}]}]})

    lock = threading.Lock()
    retry = collections.deque()
    todo = collections.deque((i, a.attempts) for i in range(a.n))
    st = {"sent": 0, "ok": 0, "r429": 0, "other": 0, "gave_up": 0, "last429": 0.0,
          "inflight": 0}
    local = threading.local()

    def conn():
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = http.client.HTTPConnection(host, port, timeout=120)
        return c

    def call(job):
        i, left = job
        h = dict(headers)
        h["X-VJ-Job"] = "cb%d" % i
        status = 0
        try:
            c = conn()
            c.request("POST", path, body(i), h)
            r = c.getresponse()
            r.read()
            status = r.status
        except (OSError, http.client.HTTPException):
            local.c = None
        with lock:
            st["inflight"] -= 1
            if status == 200:
                st["ok"] += 1
                return
            if status == 429:
                st["r429"] += 1
                st["last429"] = time.monotonic()
            else:
                st["other"] += 1
            if left > 1:
                retry.append((i, left - 1))
            else:
                st["gave_up"] += 1

    t0 = time.monotonic()
    cap, last = a.rpm, t0
    while True:
        now = time.monotonic()
        cap = min(a.rpm, cap + a.rpm * (now - last) / 60.0)
        last = now
        with lock:
            finished = not todo and not retry and st["inflight"] == 0
            paused = now - st["last429"] < a.pause
            job = None
            if not finished and not paused and cap >= 1:
                if retry:
                    job = retry.popleft()
                elif todo:
                    job = todo.popleft()
                if job:
                    st["inflight"] += 1
                    st["sent"] += 1
        if finished:
            break
        if job:
            cap -= 1
            threading.Thread(target=call, args=(job,), daemon=True).start()
        else:
            time.sleep(0.001)
    st["wall"] = round(time.monotonic() - t0, 2)
    del st["last429"], st["inflight"]
    print(json.dumps(st))


if __name__ == "__main__":
    main()
