-- make bench: create one lead, unique emails (bench/common.lua has the rest).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
request = post_lead
