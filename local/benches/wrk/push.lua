-- wrk script for the durable_store bench: every request a push of a new commit (a build of its
-- own), signed with the integration's webhook secret. PUSH_BODY names a push payload whose
-- commit is written __COMMIT__; PUSH_RUN keeps the commits of two runs apart.
local body_template = io.open(os.getenv("PUSH_BODY")):read("*a")
local secret = os.getenv("PUSH_SECRET")
local run = tonumber(os.getenv("PUSH_RUN") or "0")
local threads_started = 0
local sent = 0

function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_number", threads_started)
end

function request()
  sent = sent + 1
  local commit = string.format("%02x%06x%032x", run, thread_number, sent)
  local key = string.format("%08x-%04x-4000-8000-%012x", run, thread_number, sent)
  return wrk.format("POST", "/v1/webhooks/gitlab", {
    ["Content-Type"] = "application/json",
    ["X-Gitlab-Event"] = "Push Hook",
    ["X-Gitlab-Token"] = secret,
    ["X-Gitlab-Event-UUID"] = key,
    ["Idempotency-Key"] = key,
  }, body_template:gsub("__COMMIT__", commit))
end
