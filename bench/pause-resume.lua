-- The pause/resume cycle: POST /api/v1/mentors/{id}/pause {"reason":"bench"}, later
-- POST /api/v1/mentors/{id}/resume. Each thread owns every THREADS-th id and walks its slice in
-- order, pausing all of it, then resuming all of it, and again. A slice is far longer than the
-- requests a thread has in flight, so no two in-flight requests ever touch the same mentor and
-- every transition is one the table allows: a non-2xx response is a real failure.
-- Usage: BENCH_TOKEN=… wrk -t2 -c64 -d30s --latency -s bench/pause-resume.lua URL -- ids.txt 2
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
response = common.response
done = common.done

local slice, position, action, verified
local pause_headers, resume_headers
local pause_body = '{"reason":"bench"}'

function init(args)
  local ids = common.read_ids(args[1])
  local thread_count = assert(tonumber(args[2]), "pass the wrk thread count after the ids file")
  slice = {}
  for i = index + 1, #ids, thread_count do
    slice[#slice + 1] = ids[i]
  end
  position = 0
  action = "pause"
  -- wrk calls request() once on the first thread's state to check the script before the run, and
  -- throws that request away; walking on then would leave the first mentor unpaused, so its
  -- resume would be refused. That call gets the next request without moving.
  verified = index ~= 0
  pause_headers = common.headers({ ["Content-Type"] = "application/json" })
  resume_headers = common.headers()
end

local function format(mentor, verb)
  local path = "/api/v1/mentors/" .. mentor .. "/" .. verb
  if verb == "pause" then
    return wrk.format("POST", path, pause_headers, pause_body)
  end
  return wrk.format("POST", path, resume_headers)
end

function request()
  if not verified then
    verified = true
    return format(slice[1], action)
  end
  position = position + 1
  if position > #slice then
    position = 1
    action = action == "pause" and "resume" or "pause"
  end
  return format(slice[position], action)
end
