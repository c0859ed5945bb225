-- make bench: merge-patch one lead's score, random ids (bench/common.lua has the rest).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
request = patch_lead
