-- Replays pre-signed request bodies (one JSON object per line of $BODIES), each once.
-- Signing happens before the run, so the load generator costs the server nothing extra.
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  bodies = {}
  local threads = tonumber(os.getenv("WRK_THREADS") or "1")
  local n = 0
  for line in io.lines(os.getenv("BODIES")) do
    if n % threads == tid then
      bodies[#bodies + 1] = line
    end
    n = n + 1
  end
  idx = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  idx = idx + 1
  if idx > #bodies then
    idx = 1
  end
  return wrk.format(nil, nil, nil, bodies[idx])
end
