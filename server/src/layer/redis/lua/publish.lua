-- KEYS: epoch, head, stream, client ids (hash cid -> "offset|ts"), client
-- id times (zset), channel... ARGV: candidate epoch, JSON up to the offset,
-- JSON after it, MAXLEN, client id ('' = none), ts (ms), dedup window (ms),
-- history TTL (ms, 0 = none). Returns {offset, epoch, ts, fresh}: a client
-- id seen before returns the first message's offset and ts, stores nothing
-- and publishes nothing.
local epoch = redis.call('GET', KEYS[1])
local cid = ARGV[5]
if cid ~= '' then
  local seen = redis.call('HGET', KEYS[4], cid)
  if seen then
    local off, ts = string.match(seen, '^(%d+)|(%d+)$')
    return {tonumber(off), epoch or ARGV[1], tonumber(ts), 0}
  end
end
local off = redis.call('INCR', KEYS[2])
if off == 1 and redis.call('EXISTS', KEYS[3]) == 1 then
  -- the head was lost but not the stream: history is not continuous
  redis.call('DEL', KEYS[3])
  epoch = nil
end
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local body = ARGV[2] .. off .. ARGV[3]
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], off .. '-1', 'm', body, 't', ARGV[6])
local ttl = tonumber(ARGV[8])
if ttl > 0 then
  -- a room idle for the whole TTL has nothing left to show
  redis.call('PEXPIRE', KEYS[3], ttl)
end
if cid ~= '' then
  redis.call('HSET', KEYS[4], cid, off .. '|' .. ARGV[6])
  redis.call('ZADD', KEYS[5], ARGV[6], cid)
  -- Forget ids out of the window whose messages the stream no longer
  -- keeps, oldest first (their offsets grow with their times).
  local old = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', tonumber(ARGV[6]) - tonumber(ARGV[7]), 'LIMIT', 0, 64)
  if #old > 0 then
    local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
    local oldest = off
    if #first > 0 then
      oldest = tonumber(string.match(first[1][1], '^(%d+)'))
    end
    for _, c in ipairs(old) do
      local v = redis.call('HGET', KEYS[4], c)
      if v and tonumber(string.match(v, '^(%d+)')) >= oldest then
        break
      end
      redis.call('HDEL', KEYS[4], c)
      redis.call('ZREM', KEYS[5], c)
    end
  end
  if ttl > 0 then
    local keep = math.max(ttl, tonumber(ARGV[7]))
    redis.call('PEXPIRE', KEYS[4], keep)
    redis.call('PEXPIRE', KEYS[5], keep)
  end
end
local out = 'm' .. epoch .. '|' .. body
for i = 6, #KEYS do
  redis.call('PUBLISH', KEYS[i], out)
end
return {off, epoch, tonumber(ARGV[6]), 1}
