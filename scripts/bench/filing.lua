-- wrk script for scripts/bench/filings.sh: POST /api/v1/transfer-applications with a bearer
-- token and a unique Idempotency-Key per request, counting the responses per status code.
--
-- Settings come from the environment (set by filings.sh):
--   BENCH_TOKEN      enterprise access token (cq-producer)
--   BENCH_BODY       JSON body of one filing, or several, one per line: request i of a thread
--                    sends body (i + thread) mod n, so the filings spread over their entries
--   BENCH_RUN        a run id, so keys never repeat across runs on the same database
--   BENCH_KEY_PREFIX the Idempotency-Key's first word (default bench), which tells phases apart
--   BENCH_RESULT     file the summary is written to (key=value lines)

local token = os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN is not set")
local bodies = {}
for line in (os.getenv("BENCH_BODY") or error("BENCH_BODY is not set")):gmatch("[^\n]+") do
   table.insert(bodies, line)
end
local run = os.getenv("BENCH_RUN") or "run"
local prefix = os.getenv("BENCH_KEY_PREFIX") or "bench"
local result_file = os.getenv("BENCH_RESULT")

local threads = {}
local next_id = 0

-- Main Lua state: called once per wrk thread before it starts.
function setup(thread)
   next_id = next_id + 1
   thread:set("tid", next_id)
   table.insert(threads, thread)
end

-- Thread Lua states from here on. `tid` and `statuses` are globals: thread:set/get only see globals.
local counter = 0
statuses = {}
local path = "/api/v1/transfer-applications"

function init(args)
   counter = 0
   statuses = {}
end

function request()
   counter = counter + 1
   local headers = {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = string.format("%s-%s-%d-%d", prefix, run, tid, counter),
   }
   return wrk.format("POST", path, headers, bodies[(counter + tid) % #bodies + 1])
end

function response(status, headers, body)
   local k = tostring(status)
   statuses[k] = (statuses[k] or 0) + 1
end

-- Main Lua state again: gather the per-thread counts and print the summary.
function done(summary, latency, requests)
   local by_status = {}
   for _, t in ipairs(threads) do
      local s = t:get("statuses")
      for k, v in pairs(s) do
         by_status[k] = (by_status[k] or 0) + v
      end
   end
   local codes = {}
   for k, v in pairs(by_status) do
      table.insert(codes, k .. ":" .. v)
   end
   table.sort(codes)
   local e = summary.errors
   local seconds = summary.duration / 1e6
   local lines = {
      string.format("requests=%d", summary.requests),
      string.format("duration_s=%.3f", seconds),
      string.format("rate=%.1f", summary.requests / seconds),
      string.format("p50_ms=%.2f", latency:percentile(50) / 1000),
      string.format("p90_ms=%.2f", latency:percentile(90) / 1000),
      string.format("p99_ms=%.2f", latency:percentile(99) / 1000),
      string.format("max_ms=%.2f", latency.max / 1000),
      string.format("mean_ms=%.2f", latency.mean / 1000),
      string.format("status_201=%d", by_status["201"] or 0),
      string.format("statuses=%s", table.concat(codes, ",")),
      string.format("socket_errors=%d", e.connect + e.read + e.write + e.timeout),
      string.format("timeouts=%d", e.timeout),
   }
   local text = table.concat(lines, "\n") .. "\n"
   io.write("--- lua summary ---\n" .. text)
   if result_file then
      local f = assert(io.open(result_file, "w"))
      f:write(text)
      f:close()
   end
end
