-- wrk script for scripts/bench-ingress: POSTs Telegram text-message updates
-- to /telegram/webhook. Every 5th request repeats the update_id sent just
-- before it (20% duplicates, as Telegram retries produce).

local threads = {}

function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    base = tid * 100000000
    counter = 0
    secret = os.getenv("BENCH_WEBHOOK_SECRET") or "bench-webhook-secret"
end

local template = '{"update_id":%d,"message":{"message_id":%d,"date":1700000000,' ..
    '"chat":{"id":%d,"type":"private","first_name":"Ada"},' ..
    '"from":{"id":%d,"is_bot":false,"first_name":"Ada"},' ..
    '"text":"A landing page for a bakery with a menu and opening hours"}}'

function request()
    counter = counter + 1
    local id = base + counter
    if counter % 5 == 0 then
        id = id - 1
    end
    local body = string.format(template, id, id, 1000 + tid, 1000 + tid)
    return wrk.format("POST", "/telegram/webhook", {
        ["Content-Type"] = "application/json",
        ["X-Telegram-Bot-Api-Secret-Token"] = secret,
    }, body)
end

function done(summary, latency, requests)
    local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
        summary.errors.status + summary.errors.timeout
    io.write(string.format("RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d errors=%d\n",
        summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), errors))
end
