-- wrk script for scripts/bench/mix.sh and scripts/reliability/replicas.sh: a realistic mix of
-- the service's traffic, with latency and status counts per request kind and a log of every
-- acknowledged write.
--
--   70 % reads     25 queue  (GET /transfer-applications, a regulator's filters)
--                  25 history (GET /transfers with filters; 1 in 5 by the nationwide auditor)
--                  20 get    (GET /transfer-applications/{id}: one of the thread's own filings,
--                             or a random seeded application read by its source regulator)
--   20 % writes    10 check  (POST /transfer-applications/check)
--                  10 file   (POST /transfer-applications with Idempotency-Key)
--   10 % decisions  7 decide (accept, then the source's and, where the agreement asks for consent,
--                             the receiving province's decision, with If-Match; 1 in 10 source
--                             decisions is a refusal)
--                   3 manifest (POST /manifests under one of the thread's approved applications)
--
-- Run it with as many threads as connections (wrk -t N -c N): each thread then has exactly one
-- connection, so every response() belongs to the request() just before it, and the thread can
-- keep the applications it filed and move them through the workflow. A decision or manifest
-- with nothing to act on yet is sent as a read instead (the report shows the real shares).
--
-- Settings: MIX_CONFIG names a Lua file (written by mix.sh) returning a table with the tokens,
-- the producers and their operators, the seeded scale, the run id, the result file and the
-- directory for acknowledged writes (one file per thread, one line per 2xx write:
--   file <application id> <version> <idempotency key>
--   accept|decide <application id> <version> <status>
--   manifest <manifest id> <application id> <number>).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } mix_timespec;
int clock_gettime(int clk_id, mix_timespec *tp);
]]
local ts = ffi.new("mix_timespec")
local function now_us()
   ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
   return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local config_file = os.getenv("MIX_CONFIG") or error("MIX_CONFIG is not set")
local cfg = dofile(config_file)

-- Kind of each request: its class (for the 70/20/10 report) and the status that means success.
local CLASS = {
   queue = "read", history = "read", get = "read",
   check = "check+file", file = "check+file",
   accept = "decide+manifest", decide = "decide+manifest", manifest = "decide+manifest",
}
local WEIGHTS = cfg.weights or {
   { "queue", 25 }, { "history", 25 }, { "get", 20 },
   { "check", 10 }, { "file", 10 },
   { "decide", 7 }, { "manifest", 3 },
}
local TOTAL_WEIGHT = 0
for _, w in ipairs(WEIGHTS) do TOTAL_WEIGHT = TOTAL_WEIGHT + w[2] end

---------------------------------------------------------------------------------------------
-- Main Lua state: one call per thread before it starts, and done() at the end.
local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("tid", thread_count)
   table.insert(threads, thread)
end

---------------------------------------------------------------------------------------------
-- Thread Lua states. Globals are what thread:get can read back in done().
stats = {}          -- "key|field" → number (see record)
shares = {}         -- class → count of requests sent

local producer, regulator, receiving_tokens
local counter = 0
local filed = {}       -- ids of the thread's filings (for reads), newest last, bounded
local to_accept = {}   -- FIFO of { id, version, consent, receiving } waiting for acceptance
local in_review = {}   -- FIFO of accepted applications waiting for a decision
local approved = {}    -- FIFO of { id, left } approved applications manifests may draw on
local inflight         -- what the request on the wire is
local ack_file

local LOG_BASE = math.log(1.02)
local function bucket(us)
   if us < 1 then us = 1 end
   return math.floor(math.log(us) / LOG_BASE)
end

-- Counts live in one flat table of "key|field" → number: wrk's thread:get copies only flat
-- tables safely (a nested one crashes it). Fields: n, ok, conflict, err, max, s<status>, h<bucket>.
local function add(k, v)
   stats[k] = (stats[k] or 0) + v
end

local function record(key, status, us, ok)
   add(key .. "|n", 1)
   add(key .. "|s" .. status, 1)
   if ok then
      add(key .. "|ok", 1)
   elseif status == 409 or status == 412 then
      add(key .. "|conflict", 1)
   else
      add(key .. "|err", 1)
   end
   add(key .. "|h" .. bucket(us), 1)
   if us > (stats[key .. "|max"] or 0) then stats[key .. "|max"] = us end
end

local function ack(line)
   if ack_file then
      ack_file:write(line, "\n")
   end
end

