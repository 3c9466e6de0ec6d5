-- report.lua - shared by every wrk scenario: optional ids in the path ({id}
-- replaced by 1..BENCH_MAX_ID), optional queries ({q} replaced by the lines of
-- the file BENCH_QUERIES in turn, URL-encoded; text after a tab is ignored), an
-- optional bearer token, and one machine-readable RESULT line at the end.
local path = os.getenv("BENCH_PATH") or "/health"
local max_id = tonumber(os.getenv("BENCH_MAX_ID") or "1")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local token = os.getenv("BENCH_TOKEN")
-- BENCH_REQUESTS > 0: stop after that many answers in all (each thread its share), for
-- counting per-request costs (bench/gateway.sh counts syscalls over a fixed number). wrk's
-- main thread sleeps out -d regardless, so each thread also touches BENCH_DONE_DIR/<tid>
-- when it stops: the caller then ends wrk with SIGINT (it still prints its summary).
local limit = tonumber(os.getenv("BENCH_REQUESTS") or "0")
local done_dir = os.getenv("BENCH_DONE_DIR")
local headers = {}
if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
-- BENCH_TOKENS: a file of bearer tokens, one a line (one per user): each request takes one
-- of them in the same fixed-stride walk as {id}, so the requests rotate over many users and
-- a per-user cache helps only as often as a user comes back (bench/history.sh).
local tokens = {}
local tfile = os.getenv("BENCH_TOKENS")
if tfile and tfile ~= "" then
	for line in io.lines(tfile) do
		if line ~= "" then tokens[#tokens + 1] = "Bearer " .. line end
	end
end

local queries = {}
local qfile = os.getenv("BENCH_QUERIES")
if qfile and qfile ~= "" then
	for line in io.lines(qfile) do
		local q = string.match(line, "^([^\t]*)")
		if q ~= "" and string.sub(q, 1, 1) ~= "#" then
			queries[#queries + 1] = string.gsub(q, "[^%w%-%.~]", function(c)
				return string.format("%%%02X", string.byte(c))
			end)
		end
	end
end

-- Each thread numbers its requests tid, tid + nthreads, ...: together the
-- threads walk one sequence instead of each repeating the same one.
local threads = 0
setup = function(thread)
	thread:set("tid", threads)
	threads = threads + 1
end

local counter = 0
request = function()
	local g = counter * nthreads + (tid or 0)
	counter = counter + 1
	local p = path
	if string.find(p, "{id}", 1, true) then
		-- a fixed-stride walk is reproducible and touches the whole id range
		p = string.gsub(p, "{id}", tostring(((g + 1) * 7919 % max_id) + 1))
	end
	if #queries > 0 and string.find(p, "{q}", 1, true) then
		p = string.gsub(p, "{q}", (string.gsub(queries[(g % #queries) + 1], "%%", "%%%%")))
	end
	if #tokens > 0 then
		headers["Authorization"] = tokens[((g + 1) * 7919 % #tokens) + 1]
	end
	return wrk.format("GET", p, headers)
end

if limit > 0 then
	local share, seen = math.ceil(limit / nthreads), 0
	response = function()
		seen = seen + 1
		if seen == share then
			if done_dir then
				local f = io.open(done_dir .. "/" .. tostring(tid), "w")
				if f then f:close() end
			end
			wrk.thread:stop()
		end
	end
end

done = function(summary, latency, requests)
	local errors = summary.errors.connect + summary.errors.read + summary.errors.write
		+ summary.errors.timeout
	io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d requests=%d\n",
		summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
		latency:percentile(99) / 1000, errors, summary.errors.status, summary.requests))
end
