-- Replays pre-built requests, each once (bench/load.py writes them):
--   one per line: METHOD <tab> PATH <tab> HEADERS <tab> BODY, headers "Name: value"
--   separated by 0x1f. The file is the script's first argument (wrk ... -- FILE).
-- Requests are formatted once in init(), so request() costs the load generator nothing.
-- If a run outlasts the file it starts over; the repeats would be refused (replayed nonce,
-- order already paid), so done() reports how many were sent ("replay: repeated N") and
-- bench/load.py treats such a run as too short a file, never as throughput.
-- With PAYMUX_BENCH_RECORD=1 in the environment every response that is not 2xx is counted by
-- status and the first body of each status is kept ("replay: status S N BODY"), so a failed
-- run says what the server answered. Off for the bare baseline: parsing every response into
-- Lua costs the single wrk thread time that a 20,000 req/s echo would notice.

local record = os.getenv("PAYMUX_BENCH_RECORD") == "1"
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  requests = {}
  for line in io.lines(args[1]) do
    local method, path, head, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {}
    for item in head:gmatch("[^\31]+") do
      local name, value = item:match("^([^:]+): (.*)$")
      headers[name] = value
    end
    if body == "" then
      body = nil
    end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  idx = 0
  repeated = 0
  failures = {}
  bodies = {}
end

function request()
  idx = idx + 1
  if idx > #requests then
    repeated = repeated + 1
    return requests[(idx - 1) % #requests + 1]
  end
  return requests[idx]
end

if record then
  function response(status, headers, body)
    if status >= 300 then
      failures[status] = (failures[status] or 0) + 1
      if bodies[status] == nil then
        bodies[status] = (body or ""):gsub("[\r\n\t]", " "):sub(1, 300)
      end
    end
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("replay: repeated %d\n", thread:get("repeated")))
    local bodies = thread:get("bodies")
    for status, count in pairs(thread:get("failures")) do
      io.write(string.format("replay: status %d %d %s\n", status, count, bodies[status]))
    end
  end
end
