local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local same
if ARGV[4] == '=' then same = current == ARGV[1] else same = redis.sha1hex(current) == ARGV[1] end
if not same then return current end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
