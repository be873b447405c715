-- wrk script: one KYT decision per request, unique transfer ids, 5,000 customers.
-- The clock of the transfers starts 360 days ago and advances SECONDS_PER_REQUEST (default 3) per
-- request and thread, as in real traffic: each customer transacts about every 4 hours, and the
-- monitor's 35-day windows fill in the first million requests per thread and then stay the same
-- size (a fixed time would keep every transfer of the run inside every window, and the state would
-- grow without bound). The clock reaches the present after 10M requests per thread; beyond that the
-- server rightly refuses transfers more than a day in the future.
-- MALFORMED_EVERY=N makes every Nth body malformed JSON (expected: 4xx, nothing else disturbed).
local key = os.getenv("FG_KEY")
local every = tonumber(os.getenv("MALFORMED_EVERY") or "0")
-- The counterparty of every transfer: by default an address on no list (most traffic alerts
-- on nothing); KYT_COUNTERPARTY=<an OFAC-listed address> makes every decision alert.
local cp = os.getenv("KYT_COUNTERPARTY") or "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
local n = 0
local step = tonumber(os.getenv("SECONDS_PER_REQUEST") or "3")
-- CLOCK_FILE carries the clock from one phase to the next, so a later phase does not send
-- transfers older than the windows already hold (late transfers stay in the windows until the
-- clock passes them, and memory would grow for the whole phase).
local clock_file = os.getenv("CLOCK_FILE")
local base = os.time() - 360 * 86400
if clock_file then
  local f = io.open(clock_file, "r")
  if f then
    base = tonumber(f:read("*l")) or base
    f:close()
  end
end
-- Seeded per run, so a second run (the malformed one) does not repeat the first one's ids.
math.randomseed(os.time())
-- Each wrk thread gets its own id prefix (a global in its Lua state).
function setup(thread)
  thread:set("tid", tostring(math.random(1, 1000000000)))
end
function request()
  n = n + 1
  local headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
  if every > 0 and n % every == 0 then
    return wrk.format("POST", "/v1/kyt/decisions", headers, '{"id": "broken-' .. n .. '", "amount": ')
  end
  local body = string.format(
    '{"id":"t%s-%d","time":"%s","customer_id":"c%d","direction":"deposit","asset":"USDT-TRC20","amount":"%d","counterparty_address":"%s"}',
    tid, n, os.date("!%Y-%m-%dT%H:%M:%SZ", base + n * step), n % 5000, 10 + n % 500, cp)
  return wrk.format("POST", "/v1/kyt/decisions", headers, body)
end

-- Where the next phase's clock starts: past every transfer sent. A thread sent about
-- requests / WRK_THREADS (the script passes its thread count); 10 % more covers the threads'
-- imbalance, and one day more a margin.
function done(summary, latency, requests)
  if clock_file then
    local threads = tonumber(os.getenv("WRK_THREADS") or "1")
    local per_thread = math.ceil(summary.requests / threads * 1.1)
    local f = io.open(clock_file, "w")
    if f then
      f:write(string.format("%d\n", base + per_thread * step + 86400))
      f:close()
    end
  end
end
