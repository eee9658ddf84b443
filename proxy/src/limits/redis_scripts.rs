//! The Lua scripts of the Redis limiter: each check and its increment run in one atomic step.

/// Checks, counts and reads the pin (see the module documentation).
pub(super) const ADMIT: &str = r#"
local function num(k) return tonumber(redis.call('GET', k) or '0') end
for i = 1, 4 do
  local lim = tonumber(ARGV[i])
  if lim > 0 then
    local s = num(KEYS[i])
    if s >= lim then return {1, i, s} end
  end
end
local lim5 = tonumber(ARGV[5])
if lim5 > 0 then
  local first = tonumber(ARGV[6])
  local h = redis.call('HGETALL', KEYS[5])
  local out = {2, 0}
  local total = 0
  for j = 1, #h, 2 do
    local b = tonumber(h[j])
    if b >= first then
      local v = tonumber(h[j + 1])
      total = total + v
      table.insert(out, b)
      table.insert(out, v)
    else
      redis.call('HDEL', KEYS[5], h[j])
    end
  end
  if total >= lim5 then
    out[2] = total
    return out
  end
end
local now = tonumber(ARGV[8])
local rpm = tonumber(ARGV[7])
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - 60000)
  if redis.call('ZCARD', KEYS[6]) >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
    return {3, tonumber(oldest[2])}
  end
end
local conc = tonumber(ARGV[9])
if conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now)
  if redis.call('ZCARD', KEYS[7]) >= conc then return {4} end
end
if rpm > 0 then
  redis.call('ZADD', KEYS[6], now, ARGV[10])
  redis.call('PEXPIRE', KEYS[6], 61000)
end
if conc > 0 then
  redis.call('ZADD', KEYS[7], ARGV[11], ARGV[10])
  redis.call('PEXPIRE', KEYS[7], tonumber(ARGV[11]) - now + 60000)
end
local pinned = -1
local ttl = tonumber(ARGV[12])
if ttl > 0 then
  local p = redis.call('GET', KEYS[8])
  if p then
    pinned = tonumber(p)
    redis.call('PEXPIRE', KEYS[8], ttl)
  end
end
return {0, pinned}
"#;

/// Writes a counter only where Redis holds less (resynchronising after an outage).
pub(super) const RAISE: &str = r#"
for i = 1, #KEYS do
  local v = tonumber(ARGV[i])
  if tonumber(redis.call('GET', KEYS[i]) or '0') < v then
    redis.call('SET', KEYS[i], v, 'PX', ARGV[#KEYS + 1])
  end
end
return 0
"#;

/// Writes the five-hour buckets only where Redis holds less (KEYS[1] the hash; ARGV bucket,
/// value pairs, then the hash's time to live).
pub(super) const RAISE_5H: &str = r#"
for i = 1, #ARGV - 1, 2 do
  local v = tonumber(ARGV[i + 1])
  if tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0') < v then
    redis.call('HSET', KEYS[1], ARGV[i], v)
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[#ARGV])
return 0
"#;

/// Takes the job lock KEYS[1] for ARGV[1] for ARGV[2] ms, or renews it when ARGV[1] holds
/// it, in one step (a holder whose lock just expired cannot renew another's); 1 when held.
pub(super) const JOB_LOCK: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"#;
