-- Replays pre-built requests, each once (bench/load.py writes them):
--   one per line: METHOD <tab> PATH <tab> HEADERS <tab> BODY, headers "Name: value"
--   separated by 0x1f. The file is the script's first argument (wrk ... -- FILE).
-- Requests are formatted once in init(), so request() costs the load generator nothing.
-- If a run outlasts the file it starts over; the repeats are refused (replayed nonce or
-- order already paid) and show up as non-2xx responses, never as silent extra throughput.

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
end

function request()
  idx = idx + 1
  if idx > #requests then
    idx = 1
  end
  return requests[idx]
end
