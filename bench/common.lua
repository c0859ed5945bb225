-- What every wrk scenario of `make bench` shares (bench/run.sh runs them; see bench/README.md).
-- A scenario script runs this file, then sets `request` to one of the builders below.
--
-- Environment (set by run.sh): BENCH_LUA_DIR (this directory), BENCH_KEY (the API key),
-- BENCH_DATA (a directory with lead.json, the body of a new lead, and
-- lead_ids.txt, cursors.txt, campaign_ids.txt, feedback_ids.txt, one value a line),
-- BENCH_LIST_QUERY (the list filter), BENCH_TAG (makes created emails unique per scenario),
-- BENCH_BATCH_SIZE (leads per POST /v1/leads/batch).
--
-- Each thread counts its answers that are not 2xx (wrk's own errors.status counts only
-- >= 400), and done() prints one line that run.sh reads:
--   BENCH requests=N duration_us=N p50_us=N p99_us=N non2xx=N socket=N failed_items=N codes=C
local data = assert(os.getenv("BENCH_DATA"), "BENCH_DATA is not set")
local list_query = os.getenv("BENCH_LIST_QUERY") or "limit=50&source=web"
local tag = os.getenv("BENCH_TAG") or "wrk"
local batch_size = tonumber(os.getenv("BENCH_BATCH_SIZE") or "1000")

-- wrk.format uses the headers it is given instead of wrk.headers, not with them.
local auth = "Bearer " .. assert(os.getenv("BENCH_KEY"), "BENCH_KEY is not set")
wrk.headers["Authorization"] = auth
local json = { ["Authorization"] = auth, ["Content-Type"] = "application/json" }
local merge_patch = { ["Authorization"] = auth, ["Content-Type"] = "application/merge-patch+json" }

local function read_lines(name)
   local t = {}
   for line in io.lines(data .. "/" .. name) do
      if #line > 0 then t[#t + 1] = line end
   end
   assert(#t > 0, name .. " is empty")
   return t
end

-- Loaded on first use, in the worker threads only (setup and done run in another state).
local cache = {}
local function pick(name)
   local t = cache[name]
   if not t then
      t = read_lines(name)
      cache[name] = t
   end
   return t[math.random(#t)]
end

local template
local function lead_body()
   if not template then
      local f = assert(io.open(data .. "/lead.json"))
      template = f:read("*l")
      f:close()
   end
   counter = counter + 1
   local unique = string.format("%s-%d-%d", tag, tid, counter)
   return (template:gsub("@(%u+)@", {
      EMAIL = unique .. "@bench.example",
      XID = unique,
      CAMPAIGN = pick("campaign_ids.txt"),
      SCORE = tostring(math.random(0, 100)),
   }))
end

-- the requests

function get_lead()
   return wrk.format("GET", "/v1/leads/" .. pick("lead_ids.txt"))
end

function list_page()
   return wrk.format("GET", "/v1/leads?" .. list_query .. "&cursor=" .. pick("cursors.txt"))
end

function post_lead()
   return wrk.format("POST", "/v1/leads", json, lead_body())
end

function patch_lead()
   return wrk.format("PATCH", "/v1/leads/" .. pick("lead_ids.txt"), merge_patch,
      string.format('{"score":%d}', math.random(0, 100)))
end

function post_feedback()
   return wrk.format("POST", "/v1/leads/" .. pick("feedback_ids.txt") .. "/feedback", json,
      string.format('{"kind":"contacted","rating":%d}', math.random(1, 5)))
end

function post_batch()
   local items = {}
   for i = 1, batch_size do items[i] = lead_body() end
   return wrk.format("POST", "/v1/leads/batch", json,
      '{"mode":"create","leads":[' .. table.concat(items, ",") .. "]}")
end

-- A GET of one of the paths listed in BENCH_DATA/$BENCH_PATHS, at random (bench/reports.sh:
-- searches, and another workspace's reads beside them).
function get_path()
   return wrk.format("GET", pick(assert(os.getenv("BENCH_PATHS"), "BENCH_PATHS is not set")))
end

-- 80 % reads (half one lead, half a page), 20 % writes (half create, half patch).
function mixed()
   local r = math.random(100)
   if r <= 40 then return get_lead()
   elseif r <= 80 then return list_page()
   elseif r <= 90 then return post_lead()
   else return patch_lead() end
end

-- counting, per thread

counter = 0
non2xx = 0
failed_items = 0
codes = {}

function init(args)
   math.randomseed(os.time() * 1000 + tid * 7919)
end

local function count_status(status)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      codes[status] = (codes[status] or 0) + 1
   end
end

function response(status, headers, body)
   count_status(status)
end

-- A batch answers 200 even when items fail: count those too.
function count_failed_items(status, headers, body)
   count_status(status)
   local failed = status == 200 and body and tonumber(body:match('"failed":(%d+)'))
   if failed then failed_items = failed_items + failed end
end

-- the summary, in the main state

local threads = {}

function setup(thread)
   threads[#threads + 1] = thread
   thread:set("tid", #threads)
end

function done(summary, latency, requests)
   local bad, items, all = 0, 0, {}
   for _, t in ipairs(threads) do
      bad = bad + t:get("non2xx")
      items = items + t:get("failed_items")
      for code, n in pairs(t:get("codes")) do all[code] = (all[code] or 0) + n end
   end
   local list = {}
   for code, n in pairs(all) do list[#list + 1] = string.format("%dx%d", code, n) end
   table.sort(list)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket=%d failed_items=%d codes=%s\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), bad,
      e.connect + e.read + e.write + e.timeout, items, #list > 0 and table.concat(list, ",") or "-"))
end
