-- GET /mentors (the dashboard's first page) as a signed-in coordinator. A session that stopped
-- working answers 303 to the login page: counted as non-2xx, so the run is not judged "met".
-- Usage: BENCH_SESSION=… BENCH_LUA_DIR=bench wrk -t2 -c16 -d30s --latency -s bench/dashboard-mentors.lua URL
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
response = common.response
done = common.done

local headers

function init(args)
  local session = assert(os.getenv("BENCH_SESSION"), "set BENCH_SESSION to a dashboard session cookie")
  headers = { ["Cookie"] = "ms_session=" .. session }
end

function request()
  return wrk.format("GET", "/mentors", headers)
end
