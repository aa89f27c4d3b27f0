-- Shared by the wrk scripts that scripts/bench-api.sh runs: the mentor ids, the request headers,
-- and a count of non-2xx responses over all threads.
--
-- wrk runs the script once per thread (each in its own Lua state, calling init/request/response)
-- and once more in a main state (calling setup/done); values cross between them only through
-- thread:set/thread:get.

local common = {}

-- Every thread, in the main state, so done() can read their counters.
local threads = {}

-- Read in every thread state: responses with a status outside 200–299, and the last such status.
non2xx = 0
last_non2xx_status = 0

-- The ids file has one mentor id per line (psql -At output).
function common.read_ids(path)
  assert(path, "pass the ids file after --, e.g. wrk ... -- ids.txt")
  local ids = {}
  for line in io.lines(path) do
    if line ~= "" then
      ids[#ids + 1] = line
    end
  end
  assert(#ids > 0, "no mentor ids in " .. path)
  return ids
end

-- The bearer token comes from the environment, so it never appears on a command line.
function common.headers(extra)
  local token = assert(os.getenv("BENCH_TOKEN"), "set BENCH_TOKEN to an API token")
  local headers = { ["Authorization"] = "Bearer " .. token }
  for name, value in pairs(extra or {}) do
    headers[name] = value
  end
  return headers
end

-- Numbers the threads 0, 1, … (the global `index` in each thread state) before they start.
function common.setup(thread)
  thread:set("index", #threads)
  threads[#threads + 1] = thread
end

function common.response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    last_non2xx_status = status
  end
end

function common.done(summary, latency, requests)
  local count, status = 0, 0
  for _, thread in ipairs(threads) do
    count = count + thread:get("non2xx")
    if thread:get("last_non2xx_status") ~= 0 then
      status = thread:get("last_non2xx_status")
    end
  end
  local detail = count > 0 and string.format(" (last one: HTTP %d)", status) or ""
  io.write(string.format("non-2xx responses: %d of %d%s\n", count, summary.requests, detail))
end

return common
