-- GET /api/v1/mentors/{id} over random mentor ids.
-- Usage: BENCH_TOKEN=… wrk -t2 -c64 -d30s --latency -s bench/get-mentor.lua URL -- ids.txt
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

setup = common.setup
response = common.response
done = common.done

local ids, headers

function init(args)
  ids = common.read_ids(args[1])
  headers = common.headers()
  -- Each thread its own sequence of ids.
  math.randomseed(os.time() + 7919 * index)
end

function request()
  return wrk.format("GET", "/api/v1/mentors/" .. ids[math.random(#ids)], headers)
end
