-- make bench: a page of 50 with a filter, random cursors (bench/common.lua has the rest).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
request = list_page
