-- wrk script for bench_votes: one vote per battle listed (lines "ID TOKEN") in the file
-- named by the first argument, in order; past the end of the list it starts again, and
-- those second votes are answered 409 (counted by wrk as non-2xx responses).
local battles, next_one = {}, 0

function init(args)
  for line in io.lines(args[1]) do
    local id, token = line:match("^(%S+) (%S+)$")
    if id then battles[#battles + 1] = { id, token } end
  end
end

function request()
  local b = battles[next_one % #battles + 1]
  next_one = next_one + 1
  return wrk.format("POST", "/api/battles/" .. b[1] .. "/vote", { ["Content-Type"] = "application/json" },
                    '{"winner":"a","token":"' .. b[2] .. '"}')
end
