-- report.lua - shared by every wrk scenario: optional random ids in the
-- path ({id} replaced by 1..BENCH_MAX_ID), an optional bearer token, and one
-- machine-readable RESULT line at the end.
local path = os.getenv("BENCH_PATH") or "/health"
local max_id = tonumber(os.getenv("BENCH_MAX_ID") or "1")
local token = os.getenv("BENCH_TOKEN")
local headers = {}
if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end

local counter = 0
request = function()
	counter = counter + 1
	local p = path
	if string.find(p, "{id}", 1, true) then
		-- a fixed-stride walk is reproducible and touches the whole id range
		local id = ((counter * 7919) % max_id) + 1
		p = string.gsub(p, "{id}", tostring(id))
	end
	return wrk.format("GET", p, headers)
end

done = function(summary, latency, requests)
	local errors = summary.errors.connect + summary.errors.read + summary.errors.write
		+ summary.errors.timeout
	io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d requests=%d\n",
		summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
		latency:percentile(99) / 1000, errors, summary.errors.status, summary.requests))
end