function init(args)
   math.randomseed(tid * 7919 + math.floor(now_us()) % 1000003)
   producer = cfg.producers[((tid - 1) % #cfg.producers) + 1]
   regulator = cfg.regulators[producer.province]
   if cfg.ack_dir and cfg.ack_dir ~= "" then
      ack_file = assert(io.open(string.format("%s/ack-%s-%03d.log", cfg.ack_dir, cfg.run, tid), "a"))
      ack_file:setvbuf("line")
   end
end

local function pad(n, width)
   return string.format("%0" .. width .. "d", n)
end

local function get_req(token, path)
   return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end

local function json_req(method, path, token, body, extra)
   local h = {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
   }
   if extra then
      for k, v in pairs(extra) do h[k] = v end
   end
   return wrk.format(method, path, h, body)
end

-- A filing (and check) body: the thread's producer, one of its operators, one item of HW08.
local function filing_body(op)
   return string.format(
      '{"operator_id":"%s","method":"dispose","period_start":"%s","period_end":"%s",' ..
      '"items":[{"waste_code":"%s","waste_name":"废矿物油","physical_form":"液态","hazards":["T","I"],' ..
      '"packaging":"200 L 铁桶","quantity_kg":"%s"}],' ..
      '"carriers":[{"name":"危运物流有限公司","permit_number":"交运管危字000000001号","plate":"渝A12345"}]}',
      op.id, cfg.today, cfg.period_end, cfg.code, cfg.quantity_kg)
end

local function pick_weighted()
   local r = math.random() * TOTAL_WEIGHT
   for _, w in ipairs(WEIGHTS) do
      r = r - w[2]
      if r < 0 then return w[1] end
   end
   return WEIGHTS[#WEIGHTS][1]
end

local QUEUE = {
   { "side=source", "?side=source&limit=20" },
   { "side=receiving", "?side=receiving&limit=20" },
   { "overdue=true", "?overdue=true&limit=20" },
   { "status=submitted", "?status=submitted&limit=20" },
}

local function history_request()
   local r = math.random(5)
   if r == 5 then
      -- The nationwide auditor (each of its reads appends an audit record).
      local p = cfg.provinces[math.random(#cfg.provinces)]
      return "history:auditor", get_req(cfg.auditor,
         "/api/v1/transfers?source_province=" .. p .. "&status=approved&limit=50")
   end
   local v = math.random(5)
   if v == 1 then
      return "history:status=approved", get_req(regulator, "/api/v1/transfers?status=approved&totals=false&limit=50")
   elseif v == 2 then
      return "history:code", get_req(regulator, "/api/v1/transfers?code=" .. cfg.code .. "&totals=false&limit=50")
   elseif v == 3 then
      return "history:from+to", get_req(regulator,
         "/api/v1/transfers?from=" .. cfg.history_from .. "&to=" .. cfg.history_to .. "&totals=false&limit=50")
   elseif v == 4 then
      -- A seeded producer of the regulator's province, with the totals a first page carries.
      local i = producer.pidx - 1 + 4 * math.random(0, math.max(0, math.floor((cfg.scale_enterprises - producer.pidx) / 4)))
      if i >= cfg.scale_enterprises then i = producer.pidx - 1 end
      return "history:producer+totals", get_req(regulator, "/api/v1/transfers?producer=scale-ent-" .. pad(i, 6) .. "&limit=50")
   else
      local op = producer.operators[math.random(#producer.operators)]
      return "history:operator", get_req(regulator, "/api/v1/transfers?operator=" .. op.id .. "&totals=false&limit=50")
   end
end

local function get_request()
   if #filed > 0 and math.random(2) == 1 then
      local id = filed[math.random(#filed)]
      return "get:own", get_req(producer.token, "/api/v1/transfer-applications/" .. id)
   end
   if cfg.scale > 0 then
      local n = math.random(cfg.scale)
      local p = cfg.provinces[(n % 4) + 1]
      return "get:seeded", get_req(cfg.regulators[p], "/api/v1/transfer-applications/scale-" .. pad(n, 10))
   end
   return "get:queue", get_req(regulator, "/api/v1/transfer-applications?limit=1")
end

local function read_request(op)
   if op == "queue" then
      local q = QUEUE[math.random(#QUEUE)]
      return "queue:" .. q[1], get_req(regulator, "/api/v1/transfer-applications" .. q[2])
   elseif op == "history" then
      return history_request()
   else
      return get_request()
   end
end

local function if_match(v)
   return { ["If-Match"] = '"' .. v .. '"' }
end

function request()
   local op = pick_weighted()
   local key, req, ctx
   if op == "decide" then
      if #in_review > 0 then
         local a = table.remove(in_review, 1)
         local side, outcome, token, reasons = a.side, "approve", nil, "[]"
         if side == "source" then
            token = regulator
            if math.random(10) == 1 then
               outcome, reasons = "refuse", '["mix: 处置能力不足"]'
            end
         else
            token = cfg.regulators[a.receiving]
         end
         key = "decide:" .. side .. "-" .. outcome
         ctx = { op = "decide", app = a, outcome = outcome }
         req = json_req("POST", "/api/v1/transfer-applications/" .. a.id .. "/decisions", token,
            string.format('{"side":"%s","outcome":"%s","reasons":%s}', side, outcome, reasons), if_match(a.version))
      elseif #to_accept > 0 then
         local a = table.remove(to_accept, 1)
         key = "accept"
         ctx = { op = "accept", app = a }
         req = json_req("POST", "/api/v1/transfer-applications/" .. a.id .. "/accept", regulator, "{}", if_match(a.version))
      else
         op = "get"
      end
   elseif op == "manifest" then
      if #approved > 0 then
         local a = approved[1]
         counter = counter + 1
         local idem = string.format("mix-m-%s-%d-%d", cfg.run, tid, counter)
         key = "manifest"
         ctx = { op = "manifest", app = a }
         req = json_req("POST", "/api/v1/manifests", producer.token, string.format(
            '{"application_id":"%s","items":[{"line":0,"quantity_kg":"%s"}],' ..
            '"carrier":{"name":"危运物流有限公司","permit_number":"交运管危字000000001号","vehicle_plate":"渝A12345","driver_name":"李四"},' ..
            '"route_from":"起点","route_to":"终点","departure_at":"%s"}',
            a.id, cfg.manifest_kg, os.date("!%Y-%m-%dT%H:%M:%SZ")), { ["Idempotency-Key"] = idem })
      else
         op = "get"
      end
   end
   if op == "check" then
      local o = producer.operators[math.random(#producer.operators)]
      key = "check"
      ctx = { op = "check" }
      req = json_req("POST", "/api/v1/transfer-applications/check", producer.token, filing_body(o))
   elseif op == "file" then
      local o = producer.operators[math.random(#producer.operators)]
      counter = counter + 1
      local idem = string.format("mix-%s-%d-%d", cfg.run, tid, counter)
      key = "file"
      ctx = { op = "file", operator = o, idem = idem }
      req = json_req("POST", "/api/v1/transfer-applications", producer.token, filing_body(o), { ["Idempotency-Key"] = idem })
   elseif not req then
      key, req = read_request(op)
      ctx = { op = op }
   end
   ctx.key = key
   ctx.start = now_us()
   inflight = ctx
   local class = CLASS[ctx.op]
   shares[class] = (shares[class] or 0) + 1
   return req
end

local function etag_version(headers, body)
   local e = headers["ETag"] or headers["etag"] or headers["Etag"]
   if e then
      local v = e:match("(%d+)")
      if v then return tonumber(v) end
   end
   local v = body and body:match('"version":(%d+)')
   return v and tonumber(v)
end

function response(status, headers, body)
   local ctx = inflight
   inflight = nil
   if not ctx then return end
   local us = now_us() - ctx.start
   local op = ctx.op
   local ok
   if op == "file" or op == "manifest" then
      ok = status == 201
   else
      ok = status == 200
   end
   record(ctx.key, status, us, ok)
   if not ok then
      -- A decision that lost (409/412) or failed: the case is left where it is.
      if op == "manifest" and status == 422 then table.remove(approved, 1) end
      return
   end
   if op == "file" then
      local id = body:match('"id":"([^"]+)"')
      local route = body:match('"route":"([^"]+)"')
      local consent = body:match('"receiving_consent":"([^"]+)"')
      local v = etag_version(headers, body)
      if id then
         ack(string.format("file %s %d %s", id, v or 0, ctx.idem))
         table.insert(filed, id)
         if #filed > 200 then table.remove(filed, 1) end
         if route == "whitelist" and #to_accept < 500 then
            table.insert(to_accept, { id = id, version = v or 1, consent = consent, receiving = ctx.operator.province })
         end
      end
   elseif op == "accept" or op == "decide" then
      local a = ctx.app
      local v = etag_version(headers, body)
      local st = body:match('"status":"([^"]+)"')
      ack(string.format("%s %s %d %s", op, a.id, v or 0, st or "?"))
      a.version = v or (a.version + 1)
      if op == "accept" then
         a.side = "source"
         table.insert(in_review, 1, a)
      elseif st == "approved" then
         table.insert(approved, { id = a.id, left = cfg.manifests_per_approval })
         if #approved > 200 then table.remove(approved, 1) end
      elseif st ~= "refused" and ctx.outcome == "approve" and a.side == "source" and a.consent == "consent" then
         a.side = "receiving"
         table.insert(in_review, 1, a)
      end
   elseif op == "manifest" then
      local id = body:match('"id":"([^"]+)"')
      local number = body:match('"number":"([^"]+)"')
      ack(string.format("manifest %s %s %s", id or "?", ctx.app.id, number or "?"))
      ctx.app.left = ctx.app.left - 1
      if ctx.app.left <= 0 then
         for i, a in ipairs(approved) do
            if a == ctx.app then table.remove(approved, i) break end
         end
      end
   end
end

---------------------------------------------------------------------------------------------
-- Main Lua state again: merge the threads' counts and histograms, write the summary.
local function percentile(hist, total, p)
   if total == 0 then return 0 end
   local keys = {}
   for b in pairs(hist) do table.insert(keys, b) end
   table.sort(keys)
   local want = math.ceil(total * p / 100)
   local seen = 0
   for _, b in ipairs(keys) do
      seen = seen + hist[b]
      if seen >= want then
         return math.exp((b + 0.5) * LOG_BASE) / 1000 -- ms, the bucket's middle (±1 %)
      end
   end
   return 0
end

local function empty()
   return { n = 0, ok = 0, conflict = 0, err = 0, statuses = {}, hist = {}, max = 0 }
end

-- Adds one flat "key|field" count to a summary.
local function merge_field(into, field, v)
   local c = field:sub(1, 1)
   if field == "max" then
      if v > into.max then into.max = v end
   elseif field == "n" or field == "ok" or field == "conflict" or field == "err" then
      into[field] = into[field] + v
   elseif c == "s" then
      local code = field:sub(2)
      into.statuses[code] = (into.statuses[code] or 0) + v
   elseif c == "h" then
      local b = tonumber(field:sub(2))
      into.hist[b] = (into.hist[b] or 0) + v
   end
end

function done(summary, latency, requests)
   local by_key, by_op, by_class, all = {}, {}, {}, empty()
   local sent = {}
   for _, t in ipairs(threads) do
      for k, v in pairs(t:get("stats") or {}) do
         local key, field = k:match("^(.*)|([^|]+)$")
         local op = key:match("^([^:]+)")
         local class = CLASS[op]
         by_key[key] = by_key[key] or empty()
         by_op[op] = by_op[op] or empty()
         by_class[class] = by_class[class] or empty()
         for _, into in ipairs({ by_key[key], by_op[op], by_class[class], all }) do
            merge_field(into, field, v)
         end
      end
      for c, n in pairs(t:get("shares") or {}) do sent[c] = (sent[c] or 0) + n end
   end
   local seconds = summary.duration / 1e6
   local e = summary.errors
   local lines = {
      string.format("requests=%d", summary.requests),
      string.format("answered=%d", all.n),
      string.format("duration_s=%.3f", seconds),
      string.format("rate=%.1f", summary.requests / seconds),
      string.format("p50_ms=%.2f", latency:percentile(50) / 1000),
      string.format("p95_ms=%.2f", latency:percentile(95) / 1000),
      string.format("p99_ms=%.2f", latency:percentile(99) / 1000),
      string.format("max_ms=%.2f", latency.max / 1000),
      string.format("ok=%d", all.ok),
      string.format("conflicts=%d", all.conflict),
      string.format("errors=%d", all.err),
      string.format("socket_errors=%d", e.connect + e.read + e.write + e.timeout),
      string.format("socket_detail=connect:%d,read:%d,write:%d,timeout:%d", e.connect, e.read, e.write, e.timeout),
   }
   local function row(kind, name, s)
      local codes = {}
      for k, v in pairs(s.statuses) do table.insert(codes, k .. ":" .. v) end
      table.sort(codes)
      table.insert(lines, string.format("%s %s n=%d ok=%d conflicts=%d errors=%d p50=%.1f p95=%.1f p99=%.1f max=%.1f statuses=%s",
         kind, name, s.n, s.ok, s.conflict, s.err,
         percentile(s.hist, s.n, 50), percentile(s.hist, s.n, 95), percentile(s.hist, s.n, 99), s.max / 1000,
         table.concat(codes, ",")))
   end
   for _, group in ipairs({ { "class", by_class }, { "op", by_op }, { "key", by_key } }) do
      local names = {}
      for k in pairs(group[2]) do table.insert(names, k) end
      table.sort(names)
      for _, k in ipairs(names) do row(group[1], k, group[2][k]) end
   end
   for c, n in pairs(sent) do table.insert(lines, string.format("sent %s %d", c, n)) end
   local text = table.concat(lines, "\n") .. "\n"
   io.write("--- mix summary ---\n" .. text)
   if cfg.result and cfg.result ~= "" then
      local f = assert(io.open(cfg.result, "w"))
      f:write(text)
      f:close()
   end
end
