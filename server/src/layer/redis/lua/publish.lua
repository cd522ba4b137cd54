-- KEYS: epoch, head, stream, channel… ARGV: candidate epoch, JSON up to the
-- offset, JSON after it, MAXLEN.
local epoch = redis.call('GET', KEYS[1])
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
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], off .. '-1', 'm', body)
local out = 'm' .. epoch .. '|' .. body
for i = 4, #KEYS do
  redis.call('PUBLISH', KEYS[i], out)
end
return {off, epoch}
