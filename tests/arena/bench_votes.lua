-- wrk script for bench_votes: one vote per battle listed (lines "ID TOKEN") in the file
-- named by the first argument, in order; past the end of the list it starts again, and
-- those second votes are answered 409 (counted by wrk as non-2xx responses).
-- Requests are formatted once, in init, so that the client spends no time on them while
-- it measures (wrk.format per request cost it about as much CPU as the server's vote).
-- init prints the CPU it took, which is not part of any vote.
local requests, next_one = {}, 0

function init(args)
  local start = os.clock()
  for line in io.lines(args[1]) do
    local id, token = line:match("^(%S+) (%S+)$")
    if id then
      requests[#requests + 1] = wrk.format("POST", "/api/battles/" .. id .. "/vote", { ["Content-Type"] = "application/json" },
                                           '{"winner":"a","token":"' .. token .. '"}')
    end
  end
  -- the bench takes this out of wrk's CPU, which it reads only once wrk has exited
  io.write(string.format("script init CPU: %.6f s\n", os.clock() - start))
end

function request()
  next_one = next_one + 1
  return requests[(next_one - 1) % #requests + 1]
end
